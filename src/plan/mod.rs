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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// Delete and create again, because a field that cannot change did.
    Replace,
    Delete,
    /// An object of the same name exists without tollgate's labels; it is left alone.
    Conflict,
    #[serde(rename = "no-op")]
    NoOp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub object: ObjectKey,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
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
    File { path: String },
    /// A live cluster, read through the API server at `server`.
    Cluster { server: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub conflict: usize,
    pub unchanged: usize,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.replace + self.delete > 0
    }
}

/// A plan that deletes more of the managed objects than Settings allow.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionGuardViolation {
    pub deletes: usize,
    pub managed: usize,
    pub max_delete_percent: u8,
    pub min_objects: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    pub cluster: String,
    pub against: Against,
    pub summary: Summary,
    pub changes: Vec<Change>,
    pub access: Vec<AccessChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_guard: Option<DeletionGuardViolation>,
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
