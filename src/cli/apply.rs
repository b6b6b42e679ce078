//! `tollgate apply`: plan against the live cluster and apply the plan (server-side apply, then prune), from the
//! repository, a Git remote, or a saved plan; with `--publish`, then issue credentials and publish client files.

use std::io::{BufRead as _, IsTerminal as _};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;

use indicatif::{ProgressBar, ProgressStyle};
use tollgate::apply::{ApplyOptions, NamespaceDeletion, apply, preflight};
use tollgate::cluster::fingerprint;
use tollgate::compile::{CompileContext, compile};
use tollgate::controller::applied::{self, Applied, AppliedRevision};
use tollgate::files::read_saved_plan;
use tollgate::git::{Backoff, GitRemote, Snapshot};
use tollgate::pipeline::{CommitVerified, plan_labelled, plan_live};
use tollgate::plan::Plan;
use tollgate::publish::{PublishInput, publish};
use tollgate::render;
use tollgate::sessions::directory::{SESSIONS_CONFIGMAP, SessionDirectory};
use tollgate::sessions::publish::publish_directory;
use tollgate::validate::model::AccessModel;

use super::args::{ColorChoice, GitArgs, KubeArgs, RepoArgs};
use super::{compile_while_listing, runtime, validated};

/// `tollgate apply`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate apply --repo . --cluster prod
  tollgate apply plan.json --yes
  tollgate apply --git https://git.example.com/org/access.git --cluster prod --publish \\
      --git-token-file /run/secrets/git-token --yes")]
pub struct Args {
    /// A plan saved with `tollgate plan --out FILE`; applied only if the cluster has not changed since.
    /// Without it, the plan is computed from `--repo`.
    #[arg(value_name = "PLAN_FILE", conflicts_with_all = ["cluster", "git"])]
    plan_file: Option<PathBuf>,
    #[command(flatten)]
    repo: RepoArgs,
    /// The cluster to apply to, as the repository's Settings name it.
    #[arg(long, required_unless_present = "plan_file")]
    cluster: Option<String>,
    #[command(flatten)]
    kube: KubeArgs,
    /// Apply without asking; required when standard input is not a terminal.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Take over same-named objects that exist without tollgate's labels instead of refusing.
    #[arg(long)]
    adopt: bool,
    /// Apply even when the plan deletes more than the deletion guard allows.
    #[arg(long)]
    allow_mass_deletion: bool,
    /// Delete Namespaces tollgate created that the repository no longer has (with every object in them).
    #[arg(long)]
    allow_namespace_deletion: bool,
    /// API requests in flight at once.
    #[arg(long, default_value = "16")]
    concurrency: NonZeroUsize,
    /// `human` prints the plan and the outcome of each object; `json` prints only the apply report.
    #[arg(long, value_enum, default_value_t = ReportOutput::Human)]
    output: ReportOutput,
    /// Also write the apply report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Colour the human output: `auto` on a terminal unless `NO_COLOR` is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Git revision to record in the objects' annotations (default with --git: the fetched commit).
    #[arg(long)]
    revision: Option<String>,
    #[command(flatten)]
    git: Box<GitArgs>,
    /// After a successful apply, issue the clients' credentials and publish their files (encrypted to their
    /// recipients) to the --git repository, in one commit that touches only the artifacts path.
    #[arg(long, requires = "git")]
    publish: bool,
    /// The controller's namespace, where the record of what was applied (and who may sign next) is kept.
    #[arg(long, default_value = "tollgate-system")]
    namespace: String,
    /// Apply a --git head that no longer contains the last revision applied with a verified signature (after a
    /// force push); only after checking it, since replaying an old signed commit undoes later ones.
    #[arg(long, requires = "git")]
    allow_rewritten_history: bool,
}

/// The views of an apply report.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportOutput {
    Human,
    Json,
}

