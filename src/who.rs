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
}

/// Everyone who can, and what the answer could not see.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoCan {
    /// People first, then clients; each by name.
    pub answers: Vec<Answer>,
    /// ClusterRoles the repository's bindings refer to that neither it nor the given roles define: what they
    /// grant is unknown, so the answer may miss people (pass the cluster's roles).
    pub unknown_roles: BTreeSet<String>,
}

/// Who can make `request` in `desired`'s cluster at `now`: the repository's active users (their RBAC username and
/// the RBAC names of every group they are in, nested groups followed, plus `system:authenticated`) and its clients
/// in this cluster (their ServiceAccount with its groups; and, for a client that may impersonate its owner, that
/// owner's identity), each checked against the roles and bindings of `desired`, with `other_roles` (Kubernetes'
/// built-in and aggregated ClusterRoles) for the roles the repository refers to but does not define.
pub fn who_can(
    model: &AccessModel,
    desired: &DesiredState,
    other_roles: Vec<ClusterRole>,
    request: &Request,
    now: Timestamp,
) -> WhoCan {
    let (policy, unknown_roles, sources) = policy_of(desired, other_roles);
    let mut answers = Vec::new();
    for (who, identity) in identities(model, desired, now) {
        if let Some(grant) = policy.allows(&identity, request) {
            answers.push(Answer {
                who,
                username: identity.name,
                sources: sources.get(&grant.binding).cloned().unwrap_or_default(),
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
        answers,
        unknown_roles,
    }
}

/// The RBAC policy of `desired` with `other_roles` for what it does not define; the ClusterRoles its bindings
/// name that neither holds; each binding's source files.
fn policy_of(
    desired: &DesiredState,
    other_roles: Vec<ClusterRole>,
) -> (Policy, BTreeSet<String>, BTreeMap<ObjectName, Vec<String>>) {
    let mut cluster_roles: BTreeMap<String, ClusterRole> = other_roles
        .into_iter()
        .filter_map(|r| Some((r.metadata.name.clone()?, r)))
        .collect();
    let (mut roles, mut cluster_bindings, mut bindings) = (Vec::new(), Vec::new(), Vec::new());
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
    // The groups each user is in, nested groups followed (they form no cycle: validation refuses one).
    let mut groups_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for group in model.groups.values() {
        let mut pending = vec![group];
        let mut seen = BTreeSet::new();
        while let Some(current) = pending.pop() {
            if !seen.insert(current.name.as_str()) {
                continue;
            }
            for member in &current.members {
                groups_of
                    .entry(member.as_str())
                    .or_default()
                    .insert(prefixes.group_subject(group));
            }
            pending.extend(current.groups.iter().filter_map(|g| model.groups.get(g)));
        }
    }
    let mut out = Vec::new();
    for user in model.users.values().filter(|u| u.is_active(now)) {
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
            Vec::new(),
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
            Vec::new(),
            &create("pods", "exec", "kube-system"),
            now,
        );
        assert!(elsewhere.answers.is_empty(), "{:?}", elsewhere.answers);
    }
}
