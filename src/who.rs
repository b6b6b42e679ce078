//! Who can make a request in one cluster, by the repository: every person and client whose identity the compiled
//! roles and bindings allow it, with the binding, the role and the repository files behind the binding. The
//! answer comes from [`crate::rbac`], Kubernetes' own RBAC semantics, not from tollgate's reading of its grants.
//! Pure: the compiled state, the model and the roles the repository does not define (Kubernetes' `admin`, `edit`,
//! `view`, ... read from a cluster or a file) are passed in.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;

use crate::compile::IMPERSONATION_ROLE_PREFIX;
use crate::objects::{DesiredState, ObjectKind, SOURCE_ANNOTATION};
use crate::rbac::{ObjectName, Policy, Request, UserInfo};
use crate::validate::model::AccessModel;

/// The group every authenticated user is in (`user.AllAuthenticated`); the API server adds it to every identity,
/// also to an impersonated user.
const AUTHENTICATED: &str = "system:authenticated";

/// Who an answer is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Who {
    /// A person, by `User` document name, logged in as themselves.
    User {
        /// The `User` document's name.
        name: String,
        /// The user is disabled or expired: tollgate binds nothing to their name any more, but a grant to a group
        /// they are in still reaches them as long as the identity provider reports them in it.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        inactive: bool,
    },
    /// A client, by `Client` document name: as its ServiceAccount, or acting as its owner (impersonation).
    Client {
        /// The `Client` document's name.
        name: String,
        /// The owner's RBAC username when the client is allowed only by acting as them.
        #[serde(rename = "actingAs", skip_serializing_if = "Option::is_none")]
        acting_as: Option<String>,
    },
}

/// What the cluster holds besides the repository's objects, as far as it was read: Kubernetes' own roles (`admin`,
/// `edit`, `view`, ...) and, read from a cluster, every binding that is not this instance's (the defaults that give
/// `system:authenticated` discovery, hand-made ones).
#[derive(Debug, Clone, Default)]
pub struct Others {
    /// ClusterRoles; the repository's own win on a name both have.
    pub cluster_roles: Vec<ClusterRole>,
    /// Roles.
    pub roles: Vec<Role>,
    /// ClusterRoleBindings that are not this instance's.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// RoleBindings that are not this instance's.
    pub role_bindings: Vec<RoleBinding>,
    /// Whether the bindings were read (from a cluster); if not, only the repository's bindings answer.
    pub bindings_read: bool,
}

/// One person or client who can, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// Who.
    pub who: Who,
    /// The identity the API server sees (the username; a client's ServiceAccount, or the owner it acts as).
    pub username: String,
    /// The binding that allows it (the first in Kubernetes' order).
    pub binding: ObjectName,
    /// The role that binding refers to.
    pub role: ObjectName,
    /// The repository files the binding comes from (its `tollgate.dev/source` annotation); empty for a binding
    /// the repository does not hold.
    pub sources: Vec<String>,
    /// The binding is the cluster's, not the repository's (a default binding, or one made by hand).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside_repository: bool,
}

/// Everyone who can, and what the answer could not see.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoCan {
    /// The question as asked of the authorizer.
    pub request: Request,
    /// Whether bindings outside the repository (read from the cluster) were part of the answer.
    pub cluster_bindings_included: bool,
    /// People first, then clients; each by name.
    pub answers: Vec<Answer>,
    /// ClusterRoles the repository's bindings refer to that neither it nor the given roles define: what they
    /// grant is unknown, so the answer may miss people (pass the cluster's roles).
    pub unknown_roles: BTreeSet<String>,
}

/// Who can make `request` in `desired`'s cluster at `now` (with `others`, what the cluster holds besides): the repository's users (their RBAC username and the
/// RBAC names of the groups they are in directly, as an identity provider reports them, plus
/// `system:authenticated`; disabled and expired users too, marked, as grants to their groups still reach them) and its clients
/// in this cluster (their ServiceAccount with its groups; and, for a client that may impersonate its owner, that
/// owner's identity), each checked against the roles and bindings of `desired` and `others`.
pub fn who_can(
    model: &AccessModel,
    desired: &DesiredState,
    others: Others,
    request: &Request,
    now: Timestamp,
) -> WhoCan {
    let cluster_bindings_included = others.bindings_read;
    let (policy, unknown_roles, sources) = policy_of(desired, others);
    let mut answers = Vec::new();
    for (who, identity) in identities(model, desired, now) {
        if let Some(grant) = policy.allows(&identity, request) {
            let from_repository = sources.get(&grant.binding);
            answers.push(Answer {
                who,
                username: identity.name,
                outside_repository: from_repository.is_none(),
                sources: from_repository.cloned().unwrap_or_default(),
                binding: grant.binding,
                role: grant.role,
            });
        }
    }
    // A client allowed as itself is not listed again as acting as its owner.
    let direct: BTreeSet<String> = answers
        .iter()
        .filter_map(|a| match &a.who {
            Who::Client {
                name,
                acting_as: None,
            } => Some(name.clone()),
            _ => None,
        })
        .collect();
    answers.retain(|a| match &a.who {
        Who::Client {
            name,
            acting_as: Some(_),
        } => !direct.contains(name),
        _ => true,
    });
    WhoCan {
        request: request.clone(),
        cluster_bindings_included,
        answers,
        unknown_roles,
    }
}

