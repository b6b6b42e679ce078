//! `tollgate timeline`: every change of one person's or client's access in one cluster over the repository's
//! first-parent history, with the commit, its author and date: "since when can bob exec in payments, and who gave
//! it".

use std::collections::BTreeSet;
use std::process::ExitCode;

use serde::Serialize;
use tollgate::compile::{CompileContext, compile};
use tollgate::config::load;
use tollgate::history::{History, Revision};
use tollgate::objects::DesiredState;
use tollgate::pipeline::{PipelineError, check};
use tollgate::text::shown;
use tollgate::who::{HeldRule, Others, Subject, can};

use super::args::RepoArgs;

/// `tollgate timeline`.
#[derive(clap::Args)]
#[command(
    after_help = "SUBJECT is `user/NAME` or `client/NAME`. Each commit of the first-parent history of the \
checkout's HEAD whose configuration changed is evaluated as `tollgate can --offline` would at that commit's time \
(Kubernetes' own ClusterRoles as v1.34 defines them); a commit that did not validate was never applied and is listed \
as skipped. An expiry takes effect at its time, which is not a commit: it shows at the next commit that changes the \
configuration.

Examples:
  tollgate timeline user/bob --cluster prod
  tollgate timeline client/ci-deployer --cluster staging --json"
)]
pub struct Args {
    /// `user/NAME` or `client/NAME`.
    subject: String,
    #[command(flatten)]
    repo: RepoArgs,
    /// The cluster, as the repository's Settings name it.
    #[arg(long)]
    cluster: String,
    /// Read at most this many commits back from HEAD.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
    /// Print the timeline as JSON.
    #[arg(long)]
    json: bool,
    /// Also read the cluster's record of what was applied (ConfigMap `tollgate-applied`, written by the controller
    /// and `tollgate apply`) and say when each change was first applied, or that it was not.
    #[arg(long)]
    applied: bool,
    /// With --applied: the controller's namespace, which holds the record.
    #[arg(long, default_value = "tollgate-system", requires = "applied")]
    namespace: String,
    #[command(flatten)]
    kube: super::args::KubeArgs,
}

/// One commit where the subject's access changed (a person's through their clients too), or that was skipped.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    /// The commit.
    revision: Revision,
    /// Rules the subject holds from this commit on, as `where: verbs on (names) via binding -> role (files)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gained: Vec<String>,
    /// Rules the subject no longer holds from this commit on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lost: Vec<String>,
    /// Why the commit was skipped: it did not validate (so it was never applied), or did not compile.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
    /// With `--applied`: the first apply that included this commit (of the applies the record keeps); `None` in
    /// the JSON as `null` when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<Option<tollgate::controller::applied::AppliedRevision>>,
}

/// A commit's configuration (`files`) as it stood: validated at the commit's time (or `now`, when given) and
/// compiled for `cluster`, with that time; `Err(why)` when it did not validate or compile, so it was never applied.
///
/// # Errors
/// What stops the pipeline other than invalid input.
pub(super) fn compiled_at(
    files: Vec<tollgate::config::load::RepoFile>,
    revision: &Revision,
    now: Option<jiff::Timestamp>,
    cluster: &str,
) -> anyhow::Result<Result<(tollgate::pipeline::Checked, DesiredState, jiff::Timestamp), String>> {
    let now = now.unwrap_or(revision.time);
    let checked = match check(&load(files), now) {
        Ok(checked) => checked,
        Err(PipelineError::Invalid(diagnostics)) => {
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == tollgate::diagnostics::Severity::Error)
                .count();
            return Ok(Err(format!(
                "did not validate ({errors} error(s)): never applied"
            )));
        }
        Err(other) => return Err(other.into()),
    };
    let ctx = CompileContext {
        cluster,
        now,
        revision: None,
    };
    Ok(match compile(&checked.model, &ctx) {
        Ok(desired) => Ok((checked, desired, now)),
        Err(error) => Err(format!("did not compile: {error}")),
    })
}

/// One held rule in words: where, verbs, on what, names, through which binding and role, from which files.
fn atom(held: &HeldRule) -> String {
    let names = held.rule.resource_names.as_deref().unwrap_or_default();
    format!(
        "{}{}: {} {}{} via {} -> {}{}",
        held.namespace.as_deref().unwrap_or("everywhere"),
        held.acting_as
            .as_deref()
            .map(|owner| format!(" (acting as {owner})"))
            .unwrap_or_default(),
        held.rule.verbs.join(","),
        super::can::on(&held.rule),
        if names.is_empty() {
            String::new()
        } else {
            format!(" [{}]", names.join(","))
        },
        held.binding.as_binding(),
        held.role.as_role(),
        if held.sources.is_empty() {
            String::new()
        } else {
            format!(" ({})", held.sources.join(", "))
        }
    )
}

