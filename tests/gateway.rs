//! The WireGuard gateway against real parts, as root, in network namespaces this test makes: a "cluster" namespace
//! with a line-echo service on a cluster-network address (10.96.0.10) and one outside the clients' networks
//! (10.97.0.10), the gateway namespace running `tollgate gateway` (its API server reached through a loopback
//! forward), and two client namespaces on a bridge: one with the stock `wireguard-go` + `wg` configured from
//! `tollgate client wg-config`, one with `tollgate connect`. The peers come from a real publish (kube-apiserver,
//! git daemon), and every change is made by a commit.

mod common;
mod harness;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_success, stdout};
use harness::git::{GitServer, git};
use harness::netns::{Namespaces, in_netns, is_root, network, ok, run};
use harness::{APPLIER_TOKEN, ControlPlane, Options};
use serde_json::Value;

/// The service of namespace `payments` (alice's grant), and one of namespace `other` (only bob's cluster-wide grant).
const SERVICE: &str = "10.96.0.10:7000";
const OTHER: &str = "10.96.0.20:7000";
const OUTSIDE: &str = "10.97.0.10:7000";

fn identity(name: &str) -> String {
    common::root()
        .join("tests/identities")
        .join(name)
        .display()
        .to_string()
}

/// A line-echo server on `address` inside `ns`, serving until the process ends.
fn echo_server(ns: &str, address: &'static str) {
    let listener = in_netns(ns, move || {
        TcpListener::bind(address).expect("bind the service")
    });
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone");
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if writeln!(writer, "{line}").is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// Whether a new connection from `ns` to `address` echoes a line within `timeout`.
fn reaches(ns: &str, address: &'static str, timeout: Duration) -> bool {
    in_netns(ns, move || {
        let target: SocketAddr = address.parse().expect("address");
        let Ok(stream) = TcpStream::connect_timeout(&target, timeout) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(timeout));
        let mut writer = stream.try_clone().expect("clone");
        if writeln!(writer, "ping").is_err() {
            return false;
        }
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok() && line == "ping\n"
    })
}

