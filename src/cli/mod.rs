//! The command line: one module per command (its arguments and its `run`), the arguments several commands share
//! in [`args`], and the few helpers every command uses. This is the binary's edge: errors become `anyhow` here.

mod apply;
mod args;
mod can;
mod client;
mod client_kubeconfig;
mod client_new;
mod clients;
mod completions;
mod connect;
mod controller;
mod gateway;
mod plan;
mod render;
mod schema;
mod session_gateway;
mod status;
mod timeline;
mod validate;
mod who_can;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use jiff::Timestamp;

use tollgate::config::{LoadedRepository, load};
use tollgate::diagnostics::render_text;
use tollgate::files::read_config_files;
use tollgate::git::{GitRemote, Snapshot};
use tollgate::pipeline::{Checked, check};

use args::{KubeArgs, RepoArgs};
use tollgate::cluster::{Cluster, Labelled};

/// `tollgate`: the parsed command line.
#[derive(Parser)]
#[command(name = "tollgate", version, about = "Kubernetes access as code")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the repository and print every problem with its file, line and field.
    Validate(validate::Args),
    /// Print the objects one cluster should hold, as YAML that `kubectl apply -f -` accepts.
    Render(render::Args),
    /// Show what would change in one cluster, per object and per person.
    Plan(plan::Args),
    /// Plan against the live cluster and apply the plan: server-side apply, then prune.
    Apply(apply::Args),
    /// Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync
    /// schedule), publish client files; one replica at a time, elected with a Lease.
    Controller(controller::Args),
    /// Run the cluster's WireGuard gateway: serve the peers the controller publishes, changing only what changed.
    Gateway(gateway::Args),
    /// Run the SSH session gateway: each login (`ssh USER+ENVIRONMENT@gateway`) in a pod of its own, removed when
    /// the session ends.
    SessionGateway(session_gateway::Args),
    /// List the live SSH sessions: user, environment, pod, age, phase and source address.
    Sessions(session_gateway::SessionsArgs),
    /// Bring up a WireGuard tunnel to the cluster from a client file, and a kubeconfig; down on Ctrl-C.
    Connect(connect::Args),
    /// Print what the controller reports: the applied revision, when, the last plan and the last error.
    Status(status::Args),
    /// List every client with its owners, recipients, clusters and the state of its credentials.
    Clients(clients::ListArgs),
    /// Scaffold and inspect clients; turn a client file into a kubeconfig (entry) or a wg-quick configuration.
    Client {
        #[command(subcommand)]
        command: client::Command,
    },
    /// List every person and client the repository lets make a request in a cluster, and through which binding.
    WhoCan(who_can::Args),
    /// List everything one person or client may do in a cluster, rule by rule, where and through which binding.
    Can(can::Args),
    /// Show every change of one person's or client's access over the repository's history, with its commit.
    Timeline(timeline::Args),
    /// Write the JSON Schema of every document kind.
    Schema(schema::Args),
    /// Print a shell completion script, or write every script and the manual pages.
    Completions(completions::Args),
}

impl Cli {
    /// The log level when `TOLLGATE_LOG` does not set one: the controller tells what it does, commands only warn.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::Controller(_) => "info",
            // boringtun logs harmless noise at error level (an EINTR of its poll, stray packets of old sessions).
            Command::Gateway(_) => "info,boringtun=off",
            Command::Connect(_) => "warn,boringtun=off",
            Command::SessionGateway(_) => "info,russh=warn",
            // A plan reads the cluster while it validates: kube's own log lines about a failed connection would
            // come before the repository's diagnostics, and the command's error says the same.
            _ => "warn,kube_client=off",
        }
    }
}

/// Runs the parsed command; its exit code, or the error to print.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Render(args) => render::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Controller(args) => controller::run(args),
        Command::Gateway(args) => gateway::run(args),
        Command::SessionGateway(args) => session_gateway::run(args),
        Command::Sessions(args) => session_gateway::sessions(args),
        Command::Connect(args) => connect::run(args),
        Command::Status(args) => status::run(args),
        Command::Clients(args) => clients::list(args),
        Command::Client { command } => client::run(command),
        Command::WhoCan(args) => who_can::run(args),
        Command::Can(args) => can::run(args),
        Command::Timeline(args) => timeline::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Completions(args) => completions::run(args),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `compile` (load, validate and compile the repository: CPU work) on this thread while `runtime`'s threads
