//! The `tollgate` command: argument parsing and dispatch only; the work is in the library.

use std::io::{BufRead, IsTerminal};
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use tollgate::apply::{ApplyOptions, apply, preflight};
use tollgate::cluster::{Cluster, ConnectOptions, RateLimit, fingerprint};
use tollgate::compile::{CompileContext, compile};
use tollgate::config::fs::read_config_files;
use tollgate::config::{LoadedRepository, load};
use tollgate::controller::lease::LeaseConfig;
use tollgate::controller::{Controller, ControllerConfig};
use tollgate::credentials::client_file::ClientFile;
use tollgate::credentials::seal;
use tollgate::diagnostics::render_text;
use tollgate::git::{Author, Backoff, GitAuth, GitRemote, Snapshot, default_cache};
use tollgate::objects::LiveState;
use tollgate::pipeline::{Checked, PipelineError, check, plan_live};
use tollgate::plan::saved::SavedPlan;
use tollgate::plan::{Against, Plan, plan};
use tollgate::publish::{PublishInput, publish};
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

/// How to reach the cluster, as kubectl does, and how fast to talk to it.
#[derive(clap::Args)]
struct KubeArgs {
    /// The kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the pod's service account.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context. Default: its current context.
    #[arg(long)]
    context: Option<String>,
    /// Client-side rate limit: API requests per second.
    #[arg(long, default_value = "200")]
    qps: NonZeroU32,
    /// Client-side rate limit: requests allowed at once above `--qps` before pacing starts.
    #[arg(long, default_value = "400")]
    burst: NonZeroU32,
    /// Objects per page when reading the live state: fewer requests with larger pages, less memory with
    /// smaller ones.
    #[arg(long, default_value_t = NonZeroU32::new(tollgate::cluster::DEFAULT_LIST_PAGE).expect("not zero"))]
    list_page_size: NonZeroU32,
}

impl KubeArgs {
    async fn connect(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::connect(&ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            rate_limit: RateLimit {
                qps: self.qps,
                burst: self.burst,
            },
            list_page: self.list_page_size,
        })
        .await?)
    }
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
    /// Plan against the live cluster and apply the plan: server-side apply, then prune.
    Apply {
        /// A plan saved with `tollgate plan --out FILE`; applied only if the cluster has not changed since.
        /// Without it, the plan is computed from `--repo`.
        #[arg(value_name = "PLAN_FILE", conflicts_with_all = ["cluster", "git"])]
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        repo: RepoArgs,
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
        /// API requests in flight at once.
        #[arg(long, default_value = "16")]
        concurrency: NonZeroUsize,
        /// `human` prints the plan and the outcome of each object; `json` prints only the apply report.
        #[arg(long, value_enum, default_value_t = ReportOutput::Human)]
        output: ReportOutput,
        /// Also write the apply report as JSON to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
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
    },
    /// Run in the cluster: poll the Git branch, reconcile access when the configuration changes (and on a resync
    /// schedule), publish client files; one replica at a time, elected with a Lease.
    Controller {
        #[arg(long, env = "TOLLGATE_CLUSTER")]
        cluster: String,
        #[command(flatten)]
        git: Box<GitArgs>,
        #[command(flatten)]
        kube: KubeArgs,
        /// How often to ask Git for the branch head (advertised refs only; nothing is fetched unless it moved).
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        interval: std::time::Duration,
        /// When to reconcile even if Git did not move: repairs drift, renews tokens, enforces expiries and
        /// sunsets on time. A cron expression with seconds: `sec min hour day-of-month month day-of-week`.
        #[arg(long, default_value = "0 */10 * * * *")]
        resync: String,
        /// The controller's namespace: its Lease, its status ConfigMap and its Events.
        #[arg(long, env = "POD_NAMESPACE", default_value = "tollgate-system")]
        namespace: String,
        /// This replica's name in the Lease.
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Run without leader election (exactly one replica).
        #[arg(long)]
        no_leader_election: bool,
        #[arg(long, default_value = "tollgate-leader")]
        lease_name: String,
        /// How long the lease holds without renewal; a standby takes over after this long.
        #[arg(long, default_value = "15s", value_parser = parse_duration)]
        lease_duration: std::time::Duration,
        /// Where /healthz, /readyz and /metrics are served.
        #[arg(long, default_value = "0.0.0.0:8080")]
        listen: std::net::SocketAddr,
        /// Apply only; do not issue credentials or publish client files.
        #[arg(long)]
        no_publish: bool,
        /// API requests in flight at once during an apply.
        #[arg(long, default_value = "16")]
        concurrency: NonZeroUsize,
    },
    /// Print what the controller reports: the applied revision, when, the last plan and the last error.
    Status {
        /// The controller's namespace.
        #[arg(long, env = "POD_NAMESPACE", default_value = "tollgate-system")]
        namespace: String,
        #[command(flatten)]
        kube: KubeArgs,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn a client file (as published, age-encrypted, or decrypted) into what kubectl or wg-quick reads.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Write the JSON Schema of every document kind.
    Schema {
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
}

/// Where the access repository lives in Git, and how to write back to it.
#[derive(clap::Args)]
struct GitArgs {
    /// Read the configuration from this remote's branch head instead of --repo (fetched with gix into a local
    /// bare cache; no working tree). HTTP(S), SSH, git:// and file URLs.
    #[arg(long = "git", value_name = "URL")]
    git: Option<String>,
    #[arg(long, default_value = "main", requires = "git")]
    branch: String,
    /// The bare cache repository. Default: a folder per URL and branch under ~/.cache/tollgate/git.
    #[arg(long, value_name = "DIR", requires = "git")]
    git_cache: Option<PathBuf>,
    /// HTTP(S): a file holding the token to authenticate with (read when Git asks, never logged).
    #[arg(
        long,
        value_name = "FILE",
        requires = "git",
        conflicts_with = "git_ssh_key"
    )]
    git_token_file: Option<PathBuf>,
    /// HTTP(S): the username sent with --git-token-file.
    #[arg(long, default_value = "x-access-token", requires = "git_token_file")]
    git_username: String,
    /// SSH: the private key file to authenticate with.
    #[arg(long, value_name = "FILE", requires = "git")]
    git_ssh_key: Option<PathBuf>,
    /// SSH: the server's host keys (`known_hosts` format), checked strictly. Default: ssh's own known hosts.
    #[arg(long, value_name = "FILE", requires = "git_ssh_key")]
    git_known_hosts: Option<PathBuf>,
    /// The author and committer of published client files, as `Name <email>`.
    #[arg(long, default_value = "tollgate <tollgate@localhost>", value_parser = parse_author)]
    author: String,
}

