//! `tollgate validate`: check the repository and print every problem with its file, line and field.

use std::process::ExitCode;

use tollgate::diagnostics::render_text;
use tollgate::pipeline::{PipelineError, check};

use super::args::RepoArgs;
use super::load_repo;

/// `tollgate validate`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate validate --repo .
  tollgate validate --repo access-repo --json | jq '.[] | select(.severity == \"error\")'")]
pub struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// Print diagnostics as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit 0 when the repository is valid (warnings allowed), 1 when anything is wrong.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let loaded = load_repo(&args.repo.repo)?;
    let (diagnostics, valid) = match check(&loaded, args.repo.now()) {
        // An `allow` access test that fails is a warning (apply goes on, so that expiries are enforced), but the
        // repository does not hold what it says: validate fails.
        Ok(checked) => {
            let holds = !tollgate::pipeline::fails_access_tests(&checked.warnings);
            (checked.warnings, holds)
        }
        Err(PipelineError::Invalid(diagnostics)) => (diagnostics, false),
        Err(other) => return Err(other.into()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diagnostics)?);
    } else {
        print!("{}", render_text(&diagnostics));
        if valid {
            println!(
                "{}: {} documents in {} files are valid",
                args.repo.repo.display(),
                loaded.documents.len(),
                loaded.sources.len()
            );
        }
    }
    Ok(ExitCode::from(if valid { 0 } else { 1 }))
}
