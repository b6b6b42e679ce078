//! The cluster's record of what was applied: the `tollgate-applied` ConfigMap in the controller's namespace, which
//! the controller and `tollgate apply` write after every apply and read before the next. It holds the revisions
//! applied and when (so "applied" and "committed" can be told apart), and the signers the last applied revision's
//! `Settings.spec.verify` allowed: the next commit's signature is verified against them, never against the
//! commit's own Settings, so a commit cannot add its own signer.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde::{Deserialize, Serialize};

use crate::cluster::describe;
use crate::signing::SignerPolicy;

/// The ConfigMap, in the controller's namespace, that holds the [`Applied`] record as JSON under `applied.json`.
pub const APPLIED_CONFIGMAP: &str = "tollgate-applied";
const APPLIED_KEY: &str = "applied.json";
/// How many applied revisions the record keeps, newest first.
pub const KEPT_REVISIONS: usize = 100;

/// What was last applied to a cluster, and who may sign what comes next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Applied {
    /// The signers the last applied revision allowed; `None`: it set no `verify`, any commit may be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signers: Option<SignerPolicy>,
    /// The same signers as Git's allowed signers file, for `git log --show-signature` by hand.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub allowed_signers: String,
    /// The applies, newest first, at most [`KEPT_REVISIONS`]; required, so that an edited record that lost its
    /// fields does not read as "nothing applied".
    pub revisions: Vec<AppliedRevision>,
}

/// One apply of a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppliedRevision {
    /// The commit applied (full id), or what `tollgate apply --revision` named; `None` for a working tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The commit that made the revision's configuration ([`crate::git::configuring_commit`]) when it was
    /// verified: a later apply of the same configuration (a resync) needs no new verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_by: Option<String>,
    /// When the apply finished.
    pub at: Timestamp,
    /// Who applied it: `controller <identity>` or `tollgate apply`.
    pub by: String,
    /// Whose signature the revision carried, when verified (`user alice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

impl Applied {
    /// The record after an apply of a revision whose Settings allow `signers`: `revision` in front; `None` when
    /// the record already says so (the same revision again, as on a resync: no write).
    pub fn after(
        mut self,
        signers: Option<SignerPolicy>,
        revision: AppliedRevision,
    ) -> Option<Applied> {
        let unchanged = self.signers == signers
            && self.revisions.first().is_some_and(|last| {
                last.revision == revision.revision && last.configured_by == revision.configured_by
            });
        if unchanged {
            return None;
        }
        self.allowed_signers = signers
            .as_ref()
            .map(SignerPolicy::allowed_signers)
            .unwrap_or_default();
        self.signers = signers;
        self.revisions.insert(0, revision);
        self.revisions.truncate(KEPT_REVISIONS);
        Some(self)
    }
}

/// Why the record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AppliedReadError {
    /// The API server refused or failed the GET.
    #[error("cannot read ConfigMap {namespace}/{APPLIED_CONFIGMAP}: {reason}")]
    Read {
        /// The controller's namespace.
        namespace: String,
        /// The API server's answer.
        reason: String,
    },
    /// The ConfigMap exists but does not hold a record tollgate wrote.
    #[error("ConfigMap {namespace}/{APPLIED_CONFIGMAP} does not hold tollgate's record: {reason}")]
    Unreadable {
        /// The controller's namespace.
        namespace: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads the record of `namespace` (one GET); `None` when nothing was ever applied there (no ConfigMap). Parsed
/// strictly (unknown fields and missing ones are errors).
///
/// # Errors
/// [`AppliedReadError`]: the GET failed, or the ConfigMap holds no record. Never read as "nothing applied": that
/// would skip the signature check; the caller refuses to apply.
pub async fn read(
    client: &kube::Client,
    namespace: &str,
) -> Result<Option<Applied>, AppliedReadError> {
    let Some(configmap) = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(APPLIED_CONFIGMAP)
        .await
        .map_err(|e| AppliedReadError::Read {
            namespace: namespace.into(),
            reason: describe(&e),
        })?
    else {
        return Ok(None);
    };
    let text = configmap
        .data
        .as_ref()
        .and_then(|data| data.get(APPLIED_KEY))
        .ok_or_else(|| AppliedReadError::Unreadable {
            namespace: namespace.into(),
            reason: format!("no `{APPLIED_KEY}`"),
        })?;
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| AppliedReadError::Unreadable {
            namespace: namespace.into(),
            reason: e.to_string(),
        })
}

/// Writes the record (server-side apply of the whole ConfigMap by the field manager `tollgate`).
///
/// # Errors
/// The API server's answer (404 when the namespace does not exist).
pub async fn write(
    client: &kube::Client,
    namespace: &str,
    applied: &Applied,
) -> Result<(), kube::Error> {
    super::status::apply_json_configmap(client, namespace, APPLIED_CONFIGMAP, APPLIED_KEY, applied)
        .await
}
