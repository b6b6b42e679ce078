//! The plan's gate: changes that give someone power over other people's access or data (escalate, bind,
//! impersonate, ServiceAccount tokens, reading secrets, exec and attach, the nodes' proxy, every verb on everything,
//! a session with access to its node) are listed apart from the rest, so that a reviewer sees them and CI can ask
//! for a second approval (`plan --detailed-exitcode` exits 3).
//!
//! "Gains" is decided by Kubernetes' RBAC semantics ([`crate::rbac`]), not by role names: a subject gains a power
//! when the roles and bindings after the plan allow it and tollgate's live ones do not. Bindings to Kubernetes'
//! own ClusterRoles (`admin`, `edit`, `view`, ...) are read with their default rules
//! ([`crate::rbac::kubernetes_cluster_roles`]). Only the subjects of bindings the plan writes, or of bindings to
//! roles it writes, are asked about: everyone else's access stays as it is.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodTemplate;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;

use super::access::{SubjectName, subject_name};
use super::permissions::{Compared, PermissionChange, permission_changes};
use super::{Action, Change, Owned};
use crate::compile::IMPERSONATION_ROLE_PREFIX;
use crate::objects::{DesiredState, LiveState, Manifest, ObjectKey, ObjectKind, SOURCE_ANNOTATION};
use crate::rbac::{ObjectName, Policy, Request, UserInfo};

/// What a change may give someone that deserves a second reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Power {
    /// Every verb on every resource of every group (`*` on `*.*`), as Kubernetes' `cluster-admin` holds.
    Everything,
    /// `escalate` on roles or ClusterRoles: write rules one does not hold.
    Escalate,
    /// `bind` on roles or ClusterRoles: bind roles one does not hold.
    Bind,
    /// Create or change RoleBindings or ClusterRoleBindings: give others what one holds.
    GrantAccess,
    /// `impersonate` users, groups or ServiceAccounts: act as someone else.
    Impersonate,
    /// `create serviceaccounts/token`: mint tokens of ServiceAccounts.
    ServiceAccountTokens,
    /// `get`, `list` or `watch` secrets.
    ReadSecrets,
    /// `create pods/exec`, or an ephemeral debug container: run commands in other people's containers.
    Exec,
    /// `create pods/attach`: attach to other people's containers.
    Attach,
    /// `create pods`: run anything as any ServiceAccount of the namespace, with its secrets mounted.
    CreatePods,
    /// `nodes/proxy`: the kubelet's API, which runs commands in any pod of a node.
    NodeProxy,
    /// Create PersistentVolumes (a hostPath one mounts the node's files), change Nodes or Namespaces (their labels
    /// decide where pods run and which Pod Security level applies).
    NodeAccess,
    /// Approve certificate signing requests: issue credentials, for a node or a user.
    ApproveCertificates,
    /// Create or change admission webhooks: see and rewrite every object written.
    AdmissionWebhooks,
    /// A session environment whose pods run privileged, with a powerful capability, or in a host namespace or
    /// path.
    HostAccessSession,
    /// A binding to a ClusterRole that neither the repository nor Kubernetes' defaults define: what it grants is
    /// decided by a role nobody reviewed here.
    UnknownRole,
}

