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

/// A whole access repository, validated: what compile turns into each cluster's objects. Expired, disabled and
/// sunset parts stay in; compile leaves them out.
#[derive(Debug, Clone)]
pub struct AccessModel {
    /// The repository's one `Settings` document.
    pub settings: Settings,
    /// `User` documents by name.
    pub users: BTreeMap<String, User>,
    /// `Group` documents by name.
    pub groups: BTreeMap<String, Group>,
    /// Custom `Role` documents by name; built-in roles have none.
    pub roles: BTreeMap<String, Role>,
    /// `Client` documents by name.
    pub clients: BTreeMap<String, Client>,
    /// `Environment` documents by name.
    pub environments: BTreeMap<String, Environment>,
    /// Every grant of every `UserAccess` document, by document name and then in written order.
    pub grants: Vec<Grant>,
    /// `AccessTest` documents by name.
    pub access_tests: Vec<AccessTest>,
    /// Proof that [`super::validate`] made this model.
    pub validated: Validated,
}

/// The groups `roots` name and every group nested in them, each once (a walk with an explicit stack and a seen
/// set: it ends even on a cycle, which validation reports). Names no group has are kept as given.
pub fn nested_groups<'a>(
    groups: &'a BTreeMap<String, Group>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<&str> = roots.into_iter().collect();
    while let Some(name) = pending.pop() {
        if seen.insert(name)
            && let Some(group) = groups.get(name)
        {
            pending.extend(group.groups.iter().map(String::as_str));
        }
    }
    seen
}

/// The users listed in the groups `roots` name, nested groups included ([`nested_groups`]).
pub fn members<'a>(
    groups: &'a BTreeMap<String, Group>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<&'a str> {
    nested_groups(groups, roots)
        .into_iter()
        .filter_map(|name| groups.get(name))
        .flat_map(|group| group.members.iter().map(String::as_str))
        .collect()
}

impl AccessModel {
    /// The signers `Settings.spec.verify` allows at `now`: the SSH recipients of the listed users and of the
    /// groups' members (nested groups included) that are active, with their `expires`, and the listed keys; `None`
    /// without `verify`. What the next commit's signature is verified against once this revision is applied.
    pub fn signer_policy(&self, now: Timestamp) -> Option<crate::signing::SignerPolicy> {
        let verify = self.settings.verify.as_ref()?;
        let mut users: BTreeSet<&str> = verify.users.iter().map(String::as_str).collect();
        users.extend(members(
            &self.groups,
            verify.groups.iter().map(String::as_str),
        ));
        let mut signers = Vec::new();
        for name in users {
            let Some(user) = self.users.get(name).filter(|u| u.is_active(now)) else {
                continue;
            };
            for recipient in &user.recipients {
                if recipient.kind != RecipientKind::X25519 {
                    signers.push(crate::signing::AllowedSigner {
                        principal: format!("user {name}"),
                        key: recipient.key.clone(),
                        until: user.expires,
                    });
                }
            }
        }
        for (principal, key) in &verify.keys {
            signers.push(crate::signing::AllowedSigner {
                principal: principal.clone(),
                key: key.clone(),
                until: None,
            });
        }
        Some(crate::signing::SignerPolicy {
            signers,
            allow_unsigned: verify.allow_unsigned,
        })
    }

    /// Whether a client holds credentials in `cluster` at `now`: it names the cluster, is before its sunset, and
    /// someone can still read its client file (an extra recipient, or an owner who is active and has a key). A
    /// client whose owners are all disabled or expired, with no extra recipient, compiles to nothing: its
    /// ServiceAccount is deleted, and with it every token it had.
    pub fn client_is_live(&self, client: &Client, cluster: &str, now: Timestamp) -> bool {
        client.is_active(now)
            && client.clusters.contains(cluster)
            && (!client.recipients.is_empty()
                || client.owners.iter().any(|owner| {
                    self.users
                        .get(owner)
                        .is_some_and(|user| user.is_active(now) && !user.recipients.is_empty())
                }))
    }

    /// The environments that exist in `cluster`, by name (see [`Environment::in_cluster`]).
    pub fn environments_in<'a>(
        &'a self,
        cluster: &'a str,
    ) -> impl Iterator<Item = &'a Environment> {
        self.environments
            .values()
            .filter(move |environment| environment.in_cluster(cluster))
    }
}

