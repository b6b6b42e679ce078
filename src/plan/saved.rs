//! A plan saved with `plan --out FILE` and applied later with `apply FILE`, as Terraform's saved plans: it holds
//! the desired objects it was computed from and a fingerprint of the live state it was computed against, so that
//! apply writes exactly what was reviewed, and refuses once the cluster has moved.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::objects::{DesiredState, Manifest, ObjectKey};
use crate::plan::Plan;
use crate::validate::model::DeletionGuard;

/// Version of the saved plan file; apply refuses any other.
pub const SAVED_PLAN_FORMAT_VERSION: u32 = 1;
const SAVED_PLAN_KIND: &str = "TollgateSavedPlan";

/// A plan as `plan --out FILE` writes it (JSON), with everything `apply FILE` needs to write exactly that plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedPlan {
    /// [`SAVED_PLAN_FORMAT_VERSION`]; [`SavedPlan::parse`] checks it before anything else.
    pub format_version: u32,
    /// `TollgateSavedPlan`, so that the file says what it is.
    pub kind: String,
    /// The cluster (tollgate instance) the plan is for.
    pub cluster: String,
    /// The API server the plan was computed against; apply refuses another.
    pub server: String,
    /// [`crate::cluster::fingerprint`] of the live state the plan was computed against.
    pub live_fingerprint: String,
    /// Settings' `spec.clientsNamespace` when the plan was computed.
    pub clients_namespace: String,
    /// Settings' `spec.deletionGuard` when the plan was computed; apply checks the recomputed plan against it.
    pub deletion_guard: DeletionGuard,
    /// Every desired object, in apply order.
    pub objects: Vec<Value>,
    /// The plan as computed then, for reviewers; apply recomputes it from `objects` and the live state.
    pub plan: Value,
}

/// Why a saved plan cannot be read, or no longer applies.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// The file cannot be read.
    #[error("cannot read the saved plan {}", path.display())]
    Read {
        /// The saved plan's file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON, or not in the shape of a saved plan.
    #[error("{} is not a saved tollgate plan", path.display())]
    Parse {
        /// The saved plan's file.
        path: PathBuf,
        /// What serde_json reported, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The file's `formatVersion` is not [`SAVED_PLAN_FORMAT_VERSION`].
    #[error("{} is a saved plan of format version {found}; this tollgate reads version {SAVED_PLAN_FORMAT_VERSION}: plan again", path.display())]
    Version {
        /// The saved plan's file.
        path: PathBuf,
        /// The file's `formatVersion`; 0 when it is missing or not a whole number.
        found: u32,
    },
    /// An entry of `objects` lacks an `apiVersion` and `kind` tollgate manages, or a `metadata.name`.
    #[error("{}: object {index} is not a Kubernetes object of a kind tollgate manages", path.display())]
    Object {
        /// The saved plan's file.
        path: PathBuf,
        /// The entry's 0-based position in `objects`.
        index: usize,
    },
    /// The plan was computed against another API server than the one apply is connected to.
    #[error(
        "the saved plan {} was computed against {saved}, not {server}; nothing was written",
        path.display()
    )]
    OtherServer {
        /// The saved plan's file.
        path: PathBuf,
        /// The API server URL in the file.
        saved: String,
        /// The API server URL apply is connected to.
        server: String,
    },
    /// The live objects changed (another writer, a hand edit) since the plan was saved.
    #[error(
        "the cluster has changed since the plan {} was saved (live fingerprint {saved}, now {now}); nothing was \
         written: plan again",
        path.display()
    )]
    Stale {
        /// The saved plan's file.
        path: PathBuf,
        /// The live fingerprint in the file.
        saved: String,
        /// The fingerprint of the live state apply read.
        now: String,
    },
}

impl SavedPlan {
    /// Saves `plan` with the `desired` state it was computed from, the API `server` and the
    /// [`crate::cluster::fingerprint`] of the live state it was computed against.
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
            objects: desired.objects.values().map(Manifest::value).collect(),
            plan: serde_json::to_value(plan).expect("a plan serializes to JSON"),
        }
    }

    /// The file's text: pretty-printed JSON ending in a newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a saved plan serializes to JSON");
        text.push('\n');
        text
    }

    /// Reads the text of a saved plan; `path` names it in errors (the file is read by [`crate::files`]).
    pub fn parse(path: &Path, text: &str) -> Result<SavedPlan, SavedPlanError> {
        // The version is checked before the rest, so that a newer file says so instead of failing on a field.
        let version: Value =
            serde_json::from_str(text).map_err(|source| SavedPlanError::Parse {
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
            objects.insert(key, Manifest::new(manifest));
        }
        Ok(DesiredState {
            cluster: self.cluster.clone(),
            clients_namespace: self.clients_namespace.clone(),
            deletion_guard: self.deletion_guard,
            objects,
            // Peers are the credentials step's, which a saved plan does not carry.
            vpn: None,
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