impl Power {
    /// The power in words, for the human and markdown plans.
    pub fn describe(self) -> &'static str {
        match self {
            Power::Everything => "every verb on every resource (cluster-admin)",
            Power::Escalate => "escalate roles (write rules it does not hold)",
            Power::Bind => "bind roles (grant roles it does not hold)",
            Power::GrantAccess => "create or change role bindings",
            Power::Impersonate => "impersonate users, groups or ServiceAccounts",
            Power::ServiceAccountTokens => "create ServiceAccount tokens",
            Power::ReadSecrets => "read secrets",
            Power::Exec => "exec into pods",
            Power::Attach => "attach to pods",
            Power::CreatePods => "create pods or workloads",
            Power::NodeProxy => "the nodes' kubelet API (nodes/proxy)",
            Power::NodeAccess => "PersistentVolumes, Nodes or Namespaces",
            Power::ApproveCertificates => "approve certificate signing requests",
            Power::AdmissionWebhooks => "admission webhooks",
            Power::HostAccessSession => "a session with access to its node",
            Power::UnknownRole => "a ClusterRole tollgate does not know",
        }
    }

    /// The requests that show the power, each with whether it is asked in a namespace.
    fn probes(self) -> Vec<(Request, bool)> {
        let request =
            |verb: &str, group: &str, resource: &str, subresource: &str| Request::Resource {
                verb: verb.to_owned(),
                api_group: group.to_owned(),
                resource: resource.to_owned(),
                subresource: subresource.to_owned(),
                name: String::new(),
                namespace: String::new(),
            };
        const RBAC: &str = "rbac.authorization.k8s.io";
        const ADMISSION: &str = "admissionregistration.k8s.io";
        let each = |verbs: &[&str], group: &str, resource: &str, sub: &str, namespaced: bool| {
            verbs
                .iter()
                .map(|verb| (request(verb, group, resource, sub), namespaced))
                .collect::<Vec<_>>()
        };
        match self {
            // Only a rule of `*` verbs, groups and resources matches a request of `*` for each.
            Power::Everything => vec![(request("*", "*", "*", ""), true)],
            Power::Escalate => vec![
                (request("escalate", RBAC, "roles", ""), true),
                (request("escalate", RBAC, "clusterroles", ""), false),
            ],
            Power::Bind => vec![
                (request("bind", RBAC, "roles", ""), true),
                (request("bind", RBAC, "clusterroles", ""), false),
            ],
            Power::GrantAccess => [
                each(
                    &["create", "update", "patch"],
                    RBAC,
                    "rolebindings",
                    "",
                    true,
                ),
                each(
                    &["create", "update", "patch"],
                    RBAC,
                    "clusterrolebindings",
                    "",
                    false,
                ),
            ]
            .concat(),
            Power::Impersonate => vec![
                (request("impersonate", "", "users", ""), false),
                (request("impersonate", "", "groups", ""), false),
                (request("impersonate", "", "serviceaccounts", ""), true),
            ],
            Power::ServiceAccountTokens => each(&["create"], "", "serviceaccounts", "token", true),
            Power::ReadSecrets => each(&["get", "list", "watch"], "", "secrets", "", true),
            // Before Kubernetes v1.31 a WebSocket exec or attach needed only `get`; `kubectl debug` adds an
            // ephemeral container to a running pod.
            Power::Exec => [
                each(&["create", "get"], "", "pods", "exec", true),
                each(
                    &["patch", "update"],
                    "",
                    "pods",
                    "ephemeralcontainers",
                    true,
                ),
            ]
            .concat(),
            Power::Attach => each(&["create", "get"], "", "pods", "attach", true),
            // A workload controller creates the pods: creating the workload is creating pods.
            Power::CreatePods => [
                each(&["create"], "", "pods", "", true),
                each(&["create"], "", "replicationcontrollers", "", true),
                each(&["create"], "apps", "deployments", "", true),
                each(&["create"], "apps", "statefulsets", "", true),
                each(&["create"], "apps", "daemonsets", "", true),
                each(&["create"], "apps", "replicasets", "", true),
                each(&["create"], "batch", "jobs", "", true),
                each(&["create"], "batch", "cronjobs", "", true),
            ]
            .concat(),
            // A hostPath PersistentVolume mounts the node's files; a node's or namespace's labels decide where pods
            // run and which Pod Security level they get.
            Power::NodeAccess => [
                each(&["create"], "", "persistentvolumes", "", false),
                each(&["update", "patch"], "", "nodes", "", false),
                each(&["update", "patch"], "", "namespaces", "", false),
            ]
            .concat(),
            Power::NodeProxy => each(&["get", "create"], "", "nodes", "proxy", false),
            Power::ApproveCertificates => each(
                &["update", "patch"],
                "certificates.k8s.io",
                "certificatesigningrequests",
                "approval",
                false,
            ),
            Power::AdmissionWebhooks => [
                each(
                    &["create", "update", "patch"],
                    ADMISSION,
                    "mutatingwebhookconfigurations",
                    "",
                    false,
                ),
                each(
                    &["create", "update", "patch"],
                    ADMISSION,
                    "validatingwebhookconfigurations",
                    "",
                    false,
                ),
            ]
            .concat(),
            Power::HostAccessSession | Power::UnknownRole => Vec::new(),
        }
    }

    /// The powers asked of the authorizer, strongest first.
    const RBAC: [Power; 14] = [
        Power::Everything,
        Power::Escalate,
        Power::Bind,
        Power::GrantAccess,
        Power::Impersonate,
        Power::ServiceAccountTokens,
        Power::ReadSecrets,
        Power::Exec,
        Power::Attach,
        Power::CreatePods,
        Power::NodeProxy,
        Power::NodeAccess,
        Power::ApproveCertificates,
        Power::AdmissionWebhooks,
    ];
}

/// One power one subject gains with the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondLook {
    /// Who gains it.
    pub subject: SubjectName,
    /// What.
    pub power: Power,
    /// Where: a namespace, or `None` for the whole cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The binding that gives it, as `Kind namespace/name`.
    pub binding: String,
    /// The role that binding refers to, as `Kind namespace/name`.
    pub role: String,
    /// What exactly: the request the roles now allow, as for `kubectl auth can-i` (`create pods/exec`,
    /// `impersonate serviceaccounts`); for a session, its environment and why it reaches its node (`environment
    /// debug: privileged, NET_ADMIN`).
    pub detail: String,
    /// The repository files the binding comes from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// The policy of `objects` (tollgate's RBAC objects on one side of the plan) with Kubernetes' default ClusterRoles
