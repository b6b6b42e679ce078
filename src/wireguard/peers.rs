//! The WireGuard peers of a cluster's gateway as data: the desired list the controller publishes (public keys and
//! ranges only, never a token or a private key), the live peers a device reports over the cross-platform UAPI,
//! the difference between them, and the UAPI `set` commands that apply exactly that difference. Pure: the gateway
//! (`super::gateway`) does the I/O.
//!
//! The UAPI text follows <https://www.wireguard.com/xplatform/>, worked around boringtun 0.7.1's device: a `set`
//! naming a peer the device already has without `remove=true` panics inside the device (boringtun issues 40 and
//! 209), and flags of one peer section leak into the next, so every section here says `remove=` explicitly and an
//! unchanged peer is never sent. A change of range is a removal followed by an add of that one peer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Version of the published peer list; a gateway refuses other versions rather than guess.
pub const PEERS_FORMAT_VERSION: u32 = 1;
/// The ConfigMap, in the clients namespace, that holds the [`PeerList`] under [`PEERS_KEY`].
pub const PEERS_CONFIGMAP: &str = "tollgate-peers";
/// The data key of the peer list in [`PEERS_CONFIGMAP`].
pub const PEERS_KEY: &str = "peers.json";
/// The Secret, in the clients namespace, that holds only the gateway's WireGuard private key: the gateway pod may
/// read it (its Role names it), and nothing else of tollgate's state.
pub const GATEWAY_SECRET: &str = "tollgate-gateway";
/// The data key of the private key (base64, as `wg` prints it) in [`GATEWAY_SECRET`].
pub const GATEWAY_PRIVATE_KEY: &str = "privateKey";

/// What a gateway serves: the cluster's networks, the client pool and one peer per VPN client. Unknown fields are
/// ignored, so that a newer controller's list does not stop an older gateway (incompatible changes raise
/// [`PEERS_FORMAT_VERSION`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerList {
    /// [`PEERS_FORMAT_VERSION`].
    pub format_version: u32,
    /// The Settings cluster (tollgate instance) these peers belong to.
    pub cluster: String,
    /// Settings' `gateway.allowedIps`: where clients' packets may go (the cluster's networks); nothing else is
    /// forwarded.
    pub allowed_ips: Vec<IpNet>,
    /// Settings' `clientPool.cidr`: the gateway routes it into the tunnel.
    pub pool: IpNet,
    /// Settings' `gateway.dns`: every client may reach these (names are looked up before anything else).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<std::net::IpAddr>,
    /// One entry per VPN client with a key, in client name order.
    pub peers: Vec<Peer>,
}

/// One client's peer: its public key and the range it may send from (its WireGuard `AllowedIPs` on the gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// The `Client` document's name.
    pub client: String,
    /// The client's WireGuard public key, base64 as `wg` prints it.
    pub public_key: String,
    /// The client's range from the pool, e.g. `10.90.0.4/30`.
    pub range: IpNet,
    /// The namespaces whose Service and Pod addresses it may reach: those where its grants are (see
    /// [`super::reach`]). Absent: a cluster-wide grant, so all of `allowedIps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
}

/// Why a published peer list cannot be served; the gateway keeps its last good peers and reports this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerListError {
    /// Not JSON of a peer list.
    #[error("{PEERS_CONFIGMAP}/{PEERS_KEY} is not a peer list: {0}")]
    Syntax(String),
    /// Written by a tollgate of another format.
    #[error(
        "{PEERS_CONFIGMAP}/{PEERS_KEY} has format version {0}; this tollgate reads {PEERS_FORMAT_VERSION}"
    )]
    Version(u32),
    /// A public key that is not 32 bytes of base64.
    #[error("peer of client `{client}`: publicKey is not a WireGuard key (32 bytes of base64)")]
    Key {
        /// The peer's client.
        client: String,
    },
    /// Two peers with one key: the device could not tell them apart.
    #[error("clients `{0}` and `{1}` have the same public key")]
    DuplicateKey(String, String),
    /// Two peers whose ranges overlap: a packet's source would not name one client.
    #[error("the ranges of clients `{0}` and `{1}` overlap")]
    Overlap(String, String),
    /// A range outside the pool that the gateway routes.
    #[error("the range {range} of client `{client}` is outside the client pool {pool}")]
    OutsidePool {
        /// The peer's client.
        client: String,
        /// Its range.
        range: IpNet,
        /// The pool.
        pool: IpNet,
    },
}