/// The file a part of the model comes from, written into the annotations of what it compiles to.
pub type Origin = Arc<str>;

/// The `Settings` document, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The managed clusters by name; at least one.
    pub clusters: BTreeMap<String, Cluster>,
    /// Namespace of the clients' ServiceAccounts, a DNS-1123 label.
    pub clients_namespace: String,
    /// Namespace the controller runs in; never holds tollgate's objects.
    pub controller_namespace: String,
    /// Lifetime requested for client tokens from the TokenRequest API; positive.
    pub token_lifetime: SignedDuration,
    /// Folder client files are written to, relative to the repository root, without leading or trailing `/`.
    pub artifacts_path: String,
    /// How much of a cluster one plan may delete.
    pub deletion_guard: DeletionGuard,
    /// Prefixes of the RBAC subjects of `accessAs: user` grants.
    pub subject_prefixes: SubjectPrefixes,
    /// Who may sign the configuration (`spec.verify`); `None`: commits are applied signed or not.
    pub verify: Option<Verify>,
    /// The file of the `Settings` document.
    pub origin: Origin,
}

/// `Settings.spec.verify`, its references checked: who may sign the configuration.
#[derive(Debug, Clone)]
pub struct Verify {
    /// `User` documents whose SSH recipients may sign; each has at least one.
    pub users: BTreeSet<String>,
    /// `Group` documents whose members' SSH recipients may sign.
    pub groups: BTreeSet<String>,
    /// Further keys: (principal, OpenSSH key without comment); the principal is `key <comment>`, or `key <n>`.
    pub keys: Vec<(String, String)>,
    /// Whether unsigned commits are applied too.
    pub allow_unsigned: bool,
}

/// Namespaces that belong to Kubernetes itself: tollgate binds in them when a grant says so, but never creates,
/// owns or deletes them.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Limits on how much of a cluster's managed objects one plan may delete; saved plans carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionGuard {
    /// Largest share, in percent (0 to 100), of the cluster's managed objects one plan may delete.
    pub max_delete_percent: u8,
    /// Deleting up to this many objects is always allowed, whatever the share.
    pub min_objects: u32,
}

impl SubjectPrefixes {
    /// The RBAC `User` subject of a user: the prefix and the username, e.g. `oidc:alice@example.com`.
    pub fn user_subject(&self, user: &User) -> String {
        format!("{}{}", self.user, user.username)
    }

    /// The RBAC `Group` subject of a group: the prefix and its group name, e.g. `oidc:infra/platform-admins`.
    pub fn group_subject(&self, group: &Group) -> String {
        format!("{}{}", self.group, group.group_name)
    }
}

/// Prefixes that make RBAC subjects match the names the cluster's authenticator gives people, e.g. OIDC's
/// `usernamePrefix` and `groupsPrefix`.
#[derive(Debug, Clone, Default)]
pub struct SubjectPrefixes {
    /// Prepended to [`User::username`] in RBAC `User` subjects, e.g. `oidc:`.
    pub user: String,
    /// Prepended to group names in RBAC `Group` subjects.
    pub group: String,
}

/// A cluster tollgate manages.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Short name grants, clients and environments use, a DNS-1123 label.
    pub name: String,
    /// API server URL written into client files, `http://` or `https://`.
    pub api_server: String,
    /// The WireGuard gateway; `None`: clients of this cluster get no VPN section.
    pub gateway: Option<Gateway>,
    /// Where VPN clients' address ranges come from; required once an active VPN client uses the cluster.
    pub client_pool: Option<ClientPool>,
    /// Whether single-owner clients may impersonate their owner for `accessAs: user` grants.
    pub impersonation: bool,
}

/// A cluster's WireGuard gateway, as clients' WireGuard configurations name it.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// `host:port` clients send WireGuard traffic to (WireGuard's `Endpoint`).
    pub endpoint: String,
    /// Networks routed through the tunnel (WireGuard's `AllowedIPs`).
    pub allowed_ips: Vec<IpNet>,
    /// DNS servers clients use while connected (wg-quick's `DNS`).
    pub dns: Vec<IpAddr>,
}

/// A cluster's pool of VPN client addresses: each VPN client gets one `/per_client_prefix` range of `cidr`.
#[derive(Debug, Clone, Copy)]
pub struct ClientPool {
    /// The pool, without host bits; pools of different clusters do not overlap.
    pub cidr: IpNet,
    /// Prefix length of each client's range, from the pool's own prefix length up to 32 (IPv4) or 128 (IPv6).
    pub per_client_prefix: u8,
}

