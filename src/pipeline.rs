//! The pipeline stitched together: load -> validate -> compile -> (read live) -> plan, for the CLI, tests and
//! benchmarks. Each step's failure says which step failed and why. Only `plan_live` touches the cluster.

use jiff::Timestamp;

use crate::cluster::{Cluster, Labelled, ReadError};
use crate::compile::{CompileContext, CompileError, compile};
use crate::config::LoadedRepository;
use crate::diagnostics::{ResolvedDiagnostic, resolve_all};
use crate::objects::ObjectKind;
use crate::objects::{DesiredState, LiveState};
use crate::plan::{Action, Against, Plan, plan};
use crate::validate::model::AccessModel;
use crate::validate::validate;

/// Why the pipeline stopped before a plan.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Validation found errors: every diagnostic of the run, errors and warnings, resolved to file:line:column.
    #[error("the repository is invalid ({} error(s)); nothing was planned or applied", .0.iter().filter(|d| d.severity == crate::diagnostics::Severity::Error).count())]
    Invalid(Vec<ResolvedDiagnostic>),
    /// The model cannot be compiled for the cluster asked for.
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// Why a fetched commit may not be applied.
#[derive(Debug, thiserror::Error)]
pub enum CommitRefused {
    /// Its signature does not satisfy the signers the last applied revision allowed.
    #[error(transparent)]
    Unverified(#[from] crate::signing::VerifyError),
    /// The branch no longer contains the last revision applied from it with a verified signature: its history was
    /// rewritten, which could bring back a signed configuration that its signers later replaced.
    #[error(
        "the branch head {head} does not contain {applied}, the last revision applied with a verified signature \
         ({why}): its history was rewritten (a force push), which can bring back a signed configuration that was \
         replaced since; check it, then apply it yourself with `tollgate apply --git ... --allow-rewritten-history`"
    )]
    Rewritten {
        /// The fetched head.
        head: String,
        /// The last verified applied revision.
        applied: String,
        /// `not among its ancestors`, or `not in the fetched history`.
        why: &'static str,
    },
    /// The commit that made the configuration could not be found or read.
    #[error("cannot find the commit that made the configuration: {0}")]
    History(#[from] crate::git::GitError),
}

/// What the signature check found, for the record of the apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitVerified {
    /// The commit that made the configuration (full id), when a policy asked for its signature.
    pub configured_by: Option<String>,
    /// Whose signature vouches for it (`user alice`), when signed.
    pub signed_by: Option<String>,
}

/// The Git questions [`verify_commit`] asks, answered by the Git edge.
pub trait CommitHistory {
    /// The commit that made the head's configuration, and the commits above it ([`crate::git::configuring_commit`]).
    fn configuring_commit(&self) -> Result<crate::git::ConfiguringCommit, crate::git::GitError>;
    /// Whether the head has `ancestor` in its history; `None` when it is unknown ([`crate::git::contains`]).
    fn contains(&self, ancestor: &str) -> Result<Option<bool>, crate::git::GitError>;
}

