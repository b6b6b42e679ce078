//! `tollgate connect`: the developer's side of the VPN. Decrypts a client file, brings up a userspace WireGuard
//! interface (boringtun) to the cluster's gateway with the file's address, routes and DNS, optionally merges the
//! client's kubeconfig context, and takes it all down on Ctrl-C / SIGTERM / SIGHUP (the interface, and with it its
//! routes, goes with the process even on `kill -9`).

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context as _;
use ipnet::IpNet;

use tollgate::wireguard::device::{Device, DeviceError};
use tollgate::wireguard::peers::{interface_command, key_bytes, peer_section};

use super::client::FileArgs;
use super::client_kubeconfig::{UpdateArgs, update};
use super::controller::shutdown_signal;
use super::runtime;

/// `tollgate connect`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  tollgate connect artifacts/prod/alice-laptop.age -i ~/.ssh/id_ed25519
  tollgate connect artifacts/dev/ci.age -i ci.agekey --kubeconfig ~/.kube/config --interface tollgate-dev

It needs root (e.g. sudo) or CAP_NET_ADMIN for its WireGuard interface.

Without root or CAP_NET_ADMIN, use wg-quick instead:
  tollgate client wg-config artifacts/prod/alice-laptop.age -i ~/.ssh/id_ed25519 -o tollgate.conf
  sudo wg-quick up ./tollgate.conf")]
pub struct Args {
    /// The client file: `artifacts/<cluster>/<client>.age`, or its decrypted JSON.
    file: PathBuf,
    /// An identity file to decrypt with, as `age -d -i`. Repeatable.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    identities: Vec<PathBuf>,
    /// The WireGuard interface to create (at most 15 characters; one per tunnel on this machine).
    #[arg(long, default_value = "tollgate1")]
    interface: String,
    /// Also merge the client's context into this kubeconfig (as `client update-kubeconfig --use-context`).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
}

/// Brings the tunnel up, waits for Ctrl-C or SIGTERM, takes it down.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let shown = args.file.display().to_string();
    let file = FileArgs {
        file: args.file.clone(),
        identities: args.identities.clone(),
        output: None,
    }
    .read()?;
    let wg = file.wireguard.as_ref().with_context(|| {
        format!(
            "{shown} has no WireGuard section: the client has `vpn: false`, or cluster `{}` has no gateway",
            file.cluster
        )
    })?;
    let range: IpNet = wg
        .address
        .parse()
        .with_context(|| format!("{shown}: wireguard.address `{}` is not a range", wg.address))?;
    let address = IpNet::new(range.network(), range.max_prefix_len())
        .expect("a host prefix is valid for its family");
    let allowed: Vec<IpNet> = wg
        .allowed_ips
        .iter()
        .map(|n| {
            n.parse()
                .with_context(|| format!("{shown}: allowedIps: `{n}` is not a network"))
        })
        .collect::<anyhow::Result<_>>()?;
    let endpoint: SocketAddr = wg
        .endpoint
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the gateway endpoint {}", wg.endpoint))?
        .min_by_key(SocketAddr::is_ipv6)
        .with_context(|| format!("the gateway endpoint {} has no address", wg.endpoint))?;
    if let Some(net) = allowed.iter().find(|n| n.contains(&endpoint.ip())) {
        anyhow::bail!(
            "the gateway endpoint {endpoint} is inside allowedIps {net}: its packets would loop into the tunnel"
        );
    }

    let device = Device::start(&args.interface, 1).map_err(|error| match error {
        DeviceError::NotPermitted { .. } => anyhow::anyhow!(
            "{error}\nRun it as root (sudo), or use wg-quick instead:\n  tollgate client wg-config {shown} -i IDENTITY -o tollgate.conf\n  sudo wg-quick up ./tollgate.conf"
        ),
        other => other.into(),
    })?;
    let key = interface_command(&wg.private_key, 0)
        .with_context(|| format!("{shown}: wireguard.privateKey is not a WireGuard key"))?;
    anyhow::ensure!(
        key_bytes(&wg.gateway_public_key).is_some(),
        "{shown}: wireguard.gatewayPublicKey is not a WireGuard key"
    );
    let peer = peer_section(&wg.gateway_public_key, &allowed, Some(endpoint), Some(25));
    device.set(&format!("{key}{peer}\n"))?;
    device.up(&[address])?;
    device.route_new(&allowed).map_err(|error| {
        anyhow::anyhow!(
            "{error}\nA route for one of allowedIps exists already (another VPN or network?): check `ip route`; the \
             tunnel was taken down"
        )
    })?;
    let dns = set_dns(&args.interface, &wg.dns);

    println!(
        "tunnel {} up: {address} -> gateway {endpoint} ({} of cluster {})",
        args.interface, file.client, file.cluster
    );
    let routes: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    println!("routes via {}: {}", args.interface, routes.join(", "));
    match &dns {
        DnsOutcome::None => {}
        DnsOutcome::Set(servers) => println!("DNS via {}: {servers}", args.interface),
        DnsOutcome::NotSet(why) => println!("DNS not set: {why}"),
    }
    if let Some(kubeconfig) = &args.kubeconfig {
        update(&UpdateArgs {
            files: vec![args.file.clone()],
            identities: args.identities.clone(),
            kubeconfig: Some(kubeconfig.clone()),
            use_context: true,
            context_name: None,
            server: None,
        })?;
    }
    println!("Ctrl-C or SIGTERM takes the tunnel down.");

    runtime()?.block_on(async {
        // Ctrl-C, SIGTERM, and SIGHUP (the terminal closed) all take the tunnel down in order.
        let shutdown = async {
            let hangup = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = shutdown_signal() => {}
                () = hangup => {}
            }
        };
        tokio::pin!(shutdown);
        let mut told = false;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if !told
                && let Ok(live) = device.get()
                && live.peers.iter().any(|p| p.last_handshake.is_some())
            {
                println!("handshake with the gateway: the tunnel carries traffic");
                told = true;
            }
        }
    });
    if matches!(dns, DnsOutcome::Set(_)) {
        let _ = Command::new("resolvectl")
            .args(["revert", &args.interface])
            .status();
    }
    drop(device);
    println!("tunnel {} down", args.interface);
    Ok(ExitCode::SUCCESS)
}

enum DnsOutcome {
    None,
    Set(String),
    NotSet(String),
}

/// Sets the file's DNS servers on the interface with systemd-resolved's `resolvectl`, the only resolver that takes
/// per-interface servers; elsewhere says what to add by hand rather than rewrite /etc/resolv.conf.
fn set_dns(interface: &str, servers: &[String]) -> DnsOutcome {
    if servers.is_empty() {
        return DnsOutcome::None;
    }
    let joined = servers.join(", ");
    match Command::new("resolvectl")
        .arg("dns")
        .arg(interface)
        .args(servers)
        .output()
    {
        Ok(output) if output.status.success() => DnsOutcome::Set(joined),
        Ok(output) => DnsOutcome::NotSet(format!(
            "resolvectl failed ({}); use nameserver {joined} for the cluster's names",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(_) => DnsOutcome::NotSet(format!(
            "no resolvectl (systemd-resolved) here; use nameserver {joined} for the cluster's names"
        )),
    }
}
