//! The effect of a plan on people: for each user, group and client, which roles it gains and loses where.
//!
//! Computed from the bindings themselves (desired vs live), so it shows exactly what RBAC will see, including drift
//! repaired by hand-edited bindings being restored.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Owned, Unchanged};
use crate::compile::IMPERSONATION_ROLE_PREFIX;
use crate::objects::{Binding, DesiredState, LiveState, Manifest, ObjectKey, ObjectKind, Subject};

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

/// The subject a binding's subject entry is, as people know it; `None` for a kind RBAC does not have.
pub(super) fn subject_name(subject: Subject, clients_namespace: &str) -> Option<SubjectName> {
    let name = subject.name;
    Some(match subject.kind.as_str() {
        "ServiceAccount" => {
            let namespace = subject.namespace.unwrap_or_default();
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
        "User" => SubjectName { kind: "user", name },
        "Group" => SubjectName {
            kind: "group",
            name,
        },
        _ => return None,
    })
}

/// The impersonation ClusterRoles among `objects`, by name, with the identities each lets its subjects act as.
fn impersonating<'v>(objects: &[(&'v ObjectKey, &'v Manifest)]) -> BTreeMap<&'v str, Vec<Access>> {
    // Impersonation is access too: a role that lets a client act as a person shows as one access per identity,
    // so a person leaving a group shows as the client losing `impersonate group ...`.
    objects
        .iter()
        .filter(|(key, _)| {
            key.kind == ObjectKind::ClusterRole && key.name.starts_with(IMPERSONATION_ROLE_PREFIX)
        })
        .filter_map(|(key, manifest)| {
            let identities = impersonation_rules(&manifest.value());
            (!identities.is_empty()).then_some((key.name.as_str(), identities))
        })
        .collect()
}

/// The accesses of the `wanted` subjects that `objects` (bindings, and the impersonation roles they name) grant.
fn collect(
    objects: &[(&ObjectKey, &Manifest)],
    clients_namespace: &str,
    wanted: &dyn Fn(&SubjectName) -> bool,
) -> AccessMap {
    let impersonating = impersonating(objects);
    let mut map = AccessMap::new();
    for (key, manifest) in objects {
        if !key.kind.is_binding() {
            continue;
        }
        // Only `roleRef` and `subjects` are read; the rest of the manifest is skipped, not built.
        let Some(binding) = manifest.binding() else {
            continue;
        };
        let subjects: Vec<SubjectName> = binding
            .subjects
            .into_iter()
            .filter_map(|s| subject_name(s, clients_namespace))
            .filter(|s| wanted(s))
            .collect();
        if subjects.is_empty() {
            continue;
        }
        let role = binding.role_ref.name.as_str();
        let accesses = match impersonating.get(role) {
            Some(identities) if binding.role_ref.kind == "ClusterRole" => identities.clone(),
            _ => vec![Access {
                role: role_name(role),
                namespace: key.namespace.clone(),
            }],
        };
        for subject in subjects {
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

/// The objects whose access the cluster will grant after the plan: the desired ones, except those apply leaves
/// alone because a same-named object that is not tollgate's is in the way (a conflict grants nothing until adopted).
pub(super) fn after<'v>(
    desired: &'v DesiredState,
    live: &LiveState,
    owned: &Owned<'_>,
) -> Vec<(&'v ObjectKey, &'v Manifest)> {
    desired
        .objects
        .iter()
        .filter(|(key, _)| match live.objects.get(*key) {
            None => true,
            Some(_) if owned.contains(key) => true,
            // Labelled as tollgate's but written by another manager: apply takes it over, so it grants what the
            // repository says from then on.
            Some(manifest) => {
                crate::objects::ownership(manifest, &desired.cluster)
                    != crate::objects::Ownership::Foreign
            }
        })
        .collect()
}

/// The objects whose access tollgate's bindings grant now.
fn before<'v>(live: &'v LiveState, owned: &Owned<'_>) -> Vec<(&'v ObjectKey, &'v Manifest)> {
    live.objects
        .iter()
        .filter(|(key, _)| {
            (key.kind.is_binding() || key.kind == ObjectKind::ClusterRole) && owned.contains(key)
        })
        .collect()
}

/// How many subjects tollgate's live bindings (the `owned` ones) give any role.
pub fn subjects_with_access(desired: &DesiredState, live: &LiveState, owned: &Owned<'_>) -> usize {
    let mut subjects = BTreeSet::new();
    for (key, manifest) in before(live, owned) {
        if !key.is_grant_binding() {
            continue;
        }
        for subject in manifest.binding().into_iter().flat_map(|b| b.subjects) {
            subjects.extend(subject_name(subject, &desired.clients_namespace));
        }
    }
    subjects.len()
}

/// The subjects whose access may change: those of every binding that differs between `before` and `after` (added,
/// removed, other role or subjects) or names an impersonation role whose identities changed. Everyone else's
/// bindings are the same on both sides, so their access is too; leaving them out keeps a plan of a large, mostly
/// unchanged organisation from building two maps of everyone's access.
fn changing_subjects(
    after: &[(&ObjectKey, &Manifest)],
    before: &[(&ObjectKey, &Manifest)],
    clients_namespace: &str,
    unchanged: &Unchanged<'_>,
) -> BTreeSet<SubjectName> {
    let (roles_after, roles_before) = (impersonating(after), impersonating(before));
    let changed_role = |role: &str| roles_after.get(role) != roles_before.get(role);
    // With no impersonation role changed, a binding the plan leaves as it is changes nobody's access: skip
    // reading it (most bindings of a large organisation, on most plans).
    let roles_changed = roles_after != roles_before;
    let mut was: BTreeMap<&ObjectKey, &Manifest> = before
        .iter()
        .filter(|(key, _)| key.kind.is_binding())
        .copied()
        .collect();
    let mut changing = BTreeSet::new();
    let mut add = |binding: Binding| {
        changing.extend(
            binding
                .subjects
                .into_iter()
                .filter_map(|s| subject_name(s, clients_namespace)),
        );
    };
    for (key, manifest) in after.iter().filter(|(key, _)| key.kind.is_binding()) {
        if !roles_changed && unchanged.contains(key) {
            was.remove(key);
            continue;
        }
        let now = manifest.binding();
        let then = was.remove(key).and_then(Manifest::binding);
        if let (Some(now), Some(then)) = (&now, &then)
            && now.role_ref == then.role_ref
            && now.subjects == then.subjects
            && !changed_role(&now.role_ref.name)
        {
            continue;
        }
        now.into_iter().chain(then).for_each(&mut add);
    }
    // Bindings that only exist now: pruned, so their subjects lose what they grant.
    for manifest in was.into_values() {
        manifest.binding().into_iter().for_each(&mut add);
    }
    changing
}

/// Access gained and lost per subject, going from the owned live bindings (`owned`: the live objects that are
/// tollgate's) to the desired ones.
pub fn access_changes(
    desired: &DesiredState,
    live: &LiveState,
    owned: &Owned<'_>,
    unchanged: &Unchanged<'_>,
) -> Vec<AccessChange> {
    let (after_objects, before_objects) = (after(desired, live, owned), before(live, owned));
    let namespace = desired.clients_namespace.as_str();
    let changing = changing_subjects(&after_objects, &before_objects, namespace, unchanged);
    if changing.is_empty() {
        return Vec::new();
    }
    let wanted = |subject: &SubjectName| changing.contains(subject);
    let after = collect(&after_objects, namespace, &wanted);
    let before = collect(&before_objects, namespace, &wanted);
    differences(changing.iter(), &after, &before)
}

/// The access each of `subjects` gains and loses going from `before` to `after`; subjects without a change are
/// left out.
fn differences<'s>(
    subjects: impl Iterator<Item = &'s SubjectName>,
    after: &AccessMap,
    before: &AccessMap,
) -> Vec<AccessChange> {
    let empty = BTreeSet::new();
    subjects
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileContext, compile};
    use crate::config::load;
    use crate::synthetic::{Size, organisation};

    /// Today's reading, with everyone's access on both sides: what [`access_changes`] must equal.
    fn everyone(desired: &DesiredState, live: &LiveState, owned: &Owned<'_>) -> Vec<AccessChange> {
        let namespace = desired.clients_namespace.as_str();
        let after = collect(&after(desired, live, owned), namespace, &|_| true);
        let before = collect(&before(live, owned), namespace, &|_| true);
        let subjects: BTreeSet<&SubjectName> = after.keys().chain(before.keys()).collect();
        differences(subjects.into_iter(), &after, &before)
    }

    fn compiled(files: Vec<(String, Vec<u8>)>, cluster: &str) -> DesiredState {
        let now = "2026-06-01T00:00:00Z".parse().expect("a timestamp");
        let checked = crate::pipeline::check(&load(files), now)
            .unwrap_or_else(|e| panic!("the repository is valid: {e}"));
        compile(
            &checked.model,
            &CompileContext {
                cluster,
                now,
                revision: None,
            },
        )
        .expect("compiles")
    }

    /// The live state a cluster would hold after applying `desired`, then drifted in every way access can change,
    /// one way at a time and all at once: bindings missing, with other subjects or another role, extra owned
    /// bindings, a changed impersonation role, and a binding taken by someone else (a conflict).
    fn drifted(desired: &DesiredState) -> Vec<LiveState> {
        let same = LiveState {
            objects: desired.objects.clone(),
            ..LiveState::default()
        };
        let mut states = vec![LiveState::default(), same.clone()];
        for only in [
            None,
            Some(0),
            Some(1),
            Some(3),
            Some(5),
            Some(7),
            Some(9),
            Some(11),
        ] {
            states.push(drift(&same, only));
        }
        states
    }

    /// Every 17th binding drifted one way (`only`: the remainder that picks the way; 0 changes the impersonation
    /// roles), or every way at once.
    fn drift(same: &LiveState, only: Option<usize>) -> LiveState {
        let mut drifted = same.clone();
        let keys: Vec<ObjectKey> = same.objects.keys().cloned().collect();
        for (n, key) in keys.iter().enumerate() {
            let manifest = drifted.objects.get_mut(key).expect("a key of the state");
            let way = n % 17;
            if only.is_some_and(|only| {
                only != way && !(only == 0 && key.kind == ObjectKind::ClusterRole)
            }) {
                continue;
            }
            match (key.kind, way) {
                (ObjectKind::ClusterRole, _) if key.name.starts_with(IMPERSONATION_ROLE_PREFIX) => {
                    manifest
                        .edit(|m| m["rules"][0]["resourceNames"] = serde_json::json!(["someone"]));
                }
                (kind, 1) if kind.is_binding() => {
                    drifted.objects.remove(key);
                }
                (kind, 3) if kind.is_binding() => manifest.edit(|m| {
                    m["subjects"]
                        .as_array_mut()
                        .expect("subjects")
                        .push(serde_json::json!({"kind": "User", "name": "intruder"}));
                }),
                (kind, 5) if kind.is_binding() => {
                    manifest.edit(|m| m["subjects"].as_array_mut().expect("subjects").truncate(1));
                }
                (kind, 7) if kind.is_binding() => {
                    manifest.edit(|m| m["roleRef"]["name"] = "tollgate:other".into());
                }
                (kind, 9) if kind.is_binding() => {
                    manifest.edit(|m| m["metadata"]["labels"] = serde_json::json!({}));
                }
                (kind, 11) if kind.is_binding() => {
                    let mut extra = manifest.clone();
                    extra.edit(|m| {
                        m["metadata"]["name"] = "extra".into();
                        m["roleRef"]["name"] = "tollgate:extra".into();
                    });
                    let extra_key = ObjectKey {
                        name: format!("{}-extra", key.name),
                        ..key.clone()
                    };
                    drifted.objects.insert(extra_key, extra);
                }
                _ => {}
            }
        }
        drifted
    }

    #[test]
    fn only_the_changing_subjects_are_read_and_the_result_is_the_same() {
        let example = crate::files::read_config_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo"),
        )
        .expect("example-repo reads")
        .into_iter()
        .map(|f| (f.path, f.content.expect("readable")))
        .collect::<Vec<_>>();
        let synthetic = organisation(Size {
            users: 1_000,
            groups: 200,
            grants: 3_000,
            clients: 800,
            namespaces: 40,
        });
        let mut bench = compiled(synthetic, "bench");
        // A client that acts as its owner, as compile writes it (example-repo has none: its user grants are on
        // prod, which has impersonation off).
        let role = format!("{IMPERSONATION_ROLE_PREFIX}c0000");
        let labels = serde_json::json!({
            "app.kubernetes.io/managed-by": "tollgate", "tollgate.dev/instance": "bench"
        });
        bench.objects.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRole, &role),
            Manifest::new(&serde_json::json!({
                "metadata": {"name": role, "labels": labels},
                "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"],
                           "resourceNames": ["tg:u00000"]}],
            })),
        );
        bench.objects.insert(
            ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, &role),
            Manifest::new(&serde_json::json!({
                "metadata": {"name": role, "labels": labels},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": "c0000", "namespace": bench.clients_namespace}],
            })),
        );
        let states = [
            compiled(example.clone(), "prod"),
            compiled(example, "staging"),
            bench,
        ];
        let mut compared = 0;
        for desired in &states {
            for live in drifted(desired) {
                let owned: Owned<'_> = live
                    .objects
                    .iter()
                    .filter(|(_, m)| crate::objects::is_owned_by(m, &desired.cluster))
                    .map(|(key, _)| key)
                    .collect();
                let reference =
                    serde_json::to_value(everyone(desired, &live, &owned)).expect("JSON");
                // Through the plan, which says which bindings it leaves as they are.
                let planned = crate::plan::plan(desired, &live, crate::plan::Against::Empty);
                let changes = serde_json::to_value(planned.access).expect("JSON");
                assert_eq!(changes, reference, "cluster {}", desired.cluster);
                compared += reference.as_array().map_or(0, Vec::len);
            }
        }
        // The drift reaches many subjects, so the comparison is not of empty lists.
        assert!(compared > 500, "{compared} access changes compared");
    }
}
