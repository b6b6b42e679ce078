//! Apply: a [`Plan`] -> writes to the cluster -> an [`ApplyReport`] with the outcome of every object.
//!
//! The safety rules live here, in one place: nothing is written when the plan has conflicts (unless adopting) or
//! trips the deletion guard (unless allowed); creates and updates go first, kind by kind so that what others refer
//! to exists first; prune runs last, in reverse kind order, and only when every other write succeeded, so a
//! failed apply never removes access before the new access is in place.

use std::num::NonZeroUsize;

use futures::StreamExt;
use indicatif::ProgressBar;
use serde::Serialize;

use crate::cluster::{Cluster, describe, status_code};
use crate::objects::{DesiredState, LiveState, Manifest, ObjectKey, ObjectKind};
use crate::plan::{Action, Change, DeletionGuardViolation, Plan};

/// Version of the JSON form of an apply report.
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// How apply writes, and which of its refusals the user overrode (`apply`'s flags, or the controller's settings).
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Requests in flight at once.
    pub concurrency: NonZeroUsize,
    /// Take over same-named objects that lack tollgate's labels instead of refusing.
    pub adopt: bool,
    /// Apply a plan the deletion guard refuses.
    pub allow_mass_deletion: bool,
    /// What to do with Namespaces the plan deletes (with everything in them).
    pub namespace_deletion: NamespaceDeletion,
}

/// Deleting a Namespace deletes every object in it, so it is never routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceDeletion {
    /// Refuse the whole plan before any write (`tollgate apply` without `--allow-namespace-deletion`).
    Refuse,
    /// Apply everything else and leave the Namespaces, reported as held back on every run until a person
    /// deletes them with `tollgate apply --allow-namespace-deletion` (the controller).
    HoldBack,
    /// Delete them (`--allow-namespace-deletion`).
    Allow,
}

/// Why apply wrote nothing at all.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "the deletion guard refuses this plan: {} (limits: more than {}% and more than {} of the bindings or of the \
         subjects with access{}); nothing was written. If this is intended, pass --allow-mass-deletion",
        .0.reason, .0.max_delete_percent, .0.min_objects,
        if .0.limits_from_last_applied { ", the last applied revision's: this plan's Settings lower them" } else { "" }
    )]
    /// The plan deletes more than Settings' `spec.deletionGuard` allows, and `--allow-mass-deletion` is not set.
    DeletionGuard(DeletionGuardViolation),
    #[error(
        "{} object(s) exist without tollgate's labels for this cluster: {}; nothing was written. Rename or remove \
         them, or pass --adopt to take them over",
        .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    /// Same-named objects lack this instance's labels, and `--adopt` is not set: all of them, in plan order.
    Conflicts(Vec<ObjectKey>),
    #[error(
        "the plan deletes {} Namespace(s) tollgate created: {}; deleting a Namespace deletes every object in it, \
         so nothing was written. If this is intended, pass --allow-namespace-deletion",
        .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    /// The plan deletes Namespaces and [`NamespaceDeletion::Refuse`] is in force.
    NamespaceDeletion(Vec<ObjectKey>),
}

/// What apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Created by server-side apply.
    Created,
    /// Updated in place by server-side apply.
    Updated,
    /// Deleted and created again, because a field that cannot change in place changed.
    Replaced,
    /// Pruned; an object already gone counts too.
    Deleted,
    /// An unlabelled object taken over with `--adopt`.
    Adopted,
    /// Already as desired: no request was made.
    Unchanged,
    /// The write failed; [`ObjectOutcome::reason`] has the API server's answer or the connection error.
    Failed,
    /// Not attempted, because an earlier write failed.
    Skipped,
    /// A Namespace deletion left for a person to confirm ([`NamespaceDeletion::HoldBack`]).
    HeldBack,
}

/// What apply did to one object of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectOutcome {
    /// The object's kind, namespace and name.
    pub object: ObjectKey,
    /// What happened to it.
    pub outcome: Outcome,
    /// Why, for `failed` (e.g. `403 Forbidden: ...`) and `skipped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How many objects of an apply ended with each [`Outcome`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// Objects created.
    pub created: usize,
    /// Objects updated in place.
    pub updated: usize,
    /// Objects deleted and created again.
    pub replaced: usize,
    /// Objects pruned.
    pub deleted: usize,
    /// Unlabelled objects taken over with `--adopt`.
    pub adopted: usize,
    /// Objects already as desired.
    pub unchanged: usize,
    /// Objects whose write failed.
    pub failed: usize,
    /// Deletions not attempted because an earlier write failed.
    pub skipped: usize,
    /// Namespace deletions left for a person to confirm.
    pub held_back: usize,
}

