//! The WireGuard gateway side by side with wireguard-go as the gateway, in one run, in network namespaces this
//! benchmark makes (root): the same client (the stock wireguard-go + `wg`), the same namespaces, the same iperf3
//! server behind the gateway. For tollgate, the gateway's device and its peer reconcile (`Device`, `diff`,
//! `set_commands`: the code `tollgate gateway` runs each turn) are driven in this process, in the gateway's
//! namespace; for wireguard-go, `wg` configures it.
//!
//! Measured: iperf3 TCP throughput (1 and 4 streams), the time to apply 1,000 peers to an empty gateway and one
//! change against 1,000 live peers, the UDP packets lost by a stream running during those changes, and the
//! resident memory the gateway gains for 1,000 peers.
//!
//! `cargo bench --bench gateway` (as root; `SECONDS=N` sets each iperf3 run's length, default 5).

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::netns::{in_netns, is_root, network, ok};
use ipnet::IpNet;
use serde_json::Value;
use tollgate::credentials::state::{generate_private_key, public_key_of};
use tollgate::wireguard::device::Device;
use tollgate::wireguard::peers::{Peer, diff, interface_command};

const PORT: &str = "51820";

/// Resident memory of a process, KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// iperf3 from the client namespace to the service behind the gateway; Gbit/s received.
fn iperf_tcp(client_ns: &str, streams: u32, seconds: u32) -> f64 {
    let output = ok(
        "ip",
        &[
            "netns",
            "exec",
            client_ns,
            "iperf3",
            "-c",
            "10.96.0.10",
            "-J",
            "-t",
            &seconds.to_string(),
            "-P",
            &streams.to_string(),
        ],
    );
    let report: Value = serde_json::from_str(&output).expect("iperf3 JSON");
    report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("a throughput")
        / 1e9
}

/// A UDP stream from the client namespace to a receiver in the cluster namespace: numbered datagrams every
/// millisecond; [`UdpStream::finish`] says how many of those sent arrived.
struct UdpStream {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sender: std::thread::JoinHandle<u64>,
    receiver: std::thread::JoinHandle<u64>,
}