impl ClientPool {
    /// How many client ranges fit in the pool (saturating: an IPv6 pool can hold more than `u128`).
    pub fn capacity(&self) -> u128 {
        let bits = u32::from(self.per_client_prefix - self.cidr.prefix_len());
        1u128.checked_shl(bits).unwrap_or(u128::MAX)
    }
}

/// The kinds of public key age encrypts client files to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecipientKind {
    /// An age X25519 recipient, `age1...`.
    X25519,
    /// An SSH Ed25519 public key, `ssh-ed25519 ...`.
    SshEd25519,
    /// An SSH RSA public key, `ssh-rsa ...`.
    SshRsa,
}

/// A public key a client file is encrypted to, as written (it parsed when validated).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Recipient {
    /// Which kind of key, so that sealing picks the matching age recipient type.
    pub kind: RecipientKind,
    /// The key, trimmed; an SSH key without its comment, so that one key with two comments is one recipient.
    pub key: String,
}

/// A person, from a `User` document.
#[derive(Debug, Clone)]
pub struct User {
    /// The document's `metadata.name`, a DNS-1123 label.
    pub name: String,
    /// Kubernetes username for `accessAs: user` grants, before the prefix: `spec.username`, else the name.
    pub username: String,
    /// Contact address, for people only; contains `@`.
    pub email: Option<String>,
    /// Keys the user's client files are encrypted to; no other user lists any of them.
    pub recipients: Vec<Recipient>,
    /// When the user loses access; `None`: never.
    pub expires: Option<Timestamp>,
    /// A disabled user has no access but keeps their documents.
    pub disabled: bool,
    /// The file of the `User` document.
    pub origin: Origin,
}

impl User {
    /// A disabled or expired user has no access, though their documents stay.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.disabled && self.expires.is_none_or(|expires| expires > now)
    }
}

/// A set of users and nested groups, from a `Group` document.
#[derive(Debug, Clone)]
pub struct Group {
    /// The document's `metadata.name`, a DNS-1123 label.
    pub name: String,
    /// The name RBAC `Group` subjects carry (before the prefix): `spec.groupName`, or `name`.
    pub group_name: String,
    /// Names of the users listed directly.
    pub members: BTreeSet<String>,
    /// Names of nested groups, whose members are members too; they form no cycle.
    pub groups: BTreeSet<String>,
    /// The file of the `Group` document.
    pub origin: Origin,
}

/// The roles tollgate knows without a `Role` document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinRole {
    /// Kubernetes' `cluster-admin` ClusterRole: everything.
    ClusterAdmin,
    /// Kubernetes' `admin` ClusterRole: read-write in a namespace, Roles and RoleBindings included.
    Admin,
    /// Kubernetes' `edit` ClusterRole: read-write to most objects, but not Roles and RoleBindings.
    Edit,
    /// Kubernetes' `view` ClusterRole: read-only, Secrets excluded.
    View,
    /// tollgate's `tollgate:logs`: read pods and their logs.
    Logs,
    /// tollgate's `tollgate:exec`: read pods and exec into them.
    Exec,
    /// tollgate's `tollgate:port-forward`: read pods and port-forward to them.
    PortForward,
}

impl BuiltinRole {
    /// Every built-in role, in the order hints list them.
    pub const ALL: [BuiltinRole; 7] = [
        BuiltinRole::ClusterAdmin,
        BuiltinRole::Admin,
        BuiltinRole::Edit,
        BuiltinRole::View,
        BuiltinRole::Logs,
        BuiltinRole::Exec,
        BuiltinRole::PortForward,
    ];

    /// The name grants write, e.g. `port-forward`; the ClusterRole is `tollgate:<name>` when tollgate manages it.
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