impl PeerList {
    /// The JSON the controller writes: pretty, peers in client order, so an unchanged list is byte-for-byte equal.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a peer list serializes") + "\n"
    }

    /// Reads and checks a published list: its version, every key, unique keys, ranges inside the pool and apart.
    ///
    /// # Errors
    /// The first problem found, as a [`PeerListError`].
    pub fn parse(text: &str) -> Result<PeerList, PeerListError> {
        let list: PeerList =
            serde_json::from_str(text).map_err(|e| PeerListError::Syntax(e.to_string()))?;
        if list.format_version != PEERS_FORMAT_VERSION {
            return Err(PeerListError::Version(list.format_version));
        }
        let mut keys: BTreeMap<&str, &str> = BTreeMap::new();
        for (i, peer) in list.peers.iter().enumerate() {
            if key_bytes(&peer.public_key).is_none() {
                return Err(PeerListError::Key {
                    client: peer.client.clone(),
                });
            }
            if let Some(other) = keys.insert(&peer.public_key, &peer.client) {
                return Err(PeerListError::DuplicateKey(
                    other.to_owned(),
                    peer.client.clone(),
                ));
            }
            if !list.pool.contains(&peer.range) {
                return Err(PeerListError::OutsidePool {
                    client: peer.client.clone(),
                    range: peer.range,
                    pool: list.pool,
                });
            }
            if let Some(other) = list.peers[..i]
                .iter()
                .find(|o| o.range.contains(&peer.range) || peer.range.contains(&o.range))
            {
                return Err(PeerListError::Overlap(
                    other.client.clone(),
                    peer.client.clone(),
                ));
            }
        }
        Ok(list)
    }
}

/// The 32 bytes of a base64 WireGuard key, or `None`.
pub fn key_bytes(key: &str) -> Option<[u8; 32]> {
    BASE64.decode(key).ok()?.try_into().ok()
}

/// A base64 key as the UAPI writes it: lowercase hex.
fn key_hex(key: &str) -> Option<String> {
    Some(hex::encode(key_bytes(key)?))
}

/// A UAPI hex key back to base64.
fn hex_key(text: &str) -> Option<String> {
    let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    Some(BASE64.encode(bytes))
}

/// One peer as a device reports it (`get=1`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LivePeer {
    /// Base64 public key.
    pub public_key: String,
    /// The peer's allowed IPs on the device.
    pub allowed_ips: Vec<IpNet>,
    /// Where its last authenticated packet came from (`ip:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Time since the last handshake (boringtun reports an age, not a Unix time); `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handshake: Option<Duration>,
    /// Bytes received from the peer.
    pub rx_bytes: u64,
    /// Bytes sent to the peer.
    pub tx_bytes: u64,
}

/// What `get=1` returned: the device's own key and port, and its peers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveDevice {
    /// Base64 public key of the device's private key; `None` before one is set.
    pub public_key: Option<String>,
    /// The UDP port it listens on.
    pub listen_port: Option<u16>,
    /// Its peers, in the order reported.
    pub peers: Vec<LivePeer>,
}

/// A UAPI answer that does not parse, or that reports an error number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UapiError {
    /// `errno=N` with N != 0 (e.g. 22, EINVAL: a value the device refused).
    #[error("the WireGuard device answered errno={0}")]
    Errno(i32),
    /// A line the protocol does not have.
    #[error("the WireGuard device answered an unreadable line: {0:?}")]
    Line(String),
    /// No `errno=` line: the answer was cut off.
    #[error("the WireGuard device's answer ended without errno")]
    Truncated,
}