#[track_caller]
fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Forwards `127.0.0.1:port` inside `ns` to `127.0.0.1:port` here, so a process in `ns` reaches the API server.
fn forward_api(ns: &str, port: u16) {
    let listener = in_netns(ns, move || {
        TcpListener::bind(("127.0.0.1", port)).expect("bind the forward")
    });
    std::thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            let Ok(outbound) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            for (mut from, mut to) in [
                (
                    inbound.try_clone().expect("clone"),
                    outbound.try_clone().expect("clone"),
                ),
                (outbound, inbound),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

/// A stream of numbered lines over the tunnel, each echoed: counts the echoes and the longest wait for one.
struct Stream {
    stop: Arc<AtomicBool>,
    longest_gap: Arc<Mutex<Duration>>,
    thread: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl Stream {
    fn start(ns: &str, address: &'static str) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let longest_gap = Arc::new(Mutex::new(Duration::ZERO));
        let stream = in_netns(ns, move || {
            TcpStream::connect_timeout(&address.parse().expect("address"), Duration::from_secs(5))
                .expect("the stream connects")
        });
        let (s, g) = (stop.clone(), longest_gap.clone());
        let thread = std::thread::spawn(move || {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut writer = stream.try_clone().expect("clone");
            let mut reader = BufReader::new(stream);
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                let sent = Instant::now();
                writeln!(writer, "{n}").map_err(|e| format!("send {n}: {e}"))?;
                let mut line = String::new();
                reader
                    .read_line(&mut line)
                    .map_err(|e| format!("echo of {n}: {e}"))?;
                if line.trim() != n.to_string() {
                    return Err(format!("sent {n}, echoed {line:?}"));
                }
                let gap = sent.elapsed();
                let mut longest = g.lock().expect("lock");
                *longest = (*longest).max(gap);
                drop(longest);
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(n)
        });
        Stream {
            stop,
            longest_gap,
            thread: Some(thread),
        }
    }

    /// Stops it: the lines exchanged and the longest wait for an echo.
    fn finish(mut self) -> (u64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let result = self
            .thread
            .take()
            .expect("running")
            .join()
            .expect("the stream thread");
        let exchanged = result.unwrap_or_else(|e| panic!("the stream broke: {e}"));
        (exchanged, *self.longest_gap.lock().expect("lock"))
    }
}

struct World {
    plane: ControlPlane,
    server: GitServer,
    applier: PathBuf,
    cache: tempfile::TempDir,
    dir: tempfile::TempDir,
    net: Namespaces,
    /// Namespace names: cluster, gateway, client 1 (wireguard-go), client 2 (tollgate connect).
    cluster: String,
    gw: String,
    c1: String,
    c2: String,
    /// Interface names (unique on the host: the UAPI socket path is global).
    gw_if: String,
    wg_if: String,
    connect_if: String,
}

impl World {
    fn publish(&self) {
        let args = self.server.publish_args(self.cache.path(), "dev", &[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.plane.tollgate(&self.applier, &args);
        assert_success(&output);
        git(
            &self.server.work,
            &["pull", "--quiet", "--rebase", "origin", "main"],
        );
    }

    fn edit(&self, path: &str, change: impl FnOnce(String) -> String) {
        let path = self.server.work.join(path);
        let text = std::fs::read_to_string(&path).expect("readable");
        let changed = change(text.clone());
        assert_ne!(changed, text);
        std::fs::write(&path, changed).expect("writable");
    }

    fn client_file(&self, client: &str) -> String {
        self.server
            .work
            .join(format!("artifacts/dev/{client}.age"))
            .display()
            .to_string()
    }

    fn plan_text(&self) -> String {
        let output = self.plane.tollgate(
            &self.applier,
            &[
                "plan",
                "--repo",
                &self.server.work.display().to_string(),
                "--cluster",
                "dev",
            ],
        );
        assert_success(&output);
        stdout(&output)
    }

    /// The gateway's peers as `wg show` reads them from the device: public keys and allowed IPs (none while the
    /// device is not up).
    fn wg_peers(&self) -> Vec<(String, String)> {
        stdout(&run(
            "ip",
            &[
                "netns",
                "exec",
                &self.gw,
                "wg",
                "show",
                &self.gw_if,
                "allowed-ips",
            ],
        ))
        .lines()
        .map(|line| {
            let (key, ips) = line.split_once('\t').expect("key<TAB>ips");
            (key.to_owned(), ips.to_owned())
        })
        .collect()
    }

    /// The published peer list.
    fn peer_list(&self) -> Value {
        let output = self.plane.kubectl(&[
            "-n",
            "tollgate-clients",
            "get",
            "configmap",
            "tollgate-peers",
            "-o",
            "jsonpath={.data.peers\\.json}",
        ]);
        assert_success(&output);
        serde_json::from_slice(&output.stdout).expect("a peer list")
    }

    fn public_key_of(&self, client: &str) -> String {
        self.peer_list()["peers"]
            .as_array()
            .expect("peers")
            .iter()
            .find(|p| p["client"] == client)
            .unwrap_or_else(|| panic!("{client} has a peer"))["publicKey"]
            .as_str()
            .expect("key")
            .to_owned()
    }

    fn gateway_status(&self) -> Option<Value> {
        let output = self.plane.kubectl(&[
            "-n",
            "tollgate-system",
            "get",
            "configmap",
            "tollgate-gateway-status",
            "-o",
            "jsonpath={.data.status\\.json}",
        ]);
        output
            .status
            .success()
            .then(|| serde_json::from_slice(&output.stdout).ok())
            .flatten()
    }

    fn start_gateway(&mut self) -> usize {
        let log = std::fs::File::create(self.dir.path().join("gateway.log")).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.gw])
            .arg(env!("CARGO_BIN_EXE_tollgate"))
            .args(["gateway", "--kubeconfig"])
            .arg(&self.applier)
            .args([
                "--interface",
                &self.gw_if,
                "--interval",
                "300ms",
                "--listen",
                "127.0.0.1:9100",
            ])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("the gateway starts");
        self.net.children.push(child);
        self.net.children.len() - 1
    }

    fn gateway_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// Configures client 1's wireguard-go interface from `tollgate client wg-config` of `client`: the `wg` part
    /// with `wg setconf`, the address with `ip` (what wg-quick would do).
    fn configure_wireguard_go(&self, client: &str, extra_allowed: Option<&str>) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["client", "wg-config", &self.client_file(client), "-i"])
            .arg(identity("alice.agekey"))
            .output()
            .expect("tollgate runs");
        assert_success(&output);
        let config = stdout(&output);
        let address = config
            .lines()
            .find_map(|l| l.strip_prefix("Address = "))
            .expect("an Address")
            .to_owned();
        let mut wg_only: String = config
            .lines()
            .filter(|l| !l.starts_with("Address") && !l.starts_with("DNS"))
            .map(|l| format!("{l}\n"))
            .collect();
        if let Some(extra) = extra_allowed {
            wg_only = wg_only.replace("AllowedIPs = ", &format!("AllowedIPs = {extra}, "));
        }
        let path = self.dir.path().join("wg1.conf");
        std::fs::write(&path, wg_only).expect("write");
        let ns = self.c1.as_str();
        let dev = self.wg_if.as_str();
        ok(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "wg",
                "setconf",
                dev,
                &path.display().to_string(),
            ],
        );
        ok("ip", &["-n", ns, "address", "flush", "dev", dev]);
        ok("ip", &["-n", ns, "address", "add", &address, "dev", dev]);
        ok("ip", &["-n", ns, "link", "set", dev, "up"]);
        ok(
            "ip",
            &["-n", ns, "route", "replace", "10.96.0.0/16", "dev", dev],
        );
        if let Some(extra) = extra_allowed {
            ok("ip", &["-n", ns, "route", "replace", extra, "dev", dev]);
        }
        address
    }
}

