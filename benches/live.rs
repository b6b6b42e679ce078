//! Benchmark of live plan and apply on 5,000 managed objects, side by side with stock kubectl in the same run, on
//! control planes started the same way (etcd + kube-apiserver from `scripts/control-plane`, on loopback):
//!
//! - cold apply: `tollgate apply` vs `kubectl apply --server-side -f rendered.yaml` (each on a fresh control plane);
//! - plan against a cluster holding the objects: `tollgate plan` vs `kubectl diff --server-side -f rendered.yaml`;
//! - no-op reconcile: API requests by verb from the apiserver's `apiserver_request_total`, tollgate vs kubectl.
//!
//! Prints figures and ratios; asserts nothing about time. Run: `cargo bench --bench live`.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{ControlPlane, Options};
use tollgate::compile::{CompileContext, compile};
use tollgate::objects::ObjectKind;
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

fn main() {
    let work = tempfile::tempdir().expect("temp dir");
    let repo = work.path().join("repo");
    let files = organisation(SIZE);
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
    let rendered = work.path().join("rendered.yaml");
    let rendered_yaml = tollgate::render::objects_yaml(&desired);
    std::fs::write(&rendered, &rendered_yaml).expect("write");
    if std::env::var_os("KEEP_RENDERED").is_some() {
        std::fs::write("/tmp/tollgate-bench-rendered.yaml", &rendered_yaml).expect("write");
    }
    let rendered = rendered.to_str().expect("utf-8").to_owned();
    // The team namespaces the bindings live in exist before either tool runs; neither manages them.
    let mut team_namespaces: Vec<&str> = desired
        .objects
        .keys()
        .filter_map(|k| k.namespace.as_deref())
        .collect();
    team_namespaces.sort();
    team_namespaces.dedup();
    let namespaces_yaml: String = team_namespaces
        .iter()
        .filter(|ns| {
            !desired
                .objects
                .keys()
                .any(|k| k.kind == ObjectKind::Namespace && k.name == **ns)
        })
        .map(|ns| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"))
        .collect();
    let namespaces = work.path().join("namespaces.yaml");
    std::fs::write(&namespaces, namespaces_yaml).expect("write");
    let objects = desired.objects.len();
    let repo = repo.to_str().expect("utf-8").to_owned();
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
    let apply = [
        "apply",
        "--repo",
        &repo,
        "--cluster",
        "bench",
        "--yes",
        "--output",
        "json",
    ];
    let before = request_counts(&plane);
    let tollgate_cold = timed("tollgate apply (cold)", tollgate(&plane, &apply), &[0]);
    let tollgate_cold_requests = difference(&request_counts(&plane), &before);
    let plan = [
        "plan",
        "--repo",
        &repo,
        "--cluster",
        "bench",
        "--detailed-exitcode",
        "--output",
        "json",
    ];
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