/// The outcome of one apply: every object of the plan, the totals and, with `--publish`, the publish.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// [`REPORT_FORMAT_VERSION`], serialized first as `formatVersion`.
    pub format_version: u32,
    /// The cluster (tollgate instance) applied to, as Settings name it.
    pub cluster: String,
    /// The API server URL written to.
    pub server: String,
    /// `objects` counted by outcome.
    pub summary: ReportSummary,
    /// One entry per object of the plan, in plan order.
    pub objects: Vec<ObjectOutcome>,
    /// With `--publish`: the client files published after the apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<crate::publish::PublishReport>,
}

impl ApplyReport {
    /// Whether every write succeeded, and with `--publish` every client's file was published.
    pub fn succeeded(&self) -> bool {
        self.summary.failed == 0
            && self.summary.skipped == 0
            && self.publish.as_ref().is_none_or(|p| p.failures.is_empty())
    }

    /// The failed objects with their reasons, one per line, for error messages.
    pub fn failures(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter(|o| o.outcome == Outcome::Failed)
            .map(|o| format!("{}: {}", o.object, o.reason.as_deref().unwrap_or("failed")))
            .chain(self.publish.iter().flat_map(|p| {
                p.failures
                    .iter()
                    .map(|f| format!("client {}: {}", f.client, f.reason))
            }))
            .collect()
    }
}

/// The checks that must pass before anything is written. Pure.
pub fn preflight(plan: &Plan, options: &ApplyOptions) -> Result<(), Refusal> {
    if let Some(violation) = &plan.deletion_guard
        && !options.allow_mass_deletion
    {
        return Err(Refusal::DeletionGuard(violation.clone()));
    }
    let conflicts: Vec<ObjectKey> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Conflict)
        .map(|c| c.object.clone())
        .collect();
    if !conflicts.is_empty() && !options.adopt {
        return Err(Refusal::Conflicts(conflicts));
    }
    let namespaces: Vec<ObjectKey> = namespace_deletions(plan).cloned().collect();
    if !namespaces.is_empty() && options.namespace_deletion == NamespaceDeletion::Refuse {
        return Err(Refusal::NamespaceDeletion(namespaces));
    }
    Ok(())
}

fn namespace_deletions(plan: &Plan) -> impl Iterator<Item = &ObjectKey> {
    plan.changes
        .iter()
        .filter(|c| c.action == Action::Delete && c.object.kind == ObjectKind::Namespace)
        .map(|c| &c.object)
}

/// The waves apply runs, each one after the other: upserts by kind in apply order, then deletions by kind in
/// reverse order. Within a wave, objects do not depend on each other and are written concurrently.
fn waves(plan: &Plan) -> Vec<Vec<(usize, &Change)>> {
    let mut waves = Vec::new();
    for kind in ObjectKind::ALL {
        waves.push(
            plan.changes
                .iter()
                .enumerate()
                .filter(|(_, c)| c.object.kind == kind && c.action != Action::Delete)
                .collect(),
        );
    }
    for kind in ObjectKind::ALL.into_iter().rev() {
        waves.push(
            plan.changes
                .iter()
                .enumerate()
                .filter(|(_, c)| c.object.kind == kind && c.action == Action::Delete)
                .collect(),
        );
    }
    waves
}

