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
    /// Repository-wide settings; exactly one per repository.
    Settings,
    /// A person.
    User,
    /// A set of users and nested groups.
    Group,
    /// A custom RBAC role.
    Role,
    /// A credential for one machine or robot.
    Client,
    /// A session pod template.
    Environment,
    /// Grants of roles and session environments to subjects.
    UserAccess,
    /// Questions about access whose answers the repository fixes: who must be allowed, who must not.
    AccessTest,
}

impl Kind {
    /// Every kind, in the order hints list them.
    pub const ALL: [Kind; 8] = [
        Kind::Settings,
        Kind::User,
        Kind::Group,
        Kind::Role,
        Kind::Client,
        Kind::Environment,
        Kind::UserAccess,
        Kind::AccessTest,
    ];

    /// The kind as documents write it in `kind`, e.g. `UserAccess`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Settings => "Settings",
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Role => "Role",
            Kind::Client => "Client",
            Kind::Environment => "Environment",
            Kind::UserAccess => "UserAccess",
            Kind::AccessTest => "AccessTest",
        }
    }

    /// The kind a document's `kind` names, matched exactly (case-sensitive); `None` for an unknown kind.
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
            Kind::AccessTest => {
                "Access tests: questions about one cluster (may these subjects make this request?) that must be allowed, or must be denied. `validate`, `plan` and the controller refuse a repository whose grants break one, naming the binding that breaks it."
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
    /// The document's name and an optional description.
    pub metadata: Metadata,
    /// What the document defines; its fields depend on `kind`.
    pub spec: S,
}

/// The document's name and an optional description.
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

/// Repository-wide settings: the managed clusters, where clients' ServiceAccounts and files go, and safety limits.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsSpec {
    /// The clusters this repository manages. Grants, clients and environments name them.
    pub clusters: Vec<ClusterSpec>,
    /// Namespace that holds the clients' ServiceAccounts and their credential Secrets.
    #[serde(default = "default_clients_namespace")]
    pub clients_namespace: String,
    /// Namespace the controller runs in (its Lease, status and Events). tollgate never places its objects there,
    /// and no environment may claim it.
    #[serde(default = "default_controller_namespace")]
    pub controller_namespace: String,
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
    /// Apply only signed configuration: the controller and `apply --git` refuse a commit whose signature does not
    /// verify against a signer the last applied revision allowed. Absent: commits are applied signed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
}

/// Who may sign the configuration, and whether unsigned commits are still applied.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifySpec {
    /// Who may sign: users (with their SSH keys from `recipients`), groups (their members' SSH keys) and keys.
    pub signers: SignersSpec,
    /// Apply unsigned commits too (a signed one must still verify): for the weeks while a team starts signing.
    #[serde(default)]
    pub allow_unsigned: bool,
}

/// Who may sign the configuration: Git's SSH signatures (`git commit -S` with `gpg.format=ssh`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignersSpec {
    /// Names of `User` documents: their SSH recipients (`ssh-ed25519`, `ssh-rsa`) may sign while they are active.
    #[serde(default)]
    pub users: Vec<String>,
    /// Names of `Group` documents: every active member's SSH recipients may sign (nested groups included).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Further signing keys, one OpenSSH public key per item (`ssh-ed25519 AAAA... comment`), e.g. the key a
    /// forge signs its merge commits with.
    #[serde(default)]
    pub keys: Vec<String>,
}

/// Default of `clientsNamespace`: `tollgate-clients`.
pub fn default_clients_namespace() -> String {
    "tollgate-clients".to_owned()
}
/// Default of `controllerNamespace`: `tollgate-system`, as `deploy/` installs it.
pub fn default_controller_namespace() -> String {
    "tollgate-system".to_owned()
}
/// Default of `tokenLifetime`: `24h`.
pub fn default_token_lifetime() -> String {
    "24h".to_owned()
}
/// Default of `artifactsPath`: `artifacts`.
pub fn default_artifacts_path() -> String {
    "artifacts".to_owned()
}

/// A cluster tollgate manages.
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
    /// Whether a client with one owner may act as that owner for `accessAs: user` grants (Kubernetes
    /// impersonation: its kubeconfig says `as:` the owner). On by default; turn it off where people log in to the
    /// cluster themselves (OIDC), so that only their own logins carry their grants.
    #[serde(default = "default_impersonation")]
    pub impersonation: bool,
}

fn default_impersonation() -> bool {
    true
}

/// The cluster's WireGuard gateway, as clients' WireGuard configurations name it.
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

