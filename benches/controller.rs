//! Benchmark of `tollgate controller` against real parts (kube-apiserver + etcd from `scripts/control-plane`,
//! `git daemon` on loopback):
//!
//! 1. change-to-applied latency: 20 commits that add or remove a grant, each measured from the end of `git push`
//!    until the RoleBinding exists (or is gone), with a 1 s poll interval; p50 and p95 next to Flux's default
//!    interval of 1 minute;
//! 2. the same with push webhooks: a 60 s poll interval, and after each `git push` a signed webhook sent the way
//!    GitHub sends it; before the first, 100 forged, unsigned or replayed requests, which must trigger nothing;
//! 3. steady state with a large organisation applied (tens of thousands of objects): the controller's resident
//!    memory and CPU over an idle minute, and its API requests in that minute by verb (from the audit log).
//!
//! Prints figures; asserts nothing about time. Run: `cargo bench --bench controller` (a few minutes); `cargo bench
//! --bench controller -- webhook` runs only the webhook part, `-- steady` only the large organisation.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use harness::git::GitServer;
use harness::{APPLIER_TOKEN, APPLIER_USER, ControlPlane, Options, github_signature, post_webhook};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::Api;
use kube::api::PostParams;
use tollgate::synthetic::{Size, organisation};

const SYSTEM_NAMESPACE: &str = "tollgate-system";

/// About 60,000 RoleBindings (120,000 grants over 20,000 namespaces and 6 roles) plus 1,000 client
/// ServiceAccounts.
const LARGE: Size = Size {
    users: 10_000,
    groups: 2_000,
    grants: 120_000,
    clients: 1_000,
    namespaces: 20_000,
};

struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn controller(
    plane: &ControlPlane,
    server: &GitServer,
    cluster: &str,
    interval: &str,
    extra: &[&str],
) -> Controller {
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let log = plane.dir.path().join("controller.log");
    let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["controller", "--cluster", cluster, "--git", &server.url])
        .arg("--git-cache")
        .arg(plane.dir.path().join("controller-cache"))
        .args(["--interval", interval, "--namespace", SYSTEM_NAMESPACE])
        .args(["--identity", "bench", "--listen", "127.0.0.1:0"])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log"))
        .spawn()
        .expect("tollgate controller starts");
    Controller(child)
}

async fn applied_revision(client: &kube::Client) -> Option<String> {
    tollgate::controller::status::read(client, SYSTEM_NAMESPACE)
        .await
        .ok()?
        .applied_revision
}

