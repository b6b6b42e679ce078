//! The session gateway side by side with `kubectl run --rm -i` (a pod per session, as a person with cluster
//! credentials would start one), in one run, on the test control plane with a real node (containerd + kubelet,
//! kube-scheduler) and the local busybox image (already on the node: no pull).
//!
//! Measured: the time from starting the client to the first output of a command in a new session pod (median of
//! `RUNS`, default 10), sessions per second with 4 clients at once (`SESSIONS`, default 20), and the gateway's
//! resident memory idle and with `IDLE` sessions open at once (default 100), each in a pod of its own.
//!
//! `cargo bench --bench sessions` (as root: the node needs it).

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::node::Node;
use harness::sessions::{World, session_pods, wait_until};
use harness::{ControlPlane, Options};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of a process, KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `ssh alice+toolbox@gateway COMMAND` as the person runs it.
fn ssh(world: &World, command: &str) -> Command {
    world
        .ssh
        .command(&world.key("alice"), "alice+toolbox", &[], &[command])
}

/// `kubectl run --rm -i` of the same image and command, with the admin's kubeconfig.
fn kubectl_run(plane: &ControlPlane, name: &str, command: &[&str]) -> Command {
    let mut kubectl = Command::new(plane.bin.join("kubectl"));
    kubectl
        .arg("--kubeconfig")
        .arg(&plane.kubeconfig)
        .args([
            "run",
            name,
            "-n",
            "bench",
            "--image",
            harness::node::BUSYBOX_IMAGE,
        ])
        .args([
            "--image-pull-policy=Never",
            "--restart=Never",
            "--rm",
            "-i",
            "--quiet",
        ])
        .args([
            "--overrides",
            r#"{"spec":{"automountServiceAccountToken":false,"terminationGracePeriodSeconds":1}}"#,
        ])
        .arg("--")
        .args(command)
        .stdin(Stdio::null());
    kubectl
}

/// Runs `command` and returns how long it took until it exited; `Err` (what it printed) when it failed or did
/// not print `ok`: a failed session is counted, not timed.
fn timed(mut command: Command) -> Result<Duration, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let started = Instant::now();
    let output = command.output().expect("the client runs");
    let took = started.elapsed();
    if output.status.success() && String::from_utf8_lossy(&output.stdout).contains("ok") {
        Ok(took)
    } else {
        let failure = format!(
            "{program}: {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("failed: {failure}");
        Err(failure)
    }
}

/// `total` sessions through `make`, 4 at a time: sessions that succeeded per second, and how many failed.
fn rate(total: usize, make: impl Fn(usize) -> Command + Sync) -> (f64, usize) {
    let started = Instant::now();
    let failed = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let (make, failed) = (&make, &failed);
            scope.spawn(move || {
                for i in (worker..total).step_by(4) {
                    if timed(make(i)).is_err() {
                        failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let failed = failed.into_inner();
    (
        (total - failed) as f64 / started.elapsed().as_secs_f64(),
        failed,
    )
}

/// The successful times of `runs` sessions, and how many failed.
fn first_outputs(runs: usize, make: impl Fn(usize) -> Command) -> (Vec<Duration>, usize) {
    let results: Vec<Result<Duration, String>> = (0..runs).map(|i| timed(make(i))).collect();
    let failed = results.iter().filter(|r| r.is_err()).count();
    (results.into_iter().filter_map(Result::ok).collect(), failed)
}

fn main() {
    if !harness::netns::is_root() {
        eprintln!("benches/sessions needs root (the node's containerd and kubelet)");
        std::process::exit(1);
    }
    let runs = env_number("RUNS", 10);
    let sessions = env_number("SESSIONS", 20);
    let idle = env_number("IDLE", 100);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    plane.start_scheduler();
    let node = Node::start(&plane);
    let mut world = runtime.block_on(World::start(&plane, "60s", "10s"));
    // The idle test opens IDLE connections at once: more than the default 100 may be unauthenticated together.
    drop(world.gateway.take());
    world.start_gateway_with(&["--max-unauthenticated", "1000"]);
    // kubectl's pods need the namespace's `default` ServiceAccount (no kube-controller-manager makes it here).
    assert!(
        plane
            .kubectl(&["create", "namespace", "bench"])
            .status
            .success()
    );
    assert!(
        plane
            .kubectl(&["create", "serviceaccount", "default", "-n", "bench"])
            .status
            .success()
    );
    let gateway_pid = world.gateway.as_ref().expect("a gateway").pid();

    // One of each first, so that neither pays for a cold start.
    let _ = timed(ssh(&world, "echo ok"));
    let _ = timed(kubectl_run(&plane, "warm", &["echo", "ok"]));

    let (tollgate_first, tollgate_first_failed) = first_outputs(runs, |_| ssh(&world, "echo ok"));
    let (kubectl_first, kubectl_first_failed) = first_outputs(runs, |i| {
        kubectl_run(&plane, &format!("first-{i}"), &["echo", "ok"])
    });
    let (tollgate_rate, tollgate_rate_failed) = rate(sessions, |_| ssh(&world, "echo ok"));
    let (kubectl_rate, kubectl_rate_failed) = rate(sessions, |i| {
        kubectl_run(&plane, &format!("rate-{i}"), &["echo", "ok"])
    });
    wait_until("every session pod removed", Duration::from_secs(60), || {
        session_pods(&plane).is_empty()
    });

    // Idle sessions: each holds a pod running `sleep`; the gateway holds their SSH connections and exec streams.
    let idle_before = rss_kib(gateway_pid);
    let mut clients: Vec<Child> = (0..idle)
        .map(|_| {
            ssh(&world, "sleep 3600")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ssh starts")
        })
        .collect();
    let opened = Instant::now();
    wait_until(
        "every idle session running",
        Duration::from_secs(600),
        || {
            session_pods(&plane)
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count()
                == idle
        },
    );
    let all_running = opened.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    let idle_with = rss_kib(gateway_pid);
    for client in &mut clients {
        let _ = client.kill();
        let _ = client.wait();
    }
    wait_until(
        "every idle session pod removed",
        Duration::from_secs(300),
        || session_pods(&plane).is_empty(),
    );
    drop(node);

    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let (t, k) = (median(tollgate_first), median(kubectl_first));
    println!("| measure | tollgate session gateway (`ssh`) | `kubectl run --rm -i` | ratio |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| new session to first output, median of {runs} | {} | {} | {:.2} x |",
        ms(t),
        ms(k),
        k.as_secs_f64() / t.as_secs_f64()
    );
    println!(
        "| sessions per second, 4 clients at once ({sessions} sessions) | {tollgate_rate:.2} | {kubectl_rate:.2} | {:.2} x |",
        tollgate_rate / kubectl_rate
    );
    println!(
        "| sessions that failed (first output / 4 at once) | {tollgate_first_failed} / {tollgate_rate_failed} | {kubectl_first_failed} / {kubectl_rate_failed} | |"
    );
    println!(
        "| gateway resident memory: idle / with {idle} sessions open | {:.1} MiB / {:.1} MiB | (no gateway) | |",
        idle_before as f64 / 1024.0,
        idle_with as f64 / 1024.0
    );
    println!(
        "| {idle} sessions opened at once until every pod runs | {:.1} s | | |",
        all_running.as_secs_f64()
    );
}
