//! The publish step that follows a successful apply: credentials (tokens, keys, the publish index) -> one commit of
//! client files on top of the fetched head -> push -> forget the clients that are gone. Used by
//! `tollgate apply --publish` and the controller.

use jiff::Timestamp;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::credentials::reconcile::{
    ClientChange, ClientFailure, CredentialsError, CredentialsInput, forget_clients,
    reconcile_credentials,
};
use crate::git::{Author, Backoff, GitError, GitRemote, Published, Snapshot};
use crate::objects::DesiredState;
use crate::validate::model::AccessModel;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// What the publish step did, for the apply report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishReport {
    /// The commit that was pushed; `None` when every client file was already current.
    pub commit: Option<String>,
    pub push_attempts: u32,
    pub changes: Vec<ClientChange>,
    pub failures: Vec<ClientFailure>,
    pub tokens_issued: usize,
    pub revoked: Vec<String>,
}

pub struct PublishInput<'a> {
    pub model: &'a AccessModel,
    pub desired: &'a DesiredState,
    pub cluster_name: &'a str,
    pub now: Timestamp,
    pub remote: &'a GitRemote,
    /// The head the configuration was read from; the commit goes on top of it (or of a newer head, if it moved).
    pub base: Snapshot,
    pub author: &'a Author,
    pub backoff: Backoff,
}

pub async fn publish(
    cluster: &Cluster,
    input: PublishInput<'_>,
) -> Result<PublishReport, PublishError> {
    let outcome = reconcile_credentials(
        cluster,
        &CredentialsInput {
            model: input.model,
            desired: input.desired,
            cluster: input.cluster_name,
            now: input.now,
            clock: Timestamp::now(),
            tree: &input.base.files,
        },
    )
    .await?;
    let mut report = PublishReport {
        commit: None,
        push_attempts: 0,
        changes: outcome.changes.clone(),
        failures: outcome.failures.clone(),
        tokens_issued: outcome.tokens_issued,
        revoked: outcome.revoked.clone(),
    };
    if !outcome.edits.is_empty() {
        let message = outcome.commit_message(input.cluster_name);
        // gix and `git push` block; keep them off the async workers' toes.
        let published = tokio::task::block_in_place(|| {
            input.remote.publish(
                input.base,
                &outcome.edits,
                &message,
                input.author,
                input.backoff,
            )
        })?;
        if let Published::Pushed { commit, attempts } = published {
            report.commit = Some(commit.to_string());
            report.push_attempts = attempts;
        }
    }
    // Only now, with the removal of their files pushed, may the gone clients' ranges return to the pool.
    forget_clients(cluster, input.model, input.cluster_name, &outcome.forget).await?;
    Ok(report)
}
