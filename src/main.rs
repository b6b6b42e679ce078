//! The `tollgate` command: argument parsing and dispatch only; the work is in the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use tollgate::compile::{CompileContext, compile};
use tollgate::config::fs::read_config_files;
use tollgate::config::{LoadedRepository, load};
use tollgate::diagnostics::render_text;
use tollgate::objects::LiveState;
use tollgate::pipeline::{Checked, PipelineError, check, plan_cluster};
use tollgate::plan::Against;
use tollgate::render;

#[derive(Parser)]
#[command(name = "tollgate", version, about = "Kubernetes access as code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct RepoArgs {
    /// The access repository's config root.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Evaluate expiries at this RFC 3339 time instead of now (reproducible plans and tests).
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<Timestamp>,
}

#[derive(Subcommand)]
enum Command {
    /// Check the repository and print every problem with its file, line and field.
    Validate {
        #[command(flatten)]
        repo: RepoArgs,
        /// Print diagnostics as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts.
    Render {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long)]
        cluster: String,
        /// Git revision to record in the objects' annotations.
        #[arg(long)]
        revision: Option<String>,
    },
    /// Show what would change in one cluster, per object and per person.
    Plan {
        #[command(flatten)]
        repo: RepoArgs,
        #[arg(long)]
        cluster: String,
        /// Plan against an empty cluster.
        #[arg(long, conflicts_with = "live_from")]
        offline: bool,
        /// Plan against the objects in this file (`kubectl get -o yaml` output, or multi-document YAML).
        #[arg(long, value_name = "FILE")]
        live_from: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Output::Human)]
        output: Output,
        /// Exit 2 when the plan has changes, 0 when it has none, 1 on error (as Terraform's flag).
        #[arg(long)]
        detailed_exitcode: bool,
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        #[arg(long)]
        revision: Option<String>,
    },
    /// Write the JSON Schema of every document kind.
    Schema {
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            if let Some(PipelineError::Invalid(diagnostics)) = error.downcast_ref::<PipelineError>()
            {
                eprint!("{}", render_text(diagnostics));
            }
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn load_repo(repo: &Path) -> anyhow::Result<LoadedRepository> {
    let files = read_config_files(repo)?;
    Ok(load(files))
}

/// Loads and validates the repository, printing warnings; fails with every diagnostic when it is invalid.
fn validated(repo: &RepoArgs) -> anyhow::Result<(Checked, Timestamp)> {
    let loaded = load_repo(&repo.repo)?;
    let now = repo.now.unwrap_or_else(Timestamp::now);
    let checked = check(&loaded, now)?;
    eprint!("{}", render_text(&checked.warnings));
    Ok((checked, now))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { repo, json } => {
            let loaded = load_repo(&repo.repo)?;
            let now = repo.now.unwrap_or_else(Timestamp::now);
            let (diagnostics, valid) = match check(&loaded, now) {
                Ok(checked) => (checked.warnings, true),
                Err(PipelineError::Invalid(diagnostics)) => (diagnostics, false),
                Err(other) => return Err(other.into()),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&diagnostics)?);
            } else {
                print!("{}", render_text(&diagnostics));
                if valid {
                    println!(
                        "{}: {} documents in {} files are valid",
                        repo.repo.display(),
                        loaded.documents.len(),
                        loaded.sources.len()
                    );
                }
            }
            Ok(ExitCode::from(if valid { 0 } else { 1 }))
        }
        Command::Render {
            repo,
            cluster,
            revision,
        } => {
            let (checked, now) = validated(&repo)?;
            let ctx = CompileContext {
                cluster: &cluster,
                now,
                revision: revision.as_deref(),
            };
            print!("{}", render::objects_yaml(&compile(&checked.model, &ctx)?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            repo,
            cluster,
            offline,
            live_from,
            output,
            detailed_exitcode,
            color,
            revision,
        } => {
            let (live, against) = match (&live_from, offline) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(path).with_context(|| {
                        format!("cannot read the live objects in {}", path.display())
                    })?;
                    let shown = path.display().to_string();
                    (
                        LiveState::from_yaml(&shown, &text)?,
                        Against::File { path: shown },
                    )
                }
                (None, true) => (LiveState::default(), Against::Empty),
                (None, false) => anyhow::bail!(
                    "planning against a live cluster is not available in this version; use --offline or --live-from FILE"
                ),
            };
            // An invalid repository never gets as far as a plan: this fails with every diagnostic.
            let (checked, now) = validated(&repo)?;
            let ctx = CompileContext {
                cluster: &cluster,
                now,
                revision: revision.as_deref(),
            };
            let (_, plan) = plan_cluster(&checked.model, &ctx, &live, against)?;
            let color = match color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let text = match output {
                Output::Human => render::human(&plan, color),
                Output::Json => render::json(&plan),
                Output::Markdown => render::markdown(&plan),
            };
            print!("{text}");
            let changed = plan.summary.has_changes();
            Ok(ExitCode::from(if detailed_exitcode && changed {
                2
            } else {
                0
            }))
        }
        Command::Schema { out } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            for (name, text) in tollgate::schema::generate() {
                let path = out.join(&name);
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