/// Parses the answer to `get=1`: `key=value` lines, peers started by `public_key=`, ended by `errno=`.
///
/// # Errors
/// [`UapiError`] on a line without `=`, a bad value, an answer without `errno` or with a non-zero one.
pub fn parse_get(text: &str) -> Result<LiveDevice, UapiError> {
    let mut device = LiveDevice::default();
    let mut handshake_sec: Option<u64> = None;
    let bad = |line: &str| UapiError::Line(line.to_owned());
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| bad(line))?;
        match key {
            "errno" => {
                let errno: i32 = value.parse().map_err(|_| bad(line))?;
                return if errno == 0 {
                    Ok(device)
                } else {
                    Err(UapiError::Errno(errno))
                };
            }
            "own_public_key" | "private_key" if device.peers.is_empty() => {
                let hex = hex_key(value).ok_or_else(|| bad(line))?;
                if key == "own_public_key" {
                    device.public_key = Some(hex);
                }
            }
            "listen_port" => device.listen_port = Some(value.parse().map_err(|_| bad(line))?),
            "public_key" => {
                handshake_sec = None;
                device.peers.push(LivePeer {
                    public_key: hex_key(value).ok_or_else(|| bad(line))?,
                    ..LivePeer::default()
                });
            }
            _ => {
                let Some(peer) = device.peers.last_mut() else {
                    // Device-level keys this tollgate does not use (fwmark, ...).
                    continue;
                };
                match key {
                    "allowed_ip" => peer.allowed_ips.push(value.parse().map_err(|_| bad(line))?),
                    "endpoint" => peer.endpoint = Some(value.to_owned()),
                    "last_handshake_time_sec" => {
                        let sec = value.parse().map_err(|_| bad(line))?;
                        handshake_sec = Some(sec);
                        peer.last_handshake = Some(Duration::from_secs(sec));
                    }
                    "last_handshake_time_nsec" => {
                        let nsec: u32 = value.parse().map_err(|_| bad(line))?;
                        if let Some(sec) = handshake_sec {
                            peer.last_handshake = Some(Duration::new(sec, nsec));
                        }
                    }
                    "rx_bytes" => peer.rx_bytes = value.parse().map_err(|_| bad(line))?,
                    "tx_bytes" => peer.tx_bytes = value.parse().map_err(|_| bad(line))?,
                    _ => {}
                }
            }
        }
    }
    Err(UapiError::Truncated)
}

/// Parses the answer to `set=1`: only `errno=`.
///
/// # Errors
/// [`UapiError::Errno`] when the device refused the command.
pub fn parse_set(text: &str) -> Result<(), UapiError> {
    parse_get(text).map(|_| ())
}

/// What must change on a device so that its peers are the desired ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PeerDiff {
    /// Desired peers the device lacks.
    pub add: Vec<Peer>,
    /// Live peers nobody wants any more (base64 keys).
    pub remove: Vec<String>,
    /// Peers whose allowed IPs differ from their range: removed, then added again.
    pub change: Vec<Peer>,
}

impl PeerDiff {
    /// Whether the device is already as desired.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && self.change.is_empty()
    }

    /// The UAPI commands that apply this difference, each a whole `set=1` request to send on its own connection:
    /// first the removals (removed and changed peers), then the adds (new and changed peers). Empty when there
    /// is nothing to do, so an unchanged peer is never sent.
    pub fn set_commands(&self) -> Vec<String> {
        self.removal_command()
            .into_iter()
            .chain(self.add_command())
            .collect()
    }

    /// The `set=1` that removes the removed and the changed peers, if any.
    pub fn removal_command(&self) -> Option<String> {
        let removals: Vec<&str> = self
            .remove
            .iter()
            .map(String::as_str)
            .chain(self.change.iter().map(|p| p.public_key.as_str()))
            .collect();
        if removals.is_empty() {
            return None;
        }
        let mut command = String::from("set=1\n");
        for key in removals {
            let hex = key_hex(key).expect("keys were checked when the list was parsed");
            command.push_str(&format!("public_key={hex}\nremove=true\n"));
        }
        Some(command + "\n")
    }

    /// The `set=1` that adds the new and the changed peers, if any.
    pub fn add_command(&self) -> Option<String> {
        let adds: Vec<&Peer> = self.add.iter().chain(&self.change).collect();
        if adds.is_empty() {
            return None;
        }
        let mut command = String::from("set=1\n");
        for peer in adds {
            command.push_str(&peer_section(&peer.public_key, &[peer.range], None, None));
        }
        Some(command + "\n")
    }
}