    /// The built-in role a grant's `role` names, if it names one (exact match).
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

/// The role a grant names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleRef {
    /// A role tollgate knows without a document.
    Builtin(BuiltinRole),
    /// A `Role` document, by name.
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

/// A custom role, from a `Role` document.
#[derive(Debug, Clone)]
pub struct Role {
    /// The document's `metadata.name`; never a built-in role's name.
    pub name: String,
    /// What the role grants.
    pub definition: RoleDefinition,
    /// The file of the `Role` document.
    pub origin: Origin,
}

/// What a custom role grants.
#[derive(Debug, Clone)]
pub enum RoleDefinition {
    /// Policy rules, compiled to the ClusterRole `tollgate:<name>`.
    Rules(Vec<PolicyRule>),
    /// The name of an existing ClusterRole to bind; tollgate does not manage it.
    ClusterRole(String),
}

/// One RBAC policy rule, as Kubernetes' `rbac/v1` `PolicyRule`; an empty list is left out when compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// API groups of `resources`; `""` is the core group.
    pub api_groups: Vec<String>,
    /// Resource types, e.g. `pods` or `pods/log`; empty when `non_resource_urls` is not.
    pub resources: Vec<String>,
    /// Object names the rule is limited to; empty: every object.
    pub resource_names: Vec<String>,
    /// URL paths that are not resources, e.g. `/healthz`; empty when `resources` is not.
    pub non_resource_urls: Vec<String>,
    /// Verbs allowed, e.g. `get`; never empty.
    pub verbs: Vec<String>,
}

/// A credential for one machine or robot, from a `Client` document.
#[derive(Debug, Clone)]
pub struct Client {
    /// The document's `metadata.name`, a DNS-1123 label; also its ServiceAccount's name.
    pub name: String,
    /// Users whose `accessAs: client` grants land on the client and whose keys open its client file, while active.
    pub owners: BTreeSet<String>,
    /// Extra recipients besides the owners' keys.
    pub recipients: Vec<Recipient>,
    /// Clusters the client gets a ServiceAccount and a client file in.
    pub clusters: BTreeSet<String>,
    /// Namespace of the client's kubeconfig context, a DNS-1123 label.
    pub default_namespace: Option<String>,
    /// Whether the client gets a WireGuard key and an address range from each of its clusters' pools.
    pub vpn: bool,
    /// When the client and its credentials are removed; `None`: never.
    pub sunset: Option<Timestamp>,
    /// The file of the `Client` document.
    pub origin: Origin,
}

impl Client {
    /// Whether `now` is before the sunset, if any; a client past it compiles to nothing.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.sunset.is_none_or(|sunset| sunset > now)
    }
}

/// A session pod template, from an `Environment` document.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The document's `metadata.name`, a DNS-1123 label.
    pub name: String,
    /// Empty: every cluster.
    pub clusters: BTreeSet<String>,
    /// Container image of the session pod.
    pub image: String,
    /// Namespace of the session pods, their PodTemplate and session Role; tollgate creates it.
    pub namespace: String,
    /// ServiceAccount the pod runs as, created by tollgate: the one the document names, else `session`.
    pub service_account: String,
    /// Whether the pod mounts the ServiceAccount's token: only when the document names a ServiceAccount.
    pub mount_service_account_token: bool,
    /// Capability names without the `CAP_` prefix, as Kubernetes writes them.
    pub capabilities_add: Vec<String>,
    /// Capabilities dropped from the session container, spelled as `capabilities_add`; may be `ALL`.
    pub capabilities_drop: Vec<String>,
    /// Whether the session container runs privileged.
    pub privileged: bool,
    /// Name servers of the pod; when not empty, the pod's `dnsPolicy` is `None` and only these are used.
    pub dns_servers: Vec<IpAddr>,
    /// DNS search domains of the pod's `dnsConfig`.
    pub dns_searches: Vec<String>,
    /// Command and arguments started at each login; travels in the `tollgate.dev/shell` annotation.
    pub shell: Vec<String>,
    /// Container command and arguments that keep the pod running while the session lasts.
    pub command: Vec<String>,
    /// What a session with a command runs: these arguments and then the user's command as one more.
    pub exec_command: Vec<String>,
    /// What the `sftp` subsystem runs; `None`: sftp and scp are refused.
    pub sftp_command: Option<Vec<String>>,
    /// User ID of the container (`runAsUser`); `None`: the image's.
    pub run_as_user: Option<i64>,
    /// Group ID of the container (`runAsGroup`); `None`: the runtime's default.
    pub run_as_group: Option<i64>,
    /// Working directory of the container; `None`: the image's.
    pub working_dir: Option<String>,
    /// Secret in `namespace` that the image is pulled with.
    pub image_pull_secret: Option<String>,
    /// The container's `imagePullPolicy`; `None`: Kubernetes' default.
    pub image_pull_policy: Option<crate::config::documents::PullPolicy>,
    /// Node selector `kubernetes.io/os`.
    pub os: Option<String>,
    /// Node selector `kubernetes.io/arch`.
    pub arch: Option<String>,
    /// How long a session pod may take to become ready; positive.
    pub ready_timeout: SignedDuration,
    /// How long the removal of a session pod may take after its session ends; positive, at most 10 minutes.
    pub remove_timeout: SignedDuration,
    /// How long a session may last: the pod's `activeDeadlineSeconds`; positive.
    pub max_session_duration: SignedDuration,
    /// Only members of one of these `Group` documents (nested membership counts) may log in; empty: anyone granted.
    pub login_groups: BTreeSet<String>,
    /// Only connections from these networks may log in; empty: from anywhere.
    pub login_networks: Vec<ipnet::IpNet>,
    /// Whether users may port-forward from the pod: the session Role then allows `pods/portforward`.
    pub port_forwarding: bool,
    /// Text shown at login; travels in the `tollgate.dev/banner` annotation.
    pub banner: Option<String>,
    /// The file of the `Environment` document.
    pub origin: Origin,
}

