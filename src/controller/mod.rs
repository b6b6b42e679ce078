//! The in-cluster controller: poll Git, and when the configuration changed (or a resync is due) run the one
//! linear pipeline, fetch -> load -> validate -> verify -> compile -> read live -> plan -> apply -> publish, each failed step
//! reported with its reason in the status ConfigMap, an Event, the metrics and the log.
//!
//! Only the lease holder reconciles. Between polls nothing is written; a failure is retried with backoff, except
//! an invalid configuration, which waits for the next commit (retrying the same files cannot fix them).

pub mod applied;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod status;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gix::ObjectId;
use jiff::Timestamp;

use crate::apply::{ApplyOptions, Outcome, Refusal, apply, preflight};
use crate::cluster::Cluster;
use crate::compile::{CompileContext, compile};
use crate::config::load;
use crate::diagnostics::render_text;
use crate::git::{Author, Backoff, GitRemote, Snapshot};
use crate::pipeline::{PipelineError, check, plan_live};
use crate::plan::Summary;
use crate::publish::{PublishInput, publish};
use crate::sessions::directory::SessionDirectory;
use crate::sessions::publish::publish_directory;
use lease::{Election, Leadership, LeaseConfig};
use metrics::Metrics;
use status::{HeldBack, LastError, Status};