/// One peer section of a `set=1` that adds a peer: `remove=false` said explicitly because boringtun carries a
/// previous section's `remove=true` over.
pub fn peer_section(
    public_key: &str,
    allowed_ips: &[IpNet],
    endpoint: Option<std::net::SocketAddr>,
    persistent_keepalive: Option<u16>,
) -> String {
    let hex = key_hex(public_key).expect("keys were checked before they reach the device");
    let mut section = format!("public_key={hex}\nremove=false\n");
    if let Some(endpoint) = endpoint {
        section.push_str(&format!("endpoint={endpoint}\n"));
    }
    if let Some(seconds) = persistent_keepalive {
        section.push_str(&format!("persistent_keepalive_interval={seconds}\n"));
    }
    for ip in allowed_ips {
        section.push_str(&format!("allowed_ip={ip}\n"));
    }
    section
}

/// The device-level part of a `set=1`: the private key and the UDP port (0: any).
pub fn interface_command(private_key: &str, listen_port: u16) -> Option<String> {
    let hex = key_hex(private_key)?;
    Some(format!(
        "set=1\nprivate_key={hex}\nlisten_port={listen_port}\n"
    ))
}

/// Compares the live peers with the desired ones, by public key.
pub fn diff(live: &[LivePeer], desired: &[Peer]) -> PeerDiff {
    let live_by_key: BTreeMap<&str, &LivePeer> =
        live.iter().map(|p| (p.public_key.as_str(), p)).collect();
    let desired_keys: BTreeSet<&str> = desired.iter().map(|p| p.public_key.as_str()).collect();
    let mut result = PeerDiff::default();
    for peer in desired {
        match live_by_key.get(peer.public_key.as_str()) {
            None => result.add.push(peer.clone()),
            // boringtun reports allowed IPs without host bits: compare like with like.
            Some(live) if live.allowed_ips != [peer.range.trunc()] => {
                result.change.push(peer.clone());
            }
            Some(_) => {}
        }
    }
    result.remove = live
        .iter()
        .filter(|p| !desired_keys.contains(p.public_key.as_str()))
        .map(|p| p.public_key.clone())
        .collect();
    result
}

/// One client's change of peer as the plan shows it: a new peer, one removed, a new range, or a new key (a
/// revocation rotates it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerChange {
    /// The `Client` document's name.
    pub client: String,
    /// `add`, `remove` or `range`.
    pub action: PeerAction,
    /// The range it has now (`remove`, `range`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<IpNet>,
    /// The range it will have (`add`, `range`); for a new client, the range the pool will give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<IpNet>,
}

/// What happens to a client's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerAction {
    /// A new peer.
    Add,
    /// The peer goes: its next handshake fails.
    Remove,
    /// The peer's range changes: the old one stops working.
    Range,
}

impl std::fmt::Display for PeerChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |range: Option<IpNet>| range.map_or_else(|| "?".to_owned(), |r| r.to_string());
        match self.action {
            PeerAction::Add => write!(f, "client {}: + peer {}", self.client, show(self.to)),
            PeerAction::Remove => write!(f, "client {}: - peer {}", self.client, show(self.from)),
            PeerAction::Range => write!(
                f,
                "client {}: ~ peer {} -> {}",
                self.client,
                show(self.from),
                show(self.to)
            ),
        }
    }
}