/// connect to the cluster and list the `instance`'s labelled objects, so that a plan's wait for the API server and
/// its decoding of the pages overlap the repository's own work. The repository comes first: when `compile` fails,
/// its error is returned at once and the read (which changes nothing) is abandoned unreported, the runtime shut
/// down without waiting for it (a credential plugin or a kubeconfig read cannot be cancelled); otherwise a failure
/// to connect or list is the error. Returns the runtime for the rest of the command.
fn compile_while_listing<T>(
    runtime: tokio::runtime::Runtime,
    kube: &KubeArgs,
    instance: &str,
    compile: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(tokio::runtime::Runtime, T, Cluster, Labelled)> {
    let (kube, instance) = (kube.clone(), instance.to_owned());
    let reading = runtime.spawn(async move {
        let cluster = kube.connect().await?;
        let labelled = cluster.read_labelled(&instance).await?;
        anyhow::Ok((cluster, labelled))
    });
    let compiled = match compile() {
        Ok(compiled) => compiled,
        Err(error) => {
            reading.abort();
            runtime.shutdown_background();
            return Err(error);
        }
    };
    let (cluster, labelled) = match runtime.block_on(reading) {
        Ok(read) => read?,
        Err(failed) => std::panic::resume_unwind(failed.into_panic()),
    };
    Ok((runtime, compiled, cluster, labelled))
}

fn load_repo(repo: &Path) -> anyhow::Result<LoadedRepository> {
    let files = read_config_files(repo)?;
    Ok(load(files))
}

/// Loads and validates the repository (from Git when a fetched snapshot is given, else `--repo`), printing
/// warnings; fails with every diagnostic when it is invalid.
/// The repository as of `at` (a revision or a date of its first-parent history; see
/// [`tollgate::history::History::resolve`]), validated, with the instant expiries are evaluated at (`--now`, else the
/// date asked or the commit's time) and the commit answered from. A commit that does not validate was never
/// applied: the newest first-parent commit before it that does is used instead, and stderr says so.
fn validated_at(
    repo: &RepoArgs,
    at: &str,
) -> anyhow::Result<(
    LoadedRepository,
    Checked,
    Timestamp,
    tollgate::history::Revision,
)> {
    let history = tollgate::history::History::open(&repo.repo)?;
    let (commit, instant) = history.resolve(at)?;
    let now = repo.now.unwrap_or(instant);
    let first_parent = history.first_parent()?;
    // The commit asked, then its first-parent ancestors (a commit off the first-parent line stands alone).
    let candidates: Vec<gix::ObjectId> = match first_parent.iter().position(|c| *c == commit) {
        Some(at) => first_parent[at..].to_vec(),
        None => vec![commit],
    };
    // Commits that did not change the configuration of one that failed fail the same way: said once.
    let mut failed: Option<String> = None;
    for candidate in candidates {
        let (files, fingerprint) = history.config(candidate)?;
        if failed.as_ref() == Some(&fingerprint) {
            continue;
        }
        let revision = history.revision(candidate)?;
        let loaded = load(files);
        match check(&loaded, now) {
            Ok(checked) => {
                eprintln!(
                    "as of commit {} ({}, {}): {}",
                    &revision.commit[..12.min(revision.commit.len())],
                    revision.time,
                    tollgate::text::shown(&revision.author),
                    tollgate::text::shown(&revision.summary)
                );
                return Ok((loaded, checked, now, revision));
            }
            Err(tollgate::pipeline::PipelineError::Invalid(diagnostics)) => {
                let errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == tollgate::diagnostics::Severity::Error)
                    .count();
                eprintln!(
                    "note: commit {} does not validate by this version's rules ({errors} error(s)), so it is taken \
                     as never applied; answering as of the commit before it that changed the configuration",
                    &revision.commit[..12.min(revision.commit.len())]
                );
                failed = Some(fingerprint);
            }
            Err(other) => return Err(other.into()),
        }
    }
    anyhow::bail!("no commit at or before `{at}` validates: nothing was ever applied from it")
}

fn validated(
    repo: &RepoArgs,
    git: Option<(&GitRemote, &Snapshot)>,
) -> anyhow::Result<(Checked, Timestamp)> {
    validated_loaded(repo, git).map(|(_, checked, now)| (checked, now))
}

/// [`validated`], with the loaded files (for positions in answers).
fn validated_loaded(
    repo: &RepoArgs,
    git: Option<(&GitRemote, &Snapshot)>,
) -> anyhow::Result<(LoadedRepository, Checked, Timestamp)> {
    let loaded = match git {
        Some((remote, snapshot)) => load(remote.read_config(snapshot)?),
        None => load_repo(&repo.repo)?,
    };
    let now = repo.now();
    let checked = check(&loaded, now)?;
    eprint!("{}", render_text(&checked.warnings));
    Ok((loaded, checked, now))
}
