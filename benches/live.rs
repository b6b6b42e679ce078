//! Benchmark of live plan and apply on 5,000 managed objects, side by side with stock kubectl in the same run, on
//! control planes started the same way (etcd + kube-apiserver from `scripts/control-plane`, on loopback):
//!
//! - cold apply: `tollgate apply` vs `kubectl apply --server-side -f rendered.yaml` (each on a fresh control plane);
//! - plan against a cluster holding the objects: `tollgate plan` vs `kubectl diff --server-side -f rendered.yaml`;
//! - no-op reconcile: API requests by verb from the apiserver's `apiserver_request_total`, tollgate vs kubectl.
//!
//! Prints figures and ratios; asserts nothing about time. Run: `cargo bench --bench live`.
//!
//! `cargo bench --bench live -- curve` instead measures how the cost grows: at about 1k, 10k, 50k and 100k managed
//! objects (`CURVE_SIZES=1000,10000` to choose), tollgate's cold apply, plan and no-op apply (a reconcile with
//! nothing to change), with wall time and peak resident memory of each command, next to kubectl's server-side
//! apply and diff (each stopped after 10 minutes, and not run at larger sizes once stopped), and next to the
//! physical floor measured on tollgate's control plane after its runs: one LIST per kind (raw text, not decoded)
//! and one server-side apply per object (copies under other names) sent by a tight loop (32 in flight, no rate
//! limit, nothing else done).

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{ControlPlane, Options};
use tollgate::compile::{CompileContext, compile};
use tollgate::objects::{DesiredState, ObjectKind};
use tollgate::pipeline::check;
use tollgate::synthetic::{Size, organisation};

/// 667 team namespaces x 6 roles + 1,000 client ServiceAccounts + a few ClusterRoles and a Namespace: ~5,000
/// objects. The people behind them matter less here than in the pipeline benchmark.
const SIZE: Size = Size {
    users: 2_000,
    groups: 400,
    grants: 10_000,
    clients: 1_000,
    namespaces: 667,
};
/// tollgate's client-side rate limit and concurrency in this benchmark (kubectl has no flags for either); the
/// environment variables of the same names override them.
const QPS: &str = "2000";
const BURST: &str = "2000";
const CONCURRENCY: &str = "32";

fn setting(name: &str, default: &'static str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Requests to tollgate's managed resources by verb (and `429` answers), from the apiserver's metrics.
fn request_counts(plane: &ControlPlane) -> BTreeMap<String, u64> {
    let out = plane.kubectl(&["get", "--raw", "/metrics"]);
    assert!(
        out.status.success(),
        "metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let resources: Vec<String> = ObjectKind::ALL
        .iter()
        .map(|k| format!("resource=\"{}\"", k.plural()))
        .collect();
    let mut counts = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        if !resources.iter().any(|r| line.contains(r.as_str())) || line.contains("dry_run=\"All\"")
        {
            continue;
        }
        let label = |name: &str| {
            line.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("")
                .to_owned()
        };
        let value: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64);
        *counts.entry(label("verb")).or_insert(0) += value;
        if label("code") == "429" {
            *counts.entry("429s".to_owned()).or_insert(0) += value;
        }
    }
    counts
}

