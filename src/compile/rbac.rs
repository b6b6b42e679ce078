//! RBAC: tollgate's own ClusterRoles, custom roles, and one binding per (scope, role) holding all its subjects.
//!
//! The RBAC authorizer scans every ClusterRoleBinding and every RoleBinding of a namespace on each request, so
//! fewer, fatter bindings keep the cluster fast; that is why grants are merged rather than bound one by one.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::subjects::{RbacSubject, SubjectResolver};
use super::{ObjectSink, labelled};
use crate::objects::{ObjectKey, ObjectKind};
use crate::validate::model::{
    self, AccessModel, BuiltinRole, GrantTarget, Origin, RoleDefinition, RoleRef as ModelRoleRef,
};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn rule(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let owned = |list: &[&str]| Some(list.iter().map(|s| (*s).to_owned()).collect());
    PolicyRule {
        api_groups: owned(api_groups),
        resources: owned(resources),
        verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// The rules of tollgate's own built-in roles. `get` on the subresources is there because kubectl's WebSocket
/// transport opens exec and port-forward streams with GET.
pub(super) fn builtin_rules(role: BuiltinRole) -> Vec<PolicyRule> {
    let read_pods = rule(&[""], &["pods"], &["get", "list", "watch"]);
    match role {
        BuiltinRole::Logs => vec![
            read_pods,
            rule(&[""], &["pods/log"], &["get", "list", "watch"]),
        ],
        BuiltinRole::Exec => vec![read_pods, rule(&[""], &["pods/exec"], &["create", "get"])],
        BuiltinRole::PortForward => vec![
            read_pods,
            rule(&[""], &["pods/portforward"], &["create", "get"]),
        ],
        BuiltinRole::ClusterAdmin | BuiltinRole::Admin | BuiltinRole::Edit | BuiltinRole::View => {
            Vec::new()
        }
    }
}

/// The ClusterRole a grant's role binds.
fn cluster_role_name(model: &AccessModel, role: &ModelRoleRef) -> String {
    match role {
        ModelRoleRef::Builtin(builtin) if builtin.is_managed() => {
            format!("tollgate:{}", builtin.name())
        }
        ModelRoleRef::Builtin(builtin) => builtin.name().to_owned(),
        ModelRoleRef::Custom(name) => match &model.roles[name].definition {
            RoleDefinition::Rules(_) => format!("tollgate:{name}"),
            RoleDefinition::ClusterRole(existing) => existing.clone(),
        },
    }
}

pub(super) fn compile_roles(model: &AccessModel, out: &mut ObjectSink) {
    let settings_origin = &model.settings.origin;
    for builtin in BuiltinRole::ALL.into_iter().filter(|r| r.is_managed()) {
        let name = format!("tollgate:{}", builtin.name());
        let role = ClusterRole {
            metadata: out.metadata(&name, None, [settings_origin]),
            rules: Some(builtin_rules(builtin)),
            ..ClusterRole::default()
        };
        out.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRole, &name),
            role,
        );
    }
    for role in model.roles.values() {
        let RoleDefinition::Rules(rules) = &role.definition else {
            continue;
        };
        let name = format!("tollgate:{}", role.name);
        let cluster_role = ClusterRole {
            metadata: out.metadata(&name, None, [&role.origin]),
            rules: Some(rules.iter().map(policy_rule).collect()),
            ..ClusterRole::default()
        };
        out.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRole, &name),
            cluster_role,
        );
    }
}

fn policy_rule(rule: &model::PolicyRule) -> PolicyRule {
    let list = |items: &Vec<String>| (!items.is_empty()).then(|| items.clone());
    PolicyRule {
        api_groups: list(&rule.api_groups),
        resources: list(&rule.resources),
        resource_names: list(&rule.resource_names),
        non_resource_urls: list(&rule.non_resource_urls),
        verbs: rule.verbs.clone(),
    }
}

/// A binding being assembled from every grant of the same scope and role.
#[derive(Default)]
struct PendingBinding<'m> {
    subjects: BTreeSet<RbacSubject>,
    origins: BTreeSet<&'m Origin>,
}

