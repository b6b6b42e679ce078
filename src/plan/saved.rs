//! A plan saved with `plan --out FILE` and applied later with `apply FILE`, as Terraform's saved plans: it holds
//! the desired objects it was computed from and a fingerprint of the live state it was computed against, so that
//! apply writes exactly what was reviewed, and refuses once the cluster has moved.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::objects::{DesiredState, ObjectKey};
use crate::plan::Plan;
use crate::validate::model::DeletionGuard;

/// Version of the saved plan file; apply refuses any other.
pub const SAVED_PLAN_FORMAT_VERSION: u32 = 1;
const SAVED_PLAN_KIND: &str = "TollgateSavedPlan";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedPlan {
    pub format_version: u32,
    pub kind: String,
    pub cluster: String,
    /// The API server the plan was computed against; apply refuses another.
    pub server: String,
    /// [`crate::cluster::fingerprint`] of the live state the plan was computed against.
    pub live_fingerprint: String,
    pub clients_namespace: String,
    pub deletion_guard: DeletionGuard,
    /// Every desired object, in apply order.
    pub objects: Vec<Value>,
    /// The plan as computed then, for reviewers; apply recomputes it from `objects` and the live state.
    pub plan: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the saved plan {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a saved tollgate plan: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} is a saved plan of format version {found}; this tollgate reads version {SAVED_PLAN_FORMAT_VERSION}: plan again", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("{}: object {index} is not a Kubernetes object of a kind tollgate manages", path.display())]
    Object { path: PathBuf, index: usize },
    #[error(
        "the saved plan {} was computed against {saved}, not {server}; nothing was written",
        path.display()
    )]
    OtherServer {
        path: PathBuf,
        saved: String,
        server: String,
    },
    #[error(
        "the cluster has changed since the plan {} was saved (live fingerprint {saved}, now {now}); nothing was \
         written: plan again",
        path.display()
    )]
    Stale {
        path: PathBuf,
        saved: String,
        now: String,
    },
}

impl SavedPlan {
    pub fn new(
        desired: &DesiredState,
        plan: &Plan,
        server: &str,
        live_fingerprint: String,
    ) -> Self {
        SavedPlan {
            format_version: SAVED_PLAN_FORMAT_VERSION,
            kind: SAVED_PLAN_KIND.to_owned(),
            cluster: desired.cluster.clone(),
            server: server.to_owned(),
            live_fingerprint,
            clients_namespace: desired.clients_namespace.clone(),
            deletion_guard: desired.deletion_guard,
            objects: desired.objects.values().cloned().collect(),
            plan: serde_json::to_value(plan).expect("a plan serializes to JSON"),
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a saved plan serializes to JSON");
        text.push('\n');
        text
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
            path: path.to_owned(),
            source,
        })?;
        // The version is checked before the rest, so that a newer file says so instead of failing on a field.
        let version: Value =
            serde_json::from_str(&text).map_err(|source| SavedPlanError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let found = version["formatVersion"].as_u64().unwrap_or(0);
        if found != u64::from(SAVED_PLAN_FORMAT_VERSION) {
            return Err(SavedPlanError::Version {
                path: path.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(version).map_err(|source| SavedPlanError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The desired state the plan was computed from.
    pub fn desired(&self, path: &Path) -> Result<DesiredState, SavedPlanError> {
        let mut objects = std::collections::BTreeMap::new();
        for (index, manifest) in self.objects.iter().enumerate() {
            let key = ObjectKey::of_manifest(manifest).ok_or_else(|| SavedPlanError::Object {
                path: path.to_owned(),
                index,
            })?;
            objects.insert(key, manifest.clone());
        }
        Ok(DesiredState {
            cluster: self.cluster.clone(),
            clients_namespace: self.clients_namespace.clone(),
            deletion_guard: self.deletion_guard,
            objects,
        })
    }

    /// Refuses when the plan was computed against another server or another live state.
    pub fn check_current(
        &self,
        path: &Path,
        server: &str,
        live_fingerprint: &str,
    ) -> Result<(), SavedPlanError> {
        if self.server != server {
            return Err(SavedPlanError::OtherServer {
                path: path.to_owned(),
                saved: self.server.clone(),
                server: server.to_owned(),
            });
        }
        if self.live_fingerprint != live_fingerprint {
            return Err(SavedPlanError::Stale {
                path: path.to_owned(),
                saved: self.live_fingerprint.clone(),
                now: live_fingerprint.to_owned(),
            });
        }
        Ok(())
    }
}
