//! Network namespaces for the WireGuard tests and benchmarks, made with iproute2 and removed when dropped: a
//! "cluster" namespace (services on 10.96.0.10 and 10.97.0.10 behind 10.200.1.2), a gateway namespace (10.200.1.1
//! towards the cluster, 192.168.50.1 on a bridge) and two client namespaces on that bridge (192.168.50.10, .11).
//! Needs root.

use std::process::{Child, Command, Output};

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

#[track_caller]
pub fn ok(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Network namespaces (and the veths in them) made for one test; deleted when dropped.
pub struct Namespaces {
    pub names: Vec<String>,
    pub children: Vec<Child>,
    pub sockets: Vec<String>,
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for name in &self.names {
            let _ = run("ip", &["netns", "del", name]);
        }
        // The UAPI sockets of processes killed with SIGKILL stay behind.
        for socket in &self.sockets {
            let _ = std::fs::remove_file(format!("/var/run/wireguard/{socket}.sock"));
        }
    }
}

/// Runs `f` on a thread inside the network namespace `ns`: sockets it makes live there.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("the namespace exists");
        use std::os::fd::AsRawFd as _;
        #[allow(unsafe_code)]
        // SAFETY: setns(2) on a valid namespace fd changes only this thread's network namespace.
        let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(result, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("the thread in the namespace")
}

/// Makes the namespaces, the veths and the bridge; returns the namespace names.
pub fn network(prefix: &str) -> (Namespaces, [String; 4]) {
    let names = ["cl", "gw", "c1", "c2"].map(|n| format!("{prefix}-{n}"));
    let net = Namespaces {
        names: names.to_vec(),
        children: Vec::new(),
        sockets: ["g", "w", "k"].map(|s| format!("{prefix}{s}")).to_vec(),
    };
    for name in &names {
        let _ = run("ip", &["netns", "del", name]);
        ok("ip", &["netns", "add", name]);
        ok("ip", &["-n", name, "link", "set", "lo", "up"]);
    }
    let [cl, gw, c1, c2] = &names;
    // The cluster: the service network behind the gateway.
    let (a, b) = (format!("{prefix}ga"), format!("{prefix}cb"));
    ok(
        "ip",
        &["link", "add", &a, "type", "veth", "peer", "name", &b],
    );
    ok("ip", &["link", "set", &a, "netns", gw]);
    ok("ip", &["link", "set", &b, "netns", cl]);
    ok(
        "ip",
        &["-n", gw, "address", "add", "10.200.1.1/24", "dev", &a],
    );
    ok("ip", &["-n", gw, "link", "set", &a, "up"]);
    ok(
        "ip",
        &["-n", cl, "address", "add", "10.200.1.2/24", "dev", &b],
    );
    ok("ip", &["-n", cl, "link", "set", &b, "up"]);
    for service in ["10.96.0.10/32", "10.97.0.10/32"] {
        ok("ip", &["-n", cl, "address", "add", service, "dev", "lo"]);
    }
    for net in ["10.96.0.0/16", "10.97.0.0/16"] {
        ok("ip", &["-n", gw, "route", "add", net, "via", "10.200.1.2"]);
    }
    // The "LAN": a bridge in the gateway's namespace, the clients on it.
    ok("ip", &["-n", gw, "link", "add", "br0", "type", "bridge"]);
    ok(
        "ip",
        &["-n", gw, "address", "add", "192.168.50.1/24", "dev", "br0"],
    );
    ok("ip", &["-n", gw, "link", "set", "br0", "up"]);
    for (i, client) in [c1, c2].into_iter().enumerate() {
        let (a, b) = (format!("{prefix}l{i}"), format!("{prefix}c{i}"));
        ok(
            "ip",
            &["link", "add", &a, "type", "veth", "peer", "name", &b],
        );
        ok("ip", &["link", "set", &a, "netns", gw]);
        ok("ip", &["-n", gw, "link", "set", &a, "master", "br0", "up"]);
        ok("ip", &["link", "set", &b, "netns", client]);
        let address = format!("192.168.50.{}/24", 10 + i);
        ok("ip", &["-n", client, "address", "add", &address, "dev", &b]);
        ok("ip", &["-n", client, "link", "set", &b, "up"]);
    }
    (net, names)
}

#[allow(unsafe_code)]
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
