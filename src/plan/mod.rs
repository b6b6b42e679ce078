//! Plan: desired state vs live state -> a [`Plan`], which is data. Rendering it is `render`'s job; applying it is
//! a later stage's.

pub mod access;
pub mod diff;
pub mod permissions;
pub mod saved;
pub mod second_look;

use rayon::prelude::*;
use serde::Serialize;

use crate::credentials::addresses::allocate;
use crate::objects::LivePeers;
use crate::objects::{
    DELETION_GUARD_ANNOTATION, DesiredState, LiveState, Manifest, ObjectKey, ObjectKind, Ownership,
    ownership,
};
use crate::validate::model::DeletionGuard;
use crate::wireguard::peers::{PeerChange, peer_changes};
use access::AccessChange;
use diff::FieldChange;
use std::collections::BTreeMap;

/// The keys of the live objects that are tollgate's ([`Ownership::Owned`]).
pub type Owned<'l> = std::collections::BTreeSet<&'l ObjectKey>;

/// The keys of the objects the plan leaves as they are ([`Action::NoOp`]): owned, and equal to their desired form.
pub type Unchanged<'c> = std::collections::BTreeSet<&'c ObjectKey>;

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
    /// An object of the same name exists without tollgate's labels; it is left alone, and apply refuses until it
    /// is renamed, removed or adopted.
    Conflict,
    /// An object tollgate no longer wants that carries its labels, but that tollgate never wrote (no `tollgate`
    /// field manager): copied YAML or another tool's. Never pruned; shown so that someone looks at it.
    Unowned,
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
    /// Objects with tollgate's labels that tollgate never wrote, left alone.
    #[serde(default)]
    pub unowned: usize,
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
    /// Bindings (RoleBindings and ClusterRoleBindings) the plan deletes.
    pub deletes: usize,
    /// Bindings in the cluster that are tollgate's.
    pub managed: usize,
    /// Subjects (users, groups, clients) that lose every role they have.
    pub subjects_losing_all: usize,
    /// Subjects that have a role now.
    pub subjects_with_access: usize,
    /// The largest share, in percent, of bindings or of subjects one plan may take away: the stricter of Settings'
    /// `spec.deletionGuard.maxDeletePercent` and the last applied revision's.
    pub max_delete_percent: u8,
    /// Up to this many bindings or subjects may go whatever the share: the stricter of `minObjects` now and at
    /// the last applied revision.
    pub min_objects: u32,
    /// Whether the limits are the last applied revision's (this plan's Settings lower them).
    pub limits_from_last_applied: bool,
    /// Which rule the plan breaks, in words with its numbers.
    pub reason: String,
}

