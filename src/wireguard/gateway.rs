//! `tollgate gateway`: the cluster's WireGuard endpoint. One loop, each turn:
//!
//! 1. read the desired peers (ConfigMap `tollgate-peers`, written by the controller) and check them; a list that
//!    cannot be read or is invalid is reported and the device keeps its last peers;
//! 2. route the client pool into the tunnel and let clients' packets out only to the cluster's networks
//!    (nftables: forward filter and masquerade, rewritten only when the networks change);
//! 3. read the **live** peers from the device, diff, and send only the changes (removals, then adds): no device
//!    restart, no resend of an unchanged peer, so other peers' traffic never stops;
//! 4. report: `/metrics`, and the status ConfigMap `tollgate-gateway-status` that `tollgate status` reads (peers
//!    with last handshake and bytes, desired peers missing from the device, the last error).
//!
//! The pod may read only the peer list and its own key (Secret `tollgate-gateway`), never a client token.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use super::device::{Device, DeviceError};
use super::peers::{
    GATEWAY_PRIVATE_KEY, GATEWAY_SECRET, PEERS_CONFIGMAP, PEERS_KEY, PeerList, diff,
    interface_command, key_bytes,
};
use crate::cluster::describe;
use crate::controller::status::apply_json_configmap;

/// The ConfigMap, in the gateway's namespace, that holds its [`GatewayStatus`] under [`GATEWAY_STATUS_KEY`].
pub const GATEWAY_STATUS_CONFIGMAP: &str = "tollgate-gateway-status";
/// The data key of the status.
pub const GATEWAY_STATUS_KEY: &str = "status.json";
/// The nftables table the gateway owns (replaced whole, never edited rule by rule).
pub const NFT_TABLE: &str = "tollgate";

/// How the gateway runs.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The WireGuard interface (at most 15 bytes; unique on the host: the UAPI socket path is global).
    pub interface: String,
    /// The UDP port clients send to (the Service's target port).
    pub listen_port: u16,
    /// boringtun worker threads.
    pub threads: usize,
    /// Where the gateway writes its status: its own (the controller's) namespace.
    pub namespace: String,
    /// Where the controller publishes the peer list and the gateway's key: Settings' `clientsNamespace`.
    pub clients_namespace: String,
    /// How often the peer list is read and the device compared with it.
    pub interval: Duration,
    /// Turn on IP forwarding (off: it was turned on by an init container or the pod's sysctls). The nftables
    /// filter is installed either way.
    pub forward: bool,
    /// How often the Service and Pod addresses of namespaces are read (paged LISTs of all Services and
    /// EndpointSlices), when a client is bound to namespaces.
    pub addresses_interval: Duration,
    /// Masquerade clients' packets to the cluster's networks (the cluster needs no route back to the pool).
    pub masquerade: bool,
    /// Where /healthz, /readyz and /metrics are served.
    pub listen: SocketAddr,
}

/// Why the gateway stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The device could not be created or configured.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The gateway Secret holds no usable key.
    #[error(
        "the Secret {namespace}/{GATEWAY_SECRET} has no WireGuard private key under `{GATEWAY_PRIVATE_KEY}`"
    )]
    BadKey {
        /// Its namespace.
        namespace: String,
    },
    /// Forwarding or the firewall could not be set up.
    #[error("cannot set up forwarding for the tunnel: {0}")]
    Forwarding(String),
    /// The HTTP endpoints could not bind.
    #[error("cannot serve /metrics on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
}

/// One peer as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    /// The client; empty for a peer on the device that no client names (removed at the next turn).
    pub client: String,
    /// Its range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<IpNet>,
    /// Seconds since its last handshake; `None`: never since the gateway started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handshake_seconds: Option<u64>,
    /// Bytes received from it.
    pub rx_bytes: u64,
    /// Bytes sent to it.
    pub tx_bytes: u64,
}

