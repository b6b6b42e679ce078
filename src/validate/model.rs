//! The validated access model: every reference resolves, every value is parsed. Only `validate` can make one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};

pub use crate::config::documents::AccessAs;

/// Proof that a value went through validation: it has a private field, so nothing outside this module makes one.
#[derive(Debug, Clone)]
pub struct Validated(());

impl Validated {
    pub(super) fn proof() -> Self {
        Validated(())
    }
}

#[derive(Debug, Clone)]
pub struct AccessModel {
    pub settings: Settings,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    pub clients: BTreeMap<String, Client>,
    pub environments: BTreeMap<String, Environment>,
    pub grants: Vec<Grant>,
    pub validated: Validated,
}

/// The file a part of the model comes from, written into the annotations of what it compiles to.
pub type Origin = Arc<str>;

#[derive(Debug, Clone)]
pub struct Settings {
    pub clusters: BTreeMap<String, Cluster>,
    pub clients_namespace: String,
    pub token_lifetime: SignedDuration,
    pub artifacts_path: String,
    pub deletion_guard: DeletionGuard,
    pub subject_prefixes: SubjectPrefixes,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionGuard {
    pub max_delete_percent: u8,
    pub min_objects: u32,
}

#[derive(Debug, Clone, Default)]
pub struct SubjectPrefixes {
    pub user: String,
    pub group: String,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub api_server: String,
    pub gateway: Option<Gateway>,
    pub client_pool: Option<ClientPool>,
}

#[derive(Debug, Clone)]
pub struct Gateway {
    pub endpoint: String,
    pub allowed_ips: Vec<IpNet>,
    pub dns: Vec<IpAddr>,
}

#[derive(Debug, Clone, Copy)]
pub struct ClientPool {
    pub cidr: IpNet,
    pub per_client_prefix: u8,
}

impl ClientPool {
    /// How many client ranges fit in the pool (saturating: an IPv6 pool can hold more than `u128`).
    pub fn capacity(&self) -> u128 {
        let bits = u32::from(self.per_client_prefix - self.cidr.prefix_len());
        1u128.checked_shl(bits).unwrap_or(u128::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecipientKind {
    X25519,
    SshEd25519,
    SshRsa,
}

/// A public key a client file is encrypted to, as written (it parsed when validated).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Recipient {
    pub kind: RecipientKind,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub username: String,
    pub email: Option<String>,
    pub recipients: Vec<Recipient>,
    pub expires: Option<Timestamp>,
    pub disabled: bool,
    pub origin: Origin,
}

impl User {
    /// A disabled or expired user has no access, though their documents stay.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.disabled && self.expires.is_none_or(|expires| expires > now)
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub members: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub origin: Origin,
}

/// The roles tollgate knows without a `Role` document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinRole {
    ClusterAdmin,
    Admin,
    Edit,
    View,
    Logs,
    Exec,
    PortForward,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 7] = [
        BuiltinRole::ClusterAdmin,
        BuiltinRole::Admin,
        BuiltinRole::Edit,
        BuiltinRole::View,
        BuiltinRole::Logs,
        BuiltinRole::Exec,
        BuiltinRole::PortForward,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::ClusterAdmin => "cluster-admin",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Edit => "edit",
            BuiltinRole::View => "view",
            BuiltinRole::Logs => "logs",
            BuiltinRole::Exec => "exec",
            BuiltinRole::PortForward => "port-forward",
        }
    }

    pub fn parse(name: &str) -> Option<BuiltinRole> {
        BuiltinRole::ALL
            .into_iter()
            .find(|role| role.name() == name)
    }

    /// Whether tollgate creates the ClusterRole itself (Kubernetes ships the others).
    pub fn is_managed(self) -> bool {
        matches!(
            self,
            BuiltinRole::Logs | BuiltinRole::Exec | BuiltinRole::PortForward
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleRef {
    Builtin(BuiltinRole),
    Custom(String),
}

impl RoleRef {
    /// The role's name as grants write it.
    pub fn name(&self) -> &str {
        match self {
            RoleRef::Builtin(role) => role.name(),
            RoleRef::Custom(name) => name,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub definition: RoleDefinition,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum RoleDefinition {
    Rules(Vec<PolicyRule>),
    ClusterRole(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
    pub verbs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub name: String,
    pub owners: BTreeSet<String>,
    /// Extra recipients besides the owners' keys.
    pub recipients: Vec<Recipient>,
    pub clusters: BTreeSet<String>,
    pub default_namespace: Option<String>,
    pub vpn: bool,
    pub sunset: Option<Timestamp>,
    pub origin: Origin,
}

impl Client {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.sunset.is_none_or(|sunset| sunset > now)
    }
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// Empty: every cluster.
    pub clusters: BTreeSet<String>,
    pub image: String,
    pub namespace: String,
    pub service_account: String,
    /// Capability names without the `CAP_` prefix, as Kubernetes writes them.
    pub capabilities_add: Vec<String>,
    pub capabilities_drop: Vec<String>,
    pub privileged: bool,
    pub dns_servers: Vec<IpAddr>,
    pub dns_searches: Vec<String>,
    pub shell: Vec<String>,
    pub command: Vec<String>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub working_dir: Option<String>,
    pub image_pull_secret: Option<String>,
    pub ready_timeout: SignedDuration,
    pub remove_timeout: SignedDuration,
    pub port_forwarding: bool,
    pub banner: Option<String>,
    pub origin: Origin,
}

impl Environment {
    pub fn in_cluster(&self, cluster: &str) -> bool {
        self.clusters.is_empty() || self.clusters.contains(cluster)
    }
}

/// Who a `UserAccess` document grants to; shared by all its grants.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub clients: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantTarget {
    Role(RoleRef),
    Environment(String),
}

#[derive(Debug, Clone)]
pub struct Grant {
    /// Name of the `UserAccess` document.
    pub access: String,
    pub subjects: Arc<Subjects>,
    pub target: GrantTarget,
    pub cluster: String,
    /// `None`: the whole cluster.
    pub namespaces: Option<BTreeSet<String>>,
    pub access_as: AccessAs,
    /// The earlier of the document's and the grant's expiry.
    pub expires: Option<Timestamp>,
    pub origin: Origin,
}

impl Grant {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }
}