/// What the deletion guard counts, and the limits it applies (see [`DeletionGuardViolation`]).
fn deletion_guard(
    desired: &DesiredState,
    live: &LiveState,
    owned: &Owned<'_>,
    changes: &[Change],
    access: &[AccessChange],
) -> Option<DeletionGuardViolation> {
    let managed = owned.iter().filter(|key| key.is_grant_binding()).count();
    let deletes = changes
        .iter()
        .filter(|c| c.action == Action::Delete && c.object.is_grant_binding())
        .count();
    let subjects_losing_all = access.iter().filter(|a| a.lost_all).count();
    // Every rule below needs a deletion or a subject losing all; the count reads every live binding, so a plan
    // without either skips it.
    if deletes == 0 && subjects_losing_all == 0 {
        return None;
    }
    let subjects_with_access = access::subjects_with_access(desired, live, owned);
    // The limits of the last applied revision, recorded on the clients Namespace: a commit that lowers the guard
    // and takes access away at once is judged by the limits it wants to lower.
    let clients = ObjectKey::cluster_scoped(ObjectKind::Namespace, &desired.clients_namespace);
    let last = live
        .objects
        .get(&clients)
        .filter(|_| owned.contains(&clients))
        .map(Manifest::metadata)
        .and_then(|m| {
            m.annotations
                .get(DELETION_GUARD_ANNOTATION)
                .and_then(|text| serde_json::from_str::<DeletionGuard>(text).ok())
        });
    let mut guard = desired.deletion_guard;
    let mut from_last = false;
    if let Some(last) = last {
        if last.max_delete_percent < guard.max_delete_percent {
            guard.max_delete_percent = last.max_delete_percent;
            from_last = true;
        }
        if last.min_objects < guard.min_objects {
            guard.min_objects = last.min_objects;
            from_last = true;
        }
    }
    let percent = usize::from(guard.max_delete_percent);
    let min = guard.min_objects as usize;
    let reason = if deletes > 0 && deletes == managed {
        format!("it deletes every one of the {managed} bindings tollgate manages in this cluster")
    } else if subjects_losing_all > 0 && subjects_losing_all == subjects_with_access {
        format!(
            "every one of the {subjects_with_access} users, groups and clients with access loses all of it"
        )
    } else if deletes > min && deletes * 100 > managed * percent {
        format!(
            "it deletes {deletes} of the {managed} bindings tollgate manages (more than {percent}% and more than \
             {min})"
        )
    } else if subjects_losing_all > min
        && subjects_losing_all * 100 > subjects_with_access * percent
    {
        format!(
            "{subjects_losing_all} of the {subjects_with_access} users, groups and clients with access lose all of \
             it (more than {percent}% and more than {min})"
        )
    } else {
        return None;
    };
    Some(DeletionGuardViolation {
        deletes,
        managed,
        subjects_losing_all,
        subjects_with_access,
        max_delete_percent: guard.max_delete_percent,
        min_objects: guard.min_objects,
        limits_from_last_applied: from_last,
        reason,
    })
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
    /// What the role and binding changes mean per subject and scope: the requests gained and lost (`create
    /// pods/exec in payments`), decided by Kubernetes' RBAC rules on both sides.
    pub permissions: Vec<permissions::PermissionChange>,
    /// Powers over other people's access or data that subjects gain (escalate, bind, impersonate, secrets, exec,
    /// ...): what a second reviewer should look at; `plan --detailed-exitcode` exits 3 when there are any.
    pub second_look: Vec<second_look::SecondLook>,
    /// Set when the plan deletes more than Settings' `spec.deletionGuard` allows; apply then refuses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_guard: Option<DeletionGuardViolation>,
    /// WireGuard peers of the gateway gained, lost or re-ranged, by client (written by `apply --publish` and the
    /// controller's credentials step, after the objects).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerChange>,
    /// Why peers could not be planned (the published list could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers_unknown: Option<String>,
}

impl Plan {
    /// The changes apply would act on: every change but `no-op`, in apply order (conflicts included).
    pub fn pending_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }
}