impl UdpStream {
    fn start(client_ns: &str, cluster_ns: &str) -> UdpStream {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let socket = in_netns(cluster_ns, || {
            std::net::UdpSocket::bind("10.96.0.10:7001").expect("bind the receiver")
        });
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let done = stop.clone();
        let receiver = std::thread::spawn(move || {
            let mut received = 0u64;
            let mut buffer = [0u8; 64];
            // Keep reading for a while after the sender stops: datagrams in flight still count.
            let mut quiet_since: Option<Instant> = None;
            loop {
                match socket.recv(&mut buffer) {
                    Ok(_) => {
                        received += 1;
                        quiet_since = None;
                    }
                    Err(_) if done.load(Ordering::Relaxed) => {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_millis(500) {
                            return received;
                        }
                    }
                    Err(_) => {}
                }
            }
        });
        let done = stop.clone();
        let sender = in_netns(client_ns, move || {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind the sender");
            socket.connect("10.96.0.10:7001").expect("connect");
            std::thread::spawn(move || {
                let mut sent = 0u64;
                while !done.load(Ordering::Relaxed) {
                    if socket.send(&sent.to_be_bytes()).is_ok() {
                        sent += 1;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                sent
            })
        });
        UdpStream {
            stop,
            sender,
            receiver,
        }
    }

    /// Stops it: (lost, sent).
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = self.sender.join().expect("sender");
        let received = self.receiver.join().expect("receiver");
        (sent.saturating_sub(received), sent)
    }
}

/// 1,000 peers with fresh keys and /30 ranges of 10.90.4.0/20 (the client's own 10.90.0.0/30 stays apart).
fn thousand_peers() -> Vec<Peer> {
    let pool: IpNet = "10.90.4.0/20".parse().expect("net");
    pool.subnets(30)
        .expect("subnets")
        .take(1000)
        .enumerate()
        .map(|(i, range)| Peer {
            client: format!("c{i}"),
            public_key: public_key_of(&generate_private_key()).expect("key"),
            range,
            namespaces: None,
        })
        .collect()
}

struct Round {
    single: f64,
    four: f64,
    add_1000: Duration,
    change_one: Duration,
    lost: (u64, u64),
    memory_kib: u64,
}

fn main() {
    assert!(
        is_root(),
        "the gateway benchmark makes network namespaces: run it as root"
    );
    let seconds: u32 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let prefix = format!("b{}", std::process::id() % 100_000);
    let (mut net, [cl, gw, c1, _]) = network(&prefix);
    // The cluster routes the pool back through the gateway (no masquerade, the same for both gateways).
    ok(
        "ip",
        &[
            "-n",
            &cl,
            "route",
            "add",
            "10.90.0.0/16",
            "via",
            "10.200.1.1",
        ],
    );
    ok(
        "ip",
        &[
            "netns",
            "exec",
            &gw,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ],
    );
    let server = Command::new("ip")
        .args(["netns", "exec", &cl, "iperf3", "-s", "-B", "10.96.0.10"])
        .stdout(Stdio::null())
        .spawn()
        .expect("iperf3 -s");
    net.children.push(server);
    // What the tunnel probe connects to (not iperf3's port: its server takes a bare connection for a failed test).
    let probe = in_netns(&cl, || {
        std::net::TcpListener::bind("10.96.0.10:7000").expect("bind the probe")
    });
    std::thread::spawn(move || for _ in probe.incoming() {});

    let gateway_key = generate_private_key();
    let gateway_public = public_key_of(&gateway_key).expect("key");
    let client_key = generate_private_key();
    let client = Peer {
        client: "bench".into(),
        public_key: public_key_of(&client_key).expect("key"),
        range: "10.90.0.0/30".parse().expect("net"),
        namespaces: None,
    };

    // The client: stock wireguard-go, configured with wg, the same for both rounds.
    let client_if = format!("{prefix}w");
    net.sockets.push(client_if.clone());
    let wireguard_go = Command::new("ip")
        .args(["netns", "exec", &c1, "wireguard-go", "-f", &client_if])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wireguard-go");
    net.children.push(wireguard_go);
    std::thread::sleep(Duration::from_millis(500));
    let dir = tempfile::tempdir().expect("temp dir");
    let client_key_file = dir.path().join("client.key");
    std::fs::write(&client_key_file, &client_key).expect("write");
    let key_path = client_key_file.display().to_string();
    ok(
        "ip",
        &[
            "netns",
            "exec",
            &c1,
            "wg",
            "set",
            &client_if,
            "private-key",
            &key_path,
        ],
    );
    ok(
        "ip",
        &[
            "netns",
            "exec",
            &c1,
            "wg",
            "set",
            &client_if,
            "peer",
            &gateway_public,
            "endpoint",
            &format!("192.168.50.1:{PORT}"),
            "allowed-ips",
            "10.96.0.0/16",
            "persistent-keepalive",
            "5",
        ],
    );
    ok(
        "ip",
        &[
            "-n",
            &c1,
            "address",
            "add",
            "10.90.0.1/32",
            "dev",
            &client_if,
        ],
    );
    ok("ip", &["-n", &c1, "link", "set", &client_if, "up"]);
    ok(
        "ip",
        &["-n", &c1, "route", "add", "10.96.0.0/16", "dev", &client_if],
    );

    // Round 1: tollgate's gateway device, in the gateway's namespace.
    let tollgate = {
        let (c1, cl, client, gateway_key) =
            (c1.clone(), cl.clone(), client.clone(), gateway_key.clone());
        let interface = format!("{prefix}g");
        net.sockets.push(interface.clone());
        in_netns(&gw, move || {
            let pid = std::process::id();
            let before = rss_kib(pid);
            let device = Device::start(&interface, 2).expect("the device");
            let port: u16 = PORT.parse().expect("port");
            device
                .set(&(interface_command(&gateway_key, port).expect("key") + "\n"))
                .expect("key and port");
            device.up(&[]).expect("up");
            device
                .route(&["10.90.0.0/16".parse().expect("net")])
                .expect("route");
            let apply = |desired: &[Peer]| {
                let live = device.get().expect("get").peers;
                for command in diff(&live, desired).set_commands() {
                    device.set(&command).expect("set");
                }
            };
            apply(std::slice::from_ref(&client));
            wait_for_tunnel(&c1);
            let single = iperf_tcp(&c1, 1, seconds);
            let four = iperf_tcp(&c1, 4, seconds);

            let mut desired = vec![client.clone()];
            desired.extend(thousand_peers());
            let stream = UdpStream::start(&c1, &cl);
            std::thread::sleep(Duration::from_secs(1));
            let started = Instant::now();
            apply(&desired);
            let add_1000 = started.elapsed();
            assert_eq!(device.get().expect("get").peers.len(), 1001);
            std::thread::sleep(Duration::from_millis(500));
            desired[500].range = "10.90.200.0/30".parse().expect("net");
            let started = Instant::now();
            apply(&desired);
            let change_one = started.elapsed();
            std::thread::sleep(Duration::from_secs(1));
            let lost = stream.finish();
            let memory_kib = rss_kib(pid).saturating_sub(before);
            drop(device);
            Round {
                single,
                four,
                add_1000,
                change_one,
                lost,
                memory_kib,
            }
        })
    };

    // Round 2: wireguard-go as the gateway, configured with wg.
    let wg_if = format!("{prefix}x");
    net.sockets.push(wg_if.clone());
    let gateway_go = Command::new("ip")
        .args(["netns", "exec", &gw, "wireguard-go", "-f", &wg_if])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wireguard-go");
    let go_pid = gateway_go.id();
    net.children.push(gateway_go);
    std::thread::sleep(Duration::from_millis(500));
    let gateway_key_file = dir.path().join("gateway.key");
    std::fs::write(&gateway_key_file, &gateway_key).expect("write");
    let wg = |args: &[&str]| {
        let mut all = vec!["netns", "exec", gw.as_str(), "wg"];
        all.extend_from_slice(args);
        ok("ip", &all)
    };
    wg(&[
        "set",
        &wg_if,
        "private-key",
        &gateway_key_file.display().to_string(),
        "listen-port",
        PORT,
    ]);
    wg(&[
        "set",
        &wg_if,
        "peer",
        &client.public_key,
        "allowed-ips",
        "10.90.0.0/30",
    ]);
    ok("ip", &["-n", &gw, "link", "set", &wg_if, "up"]);
    ok(
        "ip",
        &["-n", &gw, "route", "replace", "10.90.0.0/16", "dev", &wg_if],
    );
    wait_for_tunnel(&c1);
    let single = iperf_tcp(&c1, 1, seconds);
    let four = iperf_tcp(&c1, 4, seconds);
    let before = rss_kib(go_pid);
    let peers = thousand_peers();
    let config: String = peers
        .iter()
        .map(|p| {
            format!(
                "[Peer]\nPublicKey = {}\nAllowedIPs = {}\n\n",
                p.public_key, p.range
            )
        })
        .collect();
    let config_file = dir.path().join("peers.conf");
    std::fs::write(&config_file, config).expect("write");
    let stream = UdpStream::start(&c1, &cl);
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    wg(&["addconf", &wg_if, &config_file.display().to_string()]);
    let add_1000 = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    wg(&[
        "set",
        &wg_if,
        "peer",
        &peers[499].public_key,
        "allowed-ips",
        "10.90.200.0/30",
    ]);
    let change_one = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let lost = stream.finish();
    let go = Round {
        single,
        four,
        add_1000,
        change_one,
        lost,
        memory_kib: rss_kib(go_pid).saturating_sub(before),
    };

    println!(
        "\nWireGuard gateway: tollgate (boringtun device) vs wireguard-go, same client and namespaces, one run\n"
    );
    println!("| measure | tollgate gateway | wireguard-go gateway | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| iperf3 TCP, 1 stream ({seconds} s) | {:.2} Gbit/s | {:.2} Gbit/s | {:.2} x |",
        tollgate.single,
        go.single,
        tollgate.single / go.single
    );
    println!(
        "| iperf3 TCP, 4 streams ({seconds} s) | {:.2} Gbit/s | {:.2} Gbit/s | {:.2} x |",
        tollgate.four,
        go.four,
        tollgate.four / go.four
    );
    println!(
        "| apply 1,000 peers to an empty gateway | {:.1} ms | {:.1} ms (`wg addconf`) | |",
        tollgate.add_1000.as_secs_f64() * 1e3,
        go.add_1000.as_secs_f64() * 1e3
    );
    println!(
        "| change one peer's range among 1,000 | {:.2} ms | {:.2} ms (`wg set`) | |",
        tollgate.change_one.as_secs_f64() * 1e3,
        go.change_one.as_secs_f64() * 1e3
    );
    println!(
        "| UDP packets lost by a stream across both changes | {} of {} | {} of {} | |",
        tollgate.lost.0, tollgate.lost.1, go.lost.0, go.lost.1
    );
    println!(
        "| resident memory gained for the device and 1,000 peers | {:.1} MiB | {:.1} MiB (1,000 peers only) | |",
        tollgate.memory_kib as f64 / 1024.0,
        go.memory_kib as f64 / 1024.0
    );
}

/// Waits until the client reaches the iperf3 server through the tunnel.
fn wait_for_tunnel(client_ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connected = in_netns(client_ns, || {
            std::net::TcpStream::connect_timeout(
                &"10.96.0.10:7000".parse().expect("address"),
                Duration::from_secs(1),
            )
            .is_ok()
        });
        if connected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the tunnel does not carry traffic"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