/// What the gateway reports in its status ConfigMap; `tollgate status` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// When this status was written.
    pub updated: Timestamp,
    /// The gateway's public key (what client files name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Peers on the device.
    pub peers: Vec<PeerStatus>,
    /// Clients of the peer list that the device does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Why the last peer list could not be served (the device keeps its last peers meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl GatewayStatus {
    /// The status as `tollgate status` prints it: one line per peer with its last handshake and traffic, then the
    /// clients missing from the device and the last error. `now` dates the handshakes.
    pub fn human(&self, now: Timestamp) -> String {
        use std::fmt::Write as _;
        let age = now.duration_since(self.updated).as_secs().max(0);
        let mut out = format!(
            "Gateway: {} peer(s) on the device (reported {age} s ago{})\n",
            self.peers.len(),
            self.public_key
                .as_ref()
                .map(|k| format!(", public key {k}"))
                .unwrap_or_default()
        );
        for peer in &self.peers {
            let name = if peer.client.is_empty() {
                "(no client: removed at the next turn)"
            } else {
                peer.client.as_str()
            };
            let range = peer.range.map(|r| r.to_string()).unwrap_or_default();
            let handshake = peer.last_handshake_seconds.map_or_else(
                || "no handshake yet".to_owned(),
                |s| format!("handshake {s} s ago"),
            );
            let _ = writeln!(
                out,
                "  {name} {range}: {handshake}, {} bytes in, {} bytes out",
                peer.rx_bytes, peer.tx_bytes
            );
        }
        if !self.missing.is_empty() {
            let _ = writeln!(
                out,
                "  missing from the device: {}",
                self.missing.join(", ")
            );
        }
        if let Some(error) = &self.error {
            let _ = writeln!(out, "  error: {error} (the device keeps its last peers)");
        }
        out
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabel {
    client: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

/// The gateway's Prometheus metrics (`tollgate_gateway_` prefix).
struct Metrics {
    registry: Registry,
    peers: Gauge,
    missing: Gauge,
    list_errors: Counter,
    changes: Family<ActionLabel, Counter>,
    rx: Family<ClientLabel, Gauge>,
    tx: Family<ClientLabel, Gauge>,
    handshake: Family<ClientLabel, Gauge>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tollgate_gateway");
        let metrics = Metrics {
            registry: Registry::default(),
            peers: Gauge::default(),
            missing: Gauge::default(),
            list_errors: Counter::default(),
            changes: Family::default(),
            rx: Family::default(),
            tx: Family::default(),
            handshake: Family::default(),
        };
        registry.register(
            "peers",
            "Peers on the WireGuard device",
            metrics.peers.clone(),
        );
        registry.register(
            "missing_peers",
            "Peers of the published list that the device lacks",
            metrics.missing.clone(),
        );
        registry.register(
            "peer_list_errors",
            "Turns whose peer list could not be read or was invalid",
            metrics.list_errors.clone(),
        );
        registry.register(
            "peer_changes",
            "Peers added, removed or re-ranged on the device",
            metrics.changes.clone(),
        );
        registry.register(
            "peer_receive_bytes",
            "Bytes received from a client's peer",
            metrics.rx.clone(),
        );
        registry.register(
            "peer_transmit_bytes",
            "Bytes sent to a client's peer",
            metrics.tx.clone(),
        );
        registry.register(
            "peer_last_handshake_age_seconds",
            "Seconds since a client's last handshake (absent: none yet)",
            metrics.handshake.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// The nftables ruleset of the gateway (replaces the table [`NFT_TABLE`] whole, atomically). From the tunnel, a
/// packet may go to the DNS servers, and otherwise only where its sender's grants are: a client with a
/// cluster-wide grant to all of `allowedIps`, another to the Service and Pod addresses (`addresses`, by namespace)
/// of the namespaces its peer names, within `allowedIps`. Everything else from the interface is dropped, packets to
/// the gateway itself included. Clients' packets are masqueraded when `masquerade` is set.
pub fn firewall_rules(
    interface: &str,
    list: &PeerList,
    addresses: &BTreeMap<String, BTreeSet<IpAddr>>,
    masquerade: bool,
) -> String {
    let join = |items: &[String]| items.join(", ");
    let mut accepts = String::new();
    for (family, v4) in [("ip", true), ("ip6", false)] {
        let of_family = |net: &IpNet| net.addr().is_ipv4() == v4;
        let allowed: Vec<IpNet> = list.allowed_ips.iter().copied().filter(of_family).collect();
        let dns: Vec<String> = list
            .dns
            .iter()
            .filter(|a| a.is_ipv4() == v4)
            .map(ToString::to_string)
            .collect();
        if !dns.is_empty() {
            accepts.push_str(&format!(
                "    iifname \"{interface}\" {family} daddr {{ {} }} accept\n",
                join(&dns)
            ));
        }
        if allowed.is_empty() {
            continue;
        }
        let allowed_text: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        let wide: Vec<String> = list
            .peers
            .iter()
            .filter(|p| p.namespaces.is_none() && of_family(&p.range))
            .map(|p| p.range.to_string())
            .collect();
        if !wide.is_empty() {
            accepts.push_str(&format!(
                "    iifname \"{interface}\" {family} saddr {{ {} }} {family} daddr {{ {} }} accept\n",
                join(&wide),
                join(&allowed_text)
            ));
        }
        for peer in list.peers.iter().filter(|p| of_family(&p.range)) {
            let Some(namespaces) = &peer.namespaces else {
                continue;
            };
            let reachable: BTreeSet<String> = namespaces
                .iter()
                .filter_map(|ns| addresses.get(ns))
                .flatten()
                .filter(|a| a.is_ipv4() == v4 && allowed.iter().any(|n| n.contains(*a)))
                .map(ToString::to_string)
                .collect();
            if !reachable.is_empty() {
                let reachable: Vec<String> = reachable.into_iter().collect();
                accepts.push_str(&format!(
                    "    iifname \"{interface}\" {family} saddr {} {family} daddr {{ {} }} accept\n",
                    peer.range,
                    join(&reachable)
                ));
            }
        }
    }
    let family = if list.pool.addr().is_ipv4() {
        "ip"
    } else {
        "ip6"
    };
    let nat = if masquerade {
        format!(
            "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    {family} saddr {} oifname != \"{interface}\" masquerade\n  }}\n",
            list.pool
        )
    } else {
        String::new()
    };
    format!(
        "table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\ntable inet {NFT_TABLE} {{\n  chain forward {{\n    type filter hook forward priority filter; policy accept;\n{accepts}    iifname \"{interface}\" drop\n  }}\n  chain input {{\n    type filter hook input priority filter; policy accept;\n{accepts}    iifname \"{interface}\" drop\n  }}\n{nat}}}\n"
    )
}

/// The Service (cluster IPs) and Pod (EndpointSlice) addresses of every namespace: what a namespace grant lets a
/// client reach. Paged LISTs of 500, so memory stays bounded by a page plus the addresses.
async fn read_addresses(
    client: &kube::Client,
) -> Result<BTreeMap<String, BTreeSet<IpAddr>>, String> {
    let mut addresses: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
    let mut add = |namespace: Option<String>, ips: &mut dyn Iterator<Item = &String>| {
        let parsed = ips.filter_map(|ip| ip.parse::<IpAddr>().ok());
        addresses
            .entry(namespace.unwrap_or_default())
            .or_default()
            .extend(parsed);
    };
    let services: Api<Service> = Api::all(client.clone());
    let mut params = ListParams::default().limit(500);
    loop {
        let page = services
            .list(&params)
            .await
            .map_err(|e| format!("cannot list Services: {}", describe(&e)))?;
        for service in page.items {
            let ips = service.spec.and_then(|s| s.cluster_ips).unwrap_or_default();
            add(service.metadata.namespace, &mut ips.iter());
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    // Only the EndpointSlice controller's slices: hand-made ones (or mirrored selector-less Endpoints) could name
    // any address and widen a namespace grant to it.
    let slices: Api<EndpointSlice> = Api::all(client.clone());
    let mut params = ListParams::default()
        .limit(500)
        .labels("endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io");
    loop {
        let page = slices
            .list(&params)
            .await
            .map_err(|e| format!("cannot list EndpointSlices: {}", describe(&e)))?;
        for slice in page.items {
            let mut ips = slice.endpoints.iter().flat_map(|e| e.addresses.iter());
            add(slice.metadata.namespace, &mut ips);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok(addresses)
}

/// Applies a ruleset with `nft -f -`.
fn nft(ruleset: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `nft` (is nftables installed?): {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(ruleset.as_bytes())
        .map_err(|e| format!("cannot write to `nft`: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("`nft` failed: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`nft -f -` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Turns on IPv4 (and, where it can, IPv6) forwarding in the gateway's network namespace; nothing to do when it
/// is on already (set by an init container or the pod's sysctls, as `/proc/sys` is read-only in an unprivileged
/// container).
///
/// # Errors
/// IPv4 forwarding is off and `/proc/sys/net/ipv4/ip_forward` cannot be written.
pub fn enable_forwarding() -> Result<(), String> {
    for path in [
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/net/ipv6/conf/all/forwarding",
    ] {
        if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
            continue;
        }
        if let Err(error) = std::fs::write(path, "1")
            && path.contains("ipv4")
        {
            return Err(format!(
                "IP forwarding is off and cannot be turned on ({path}: {error}); turn it on in an init container \
                 (`tollgate gateway --enable-forwarding-only`, privileged) or with the pod's sysctls"
            ));
        }
    }
    Ok(())
}

/// The gateway's private key from its Secret; `Ok(None)` while the controller has not written it yet.
async fn read_key(client: &kube::Client, namespace: &str) -> Result<Option<String>, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get_opt(GATEWAY_SECRET).await.map_err(|e| {
        format!(
            "cannot read the Secret {namespace}/{GATEWAY_SECRET}: {}",
            describe(&e)
        )
    })?;
    Ok(secret
        .and_then(|s| s.data?.remove(GATEWAY_PRIVATE_KEY))
        .and_then(|b| String::from_utf8(b.0).ok()))
}

/// The published peer list; `Err` says why it cannot be served.
async fn read_peers(client: &kube::Client, namespace: &str) -> Result<PeerList, String> {
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let configmap = configmaps
        .get_opt(PEERS_CONFIGMAP)
        .await
        .map_err(|e| format!("cannot read the ConfigMap {namespace}/{PEERS_CONFIGMAP}: {}", describe(&e)))?
        .ok_or_else(|| {
            format!("there is no ConfigMap {namespace}/{PEERS_CONFIGMAP} yet (the controller writes it when it publishes)")
        })?;
    let text = configmap
        .data
        .and_then(|mut d| d.remove(PEERS_KEY))
        .ok_or_else(|| {
            format!("the ConfigMap {namespace}/{PEERS_CONFIGMAP} has no `{PEERS_KEY}`")
        })?;
    PeerList::parse(&text).map_err(|e| e.to_string())
}

/// Reads the gateway's status ConfigMap in `namespace`; `Ok(None)` when no gateway has written one.
///
/// # Errors
/// The API server's answer, or why the content is not a status.
pub async fn read_status(
    client: &kube::Client,
    namespace: &str,
) -> Result<Option<GatewayStatus>, String> {
    let configmap = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(GATEWAY_STATUS_CONFIGMAP)
        .await
        .map_err(|e| describe(&e))?;
    let Some(text) = configmap.and_then(|c| c.data?.remove(GATEWAY_STATUS_KEY)) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{GATEWAY_STATUS_CONFIGMAP} is not a gateway status: {e}"))
}

/// Runs the gateway until `shutdown` resolves; the device (and with it the interface) goes when this returns.
///
/// # Errors
/// [`GatewayError`] when the device, the key or forwarding cannot be set up; a peer list that cannot be read is
/// not an error (it is reported, and the last peers stay).
pub async fn run(
    client: kube::Client,
    options: GatewayOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), GatewayError> {
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let ready = Arc::new(AtomicBool::new(false));
    let encoder = {
        let metrics = metrics.clone();
        Arc::new(move || metrics.lock().expect("metrics lock").encode())
    };
    // Alive while the loop turns: a turn that hangs (an API call, the device) for 10 intervals (at least 30 s) fails
    // /healthz, so the kubelet restarts the gateway, which restores every peer from the list.
    let last_turn = Arc::new(std::sync::atomic::AtomicU64::new(unix_seconds()));
    let alive = {
        let (last_turn, limit) = (
            last_turn.clone(),
            (options.interval * 10).max(Duration::from_secs(30)),
        );
        Arc::new(move || {
            unix_seconds().saturating_sub(last_turn.load(Ordering::Relaxed)) <= limit.as_secs()
        })
    };
    let (_, http) = crate::controller::http::serve(options.listen, encoder, ready.clone(), alive)
        .await
        .map_err(|source| GatewayError::Listen {
            address: options.listen,
            source,
        })?;
    tokio::pin!(shutdown);

    // 1. The key: the controller writes it with its first publish; wait for it rather than fail.
    let key = loop {
        match read_key(&client, &options.clients_namespace).await {
            Ok(Some(key)) if key_bytes(key.trim()).is_some() => break key.trim().to_owned(),
            Ok(Some(_)) => {
                return Err(GatewayError::BadKey {
                    namespace: options.clients_namespace.clone(),
                });
            }
            Ok(None) => tracing::warn!(
                "no Secret {}/{GATEWAY_SECRET} yet; waiting for the controller's first publish",
                options.clients_namespace
            ),
            Err(error) => tracing::warn!(%error, "cannot read the gateway's key; retrying"),
        }
        // Waiting for the key is work going as planned, not a hang.
        last_turn.store(unix_seconds(), Ordering::Relaxed);
        tokio::select! {
            () = tokio::time::sleep(options.interval) => {}
            () = &mut shutdown => { http.abort(); return Ok(()); }
        }
    };

    // 2. The device, its key and port, the interface up; forwarding on.
    let device = Device::start(&options.interface, options.threads)?;
    device.set(
        &(interface_command(&key, options.listen_port).expect("the key was checked") + "\n"),
    )?;
    device.up(&[])?;
    if options.forward {
        enable_forwarding().map_err(GatewayError::Forwarding)?;
    }
    tracing::info!(
        interface = options.interface,
        port = options.listen_port,
        "WireGuard device up"
    );

    let mut last_good: Option<PeerList> = None;
    let mut routed: Option<IpNet> = None;
    let mut ruleset: Option<String> = None;
    let mut addresses: BTreeMap<String, BTreeSet<IpAddr>> = BTreeMap::new();
    let mut addresses_read: Option<std::time::Instant> = None;
    let mut last_written: Option<(GatewayStatus, Timestamp)> = None;
    loop {
        // 3. The desired peers; on error the device keeps what it has.
        let mut error = None;
        match read_peers(&client, &options.clients_namespace).await {
            Ok(list) => {
                // Where namespace-bound clients may go: read only when some client is bound to namespaces, and at
                // most every `addresses_interval`. On failure the last addresses stay (a new address is not
                // reachable until the next good read).
                let due = addresses_read.is_none_or(|at: std::time::Instant| {
                    at.elapsed() >= options.addresses_interval
                });
                if due && list.peers.iter().any(|p| p.namespaces.is_some()) {
                    match read_addresses(&client).await {
                        Ok(read) => {
                            addresses = read;
                            addresses_read = Some(std::time::Instant::now());
                        }
                        Err(e) => error = Some(e),
                    }
                }
                let mut served = Served {
                    routed: &mut routed,
                    ruleset: &mut ruleset,
                };
                if let Err(e) =
                    serve_list(&device, &options, &list, &addresses, &mut served, &metrics)
                {
                    error = Some(e);
                }
                last_good = Some(list);
            }
            Err(e) => {
                metrics.lock().expect("metrics lock").list_errors.inc();
                error = Some(e);
            }
        }
        if let Some(error) = &error {
            tracing::warn!(%error, "the peer list could not be served; the device keeps its peers");
        }
        ready.store(true, Ordering::Relaxed);
        last_turn.store(unix_seconds(), Ordering::Relaxed);

        // 4. Report what the device has.
        match device.get() {
            Ok(live) => {
                let status = status_of(&live, last_good.as_ref(), error.clone());
                update_metrics(&metrics.lock().expect("metrics lock"), &status);
                let now = Timestamp::now();
                // Written on a change of peers or error, and every 30 s for the counters.
                let due = last_written.as_ref().is_none_or(|(previous, at)| {
                    !same_shape(previous, &status)
                        || now.duration_since(*at) > jiff::SignedDuration::from_secs(30)
                });
                if due {
                    match apply_json_configmap(
                        &client,
                        &options.namespace,
                        GATEWAY_STATUS_CONFIGMAP,
                        GATEWAY_STATUS_KEY,
                        &status,
                    )
                    .await
                    {
                        Ok(()) => last_written = Some((status, now)),
                        Err(e) => {
                            tracing::warn!(error = %describe(&e), "cannot write the gateway status");
                        }
                    }
                }
            }
            // The device's channel failed (it may be out of step with its answers): a restart restores every
            // peer from the list, which is safer than guessing.
            Err(e) => return Err(e.into()),
        }

        tokio::select! {
            () = tokio::time::sleep(options.interval) => {}
            () = &mut shutdown => break,
        }
    }
    http.abort();
    drop(device);
    Ok(())
}

/// What the gateway last set up outside the device: the route of the pool and the nftables ruleset.
struct Served<'a> {
    routed: &'a mut Option<IpNet>,
    ruleset: &'a mut Option<String>,
}

/// Seconds since the Unix epoch, for the liveness check.
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Brings the device to the list: the route when the pool changes, the firewall when its rules change (a grant, a
/// client, an address), then the peer diff.
fn serve_list(
    device: &Device,
    options: &GatewayOptions,
    list: &PeerList,
    addresses: &BTreeMap<String, BTreeSet<IpAddr>>,
    served: &mut Served<'_>,
    metrics: &Mutex<Metrics>,
) -> Result<(), String> {
    if *served.routed != Some(list.pool) {
        device.route(&[list.pool]).map_err(|e| e.to_string())?;
        *served.routed = Some(list.pool);
    }
    let live = device.get().map_err(|e| e.to_string())?;
    let changes = diff(&live.peers, &list.peers);
    // Order: removals first (a revocation never waits for anything), then the filter, then the adds, so that a new
    // peer, or one whose range another client held, never meets the old rules. A filter that cannot be installed
    // holds the adds back, not the removals. The filter is installed whatever `--no-forward` says: forwarding may
    // be on without this process's help.
    if let Some(command) = changes.removal_command() {
        device.set(&command).map_err(|e| e.to_string())?;
    }
    let rules = firewall_rules(&options.interface, list, addresses, options.masquerade);
    if served.ruleset.as_ref() != Some(&rules) {
        nft(&rules)?;
        *served.ruleset = Some(rules);
    }
    if let Some(command) = changes.add_command() {
        device.set(&command).map_err(|e| e.to_string())?;
    }
    if changes.is_empty() {
        return Ok(());
    }
    let m = metrics.lock().expect("metrics lock");
    for (action, count) in [
        ("add", changes.add.len()),
        ("remove", changes.remove.len()),
        ("range", changes.change.len()),
    ] {
        m.changes
            .get_or_create(&ActionLabel {
                action: action.into(),
            })
            .inc_by(count as u64);
    }
    tracing::info!(
        added = changes.add.len(),
        removed = changes.remove.len(),
        reranged = changes.change.len(),
        "peers changed"
    );
    Ok(())
}

/// The status of a device against the list it serves.
fn status_of(
    live: &super::peers::LiveDevice,
    list: Option<&PeerList>,
    error: Option<String>,
) -> GatewayStatus {
    let by_key: BTreeMap<&str, &super::peers::Peer> = list
        .map(|l| l.peers.iter().map(|p| (p.public_key.as_str(), p)).collect())
        .unwrap_or_default();
    let mut peers: Vec<PeerStatus> = live
        .peers
        .iter()
        .map(|p| {
            let desired = by_key.get(p.public_key.as_str());
            PeerStatus {
                client: desired.map(|d| d.client.clone()).unwrap_or_default(),
                range: desired.map(|d| d.range),
                last_handshake_seconds: p.last_handshake.map(|d| d.as_secs()),
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
            }
        })
        .collect();
    peers.sort_by(|a, b| a.client.cmp(&b.client));
    let live_keys: std::collections::BTreeSet<&str> =
        live.peers.iter().map(|p| p.public_key.as_str()).collect();
    let missing = by_key
        .iter()
        .filter(|(key, _)| !live_keys.contains(*key))
        .map(|(_, p)| p.client.clone())
        .collect();
    GatewayStatus {
        updated: Timestamp::now(),
        public_key: live.public_key.clone(),
        peers,
        missing,
        error,
    }
}

/// Whether two statuses name the same peers, missing peers and error (counters and times aside).
fn same_shape(a: &GatewayStatus, b: &GatewayStatus) -> bool {
    let names = |s: &GatewayStatus| {
        s.peers
            .iter()
            .map(|p| {
                (
                    p.client.clone(),
                    p.range,
                    p.last_handshake_seconds.is_some(),
                )
            })
            .collect::<Vec<_>>()
    };
    names(a) == names(b) && a.missing == b.missing && a.error == b.error
}

fn update_metrics(metrics: &Metrics, status: &GatewayStatus) {
    metrics
        .peers
        .set(i64::try_from(status.peers.len()).unwrap_or(i64::MAX));
    metrics
        .missing
        .set(i64::try_from(status.missing.len()).unwrap_or(i64::MAX));
    metrics.rx.clear();
    metrics.tx.clear();
    metrics.handshake.clear();
    let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    for peer in status.peers.iter().filter(|p| !p.client.is_empty()) {
        let label = ClientLabel {
            client: peer.client.clone(),
        };
        metrics.rx.get_or_create(&label).set(gauge(peer.rx_bytes));
        metrics.tx.get_or_create(&label).set(gauge(peer.tx_bytes));
        if let Some(age) = peer.last_handshake_seconds {
            metrics.handshake.get_or_create(&label).set(gauge(age));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wireguard::peers::Peer;

    #[test]
    fn the_firewall_lets_each_client_reach_only_where_its_grants_are() {
        let peer = |client: &str, range: &str, namespaces: Option<&[&str]>| Peer {
            client: client.into(),
            public_key: String::new(),
            range: range.parse().expect("net"),
            namespaces: namespaces.map(|n| n.iter().map(|s| (*s).to_owned()).collect()),
        };
        let list = PeerList {
            format_version: 1,
            cluster: "dev".into(),
            allowed_ips: vec![
                "10.96.0.0/12".parse().expect("net"),
                "fd00::/64".parse().expect("net"),
            ],
            pool: "10.90.0.0/24".parse().expect("net"),
            dns: vec!["10.96.0.10".parse().expect("ip")],
            peers: vec![
                peer("admin", "10.90.0.0/30", None),
                peer("dev", "10.90.0.4/30", Some(&["payments", "empty"])),
                peer("none", "10.90.0.8/30", Some(&[])),
            ],
        };
        let addresses: BTreeMap<String, BTreeSet<IpAddr>> = [
            (
                "payments".to_owned(),
                ["10.96.1.1", "10.200.0.1", "fd00::1"]
                    .iter()
                    .map(|a| a.parse().expect("ip"))
                    .collect(),
            ),
            (
                "other".to_owned(),
                ["10.96.2.2".parse().expect("ip")].into(),
            ),
        ]
        .into();
        let rules = firewall_rules("tollgate0", &list, &addresses, true);
        assert!(
            rules.contains("iifname \"tollgate0\" ip daddr { 10.96.0.10 } accept"),
            "{rules}"
        );
        assert!(rules.contains(
            "iifname \"tollgate0\" ip saddr { 10.90.0.0/30 } ip daddr { 10.96.0.0/12 } accept"
        ));
        // Only payments' addresses inside allowedIps (10.200.0.1 is not), per family; `other` is not theirs.
        assert!(
            rules.contains(
                "iifname \"tollgate0\" ip saddr 10.90.0.4/30 ip daddr { 10.96.1.1 } accept"
            ),
            "{rules}"
        );
        assert!(!rules.contains("10.200.0.1") && !rules.contains("10.96.2.2"));
        assert!(
            !rules.contains("10.90.0.8/30"),
            "a client without grants gets no rule: {rules}"
        );
        assert!(rules.contains("    iifname \"tollgate0\" drop\n  }\n  chain input"));
        assert!(rules.contains("ip saddr 10.90.0.0/24 oifname != \"tollgate0\" masquerade"));
        assert!(!firewall_rules("tollgate0", &list, &addresses, false).contains("masquerade"));
    }
}