#[test]
fn the_gateway_serves_the_repository_s_peers_live_and_clients_connect() {
    assert!(
        is_root(),
        "this test makes network namespaces and TUN devices: run it as root (scripts/test does)"
    );
    let prefix = format!("t{}", std::process::id() % 100_000);
    let (net, [cluster, gw, c1, c2]) = network(&prefix);
    ok(
        "ip",
        &[
            "-n",
            &cluster,
            "address",
            "add",
            "10.96.0.20/32",
            "dev",
            "lo",
        ],
    );
    echo_server(&cluster, "10.96.0.10:7000");
    echo_server(&cluster, "10.96.0.20:7000");
    echo_server(&cluster, "10.97.0.10:7000");

    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    for namespace in ["tollgate-system", "payments", "other"] {
        assert_success(&plane.kubectl(&["create", "namespace", namespace]));
    }
    // The Pod addresses of the two namespaces, as the EndpointSlice controller would publish them.
    let slices = std::env::temp_dir().join(format!("{prefix}-slices.yaml"));
    std::fs::write(
        &slices,
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo, namespace: payments, labels: {kubernetes.io/service-name: echo, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}}\naddressType: IPv4\nendpoints: [{addresses: [10.96.0.10]}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo, namespace: other, labels: {kubernetes.io/service-name: echo, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io}}\naddressType: IPv4\nendpoints: [{addresses: [10.96.0.20]}]\n",
    )
    .expect("write");
    assert_success(&plane.kubectl(&["apply", "-f", &slices.display().to_string()]));
    let _ = std::fs::remove_file(&slices);
    let server = GitServer::start(&common::root().join("tests/fixtures/gateway"));
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let port: u16 = plane
        .server
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the API server's port");
    forward_api(&gw, port);
    let mut world = World {
        plane,
        server,
        applier,
        cache: tempfile::tempdir().expect("temp dir"),
        dir: tempfile::tempdir().expect("temp dir"),
        net,
        cluster,
        gw,
        c1,
        c2,
        gw_if: format!("{prefix}g"),
        wg_if: format!("{prefix}w"),
        connect_if: format!("{prefix}k"),
    };
    let _ = &world.cluster;

    // The plan shows the peers next to the RBAC changes; the first publish writes them.
    let plan = world.plan_text();
    assert!(
        plan.contains("client alice-laptop: + peer 10.90.0.0/30")
            && plan.contains("client bob-laptop: + peer 10.90.0.4/30"),
        "{plan}"
    );
    world.publish();
    let list = world.peer_list();
    assert_eq!(list["peers"].as_array().map(Vec::len), Some(2), "{list}");
    let gateway_secret = world.plane.kubectl(&[
        "-n",
        "tollgate-clients",
        "get",
        "secret",
        "tollgate-gateway",
        "-o",
        "jsonpath={.data}",
    ]);
    assert_eq!(
        serde_json::from_slice::<Value>(&gateway_secret.stdout)
            .expect("data")
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["privateKey".to_owned()]),
        "the gateway's Secret holds its key and nothing else"
    );

    // The gateway comes up with both peers, as `wg show` reads them from its device.
    let gateway = world.start_gateway();
    let deadline = Instant::now() + Duration::from_secs(20);
    while world.wg_peers().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "the gateway does not show 2 peers: {}",
            world.gateway_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let peers = world.wg_peers();
    let alice_key = world.public_key_of("alice-laptop");
    assert!(
        peers.contains(&(alice_key.clone(), "10.90.0.0/30".to_owned())),
        "{peers:?}\n{}",
        world.gateway_log()
    );

    // Client 1: stock wireguard-go + wg from `tollgate client wg-config`; it reaches the service.
    let wireguard_go = Command::new("ip")
        .args([
            "netns",
            "exec",
            &world.c1,
            "wireguard-go",
            "-f",
            &world.wg_if,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wireguard-go starts");
    world.net.children.push(wireguard_go);
    eventually("wireguard-go's socket", Duration::from_secs(10), || {
        Path::new(&format!("/var/run/wireguard/{}.sock", world.wg_if)).exists()
    });
    world.configure_wireguard_go("alice-laptop", None);
    eventually("alice reaches the service", Duration::from_secs(20), || {
        reaches(&world.c1, SERVICE, Duration::from_secs(2))
    });
    // Reachability follows RBAC: alice's client holds a grant in `payments` only, so `other` stays closed though
    // it is inside allowedIps and routed into the tunnel.
    assert!(
        !reaches(&world.c1, OTHER, Duration::from_secs(2)),
        "alice reaches `other`"
    );
    let list = world.peer_list();
    assert_eq!(
        list["peers"][0]["namespaces"],
        serde_json::json!(["payments"]),
        "{list}"
    );
    assert!(
        list["peers"][1]["namespaces"].is_null(),
        "bob's grant is cluster-wide: {list}"
    );

    // Nothing outside allowedIps: a client that routes 10.97.0.0/16 into the tunnel anyway is dropped by the
    // gateway (which itself has a route there), while the service still answers.
    world.configure_wireguard_go("alice-laptop", Some("10.97.0.0/16"));
    assert!(!reaches(&world.c1, OUTSIDE, Duration::from_secs(2)));
    assert!(reaches(&world.c1, SERVICE, Duration::from_secs(5)));
    world.configure_wireguard_go("alice-laptop", None);

    // Client 2: `tollgate connect` with bob's file; it prints what it did and reaches the service.
    let connect_log = world.dir.path().join("connect.log");
    let connect = Command::new("ip")
        .args(["netns", "exec", &world.c2])
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args(["connect", &world.client_file("bob-laptop"), "-i"])
        .arg(identity("bob.agekey"))
        .args(["--interface", &world.connect_if])
        .stdout(std::fs::File::create(&connect_log).expect("log"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tollgate connect starts");
    let connect_pid = connect.id();
    world.net.children.push(connect);
    let connect_said = || std::fs::read_to_string(&connect_log).unwrap_or_default();
    eventually("connect is up", Duration::from_secs(20), || {
        connect_said().contains("Ctrl-C")
    });
    let said = connect_said();
    assert!(
        said.contains(&format!(
            "tunnel {} up: 10.90.0.4/32 -> gateway 192.168.50.1:51820",
            world.connect_if
        )) && said.contains("routes via")
            && said.contains("10.96.0.0/16")
            && said.contains("DNS"),
        "{said}"
    );
    eventually("bob reaches the service", Duration::from_secs(20), || {
        reaches(&world.c2, SERVICE, Duration::from_secs(2))
    });
    assert!(
        reaches(&world.c2, OTHER, Duration::from_secs(2)),
        "bob's grant is cluster-wide"
    );
    eventually(
        "connect reports the handshake",
        Duration::from_secs(10),
        || connect_said().contains("handshake with the gateway"),
    );
    // A second tunnel with the same interface name is refused before it touches the first; `wg show` reads the
    // tunnel but `wg set` cannot change it (a set naming a live peer would kill boringtun's device).
    let second = Command::new("ip")
        .args(["netns", "exec", &world.c2])
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args(["connect", &world.client_file("alice-laptop"), "-i"])
        .arg(identity("alice.agekey"))
        .args(["--interface", &world.connect_if])
        .output()
        .expect("tollgate connect runs");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success() && said.contains("exists already"),
        "{said}"
    );
    let shown = ok(
        "ip",
        &["netns", "exec", &world.c2, "wg", "show", &world.connect_if],
    );
    assert!(
        shown.contains("latest handshake") && !shown.contains("years"),
        "{shown}"
    );
    let set = run(
        "ip",
        &[
            "netns",
            "exec",
            &world.c2,
            "wg",
            "set",
            &world.connect_if,
            "listen-port",
            "4000",
        ],
    );
    assert!(!set.status.success(), "wg set was accepted");
    assert!(
        reaches(&world.c2, SERVICE, Duration::from_secs(2)),
        "the tunnel survives"
    );

    // A client added by a commit joins while alice's stream runs; the stream loses nothing and never stalls.
    let stream = Stream::start(&world.c1, SERVICE);
    std::thread::sleep(Duration::from_millis(500));
    std::fs::OpenOptions::new()
        .append(true)
        .open(world.server.work.join("clients.yaml"))
        .expect("clients.yaml")
        .write_all(
            b"---\napiVersion: tollgate.dev/v1alpha1\nkind: Client\nmetadata:\n  name: carol-laptop\nspec:\n  owners: [carol]\n  clusters: [dev]\n",
        )
        .expect("append");
    let plan = world.plan_text();
    assert!(
        plan.contains("client carol-laptop: + peer 10.90.0.8/30"),
        "{plan}"
    );
    world.server.commit_and_push("carol gets a laptop");
    world.publish();
    eventually(
        "the gateway has carol's peer",
        Duration::from_secs(10),
        || world.wg_peers().len() == 3,
    );
    std::thread::sleep(Duration::from_secs(1));
    let (exchanged, longest) = stream.finish();
    assert!(
        exchanged > 20,
        "{exchanged} lines, longest wait {longest:?}"
    );
    assert!(
        longest < Duration::from_millis(500),
        "the stream stalled for {longest:?} while a peer was added"
    );
    assert!(
        reaches(&world.c2, SERVICE, Duration::from_secs(2)),
        "bob kept his tunnel"
    );

    // Revocation reaches the tunnel: bob's client is deleted; his peer goes at that publish, his new connections
    // fail, alice's tunnel keeps flowing.
    let bob_key = world.public_key_of("bob-laptop");
    let stream = Stream::start(&world.c1, SERVICE);
    world.edit("clients.yaml", |text| {
        text.replace(
            "---\napiVersion: tollgate.dev/v1alpha1\nkind: Client\nmetadata:\n  name: bob-laptop\nspec:\n  owners: [bob]\n  clusters: [dev]\n",
            "",
        )
    });
    let plan = world.plan_text();
    assert!(
        plan.contains("client bob-laptop: - peer 10.90.0.4/30"),
        "{plan}"
    );
    world.server.commit_and_push("bob's laptop is gone");
    world.publish();
    eventually(
        "bob's peer is gone from the device",
        Duration::from_secs(10),
        || !world.wg_peers().iter().any(|(key, _)| *key == bob_key),
    );
    assert!(
        !reaches(&world.c2, SERVICE, Duration::from_secs(3)),
        "bob still gets through"
    );
    let (exchanged, longest) = stream.finish();
    assert!(
        exchanged > 10 && longest < Duration::from_millis(500),
        "{exchanged} {longest:?}"
    );

    // SIGTERM takes connect's tunnel down: the interface is gone.
    assert!(
        run("kill", &["-TERM", &connect_pid.to_string()])
            .status
            .success()
    );
    eventually(
        "connect's interface is gone",
        Duration::from_secs(10),
        || {
            !run("ip", &["-n", &world.c2, "link", "show", &world.connect_if])
                .status
                .success()
        },
    );
    eventually(
        "connect says the tunnel is down",
        Duration::from_secs(5),
        || connect_said().contains(&format!("tunnel {} down", world.connect_if)),
    );

    // Carol, added by the commit above, connects from the same machine with `tollgate connect`: her handshake
    // succeeds, and with no grant at all she reaches nothing in the cluster.
    let carol_log = world.dir.path().join("carol.log");
    let carol = Command::new("ip")
        .args(["netns", "exec", &world.c2])
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args(["connect", &world.client_file("carol-laptop"), "-i"])
        .arg(identity("carol.agekey"))
        .args(["--interface", &world.connect_if])
        .stdout(std::fs::File::create(&carol_log).expect("log"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tollgate connect starts");
    world.net.children.push(carol);
    let carol_said = || std::fs::read_to_string(&carol_log).unwrap_or_default();
    eventually("carol's tunnel is up", Duration::from_secs(20), || {
        carol_said().contains("Ctrl-C")
    });
    assert!(carol_said().contains("10.90.0.8/32"), "{}", carol_said());
    // Her packets start the handshake; the gateway lets none of them into the cluster.
    assert!(
        !reaches(&world.c2, SERVICE, Duration::from_secs(2)),
        "carol has no grant"
    );
    assert!(
        !reaches(&world.c2, OTHER, Duration::from_secs(2)),
        "carol has no grant"
    );
    eventually("carol's handshake", Duration::from_secs(20), || {
        carol_said().contains("handshake with the gateway")
    });

    // A change of range: the pool moves; alice's old address is dead, the new one (from her new file) works.
    world.edit("settings.yaml", |text| {
        text.replace("10.90.0.0/24", "10.91.0.0/24")
    });
    let plan = world.plan_text();
    assert!(
        plan.contains("client alice-laptop: ~ peer 10.90.0.0/30 -> 10.91.0.0/30"),
        "{plan}"
    );
    world.server.commit_and_push("a new pool");
    world.publish();
    eventually(
        "alice's new range on the device",
        Duration::from_secs(10),
        || {
            world
                .wg_peers()
                .contains(&(alice_key.clone(), "10.91.0.0/30".to_owned()))
        },
    );
    assert!(
        !reaches(&world.c1, SERVICE, Duration::from_secs(3)),
        "the old range still works"
    );
    let address = world.configure_wireguard_go("alice-laptop", None);
    assert_eq!(address, "10.91.0.0/32");
    eventually(
        "alice reaches the service from her new range",
        Duration::from_secs(20),
        || reaches(&world.c1, SERVICE, Duration::from_secs(2)),
    );

    // The gateway's status and metrics: live peers with handshakes and traffic, nothing missing.
    eventually(
        "the status names alice's handshake",
        Duration::from_secs(40),
        || {
            world.gateway_status().is_some_and(|s| {
                s["peers"].as_array().is_some_and(|peers| {
                    peers.iter().any(|p| {
                        p["client"] == "alice-laptop"
                            && p["lastHandshakeSeconds"].is_u64()
                            && p["rxBytes"].as_u64() > Some(0)
                    })
                }) && s["missing"].is_null()
            })
        },
    );
    let http_get = |path: &'static str| {
        in_netns(&world.gw, move || {
            let mut stream = TcpStream::connect("127.0.0.1:9100").expect("the gateway's HTTP port");
            write!(stream, "GET {path} HTTP/1.0\r\n\r\n").expect("request");
            let mut text = String::new();
            std::io::Read::read_to_string(&mut stream, &mut text).expect("response");
            text
        })
    };
    assert!(
        http_get("/healthz").starts_with("HTTP/1.0 200"),
        "the loop turns: alive"
    );
    let metrics = http_get("/metrics");
    assert!(metrics.contains("tollgate_gateway_peers 2"), "{metrics}");
    assert!(
        metrics.contains("tollgate_gateway_missing_peers 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_gateway_peer_receive_bytes{client=\"alice-laptop\"}"),
        "{metrics}"
    );
    let status = world.plane.tollgate(
        &world.applier,
        &["status", "--namespace", "tollgate-system"],
    );
    let said = stdout(&status);
    assert!(
        said.contains("Gateway: 2 peer(s) on the device")
            && said.contains("alice-laptop 10.91.0.0/30: handshake"),
        "{said}{}",
        String::from_utf8_lossy(&status.stderr)
    );

    // A peer list that cannot be read: reported in the status, the device keeps its peers, traffic flows.
    assert_success(&world.plane.kubectl(&[
        "-n",
        "tollgate-clients",
        "patch",
        "configmap",
        "tollgate-peers",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"peers.json":"{not json"}}"#,
    ]));
    eventually(
        "the status reports the bad list",
        Duration::from_secs(10),
        || {
            world.gateway_status().is_some_and(|s| {
                s["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not a peer list"))
            })
        },
    );
    assert_eq!(world.wg_peers().len(), 2);
    assert!(reaches(&world.c1, SERVICE, Duration::from_secs(2)));
    world.publish();
    eventually("the list is repaired", Duration::from_secs(10), || {
        world.gateway_status().is_some_and(|s| s["error"].is_null())
    });

    // kill -9 the gateway, start it again: the peers come back from the list; alice reconnects on her own.
    let mut killed = world.net.children.remove(gateway);
    killed.kill().expect("kill -9");
    killed.wait().expect("reaped");
    world.start_gateway();
    eventually(
        "the restarted gateway has its peers",
        Duration::from_secs(20),
        || world.wg_peers().len() == 2,
    );
    eventually(
        "alice reconnects by herself",
        Duration::from_secs(60),
        || reaches(&world.c1, SERVICE, Duration::from_secs(2)),
    );
}

/// Without CAP_NET_ADMIN, `tollgate connect` says so and names the wg-quick way.
#[test]
fn connect_without_privileges_names_the_alternative() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let file = dir.path().join("client.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "formatVersion": 1,
            "client": "alice-laptop",
            "cluster": "dev",
            "kubernetes": {
                "server": "https://127.0.0.1:6443",
                "certificateAuthority": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "token": "t",
                "tokenExpires": "2099-01-01T00:00:00Z"
            },
            "wireguard": {
                "privateKey": "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8hISE=",
                "address": "10.90.0.4/30",
                "gatewayPublicKey": "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8hISE=",
                "endpoint": "192.0.2.1:51820",
                "allowedIps": ["10.96.0.0/12"]
            }
        })
        .to_string(),
    )
    .expect("write");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    // As nobody, without capabilities.
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "connect",
            &file.display().to_string(),
            "--interface",
            "tgnopriv0",
        ])
        .output()
        .expect("setpriv runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("needs root or CAP_NET_ADMIN")
            && said.contains("tollgate client wg-config")
            && said.contains("wg-quick up"),
        "{said}"
    );
}