impl GitArgs {
    fn remote(&self) -> Option<GitRemote> {
        let url = self.git.clone()?;
        let auth = match (&self.git_token_file, &self.git_ssh_key) {
            (Some(path), _) => GitAuth::TokenFile {
                username: self.git_username.clone(),
                path: absolute(path),
            },
            (None, Some(path)) => GitAuth::SshKey {
                path: absolute(path),
                known_hosts: self.git_known_hosts.as_deref().map(absolute),
            },
            (None, None) => GitAuth::None,
        };
        Some(GitRemote {
            cache: self
                .git_cache
                .clone()
                .unwrap_or_else(|| default_cache(&url, &self.branch)),
            url,
            branch: self.branch.clone(),
            auth,
        })
    }

    fn author(&self) -> Author {
        let (name, email) = self
            .author
            .split_once(" <")
            .expect("parse_author checked the form");
        Author {
            name: name.to_owned(),
            email: email.trim_end_matches('>').to_owned(),
        }
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let duration: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("expected a duration such as `5s` or `1m`: {e}"))?;
    std::time::Duration::try_from(duration).map_err(|_| "a duration must not be negative".into())
}

fn parse_author(text: &str) -> Result<String, String> {
    match text.split_once(" <") {
        Some((name, email)) if !name.is_empty() && email.ends_with('>') && email.len() > 1 => {
            Ok(text.to_owned())
        }
        _ => Err("expected `Name <email>`".into()),
    }
}

/// Paths handed to `git` subprocesses must not depend on their working directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Write a kubeconfig that stock kubectl uses as is.
    Kubeconfig(ClientFileArgs),
    /// Write a wg-quick configuration for the client's WireGuard tunnel.
    WgConfig(ClientFileArgs),
}

