//! What the controller tells people: the `tollgate-status` ConfigMap in its namespace (which revision is applied,
//! when, the plan summary, the last error with its diagnostics), read back by `tollgate status`, and a Warning
//! Event on that ConfigMap for every failed reconcile (`kubectl get events` shows them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Event, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde::{Deserialize, Serialize};

use crate::cluster::describe;
use crate::plan::Summary;

/// The ConfigMap, in the controller's namespace, that holds its [`Status`] as JSON under `status.json`.
pub const STATUS_CONFIGMAP: &str = "tollgate-status";
const STATUS_KEY: &str = "status.json";

/// What the controller last did, as it writes it to the status ConfigMap and `tollgate status` reads it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The Settings cluster (tollgate instance) the controller reconciles.
    pub cluster: String,
    /// Which replica wrote this status.
    pub identity: String,
    /// The commit whose configuration is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_revision: Option<String>,
    /// When the reconcile of that commit finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<Timestamp>,
    /// The summary of the last applied plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// The last client file commit pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_commit: Option<String>,
    /// The last failure (cleared by a success), with the revision it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// Deletions the last apply left for a person (Namespaces: `tollgate apply --allow-namespace-deletion`),
    /// shown on every run until they clear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<HeldBack>,
}

/// A deletion the controller did not make, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldBack {
    /// The object, as `Kind namespace/name`.
    pub object: String,
    /// Why it was held back and what releases it.
    pub reason: String,
}

/// A failed step of the controller's loop, as the status shows it until the next success.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    /// When the step failed.
    pub at: Timestamp,
    /// The pipeline step that failed: `poll`, `fetch`, `validate`, `compile`, `read`, `plan`, `apply`, `publish`, `access-tests`.
    pub step: String,
    /// The commit being reconciled; absent when Git could not be polled or fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// What went wrong, as the log and the Warning Event say it.
    pub message: String,
    /// For an invalid repository: every diagnostic with its file and line, as `tollgate validate` prints them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub diagnostics: String,
}

impl Status {
    /// As `tollgate status` prints it.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "cluster:   {} (reported by {})",
            self.cluster, self.identity
        );
        match (&self.applied_revision, &self.applied_at) {
            (Some(revision), Some(at)) => {
                let _ = writeln!(out, "applied:   {revision} at {at}");
            }
            _ => {
                let _ = writeln!(out, "applied:   nothing yet");
            }
        }
        if let Some(summary) = &self.summary {
            let _ = writeln!(
                out,
                "last plan: {} to create, {} to update, {} to replace, {} to delete, {} unchanged",
                summary.create, summary.update, summary.replace, summary.delete, summary.unchanged
            );
        }
        if let Some(commit) = &self.published_commit {
            let _ = writeln!(out, "published: client files in {commit}");
        }
        if !self.held_back.is_empty() {
            let _ = writeln!(out, "held back: {} deletion(s)", self.held_back.len());
            for held in &self.held_back {
                let _ = writeln!(out, "  {}: {}", held.object, held.reason);
            }
        }
        match &self.last_error {
            None => {
                let _ = writeln!(out, "error:     none");
            }
            Some(error) => {
                let _ = writeln!(
                    out,
                    "error:     {} failed at {}{}: {}",
                    error.step,
                    error.at,
                    error
                        .revision
                        .as_deref()
                        .map(|r| format!(" (revision {r})"))
                        .unwrap_or_default(),
                    error.message
                );
                out.push_str(&error.diagnostics);
            }
        }
        out
    }
}

/// Why [`read`] found no status to show.
#[derive(Debug, thiserror::Error)]
pub enum StatusReadError {
    /// The GET of the status ConfigMap failed (RBAC, connectivity).
    #[error("cannot read {namespace}/{STATUS_CONFIGMAP}: {reason}")]
    Read {
        /// The namespace asked about.
        namespace: String,
        /// The API server's answer.
        reason: String,
    },
    /// There is no status ConfigMap: no controller has written one in that namespace.
    #[error(
        "{namespace}/{STATUS_CONFIGMAP} does not exist: is the controller running in that namespace?"
    )]
    Missing {
        /// The namespace asked about.
        namespace: String,
    },
    /// The ConfigMap has no `status.json`, or it is not JSON of a status this tollgate reads.
    #[error("{namespace}/{STATUS_CONFIGMAP} holds no readable status: {reason}")]
    Unreadable {
        /// The namespace asked about.
        namespace: String,
        /// The missing key, or the JSON error.
        reason: String,
    },
}