/// Why the controller cannot start; once it runs, failures are reported in the status and retried, not returned.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The HTTP endpoints cannot bind their address (in use, or not permitted).
    #[error("cannot listen on {address} for /healthz, /readyz and /metrics")]
    Listen {
        /// The address asked for (`--listen`).
        address: SocketAddr,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// The resync schedule is not a cron expression the `cron` crate parses (seconds first).
    #[error("invalid resync schedule `{schedule}`: {reason}")]
    Schedule {
        /// The expression as given (`--resync`).
        schedule: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// How a controller runs, as the flags of `tollgate controller` set it.
pub struct ControllerConfig {
    /// The repository and branch the configuration is read from and client files are pushed to.
    pub remote: GitRemote,
    /// The Settings cluster (tollgate instance) this controller reconciles.
    pub cluster: String,
    /// The controller's own namespace: its Lease, status ConfigMap and Events.
    pub namespace: String,
    /// This replica's name (the pod name in a cluster), written to the status ConfigMap and its Events.
    pub identity: String,
    /// How often the branch head is asked for.
    pub interval: Duration,
    /// When a full reconcile runs even if Git did not move (6-field cron: seconds first).
    pub resync: String,
    /// Where `/healthz`, `/readyz` and `/metrics` are served; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `None`: no election (a single replica).
    pub lease: Option<LeaseConfig>,
    /// Author and committer of the client files commits.
    pub author: Author,
    /// The push webhook receiver: where it listens and the shared secret (GitHub/Gitea HMAC key, GitLab token).
    pub webhook: Option<(SocketAddr, Vec<u8>)>,
    /// Whether a successful apply is followed by the credentials step and a push of client files.
    pub publish: bool,
    /// How apply writes (concurrency, adoption, the deletion guard); `tollgate controller` never adopts nor lifts
    /// the guard.
    pub apply: ApplyOptions,
}

/// A reconcile holds the desired and the live state (tens of thousands of objects) and drops them at the end; the
/// allocator would keep the freed pages for a while (jemalloc's decay, `dirty_decay_ms`), so an idle controller
/// would keep the peak. Hand them back to the OS now: jemalloc's `arena.<all>.purge`.
#[allow(unsafe_code)]
fn release_freed_memory() {
    // `arena.4096.purge`: 4096 is MALLCTL_ARENAS_ALL, every arena; the name is NUL-terminated.
    let name = c"arena.4096.purge";
    // SAFETY: the purge control takes and returns nothing (all four pointers null, as jemalloc's
    // NEITHER_READ_NOR_WRITE requires); it only returns unused dirty pages to the OS, touching no live allocation.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if status != 0 {
        tracing::debug!(status, "could not purge jemalloc's arenas");
    }
}

/// One failed step of the pipeline.
#[derive(Debug)]
struct Failure {
    step: &'static str,
    message: String,
    diagnostics: String,
    /// Retrying the same input cannot help (an invalid repository, a refused plan): wait for a new commit.
    permanent: bool,
    /// For a failed apply: the deletions it held back (`None`: the step came before apply, nothing changed).
    held_back: Option<Vec<HeldBack>>,
}

impl Failure {
    fn at(step: &'static str, message: impl ToString) -> Failure {
        Failure {
            step,
            message: message.to_string(),
            diagnostics: String::new(),
            permanent: false,
            held_back: None,
        }
    }
}

/// What a successful reconcile did.
struct Reconciled {
    summary: Summary,
    published_commit: Option<String>,
    held_back: Vec<HeldBack>,
}

struct Applied {
    fingerprint: String,
}

/// What the loop remembers between ticks.
struct LoopState {
    /// The head that was last handled (reconciled, or seen to change no configuration).
    seen_head: Option<ObjectId>,
    applied: Option<Applied>,
    next_resync: Timestamp,
    failures: u32,
    retry_at: Option<Instant>,
    status: Status,
}

/// The controller's loop with what it needs: the cluster connection, the configuration, the parsed resync schedule
/// and the metrics it serves.
pub struct Controller {
    cluster: Cluster,
    config: ControllerConfig,
    schedule: cron::Schedule,
    metrics: Arc<Metrics>,
}

impl Controller {
    /// Parses the resync schedule ([`ControllerError::Schedule`] when it is not cron); contacts nothing yet.
    pub fn new(cluster: Cluster, config: ControllerConfig) -> Result<Controller, ControllerError> {
        let schedule: cron::Schedule =
            config
                .resync
                .parse()
                .map_err(|e: cron::error::Error| ControllerError::Schedule {
                    schedule: config.resync.clone(),
                    reason: e.to_string(),
                })?;
        Ok(Controller {
            cluster,
            config,
            schedule,
            metrics: Arc::new(Metrics::default()),
        })
    }

    fn next_resync(&self) -> Timestamp {
        self.schedule
            .upcoming(chrono::Utc)
            .next()
            .and_then(|at| Timestamp::from_second(at.timestamp()).ok())
            .unwrap_or_else(|| Timestamp::now() + jiff::SignedDuration::from_hours(24))
    }

    /// Runs until `shutdown` resolves; then finishes or drops the step in flight (a push is atomic: a commit is
    /// either on the branch or not), releases the lease and returns.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ControllerError> {
        let ready = Arc::new(AtomicBool::new(false));
        let (address, server) = http::serve(
            self.config.listen,
            {
                let metrics = self.metrics.clone();
                Arc::new(move || metrics.encode())
            },
            ready.clone(),
            // The controller's loop reports its own failures (status, Events); the process serving is alive.
            Arc::new(|| true),
        )
        .await
        .map_err(|source| ControllerError::Listen {
            address: self.config.listen,
            source,
        })?;
        // Push notifications wake the loop at once; polling every `interval` stays the fallback.
        let poll_now = Arc::new(tokio::sync::Notify::new());
        let webhook = match &self.config.webhook {
            Some((listen, secret)) => {
                let (bound, task) = webhook::serve(
                    *listen,
                    secret.clone(),
                    &self.config.remote.branch,
                    poll_now.clone(),
                    self.metrics.clone(),
                )
                .await
                .map_err(|source| ControllerError::Listen {
                    address: *listen,
                    source,
                })?;
                tracing::info!(address = %bound, "webhook receiver started");
                Some(task)
            }
            None => None,
        };
        tracing::info!(%address, cluster = %self.config.cluster, url = %self.config.remote.url, branch = %self.config.remote.branch, "controller started");
        let election = self
            .config
            .lease
            .clone()
            .map(|lease| Election::start(self.cluster.kube(), lease));
        let mut leadership = election
            .as_ref()
            .map_or_else(Leadership::always, |e| e.leadership.clone());
        let mut state = LoopState {
            seen_head: None,
            applied: None,
            next_resync: self.next_resync(),
            failures: 0,
            retry_at: None,
            status: Status {
                cluster: self.config.cluster.clone(),
                identity: self.config.identity.clone(),
                ..Status::default()
            },
        };
        // What is applied already (by an earlier run, another replica or `tollgate apply`), until this run applies
        // something: so that `tollgate status` does not say "nothing yet" after a restart.
        if let Ok(Some(record)) = applied::read(&self.cluster.kube(), &self.config.namespace).await
            && let Some(last) = record.revisions.first()
        {
            state.status.applied_revision = last.revision.clone();
            state.status.applied_at = Some(last.at);
        }
        tokio::pin!(shutdown);
        let mut was_leader = false;
        loop {
            let leader = leadership.is_leader();
            self.metrics.leader.set(i64::from(leader));
            if leader != was_leader {
                // A new leader knows nothing of what the previous one applied: start from a full reconcile.
                state.seen_head = None;
                state.applied = None;
                was_leader = leader;
            }
            if leader {
                let mut watching = leadership.clone();
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = watching.lost() => {
                        tracing::warn!("lost the lease: the reconcile in flight was dropped");
                        continue;
                    }
                    () = self.tick(&mut state) => {}
                }
            }
            ready.store(true, Ordering::Relaxed);
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.config.interval) => {}
                () = poll_now.notified() => {}
                () = leadership.acquired(), if !leader => {}
            }
        }
        tracing::info!("shutting down");
        if let Some(election) = election {
            election.stop().await;
        }
        self.metrics.leader.set(0);
        server.abort();
        if let Some(task) = webhook {
            task.abort();
        }
        Ok(())
    }

    /// One poll: ask for the head; reconcile when the configuration changed, a resync is due, or a retry is.
    async fn tick(&self, state: &mut LoopState) {
        let now = Timestamp::now();
        let resync_due = now >= state.next_resync;
        let retry_due = state.retry_at.is_some_and(|at| Instant::now() >= at);
        if state.retry_at.is_some() && !retry_due && !resync_due {
            return;
        }
        let remote = &self.config.remote;
        let head = match tokio::task::block_in_place(|| remote.head()) {
            Ok(head) => head,
            Err(error) => {
                self.metrics.git_poll_errors.inc();
                self.fail(state, None, Failure::at("poll", &error)).await;
                return;
            }
        };
        if state
            .status
            .last_error
            .as_ref()
            .is_some_and(|e| e.step == "poll")
        {
            tracing::info!("Git answers again");
            state.status.last_error = None;
            state.retry_at = None;
            self.write_status(state).await;
        }
        if state.seen_head == Some(head) && !resync_due && !retry_due {
            return;
        }
        let snapshot = match tokio::task::block_in_place(|| remote.fetch()) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.metrics.git_poll_errors.inc();
                self.fail(state, None, Failure::at("fetch", &error)).await;
                return;
            }
        };
        let fingerprint = snapshot.config_fingerprint();
        let configuration_moved = state
            .applied
            .as_ref()
            .is_none_or(|applied| applied.fingerprint != fingerprint);
        // After a failure, any new head is worth a reconcile: a fix may restore a configuration applied before.
        let failing = state.status.last_error.is_some();
        if !configuration_moved && !resync_due && !retry_due && !failing {
            // Only other files moved (tollgate's own client file commits, a README): no access reconcile.
            tracing::debug!(head = %snapshot.commit, "the configuration did not change");
            state.seen_head = Some(snapshot.commit);
            return;
        }
        if resync_due {
            state.next_resync = self.next_resync();
        }
        let revision = snapshot.commit;
        let started = Instant::now();
        let result = self.reconcile(snapshot).await;
        release_freed_memory();
        self.metrics
            .reconcile_duration
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Reconciled {
                summary,
                published_commit,
                held_back,
            }) => {
                self.metrics.count_reconcile("success");
                self.metrics.set_revision(&revision.to_string());
                self.metrics
                    .last_success
                    .set(now.as_millisecond() as f64 / 1000.0);
                state.seen_head = Some(revision);
                state.applied = Some(Applied { fingerprint });
                state.failures = 0;
                state.retry_at = None;
                state.status.applied_revision = Some(revision.to_string());
                state.status.applied_at = Some(Timestamp::now());
                state.status.summary = Some(summary);
                state.status.held_back = held_back;
                if published_commit.is_some() {
                    state.status.published_commit = published_commit;
                }
                state.status.last_error = None;
                tracing::info!(%revision, elapsed = ?started.elapsed(), "reconciled");
                self.write_status(state).await;
            }
            Err(failure) => {
                if failure.permanent {
                    // Nothing to retry until the next commit; the previous state stays applied.
                    state.seen_head = Some(revision);
                }
                self.fail(state, Some(revision), failure).await;
            }
        }
    }

    async fn fail(&self, state: &mut LoopState, revision: Option<ObjectId>, failure: Failure) {
        let result = match failure.step {
            "validate" | "compile" => "invalid",
            "plan" | "guard" | "verify" => "refused",
            _ => "failed",
        };
        self.metrics.count_reconcile(result);
        if failure.permanent {
            state.retry_at = None;
        } else {
            state.failures = state.failures.saturating_add(1);
            let backoff =
                Duration::from_secs(1 << state.failures.min(6)).min(Duration::from_secs(60));
            state.retry_at = Some(Instant::now() + backoff);
        }
        tracing::error!(step = failure.step, revision = %revision.map(|r| r.to_string()).unwrap_or_default(), message = %failure.message, "reconcile failed");
        let message = format!("{} failed: {}", failure.step, failure.message);
        if let Some(held_back) = failure.held_back {
            state.status.held_back = held_back;
        }
        state.status.last_error = Some(LastError {
            at: Timestamp::now(),
            step: failure.step.to_owned(),
            revision: revision.map(|r| r.to_string()),
            message: failure.message,
            diagnostics: failure.diagnostics,
        });
        self.write_status(state).await;
        status::warn(
            &self.cluster.kube(),
            &self.config.namespace,
            &self.config.identity,
            "ReconcileFailed",
            &message,
        )
        .await;
    }

    async fn write_status(&self, state: &LoopState) {
        if let Err(reason) =
            status::write(&self.cluster.kube(), &self.config.namespace, &state.status).await
        {
            tracing::warn!(%reason, "cannot write the status ConfigMap");
        }
    }

    /// The pipeline, one step after the other; the first failure ends it with the step's name.
    #[allow(clippy::too_many_lines)]
    async fn reconcile(&self, snapshot: Snapshot) -> Result<Reconciled, Failure> {
        let config = &self.config;
        let revision = snapshot.commit.to_string();
        // load: the configuration files of the fetched tree, never a working tree.
        let files = tokio::task::block_in_place(|| config.remote.read_config(&snapshot))
            .map_err(|e| Failure::at("fetch", e))?;
        let loaded = load(files);
        // validate: an invalid repository applies nothing, and says why with files and lines.
        let now = Timestamp::now();
        let checked = match check(&loaded, now) {
            Ok(checked) => checked,
            Err(PipelineError::Invalid(diagnostics)) => {
                return Err(Failure {
                    step: "validate",
                    message: format!(
                        "the repository is invalid ({} error(s)); nothing was applied",
                        diagnostics
                            .iter()
                            .filter(|d| d.severity == crate::diagnostics::Severity::Error)
                            .count()
                    ),
                    diagnostics: render_text(&diagnostics),
                    permanent: true,
                    held_back: None,
                });
            }
            Err(other) => return Err(Failure::at("validate", other)),
        };
        // The files' text is only needed for diagnostics, which validation has resolved: free it before the
        // states are built, so that a large reconcile's peak does not hold it too.
        drop(loaded);
        // verify: the commit that made this configuration must be signed by a signer the last applied revision
        // allowed (Settings.spec.verify, recorded in the cluster), so a commit cannot add its own signer.
        let record = applied::read(&self.cluster.kube(), &config.namespace)
            .await
            .map_err(|e| Failure::at("verify", e))?;
        let history = crate::git::FetchedHistory {
            remote: &config.remote,
            snapshot: &snapshot,
        };
        let verified = tokio::task::block_in_place(|| {
            crate::pipeline::verify_commit(record.as_ref(), &checked.model, &history, false, now)
        })
        .map_err(|e| {
            let permanent = !matches!(e, crate::pipeline::CommitRefused::History(_));
            if permanent {
                self.metrics.unverified_commits.inc();
            }
            Failure {
                permanent,
                ..Failure::at("verify", e)
            }
        })?;
        // compile: pure.
        let desired = compile(
            &checked.model,
            &CompileContext {
                cluster: &config.cluster,
                now,
                revision: Some(&revision),
            },
        )
        .map_err(|e| Failure {
            permanent: true,
            ..Failure::at("compile", e)
        })?;
        // read live + plan.
        let (live, plan) = plan_live(&self.cluster, &desired, config.publish)
            .await
            .map_err(|e| Failure::at("read", e))?;
        // The controller never adopts and never lifts the deletion guard: those need a person (`tollgate apply`).
        preflight(&plan, &config.apply).map_err(|e| {
            let step = match e {
                Refusal::DeletionGuard(_) => "guard",
                _ => "plan",
            };
            Failure {
                permanent: true,
                ..Failure::at(step, e)
            }
        })?;
        // apply.
        tracing::info!(%revision, create = plan.summary.create, update = plan.summary.update, replace = plan.summary.replace, delete = plan.summary.delete, "applying");
        let report = apply(
            &self.cluster,
            &plan,
            &desired,
            &live,
            &config.apply,
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .map_err(|e| Failure::at("apply", e))?;
        for (action, count) in [
            ("created", report.summary.created),
            ("updated", report.summary.updated),
            ("replaced", report.summary.replaced),
            ("deleted", report.summary.deleted),
            ("failed", report.summary.failed),
        ] {
            self.metrics
                .objects
                .get_or_create(&metrics::ActionLabel {
                    action: action.to_owned(),
                })
                .inc_by(count as u64);
        }
        let held_back: Vec<HeldBack> = report
            .objects
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::HeldBack | Outcome::Skipped))
            .map(|o| HeldBack {
                object: o.object.to_string(),
                reason: o.reason.clone().unwrap_or_default(),
            })
            .collect();
        if !report.succeeded() {
            return Err(Failure {
                held_back: Some(held_back),
                ..Failure::at(
                    "apply",
                    format!(
                        "{} object(s) failed; {} deletion(s) held back until every write succeeds: {}",
                        report.summary.failed,
                        report.summary.skipped,
                        report.failures().join("; ")
                    ),
                )
            });
        }
        // record: what was applied, and whose signatures the next commit needs (this revision's signers).
        let record = record.unwrap_or_default().after(
            checked.model.signer_policy(now),
            applied::AppliedRevision {
                revision: Some(revision.clone()),
                configured_by: verified.configured_by,
                at: Timestamp::now(),
                by: format!("controller {}", config.identity),
                signed_by: verified.signed_by,
            },
        );
        if let Some(record) = record
            && let Err(reason) =
                applied::write(&self.cluster.kube(), &config.namespace, &record).await
        {
            return Err(Failure::at(
                "record",
                format!(
                    "applied, but the record of what was applied cannot be written: {}",
                    crate::cluster::describe(&reason)
                ),
            ));
        }
        // sessions: the session gateway follows the users, keys and environments of what was just applied.
        let directory = SessionDirectory::of(&checked.model, &config.cluster, now);
        publish_directory(
            &self.cluster,
            &checked.model.settings.clients_namespace,
            &directory,
        )
        .await
        .map_err(|e| {
            Failure::at(
                "sessions",
                format!(
                    "applied, but the session directory cannot be written: {}",
                    crate::cluster::describe(&e)
                ),
            )
        })?;
        // The live state, the plan and the report are done with; publish needs only the model and the desired
        // state, so free them before it allocates its own.
        let summary = plan.summary.clone();
        drop((live, plan, report));
        // publish: credentials, then one commit of client files on top of this head.
        let mut published_commit = None;
        if config.publish {
            tracing::info!(%revision, "publishing client files");
            let published = publish(
                &self.cluster,
                PublishInput {
                    model: &checked.model,
                    desired: &desired,
                    cluster_name: &config.cluster,
                    now,
                    remote: &config.remote,
                    base: snapshot,
                    author: &config.author,
                    backoff: Backoff::default(),
                    concurrency: config.apply.concurrency,
                    progress: indicatif::ProgressBar::hidden(),
                },
            )
            .await
            .map_err(|e| Failure::at("publish", e))?;
            self.metrics
                .tokens_issued
                .inc_by(published.tokens_issued as u64);
            if published.commit.is_some() {
                self.metrics
                    .artifacts_published
                    .inc_by(published.changes.len() as u64);
            }
            published_commit = published.commit.clone();
            if !published.failures.is_empty() {
                return Err(Failure::at(
                    "publish",
                    published
                        .failures
                        .iter()
                        .map(|f| format!("client {}: {}", f.client, f.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
            }
        }
        // access tests: the repository's, asked of the cluster's own authorizer now that its objects are applied;
        // one that fails only there comes from the cluster (a hand-made binding, an edited role) and stands as the
        // reconcile's error until it is gone. Not allowed to ask (an older deploy/rbac.yaml): said in the log.
        match crate::pipeline::live_access_tests(&self.cluster, &checked.model, &desired, now).await
        {
            Ok(failures) if failures.is_empty() => {}
            Ok(failures) => {
                return Err(Failure {
                    step: "access-tests",
                    message: format!(
                        "applied, but the cluster's authorizer answers {} access test question(s) otherwise: it \
                         holds access the repository does not give, or lacks some it gives",
                        failures.len()
                    ),
                    diagnostics: failures
                        .iter()
                        .map(|f| {
                            format!(
                                "error[access-test-failed-in-cluster]: {}: {}: {}\n",
                                f.file, f.path, f.message
                            )
                        })
                        .collect(),
                    permanent: false,
                    held_back: None,
                });
            }
            Err(error) if crate::cluster::status_code(&error) == Some(403) => {
                tracing::warn!(%error, "the access tests were not asked of the cluster's authorizer (create subjectaccessreviews is needed)");
            }
            Err(error) => return Err(Failure::at("access-tests", error)),
        }
        Ok(Reconciled {
            summary,
            published_commit,
            held_back,
        })
    }
}