/// under every name tollgate does not define.
fn policy<'o>(objects: impl Iterator<Item = (&'o ObjectKey, &'o Manifest)>) -> Policy {
    let mut cluster_roles: BTreeMap<String, ClusterRole> = crate::rbac::kubernetes_cluster_roles()
        .into_iter()
        .filter_map(|r| Some((r.metadata.name.clone()?, r)))
        .collect();
    let (mut roles, mut cluster_bindings, mut bindings) = (Vec::new(), Vec::new(), Vec::new());
    for (key, manifest) in objects {
        match key.kind {
            ObjectKind::ClusterRole => {
                if let Some(role) = manifest.parse::<ClusterRole>() {
                    cluster_roles.insert(key.name.clone(), role);
                }
            }
            ObjectKind::Role => roles.extend(manifest.parse::<Role>()),
            ObjectKind::ClusterRoleBinding => {
                cluster_bindings.extend(manifest.parse::<ClusterRoleBinding>());
            }
            ObjectKind::RoleBinding => bindings.extend(manifest.parse::<RoleBinding>()),
            _ => {}
        }
    }
    Policy::new(
        cluster_roles.into_values(),
        roles,
        cluster_bindings,
        bindings,
    )
}

/// Why sessions from this PodTemplate reach their node: privileged, a capability that reaches past the container,
/// a host namespace, a hostPath volume; empty for an ordinary pod.
fn host_access(template: &PodTemplate) -> BTreeSet<String> {
    // Capabilities that reach past the container: the host's network, processes, kernel, devices or files.
    const POWERFUL: [&str; 14] = [
        "ALL",
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "NET_RAW",
        "DAC_READ_SEARCH",
        "DAC_OVERRIDE",
        "SYS_RAWIO",
        "BPF",
        "PERFMON",
        "SYS_BOOT",
        "SYS_TIME",
        "MKNOD",
    ];
    let mut why = BTreeSet::new();
    let Some(spec) = template.template.as_ref().and_then(|t| t.spec.as_ref()) else {
        return why;
    };
    for (set, name) in [
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
        (spec.host_ipc, "hostIPC"),
    ] {
        if set == Some(true) {
            why.insert(name.to_owned());
        }
    }
    if spec.volumes.iter().flatten().any(|v| v.host_path.is_some()) {
        why.insert("hostPath".to_owned());
    }
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let Some(context) = &container.security_context else {
            continue;
        };
        if context.privileged == Some(true) {
            why.insert("privileged".to_owned());
        }
        let added = context
            .capabilities
            .iter()
            .flat_map(|c| c.add.iter().flatten());
        for capability in added {
            // The runtime reads names case-insensitively, with or without `CAP_`.
            let upper = capability.to_ascii_uppercase();
            let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
            if POWERFUL.contains(&bare) {
                why.insert(bare.to_owned());
            }
        }
    }
    why
}

/// The identity a binding subject stands for, as the authorizer would see it with nothing else: a user with no
/// groups, a group's member with no other group, a ServiceAccount with its own groups.
fn identity(
    subject: &crate::objects::Subject,
    binding_namespace: Option<&str>,
) -> Option<UserInfo> {
    match subject.kind.as_str() {
        "User" => Some(UserInfo {
            name: subject.name.clone(),
            groups: Vec::new(),
        }),
        "Group" => Some(UserInfo {
            name: String::new(),
            groups: vec![subject.name.clone()],
        }),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .or(binding_namespace)?;
            Some(UserInfo::service_account(namespace, &subject.name))
        }
        _ => None,
    }
}

