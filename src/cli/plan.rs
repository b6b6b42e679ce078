//! `tollgate plan`: what would change in one cluster, per object and per person, against an empty cluster, a file
//! of objects, or the live cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;

use tollgate::cluster::fingerprint;
use tollgate::compile::{CompileContext, compile};
use tollgate::objects::{LivePeers, LiveState};
use tollgate::pipeline::plan_labelled;
use tollgate::plan::saved::SavedPlan;
use tollgate::plan::{Against, plan};
use tollgate::render;

use super::args::{ColorChoice, KubeArgs, RepoArgs};
use super::{compile_while_listing, runtime, validated};

/// `tollgate plan`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate plan --repo . --cluster prod --offline
  tollgate plan --repo . --cluster prod --output markdown > plan.md
  tollgate plan --repo . --cluster prod --out plan.json && tollgate apply plan.json")]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// The cluster to plan, as the repository's Settings name it.
    #[arg(long)]
    cluster: String,
    /// Plan against an empty cluster instead of the live one.
    #[arg(long, conflicts_with = "live_from")]
    offline: bool,
    /// Plan against the objects in this file (`kubectl get -o yaml` output, or multi-document YAML) instead of
    /// the live cluster.
    #[arg(long, value_name = "FILE")]
    live_from: Option<PathBuf>,
    #[command(flatten)]
    kube: KubeArgs,
    /// Save the plan for `tollgate apply FILE` (live plans only).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["offline", "live_from"])]
    out: Option<PathBuf>,
    /// `human`: Terraform-like text; `json`: the plan as data (`formatVersion: 1`); `markdown`: a merge-request
    /// comment.
    #[arg(long, value_enum, default_value_t = Output::Human)]
    output: Output,
    /// Exit 2 when the plan has changes, 0 when it has none, 1 on error (as Terraform's flag); 3 when its
    /// changes give someone power over other people's access or data (its "needs a second look" section).
    #[arg(long)]
    detailed_exitcode: bool,
    /// Colour the human output: `auto` on a terminal unless `NO_COLOR` is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Git revision to record in the objects' annotations.
    #[arg(long)]
    revision: Option<String>,
}

/// The views of one plan.
#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Human,
    Json,
    Markdown,
}

/// Prints the plan; with `--detailed-exitcode`, exit 2 says it has changes, 3 that some need a second look.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // An invalid repository never gets as far as a plan: this fails with every diagnostic.
    // An `allow` access test that fails is a warning (printed with the others); the plan is shown, then exits 1.
    let allow_failed = std::cell::Cell::new(false);
    let compiled = || -> anyhow::Result<_> {
        let (checked, now) = validated(&args.repo, None)?;
        if tollgate::pipeline::fails_access_tests(&checked.warnings) {
            allow_failed.set(true);
        }
        Ok(compile(
            &checked.model,
            &CompileContext {
                cluster: &args.cluster,
                now,
                revision: args.revision.as_deref(),
            },
        )?)
    };
    let plan = match (&args.live_from, args.offline) {
        (Some(path), _) => {
            let desired = compiled()?;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the live objects in {}", path.display()))?;
            let shown = path.display().to_string();
            let live = LiveState::from_yaml(&shown, &text)?;
            plan(&desired, &live, Against::File { path: shown })
        }
        // An empty cluster has no peers either: every VPN client's peer is new.
        (None, true) => plan(
            &compiled()?,
            &LiveState {
                peers: LivePeers::Absent,
                ..LiveState::default()
            },
            Against::Empty,
        ),
        (None, false) => {
            // The cluster is read while the repository compiles; see `compile_while_listing`.
            let (runtime, desired, cluster, labelled) =
                compile_while_listing(runtime()?, &args.kube, &args.cluster, compiled)?;
            runtime.block_on(async {
                let (live, plan) = plan_labelled(&cluster, labelled, &desired, true).await?;
                if let Some(out) = &args.out {
                    let saved =
                        SavedPlan::new(&desired, &plan, &cluster.server, fingerprint(&live));
                    std::fs::write(out, saved.to_json())
                        .with_context(|| format!("cannot write the plan to {}", out.display()))?;
                }
                anyhow::Ok(plan)
            })?
        }
    };
    let text = match args.output {
        Output::Human => render::human(&plan, args.color.enabled()),
        Output::Json => render::json(&plan),
        Output::Markdown => render::markdown(&plan),
    };
    print!("{text}");
    if let Some(out) = &args.out {
        eprintln!(
            "Saved the plan to {}; apply it with `tollgate apply {}`.",
            out.display(),
            out.display()
        );
    }
    if allow_failed.get() {
        anyhow::bail!(
            "an access test's `allow` does not hold (the warning access-test-failed above): the repository takes \
             away access it says must stay"
        );
    }
    // Peer changes do not count: only a publish makes them, and an `apply` without `--publish` never will. A
    // conflict does: the repository and the cluster disagree, and `apply` refuses until someone decides.
    let changed = plan.summary.has_changes() || plan.summary.conflict > 0;
    Ok(ExitCode::from(match args.detailed_exitcode {
        false => 0,
        true if !plan.second_look.is_empty() => 3,
        true if changed => 2,
        true => 0,
    }))
}
