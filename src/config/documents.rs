//! The typed documents of an access repository, exactly as written: serde + schemars types that only deserialize.
//!
//! Values that need parsing beyond their YAML type (durations, timestamps, CIDRs, keys) stay strings here so that
//! validation can report each bad one with its position instead of serde stopping at the first.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only `apiVersion` this version of tollgate reads.
pub const API_VERSION: &str = "tollgate.dev/v1alpha1";

/// The kinds of document an access repository holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Settings,
    User,
    Group,
    Role,
    Client,
    Environment,
    UserAccess,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Settings,
        Kind::User,
        Kind::Group,
        Kind::Role,
        Kind::Client,
        Kind::Environment,
        Kind::UserAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Settings => "Settings",
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Role => "Role",
            Kind::Client => "Client",
            Kind::Environment => "Environment",
            Kind::UserAccess => "UserAccess",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// What the kind is for, used as the description of its JSON Schema.
    pub fn description(self) -> &'static str {
        match self {
            Kind::Settings => {
                "Repository-wide settings: the clusters tollgate manages and how it names what it creates. Exactly one per repository."
            }
            Kind::User => {
                "A person. Users are RBAC subjects (with `accessAs: user`), own clients, and are the recipients of their clients' files."
            }
            Kind::Group => "A set of users (and nested groups) that grants can name at once.",
            Kind::Role => {
                "A custom role: either policy rules (compiled to the ClusterRole `tollgate:<name>`) or a reference to an existing ClusterRole."
            }
            Kind::Client => {
                "A credential for one machine or robot: a ServiceAccount per cluster, a token, a WireGuard key and address range, and an encrypted client file."
            }
            Kind::Environment => {
                "A session pod template: what a session pod runs and with which privileges. Who may log in is granted with `UserAccess` grants that name the environment."
            }
            Kind::UserAccess => {
                "Grants: which subjects (users, groups, clients) get which role, or which session environment, in which scope."
            }
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The envelope every document shares; `S` is the kind's spec.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Document<S> {
    /// Always `tollgate.dev/v1alpha1`.
    pub api_version: String,
    /// The kind of the document.
    pub kind: String,
    pub metadata: Metadata,
    pub spec: S,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// The document's name, unique within its kind. Where the name becomes part of a Kubernetes object name it must
    /// be a DNS-1123 label: lower-case letters, digits and `-`, at most 63 characters.
    pub name: String,
    /// Free text for people reading the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsSpec {
    /// The clusters this repository manages. Grants, clients and environments name them.
    pub clusters: Vec<ClusterSpec>,
    /// Namespace that holds the clients' ServiceAccounts (and, later, their credential Secrets).
    #[serde(default = "default_clients_namespace")]
    pub clients_namespace: String,
    /// Lifetime of client tokens, e.g. `24h` or `7d`.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime: String,
    /// Folder of the repository that tollgate writes client files to; never read as configuration.
    #[serde(default = "default_artifacts_path")]
    pub artifacts_path: String,
    /// Refuse plans that delete a large share of the managed objects.
    #[serde(default)]
    pub deletion_guard: DeletionGuardSpec,
    /// Prefixes for RBAC `User` and `Group` subjects in `accessAs: user` grants, matching how the cluster's
    /// authenticator (OIDC `usernamePrefix`/`groupsPrefix`, or an impersonating proxy) names people.
    #[serde(default)]
    pub subject_prefixes: SubjectPrefixesSpec,
}