/// The powers subjects gain with `changes`: for each subject of a binding the plan creates or changes, or of a
/// binding to a role it creates or changes (a ClusterRole aggregated into another counts as a change of that one),
/// every [`Power`] the roles and bindings after the plan (`after`: desired, less conflicts) allow it, cluster-wide
/// or in a namespace one of its bindings names, and tollgate's live ones do not; and for each subject of a binding
/// to a session environment's Role whose pods reach their node, the session, unless it had it already. Sorted by
/// subject, then power.
///
/// Also returns what the changes mean for every subject of such a binding, and of a binding the plan deletes:
/// the requests it gains and loses ([`super::permissions`]).
pub fn second_looks(
    desired: &DesiredState,
    live: &LiveState,
    owned: &Owned<'_>,
    changes: &[Change],
) -> (Vec<SecondLook>, Vec<PermissionChange>) {
    let written: BTreeSet<&ObjectKey> = changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
        .map(|c| &c.object)
        .collect();
    let deleted: BTreeSet<&ObjectKey> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| &c.object)
        .collect();
    let concerns = |kind: ObjectKind| {
        kind.is_binding()
            || matches!(
                kind,
                ObjectKind::Role | ObjectKind::ClusterRole | ObjectKind::PodTemplate
            )
    };
    if !written.iter().chain(&deleted).any(|k| concerns(k.kind)) {
        return (Vec::new(), Vec::new());
    }
    let after = super::access::after(desired, live, owned);
    let before: Vec<(&ObjectKey, &Manifest)> = live
        .objects
        .iter()
        .filter(|(key, _)| owned.contains(key))
        .collect();

    // Roles the plan writes, with every aggregated ClusterRole that selects a written one.
    let mut changed_roles: BTreeSet<ObjectName> = written
        .iter()
        .filter(|k| matches!(k.kind, ObjectKind::Role | ObjectKind::ClusterRole))
        .map(|k| ObjectName {
            namespace: k.namespace.clone(),
            name: k.name.clone(),
        })
        .collect();
    let after_policy = policy(after.iter().copied());
    let aggregating: Vec<ClusterRole> = after
        .iter()
        .filter(|(k, _)| k.kind == ObjectKind::ClusterRole)
        .filter_map(|(_, m)| m.parse::<ClusterRole>())
        .filter(|r| r.aggregation_rule.is_some())
        .collect();
    for role in &aggregating {
        let name = ObjectName {
            namespace: None,
            name: role.metadata.name.clone().unwrap_or_default(),
        };
        if !changed_roles.contains(&name) && aggregates_a_change(role, &after, &changed_roles) {
            changed_roles.insert(name);
        }
    }

    // Why each environment's sessions reach their node, on each side (by the PodTemplate in the namespace).
    let template = |objects: &[(&ObjectKey, &Manifest)], namespace: &str, environment: &str| {
        let name = crate::compile::sessions::pod_template_name(environment);
        objects
            .iter()
            .find(|(k, _)| {
                k.kind == ObjectKind::PodTemplate
                    && k.namespace.as_deref() == Some(namespace)
                    && k.name == name
            })
            .and_then(|(_, m)| m.parse::<PodTemplate>())
            .map(|t| host_access(&t))
            .unwrap_or_default()
    };
    let before_policy = policy(before.iter().copied());
    let impersonation_role = |objects: &[(&ObjectKey, &Manifest)], name: &str| {
        objects
            .iter()
            .find(|(k, _)| k.kind == ObjectKind::ClusterRole && k.name == name)
            .and_then(|(_, m)| m.parse::<ClusterRole>())
            .and_then(|role| crate::who::acting_identity(&role))
    };

    // The identities to ask about: each subject as itself, and a client as the owner it may act as (before and
    // after the plan).
    let mut to_ask: BTreeMap<(SubjectName, Option<String>), (UserInfo, Option<UserInfo>)> =
        BTreeMap::new();
    let mut looks = BTreeSet::new();
    for (key, manifest, binding, role) in bindings(&after) {
        let binding_changed = written.contains(key) || changed_roles.contains(&role);
        let binding_name = ObjectName {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        };
        // A ClusterRole nobody here can read: its rules decide, and nobody reviewed them.
        let unknown = binding_changed
            && binding.role_ref.kind == "ClusterRole"
            && after_policy
                .cluster_role_rules(&binding.role_ref.name)
                .is_none();
        // A client's impersonation role: the identity it may act as, after and before.
        let acting = (binding_changed
            && binding.role_ref.kind == "ClusterRole"
            && binding.role_ref.name.starts_with(IMPERSONATION_ROLE_PREFIX))
        .then(|| {
            (
                impersonation_role(&after, &binding.role_ref.name),
                impersonation_role(&before, &binding.role_ref.name),
            )
        });
        // Per binding, not per subject: whether its environment reaches the node now, and did before.
        let session = key
            .namespace
            .as_deref()
            .zip(
                binding
                    .role_ref
                    .name
                    .strip_prefix(crate::compile::SESSION_ROLE_PREFIX),
            )
            .filter(|_| binding.role_ref.kind == "Role");
        let reaching = session.and_then(|(namespace, environment)| {
            let now = template(&after, namespace, environment);
            if now.is_empty() {
                return None;
            }
            let then = template(&before, namespace, environment);
            let before_binding = before
                .iter()
                .find(|(k, _)| **k == *key)
                .and_then(|(_, m)| m.binding())
                .filter(|b| b.role_ref == binding.role_ref);
            Some((namespace, environment, now, then, before_binding))
        });
        for subject in &binding.subjects {
            let Some(name) = subject_name(subject.clone(), &desired.clients_namespace) else {
                continue;
            };
            if unknown {
                looks.insert(SecondLook {
                    subject: name.clone(),
                    power: Power::UnknownRole,
                    namespace: key.namespace.clone(),
                    binding: binding_name.as_binding(),
                    role: role.as_role(),
                    detail: format!(
                        "ClusterRole {}: defined neither in the repository nor by Kubernetes",
                        binding.role_ref.name
                    ),
                    sources: sources(manifest),
                });
            }
            if binding_changed && let Some(info) = identity(subject, key.namespace.as_deref()) {
                to_ask
                    .entry((name.clone(), None))
                    .or_insert((info.clone(), Some(info)));
            }
            if let Some((Some(now), then)) = &acting {
                to_ask
                    .entry((name.clone(), Some(now.name.clone())))
                    .or_insert((now.clone(), then.clone()));
            }
            // A session that reaches its node: new to this subject, or reaching it in a new way.
            if let Some((namespace, environment, now, then, before_binding)) = &reaching {
                let had = before_binding
                    .as_ref()
                    .is_some_and(|b| b.subjects.contains(subject));
                let new: Vec<&String> = if had {
                    now.difference(then).collect()
                } else {
                    now.iter().collect()
                };
                if !new.is_empty() {
                    looks.insert(SecondLook {
                        subject: name.clone(),
                        power: Power::HostAccessSession,
                        namespace: Some((*namespace).to_owned()),
                        binding: binding_name.as_binding(),
                        role: role.as_role(),
                        detail: format!(
                            "environment {environment}: {}",
                            new.iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        sources: sources(manifest),
                    });
                }
            }
        }
    }
    // What the changes mean, request by request: the subjects asked about above, and those of the bindings that
    // change or go (they may lose everything).
    let mut compared: BTreeMap<(SubjectName, Option<String>), Sides> = to_ask
        .iter()
        .map(|(key, (after, before))| (key.clone(), (Some(after.clone()), before.clone())))
        .collect();
    for (key, _, binding, role) in bindings(&before) {
        if !(written.contains(key) || deleted.contains(key) || changed_roles.contains(&role)) {
            continue;
        }
        for subject in &binding.subjects {
            let (Some(name), Some(info)) = (
                subject_name(subject.clone(), &desired.clients_namespace),
                identity(subject, key.namespace.as_deref()),
            ) else {
                continue;
            };
            compared
                .entry((name, None))
                .or_insert((Some(info.clone()), Some(info)));
        }
    }
    let compared: Vec<Compared> = compared
        .into_iter()
        .map(|((subject, acting_as), (after, before))| Compared {
            own: own_identity(&subject, acting_as.as_deref(), &desired.clients_namespace),
            subject,
            acting_as,
            after,
            before,
        })
        .collect();
    let permissions = permission_changes(&after_policy, &before_policy, &compared);
    if to_ask.is_empty() {
        return (looks.into_iter().collect(), permissions);
    }
    let files: BTreeMap<ObjectName, Vec<String>> = after
        .iter()
        .filter(|(k, _)| k.kind.is_binding())
        .map(|(k, m)| {
            (
                ObjectName {
                    namespace: k.namespace.clone(),
                    name: k.name.clone(),
                },
                sources(m),
            )
        })
        .collect();
    // Every probe of every power, numbered; what each role allows is worked out once per role (its rules are one
    // slice of the policy, shared by all its bindings): a bit per probe for any object, one for some named ones.
    let probes: Vec<(Power, Request, bool)> = Power::RBAC
        .into_iter()
        .flat_map(|power| {
            power
                .probes()
                .into_iter()
                .map(move |(probe, namespaced)| (power, probe, namespaced))
        })
        .collect();
    let mut masks: BTreeMap<(usize, usize), Masks> = BTreeMap::new();
    let mut mask_of = |rules: &[k8s_openapi::api::rbac::v1::PolicyRule]| -> Masks {
        *masks
            .entry((rules.as_ptr() as usize, rules.len()))
            .or_insert_with(|| {
                let mut masks = Masks::default();
                for (bit, (_, probe, _)) in probes.iter().enumerate() {
                    if rules.iter().any(|r| crate::rbac::rule_allows(probe, r)) {
                        masks.any |= 1 << bit;
                    }
                    if rules
                        .iter()
                        .any(|r| crate::rbac::rule_allows_some_name(probe, r))
                    {
                        masks.some |= 1 << bit;
                    }
                }
                masks
            })
    };
    for ((subject, acting_as), (info, before_info)) in &to_ask {
        let after_held = Held::of(after_policy.held_by(info), &mut mask_of);
        let before_held = before_info
            .as_ref()
            .map(|i| Held::of(before_policy.held_by(i), &mut mask_of));
        // A client acting as its owner gains nothing it could already do as itself.
        let own = own_identity(subject, acting_as.as_deref(), &desired.clients_namespace);
        let own_before = own
            .as_ref()
            .map(|i| Held::of(before_policy.held_by(i), &mut mask_of));
        let before_level = |scope: Option<&String>, bit: usize| {
            let level = |held: &Option<Held<'_>>| {
                held.as_ref()
                    .map_or(Level::None, |held| held.level(scope, bit).0)
            };
            level(&before_held).max(level(&own_before))
        };
        // Cluster-wide, and every namespace where the identity holds a RoleBinding after the plan (for a client
        // acting as its owner, the owner's bindings).
        let held_namespaces: Vec<String> = after_held
            .by_namespace
            .keys()
            .map(|ns| (*ns).to_owned())
            .collect();
        let scopes: Vec<Option<&String>> = std::iter::once(None)
            .chain(held_namespaces.iter().map(Some))
            .collect();
        // A scope where the subject gains every verb on everything lists only that; a power the subject holds
        // cluster-wide for any object is not listed again in a namespace.
        let mut everything: BTreeSet<Option<&String>> = BTreeSet::new();
        let mut cluster_wide: BTreeSet<Power> = BTreeSet::new();
        for power in Power::RBAC {
            for scope in &scopes {
                if scope.is_some() && cluster_wide.contains(&power) {
                    continue;
                }
                if power != Power::Everything
                    && (everything.contains(scope) || everything.contains(&None))
                {
                    continue;
                }
                // Gained: a probe the roles after the plan allow more widely (any object over named ones, named
                // ones over none) than tollgate's live ones.
                // The widest gain of the power's probes: any object over named ones.
                let mut gained: Option<(&crate::rbac::HeldRef<'_>, String, Level)> = None;
                for (bit, (_, probe, namespaced)) in probes.iter().enumerate() {
                    if probes[bit].0 != power || (scope.is_some() && !namespaced) {
                        continue;
                    }
                    let (level, grant) = after_held.level(*scope, bit);
                    if scope.is_none() && level == Level::Any {
                        cluster_wide.insert(power);
                    }
                    let Some(grant) = grant else {
                        continue;
                    };
                    let wider = gained.as_ref().is_none_or(|(_, _, had)| level > *had);
                    if level > before_level(*scope, bit) && wider {
                        let mut detail = asked(probe);
                        if level == Level::Named {
                            detail.push_str(" (named objects)");
                        }
                        if let Some(owner) = acting_as {
                            detail.push_str(&format!(" acting as {owner}"));
                        }
                        gained = Some((grant, detail, level));
                        if level == Level::Any {
                            break;
                        }
                    }
                }
                let Some((grant, detail, _)) = gained else {
                    continue;
                };
                if power == Power::Everything {
                    everything.insert(*scope);
                }
                looks.insert(SecondLook {
                    subject: subject.clone(),
                    power,
                    namespace: scope.cloned(),
                    binding: grant.binding.as_binding(),
                    role: grant.role.as_role(),
                    detail,
                    sources: files.get(grant.binding).cloned().unwrap_or_default(),
                });
            }
        }
    }
    (looks.into_iter().collect(), permissions)
}