async fn wait_applied(client: &kube::Client, head: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while applied_revision(client).await.as_deref() != Some(head) {
        assert!(
            started.elapsed() < limit,
            "the controller did not apply {head} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

async fn create_namespaces(client: &kube::Client, names: impl Iterator<Item = String>) {
    let api = Api::<Namespace>::all(client.clone());
    futures::stream::iter(names)
        .map(|name| {
            let api = api.clone();
            async move {
                let mut namespace = Namespace::default();
                namespace.metadata.name = Some(name);
                api.create(&PostParams::default(), &namespace)
                    .await
                    .expect("namespace");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// The example organisation on a fresh control plane and Git server, and the grant the latency rounds add and
/// remove (a RoleBinding `tollgate:view` in `search`).
struct Rig {
    plane: ControlPlane,
    admin: kube::Client,
    server: GitServer,
    teams: std::path::PathBuf,
    original: String,
    with_grant: String,
}

impl Rig {
    async fn start() -> Rig {
        let plane = ControlPlane::start(Options {
            controller_manager: false,
            audit_log: false,
        });
        let admin = plane.admin().await;
        create_namespaces(
            &admin,
            ["payments", "search", "search-indexer", SYSTEM_NAMESPACE]
                .into_iter()
                .map(str::to_owned),
        )
        .await;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let server = GitServer::start(&root.join("example-repo"));
        let teams = server.work.join("access/teams.yaml");
        let original = std::fs::read_to_string(&teams).expect("teams");
        let marker = "    - role: view\n      cluster: prod\n      namespaces: [payments]\n";
        let with_grant = original.replacen(
            marker,
            &format!(
                "{marker}    - role: view\n      cluster: staging\n      namespaces: [search]\n"
            ),
            1,
        );
        Rig {
            plane,
            admin,
            server,
            teams,
            original,
            with_grant,
        }
    }

    /// Commits and pushes the grant (`add`) or its removal.
    fn commit(&self, add: bool) {
        let text = if add {
            &self.with_grant
        } else {
            &self.original
        };
        std::fs::write(&self.teams, text).expect("write");
        self.server
            .commit_and_push(if add { "grant view" } else { "revoke view" });
    }

    /// Whether the cluster shows the grant as `add` says.
    async fn applied(&self, add: bool) -> bool {
        Api::<RoleBinding>::namespaced(self.admin.clone(), "search")
            .get_opt("tollgate:view")
            .await
            .expect("get")
            .is_some()
            == add
    }

    /// Waits (polling every 10 ms, at most 30 s) until the cluster shows the grant as `add` says; the time since
    /// `pushed`.
    async fn wait_until_applied(&self, add: bool, pushed: Instant, round: u64) -> Duration {
        while !self.applied(add).await {
            assert!(
                pushed.elapsed() < Duration::from_secs(30),
                "round {round} not applied"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        pushed.elapsed()
    }
}

/// Prints p50, p95 and max of the samples under `title`.
fn report(title: &str, samples: &mut [Duration]) {
    samples.sort();
    println!("{title}");
    println!(
        "  tollgate controller      p50 {:>6.0} ms   p95 {:>6.0} ms   max {:>6.0} ms",
        percentile(samples, 0.5).as_secs_f64() * 1000.0,
        percentile(samples, 0.95).as_secs_f64() * 1000.0,
        samples.last().expect("samples").as_secs_f64() * 1000.0
    );
}

async fn latency() {
    let rig = Rig::start().await;
    let _controller = controller(&rig.plane, &rig.server, "staging", "1s", &[]);
    wait_applied(&rig.admin, &rig.server.head(), Duration::from_secs(60)).await;
    let mut samples = Vec::new();
    for round in 0..20 {
        let add = round % 2 == 0;
        // Commits arrive at any moment of the poll interval, not in step with it.
        tokio::time::sleep(Duration::from_millis((round * 373) % 1000)).await;
        rig.commit(add);
        samples.push(rig.wait_until_applied(add, Instant::now(), round).await);
    }
    report(
        "change-to-applied latency, 20 commits, poll interval 1 s",
        &mut samples,
    );
    println!(
        "  Flux (default interval)  a commit waits up to 60 s for the next poll (30 s on average), then applies"
    );
}

async fn webhook_latency() {
    let rig = Rig::start().await;
    let secret_file = rig.plane.dir.path().join("webhook-secret");
    std::fs::write(&secret_file, "s3cret").expect("write");
    let port = harness::free_port();
    let listen = format!("127.0.0.1:{port}");
    let secret = secret_file.to_str().expect("utf-8");
    let _controller = controller(
        &rig.plane,
        &rig.server,
        "staging",
        "60s",
        &["--webhook-listen", &listen, "--webhook-secret-file", secret],
    );
    wait_applied(&rig.admin, &rig.server.head(), Duration::from_secs(60)).await;

    let push = br#"{"ref":"refs/heads/main"}"#;
    let signed = |delivery: &str| {
        vec![
            ("X-Hub-Signature-256", github_signature(b"s3cret", push)),
            ("X-GitHub-Event", "push".to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
        ]
    };

    // Forged, unsigned and replayed requests after a push: the change must stay unapplied.
    rig.commit(true);
    assert_eq!(post_webhook(port, &signed("seen"), push).0, 202);
    wait_applied(&rig.admin, &rig.server.head(), Duration::from_secs(10)).await;
    rig.commit(false);
    let mut triggered = 0;
    for i in 0..100 {
        let headers = match i % 4 {
            0 => vec![],
            1 => vec![
                ("X-Hub-Signature-256", github_signature(b"guess", push)),
                ("X-GitHub-Event", "push".to_owned()),
            ],
            2 => vec![
                ("X-Gitlab-Token", "s3cre".to_owned()),
                ("X-Gitlab-Event", "Push Hook".to_owned()),
            ],
            // A replay of the delivery already acted on.
            _ => signed("seen"),
        };
        if post_webhook(port, &headers, push).0 == 202 {
            triggered += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let unapplied = !rig.applied(false).await;

    let mut samples = Vec::new();
    for round in 0..20 {
        // The first round applies the revoke that the forged requests did not.
        let add = round % 2 == 1;
        if round > 0 {
            tokio::time::sleep(Duration::from_millis((round * 373) % 1000)).await;
            rig.commit(add);
        }
        let pushed = Instant::now();
        assert_eq!(
            post_webhook(port, &signed(&format!("d{round}")), push).0,
            202
        );
        samples.push(rig.wait_until_applied(add, pushed, round).await);
    }
    report(
        "change-to-applied latency with push webhooks, 20 commits, poll interval 60 s",
        &mut samples,
    );
    println!(
        "  100 forged, unsigned or replayed requests: {triggered} accepted; the pushed change {} applied by them",
        if unapplied { "was not" } else { "WAS" }
    );
}

/// The fields of a process's /proc status, in KiB, by name (`VmRSS:`); 0 when absent.
fn status_fields(pid: u32) -> impl Fn(&str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    move |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

/// (resident KiB, peak resident KiB, CPU seconds so far) of a process, from /proc.
fn usage(pid: u32) -> (u64, u64, f64) {
    let field = status_fields(pid);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    #[allow(unsafe_code)]
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (field("VmRSS:"), field("VmHWM:"), ticks as f64 / hz)
}

async fn steady_state() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: true,
    });
    let admin = plane.admin().await;
    let work = tempfile::tempdir().expect("temp dir");
    let files = organisation(LARGE);
    for (path, bytes) in &files {
        let path = work.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    let checked = tollgate::pipeline::check(&tollgate::config::load(files), jiff::Timestamp::now())
        .unwrap_or_else(|e| panic!("the synthetic organisation is valid: {e}"));
    let desired = tollgate::compile::compile(
        &checked.model,
        &tollgate::compile::CompileContext {
            cluster: "bench",
            now: jiff::Timestamp::now(),
            revision: None,
        },
    )
    .expect("compiles");
    let objects = desired.objects.len();
    create_namespaces(
        &admin,
        (0..LARGE.namespaces)
            .map(|n| format!("ns{n:03}"))
            .chain([SYSTEM_NAMESPACE.to_owned()]),
    )
    .await;
    let server = GitServer::start(work.path());
    // As in the live benchmark, the client-side rate limit is raised for the cold apply of this many objects
    // (the default --qps 200 would make it last five minutes); idle, it does not matter. The resync (every 10
    // minutes by default) is moved out of the way, so that the idle minute measures idling.
    let flags = [
        "--qps",
        "2000",
        "--burst",
        "2000",
        "--concurrency",
        "32",
        "--resync",
        "0 0 0 1 1 *",
    ];
    let controller = controller(&plane, &server, "bench", "5s", &flags);
    let pid = controller.0.id();
    let sampler = RssSampler::start(pid);
    let first = wait_applied(&admin, &server.head(), Duration::from_secs(1800)).await;
    if let Some((at, (anon, file))) = sampler.stop() {
        println!(
            "  (highest resident memory sampled: {:.1} MiB anonymous + {:.1} MiB file-backed at {at})",
            anon as f64 / 1024.0,
            file as f64 / 1024.0
        );
    }
    let log = plane.dir.path().join("controller.log");
    let steps = reconcile_steps(&log);
    let (_, first_peak, _) = usage(pid);
    println!(
        "steady state: {objects} managed objects, {} clients",
        LARGE.clients
    );
    println!(
        "  first reconcile (apply + 1,000 tokens + client files): {:.1} s (apply {:.1} s, publish {:.1} s), peak \
         resident memory {:.1} MiB",
        first.as_secs_f64(),
        steps.first().map_or(0.0, |s| s.0),
        steps.first().map_or(0.0, |s| s.1),
        first_peak as f64 / 1024.0
    );
    // A restarted controller (a new pod) reconciles the head, its own publish commit, with every object live and
    // nothing new: it reads everything, writes nothing and commits nothing.
    drop(controller);
    std::fs::rename(&log, plane.dir.path().join("controller-1.log")).expect("rename the log");
    let commits = server.commit_count();
    let writes_before = plane.writes_by(APPLIER_USER).len();
    let controller = self::controller(&plane, &server, "bench", "5s", &flags);
    let pid = controller.0.id();
    let published_head = server.head();
    let restarted = wait_applied(&admin, &published_head, Duration::from_secs(600)).await;
    let (_, second_peak, _) = usage(pid);
    let later_writes = plane.writes_by(APPLIER_USER)[writes_before..]
        .iter()
        .filter(|e| {
            !matches!(
                e["objectRef"]["resource"].as_str(),
                Some("leases" | "configmaps" | "events")
            )
        })
        .count();
    println!(
        "  after a restart, a reconcile with nothing new (all {objects} objects live): {:.1} s, peak resident \
         memory {:.1} MiB, {later_writes} writes to managed objects or credentials, {} new commits",
        restarted.as_secs_f64(),
        second_peak as f64 / 1024.0,
        server.commit_count() - commits
    );
    let throttled = plane
        .requests_by(APPLIER_USER)
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 429)
        .count();
    println!("  HTTP 429 answers to the controller: {throttled}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before_requests = plane.requests_by(APPLIER_USER).len();
    let (_, _, cpu_before) = usage(pid);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (rss, peak, cpu_after) = usage(pid);
    let requests = plane.requests_by(APPLIER_USER);
    let mut by_verb: BTreeMap<String, usize> = BTreeMap::new();
    for event in &requests[before_requests..] {
        let verb = event["verb"].as_str().unwrap_or("?");
        let resource = event["objectRef"]["resource"].as_str().unwrap_or("-");
        *by_verb.entry(format!("{verb} {resource}")).or_default() += 1;
    }
    println!(
        "  idle minute after it: RSS {:.1} MiB (peak {:.1} MiB), CPU {:.2} s",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        cpu_after - cpu_before
    );
    println!("  API requests in the idle minute by verb: {by_verb:?}");
}

/// (apply, publish) seconds of each reconcile that applied, from the controller's JSON log: "applying" to
/// "publishing client files" to "reconciled".
fn reconcile_steps(log: &Path) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut steps = Vec::new();
    let mut started: Option<(jiff::Timestamp, Option<jiff::Timestamp>)> = None;
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(at) = event["timestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            continue;
        };
        match event["message"].as_str() {
            Some("applying") => started = Some((at, None)),
            Some("publishing client files") => {
                if let Some((_, publishing)) = &mut started {
                    *publishing = Some(at);
                }
            }
            Some("reconciled") => {
                if let Some((applying, Some(publishing))) = started.take() {
                    let seconds =
                        |a: jiff::Timestamp, b: jiff::Timestamp| b.duration_since(a).as_secs_f64();
                    steps.push((seconds(applying, publishing), seconds(publishing, at)));
                }
            }
            _ => {}
        }
    }
    steps
}

/// Samples a process's resident memory every 20 ms until aborted; `highest` holds when it was highest, and how
/// high (KiB).
struct RssSampler {
    task: tokio::task::JoinHandle<()>,
    highest: std::sync::Arc<std::sync::Mutex<Option<Sample>>>,
}

/// When, and resident anonymous and file-backed memory in KiB.
type Sample = (jiff::Timestamp, (u64, u64));

/// Resident anonymous and file-backed memory of a process, KiB.
fn anon_and_file(pid: u32) -> (u64, u64) {
    let field = status_fields(pid);
    (field("RssAnon:"), field("RssFile:"))
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let highest =
            std::sync::Arc::new(std::sync::Mutex::new(None::<(jiff::Timestamp, (u64, u64))>));
        let seen = highest.clone();
        let task = tokio::spawn(async move {
            loop {
                let rss = anon_and_file(pid);
                {
                    let mut highest = seen.lock().expect("not poisoned");
                    if highest.is_none_or(|(_, top)| rss.0 + rss.1 > top.0 + top.1) {
                        *highest = Some((jiff::Timestamp::now(), rss));
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        RssSampler { task, highest }
    }

    fn stop(self) -> Option<Sample> {
        self.task.abort();
        *self.highest.lock().expect("not poisoned")
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // `webhook` or `steady` runs only that part.
    let only = |part: &str| std::env::args().any(|a| a == part);
    let all = !only("webhook") && !only("steady");
    runtime.block_on(async {
        if all {
            latency().await;
        }
        if all || only("webhook") {
            webhook_latency().await;
        }
        if all || only("steady") {
            steady_state().await;
        }
    });
}