/// Writes the status (server-side apply of the whole ConfigMap by the field manager `tollgate`).
pub async fn write(client: &kube::Client, namespace: &str, status: &Status) -> Result<(), String> {
    apply_json_configmap(client, namespace, STATUS_CONFIGMAP, STATUS_KEY, status)
        .await
        .map_err(|e| describe(&e))
}

/// Server-side applies (field manager `tollgate`) the ConfigMap `name` in `namespace` holding `value` as pretty
/// JSON under `key`, labelled as tollgate's: how the controller and the gateway publish their reports.
///
/// # Errors
/// The API server's answer.
pub async fn apply_json_configmap(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
    value: &impl serde::Serialize,
) -> Result<(), kube::Error> {
    let configmap = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                crate::objects::MANAGED_BY_LABEL.to_owned(),
                crate::objects::MANAGED_BY_VALUE.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            key.to_owned(),
            serde_json::to_string_pretty(value).expect("a report serializes"),
        )])),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply(crate::objects::FIELD_MANAGER).force(),
            &Patch::Apply(&configmap),
        )
        .await
        .map(|_| ())
}

/// Reads the status the controller of `namespace` wrote (one GET), for `tollgate status`.
pub async fn read(client: &kube::Client, namespace: &str) -> Result<Status, StatusReadError> {
    let configmap = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(STATUS_CONFIGMAP)
        .await
        .map_err(|e| StatusReadError::Read {
            namespace: namespace.into(),
            reason: describe(&e),
        })?
        .ok_or_else(|| StatusReadError::Missing {
            namespace: namespace.into(),
        })?;
    let text = configmap
        .data
        .as_ref()
        .and_then(|data| data.get(STATUS_KEY))
        .ok_or_else(|| StatusReadError::Unreadable {
            namespace: namespace.into(),
            reason: format!("no `{STATUS_KEY}`"),
        })?;
    serde_json::from_str(text).map_err(|e| StatusReadError::Unreadable {
        namespace: namespace.into(),
        reason: e.to_string(),
    })
}

/// A Warning Event about the status ConfigMap, so `kubectl get events -n NAMESPACE` shows failed reconciles.
pub async fn warn(
    client: &kube::Client,
    namespace: &str,
    identity: &str,
    reason: &str,
    message: &str,
) {
    let now = Time(Timestamp::now());
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{STATUS_CONFIGMAP}.")),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("ConfigMap".into()),
            name: Some(STATUS_CONFIGMAP.into()),
            namespace: Some(namespace.into()),
            ..ObjectReference::default()
        },
        reason: Some(reason.into()),
        message: Some(message.chars().take(1024).collect()),
        type_: Some("Warning".into()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        reporting_component: Some("tollgate".into()),
        reporting_instance: Some(identity.into()),
        ..Event::default()
    };
    if let Err(e) = Api::<Event>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &event)
        .await
    {
        tracing::warn!(reason = %describe(&e), "cannot record an event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_human_view_shows_revision_plan_and_error() {
        let status = Status {
            cluster: "prod".into(),
            identity: "tollgate-7d9f-abcde".into(),
            applied_revision: Some("4f1c2a9".into()),
            applied_at: Some("2026-11-22T10:00:00Z".parse().expect("timestamp")),
            summary: Some(Summary {
                create: 2,
                update: 1,
                unchanged: 40,
                ..Summary::default()
            }),
            published_commit: Some("9e8d7c6".into()),
            last_error: Some(LastError {
                at: "2026-11-22T10:05:00Z".parse().expect("timestamp"),
                step: "validate".into(),
                revision: Some("b3a4c5d".into()),
                message: "the repository is invalid (1 error(s)); nothing was applied".into(),
                diagnostics:
                    "error[unknown-field]: users/mallory.yaml:6:3: spec.emial: unknown field\n"
                        .into(),
            }),
            held_back: vec![HeldBack {
                object: "Namespace sessions-old".into(),
                reason: "held back: deleting a Namespace deletes every object in it; run `tollgate apply \
                         --allow-namespace-deletion` to delete it"
                    .into(),
            }],
        };
        insta::assert_snapshot!(status.human());
        let json = serde_json::to_string(&status).expect("json");
        let back: Status = serde_json::from_str(&json).expect("reads back");
        assert_eq!(
            back, status,
            "`tollgate status --json` reads what the controller writes"
        );
    }
}