/// The bindings among `objects`, each with the role it refers to: a Role in the binding's namespace, or a
/// ClusterRole.
fn bindings<'o>(
    objects: &'o [(&'o ObjectKey, &'o Manifest)],
) -> impl Iterator<
    Item = (
        &'o ObjectKey,
        &'o Manifest,
        crate::objects::Binding,
        ObjectName,
    ),
> + 'o {
    objects
        .iter()
        .filter(|(key, _)| key.kind.is_binding())
        .filter_map(|(key, manifest)| {
            let binding = manifest.binding()?;
            let role = ObjectName {
                namespace: (binding.role_ref.kind == "Role")
                    .then(|| key.namespace.clone())
                    .flatten(),
                name: binding.role_ref.name.clone(),
            };
            Some((*key, *manifest, binding, role))
        })
}

/// A client's own identity (its ServiceAccount), for an answer about it acting as its owner; `None` otherwise.
fn own_identity(
    subject: &SubjectName,
    acting_as: Option<&str>,
    clients_namespace: &str,
) -> Option<UserInfo> {
    (subject.kind == "client" && acting_as.is_some())
        .then(|| UserInfo::service_account(clients_namespace, &subject.name))
}

/// A subject's identity after and before the plan.
type Sides = (Option<UserInfo>, Option<UserInfo>);