/// The RBAC policy of `desired` with `others` (the repository's objects win on a name both have); the
/// ClusterRoles the bindings name that neither holds; each repository binding's source files.
fn policy_of(
    desired: &DesiredState,
    others: Others,
) -> (Policy, BTreeSet<String>, BTreeMap<ObjectName, Vec<String>>) {
    let mut cluster_roles: BTreeMap<String, ClusterRole> = others
        .cluster_roles
        .into_iter()
        .filter_map(|r| Some((r.metadata.name.clone()?, r)))
        .collect();
    let (mut roles, mut cluster_bindings, mut bindings) = (
        others.roles,
        others.cluster_role_bindings,
        others.role_bindings,
    );
    let mut sources = BTreeMap::new();
    for (key, manifest) in &desired.objects {
        match key.kind {
            ObjectKind::ClusterRole => {
                if let Some(role) = parse::<ClusterRole>(manifest.json()) {
                    cluster_roles.insert(key.name.clone(), role);
                }
            }
            ObjectKind::Role => roles.extend(parse::<Role>(manifest.json())),
            ObjectKind::ClusterRoleBinding | ObjectKind::RoleBinding => {
                let files: Vec<String> = manifest
                    .metadata()
                    .annotations
                    .get(SOURCE_ANNOTATION)
                    .map(|s| s.split(", ").map(str::to_owned).collect())
                    .unwrap_or_default();
                sources.insert(
                    ObjectName {
                        namespace: key.namespace.clone(),
                        name: key.name.clone(),
                    },
                    files,
                );
                if key.kind == ObjectKind::ClusterRoleBinding {
                    cluster_bindings.extend(parse::<ClusterRoleBinding>(manifest.json()));
                } else {
                    bindings.extend(parse::<RoleBinding>(manifest.json()));
                }
            }
            _ => {}
        }
    }
    let referenced = cluster_bindings
        .iter()
        .map(|b| &b.role_ref)
        .chain(bindings.iter().map(|b| &b.role_ref))
        .filter(|r| r.kind == "ClusterRole")
        .map(|r| r.name.clone());
    let unknown = referenced
        .filter(|name| !cluster_roles.contains_key(name))
        .collect();
    let policy = Policy::new(
        cluster_roles.into_values(),
        roles,
        cluster_bindings,
        bindings,
    );
    (policy, unknown, sources)
}

/// A compiled manifest as its k8s-openapi type; compile wrote it from that type, so it always parses.
fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Option<T> {
    serde_json::from_str(json).ok()
}

/// Every identity of the repository in this cluster: active users as themselves; clients with a ServiceAccount
/// here as it, and as the owner they may impersonate.
fn identities(model: &AccessModel, desired: &DesiredState, now: Timestamp) -> Vec<(Who, UserInfo)> {
    let prefixes = &model.settings.subject_prefixes;
    // The groups each user is in directly: an identity provider reports only those, which is why compile names
    // every nested group in a grant to a group (`compile::subjects`).
    let mut groups_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for group in model.groups.values() {
        for member in &group.members {
            groups_of
                .entry(member.as_str())
                .or_default()
                .insert(prefixes.group_subject(group));
        }
    }
    let mut out = Vec::new();
    // Inactive users too: their own name is bound to nothing, but their groups may be.
    for user in model.users.values() {
        let mut groups: Vec<String> = groups_of
            .get(user.name.as_str())
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        groups.push(AUTHENTICATED.to_owned());
        out.push((
            Who::User {
                name: user.name.clone(),
                inactive: !user.is_active(now),
            },
            UserInfo {
                name: prefixes.user_subject(user),
                groups,
            },
        ));
    }
    for client in model.clients.values() {
        let account = crate::objects::ObjectKey::namespaced(
            ObjectKind::ServiceAccount,
            &desired.clients_namespace,
            &client.name,
        );
        if !desired.objects.contains_key(&account) {
            continue;
        }
        out.push((
            Who::Client {
                name: client.name.clone(),
                acting_as: None,
            },
            UserInfo::service_account(&desired.clients_namespace, &client.name),
        ));
        if let Some(owner) = impersonated(desired, &client.name) {
            out.push((
                Who::Client {
                    name: client.name.clone(),
                    acting_as: Some(owner.name.clone()),
                },
                owner,
            ));
        }
    }
    out
}

