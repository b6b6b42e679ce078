//! `tollgate status`: what the controller reports (applied revision and when, the last plan, the last published
//! commit, the last error with its diagnostics).

use std::process::ExitCode;

use super::args::KubeArgs;
use super::runtime;

/// `tollgate status`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate status
  tollgate status --namespace tollgate-system --json | jq .lastError")]
pub struct Args {
    /// The controller's namespace.
    #[arg(long, env = "POD_NAMESPACE", default_value = "tollgate-system")]
    namespace: String,
    #[command(flatten)]
    kube: KubeArgs,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 1 while an error stands, so scripts and probes can act on it.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let cluster = args.kube.connect().await?;
        let status = tollgate::controller::status::read(&cluster.kube(), &args.namespace).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            print!("{}", status.human());
        }
        Ok(ExitCode::from(if status.last_error.is_some() {
            1
        } else {
            0
        }))
    })
}