/// What one role allows of each probe (a bit each): `any`, for every object; `some`, for at least some named ones.
#[derive(Debug, Clone, Copy, Default)]
struct Masks {
    any: u64,
    some: u64,
}

/// How widely a subject holds a probe: not, for named objects only (`resourceNames`), or for any object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Named,
    Any,
}

/// One identity's bindings on one side of the plan, each with what its role allows: cluster-wide ones, then each
/// namespace's, in Kubernetes' visiting order.
struct Held<'p> {
    cluster_wide: Vec<(crate::rbac::HeldRef<'p>, Masks)>,
    by_namespace: BTreeMap<&'p str, Vec<(crate::rbac::HeldRef<'p>, Masks)>>,
}

impl<'p> Held<'p> {
    fn of(
        held: impl Iterator<Item = crate::rbac::HeldRef<'p>>,
        mask_of: &mut impl FnMut(&[k8s_openapi::api::rbac::v1::PolicyRule]) -> Masks,
    ) -> Held<'p> {
        let mut out = Held {
            cluster_wide: Vec::new(),
            by_namespace: BTreeMap::new(),
        };
        for h in held {
            let masks = mask_of(h.rules);
            match h.namespace {
                None => out.cluster_wide.push((h, masks)),
                Some(namespace) => out
                    .by_namespace
                    .entry(namespace)
                    .or_default()
                    .push((h, masks)),
            }
        }
        out
    }

    /// How widely probe `bit` is held where `scope` says (cluster-wide: only ClusterRoleBindings count), and the
    /// first binding that holds it that widely.
    fn level(
        &self,
        scope: Option<&String>,
        bit: usize,
    ) -> (Level, Option<&crate::rbac::HeldRef<'p>>) {
        let namespaced = scope
            .and_then(|ns| self.by_namespace.get(ns.as_str()))
            .into_iter()
            .flatten();
        let all: Vec<&(crate::rbac::HeldRef<'p>, Masks)> =
            self.cluster_wide.iter().chain(namespaced).collect();
        if let Some((h, _)) = all.iter().find(|(_, m)| m.any & (1 << bit) != 0) {
            return (Level::Any, Some(h));
        }
        if let Some((h, _)) = all.iter().find(|(_, m)| m.some & (1 << bit) != 0) {
            return (Level::Named, Some(h));
        }
        (Level::None, None)
    }
}

