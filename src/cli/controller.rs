//! `tollgate controller`: the in-cluster loop. Polls the Git branch, reconciles when the configuration changes and
//! on a resync schedule, publishes client files; one replica at a time, elected with a Lease.

use std::num::NonZeroUsize;
use std::process::ExitCode;

use anyhow::Context as _;

use tollgate::apply::{ApplyOptions, NamespaceDeletion};
use tollgate::controller::lease::LeaseConfig;
use tollgate::controller::{Controller, ControllerConfig};

use super::args::{GitArgs, KubeArgs, parse_duration};
use super::runtime;

/// `tollgate controller`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate controller --git https://git.example.com/org/access.git --cluster prod \\
      --git-token-file /var/run/tollgate/git/token
  tollgate controller --git git://127.0.0.1/access.git --cluster dev --no-leader-election --interval 1s
  tollgate controller --git https://git.example.com/org/access.git --cluster prod --interval 60s \
      --webhook-listen 0.0.0.0:9090 --webhook-secret-file /var/run/tollgate/webhook/secret")]
pub struct Args {
    /// The cluster this controller reconciles, as the repository's Settings name it.
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
    /// The Lease replicas elect a leader with, in `--namespace`.
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
    /// Also receive push webhooks (GitHub, GitLab, Gitea/Forgejo) on this address at `POST /webhook`: a verified
    /// push to the branch makes the controller poll at once.
    #[arg(long, value_name = "ADDRESS", requires = "webhook_secret_file")]
    webhook_listen: Option<std::net::SocketAddr>,
    /// The webhook's shared secret (GitHub/Gitea: the HMAC key; GitLab: the token), read from this file.
    #[arg(long, value_name = "FILE", requires = "webhook_listen")]
    webhook_secret_file: Option<std::path::PathBuf>,
}

/// Runs until SIGTERM or Ctrl-C, then releases the lease and exits 0.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let remote = args
        .git
        .remote()
        .context("the controller needs --git URL: the repository it watches")?;
    let identity = args.identity.unwrap_or_else(|| {
        format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "tollgate".into()),
            std::process::id()
        )
    });
    let webhook = match (args.webhook_listen, &args.webhook_secret_file) {
        (Some(listen), Some(path)) => {
            let secret = std::fs::read(path)
                .with_context(|| format!("cannot read the webhook secret {}", path.display()))?;
            // A trailing newline from `echo secret > file` is not part of the secret the forge holds.
            let secret = secret.trim_ascii_end().to_vec();
            anyhow::ensure!(
                !secret.is_empty(),
                "the webhook secret {} is empty: a receiver without a secret would take anyone's requests",
                path.display()
            );
            Some((listen, secret))
        }
        _ => None,
    };
    let config = ControllerConfig {
        webhook,
        remote,
        cluster: args.cluster,
        lease: (!args.no_leader_election).then(|| LeaseConfig {
            namespace: args.namespace.clone(),
            name: args.lease_name,
            identity: identity.clone(),
            duration: args.lease_duration,
            retry: (args.lease_duration / 7).max(std::time::Duration::from_millis(500)),
        }),
        namespace: args.namespace,
        identity,
        interval: args.interval,
        resync: args.resync,
        listen: args.listen,
        author: args.git.author(),
        publish: !args.no_publish,
        // The controller never adopts, never lifts the deletion guard and never deletes a Namespace: each needs a
        // person (it holds Namespace deletions back and says so in its status).
        apply: ApplyOptions {
            concurrency: args.concurrency,
            adopt: false,
            allow_mass_deletion: false,
            namespace_deletion: NamespaceDeletion::HoldBack,
        },
    };
    runtime()?.block_on(async {
        let cluster = args.kube.connect().await?;
        let controller = Controller::new(cluster, config)?;
        controller.run(shutdown_signal()).await?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGTERM (the kubelet stopping the pod) or Ctrl-C.
pub(super) async fn shutdown_signal() {
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
