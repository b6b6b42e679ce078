//! Plan: desired state vs live state -> a [`Plan`], which is data. Rendering it is `render`'s job; applying it is
//! a later stage's.

pub mod access;
pub mod diff;
pub mod saved;

use serde::Serialize;

use crate::objects::{DesiredState, LiveState, ObjectKey, ObjectKind, is_owned_by};
use access::AccessChange;
use diff::FieldChange;

/// Version of the JSON form of a plan; raised on any incompatible change to its shape.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What a plan does to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The object does not exist yet.
    Create,
    /// The object exists with tollgate's labels, and fields tollgate sets differ.
    Update,
    /// Delete and create again, because a field that cannot change did.
    Replace,
    /// An object with tollgate's labels that the repository no longer compiles to: pruned after every other write.
    Delete,
    /// An object of the same name exists without tollgate's labels; it is left alone.
    Conflict,
    /// The object exists with tollgate's labels and every field tollgate sets already matches.
    #[serde(rename = "no-op")]
    NoOp,
}

/// One object's entry in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The object's kind, namespace and name.
    pub object: ObjectKey,
    /// What apply does to it.
    pub action: Action,
    /// The fields that differ from the live object (`update` and `replace`; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Why, for `replace` (the fields that cannot change in place) and `conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the plan was computed against.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Against {
    /// `--offline`: a cluster with nothing in it.
    Empty,
    /// `--live-from FILE`.
    File {
        /// The file as given to `--live-from`.
        path: String,
    },
    /// A live cluster, read through the API server at `server`.
    Cluster {
        /// The API server URL ([`crate::cluster::Cluster::server`]).
        server: String,
    },
}

/// How many objects of a plan take each [`Action`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    /// Objects to create.
    pub create: usize,
    /// Objects to update in place.
    pub update: usize,
    /// Objects to delete and create again.
    pub replace: usize,
    /// Objects to prune.
    pub delete: usize,
    /// Same-named objects without tollgate's labels, left alone.
    pub conflict: usize,
    /// Objects already as desired (`no-op`).
    pub unchanged: usize,
}

impl Summary {
    /// Whether apply would write anything: a create, update, replace or delete (conflicts do not count). What
    /// `plan --detailed-exitcode` exits 2 on, as Terraform's `-detailed-exitcode`.
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.replace + self.delete > 0
    }
}

/// A plan that deletes more of the managed objects than Settings allow.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionGuardViolation {
    /// Objects the plan deletes.
    pub deletes: usize,
    /// Objects in the cluster that carry this instance's labels.
    pub managed: usize,
    /// Settings' `spec.deletionGuard.maxDeletePercent`: the largest share of `managed` one plan may delete.
    pub max_delete_percent: u8,
    /// Settings' `spec.deletionGuard.minObjects`: up to this many deletions are allowed whatever the share.
    pub min_objects: u32,
}

/// What apply would do to one cluster: every object's action in apply order and the access it changes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`], serialized first as `formatVersion`.
    pub format_version: u32,
    /// The cluster (tollgate instance) planned, as Settings name it.
    pub cluster: String,
    /// The live state the plan was compared with.
    pub against: Against,
    /// `changes` counted by action.
    pub summary: Summary,
    /// Every desired object and every owned live object no longer desired, in apply order: creates and updates
    /// kind by kind, deletions last in reverse kind order.
    pub changes: Vec<Change>,
    /// Roles gained and lost per subject (user, group, client or ServiceAccount), read from the bindings.
    pub access: Vec<AccessChange>,
    /// Set when the plan deletes more than Settings' `spec.deletionGuard` allows; apply then refuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_guard: Option<DeletionGuardViolation>,
}

impl Plan {
    /// The changes apply would act on: every change but `no-op`, in apply order (conflicts included).
    pub fn pending_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }
}

/// Fields that cannot change once an object exists, by kind.
fn immutable_fields(kind: ObjectKind) -> &'static [&'static str] {
    match kind {
        ObjectKind::RoleBinding | ObjectKind::ClusterRoleBinding => &["roleRef"],
        _ => &[],
    }
}

/// Apply order: what others refer to first; deletions last and in reverse kind order, so a binding goes before
/// the role it names.
fn apply_order(change: &Change) -> (bool, i32, &ObjectKey) {
    let kind = change.object.kind as i32;
    if change.action == Action::Delete {
        (true, -kind, &change.object)
    } else {
        (false, kind, &change.object)
    }
}

/// Compares `desired` with `live` for one instance: missing objects are created; owned ones that differ are updated,
/// or replaced when an immutable field (a binding's `roleRef`) changed; same-named ones without this instance's
/// labels are conflicts; owned ones no longer desired are deleted. Pure; `against` is only recorded.
pub fn plan(desired: &DesiredState, live: &LiveState, against: Against) -> Plan {
    let cluster = desired.cluster.as_str();
    let mut changes = Vec::new();
    for (key, manifest) in &desired.objects {
        let change = match live.objects.get(key) {
            None => Change {
                object: key.clone(),
                action: Action::Create,
                fields: Vec::new(),
                reason: None,
            },
            Some(live_manifest) if !is_owned_by(live_manifest, cluster) => Change {
                object: key.clone(),
                action: Action::Conflict,
                fields: Vec::new(),
                reason: Some(format!(
                    "exists without tollgate's labels for cluster `{cluster}`; tollgate leaves it alone"
                )),
            },
            Some(live_manifest) => {
                let fields = diff::diff(manifest, live_manifest);
                let immutable: Vec<&str> = immutable_fields(key.kind)
                    .iter()
                    .copied()
                    .filter(|field| {
                        fields
                            .iter()
                            .any(|f| f.path == *field || f.path.starts_with(&format!("{field}.")))
                    })
                    .collect();
                let (action, reason) = if !immutable.is_empty() {
                    (
                        Action::Replace,
                        Some(format!("{} cannot change in place", immutable.join(", "))),
                    )
                } else if fields.is_empty() {
                    (Action::NoOp, None)
                } else {
                    (Action::Update, None)
                };
                Change {
                    object: key.clone(),
                    action,
                    fields,
                    reason,
                }
            }
        };
        changes.push(change);
    }
    let mut managed = 0;
    for (key, manifest) in &live.objects {
        if !is_owned_by(manifest, cluster) {
            continue;
        }
        managed += 1;
        if !desired.objects.contains_key(key) {
            changes.push(Change {
                object: key.clone(),
                action: Action::Delete,
                fields: Vec::new(),
                reason: None,
            });
        }
    }
    // Apply order: what others refer to first. Deletions run in reverse kind order and are listed last.
    changes.sort_by(|a, b| apply_order(a).cmp(&apply_order(b)));

    let mut summary = Summary::default();
    for change in &changes {
        match change.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Replace => summary.replace += 1,
            Action::Delete => summary.delete += 1,
            Action::Conflict => summary.conflict += 1,
            Action::NoOp => summary.unchanged += 1,
        }
    }
    let guard = desired.deletion_guard;
    let deletion_guard = (summary.delete > guard.min_objects as usize
        && summary.delete * 100 > managed * usize::from(guard.max_delete_percent))
    .then_some(DeletionGuardViolation {
        deletes: summary.delete,
        managed,
        max_delete_percent: guard.max_delete_percent,
        min_objects: guard.min_objects,
    });
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        cluster: cluster.to_owned(),
        against,
        summary,
        access: access::access_changes(desired, live),
        changes,
        deletion_guard,
    }
}