/// (namespace or cluster-wide, binding name, roleRef kind, roleRef name)
type BindingKey = (Option<String>, String, &'static str, String);

/// The bindings a grant lands in, as (namespace, or `None` for a ClusterRoleBinding; binding name): for a role,
/// `tollgate:<role>` in each namespace it names (or cluster-wide); for an environment, its session Role's binding
/// in the environment's namespace. Bindings are merged per (scope, role), so several grants may share one.
pub fn grant_bindings(model: &AccessModel, grant: &model::Grant) -> Vec<(Option<String>, String)> {
    match &grant.target {
        GrantTarget::Role(role) => {
            let name = format!("tollgate:{}", role.name());
            match &grant.namespaces {
                None => vec![(None, name)],
                Some(namespaces) => namespaces
                    .iter()
                    .map(|namespace| (Some(namespace.clone()), name.clone()))
                    .collect(),
            }
        }
        GrantTarget::Environment(environment) => {
            let environment = &model.environments[environment];
            vec![(
                Some(environment.namespace.clone()),
                session_role_name(&environment.name),
            )]
        }
    }
}

pub(super) fn compile_bindings(
    model: &AccessModel,
    resolver: &mut SubjectResolver,
    out: &mut ObjectSink,
) {
    let ctx = out.ctx;
    let mut bindings: BTreeMap<BindingKey, PendingBinding> = BTreeMap::new();
    for grant in &model.grants {
        if grant.cluster != ctx.cluster || !grant.is_active(ctx.now) {
            continue;
        }
        let subjects = resolver.resolve(grant);
        if subjects.is_empty() {
            continue;
        }
        let mut add = |key: BindingKey| {
            let binding = bindings.entry(key).or_default();
            binding.subjects.extend(subjects.iter().cloned());
            binding.origins.insert(&grant.origin);
        };
        match &grant.target {
            GrantTarget::Role(role) => {
                let role_ref = cluster_role_name(model, role);
                for (namespace, name) in grant_bindings(model, grant) {
                    add((namespace, name, "ClusterRole", role_ref.clone()));
                }
            }
            GrantTarget::Environment(_) => {
                for (namespace, name) in grant_bindings(model, grant) {
                    add((namespace, name.clone(), "Role", name));
                }
            }
        }
    }
    for ((namespace, name, role_kind, role_name), binding) in bindings {
        let metadata = out.metadata(&name, namespace.as_deref(), binding.origins.iter().copied());
        let role_ref = RoleRef {
            api_group: RBAC_GROUP.to_owned(),
            kind: role_kind.to_owned(),
            name: role_name,
        };
        let subjects = Some(binding.subjects.iter().map(RbacSubject::to_k8s).collect());
        match namespace {
            None => {
                let key = ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, &name);
                out.insert(
                    key,
                    ClusterRoleBinding {
                        metadata,
                        role_ref,
                        subjects,
                    },
                );
            }
            Some(namespace) => {
                let key = ObjectKey::namespaced(ObjectKind::RoleBinding, namespace, &name);
                out.insert(
                    key,
                    RoleBinding {
                        metadata,
                        role_ref,
                        subjects,
                    },
                );
            }
        }
    }
}

/// The ClusterRole and ClusterRoleBinding that let a client act as its owner (see
/// [`SubjectResolver::impersonation`]): verb `impersonate` on exactly the owner's `users` name and `groups` names,
/// bound to the client's ServiceAccount. Named after the client: usernames need not be valid object names.
pub(super) fn compile_impersonation(
    model: &AccessModel,
    resolver: &SubjectResolver,
    out: &mut ObjectSink,
) {
    for client in model.clients.values() {
        let Some(identity) = resolver.impersonation(client) else {
            continue;
        };
        let name = impersonation_role_name(&client.name);
        let impersonate = |resource: &str, names: Vec<String>| PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec![resource.to_owned()]),
            resource_names: Some(names),
            verbs: vec!["impersonate".to_owned()],
            ..PolicyRule::default()
        };
        let mut rules = vec![impersonate("users", vec![identity.user])];
        if !identity.groups.is_empty() {
            rules.push(impersonate("groups", identity.groups));
        }
        out.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRole, &name),
            ClusterRole {
                metadata: out.metadata(&name, None, [&client.origin]),
                rules: Some(rules),
                ..ClusterRole::default()
            },
        );
        out.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, &name),
            ClusterRoleBinding {
                metadata: out.metadata(&name, None, [&client.origin]),
                role_ref: RoleRef {
                    api_group: RBAC_GROUP.to_owned(),
                    kind: "ClusterRole".to_owned(),
                    name: name.clone(),
                },
                subjects: Some(vec![resolver.client_subject(&client.name).to_k8s()]),
            },
        );
    }
}