/// Checks that the configuration about to be applied is signed as the last applied revision requires
/// (`Settings.spec.verify`, from the cluster's `record`). The first apply to a cluster (no record) goes by the
/// revision's own signers; a record from a revision without `verify` lets anything through. A signature on the
/// commit that made the configuration, or on any commit above it (they hold the same configuration), vouches
/// for it. The branch must still contain the last revision applied with a verified signature, unless
/// `allow_rewritten_history` (a person's decision): replaying an older signed commit would undo later ones. The
/// configuration that was verified last is not verified again (a resync after its signer left the signers).
///
/// # Errors
/// [`CommitRefused`]: the signature does not verify, the history was rewritten, or it cannot be read.
pub fn verify_commit(
    record: Option<&crate::controller::applied::Applied>,
    model: &AccessModel,
    history: &impl CommitHistory,
    allow_rewritten_history: bool,
    now: Timestamp,
) -> Result<CommitVerified, CommitRefused> {
    let policy = match record {
        Some(record) => record.signers.clone(),
        None => model.signer_policy(now),
    };
    let Some(policy) = policy else {
        return Ok(CommitVerified::default());
    };
    let commit = history.configuring_commit()?;
    let id = commit.commit.to_string();
    let last = record.and_then(|r| r.revisions.first());
    // The newest apply of a verified commit (an apply of a working tree in between does not reset it).
    let last_verified = record.and_then(|r| r.revisions.iter().find(|r| r.configured_by.is_some()));
    if let Some(applied) = last_verified.and_then(|last| last.revision.as_deref())
        && !allow_rewritten_history
    {
        let why = match history.contains(applied)? {
            Some(true) => None,
            Some(false) => Some("not among its ancestors"),
            None => Some("not in the fetched history"),
        };
        if let Some(why) = why {
            return Err(CommitRefused::Rewritten {
                head: commit
                    .commits
                    .first()
                    .map_or_else(|| id.clone(), |(head, _)| head.to_string()),
                applied: applied.to_owned(),
                why,
            });
        }
    }
    if let Some(last) = last.filter(|last| last.configured_by.as_deref() == Some(id.as_str())) {
        return Ok(CommitVerified {
            configured_by: Some(id),
            signed_by: last.signed_by.clone(),
        });
    }
    let mut refusal = None;
    for (signed, signature) in commit.commits.iter().filter(|(_, s)| s.is_some()) {
        match crate::signing::verify(Some(&policy), &signed.to_string(), signature.as_ref(), now) {
            Ok(crate::signing::Verified::Signed { principal, .. }) => {
                return Ok(CommitVerified {
                    configured_by: Some(id),
                    signed_by: Some(principal),
                });
            }
            Ok(_) => {}
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
    }
    if let Some(error) = refusal {
        return Err(error.into());
    }
    crate::signing::verify(Some(&policy), &id, None, now)?;
    Ok(CommitVerified {
        configured_by: Some(id),
        signed_by: None,
    })
}

/// A validated repository and the warnings validation printed about it.
pub struct Checked {
    /// The model validation built.
    pub model: AccessModel,
    /// Validation's diagnostics, resolved to file:line:column; only warnings, since a model means no error.
    pub warnings: Vec<ResolvedDiagnostic>,
}

/// Validates a loaded repository; fails with every diagnostic, sorted, when anything is wrong.
pub fn check(loaded: &LoadedRepository, now: Timestamp) -> Result<Checked, PipelineError> {
    let validation = validate(loaded, now);
    let Some(model) = validation.model else {
        return Err(PipelineError::Invalid(resolve_all(
            &validation.diagnostics,
            &loaded.sources,
        )));
    };
    // The repository's access tests: each cluster they ask is compiled and its roles and bindings asked with
    // Kubernetes' RBAC rules; a question answered otherwise makes the repository invalid, so that nothing is
    // planned or applied from it. A cluster that does not compile is left to the plan, which reports why.
    let mut diagnostics = validation.diagnostics;
    let clusters: std::collections::BTreeSet<&str> = model
        .access_tests
        .iter()
        .map(|t| t.cluster.as_str())
        .collect();
    let mut failed = false;
    for cluster in clusters {
        let ctx = CompileContext {
            cluster,
            now,
            revision: None,
        };
        let Ok(desired) = compile(&model, &ctx) else {
            continue;
        };
        let roles = crate::rbac::kubernetes_cluster_roles();
        for failure in crate::who::failing_access_tests(&model, &desired, roles, now) {
            let location = crate::diagnostics::Location::Field {
                doc: failure.doc,
                path: failure.path,
                part: crate::config::source::FieldPart::Value,
            };
            // A `deny` that fails would grant what must not be: nothing is applied. An `allow` that fails takes
            // access away, which applying only completes (an expiry passing must still remove what it ends):
            // `validate` and `plan` fail on it, `apply` and the controller go on and report it.
            if failure.expected == crate::validate::model::Expected::Deny {
                failed = true;
                diagnostics.push(crate::diagnostics::Diagnostic::error(
                    ACCESS_TEST_FAILED,
                    location,
                    failure.message,
                ));
            } else {
                diagnostics.push(crate::diagnostics::Diagnostic::warning(
                    ACCESS_TEST_FAILED,
                    location,
                    failure.message,
                ));
            }
            if diagnostics.len() > crate::config::load::MAX_DIAGNOSTICS {
                break;
            }
        }
    }
    let diagnostics = resolve_all(&diagnostics, &loaded.sources);
    if failed {
        return Err(PipelineError::Invalid(diagnostics));
    }
    Ok(Checked {
        model,
        warnings: diagnostics,
    })
}

/// The diagnostic code of an access test's question that the repository's grants answer otherwise: an error for
/// a `deny`, a warning for an `allow` (which `validate` and `plan` still fail on: [`fails_access_tests`]).
pub const ACCESS_TEST_FAILED: &str = "access-test-failed";

/// Whether `warnings` hold an `allow` access test that fails (`validate` and `plan` exit 1 on it).
pub fn fails_access_tests(warnings: &[ResolvedDiagnostic]) -> bool {
    warnings.iter().any(|d| d.code == ACCESS_TEST_FAILED)
}

/// Compiles and plans one cluster of a validated model.
pub fn plan_cluster(
    model: &AccessModel,
    ctx: &CompileContext,
    live: &LiveState,
    against: Against,
) -> Result<(DesiredState, Plan), PipelineError> {
    let desired = compile(model, ctx)?;
    let plan = plan(&desired, live, against);
    Ok((desired, plan))
}

/// Reads the live state of the desired state's instance and plans against it; with `peers`, also the gateway's
/// published peers (one more GET), so that the plan shows the peer changes a publish will make.
pub async fn plan_live(
    cluster: &Cluster,
    desired: &DesiredState,
    peers: bool,
) -> Result<(LiveState, Plan), ReadError> {
    let labelled = cluster.read_labelled(&desired.cluster).await?;
    plan_labelled(cluster, labelled, desired, peers).await
}

/// [`plan_live`] with the instance's labelled objects already read (a plan that listed them while it compiled).
pub async fn plan_labelled(
    cluster: &Cluster,
    labelled: Labelled,
    desired: &DesiredState,
    peers: bool,
) -> Result<(LiveState, Plan), ReadError> {
    let mut live = cluster.read_conflicts(labelled, desired).await?;
    if peers && desired.vpn.is_some() {
        live.peers = cluster.read_peers(&desired.clients_namespace).await;
    }
    let mut plan = plan(
        desired,
        &live,
        Against::Cluster {
            server: cluster.server.clone(),
        },
    );
    // A Namespace deletion takes everything in it: say how much, since the cluster can be asked.
    for change in &mut plan.changes {
        if change.action == Action::Delete && change.object.kind == ObjectKind::Namespace {
            let counted = match cluster.count_namespace_objects(&change.object.name).await {
                Ok(contents) => contents.to_string(),
                Err(error) => format!(
                    "its objects could not be counted: {}",
                    crate::cluster::describe(&error)
                ),
            };
            let reason = change.reason.take().unwrap_or_default();
            change.reason = Some(format!("{counted}; {reason}"));
        }
    }
    Ok((live, plan))
}

/// The access tests of `desired`'s cluster asked of the cluster's own authorizer (SubjectAccessReview) after an
/// apply: what fails there although the repository's roles pass it comes from the cluster (a binding made by hand, a
/// Kubernetes role edited). The authorizer reads roles and bindings from a cache, so failures are asked again for
/// up to 5 s before they are reported.
///
/// # Errors
/// A SubjectAccessReview the API server refused (`create subjectaccessreviews` is needed).
pub async fn live_access_tests(
    cluster: &Cluster,
    model: &AccessModel,
    desired: &DesiredState,
    now: Timestamp,
) -> Result<Vec<crate::who::TestFailure>, kube::Error> {
    let questions = crate::who::access_test_questions(model, desired, now);
    if questions.is_empty() {
        return Ok(Vec::new());
    }
    let mut failures = Vec::new();
    for attempt in 0..10 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let mut answers = std::collections::BTreeMap::new();
        for (user, request) in &questions {
            let (allowed, reason) = cluster.review(user, request).await?;
            answers.insert((user.clone(), request.clone()), (allowed, reason));
        }
        // The authorizer is asked as `kubectl auth can-i` asks: a rule for named objects only answers for them.
        failures =
            crate::who::evaluate_access_tests(
                model,
                desired,
                now,
                |user, request, _| match answers.get(&(user.clone(), request.clone())) {
                    Some((true, reason)) if reason.is_empty() => {
                        crate::who::Decision::Allowed("in the cluster".to_owned())
                    }
                    Some((true, reason)) => {
                        crate::who::Decision::Allowed(format!("in the cluster ({reason})"))
                    }
                    _ => crate::who::Decision::Denied,
                },
            );
        if failures.is_empty() {
            break;
        }
    }
    Ok(failures)
}