pub fn default_clients_namespace() -> String {
    "tollgate-clients".to_owned()
}
pub fn default_token_lifetime() -> String {
    "24h".to_owned()
}
pub fn default_artifacts_path() -> String {
    "artifacts".to_owned()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Short name used in grants, clients and as tollgate's instance label on every object in this cluster.
    pub name: String,
    /// Kubernetes API server URL written into client files, e.g. `https://10.0.0.1:6443`.
    pub api_server: String,
    /// The WireGuard gateway clients connect to. Without it, clients of this cluster get no VPN section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,
    /// Address pool that VPN clients' ranges are allocated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_pool: Option<ClientPoolSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewaySpec {
    /// `host:port` that clients send WireGuard traffic to.
    pub endpoint: String,
    /// Networks routed through the tunnel (e.g. the pod and service CIDRs).
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// DNS servers clients use while connected.
    #[serde(default)]
    pub dns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientPoolSpec {
    /// The pool, e.g. `10.90.0.0/16`. Pools of different clusters must not overlap.
    pub cidr: String,
    /// Prefix length of each client's range, e.g. `30`; must be at least the pool's prefix length.
    pub per_client_prefix: u8,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeletionGuardSpec {
    /// Largest share (percent) of this cluster's managed objects one plan may delete.
    #[serde(default = "default_max_delete_percent")]
    pub max_delete_percent: u8,
    /// Deletions up to this many objects are always allowed, whatever the share.
    #[serde(default = "default_guard_min_objects")]
    pub min_objects: u32,
}

fn default_max_delete_percent() -> u8 {
    50
}
fn default_guard_min_objects() -> u32 {
    10
}

impl Default for DeletionGuardSpec {
    fn default() -> Self {
        DeletionGuardSpec {
            max_delete_percent: default_max_delete_percent(),
            min_objects: default_guard_min_objects(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubjectPrefixesSpec {
    /// Prepended to a user's `username` in RBAC `User` subjects, e.g. `oidc:`.
    #[serde(default)]
    pub user: String,
    /// Prepended to a group's name in RBAC `Group` subjects.
    #[serde(default)]
    pub group: String,
}

// ---------------------------------------------------------------------------------------------------------------
// User and Group

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserSpec {
    /// Kubernetes username for `accessAs: user` grants (before the configured prefix). Defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Public keys the user's client files are encrypted to: age X25519 (`age1...`) or SSH (`ssh-ed25519 ...`,
    /// `ssh-rsa ...`).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// RFC 3339 time after which the user has no access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// A disabled user keeps their documents but has no access.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupSpec {
    /// Users in the group.
    #[serde(default)]
    pub members: Vec<String>,
    /// Groups whose members are members of this group too. Cycles are errors.
    #[serde(default)]
    pub groups: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Role

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleSpec {
    /// Policy rules of the role; compiled to the ClusterRole `tollgate:<name>`. Exclusive with `clusterRole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<PolicyRuleSpec>>,
    /// Name of an existing ClusterRole to bind instead of rules. Exclusive with `rules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_role: Option<String>,
}

/// One Kubernetes RBAC policy rule.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyRuleSpec {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
    /// Must not be empty.
    #[serde(default)]
    pub verbs: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Client

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientSpec {
    /// Users who own the client: grants to them (with `accessAs: client`) land on the client, and their keys are
    /// recipients of the client file.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Further public keys the client file is encrypted to (e.g. a CI system's age key).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Clusters the client gets credentials for.
    pub clusters: Vec<String>,
    /// Namespace written into the client's kubeconfig context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_namespace: Option<String>,
    /// Whether the client gets a WireGuard key and address range.
    #[serde(default = "default_true")]
    pub vpn: bool,
    /// RFC 3339 time at which the client and its credentials are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sunset: Option<String>,
}

fn default_true() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------------------------
// Environment

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// Clusters the environment exists in; all clusters when empty.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Container image of the session pod.
    pub image: String,
    /// Namespace session pods run in (created by tollgate).
    pub namespace: String,
    /// ServiceAccount the session pod runs as; tollgate creates it unless it is `default`.
    #[serde(default = "default_service_account")]
    pub service_account: String,
    /// Linux capabilities to add to and drop from the session container, e.g. `NET_ADMIN`.
    #[serde(default)]
    pub capabilities: CapabilitiesSpec,
    /// Run the session container privileged.
    #[serde(default)]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsSpec>,
    /// Shell started when a user logs in to a session.
    #[serde(default = "default_shell")]
    pub shell: Vec<String>,
    /// Command that keeps the session pod running between logins.
    #[serde(default = "default_command")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Name of an image pull Secret in the environment's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
    /// How long a session pod may take to become ready, e.g. `2m`.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: String,
    /// How long an idle session pod is kept after the last logout, e.g. `30m`.
    #[serde(default = "default_remove_timeout")]
    pub remove_timeout: String,
    /// Whether users may port-forward from their session pod.
    #[serde(default)]
    pub port_forwarding: bool,
    /// Text shown when a user logs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
}

fn default_service_account() -> String {
    "default".to_owned()
}
fn default_shell() -> Vec<String> {
    vec!["/bin/sh".to_owned()]
}
fn default_command() -> Vec<String> {
    vec!["sleep".to_owned(), "infinity".to_owned()]
}
fn default_ready_timeout() -> String {
    "2m".to_owned()
}
fn default_remove_timeout() -> String {
    "30m".to_owned()
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CapabilitiesSpec {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub drop: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DnsSpec {
    /// Name servers; when set the pod uses only these (`dnsPolicy: None`).
    #[serde(default)]
    pub servers: Vec<String>,
    /// Search domains.
    #[serde(default)]
    pub searches: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// UserAccess

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserAccessSpec {
    /// Who the grants are for.
    pub subjects: SubjectsSpec,
    /// How the grants land in RBAC: on the ServiceAccounts of the subjects' clients (`client`), or on RBAC `User`
    /// and `Group` subjects for clusters where people log in themselves (`user`).
    #[serde(default)]
    pub access_as: AccessAs,
    /// RFC 3339 time after which every grant of this document is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub grants: Vec<GrantSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubjectsSpec {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub clients: Vec<String>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum AccessAs {
    /// Through the ServiceAccounts of the clients the subjects own (and of the clients named directly).
    #[default]
    Client,
    /// As the people and groups themselves (RBAC `User` / `Group` subjects).
    User,
}

/// One grant: a role (or a session environment) in a scope.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrantSpec {
    /// A built-in role (`cluster-admin`, `admin`, `edit`, `view`, `logs`, `exec`, `port-forward`) or a `Role`'s
    /// name. Exclusive with `environment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// An `Environment` whose sessions the subjects may log in to (in the environment's namespace). Exclusive with
    /// `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The cluster the grant applies to.
    pub cluster: String,
    /// Namespaces the role is granted in; the whole cluster when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// RFC 3339 time after which this grant is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The spec of a document, by kind.
#[derive(Debug, Clone)]
pub enum DocumentBody {
    Settings(SettingsSpec),
    User(UserSpec),
    Group(GroupSpec),
    Role(RoleSpec),
    Client(ClientSpec),
    // Boxed: the largest spec by far, and documents are kept by the thousand.
    Environment(Box<EnvironmentSpec>),
    UserAccess(UserAccessSpec),
}

impl DocumentBody {
    pub fn kind(&self) -> Kind {
        match self {
            DocumentBody::Settings(_) => Kind::Settings,
            DocumentBody::User(_) => Kind::User,
            DocumentBody::Group(_) => Kind::Group,
            DocumentBody::Role(_) => Kind::Role,
            DocumentBody::Client(_) => Kind::Client,
            DocumentBody::Environment(_) => Kind::Environment,
            DocumentBody::UserAccess(_) => Kind::UserAccess,
        }
    }
}