#[derive(clap::Args)]
struct ClientFileArgs {
    /// The client file: `artifacts/<cluster>/<client>.age`, or its decrypted JSON.
    file: PathBuf,
    /// An identity file to decrypt with, as `age -d -i`: age X25519 keys or an unencrypted SSH private key.
    /// Repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    identities: Vec<PathBuf>,
    /// Write here (created with mode 0600) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl ClientFileArgs {
    fn read(&self) -> anyhow::Result<ClientFile> {
        let shown = self.file.display().to_string();
        let bytes = std::fs::read(&self.file).with_context(|| format!("cannot read {shown}"))?;
        let plaintext = if seal::is_age(&bytes) {
            anyhow::ensure!(
                !self.identities.is_empty(),
                "{shown} is encrypted: pass an identity with -i (your age key or SSH private key)"
            );
            let mut identities = Vec::new();
            for path in &self.identities {
                let shown = path.display().to_string();
                let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
                identities.extend(seal::read_identities(&shown, &bytes)?);
            }
            seal::open(&shown, &bytes, &identities)?
        } else {
            bytes
        };
        Ok(ClientFile::parse(&shown, &plaintext)?)
    }

    /// Writes secrets: to standard output, or to a new file only its owner can read.
    fn write(&self, text: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        match &self.output {
            None => print!("{text}"),
            Some(path) => {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                file.write_all(text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportOutput {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to standard error: text on a terminal, JSON lines otherwise (a pod's log). `TOLLGATE_LOG` (e.g.
    // `debug`, `tollgate=debug`) sets the filter; the controller logs `info` by default, commands `warn`.
    let default = if matches!(cli.command, Command::Controller { .. }) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json().flatten_event(true).init();
    }
    match run(cli) {
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

/// Resolves on SIGTERM (the kubelet stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
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

fn load_repo(repo: &Path) -> anyhow::Result<LoadedRepository> {
    let files = read_config_files(repo)?;
    Ok(load(files))
}

/// Loads and validates the repository (from Git when a fetched snapshot is given, else `--repo`), printing
/// warnings; fails with every diagnostic when it is invalid.
fn validated(
    repo: &RepoArgs,
    git: Option<(&GitRemote, &Snapshot)>,
) -> anyhow::Result<(Checked, Timestamp)> {
    let loaded = match git {
        Some((remote, snapshot)) => load(remote.read_config(snapshot)?),
        None => load_repo(&repo.repo)?,
    };
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
            let (checked, now) = validated(&repo, None)?;
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
            kube,
            out,
            output,
            detailed_exitcode,
            color,
            revision,
        } => {
            // An invalid repository never gets as far as a plan: this fails with every diagnostic.
            let (checked, now) = validated(&repo, None)?;
            let desired = compile(
                &checked.model,
                &CompileContext {
                    cluster: &cluster,
                    now,
                    revision: revision.as_deref(),
                },
            )?;
            let plan = match (&live_from, offline) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(path).with_context(|| {
                        format!("cannot read the live objects in {}", path.display())
                    })?;
                    let shown = path.display().to_string();
                    let live = LiveState::from_yaml(&shown, &text)?;
                    plan(&desired, &live, Against::File { path: shown })
                }
                (None, true) => plan(&desired, &LiveState::default(), Against::Empty),
                (None, false) => runtime()?.block_on(async {
                    let cluster = kube.connect().await?;
                    let (live, plan) = plan_live(&cluster, &desired).await?;
                    if let Some(out) = &out {
                        let saved =
                            SavedPlan::new(&desired, &plan, &cluster.server, fingerprint(&live));
                        std::fs::write(out, saved.to_json()).with_context(|| {
                            format!("cannot write the plan to {}", out.display())
                        })?;
                    }
                    anyhow::Ok(plan)
                })?,
            };
            let text = match output {
                Output::Human => render::human(&plan, use_color(color)),
                Output::Json => render::json(&plan),
                Output::Markdown => render::markdown(&plan),
            };
            print!("{text}");
            if let Some(out) = &out {
                eprintln!(
                    "Saved the plan to {}; apply it with `tollgate apply {}`.",
                    out.display(),
                    out.display()
                );
            }
            let changed = plan.summary.has_changes();
            Ok(ExitCode::from(if detailed_exitcode && changed {
                2
            } else {
                0
            }))
        }
        Command::Apply {
            plan_file,
            repo,
            cluster,
            kube,
            yes,
            adopt,
            allow_mass_deletion,
            concurrency,
            output,
            report,
            color,
            revision,
            git,
            publish: publish_files,
        } => {
            let remote = git.remote();
            // With --git, the configuration is the fetched branch head's; the client files go on top of it.
            let snapshot = match &remote {
                Some(remote) => Some(remote.fetch()?),
                None => None,
            };
            let revision = revision.or_else(|| snapshot.as_ref().map(|s| s.commit.to_string()));
            // Nothing is written unless the whole repository validates: load, validate and compile come first.
            let compiled = match &cluster {
                Some(cluster) => {
                    let (checked, now) = validated(&repo, remote.as_ref().zip(snapshot.as_ref()))?;
                    let desired = compile(
                        &checked.model,
                        &CompileContext {
                            cluster,
                            now,
                            revision: revision.as_deref(),
                        },
                    )?;
                    Some((checked.model, desired, now))
                }
                None => None,
            };
            let options = ApplyOptions {
                concurrency,
                adopt,
                allow_mass_deletion,
            };
            runtime()?.block_on(async {
                let cluster = kube.connect().await?;
                let (desired, live, plan, model) = match (compiled, &plan_file) {
                    (Some((model, desired, now)), _) => {
                        let (live, plan) = plan_live(&cluster, &desired).await?;
                        (desired, live, plan, Some((model, now)))
                    }
                    (None, Some(path)) => {
                        let saved = SavedPlan::read(path)?;
                        let desired = saved.desired(path)?;
                        let (live, plan) = plan_live(&cluster, &desired).await?;
                        saved.check_current(path, &cluster.server, &fingerprint(&live))?;
                        (desired, live, plan, None)
                    }
                    (None, None) => unreachable!("clap requires --cluster or a plan file"),
                };
                if output == ReportOutput::Human {
                    print!("{}", render::human(&plan, use_color(color)));
                }
                preflight(&plan, &options)?;
                if plan.summary.has_changes() || (adopt && plan.summary.conflict > 0) {
                    confirm(&plan, yes)?;
                }
                let mut outcome = apply(&cluster, &plan, &desired, &live, &options).await?;
                // Credentials need every ServiceAccount in place: publish only after a complete apply.
                if let (true, true, Some(remote), Some(snapshot), Some((model, now))) = (
                    publish_files,
                    outcome.succeeded(),
                    &remote,
                    snapshot,
                    &model,
                ) {
                    let published = publish(
                        &cluster,
                        PublishInput {
                            model,
                            desired: &desired,
                            cluster_name: &plan.cluster,
                            now: *now,
                            remote,
                            base: snapshot,
                            author: &git.author(),
                            backoff: Backoff::default(),
                        },
                    )
                    .await?;
                    outcome.publish = Some(published);
                }
                match output {
                    ReportOutput::Human => print!("{}", render::report_human(&outcome)),
                    ReportOutput::Json => print!("{}", render::report_json(&outcome)),
                }
                if let Some(path) = &report {
                    std::fs::write(path, render::report_json(&outcome)).with_context(|| {
                        format!("cannot write the apply report to {}", path.display())
                    })?;
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
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Controller {
            cluster,
            git,
            kube,
            interval,
            resync,
            namespace,
            identity,
            no_leader_election,
            lease_name,
            lease_duration,
            listen,
            no_publish,
            concurrency,
        } => {
            let remote = git
                .remote()
                .context("the controller needs --git URL: the repository it watches")?;
            let identity = identity.unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    std::env::var("HOSTNAME").unwrap_or_else(|_| "tollgate".into()),
                    std::process::id()
                )
            });
            let config = ControllerConfig {
                remote,
                cluster,
                lease: (!no_leader_election).then(|| LeaseConfig {
                    namespace: namespace.clone(),
                    name: lease_name,
                    identity: identity.clone(),
                    duration: lease_duration,
                    retry: (lease_duration / 7).max(std::time::Duration::from_millis(500)),
                }),
                namespace,
                identity,
                interval,
                resync,
                listen,
                author: git.author(),
                publish: !no_publish,
                apply: ApplyOptions {
                    concurrency,
                    adopt: false,
                    allow_mass_deletion: false,
                },
            };
            runtime()?.block_on(async {
                let cluster = kube.connect().await?;
                let controller = Controller::new(cluster, config)?;
                controller.run(shutdown_signal()).await?;
                anyhow::Ok(ExitCode::SUCCESS)
            })
        }
        Command::Status {
            namespace,
            kube,
            json,
        } => runtime()?.block_on(async {
            let cluster = kube.connect().await?;
            let status = tollgate::controller::status::read(&cluster.kube(), &namespace).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", status.human());
            }
            Ok(ExitCode::from(if status.last_error.is_some() {
                1
            } else {
                0
            }))
        }),
        Command::Client { command } => {
            match command {
                ClientCommand::Kubeconfig(args) => {
                    let file = args.read()?;
                    args.write(&file.kubeconfig())?;
                }
                ClientCommand::WgConfig(args) => {
                    let file = args.read()?;
                    args.write(&file.wg_quick(&args.file.display().to_string())?)?;
                }
            }
            Ok(ExitCode::SUCCESS)
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