/// Applies a plan computed from `desired` and `live` (as read from `cluster`). Refuses before writing anything
/// when [`preflight`] fails; otherwise every object gets an outcome, failed ones with the API server's reason.
/// `progress` counts the objects that need a request (every change but `no-op` and `unowned`) as they are
/// written; `ProgressBar::hidden()` shows nothing.
pub async fn apply(
    cluster: &Cluster,
    plan: &Plan,
    desired: &DesiredState,
    live: &LiveState,
    options: &ApplyOptions,
    progress: &ProgressBar,
) -> Result<ApplyReport, Refusal> {
    preflight(plan, options)?;
    let needs_request = |change: &Change| !matches!(change.action, Action::NoOp | Action::Unowned);
    progress.set_length(plan.changes.iter().filter(|c| needs_request(c)).count() as u64);
    let mut outcomes: Vec<Option<ObjectOutcome>> = vec![None; plan.changes.len()];
    for wave in waves(plan) {
        let is_prune = wave
            .first()
            .is_some_and(|(_, c)| c.action == Action::Delete);
        let failed = outcomes
            .iter()
            .flatten()
            .filter(|o| o.outcome == Outcome::Failed)
            .count();
        if is_prune && failed > 0 {
            for (index, change) in wave {
                outcomes[index] = Some(ObjectOutcome {
                    object: change.object.clone(),
                    outcome: Outcome::Skipped,
                    reason: Some(format!(
                        "held back: {failed} earlier write(s) failed, and prune waits for a complete apply (so \
                         that no access is removed before the new access is in place)"
                    )),
                });
            }
            continue;
        }
        let wave: Vec<(usize, &Change)> = if is_prune
            && options.namespace_deletion == NamespaceDeletion::HoldBack
        {
            let (held, rest): (Vec<_>, Vec<_>) = wave
                .into_iter()
                .partition(|(_, c)| c.object.kind == ObjectKind::Namespace);
            for (index, change) in held {
                outcomes[index] = Some(ObjectOutcome {
                    object: change.object.clone(),
                    outcome: Outcome::HeldBack,
                    reason: Some(
                        "held back: deleting a Namespace deletes every object in it; run `tollgate apply \
                         --allow-namespace-deletion` to delete it"
                            .to_owned(),
                    ),
                });
            }
            rest
        } else {
            wave
        };
        let results: Vec<(usize, ObjectOutcome)> = futures::stream::iter(wave)
            .map(|(index, change)| async move {
                let outcome = write(cluster, change, desired, live).await;
                if needs_request(change) {
                    progress.inc(1);
                }
                (index, outcome)
            })
            .buffer_unordered(options.concurrency.get())
            .collect()
            .await;
        for (index, outcome) in results {
            outcomes[index] = Some(outcome);
        }
    }
    let objects: Vec<ObjectOutcome> = outcomes
        .into_iter()
        .map(|o| o.expect("every change belongs to exactly one wave"))
        .collect();
    let mut summary = ReportSummary::default();
    for object in &objects {
        *match object.outcome {
            Outcome::Created => &mut summary.created,
            Outcome::Updated => &mut summary.updated,
            Outcome::Replaced => &mut summary.replaced,
            Outcome::Deleted => &mut summary.deleted,
            Outcome::Adopted => &mut summary.adopted,
            Outcome::Unchanged => &mut summary.unchanged,
            Outcome::Failed => &mut summary.failed,
            Outcome::Skipped => &mut summary.skipped,
            Outcome::HeldBack => &mut summary.held_back,
        } += 1;
    }
    Ok(ApplyReport {
        format_version: REPORT_FORMAT_VERSION,
        cluster: plan.cluster.clone(),
        server: cluster.server.clone(),
        summary,
        objects,
        publish: None,
    })
}

/// The one or two requests a change needs; no request at all for an unchanged object.
async fn write(
    cluster: &Cluster,
    change: &Change,
    desired: &DesiredState,
    live: &LiveState,
) -> ObjectOutcome {
    let key = &change.object;
    let manifest = || {
        desired
            .objects
            .get(key)
            .expect("every change other than a delete names a desired object")
    };
    // Read only for the changes that need it (a precondition on a delete), not for every no-op.
    let live_uid = || live.objects.get(key).and_then(|m| m.metadata().uid);
    let result = match change.action {
        Action::NoOp | Action::Unowned => Ok(Outcome::Unchanged),
        Action::Create => applied(cluster, key, manifest(), Outcome::Created).await,
        Action::Update => applied(cluster, key, manifest(), Outcome::Updated).await,
        Action::Conflict => match cluster.apply(key, manifest()).await {
            // Only the labels and metadata of an unlabelled object were read, so an immutable `roleRef` that
            // differs shows only now; adopting means the repository's binding replaces it.
            Err(error) if key.kind.is_binding() && status_code(&error) == Some(422) => {
                replace(
                    cluster,
                    key,
                    manifest(),
                    live_uid().as_deref(),
                    Outcome::Adopted,
                )
                .await
            }
            result => result.map(|()| Outcome::Adopted).map_err(|e| describe(&e)),
        },
        Action::Delete => cluster
            .delete(key, live_uid().as_deref())
            .await
            .map(|()| Outcome::Deleted)
            .map_err(|e| describe(&e)),
        Action::Replace => {
            replace(
                cluster,
                key,
                manifest(),
                live_uid().as_deref(),
                Outcome::Replaced,
            )
            .await
        }
    };
    match result {
        Ok(outcome) => ObjectOutcome {
            object: key.clone(),
            outcome,
            reason: None,
        },
        Err(reason) => failed(key, reason),
    }
}

async fn applied(
    cluster: &Cluster,
    key: &ObjectKey,
    manifest: &Manifest,
    outcome: Outcome,
) -> Result<Outcome, String> {
    cluster
        .apply(key, manifest)
        .await
        .map(|()| outcome)
        .map_err(|e| describe(&e))
}