impl Environment {
    /// Whether the environment exists in `cluster`: it lists it, or lists no cluster at all.
    pub fn in_cluster(&self, cluster: &str) -> bool {
        self.clusters.is_empty() || self.clusters.contains(cluster)
    }
}

/// Who a `UserAccess` document grants to; shared by all its grants.
#[derive(Debug, Clone, Default)]
pub struct Subjects {
    /// Names of `User` documents.
    pub users: BTreeSet<String>,
    /// Names of `Group` documents; nested groups are expanded when compiled.
    pub groups: BTreeSet<String>,
    /// Names of `Client` documents; their ServiceAccounts get the grants under either `accessAs`.
    pub clients: BTreeSet<String>,
}

/// An `AccessTest` document: questions about one cluster, each with the answer it must have.
#[derive(Debug, Clone)]
pub struct AccessTest {
    /// The document's `metadata.name`.
    pub name: String,
    /// The cluster asked.
    pub cluster: String,
    /// `spec.allow`, then `spec.deny`, in written order.
    pub questions: Vec<AccessQuestion>,
    /// The file of the document.
    pub origin: Origin,
}

/// The answer an access test's question must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Every subject may (`spec.allow`).
    Allow,
    /// No subject may (`spec.deny`).
    Deny,
}

/// One question of an `AccessTest`.
#[derive(Debug, Clone)]
pub struct AccessQuestion {
    /// Allowed or denied.
    pub expected: Expected,
    /// The document it is written in, for a diagnostic when it fails.
    pub doc: crate::config::source::DocRef,
    /// Its path in the document, e.g. `spec.deny[0]`.
    pub path: String,
    /// Who is asked about.
    pub subjects: Subjects,
    /// The request, as the API server would describe it ([`crate::question::parse`]).
    pub request: crate::rbac::Request,
}

/// What a grant gives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantTarget {
    /// A role, bound cluster-wide or in the grant's namespaces.
    Role(RoleRef),
    /// Logins to an environment's sessions, by environment name; scoped to the environment's namespace.
    Environment(String),
}

/// One grant of a `UserAccess` document, with the document's subjects, `accessAs` and expiry folded in.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Name of the `UserAccess` document.
    pub access: String,
    /// The document's subjects, shared by all its grants so that compile resolves them once.
    pub subjects: Arc<Subjects>,
    /// The role or environment granted.
    pub target: GrantTarget,
    /// The cluster the grant applies to.
    pub cluster: String,
    /// The namespaces, sorted and without duplicates; `None`: the whole cluster. A list, not a `BTreeSet`: a
    /// grant usually names one namespace, and a one-element set costs a whole B-tree node (120,000 grants held
    /// 30 MB more as sets).
    pub namespaces: Option<Vec<String>>,
    /// The document's `accessAs`: on the ServiceAccounts of clients, or on RBAC users and groups.
    pub access_as: AccessAs,
    /// The earlier of the document's and the grant's expiry.
    pub expires: Option<Timestamp>,
    /// The file of the `UserAccess` document.
    pub origin: Origin,
}

impl Grant {
    /// Whether `now` is before the expiry, if any; an expired grant compiles to nothing.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }
}
