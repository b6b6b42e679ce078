//! The publish step that follows a successful apply: credentials (tokens, keys, the publish index) -> one commit of
//! client files (and the session gateway's `known_hosts`) on top of the fetched head -> push -> forget the clients
//! that are gone. Used by
//! `tollgate apply --publish` and the controller.

use jiff::Timestamp;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::credentials::CredentialsError;
use crate::credentials::index::ChangeReason;
use crate::credentials::reconcile::{
    ClientChange, ClientFailure, CredentialsInput, forget_clients, reconcile_credentials,
};
use crate::git::{Author, Backoff, GitError, GitRemote, Published, Snapshot};
use crate::objects::DesiredState;
use crate::sessions::publish::{known_hosts_edit, known_hosts_path};
use crate::validate::model::AccessModel;

/// Why the publish step failed as a whole; problems of single clients are in [`PublishReport::failures`] instead.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading or writing the credentials state in the cluster failed: before the commit, or when forgetting gone
    /// clients after the push.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Committing or pushing the client files failed, or the branch kept moving through every retry.
    #[error(transparent)]
    Git(#[from] GitError),
}

/// What the publish step did, for the apply report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishReport {
    /// The commit that was pushed; `None` when every client file was already current.
    pub commit: Option<String>,
    /// How many pushes it took (more than 1 when the branch moved meanwhile); 0 when nothing was pushed.
    pub push_attempts: u32,
    /// Every client file written or removed, and why.
    pub changes: Vec<ClientChange>,
    /// Clients that could not be served in this run; they do not hold back the others.
    pub failures: Vec<ClientFailure>,
    /// Tokens the TokenRequest API issued in this run.
    pub tokens_issued: usize,
    /// Clients whose ServiceAccount was re-created, voiding every token handed out before.
    pub revoked: Vec<String>,
}

/// What [`publish`] works from: the applied revision's model and objects, and where the client files go.
pub struct PublishInput<'a> {
    /// The validated repository that was just applied.
    pub model: &'a AccessModel,
    /// The objects compiled from it; a revoked client's ServiceAccount is re-created from its manifest.
    pub desired: &'a DesiredState,
    /// The Settings cluster (tollgate instance) whose client files are published.
    pub cluster_name: &'a str,
    /// When grants, users and clients are evaluated (`--now` or the clock); tokens always use the real clock.
    pub now: Timestamp,
    /// The Git remote and branch the commit is pushed to.
    pub remote: &'a GitRemote,
    /// The head the configuration was read from; the commit goes on top of it (or of a newer head, if it moved).
    pub base: Snapshot,
    /// Author and committer of the client files commit.
    pub author: &'a Author,
    /// How long to wait between rejected pushes, and how many pushes to try.
    pub backoff: Backoff,
    /// API requests in flight at once for tokens and state Secrets (`--concurrency`).
    pub concurrency: std::num::NonZeroUsize,
    /// Counts the clients served; `ProgressBar::hidden()` shows nothing.
    pub progress: indicatif::ProgressBar,
}

/// Runs the credentials step, commits the client files it changed in one commit on top of `input.base`, pushes it
/// (on a moved branch: fetch, rebuild, retry with backoff; never force), then forgets the clients that are gone.
/// Per-client problems land in the report; `Err` only when the state I/O or Git fails. Git blocks in
/// `block_in_place`, so this needs tokio's multi-threaded runtime.
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
            concurrency: input.concurrency,
            progress: &input.progress,
        },
    )
    .await;
    input.progress.finish_and_clear();
    let mut outcome = outcome?;
    // The session gateway's known_hosts line goes in the same commit as the client files, when it changed.
    let known_hosts = known_hosts_path(&input.model.settings.artifacts_path, input.cluster_name);
    if let Some(edit) = known_hosts_edit(
        cluster,
        &input.model.settings.clients_namespace,
        &known_hosts,
        input.cluster_name,
        &input.base.files,
    )
    .await
    {
        outcome.edits.push(edit);
        outcome.changes.push(ClientChange {
            client: "known_hosts".to_owned(),
            path: known_hosts,
            reason: ChangeReason::SessionGatewayHostKey,
        });
    }
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