/// The ClusterRole (and its binding) that lets a client impersonate its owner.
fn impersonation_role_name(client: &str) -> String {
    format!("{IMPERSONATION_ROLE_PREFIX}{client}")
}

/// How the names of impersonation ClusterRoles start; no other role's name can (role names have no `:`).
pub const IMPERSONATION_ROLE_PREFIX: &str = "tollgate:impersonate:";

/// The name of an environment's session Role is this and the environment's name.
pub const SESSION_ROLE_PREFIX: &str = "tollgate:session:";

/// The Role of an environment's sessions, in the environment's namespace; its bindings come from grants.
fn session_role_name(environment: &str) -> String {
    format!("{SESSION_ROLE_PREFIX}{environment}")
}

/// The API group and resource of the `use` permission on an environment that the session gateway asks the RBAC
/// authorizer about; no such resource is served: RBAC decides on names alone, as for `podsecuritypolicies/use`.
pub const ENVIRONMENTS_GROUP: &str = "tollgate.dev";
/// See [`ENVIRONMENTS_GROUP`].
pub const ENVIRONMENTS_RESOURCE: &str = "environments";
/// The verb of a login to an environment.
pub const USE_VERB: &str = "use";

/// The session gateway's ServiceAccount, in the controller's namespace (`deploy/session-gateway.yaml`).
pub const SESSION_GATEWAY_ACCOUNT: &str = "tollgate-session-gateway";
/// The Role (and RoleBinding) in each environment namespace that lets the session gateway run sessions there. Not
/// `tollgate:...` like the bindings of grants, so that the deletion guard tells it from anyone's access.
pub const SESSION_GATEWAY_ROLE: &str = "tollgate-session-gateway";

/// For each environment of the cluster: the Role whose bindings (from grants) let people log in to it, which holds
/// only `use` on `environments.tollgate.dev/<name>` (people never touch the pods themselves: the gateway does, and
/// a Role on pods would let one session user exec into another's pod), and in its namespace the session gateway's
/// Role and binding: pods and their streams, Events, the PodTemplate, and nothing outside environment namespaces.
pub(super) fn compile_session_roles(model: &AccessModel, out: &mut ObjectSink) {
    let ctx = out.ctx;
    for environment in model.environments_in(ctx.cluster) {
        let namespace = environment.namespace.as_str();
        let role_name = session_role_name(&environment.name);
        let role = Role {
            metadata: labelled(
                out.metadata(&role_name, Some(namespace), [&environment.origin]),
                environment,
            ),
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec![ENVIRONMENTS_GROUP.to_owned()]),
                resources: Some(vec![ENVIRONMENTS_RESOURCE.to_owned()]),
                resource_names: Some(vec![environment.name.clone()]),
                verbs: vec![USE_VERB.to_owned()],
                ..PolicyRule::default()
            }]),
        };
        out.insert(
            ObjectKey::namespaced(ObjectKind::Role, namespace, &role_name),
            role,
        );
        let gateway = Role {
            metadata: out.metadata(SESSION_GATEWAY_ROLE, Some(namespace), [&environment.origin]),
            rules: Some(session_gateway_rules()),
        };
        out.insert(
            ObjectKey::namespaced(ObjectKind::Role, namespace, SESSION_GATEWAY_ROLE),
            gateway,
        );
        let binding = RoleBinding {
            metadata: out.metadata(SESSION_GATEWAY_ROLE, Some(namespace), [&environment.origin]),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "Role".to_owned(),
                name: SESSION_GATEWAY_ROLE.to_owned(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_owned(),
                name: SESSION_GATEWAY_ACCOUNT.to_owned(),
                namespace: Some(model.settings.controller_namespace.clone()),
                ..Subject::default()
            }]),
        };
        out.insert(
            ObjectKey::namespaced(ObjectKind::RoleBinding, namespace, SESSION_GATEWAY_ROLE),
            binding,
        );
    }
}

/// What the session gateway may do in an environment namespace: start, watch and delete session pods, open their
/// exec and attach streams (`get` too: WebSocket transports open them with GET), read the template and report
/// Events.
fn session_gateway_rules() -> Vec<PolicyRule> {
    vec![
        rule(
            &[""],
            &["pods"],
            &["create", "get", "list", "watch", "delete"],
        ),
        rule(&[""], &["pods/exec", "pods/attach"], &["create", "get"]),
        rule(&[""], &["podtemplates"], &["get"]),
        rule(&[""], &["events"], &["create"]),
    ]
}