/// The field managers of an object, for a reason text (`kubectl-client-side-apply`), or "no field manager".
fn managers_text(managers: &[String]) -> String {
    if managers.is_empty() {
        "no field manager".to_owned()
    } else {
        managers
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ")
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
    // Whose each live object is, read once: the changes, the access view and the deletion guard all ask.
    let ownerships: BTreeMap<&ObjectKey, Ownership> = live
        .objects
        .iter()
        .map(|(key, manifest)| (key, ownership(manifest, cluster)))
        .collect();
    let owned: Owned<'_> = ownerships
        .iter()
        .filter(|(_, whose)| **whose == Ownership::Owned)
        .map(|(key, _)| *key)
        .collect();
    // Each desired object is compared on its own, on every core: parsing both sides to diff them is most of a
    // large plan's time. The order is the desired state's, as before the sort below.
    let compare = |(key, manifest): (&ObjectKey, &Manifest)| -> Change {
        let live_object = live.objects.get(key).map(|m| (m, &ownerships[key]));
        match live_object {
            None => Change {
                object: key.clone(),
                action: Action::Create,
                fields: Vec::new(),
                reason: None,
            },
            Some((_, Ownership::Foreign)) => Change {
                object: key.clone(),
                action: Action::Conflict,
                fields: Vec::new(),
                reason: Some(format!(
                    "exists without tollgate's labels for cluster `{cluster}`; tollgate leaves it alone"
                )),
            },
            Some((live_manifest, whose)) => {
                let fields = diff::diff(&manifest.value(), &live_manifest.value());
                let immutable: Vec<&str> = immutable_fields(key.kind)
                    .iter()
                    .copied()
                    .filter(|field| {
                        fields
                            .iter()
                            .any(|f| f.path == *field || f.path.starts_with(&format!("{field}.")))
                    })
                    .collect();
                let (mut action, mut reason) = if !immutable.is_empty() {
                    (
                        Action::Replace,
                        Some(format!("{} cannot change in place", immutable.join(", "))),
                    )
                } else if fields.is_empty() {
                    (Action::NoOp, None)
                } else {
                    (Action::Update, None)
                };
                // Made to be tollgate's (its labels, e.g. the clients Namespace of `deploy/`) but never written
                // by it: taken over by a write, so that from now on tollgate's field manager says it is tollgate's.
                if let Ownership::LabelledOnly { managers } = whose {
                    if action == Action::NoOp {
                        action = Action::Update;
                    }
                    let takeover = format!(
                        "taken over: it carries tollgate's labels but was written by {}",
                        managers_text(managers)
                    );
                    reason = Some(match reason {
                        Some(why) => format!("{why}; {takeover}"),
                        None => takeover,
                    });
                }
                Change {
                    object: key.clone(),
                    action,
                    fields,
                    reason,
                }
            }
        }
    };
    let mut changes: Vec<Change> = desired.objects.par_iter().map(compare).collect();
    for key in live.objects.keys() {
        if desired.objects.contains_key(key) {
            continue;
        }
        match &ownerships[key] {
            Ownership::Owned => changes.push(Change {
                object: key.clone(),
                action: Action::Delete,
                fields: Vec::new(),
                // Deleting a Namespace deletes everything in it: apply needs its own flag for it.
                reason: (key.kind == ObjectKind::Namespace).then(|| {
                    "deleting a Namespace deletes every object in it; apply needs --allow-namespace-deletion"
                        .to_owned()
                }),
            }),
            Ownership::LabelledOnly { managers } => changes.push(Change {
                object: key.clone(),
                action: Action::Unowned,
                fields: Vec::new(),
                reason: Some(format!(
                    "carries tollgate's labels for cluster `{cluster}`, but tollgate never wrote it (written by {}): \
                     never pruned; remove the labels, or the object",
                    managers_text(managers)
                )),
            }),
            Ownership::Foreign => {}
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
            Action::Unowned => summary.unowned += 1,
            Action::NoOp => summary.unchanged += 1,
        }
    }
    let unchanged: Unchanged<'_> = changes
        .iter()
        .filter(|c| c.action == Action::NoOp && c.object.kind.is_binding())
        .map(|c| &c.object)
        .collect();
    let access = access::access_changes(desired, live, &owned, &unchanged);
    let deletion_guard = deletion_guard(desired, live, &owned, &changes, &access);
    let (second_look, permissions) = second_look::second_looks(desired, live, &owned, &changes);
    let (peers, peers_unknown) = planned_peers(desired, live);
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        cluster: cluster.to_owned(),
        against,
        summary,
        access,
        permissions,
        second_look,
        changes,
        deletion_guard,
        peers,
        peers_unknown,
    }
}

/// The peer changes the credentials step will make: ranges as the pool will assign them (the published ranges are
/// kept, new clients get the lowest free ones), compared with the published list.
fn planned_peers(desired: &DesiredState, live: &LiveState) -> (Vec<PeerChange>, Option<String>) {
    let published = match &live.peers {
        LivePeers::NotRead => return (Vec::new(), None),
        LivePeers::Absent => None,
        LivePeers::Published(list) => Some(list),
        LivePeers::Unreadable(reason) => return (Vec::new(), Some(reason.clone())),
    };
    let existing: BTreeMap<String, ipnet::IpNet> = published
        .map(|l| {
            l.peers
                .iter()
                .map(|p| (p.client.clone(), p.range))
                .collect()
        })
        .unwrap_or_default();
    let ranges = match &desired.vpn {
        Some(vpn) => allocate(vpn.pool, &existing, &vpn.clients).assigned,
        None => BTreeMap::new(),
    };
    (peer_changes(published, &ranges), None)
}
