//! The effect of a plan on people: for each user, group and client, which roles it gains and loses where.
//!
//! Computed from the bindings themselves (desired vs live), so it shows exactly what RBAC will see, including drift
//! repaired by hand-edited bindings being restored.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::compile::IMPERSONATION_ROLE_PREFIX;
use crate::objects::{DesiredState, LiveState, ObjectKey, ObjectKind, is_owned_by};

/// A subject as people know it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SubjectName {
    /// `client`, `user`, `group` or `serviceaccount` (a ServiceAccount outside the clients namespace).
    pub kind: &'static str,
    /// The name the binding gives the subject (a client's name for a client); `<namespace>/<name>` for a
    /// ServiceAccount.
    pub name: String,
}

/// A role in a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Access {
    /// The role as grants name it (`edit`, a custom role's name), `session:<environment>`, or, for a client that
    /// acts as its owner, `impersonate user <name>` / `impersonate group <name>`.
    pub role: String,
    /// The namespace, or `None` for the whole cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} in {namespace}", self.role),
            // Impersonation has no scope: the identity then has whatever its own grants give.
            None if self.role.starts_with("impersonate ") => f.write_str(&self.role),
            None => write!(f, "{} cluster-wide", self.role),
        }
    }
}

/// The access one subject gains and loses when the plan is applied.
#[derive(Debug, Clone, Serialize)]
pub struct AccessChange {
    /// Who gains or loses access.
    pub subject: SubjectName,
    /// Roles bound by the desired bindings and by no owned live one, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gained: Vec<Access>,
    /// Roles bound by an owned live binding and by no desired one, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<Access>,
    /// Whether the subject loses every role it had (the deletion guard counts these).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lost_all: bool,
}

type AccessMap = BTreeMap<SubjectName, BTreeSet<Access>>;

fn role_name(role_ref_name: &str) -> String {
    role_ref_name
        .strip_prefix("tollgate:")
        .unwrap_or(role_ref_name)
        .to_owned()
}

fn collect<'v>(
    objects: impl Iterator<Item = (&'v ObjectKey, &'v Value)>,
    clients_namespace: &str,
) -> AccessMap {
    let objects: Vec<_> = objects.collect();
    // Impersonation is access too: a role that lets a client act as a person shows as one access per identity,
    // so a person leaving a group shows as the client losing `impersonate group ...`.
    let impersonating: BTreeMap<&str, Vec<Access>> = objects
        .iter()
        .filter(|(key, _)| {
            key.kind == ObjectKind::ClusterRole && key.name.starts_with(IMPERSONATION_ROLE_PREFIX)
        })
        .filter_map(|(key, manifest)| {
            let identities = impersonation_rules(manifest);
            (!identities.is_empty()).then_some((key.name.as_str(), identities))
        })
        .collect();
    let mut map = AccessMap::new();
    for (key, manifest) in objects {
        if !key.kind.is_binding() {
            continue;
        }
        let Some(role) = manifest["roleRef"]["name"].as_str() else {
            continue;
        };
        let accesses = match impersonating.get(role) {
            Some(identities) if manifest["roleRef"]["kind"] == "ClusterRole" => identities.clone(),
            _ => vec![Access {
                role: role_name(role),
                namespace: key.namespace.clone(),
            }],
        };
        for subject in manifest["subjects"].as_array().into_iter().flatten() {
            let name = subject["name"].as_str().unwrap_or_default().to_owned();
            let subject = match subject["kind"].as_str() {
                Some("ServiceAccount") => {
                    let namespace = subject["namespace"].as_str().unwrap_or_default();
                    if namespace == clients_namespace {
                        SubjectName {
                            kind: "client",
                            name,
                        }
                    } else {
                        SubjectName {
                            kind: "serviceaccount",
                            name: format!("{namespace}/{name}"),
                        }
                    }
                }
                Some("User") => SubjectName { kind: "user", name },
                Some("Group") => SubjectName {
                    kind: "group",
                    name,
                },
                _ => continue,
            };
            map.entry(subject)
                .or_default()
                .extend(accesses.iter().cloned());
        }
    }
    map
}

/// The identities a ClusterRole lets its subjects impersonate, as `impersonate user <name>` and `impersonate group
/// <name>` accesses (cluster-wide: impersonation has no namespace); empty for a role without `impersonate` rules.
fn impersonation_rules(manifest: &Value) -> Vec<Access> {
    let mut accesses = Vec::new();
    for rule in manifest["rules"].as_array().into_iter().flatten() {
        let listed = |field: &str, wanted: &str| {
            rule[field]
                .as_array()
                .is_some_and(|items| items.iter().any(|item| item == wanted))
        };
        if !listed("verbs", "impersonate") {
            continue;
        }
        for (resource, kind) in [
            ("users", "user"),
            ("groups", "group"),
            ("serviceaccounts", "serviceaccount"),
        ] {
            if !listed("resources", resource) {
                continue;
            }
            for name in rule["resourceNames"].as_array().into_iter().flatten() {
                accesses.push(Access {
                    role: format!("impersonate {kind} {}", name.as_str().unwrap_or_default()),
                    namespace: None,
                });
            }
        }
    }
    accesses
}

/// The access the cluster will grant after the plan: the desired bindings, except those apply leaves alone
/// because a same-named object that is not tollgate's is in the way (a conflict grants nothing until adopted).
fn after(desired: &DesiredState, live: &LiveState) -> AccessMap {
    collect(
        desired.objects.iter().filter(|(key, _)| {
            live.objects
                .get(*key)
                .is_none_or(|manifest| is_owned_by(manifest, &desired.cluster))
        }),
        &desired.clients_namespace,
    )
}

/// The access tollgate's bindings grant now.
fn before(desired: &DesiredState, live: &LiveState) -> AccessMap {
    collect(
        live.objects
            .iter()
            .filter(|(_, manifest)| is_owned_by(manifest, &desired.cluster)),
        &desired.clients_namespace,
    )
}

/// How many subjects tollgate's live bindings give any role.
pub fn subjects_with_access(desired: &DesiredState, live: &LiveState) -> usize {
    before(desired, live).len()
}

/// Access gained and lost per subject, going from the owned live bindings to the desired ones.
pub fn access_changes(desired: &DesiredState, live: &LiveState) -> Vec<AccessChange> {
    let after = after(desired, live);
    let before = before(desired, live);
    let empty = BTreeSet::new();
    let subjects: BTreeSet<&SubjectName> = after.keys().chain(before.keys()).collect();
    subjects
        .into_iter()
        .filter_map(|subject| {
            let now = after.get(subject).unwrap_or(&empty);
            let was = before.get(subject).unwrap_or(&empty);
            let gained: Vec<_> = now.difference(was).cloned().collect();
            let lost: Vec<_> = was.difference(now).cloned().collect();
            (!gained.is_empty() || !lost.is_empty()).then(|| AccessChange {
                subject: subject.clone(),
                lost_all: !was.is_empty() && now.is_empty(),
                gained,
                lost,
            })
        })
        .collect()
}