/// Addresses for VPN clients: each client with `vpn: true` gets its own range of `perClientPrefix` from `cidr`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientPoolSpec {
    /// The pool, e.g. `10.90.0.0/16`. Pools of different clusters must not overlap.
    pub cidr: String,
    /// Prefix length of each client's range, e.g. `30`; must be at least the pool's prefix length.
    pub per_client_prefix: u8,
}

/// Refuses plans that delete a large share of a cluster's managed objects; `apply --allow-mass-deletion` overrides.
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

/// Prefixes for the RBAC subjects of `accessAs: user` grants; both empty by default.
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

/// A person: their Kubernetes username, the keys their client files are encrypted to, and when their access ends.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserSpec {
    /// Kubernetes username for `accessAs: user` grants (before the configured prefix). Defaults to the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Contact address, for people reading the repository; must contain `@`.
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

/// A set of users and nested groups that grants name at once.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupSpec {
    /// The group's name as the cluster's authenticator sends it (OIDC `groups` claim, e.g. `infra/platform-admins`
    /// or `Platform Admins`), for `accessAs: user` grants; the document's name when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Users in the group.
    #[serde(default)]
    pub members: Vec<String>,
    /// Groups whose members are members of this group too. Cycles are errors.
    #[serde(default)]
    pub groups: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Role

/// A custom role: policy rules, or an existing ClusterRole to bind; exactly one of the two.
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
    /// API groups of `resources`, e.g. `""` (the core group) or `apps`; required with `resources`.
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Resource types, e.g. `pods`, `deployments` or `pods/log`. Exclusive with `nonResourceURLs`.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Object names the rule is limited to; every object when empty.
    #[serde(default)]
    pub resource_names: Vec<String>,
    /// Non-resource URL paths, e.g. `/healthz`; honoured only in cluster-wide grants. Exclusive with `resources`.
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
    /// Must not be empty.
    #[serde(default)]
    pub verbs: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Client

/// A credential for one machine or robot in one or more clusters.
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

/// A session pod template: the image, namespace and privileges of session pods, and what happens at login.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// Clusters the environment exists in; every cluster when left out (an empty list is an error).
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Container image of the session pod.
    pub image: String,
    /// Namespace session pods run in (created by tollgate).
    pub namespace: String,
    /// ServiceAccount the session pod runs as, created by tollgate in the environment's namespace, with its token
    /// mounted in the pod. Left out: the pod runs as `session`, also created by tollgate, and no token is mounted.
    /// The namespace's `default` ServiceAccount is not allowed: tollgate did not create it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Linux capabilities to add to and drop from the session container, e.g. `NET_ADMIN`.
    #[serde(default)]
    pub capabilities: CapabilitiesSpec,
    /// Run the session container privileged.
    #[serde(default)]
    pub privileged: bool,
    /// DNS settings of the session pod; the cluster's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsSpec>,
    /// Shell started when a user logs in to a session.
    #[serde(default = "default_shell")]
    pub shell: Vec<String>,
    /// Command that keeps the session pod running while the session lasts.
    #[serde(default = "default_command")]
    pub command: Vec<String>,
    /// What `ssh gateway 'some command'` runs: these arguments, then the command the user gave as one more
    /// argument.
    #[serde(default = "default_exec_command")]
    pub exec_command: Vec<String>,
    /// What the `sftp` subsystem runs (`scp` and `sftp` use it), e.g. `["/usr/lib/openssh/sftp-server"]`; the
    /// image must have it. Left out: sftp and scp are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp_command: Option<Vec<String>>,
    /// User ID the session container runs as (`runAsUser`); the image's user when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    /// Group ID the session container runs as (`runAsGroup`); the container runtime's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
    /// Working directory of the session container; the image's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Name of an image pull Secret in the environment's namespace (registry credentials stay out of Git: create
    /// the Secret yourself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
    /// When the node pulls the image: `Always`, `IfNotPresent` or `Never`; Kubernetes' default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,
    /// Operating system of the node the pod runs on (the node label `kubernetes.io/os`), e.g. `linux`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Architecture of the node the pod runs on (the node label `kubernetes.io/arch`), e.g. `amd64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// How long a session pod may take to become ready, e.g. `2m`; the user sees why when it does not.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: String,
    /// How long the removal of a session pod may take after its session ends, e.g. `1m` (at most `10m`).
    #[serde(default = "default_remove_timeout")]
    pub remove_timeout: String,
    /// How long a session may last at most, e.g. `12h`: the pod's `activeDeadlineSeconds`, which ends the session
    /// even if the gateway is gone.
    #[serde(default = "default_max_session_duration")]
    pub max_session_duration: String,
    /// Conditions on a login beyond the grant: all that are given must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginSpec>,
    /// Whether users may port-forward from their session pod.
    #[serde(default)]
    pub port_forwarding: bool,
    /// Text shown when a user logs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
}