/// The peer changes between the published list (`live`, `None` when none was published) and the ranges the
/// clients will have (`desired`: client -> range, as [`crate::credentials::addresses::allocate`] assigns them).
pub fn peer_changes(live: Option<&PeerList>, desired: &BTreeMap<String, IpNet>) -> Vec<PeerChange> {
    let live: BTreeMap<&str, IpNet> = live
        .map(|l| {
            l.peers
                .iter()
                .map(|p| (p.client.as_str(), p.range))
                .collect()
        })
        .unwrap_or_default();
    let mut changes = Vec::new();
    for (client, range) in desired {
        match live.get(client.as_str()) {
            None => changes.push(PeerChange {
                client: client.clone(),
                action: PeerAction::Add,
                from: None,
                to: Some(*range),
            }),
            Some(now) if now != range => changes.push(PeerChange {
                client: client.clone(),
                action: PeerAction::Range,
                from: Some(*now),
                to: Some(*range),
            }),
            Some(_) => {}
        }
    }
    for (client, range) in &live {
        if !desired.contains_key(*client) {
            changes.push(PeerChange {
                client: (*client).to_owned(),
                action: PeerAction::Remove,
                from: Some(*range),
                to: None,
            });
        }
    }
    changes.sort_by(|a, b| a.client.cmp(&b.client));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> String {
        BASE64.encode([n; 32])
    }

    fn peer(client: &str, n: u8, range: &str) -> Peer {
        Peer {
            client: client.into(),
            public_key: key(n),
            range: range.parse().expect("range"),
            namespaces: None,
        }
    }

    fn live(n: u8, ranges: &[&str]) -> LivePeer {
        LivePeer {
            public_key: key(n),
            allowed_ips: ranges.iter().map(|r| r.parse().expect("range")).collect(),
            ..LivePeer::default()
        }
    }

    #[test]
    fn unchanged_peers_are_never_sent_and_sections_say_remove_explicitly() {
        let desired = [
            peer("a", 1, "10.90.0.0/30"),
            peer("b", 2, "10.90.0.4/30"),
            peer("c", 3, "10.90.0.8/30"),
        ];
        let live_peers = [
            live(1, &["10.90.0.0/30"]),
            live(2, &["10.90.0.12/30"]),
            live(9, &[]),
        ];
        let d = diff(&live_peers, &desired);
        assert_eq!(d.add, [desired[2].clone()]);
        assert_eq!(d.change, [desired[1].clone()]);
        assert_eq!(d.remove, [key(9)]);
        let commands = d.set_commands();
        assert_eq!(commands.len(), 2);
        let hex = |n: u8| format!("{n:02x}").repeat(32);
        assert_eq!(
            commands[0],
            format!(
                "set=1\npublic_key={}\nremove=true\npublic_key={}\nremove=true\n\n",
                hex(9),
                hex(2)
            )
        );
        assert_eq!(
            commands[1],
            format!(
                "set=1\npublic_key={}\nremove=false\nallowed_ip=10.90.0.8/30\npublic_key={}\nremove=false\nallowed_ip=10.90.0.4/30\n\n",
                hex(3),
                hex(2)
            )
        );
        assert!(
            !commands.concat().contains(&hex(1)),
            "an unchanged peer is sent"
        );
        assert!(
            diff(&[live(1, &["10.90.0.0/30"])], &desired[..1])
                .set_commands()
                .is_empty()
        );
        // The device reports ranges without host bits; a range written with them is the same range.
        let hosty = [peer("a", 1, "10.90.0.1/30")];
        assert!(diff(&[live(1, &["10.90.0.0/30"])], &hosty).is_empty());
    }

    #[test]
    fn get_answers_parse_with_handshake_ages_and_counters() {
        let hex = "01".repeat(32);
        let text = format!(
            "own_public_key={}\nlisten_port=51820\npublic_key={hex}\nendpoint=192.0.2.1:4000\nallowed_ip=10.90.0.4/30\nlast_handshake_time_sec=3\nlast_handshake_time_nsec=500\nrx_bytes=10\ntx_bytes=20\npublic_key={}\nallowed_ip=10.90.0.8/30\nrx_bytes=0\ntx_bytes=0\nerrno=0\n\n",
            "02".repeat(32),
            "03".repeat(32)
        );
        let device = parse_get(&text).expect("parses");
        assert_eq!(device.public_key, Some(key(2)));
        assert_eq!(device.listen_port, Some(51820));
        assert_eq!(device.peers.len(), 2);
        assert_eq!(device.peers[0].public_key, key(1));
        assert_eq!(device.peers[0].last_handshake, Some(Duration::new(3, 500)));
        assert_eq!(
            (device.peers[0].rx_bytes, device.peers[0].tx_bytes),
            (10, 20)
        );
        assert_eq!(device.peers[1].last_handshake, None);
        assert_eq!(parse_get("errno=22\n"), Err(UapiError::Errno(22)));
        assert_eq!(parse_get("listen_port=1\n"), Err(UapiError::Truncated));
        assert!(matches!(
            parse_get("nonsense\nerrno=0\n"),
            Err(UapiError::Line(_))
        ));
    }

    #[test]
    fn published_lists_are_checked() {
        let list = PeerList {
            format_version: PEERS_FORMAT_VERSION,
            cluster: "dev".into(),
            allowed_ips: vec!["10.96.0.0/12".parse().expect("net")],
            pool: "10.90.0.0/24".parse().expect("net"),
            dns: vec![],
            peers: vec![peer("a", 1, "10.90.0.0/30"), peer("b", 2, "10.90.0.4/30")],
        };
        assert_eq!(PeerList::parse(&list.to_json()), Ok(list.clone()));
        let mut dup = list.clone();
        dup.peers[1].public_key = key(1);
        assert_eq!(
            PeerList::parse(&dup.to_json()),
            Err(PeerListError::DuplicateKey("a".into(), "b".into()))
        );
        let mut overlap = list.clone();
        overlap.peers[1].range = "10.90.0.0/29".parse().expect("net");
        assert_eq!(
            PeerList::parse(&overlap.to_json()),
            Err(PeerListError::Overlap("a".into(), "b".into()))
        );
        let mut outside = list.clone();
        outside.peers[1].range = "10.91.0.0/30".parse().expect("net");
        assert!(matches!(
            PeerList::parse(&outside.to_json()),
            Err(PeerListError::OutsidePool { .. })
        ));
        let mut bad_key = list.clone();
        bad_key.peers[0].public_key = "short".into();
        assert!(matches!(
            PeerList::parse(&bad_key.to_json()),
            Err(PeerListError::Key { .. })
        ));
        assert!(matches!(
            PeerList::parse("{"),
            Err(PeerListError::Syntax(_))
        ));
        let mut version = list;
        version.format_version = 2;
        assert_eq!(
            PeerList::parse(&version.to_json()),
            Err(PeerListError::Version(2))
        );
    }

    #[test]
    fn plan_changes_name_clients_and_ranges() {
        let list = PeerList {
            format_version: PEERS_FORMAT_VERSION,
            cluster: "dev".into(),
            allowed_ips: vec![],
            pool: "10.90.0.0/24".parse().expect("net"),
            dns: vec![],
            peers: vec![peer("a", 1, "10.90.0.0/30"), peer("b", 2, "10.90.0.4/30")],
        };
        let desired: BTreeMap<String, IpNet> = [
            ("b".to_owned(), "10.90.0.8/30".parse().expect("net")),
            ("c".to_owned(), "10.90.0.4/30".parse().expect("net")),
        ]
        .into();
        let shown: Vec<String> = peer_changes(Some(&list), &desired)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            shown,
            [
                "client a: - peer 10.90.0.0/30",
                "client b: ~ peer 10.90.0.4/30 -> 10.90.0.8/30",
                "client c: + peer 10.90.0.4/30"
            ]
        );
        assert_eq!(peer_changes(None, &desired).len(), 2);
    }
}
