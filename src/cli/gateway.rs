//! `tollgate gateway`: runs the cluster's WireGuard endpoint (see [`tollgate::wireguard::gateway`]) until SIGTERM.

use std::process::ExitCode;

use tollgate::wireguard::gateway::{GatewayOptions, enable_forwarding, run as run_gateway};

use super::args::{KubeArgs, parse_duration};
use super::controller::shutdown_signal;
use super::runtime;

/// `tollgate gateway`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate gateway                                  # in the cluster, from deploy/gateway.yaml
  tollgate gateway --kubeconfig gateway.conf --clients-namespace tollgate-clients --interface wg-tollgate")]
pub struct Args {
    #[command(flatten)]
    kube: KubeArgs,
    /// The gateway's own (the controller's) namespace, where it writes its status (ConfigMap
    /// tollgate-gateway-status) for `tollgate status`.
    #[arg(long, env = "POD_NAMESPACE", default_value = "tollgate-system")]
    namespace: String,
    /// Settings' clientsNamespace: where the controller publishes the peer list (ConfigMap tollgate-peers) and the
    /// gateway's key (Secret tollgate-gateway).
    #[arg(long, default_value = "tollgate-clients")]
    clients_namespace: String,
    /// The WireGuard interface to create (at most 15 characters, unique on the host).
    #[arg(long, default_value = "tollgate0")]
    interface: String,
    /// The UDP port WireGuard listens on (the gateway Service's target port).
    #[arg(long, default_value = "51820")]
    listen_port: u16,
    /// boringtun worker threads.
    #[arg(long, default_value = "2")]
    threads: usize,
    /// How often the peer list is read and the device compared with it.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    interval: std::time::Duration,
    /// Do not turn on IP forwarding (it is on already: an init container or the pod's sysctls). The filter that
    /// keeps clients to their grants is installed either way.
    #[arg(long)]
    no_forward: bool,
    /// How often the Service and Pod addresses of namespaces are read, when a client is bound to namespaces (a
    /// new Pod is reachable after at most this long).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    addresses_interval: std::time::Duration,
    /// Do not masquerade clients' packets (the cluster network then needs a route back to the client pool).
    #[arg(long)]
    no_masquerade: bool,
    /// Where /healthz, /readyz and /metrics are served.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: std::net::SocketAddr,
    /// Only turn on IP forwarding in this network namespace, then exit (the gateway pod's privileged init
    /// container; the gateway itself needs NET_ADMIN only).
    #[arg(long)]
    enable_forwarding_only: bool,
}

/// Runs until SIGTERM or Ctrl-C; the interface goes with the process.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.enable_forwarding_only {
        enable_forwarding().map_err(|reason| anyhow::anyhow!(reason))?;
        println!("IP forwarding is on");
        return Ok(ExitCode::SUCCESS);
    }
    let options = GatewayOptions {
        interface: args.interface,
        listen_port: args.listen_port,
        threads: args.threads,
        namespace: args.namespace,
        clients_namespace: args.clients_namespace,
        interval: args.interval,
        forward: !args.no_forward,
        addresses_interval: args.addresses_interval,
        masquerade: !args.no_masquerade,
        listen: args.listen,
    };
    runtime()?.block_on(async {
        let cluster = args.kube.connect().await?;
        run_gateway(cluster.kube(), options, shutdown_signal()).await?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