/// When the node pulls a session image (a container's `imagePullPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PullPolicy {
    /// Pull at every session start.
    Always,
    /// Pull when the node does not have the image.
    IfNotPresent,
    /// Never pull: the node must have the image.
    Never,
}

/// Who may log in beyond holding the grant.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginSpec {
    /// Only members (directly or through nested groups) of one of these `Group` documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Only from these source networks (CIDR, e.g. `10.8.0.0/16`), as the gateway sees the connection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_networks: Vec<String>,
}

fn default_exec_command() -> Vec<String> {
    vec!["/bin/sh".to_owned(), "-c".to_owned()]
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
    "1m".to_owned()
}
fn default_max_session_duration() -> String {
    "12h".to_owned()
}

/// Linux capabilities of the session container, written with or without `CAP_`, in any case; `ALL` is allowed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CapabilitiesSpec {
    /// Capabilities to add, e.g. `NET_ADMIN`.
    #[serde(default)]
    pub add: Vec<String>,
    /// Capabilities to drop, e.g. `ALL`.
    #[serde(default)]
    pub drop: Vec<String>,
}

/// DNS settings of the session pod (its `dnsConfig`), on top of or instead of the cluster's.
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

/// Grants of roles or session environments to users, groups and clients.
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
    /// The grants, at least one; each names a role or an environment, and a cluster.
    pub grants: Vec<GrantSpec>,
}

/// Who the grants are for: at least one user, group or client.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubjectsSpec {
    /// Names of `User` documents.
    #[serde(default)]
    pub users: Vec<String>,
    /// Names of `Group` documents; members of nested groups are included.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Names of `Client` documents; these get the grants directly, whatever `accessAs` says.
    #[serde(default)]
    pub clients: Vec<String>,
}

/// How the grants of a `UserAccess` document land in RBAC.
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

// ---------------------------------------------------------------------------------------------------------------
// AccessTest

/// Questions about one cluster whose answers the repository fixes.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessTestSpec {
    /// The cluster asked, as Settings name it.
    pub cluster: String,
    /// Questions every subject must be allowed: each user (as themselves or through a client they own), each
    /// active member of each group (nested groups included), each client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<AccessQuestionSpec>,
    /// Questions no subject may be allowed: no user (as themselves, through a client they own, or a client acting
    /// as them), no member of a group (nested groups included, disabled and expired users too), no client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<AccessQuestionSpec>,
}

/// One question: may these subjects make this request?
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccessQuestionSpec {
    /// Who is asked about.
    pub subjects: SubjectsSpec,
    /// The verb, as the API server names it: `get`, `list`, `create`, `delete`, `impersonate`, ...
    pub verb: String,
    /// The resource as for `kubectl auth can-i`: `secrets`, `pods/exec`, `deployments.apps`; or a non-resource URL
    /// such as `/metrics`.
    pub resource: String,
    /// The object's name, for rules that list `resourceNames`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace; absent, the question is cluster-wide (only cluster-wide grants answer it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The spec of a document, by kind.
#[derive(Debug, Clone)]
pub enum DocumentBody {
    /// The spec of a `Settings` document.
    Settings(SettingsSpec),
    /// The spec of a `User` document.
    User(UserSpec),
    /// The spec of a `Group` document.
    Group(GroupSpec),
    /// The spec of a `Role` document.
    Role(RoleSpec),
    /// The spec of a `Client` document.
    Client(ClientSpec),
    /// The spec of an `Environment` document.
    // Boxed: the largest spec by far, and documents are kept by the thousand.
    Environment(Box<EnvironmentSpec>),
    /// The spec of a `UserAccess` document.
    UserAccess(UserAccessSpec),
    /// The spec of an `AccessTest` document.
    AccessTest(AccessTestSpec),
}

impl DocumentBody {
    /// The kind of document this spec comes from.
    pub fn kind(&self) -> Kind {
        match self {
            DocumentBody::Settings(_) => Kind::Settings,
            DocumentBody::User(_) => Kind::User,
            DocumentBody::Group(_) => Kind::Group,
            DocumentBody::Role(_) => Kind::Role,
            DocumentBody::Client(_) => Kind::Client,
            DocumentBody::Environment(_) => Kind::Environment,
            DocumentBody::UserAccess(_) => Kind::UserAccess,
            DocumentBody::AccessTest(_) => Kind::AccessTest,
        }
    }
}