/// A probe as `kubectl auth can-i` writes it (`create pods/exec`), every verb on everything in words.
fn asked(probe: &Request) -> String {
    match probe {
        Request::Resource { verb, .. } if verb == "*" => {
            "every verb on every resource (*.*)".to_owned()
        }
        other => other.kubectl_words(),
    }
}

/// The repository files a binding comes from (its source annotation).
fn sources(manifest: &Manifest) -> Vec<String> {
    manifest
        .metadata()
        .annotations
        .get(SOURCE_ANNOTATION)
        .map(|s| s.split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Whether an aggregated ClusterRole selects one of the `changed` ClusterRoles (by the labels it has after the plan).
fn aggregates_a_change(
    role: &ClusterRole,
    after: &[(&ObjectKey, &Manifest)],
    changed: &BTreeSet<ObjectName>,
) -> bool {
    let Some(rule) = &role.aggregation_rule else {
        return false;
    };
    after
        .iter()
        .filter(|(k, _)| k.kind == ObjectKind::ClusterRole)
        .filter(|(k, _)| {
            changed.contains(&ObjectName {
                namespace: None,
                name: k.name.clone(),
            })
        })
        .filter_map(|(_, m)| m.parse::<ClusterRole>())
        .any(|other| {
            rule.cluster_role_selectors
                .iter()
                .flatten()
                .any(|s| crate::rbac::selector_matches(s, other.metadata.labels.as_ref()))
        })
}

/// Second looks that share subject, place, binding and role: one line of a rendered plan.
#[derive(Debug)]
pub struct Line<'p> {
    /// Who gains.
    pub subject: &'p SubjectName,
    /// Where: a namespace, or `None` for the whole cluster.
    pub namespace: Option<&'p str>,
    /// Each power: the request now allowed (`create pods/exec`), or the session and why it counts.
    pub powers: Vec<String>,
    /// The binding that gives them.
    pub binding: &'p str,
    /// The role it refers to.
    pub role: &'p str,
    /// The repository files of the binding.
    pub sources: &'p [String],
}

/// `looks` (sorted as [`second_looks`] returns them) as lines: by subject, then place and binding.
pub fn lines(looks: &[SecondLook]) -> Vec<Line<'_>> {
    let mut grouped: BTreeMap<(&SubjectName, Option<&str>, &str, &str), Line<'_>> = BTreeMap::new();
    for look in looks {
        let key = (
            &look.subject,
            look.namespace.as_deref(),
            look.binding.as_str(),
            look.role.as_str(),
        );
        let line = grouped.entry(key).or_insert_with(|| Line {
            subject: &look.subject,
            namespace: look.namespace.as_deref(),
            powers: Vec::new(),
            binding: &look.binding,
            role: &look.role,
            sources: &look.sources,
        });
        line.powers.push(match look.power {
            Power::HostAccessSession => format!("{} ({})", look.power.describe(), look.detail),
            _ => look.detail.clone(),
        });
    }
    grouped.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileContext, compile};
    use crate::objects::LivePeers;

    fn prod() -> DesiredState {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo");
        let files = crate::files::read_config_files(&root).expect("example-repo reads");
        let now = "2026-12-01T00:00:00Z".parse().expect("a timestamp");
        let checked = crate::pipeline::check(&crate::config::load(files), now).expect("valid");
        compile(
            &checked.model,
            &CompileContext {
                cluster: "prod",
                now,
                revision: None,
            },
        )
        .expect("compiles")
    }

    fn looks(desired: &DesiredState, live: &LiveState) -> Vec<(String, Power, Option<String>)> {
        crate::plan::plan(desired, live, crate::plan::Against::Empty)
            .second_look
            .into_iter()
            .map(|l| (l.subject.name, l.power, l.namespace))
            .collect()
    }

    #[test]
    fn a_power_is_flagged_only_where_it_is_new() {
        let desired = prod();
        let exec = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:exec");
        assert!(
            desired.objects.contains_key(&exec),
            "access/incident.yaml binds exec in payments"
        );
        let mut live = LiveState {
            objects: desired.objects.clone(),
            peers: LivePeers::NotRead,
        };
        assert_eq!(looks(&desired, &live), [], "nothing is written");
        // The exec binding not applied yet: bob-laptop gains exec in payments, nothing else.
        live.objects.remove(&exec);
        assert_eq!(
            looks(&desired, &live),
            [(
                "bob-laptop".to_owned(),
                Power::Exec,
                Some("payments".to_owned())
            )]
        );
        // ...unless tollgate's live bindings let it exec everywhere already (a binding the plan prunes).
        let mut everywhere = desired.objects[&exec].clone();
        everywhere.edit(|m| {
            m["kind"] = "ClusterRoleBinding".into();
            m["metadata"]["name"] = "tollgate:exec-everywhere".into();
            m["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("namespace");
        });
        live.objects.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, "tollgate:exec-everywhere"),
            everywhere,
        );
        assert_eq!(looks(&desired, &live), []);
    }

    /// A role that reads some secrets by name and lists all of them gives every secret: the widest gain is shown.
    #[test]
    fn the_widest_gain_of_a_power_is_shown() {
        let mut desired = prod();
        let exec = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:exec");
        let role = ObjectKey::cluster_scoped(ObjectKind::ClusterRole, "tollgate:exec");
        let mut live = LiveState {
            objects: desired.objects.clone(),
            peers: LivePeers::NotRead,
        };
        live.objects.remove(&exec);
        desired
            .objects
            .get_mut(&role)
            .expect("tollgate:exec is compiled")
            .edit(|m| {
                m["rules"] = serde_json::json!([
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["a"]},
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}
                ]);
            });
        let plan = crate::plan::plan(&desired, &live, crate::plan::Against::Empty);
        let secrets: Vec<&SecondLook> = plan
            .second_look
            .iter()
            .filter(|l| l.power == Power::ReadSecrets && l.subject.name == "bob-laptop")
            .collect();
        assert_eq!(secrets.len(), 1, "{:?}", plan.second_look);
        assert!(
            !secrets[0].detail.contains("named objects"),
            "{:?}",
            secrets[0]
        );
    }

    #[test]
    fn every_probe_has_its_bit() {
        let probes: usize = Power::RBAC.iter().map(|p| p.probes().len()).sum();
        assert!(probes <= 64, "{probes} probes do not fit the u64 masks");
    }

    #[test]
    fn a_session_counts_when_its_pods_reach_the_node() {
        let mut template = PodTemplate::default();
        assert!(host_access(&template).is_empty());
        template.template = Some(
            serde_json::from_value(serde_json::json!({
                "spec": {
                    "hostPID": true,
                    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                    "containers": [{
                        "name": "session",
                        "securityContext": {"capabilities": {"add": ["cap_sys_admin", "CHOWN"]}}
                    }]
                }
            }))
            .expect("a pod template spec"),
        );
        assert_eq!(
            host_access(&template),
            BTreeSet::from(["hostPID", "hostPath", "SYS_ADMIN"].map(str::to_owned))
        );
    }
}