fn difference(
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(verb, n)| (verb.clone(), n - before.get(verb).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn show(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(verb, n)| format!("{verb} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn writes(counts: &BTreeMap<String, u64>) -> u64 {
    [
        "POST",
        "PUT",
        "PATCH",
        "APPLY",
        "DELETE",
        "DELETECOLLECTION",
    ]
    .iter()
    .map(|verb| counts.get(*verb).copied().unwrap_or(0))
    .sum()
}

/// CPU time (user + system) of all waited-for children so far.
fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    #[allow(unsafe_code)]
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Runs a command, checks its exit code, and returns how long it took.
fn timed(label: &str, mut command: Command, ok_codes: &[i32]) -> Duration {
    let start = Instant::now();
    let cpu = children_cpu();
    let out = command.output().expect("the command runs");
    let elapsed = start.elapsed();
    println!(
        "  {label:<40} {:>7.2} s wall, {:>6.2} s CPU of the client itself",
        elapsed.as_secs_f64(),
        (children_cpu() - cpu).as_secs_f64()
    );
    assert!(
        out.status.code().is_some_and(|c| ok_codes.contains(&c)),
        "{command:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn kubectl(plane: &ControlPlane, args: &[&str]) -> Command {
    let mut command = Command::new(plane.bin.join("kubectl"));
    command
        .arg("--kubeconfig")
        .arg(&plane.kubeconfig)
        .args(args);
    command
}

fn tollgate(plane: &ControlPlane, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .args(args)
        .args(["--kubeconfig"])
        .arg(&plane.kubeconfig)
        .args([
            "--qps",
            &setting("QPS", QPS),
            "--burst",
            &setting("BURST", BURST),
        ]);
    if args[0] == "apply" {
        command.args(["--concurrency", &setting("CONCURRENCY", CONCURRENCY)]);
    }
    command
}

fn start(namespaces: &Path) -> ControlPlane {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    let out = plane.kubectl(&["apply", "-f", namespaces.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    plane
}

/// `tollgate apply` of the benchmark's repository, answering yes, reporting JSON.
fn apply_args(repo: &str) -> [&str; 8] {
    [
        "apply",
        "--repo",
        repo,
        "--cluster",
        "bench",
        "--yes",
        "--output",
        "json",
    ]
}

/// `tollgate plan` of the benchmark's repository as JSON; exit 2 when there are changes.
fn plan_args(repo: &str) -> [&str; 8] {
    [
        "plan",
        "--repo",
        repo,
        "--cluster",
        "bench",
        "--detailed-exitcode",
        "--output",
        "json",
    ]
}

/// A generated organisation written out for both tools: its `bench` cluster's desired state, the repository, the
/// objects rendered for kubectl, and the team namespaces the bindings live in (they exist before either tool runs;
/// neither manages them).
fn prepare(work: &Path, size: Size) -> (DesiredState, String, String, PathBuf) {
    let repo = work.join("repo");
    let files = organisation(size);
    for (path, bytes) in &files {
        let path = repo.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    let now = jiff::Timestamp::now();
    let checked = check(&tollgate::config::load(files), now)
        .unwrap_or_else(|e| panic!("the synthetic organisation must be valid: {e}"));
    let desired = compile(
        &checked.model,
        &CompileContext {
            cluster: "bench",
            now,
            revision: None,
        },
    )
    .expect("the synthetic organisation compiles");
    let rendered = work.join("rendered.yaml");
    std::fs::write(&rendered, tollgate::render::objects_yaml(&desired)).expect("write");
    let managed: std::collections::BTreeSet<&str> = desired
        .objects
        .keys()
        .filter(|k| k.kind == ObjectKind::Namespace)
        .map(|k| k.name.as_str())
        .collect();
    let team: std::collections::BTreeSet<&str> = desired
        .objects
        .keys()
        .filter_map(|k| k.namespace.as_deref())
        .filter(|ns| !managed.contains(ns))
        .collect();
    let namespaces_yaml: String = team
        .iter()
        .map(|ns| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"))
        .collect();
    let namespaces = work.join("namespaces.yaml");
    std::fs::write(&namespaces, namespaces_yaml).expect("write");
    (
        desired,
        repo.to_str().expect("utf-8").to_owned(),
        rendered.to_str().expect("utf-8").to_owned(),
        namespaces,
    )
}

fn main() {
    if std::env::args().any(|a| a == "curve") {
        return curve::run();
    }
    let work = tempfile::tempdir().expect("temp dir");
    let (desired, repo, rendered, namespaces) = prepare(work.path(), SIZE);
    if std::env::var_os("KEEP_RENDERED").is_some() {
        std::fs::copy(&rendered, "/tmp/tollgate-bench-rendered.yaml").expect("copy");
    }
    let objects = desired.objects.len();
    println!(
        "live benchmark: {objects} managed objects; tollgate --qps {} --burst {} --concurrency {}",
        setting("QPS", QPS),
        setting("BURST", BURST),
        setting("CONCURRENCY", CONCURRENCY)
    );

    // kubectl on its own control plane: cold apply, then the same apply again (a no-op).
    let plane = start(&namespaces);
    let before = request_counts(&plane);
    let kubectl_cold = timed(
        "kubectl apply --server-side (cold)",
        kubectl(&plane, &["apply", "--server-side", "-f", &rendered]),
        &[0],
    );
    let kubectl_cold_requests = difference(&request_counts(&plane), &before);
    let before = request_counts(&plane);
    let kubectl_noop = timed(
        "kubectl apply --server-side (no-op)",
        kubectl(&plane, &["apply", "--server-side", "-f", &rendered]),
        &[0],
    );
    let kubectl_noop_requests = difference(&request_counts(&plane), &before);
    drop(plane);

    // tollgate on a fresh one: cold apply, plan, no-op apply; kubectl diff against the same objects.
    let plane = start(&namespaces);
    let apply = apply_args(&repo);
    let before = request_counts(&plane);
    let tollgate_cold = timed("tollgate apply (cold)", tollgate(&plane, &apply), &[0]);
    let tollgate_cold_requests = difference(&request_counts(&plane), &before);
    let plan = plan_args(&repo);
    let tollgate_plan = timed("tollgate plan", tollgate(&plane, &plan), &[0]);
    let kubectl_diff = timed(
        "kubectl diff --server-side",
        kubectl(&plane, &["diff", "--server-side", "-f", &rendered]),
        &[0],
    );
    let before = request_counts(&plane);
    let tollgate_noop = timed("tollgate apply (no-op)", tollgate(&plane, &apply), &[0]);
    let tollgate_noop_requests = difference(&request_counts(&plane), &before);
    drop(plane);

    let ratio = |peer: Duration, ours: Duration| peer.as_secs_f64() / ours.as_secs_f64();
    println!(
        "{:<34} {:>12} {:>12} {:>8}",
        "", "tollgate", "kubectl", "ratio"
    );
    println!(
        "{:<34} {:>10.2} s {:>10.2} s {:>7.1}x",
        "plan vs diff --server-side",
        tollgate_plan.as_secs_f64(),
        kubectl_diff.as_secs_f64(),
        ratio(kubectl_diff, tollgate_plan)
    );
    println!(
        "{:<34} {:>10.2} s {:>10.2} s {:>7.1}x",
        "cold apply (server-side)",
        tollgate_cold.as_secs_f64(),
        kubectl_cold.as_secs_f64(),
        ratio(kubectl_cold, tollgate_cold)
    );
    println!(
        "{:<34} {:>10.2} s {:>10.2} s {:>7.1}x",
        "no-op apply",
        tollgate_noop.as_secs_f64(),
        kubectl_noop.as_secs_f64(),
        ratio(kubectl_noop, tollgate_noop)
    );
    let too_many = |counts: &BTreeMap<String, u64>| counts.get("429s").copied().unwrap_or(0);
    println!(
        "429 (too many requests) answers: tollgate {}, kubectl {}",
        too_many(&tollgate_cold_requests) + too_many(&tollgate_noop_requests),
        too_many(&kubectl_cold_requests) + too_many(&kubectl_noop_requests)
    );
    println!(
        "cold apply requests   tollgate: {}",
        show(&tollgate_cold_requests)
    );
    println!(
        "cold apply requests   kubectl:  {}",
        show(&kubectl_cold_requests)
    );
    println!(
        "no-op apply requests  tollgate: {} ({} writes)",
        show(&tollgate_noop_requests),
        writes(&tollgate_noop_requests)
    );
    println!(
        "no-op apply requests  kubectl:  {} ({} writes)",
        show(&kubectl_noop_requests),
        writes(&kubectl_noop_requests)
    );
}

/// The cost curve (`-- curve`).
mod curve {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use futures::{StreamExt as _, TryStreamExt as _};
    use kube::api::ListParams;
    use kube::core::{DynamicObject, Resource as _};
    use tollgate::cluster::{Cluster, ConnectOptions, RateLimit, api_resource};
    use tollgate::objects::{DesiredState, Manifest, ObjectKey, ObjectKind};
    use tollgate::synthetic::Size;

    use super::{kubectl, prepare, start, tollgate};
    use crate::harness::ControlPlane;

    /// kubectl is stopped after this long at one size, and not run at larger ones.
    const KUBECTL_LIMIT: Duration = Duration::from_secs(600);

    /// An organisation shaped like the live benchmark's that compiles to about `objects` objects: a fifth of
    /// them client ServiceAccounts, the rest six RoleBindings per team namespace. The namespace count is kept
    /// prime to 6, as the generator's grant pattern then reaches every (namespace, role) pair, and there are 30
    /// grants per namespace, so that every pair has a grant whose subjects resolve to someone.
    fn sized(objects: usize) -> Size {
        let clients = objects / 5;
        let mut namespaces = ((objects - clients) / 6).max(1);
        while namespaces.is_multiple_of(2) || namespaces.is_multiple_of(3) {
            namespaces += 1;
        }
        Size {
            users: (objects * 2 / 5).max(2_000),
            groups: (objects * 2 / 25).max(400),
            grants: 30 * namespaces,
            clients,
            namespaces,
        }
    }

    /// A command's wall time and peak resident memory, or `None` when it was stopped at `limit`.
    struct Measured {
        wall: Duration,
        peak_kib: i64,
    }

    /// Runs `command` (output discarded) and measures it with `wait4`; stops it after `limit`.
    fn measure(label: &str, mut command: Command, limit: Duration) -> Option<Measured> {
        let start = Instant::now();
        // Reaped by the `wait4` below (which gives its resource usage), not by `Child::wait`.
        #[allow(clippy::zombie_processes)]
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command starts");
        let pid = child.id() as libc::pid_t;
        let stderr = child.stderr;
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stderr) = stderr {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            }
            text
        });
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let killer = std::thread::spawn(move || {
            if done_rx.recv_timeout(limit).is_err() {
                // SAFETY: kill(2) on our own child's pid, which is not reaped before this thread is joined.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        });
        let mut status = 0;
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: wait4 fills the status and rusage it is given, for our own child.
        #[allow(unsafe_code)]
        let usage = unsafe {
            libc::wait4(pid, &mut status, 0, usage.as_mut_ptr());
            usage.assume_init()
        };
        let wall = start.elapsed();
        let _ = done_tx.send(());
        killer.join().expect("the timer thread");
        let stderr = reader.join().expect("the reader thread");
        if wall >= limit {
            println!("  {label:<40} stopped after {} s", limit.as_secs());
            return None;
        }
        let exited = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        assert!(
            matches!(exited, Some(0 | 1))
                && (exited == Some(0) || label.starts_with("kubectl diff")),
            "{label} failed ({exited:?}): {stderr}"
        );
        println!(
            "  {label:<40} {:>8.2} s wall, {:>6.1} MiB peak",
            wall.as_secs_f64(),
            usage.ru_maxrss as f64 / 1024.0
        );
        Some(Measured {
            wall,
            peak_kib: usage.ru_maxrss,
        })
    }

    /// The floor on `plane`, right after tollgate's runs on it: one LIST per kind as raw text (the objects tollgate
    /// wrote), then a copy of every object under another name (new objects, as tollgate's cold apply wrote)
    /// written once by server-side apply, 32 in flight and no rate limit.
    fn floor(plane: &ControlPlane, desired: &DesiredState) -> (Duration, Duration) {
        let copies: Vec<(ObjectKey, Manifest)> = desired
            .objects
            .iter()
            .map(|(key, manifest)| {
                let name = format!("{}-floor", key.name);
                let mut manifest = manifest.clone();
                manifest.edit(|object| object["metadata"]["name"] = name.clone().into());
                let key = ObjectKey {
                    name,
                    ..key.clone()
                };
                (key, manifest)
            })
            .collect();
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let unlimited = std::num::NonZeroU32::new(1_000_000).expect("not zero");
            let cluster = Cluster::connect(&ConnectOptions {
                kubeconfig: Some(plane.kubeconfig.clone()),
                context: None,
                rate_limit: RateLimit {
                    qps: unlimited,
                    burst: unlimited,
                },
                list_page: std::num::NonZeroU32::new(5_000).expect("not zero"),
            })
            .await
            .expect("connect");
            let config = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::read_from(&plane.kubeconfig).expect("kubeconfig"),
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .expect("config");
            let client = kube::Client::try_from(config).expect("client");
            let selector = tollgate::cluster::instance_selector(&desired.cluster);
            let started = Instant::now();
            let lists = ObjectKind::ALL.map(|kind| {
                let url = DynamicObject::url_path(&api_resource(kind), None);
                let request = kube::core::Request::new(url)
                    .list(&ListParams::default().labels(&selector))
                    .expect("a LIST request");
                client.request_text(request)
            });
            let bytes: usize = futures::future::try_join_all(lists)
                .await
                .expect("every LIST succeeds")
                .iter()
                .map(String::len)
                .sum();
            let lists = started.elapsed();
            let started = Instant::now();
            futures::stream::iter(&copies)
                .map(|(key, manifest)| cluster.apply(key, manifest))
                .buffer_unordered(32)
                .try_collect::<Vec<()>>()
                .await
                .expect("every write succeeds");
            let writes = started.elapsed();
            println!(
                "  {:<40} {:>8.2} s ({} kinds at once, {:.1} MB of JSON)",
                "floor: one LIST per kind",
                lists.as_secs_f64(),
                ObjectKind::ALL.len(),
                bytes as f64 / 1e6
            );
            println!(
                "  {:<40} {:>8.2} s ({:.0} writes/s)",
                "floor: one apply per object",
                writes.as_secs_f64(),
                desired.objects.len() as f64 / writes.as_secs_f64()
            );
            (lists, writes)
        })
    }

    /// `run`'s measurement, unless this kind of run was `stopped` at a smaller size; `stopped` is set when it is
    /// stopped now.
    fn unless_stopped(
        stopped: &mut bool,
        run: impl FnOnce() -> Option<Measured>,
    ) -> Option<Measured> {
        if *stopped {
            return None;
        }
        let measured = run();
        *stopped = measured.is_none();
        measured
    }

    pub fn run() {
        let targets: Vec<usize> = std::env::var("CURVE_SIZES")
            .unwrap_or_else(|_| "1000,10000,50000,100000".to_owned())
            .split(',')
            .map(|n| n.trim().parse().expect("CURVE_SIZES: numbers"))
            .collect();
        let mut rows = Vec::new();
        let mut kubectl_apply_stopped = false;
        let mut kubectl_diff_stopped = false;
        for target in targets {
            let work = tempfile::tempdir().expect("temp dir");
            let (desired, repo, rendered, namespaces) = prepare(work.path(), sized(target));
            let objects = desired.objects.len();
            println!("cost curve: {objects} managed objects");

            // tollgate: cold apply, plan, no-op apply; kubectl diff against the same objects.
            let plane = start(&namespaces);
            let apply = super::apply_args(&repo);
            let plan = super::plan_args(&repo);
            let forever = Duration::from_secs(24 * 3600);
            let cold = measure("tollgate apply (cold)", tollgate(&plane, &apply), forever);
            let planned = measure("tollgate plan", tollgate(&plane, &plan), forever);
            let noop = measure("tollgate apply (no-op)", tollgate(&plane, &apply), forever);
            let (floor_lists, floor_writes) = floor(&plane, &desired);
            let diff = unless_stopped(&mut kubectl_diff_stopped, || {
                measure(
                    "kubectl diff --server-side",
                    kubectl(&plane, &["diff", "--server-side", "-f", &rendered]),
                    KUBECTL_LIMIT,
                )
            });
            drop(plane);

            // kubectl's cold apply on a fresh control plane.
            let kubectl_apply = unless_stopped(&mut kubectl_apply_stopped, || {
                let plane = start(&namespaces);
                measure(
                    "kubectl apply --server-side (cold)",
                    kubectl(&plane, &["apply", "--server-side", "-f", &rendered]),
                    KUBECTL_LIMIT,
                )
            });
            rows.push((
                objects,
                [cold, planned, noop, kubectl_apply, diff],
                (floor_lists, floor_writes),
            ));
        }

        let time = |m: &Option<Measured>| {
            m.as_ref().map_or_else(
                || "> 600 s".to_owned(),
                |m| format!("{:.2} s", m.wall.as_secs_f64()),
            )
        };
        let memory = |m: &Option<Measured>| {
            m.as_ref().map_or_else(
                || "-".to_owned(),
                |m| format!("{:.0} MiB", m.peak_kib as f64 / 1024.0),
            )
        };
        println!(
            "| objects | tollgate apply (cold) | floor: writes + LISTs | kubectl apply --server-side | tollgate plan \
             | floor: LISTs | kubectl diff --server-side | tollgate no-op apply |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (objects, [cold, planned, noop, kubectl_apply, diff], (lists, writes)) in &rows {
            println!(
                "| {objects} | {} ({}) | {:.2} s | {} ({}) | {} ({}) | {:.2} s | {} ({}) | {} ({}) |",
                time(cold),
                memory(cold),
                (*writes + *lists).as_secs_f64(),
                time(kubectl_apply),
                memory(kubectl_apply),
                time(planned),
                memory(planned),
                lists.as_secs_f64(),
                time(diff),
                memory(diff),
                time(noop),
                memory(noop),
            );
        }
    }
}