/// The identity a client may act as: the `users` and `groups` its impersonation ClusterRole names (compile writes
/// one user and that user's groups), with `system:authenticated`, which the API server adds to an impersonated user.
fn impersonated(desired: &DesiredState, client: &str) -> Option<UserInfo> {
    let key = crate::objects::ObjectKey::cluster_scoped(
        ObjectKind::ClusterRole,
        format!("{IMPERSONATION_ROLE_PREFIX}{client}"),
    );
    let role: ClusterRole = serde_json::from_str(desired.objects.get(&key)?.json()).ok()?;
    let names = |resource: &str| -> Vec<String> {
        role.rules
            .iter()
            .flatten()
            .filter(|r| {
                r.verbs.iter().any(|v| v == "impersonate")
                    && r.resources.iter().flatten().any(|x| x == resource)
            })
            .flat_map(|r| r.resource_names.clone().unwrap_or_default())
            .collect()
    };
    let user = names("users").into_iter().next()?;
    let mut groups = names("groups");
    groups.push(AUTHENTICATED.to_owned());
    Some(UserInfo { name: user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileContext, compile};

    fn example(cluster: &str) -> (AccessModel, DesiredState, Timestamp) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo");
        let files = crate::files::read_config_files(&root).expect("example-repo reads");
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().expect("a timestamp");
        let checked = crate::pipeline::check(&crate::config::load(files), now).expect("valid");
        let desired = compile(
            &checked.model,
            &CompileContext {
                cluster,
                now,
                revision: None,
            },
        )
        .expect("compiles");
        (checked.model, desired, now)
    }

    fn create(resource: &str, subresource: &str, namespace: &str) -> Request {
        Request::Resource {
            verb: "create".to_owned(),
            api_group: String::new(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: String::new(),
            namespace: namespace.to_owned(),
        }
    }

    #[test]
    fn exec_in_payments_is_for_who_the_repository_grants_it() {
        let (model, desired, now) = example("prod");
        // access/incident.yaml: bob may exec in payments on prod, through his client (prod has no impersonation).
        let answer = who_can(
            &model,
            &desired,
            Others::default(),
            &create("pods", "exec", "payments"),
            now,
        );
        let who: Vec<&Who> = answer.answers.iter().map(|a| &a.who).collect();
        assert_eq!(
            who,
            [&Who::Client {
                name: "bob-laptop".to_owned(),
                acting_as: None
            }]
        );
        let only = &answer.answers[0];
        assert_eq!(only.sources, ["access/incident.yaml"]);
        assert_eq!(only.role.name, "tollgate:exec");
        assert_eq!(
            only.username,
            "system:serviceaccount:tollgate-clients:bob-laptop"
        );
        // Without Kubernetes' own roles, the bindings to them are named as unknown.
        assert!(
            answer.unknown_roles.contains("view"),
            "{:?}",
            answer.unknown_roles
        );
        // Nobody can exec in a namespace no grant names.
        let elsewhere = who_can(
            &model,
            &desired,
            Others::default(),
            &create("pods", "exec", "kube-system"),
            now,
        );
        assert!(elsewhere.answers.is_empty(), "{:?}", elsewhere.answers);
    }

    #[test]
    fn a_disabled_user_is_listed_when_a_grant_to_their_group_still_reaches_them() {
        let (mut model, _, now) = example("prod");
        // access/platform.yaml: the platform group (alice, heidi) reads all of prod as themselves (Group subject).
        model.users.get_mut("alice").expect("alice").disabled = true;
        let desired = compile(
            &model,
            &CompileContext {
                cluster: "prod",
                now,
                revision: None,
            },
        )
        .expect("compiles");
        let view = ClusterRole {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("view".to_owned()),
                ..Default::default()
            },
            rules: Some(vec![k8s_openapi::api::rbac::v1::PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".to_owned()]),
                verbs: vec!["list".to_owned()],
                ..Default::default()
            }]),
            ..ClusterRole::default()
        };
        let mut request = create("pods", "", "kube-system");
        if let Request::Resource { verb, .. } = &mut request {
            *verb = "list".to_owned();
        }
        let others = Others {
            cluster_roles: vec![view],
            ..Others::default()
        };
        let answer = who_can(&model, &desired, others, &request, now);
        let users: Vec<&Who> = answer
            .answers
            .iter()
            .map(|a| &a.who)
            .filter(|w| matches!(w, Who::User { .. }))
            .collect();
        assert!(
            users.contains(&&Who::User {
                name: "alice".to_owned(),
                inactive: true
            }),
            "{users:?}"
        );
        assert!(
            users.contains(&&Who::User {
                name: "heidi".to_owned(),
                inactive: false
            }),
            "{users:?}"
        );
        assert!(answer.unknown_roles.is_empty() || !answer.unknown_roles.contains("view"));
    }
}