/// Applies; exit 1 names every object (and client) that failed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let remote = args.git.remote();
    // With --git, the configuration is the fetched branch head's; the client files go on top of it.
    let snapshot = match &remote {
        Some(remote) => Some(remote.fetch()?),
        None => None,
    };
    let revision = args
        .revision
        .clone()
        .or_else(|| snapshot.as_ref().map(|s| s.commit.to_string()));
    let options = ApplyOptions {
        concurrency: args.concurrency,
        adopt: args.adopt,
        allow_mass_deletion: args.allow_mass_deletion,
        namespace_deletion: if args.allow_namespace_deletion {
            NamespaceDeletion::Allow
        } else {
            NamespaceDeletion::Refuse
        },
    };
    let mut runtime = runtime()?;
    // Nothing is written unless the whole repository validates: load, validate and compile come first (while the
    // cluster's labelled objects are listed; see `compile_while_listing`).
    let compiled = match &args.cluster {
        Some(name) => {
            let (reading, compiled, cluster, labelled) =
                compile_while_listing(runtime, &args.kube, name, || {
                    let (checked, now) =
                        validated(&args.repo, remote.as_ref().zip(snapshot.as_ref()))?;
                    let desired = compile(
                        &checked.model,
                        &CompileContext {
                            cluster: name,
                            now,
                            revision: revision.as_deref(),
                        },
                    )?;
                    anyhow::Ok((checked.model, desired, now))
                })?;
            runtime = reading;
            Some((compiled, cluster, labelled))
        }
        None => None,
    };
    runtime.block_on(async {
        let (cluster, desired, live, plan, model) = match (compiled, &args.plan_file) {
            (Some(((model, desired, now), cluster, labelled)), _) => {
                let (live, plan) =
                    plan_labelled(&cluster, labelled, &desired, args.publish).await?;
                (cluster, desired, live, plan, Some((model, now)))
            }
            (None, Some(path)) => {
                let cluster = args.kube.connect().await?;
                let saved = read_saved_plan(path)?;
                let desired = saved.desired(path)?;
                let (live, plan) = plan_live(&cluster, &desired, false).await?;
                saved.check_current(path, &cluster.server, &fingerprint(&live))?;
                (cluster, desired, live, plan, None)
            }
            (None, None) => unreachable!("clap requires --cluster or a plan file"),
        };
        // A commit from --git is applied only when signed as the last applied revision requires (Settings'
        // `verify`, recorded in the cluster); nothing is shown or written before that.
        let record = match &model {
            Some((model, now)) => {
                checked_record(
                    &cluster,
                    &args.namespace,
                    model,
                    remote.as_ref().zip(snapshot.as_ref()),
                    args.allow_rewritten_history,
                    *now,
                )
                .await?
            }
            None => None,
        };
        if args.output == ReportOutput::Human {
            print!("{}", render::human(&plan, args.color.enabled()));
        }
        preflight(&plan, &options)?;
        if plan.summary.has_changes() || (args.adopt && plan.summary.conflict > 0) {
            confirm(&plan, args.yes)?;
        }
        // Progress on stderr only for people: a terminal, and the human report.
        let show_progress = args.output == ReportOutput::Human && std::io::stderr().is_terminal();
        let writing = progress_bar(show_progress, "objects");
        let mut outcome = apply(&cluster, &plan, &desired, &live, &options, &writing).await?;
        writing.finish_and_clear();
        // Record what was applied and whose signatures the next commit needs (this revision's signers).
        if let (Some((model, now)), Some((existing, verified)), true) =
            (&model, record, outcome.succeeded())
            && let Some(record) = existing.unwrap_or_default().after(
                model.signer_policy(*now),
                AppliedRevision {
                    // The fetched commit, never a `--revision` label: the next apply looks it up in the history.
                    revision: snapshot
                        .as_ref()
                        .map(|s| s.commit.to_string())
                        .or_else(|| revision.clone()),
                    configured_by: verified.configured_by,
                    at: jiff::Timestamp::now(),
                    by: "tollgate apply".to_owned(),
                    signed_by: verified.signed_by,
                },
            )
        {
            let namespace = &args.namespace;
            match applied::write(&cluster.kube(), namespace, &record).await {
                Ok(()) => {}
                // No controller namespace (no controller installed): nothing to record in, and nothing asks.
                Err(error)
                    if tollgate::cluster::status_code(&error) == Some(404)
                        && model.settings.verify.is_none() => {}
                Err(error) => eprintln!(
                    "warning: applied, but the record of what was applied (ConfigMap {namespace}/{}) cannot be \
                     written: {}; the next apply checks signatures against what it held before (with no record: \
                     the next revision's own signers)",
                    applied::APPLIED_CONFIGMAP,
                    tollgate::text::shown(&tollgate::cluster::describe(&error))
                ),
            }
        }
        // The session gateway follows the users, keys and environments of what was just applied.
        if let (Some((model, now)), true) = (&model, outcome.succeeded()) {
            let directory = SessionDirectory::of(model, &plan.cluster, *now);
            let namespace = &model.settings.clients_namespace;
            if let Err(error) = publish_directory(&cluster, namespace, &directory).await {
                eprintln!(
                    "warning: applied, but the session directory (ConfigMap {namespace}/{SESSIONS_CONFIGMAP}) cannot \
                     be written: {}; the session gateway keeps the last one it read",
                    tollgate::text::shown(&tollgate::cluster::describe(&error))
                );
            }
        }
        // Credentials need every ServiceAccount in place: publish only after a complete apply.
        if let (true, true, Some(remote), Some(snapshot), Some((model, now))) =
            (args.publish, outcome.succeeded(), &remote, snapshot, &model)
        {
            let published = publish(
                &cluster,
                PublishInput {
                    model,
                    desired: &desired,
                    cluster_name: &plan.cluster,
                    now: *now,
                    remote,
                    base: snapshot,
                    author: &args.git.author(),
                    backoff: Backoff::default(),
                    concurrency: options.concurrency,
                    progress: progress_bar(show_progress, "clients"),
                },
            )
            .await?;
            outcome.publish = Some(published);
        }
        // The repository's access tests passed before anything was written; asked again of the cluster's own
        // authorizer, they also see what the cluster holds besides (hand-made bindings, edited roles).
        let live_failures = match (&model, outcome.succeeded()) {
            (Some((model, now)), true) => {
                match tollgate::pipeline::live_access_tests(&cluster, model, &desired, *now).await {
                    Ok(failures) => failures,
                    // Not allowed to ask: the repository's own check stands; say what was not done.
                    Err(error) if tollgate::cluster::status_code(&error) == Some(403) => {
                        eprintln!(
                            "warning: the access tests were not asked of the cluster's authorizer: it refused \
                             (`create subjectaccessreviews` is needed): {}",
                            tollgate::text::shown(&error.to_string())
                        );
                        Vec::new()
                    }
                    Err(error) => {
                        return Err(anyhow::Error::new(error)
                            .context("cannot ask the cluster's authorizer about the access tests"));
                    }
                }
            }
            _ => Vec::new(),
        };
        match args.output {
            ReportOutput::Human => print!("{}", render::report_human(&outcome)),
            ReportOutput::Json => print!("{}", render::report_json(&outcome)),
        }
        if !live_failures.is_empty() {
            for failure in &live_failures {
                eprintln!(
                    "error[access-test-failed-in-cluster]: {}: {}: {}",
                    failure.file,
                    failure.path,
                    tollgate::text::shown(&failure.message)
                );
            }
        }
        if let Some(path) = &args.report {
            std::fs::write(path, render::report_json(&outcome))
                .with_context(|| format!("cannot write the apply report to {}", path.display()))?;
        }
        if !outcome.succeeded() {
            anyhow::bail!(
                "the apply failed for {} object(s) ({} not attempted){}:\n  {}",
                outcome.summary.failed,
                outcome.summary.skipped,
                match &outcome.publish {
                    Some(p) if !p.failures.is_empty() =>
                        format!(", {} client(s) not published", p.failures.len()),
                    _ => String::new(),
                },
                outcome.failures().join("\n  ")
            );
        }
        if !live_failures.is_empty() {
            anyhow::bail!(
                "applied, but the cluster's authorizer answers {} access test question(s) otherwise (above): it \
                 holds access the repository does not give, or lacks some it gives",
                live_failures.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The cluster's record of what was applied (ConfigMap `tollgate-applied` in the controller's `namespace`, never
/// one a commit names), after checking a fetched commit's signature against it
/// ([`tollgate::pipeline::verify_commit`]). A working tree (no `--git`) is not checked: whoever applies it holds the
/// cluster credentials.
///
/// `None` when the record cannot be read for a working tree (nothing is recorded then).
///
/// # Errors
/// The commit is refused (its signature does not verify, or the history was rewritten), or the record cannot be
/// read for a `--git` commit (a record that cannot be read could be one that asks for signatures: nothing is
/// applied).
async fn checked_record(
    cluster: &tollgate::cluster::Cluster,
    namespace: &str,
    model: &AccessModel,
    fetched: Option<(&GitRemote, &Snapshot)>,
    allow_rewritten_history: bool,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<(Option<Applied>, CommitVerified)>> {
    let existing = match applied::read(&cluster.kube(), namespace).await {
        Ok(existing) => existing,
        // A working tree is applied on the word of whoever runs it: without the record, nothing is recorded.
        Err(error) if fetched.is_none() => {
            eprintln!(
                "warning: {}; what is applied is not recorded",
                tollgate::text::shown(&error.to_string())
            );
            return Ok(None);
        }
        Err(error) => {
            return Err(anyhow::Error::new(error).context(
                "the record of what was applied, with the signers the next commit needs, cannot be read; nothing \
                 was applied (fix or delete the ConfigMap, or pass the controller's --namespace)",
            ));
        }
    };
    if existing.is_none() && fetched.is_some() && model.settings.verify.is_some() {
        eprintln!(
            "note: no record of what was applied in namespace {namespace} (ConfigMap {}): taken as the first apply, \
             so the commit is checked against its own signers (is --namespace the controller's?)",
            applied::APPLIED_CONFIGMAP
        );
    }
    let verified = match fetched {
        Some((remote, snapshot)) => tollgate::pipeline::verify_commit(
            existing.as_ref(),
            model,
            &tollgate::git::FetchedHistory { remote, snapshot },
            allow_rewritten_history,
            now,
        )
        .context("the commit is refused; nothing was applied")?,
        None => CommitVerified::default(),
    };
    Ok(Some((existing, verified)))
}

/// Asks before writing, as Terraform does; without a terminal to ask on, only `--yes` proceeds.
fn confirm(plan: &Plan, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "refusing to apply without --yes: standard input is not a terminal to confirm on; nothing was written"
        );
    }
    eprint!(
        "Apply these changes to cluster `{}`? Only `yes` is accepted: ",
        plan.cluster
    );
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if answer.trim() != "yes" {
        anyhow::bail!("apply cancelled; nothing was written");
    }
    Ok(())
}

/// A progress bar on stderr (`{what} [=====>   ] 1200/5008 (3s)`) when `shown`; hidden otherwise, so that pipes,
/// logs and JSON reports get nothing extra. Cleared when the work is done.
fn progress_bar(shown: bool, what: &str) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({elapsed})")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}