/// Delete (only the object that was read) and create again: how a field that cannot change in place changes.
async fn replace(
    cluster: &Cluster,
    key: &ObjectKey,
    manifest: &Manifest,
    uid: Option<&str>,
    outcome: Outcome,
) -> Result<Outcome, String> {
    cluster.delete(key, uid).await.map_err(|e| describe(&e))?;
    cluster
        .apply(key, manifest)
        .await
        .map(|()| outcome)
        .map_err(|error| {
            format!(
                "deleted for replacement, but creating it again failed: {}",
                describe(&error)
            )
        })
}

fn failed(key: &ObjectKey, reason: String) -> ObjectOutcome {
    ObjectOutcome {
        object: key.clone(),
        outcome: Outcome::Failed,
        reason: Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Against, PLAN_FORMAT_VERSION, Summary};

    fn change(kind: ObjectKind, name: &str, action: Action) -> Change {
        Change {
            object: ObjectKey::cluster_scoped(kind, name),
            action,
            fields: Vec::new(),
            reason: None,
        }
    }

    fn plan_of(changes: Vec<Change>, deletion_guard: Option<DeletionGuardViolation>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            cluster: "prod".into(),
            against: Against::Empty,
            summary: Summary::default(),
            changes,
            access: Vec::new(),
            permissions: Vec::new(),
            second_look: Vec::new(),
            deletion_guard,
            peers: Vec::new(),
            peers_unknown: None,
        }
    }

    const OPTIONS: ApplyOptions = ApplyOptions {
        concurrency: NonZeroUsize::MIN,
        adopt: false,
        allow_mass_deletion: false,
        namespace_deletion: NamespaceDeletion::Refuse,
    };

    #[test]
    fn upserts_go_in_kind_order_and_deletions_last_in_reverse() {
        let plan = plan_of(
            vec![
                change(ObjectKind::ClusterRoleBinding, "b", Action::Create),
                change(ObjectKind::ClusterRole, "old-role", Action::Delete),
                change(
                    ObjectKind::ClusterRoleBinding,
                    "old-binding",
                    Action::Delete,
                ),
                change(ObjectKind::ClusterRole, "r", Action::Update),
                change(ObjectKind::Namespace, "n", Action::Create),
            ],
            None,
        );
        let order: Vec<&str> = waves(&plan)
            .into_iter()
            .flatten()
            .map(|(_, c)| c.object.name.as_str())
            .collect();
        assert_eq!(order, ["n", "r", "b", "old-binding", "old-role"]);
    }

    #[test]
    fn conflicts_and_the_deletion_guard_refuse_unless_allowed() {
        let conflicted = plan_of(
            vec![change(ObjectKind::ClusterRole, "x", Action::Conflict)],
            None,
        );
        assert!(matches!(
            preflight(&conflicted, &OPTIONS),
            Err(Refusal::Conflicts(keys)) if keys.len() == 1
        ));
        let adopt = ApplyOptions {
            adopt: true,
            ..OPTIONS
        };
        assert!(preflight(&conflicted, &adopt).is_ok());

        let violation = DeletionGuardViolation {
            deletes: 20,
            managed: 21,
            subjects_losing_all: 3,
            subjects_with_access: 4,
            max_delete_percent: 50,
            min_objects: 10,
            limits_from_last_applied: true,
            reason: "it deletes 20 of the 21 bindings tollgate manages".into(),
        };
        let mass = plan_of(Vec::new(), Some(violation));
        let message = preflight(&mass, &OPTIONS).unwrap_err().to_string();
        assert!(
            message.contains("deletes 20 of the 21 bindings")
                && message.contains("the last applied revision's"),
            "{message}"
        );
        let allow = ApplyOptions {
            allow_mass_deletion: true,
            ..OPTIONS
        };
        assert!(preflight(&mass, &allow).is_ok());
    }

    #[test]
    fn a_namespace_deletion_needs_its_own_flag() {
        let plan = plan_of(
            vec![change(
                ObjectKind::Namespace,
                "sessions-old",
                Action::Delete,
            )],
            None,
        );
        let message = preflight(&plan, &OPTIONS).unwrap_err().to_string();
        assert!(message.contains("--allow-namespace-deletion"), "{message}");
        for namespace_deletion in [NamespaceDeletion::Allow, NamespaceDeletion::HoldBack] {
            let options = ApplyOptions {
                namespace_deletion,
                ..OPTIONS
            };
            assert!(preflight(&plan, &options).is_ok());
        }
    }
}