/// Prints the timeline; exit 0 (an empty timeline says the subject never held anything).
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let subject = super::can::subject(&args.subject, None)?;
    let history = History::open(&args.repo.repo)?;
    let mut commits = history.first_parent()?;
    commits.truncate(args.limit);
    commits.reverse();
    let mut entries = Vec::new();
    let mut last_fingerprint = None;
    let mut held: BTreeSet<String> = BTreeSet::new();
    for commit in commits {
        let (files, fingerprint) = history.config(commit)?;
        // A commit that changed no configuration file changes nobody's access: skipped without being read.
        if last_fingerprint.as_ref() == Some(&fingerprint) {
            continue;
        }
        last_fingerprint = Some(fingerprint);
        let revision = history.revision(commit)?;
        let (checked, desired, now) =
            match compiled_at(files, &revision, args.repo.now, &args.cluster)? {
                Ok(compiled) => compiled,
                Err(why) => {
                    entries.push(Entry {
                        revision,
                        gained: Vec::new(),
                        lost: Vec::new(),
                        skipped: Some(why),
                        applied: None,
                    });
                    continue;
                }
            };
        let roles = tollgate::rbac::kubernetes_cluster_roles();
        let held_by = |subject: &Subject| {
            let others = Others {
                cluster_roles: roles.clone(),
                ..Others::default()
            };
            // Not found: not in the repository at this commit, so it holds nothing.
            can(&checked.model, &desired, others, subject, now).ok()
        };
        // A person holds what they hold as themselves and through each client they own.
        let mut now_held: BTreeSet<String> = BTreeSet::new();
        if let Some(answer) = held_by(&subject) {
            now_held.extend(answer.rules.iter().map(atom));
            for client in &answer.clients {
                let through = held_by(&Subject::Client(client.clone()));
                now_held.extend(
                    through
                        .iter()
                        .flat_map(|a| &a.rules)
                        .map(|rule| format!("through client {client}: {}", atom(rule))),
                );
            }
        }
        let gained: Vec<String> = now_held.difference(&held).cloned().collect();
        let lost: Vec<String> = held.difference(&now_held).cloned().collect();
        if !gained.is_empty() || !lost.is_empty() {
            entries.push(Entry {
                revision,
                gained,
                lost,
                skipped: None,
                applied: None,
            });
        }
        held = now_held;
    }
    if args.applied {
        mark_applied(&args, &history, &mut entries)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!(
            "{} never held anything in cluster `{}` in the history read",
            shown(&args.subject),
            shown(&args.cluster)
        );
    }
    for entry in &entries {
        let revision = &entry.revision;
        println!(
            "{} {} {}: {}",
            revision.time,
            &revision.commit[..12.min(revision.commit.len())],
            shown(&revision.author),
            shown(&revision.summary)
        );
        if let Some(why) = &entry.skipped {
            println!("  skipped: {}", shown(why));
        }
        match &entry.applied {
            Some(Some(applied)) => println!(
                "  applied {} by {}{}",
                applied.at,
                shown(&applied.by),
                applied
                    .signed_by
                    .as_deref()
                    .map(|signer| format!(", signed by {}", shown(signer)))
                    .unwrap_or_default()
            ),
            Some(None) => {
                println!("  not applied (no apply the cluster's record keeps includes it)");
            }
            None => {}
        }
        for rule in &entry.gained {
            println!("  + {}", shown(rule));
        }
        for rule in &entry.lost {
            println!("  - {}", shown(rule));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Marks each entry with the first apply that included its commit: of the applies the cluster's record keeps, the
/// earliest whose revision is this commit or a later one on the first-parent line.
fn mark_applied(args: &Args, history: &History, entries: &mut [Entry]) -> anyhow::Result<()> {
    let record = super::runtime()?.block_on(async {
        let cluster = args.kube.connect().await?;
        anyhow::Ok(tollgate::controller::applied::read(&cluster.kube(), &args.namespace).await?)
    })?;
    let revisions = record.map(|r| r.revisions).unwrap_or_default();
    // Position on the first-parent line, 0 the newest: a revision applies every commit at its position or after.
    let position: std::collections::HashMap<String, usize> = history
        .first_parent()?
        .iter()
        .enumerate()
        .map(|(at, commit)| (commit.to_string(), at))
        .collect();
    for entry in entries.iter_mut().filter(|e| e.skipped.is_none()) {
        let Some(&mine) = position.get(&entry.revision.commit) else {
            continue;
        };
        let first = revisions
            .iter()
            .filter(|applied| {
                applied
                    .revision
                    .as_ref()
                    .and_then(|r| position.get(r))
                    .is_some_and(|at| *at <= mine)
            })
            .min_by_key(|applied| applied.at)
            .cloned();
        entry.applied = Some(first);
    }
    Ok(())
}
