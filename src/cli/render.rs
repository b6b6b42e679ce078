//! `tollgate render`: the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts.

use std::process::ExitCode;

use tollgate::compile::{CompileContext, compile};
use tollgate::render;

use super::args::RepoArgs;
use super::validated;

/// `tollgate render`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate render --repo . --cluster prod
  tollgate render --repo . --cluster prod --revision \"$(git rev-parse HEAD)\" | kubectl diff -f -")]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// The cluster to render, as the repository's Settings name it.
    #[arg(long)]
    cluster: String,
    /// Git revision to record in the objects' annotations.
    #[arg(long)]
    revision: Option<String>,
}

/// Prints the desired objects; fails with every diagnostic when the repository is invalid.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (checked, now) = validated(&args.repo, None)?;
    let ctx = CompileContext {
        cluster: &args.cluster,
        now,
        revision: args.revision.as_deref(),
    };
    print!("{}", render::objects_yaml(&compile(&checked.model, &ctx)?));
    Ok(ExitCode::SUCCESS)
}
