//! `tollgate controller` as it runs in a cluster, against real parts: a kube-apiserver, `git daemon` on loopback
//! serving the access repository, commits pushed with the stock git. It follows the branch, skips its own client
//! file commits, keeps the last good state through an invalid commit and through Git being down, reports each in
//! its status and metrics, stops on SIGTERM; with two replicas only the Lease holder writes and a successor takes
//! over; and `deploy/` installs it with least privilege.

mod common;
mod harness;

use common::{assert_success, stdout};

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::git::GitServer;
use harness::{APPLIER_TOKEN, ControlPlane, Options, REPLICAS, github_signature, post_webhook};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;
use serde_json::Value;

const SYSTEM_NAMESPACE: &str = "tollgate-system";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One `tollgate controller` process, killed when dropped; its log (JSON lines) in a file.
struct Replica {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Replica {
    fn start(
        plane: &ControlPlane,
        server: &GitServer,
        kubeconfig: &Path,
        cluster: &str,
        extra: &[&str],
    ) -> Replica {
        let port = free_port();
        let dir = plane.dir.path();
        let name = format!("controller-{port}");
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["controller", "--cluster", cluster, "--git", &server.url])
            .arg("--git-cache")
            .arg(dir.join(format!("{name}-cache")))
            .args(if extra.contains(&"--interval") {
                &[][..]
            } else {
                &["--interval", "300ms"][..]
            })
            // No resync during a test unless it asks for one.
            .args(if extra.contains(&"--resync") {
                &[][..]
            } else {
                &["--resync", "0 0 0 1 1 *"][..]
            })
            .args(["--namespace", SYSTEM_NAMESPACE, "--identity", &name])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(extra)
            .env("TOLLGATE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(
                std::fs::File::options()
                    .append(true)
                    .open(&log)
                    .expect("log"),
            )
            .spawn()
            .expect("tollgate controller starts");
        Replica {
            child: Some(child),
            port,
            log,
        }
    }

    fn name(&self) -> String {
        format!("controller-{}", self.port)
    }

    /// GET one of the HTTP endpoints: (status code, body); `None` while nothing listens.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let code = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_owned();
        Some((code, body))
    }

    /// The value of one metric sample (a full `name{labels}` as printed), 0 when absent.
    fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.get("/metrics").expect("metrics are served");
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    fn signal(&mut self, signal: i32) {
        let child = self.child.as_ref().expect("running");
        let pid = i32::try_from(child.id()).expect("a pid");
        #[allow(unsafe_code)]
        // SAFETY: kill only sends a signal to the child this replica started.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Waits for the process to end, at most `limit`.
    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut().expect("running");
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `tollgate status --json` as the admin sees it.
fn status(plane: &ControlPlane) -> Option<Value> {
    let output = plane.tollgate(
        &plane.kubeconfig,
        &["status", "--namespace", SYSTEM_NAMESPACE, "--json"],
    );
    serde_json::from_slice(&output.stdout).ok()
}

/// Polls `condition` every 100 ms until it holds; panics with `what` (and the controller's log) after `limit`.
#[track_caller]
fn wait_until(
    limit: Duration,
    what: &str,
    replica: &Replica,
    mut condition: impl FnMut() -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if condition() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}\n--- controller log (tail)\n{}",
            replica
                .log_text()
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn exists(plane: &ControlPlane, args: &[&str]) -> bool {
    plane.kubectl(&[&["get"], args].concat()).status.success()
}

fn applied_revision(plane: &ControlPlane) -> Option<String> {
    status(plane)?["appliedRevision"]
        .as_str()
        .map(str::to_owned)
}

/// The RoleBindings tollgate manages, by name, as kubectl lists them.
fn managed_bindings(plane: &ControlPlane) -> String {
    stdout(&plane.kubectl(&[
        "get",
        "rolebindings",
        "-A",
        "-l",
        "app.kubernetes.io/managed-by=tollgate",
        "-o",
        "name",
    ]))
}

/// Whether the status says `revision` is applied and no error stands.
fn applied_cleanly(plane: &ControlPlane, revision: &str) -> bool {
    status(plane).is_some_and(|s| {
        s["appliedRevision"].as_str() == Some(revision) && s["lastError"].is_null()
    })
}

/// Replaces `from` with `to` in a file of the working clone.
fn edit(server: &GitServer, path: &str, from: &str, to: &str) {
    let path = server.work.join(path);
    let text = std::fs::read_to_string(&path).expect("readable");
    assert!(text.contains(from), "{} contains {from:?}", path.display());
    std::fs::write(&path, text.replacen(from, to, 1)).expect("writable");
}

fn setup(plane: &ControlPlane, namespaces: &[&str]) {
    for namespace in namespaces.iter().chain([&SYSTEM_NAMESPACE]) {
        assert_success(&plane.kubectl(&["create", "namespace", namespace]));
    }
}

#[test]
fn follows_the_branch_keeps_the_last_good_state_and_reports() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let mut server = GitServer::start(&common::root().join("example-repo"));
    let first = server.head();
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let mut replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "staging",
        &["--no-leader-election"],
    );

    // The first reconcile applies the head and publishes client files in a commit of its own.
    wait_until(
        Duration::from_secs(60),
        "the first commit is applied",
        &replica,
        || applied_revision(&plane).as_deref() == Some(first.as_str()),
    );
    let published = status(&plane).expect("status")["publishedCommit"]
        .as_str()
        .expect("client files were published")
        .to_owned();
    assert_eq!(server.head(), published, "tollgate's commit is the head");
    assert!(exists(
        &plane,
        &["rolebinding", "tollgate:edit", "-n", "payments"]
    ));
    assert_eq!(replica.get("/healthz").map(|r| r.0), Some(200));
    assert_eq!(replica.get("/readyz").map(|r| r.0), Some(200));
    assert_eq!(
        replica.metric("tollgate_reconciles_total{result=\"success\"}"),
        1.0
    );
    assert_eq!(replica.metric("tollgate_artifacts_published_total"), 4.0);
    assert_eq!(replica.metric("tollgate_tokens_issued_total"), 4.0);
    assert_eq!(
        replica.metric(&format!(
            "tollgate_applied_revision_info{{revision=\"{first}\"}}"
        )),
        1.0
    );
    // Its own commit changes no configuration: many polls later, still one reconcile.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        replica.metric("tollgate_reconciles_total{result=\"success\"}"),
        1.0
    );

    // A grant pushed by a person is applied within a few polls.
    edit(
        &server,
        "access/teams.yaml",
        "    - role: view\n      cluster: prod\n      namespaces: [payments]\n",
        "    - role: view\n      cluster: prod\n      namespaces: [payments]\n    - role: view\n      cluster: staging\n      namespaces: [search]\n",
    );
    server.commit_and_push("payments may view search in staging");
    let latency = wait_until(
        Duration::from_secs(30),
        "the new grant is applied",
        &replica,
        || exists(&plane, &["rolebinding", "tollgate:view", "-n", "search"]),
    );
    eprintln!("change-to-applied: {latency:?}");

    // An invalid commit: nothing applied, the previous state stays, the status names the file and line.
    let bindings_before = managed_bindings(&plane);
    std::fs::write(
        server.work.join("users/mallory.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: User\nmetadata:\n  name: mallory\nspec:\n  emial: m@example.com\n",
    )
    .expect("write");
    server.commit_and_push("A broken user");
    let broken = server.head();
    wait_until(
        Duration::from_secs(30),
        "the status reports the invalid commit",
        &replica,
        || {
            status(&plane)
                .is_some_and(|s| s["lastError"]["revision"].as_str() == Some(broken.as_str()))
        },
    );
    let reported = status(&plane).expect("status");
    assert_eq!(reported["lastError"]["step"], "validate");
    let diagnostics = reported["lastError"]["diagnostics"]
        .as_str()
        .expect("diagnostics");
    assert!(
        diagnostics.contains("users/mallory.yaml:6"),
        "{diagnostics}"
    );
    assert_ne!(reported["appliedRevision"].as_str(), Some(broken.as_str()));
    let human = plane.tollgate(
        &plane.kubeconfig,
        &["status", "--namespace", SYSTEM_NAMESPACE],
    );
    assert_eq!(
        human.status.code(),
        Some(1),
        "status exits 1 while an error stands"
    );
    assert!(
        stdout(&human).contains("validate failed")
            && stdout(&human).contains("users/mallory.yaml:6"),
        "{}",
        stdout(&human)
    );
    assert_eq!(
        replica.metric("tollgate_reconciles_total{result=\"invalid\"}"),
        1.0
    );
    let events = stdout(&plane.kubectl(&[
        "get",
        "events",
        "-n",
        SYSTEM_NAMESPACE,
        "-o",
        "jsonpath={.items[*].reason}",
    ]));
    assert!(events.contains("ReconcileFailed"), "{events}");
    let bindings_after = managed_bindings(&plane);
    assert_eq!(bindings_before, bindings_after, "nothing changed");

    // Fixing the commit recovers.
    std::fs::remove_file(server.work.join("users/mallory.yaml")).expect("rm");
    server.commit_and_push("Remove the broken user");
    let fixed = server.head();
    wait_until(
        Duration::from_secs(30),
        "the fix is applied",
        &replica,
        || applied_cleanly(&plane, &fixed),
    );

    // Git down: the last applied state stays (nothing pruned), the error is reported; Git back: it recovers.
    server.stop();
    wait_until(
        Duration::from_secs(30),
        "the status reports Git being down",
        &replica,
        || status(&plane).is_some_and(|s| s["lastError"]["step"] == "poll"),
    );
    assert!(replica.metric("tollgate_git_poll_errors_total") >= 1.0);
    assert_eq!(
        bindings_after,
        managed_bindings(&plane),
        "nothing pruned while Git is down"
    );
    server.restart();
    std::fs::write(server.work.join("NOTES.md"), "Git is back\n").expect("write");
    edit(
        &server,
        "access/teams.yaml",
        "namespaces: [search]\n",
        "namespaces: [search, search-indexer]\n",
    );
    server.commit_and_push("After the outage");
    let after = server.head();
    wait_until(
        Duration::from_secs(60),
        "the commit after the outage is applied",
        &replica,
        || applied_cleanly(&plane, &after),
    );
    assert!(exists(
        &plane,
        &["rolebinding", "tollgate:view", "-n", "search-indexer"]
    ));

    // SIGTERM: a clean, prompt exit.
    replica.signal(libc::SIGTERM);
    let exit = replica
        .wait(Duration::from_secs(10))
        .expect("the controller stops on SIGTERM");
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn a_push_webhook_applies_a_commit_at_once_and_forged_ones_trigger_nothing() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let server = GitServer::start(&common::root().join("example-repo"));
    let first = server.head();
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let secret_file = plane.dir.path().join("webhook-secret");
    std::fs::write(&secret_file, "s3cret\n").expect("write");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "staging",
        &[
            "--no-leader-election",
            "--no-publish",
            // A poll a minute: only the webhook can make a change apply within seconds.
            "--interval",
            "60s",
            "--webhook-listen",
            &listen,
            "--webhook-secret-file",
            secret_file.to_str().expect("utf-8"),
        ],
    );
    wait_until(
        Duration::from_secs(60),
        "the first commit is applied",
        &replica,
        || applied_revision(&plane).as_deref() == Some(first.as_str()),
    );

    // A change is pushed; forged, unsigned, foreign-branch and non-push requests arrive first and change nothing.
    let teams = server.work.join("access/teams.yaml");
    let text = std::fs::read_to_string(&teams).expect("teams");
    std::fs::write(
        &teams,
        format!("{text}# a comment is a change of configuration\n"),
    )
    .expect("write");
    server.commit_and_push("A change the webhook announces");
    let second = server.head();
    let push = br#"{"ref":"refs/heads/main"}"#;
    let other = br#"{"ref":"refs/heads/feature"}"#;
    let signed = |body: &[u8], event: &str, delivery: &str| {
        vec![
            ("X-Hub-Signature-256", github_signature(b"s3cret", body)),
            ("X-GitHub-Event", event.to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
        ]
    };
    let mut refused = 0;
    for i in 0..100 {
        let headers = match i % 4 {
            0 => vec![],
            1 => vec![("X-Hub-Signature-256", github_signature(b"guess", push))],
            2 => vec![
                ("X-Gitlab-Token", "s3cre".to_owned()),
                ("X-Gitlab-Event", "Push Hook".to_owned()),
            ],
            _ => vec![
                ("X-Gitea-Signature", "00".repeat(32)),
                ("X-Gitea-Event", "push".to_owned()),
            ],
        };
        assert_eq!(post_webhook(port, &headers, push).0, 401, "request {i}");
        refused += 1;
    }
    assert_eq!(
        post_webhook(port, &signed(other, "push", "d0"), other).0,
        200
    );
    assert_eq!(post_webhook(port, &signed(push, "ping", "d1"), push).0, 200);
    let big = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(
        post_webhook(port, &signed(&big, "push", "d2"), &big).0,
        413,
        "bodies are capped"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        applied_revision(&plane).as_deref(),
        Some(first.as_str()),
        "nothing triggered a poll"
    );
    assert_eq!(
        replica.metric("tollgate_webhook_requests_total{result=\"unauthorized\"}"),
        f64::from(refused)
    );

    // The forge's push: applied within seconds, long before the next poll.
    let sent = Instant::now();
    let (code, _) = post_webhook(port, &signed(push, "push", "d3"), push);
    assert_eq!(code, 202);
    wait_until(
        Duration::from_secs(10),
        "the pushed commit is applied",
        &replica,
        || applied_revision(&plane).as_deref() == Some(second.as_str()),
    );
    println!("change applied {:?} after the webhook", sent.elapsed());
    // The same delivery again is a replay: answered, not acted on.
    let (code, body) = post_webhook(port, &signed(push, "push", "d3"), push);
    assert_eq!(
        (code, body.trim()),
        (200, "a delivery seen before (replay)")
    );
    assert_eq!(
        replica.metric("tollgate_webhook_requests_total{result=\"push\"}"),
        1.0
    );
}

fn lease_holder(plane: &ControlPlane) -> Option<String> {
    let output = plane.kubectl(&[
        "get",
        "lease",
        "tollgate-leader",
        "-n",
        SYSTEM_NAMESPACE,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    let holder = stdout(&output);
    (output.status.success() && !holder.is_empty()).then_some(holder)
}

/// Writes by `user` to anything but the Lease (which a standby may try to create), as the audit log has them.
fn writes_besides_the_lease(plane: &ControlPlane, user: &str) -> usize {
    plane
        .writes_by(user)
        .iter()
        .filter(|event| event["objectRef"]["resource"].as_str() != Some("leases"))
        .count()
}

#[test]
fn only_the_lease_holder_writes_and_a_successor_takes_over() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: true,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let server = GitServer::start(&common::root().join("example-repo"));
    let first = server.head();
    let lease = ["--lease-duration", "3s"];
    let kubeconfigs: Vec<PathBuf> = REPLICAS
        .iter()
        .map(|(token, user)| plane.kubeconfig_for(user, token))
        .collect();
    let mut a = Replica::start(&plane, &server, &kubeconfigs[0], "staging", &lease);
    let mut b = Replica::start(&plane, &server, &kubeconfigs[1], "staging", &lease);
    wait_until(
        Duration::from_secs(60),
        "one replica applies the head",
        &a,
        || applied_revision(&plane).as_deref() == Some(first.as_str()),
    );
    let holder = lease_holder(&plane).expect("a lease holder");
    let (leader, standby, leader_user, standby_user) = if holder == a.name() {
        (&mut a, &mut b, REPLICAS[0].1, REPLICAS[1].1)
    } else {
        assert_eq!(holder, b.name());
        (&mut b, &mut a, REPLICAS[1].1, REPLICAS[0].1)
    };
    assert!(
        writes_besides_the_lease(&plane, leader_user) > 0,
        "the leader wrote"
    );
    assert_eq!(
        writes_besides_the_lease(&plane, standby_user),
        0,
        "the standby wrote nothing"
    );
    assert_eq!(leader.metric("tollgate_leader"), 1.0);
    assert_eq!(standby.metric("tollgate_leader"), 0.0);
    assert_eq!(
        standby.get("/readyz").map(|r| r.0),
        Some(200),
        "a standby is ready"
    );

    // The leader dies without a word; the standby takes over within the lease duration and applies what comes.
    leader.signal(libc::SIGKILL);
    leader.wait(Duration::from_secs(5)).expect("killed");
    let killed = Instant::now();
    wait_until(
        Duration::from_secs(20),
        "the standby holds the lease",
        standby,
        || lease_holder(&plane).as_deref() == Some(standby.name().as_str()),
    );
    let takeover = killed.elapsed();
    eprintln!("takeover after the leader's death: {takeover:?}");
    edit(
        &server,
        "access/teams.yaml",
        "namespaces: [search, search-indexer]",
        "namespaces: [search]",
    );
    server.commit_and_push("search-indexer no longer edited by search");
    let next = server.head();
    wait_until(
        Duration::from_secs(30),
        "the successor applies the next commit",
        standby,
        || applied_revision(&plane).as_deref() == Some(next.as_str()),
    );
    assert!(!exists(
        &plane,
        &["rolebinding", "tollgate:edit", "-n", "search-indexer"]
    ));
    assert!(
        writes_besides_the_lease(&plane, standby_user) > 0,
        "the successor writes now"
    );

    // A graceful stop hands the lease over at once.
    standby.signal(libc::SIGTERM);
    standby.wait(Duration::from_secs(10)).expect("stops");
    let lease: Lease = serde_json::from_str(&stdout(&plane.kubectl(&[
        "get",
        "lease",
        "tollgate-leader",
        "-n",
        SYSTEM_NAMESPACE,
        "-o",
        "json",
    ])))
    .expect("lease");
    assert!(
        lease.spec.expect("spec").holder_identity.is_none(),
        "released on SIGTERM"
    );
}

async fn can(
    plane: &ControlPlane,
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    can_named(plane, user, verb, group, resource, namespace, None).await
}

/// [`can`] for one object by name (`resourceNames` rules).
async fn can_named(
    plane: &ControlPlane,
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.split('/').next().unwrap_or(resource).to_owned()),
                subresource: resource.split_once('/').map(|(_, sub)| sub.to_owned()),
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    Api::<SubjectAccessReview>::all(plane.admin().await)
        .create(&PostParams::default(), &review)
        .await
        .expect("a SubjectAccessReview")
        .status
        .expect("a status")
        .allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_installs_a_controller_that_works_with_least_privilege() {
    // kube-controller-manager fills Kubernetes' aggregated roles: example-repo's access test (the platform team
    // lists pods in prod through `view`), asked of the authorizer after the apply, holds only then.
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: false,
    });
    let deploy = common::root().join("deploy");
    let deploy = deploy.to_str().expect("utf-8 path");
    // A server-side dry run of namespaced objects needs their namespaces: create those first, then dry-run all.
    assert_success(&plane.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        &format!("{deploy}/namespace.yaml"),
    ]));
    assert_success(&plane.kubectl(&["apply", "-k", deploy, "--server-side", "--dry-run=server"]));
    assert_success(&plane.kubectl(&["apply", "-k", deploy, "--server-side"]));
    for namespace in ["payments", "search"] {
        assert_success(&plane.kubectl(&["create", "namespace", namespace]));
    }
    // The controller runs with the deployed ServiceAccount's own token, not as an admin.
    let token = plane
        .service_account_token(SYSTEM_NAMESPACE, "tollgate")
        .await
        .token;
    let kubeconfig = plane.kubeconfig_for("tollgate-sa", &token);
    let server = GitServer::start(&common::root().join("example-repo"));
    let head = server.head();
    let replica = Replica::start(&plane, &server, &kubeconfig, "prod", &[]);
    let mut reported = None;
    wait_until(
        Duration::from_secs(60),
        "the deployed controller applies and publishes",
        &replica,
        || {
            reported = status(&plane);
            reported.as_ref().is_some_and(|s| {
                s["appliedRevision"].as_str() == Some(head.as_str())
                    && s["publishedCommit"].is_string()
            })
        },
    );
    assert!(
        reported.expect("status")["lastError"].is_null(),
        "no step failed for lack of a permission"
    );
    assert!(exists(&plane, &["clusterrolebinding", "tollgate:view"]));
    assert!(exists(
        &plane,
        &["rolebinding", "tollgate:port-forward", "-n", "search"]
    ));

    let sa = "system:serviceaccount:tollgate-system:tollgate";
    let rbac = "rbac.authorization.k8s.io";
    for (verb, group, resource, namespace, expected) in [
        ("get", "", "secrets", Some("tollgate-clients"), true),
        ("create", rbac, "rolebindings", Some("payments"), true),
        ("bind", rbac, "clusterroles", None, true),
        ("get", "", "secrets", Some("kube-system"), false),
        ("list", "", "secrets", None, false),
        ("delete", "", "namespaces", None, false),
        ("create", "", "pods", Some("payments"), false),
        (
            "update",
            "coordination.k8s.io",
            "leases",
            Some("kube-system"),
            false,
        ),
        (
            "create",
            "",
            "serviceaccounts/token",
            Some("kube-system"),
            false,
        ),
    ] {
        assert_eq!(
            can(&plane, sa, verb, group, resource, namespace).await,
            expected,
            "{verb} {resource} in {namespace:?}"
        );
    }
    // The gateway's ServiceAccount: its peer list and key by name, the addresses of namespaces, its status; never
    // a client's state, never Secrets in general.
    let gateway = "system:serviceaccount:tollgate-system:tollgate-gateway";
    let clients = Some("tollgate-clients");
    for (verb, group, resource, namespace, name, expected) in [
        (
            "get",
            "",
            "configmaps",
            clients,
            Some("tollgate-peers"),
            true,
        ),
        (
            "get",
            "",
            "secrets",
            clients,
            Some("tollgate-gateway"),
            true,
        ),
        ("list", "", "services", None, None, true),
        (
            "list",
            "discovery.k8s.io",
            "endpointslices",
            None,
            None,
            true,
        ),
        (
            "patch",
            "",
            "configmaps",
            Some("tollgate-system"),
            Some("tollgate-gateway-status"),
            true,
        ),
        ("get", "", "secrets", clients, Some("tollgate-state"), false),
        (
            "get",
            "",
            "secrets",
            clients,
            Some("tollgate-client-alice-laptop"),
            false,
        ),
        ("list", "", "secrets", clients, None, false),
        (
            "patch",
            "",
            "configmaps",
            clients,
            Some("tollgate-peers"),
            false,
        ),
        (
            "patch",
            "",
            "configmaps",
            Some("tollgate-system"),
            Some("tollgate-status"),
            false,
        ),
        ("create", "", "pods", Some("tollgate-system"), None, false),
    ] {
        assert_eq!(
            can_named(&plane, gateway, verb, group, resource, namespace, name).await,
            expected,
            "gateway: {verb} {resource} {name:?} in {namespace:?}"
        );
    }
    // What a bug or a bad repository might make the controller do, tried with its own token: each is refused
    // (RBAC, or the admission policy where RBAC cannot say it), and nothing changed.
    let as_controller = |args: &[&str]| plane.kubectl_as(&kubeconfig, args);
    let refused = |output: std::process::Output, what: &str| {
        assert!(!output.status.success(), "{what} was allowed");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // RBAC allows these verbs in general; the admission policy is what refuses them here.
        assert!(
            stderr.contains("tollgate-controller-scope")
                && stderr.contains("only in namespaces it owns"),
            "{what}: {stderr}"
        );
    };
    assert_success(&plane.kubectl(&["create", "serviceaccount", "victim", "-n", "kube-system"]));
    refused(
        as_controller(&["delete", "serviceaccount", "victim", "-n", "kube-system"]),
        "deleting a ServiceAccount in kube-system",
    );
    assert!(exists(
        &plane,
        &["serviceaccount", "victim", "-n", "kube-system"]
    ));
    // kubectl patch reads the object first (RBAC does not let the controller `get` Namespaces); a bare PATCH,
    // as tollgate sends it, is what RBAC allows and the admission policy refuses.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
        Api::all(plane.client_for_token(&token).await);
    let patched = namespaces
        .patch(
            "kube-system",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                serde_json::json!({"metadata": {"labels": {"tollgate.dev/touched": "yes"}}}),
            ),
        )
        .await;
    match patched {
        Err(kube::Error::Api(status)) => assert!(
            status.code == 403 && status.message.contains("only in namespaces it owns"),
            "{status:?}"
        ),
        other => panic!("patching namespace kube-system: {other:?}"),
    }
    let template = plane.dir.path().join("team-template.yaml");
    std::fs::write(
        &template,
        "apiVersion: v1\nkind: PodTemplate\nmetadata:\n  name: sneaky\n  namespace: payments\ntemplate:\n  spec:\n    containers: [{name: c, image: alpine}]\n",
    )
    .expect("write");
    refused(
        as_controller(&["create", "-f", template.to_str().expect("UTF-8")]),
        "writing a PodTemplate in a team namespace",
    );
    assert!(!exists(
        &plane,
        &["podtemplate", "sneaky", "-n", "payments"]
    ));
    // While the namespaces it owns are its to write.
    assert!(exists(
        &plane,
        &[
            "podtemplate",
            "tollgate-session-toolbox",
            "-n",
            "sessions-toolbox"
        ]
    ));
}

/// Waits until the replica's log has `needle` at least `count` times.
fn wait_for_log(replica: &Replica, needle: &str, count: usize, limit: Duration) {
    wait_until(
        limit,
        &format!("the log says `{needle}` {count} time(s)"),
        replica,
        || replica.log_text().matches(needle).count() >= count,
    );
}

/// A repository big enough that an apply takes a while: the synthetic organisation, cluster `bench`.
fn synthetic_repo(namespaces: usize) -> (tempfile::TempDir, Vec<String>) {
    use tollgate::synthetic::{Size, organisation};
    let dir = tempfile::tempdir().expect("temp dir");
    let size = Size {
        users: 300,
        groups: 60,
        grants: 1_500,
        clients: 60,
        namespaces,
    };
    for (path, bytes) in organisation(size) {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
    let names = (0..namespaces).map(|n| format!("ns{n:03}")).collect();
    (dir, names)
}

fn create_namespaces(plane: &ControlPlane, names: &[String]) {
    let yaml: String = names
        .iter()
        .map(|name| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"))
        .collect();
    let file = plane.dir.path().join("namespaces.yaml");
    std::fs::write(&file, yaml).expect("write");
    assert_success(&plane.kubectl(&["apply", "-f", file.to_str().expect("utf-8")]));
}

#[test]
fn an_api_server_restart_in_the_middle_of_an_apply_converges() {
    let mut plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    let (repo, namespaces) = synthetic_repo(300);
    create_namespaces(&plane, &namespaces);
    setup(&plane, &[]);
    let server = GitServer::start(repo.path());
    let head = server.head();
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "bench",
        &["--no-leader-election", "--no-publish"],
    );

    // The API server goes away while the first apply (about 2,000 objects) is under way, and comes back.
    wait_for_log(&replica, "\"applying\"", 1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(200));
    plane.stop_apiserver();
    std::thread::sleep(Duration::from_secs(2));
    plane.start_apiserver();
    wait_until(
        Duration::from_secs(120),
        "the controller converges after the restart",
        &replica,
        || applied_cleanly(&plane, &head),
    );
    let log = replica.log_text();
    assert!(
        log.contains("reconcile failed"),
        "the interrupted apply failed first:\n{log}"
    );

    // No duplicates, nothing orphaned: the cluster holds exactly what the repository says.
    let plan = plane.tollgate(
        &kubeconfig,
        &[
            "plan",
            "--repo",
            repo.path().to_str().expect("utf-8"),
            "--cluster",
            "bench",
            "--output",
            "json",
            "--detailed-exitcode",
        ],
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "no changes left:\n{}",
        stdout(&plan)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_point_the_next_run_converges_without_leaks_or_repeats() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let server = GitServer::start(&common::root().join("example-repo"));
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);

    // Killed while applying, and at several points while publishing (credentials, commit, push).
    let mut killed_during = Vec::new();
    for (needle, delay_ms) in [
        ("\"applying\"", 0),
        ("publishing client files", 0),
        ("publishing client files", 20),
        ("publishing client files", 60),
        ("publishing client files", 150),
    ] {
        let mut replica = Replica::start(
            &plane,
            &server,
            &kubeconfig,
            "staging",
            &["--no-leader-election"],
        );
        let reached = Instant::now();
        let limit = Duration::from_secs(30);
        let mut seen = false;
        while reached.elapsed() < limit {
            if replica.log_text().contains(needle) {
                seen = true;
                break;
            }
            if replica.log_text().contains("\"reconciled\"") {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        replica.signal(libc::SIGKILL);
        replica.wait(Duration::from_secs(5)).expect("killed");
        killed_during.push((
            needle,
            delay_ms,
            seen,
            replica.log_text().contains("\"reconciled\""),
        ));
    }
    eprintln!("kills (point, delay ms, reached, completed before the kill): {killed_during:?}");

    // The next run converges.
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "staging",
        &["--no-leader-election"],
    );
    wait_until(
        Duration::from_secs(60),
        "a run after the kills converges",
        &replica,
        || {
            status(&plane)
                .is_some_and(|s| s["lastError"].is_null() && s["appliedRevision"].is_string())
        },
    );

    // Every client has its file; the token each file carries is the one the state holds; each file was
    // published by exactly one commit.
    let clone = server.clone_fresh();
    let secrets = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
        plane.admin().await,
        "tollgate-clients",
    );
    for (client, identity) in [
        ("alice-laptop", "alice.agekey"),
        ("bob-laptop", "bob.agekey"),
        ("ci-deployer", "ci-robot.agekey"),
        ("frank-workstation", "frank.ssh-ed25519"),
    ] {
        let path = format!("artifacts/staging/{client}.age");
        let file = clone.path().join("clone").join(&path);
        assert!(file.is_file(), "{path} is published");
        let output = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(common::root().join("tests/identities").join(identity))
            .arg(&file)
            .output()
            .expect("age runs");
        assert_success(&output);
        let published: Value = serde_json::from_slice(&output.stdout).expect("a client file");
        let secret = secrets
            .get(&format!("tollgate-client-{client}"))
            .await
            .expect("state");
        let state: Value =
            serde_json::from_slice(&secret.data.expect("data")["state.json"].0).expect("state");
        assert_eq!(
            published["kubernetes"]["token"], state["token"],
            "{client}: the published token is the kept one"
        );
        let commits = stdout(&harness::git::git(
            &server.bare,
            &["log", "--format=%H", "main", "--", &path],
        ));
        assert_eq!(
            commits.lines().count(),
            1,
            "{path} was published once:\n{commits}"
        );
    }
}

#[test]
fn a_resync_repairs_drift_and_enforces_expiries_on_time() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let server = GitServer::start(&common::root().join("example-repo"));
    // A grant that expires a few seconds from now: nobody commits anything when it does.
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    std::fs::write(
        server.work.join("access/short.yaml"),
        format!(
            "apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata:\n  name: short\nspec:\n  subjects:\n    groups: [search]\n  expires: {}\n  grants:\n    - role: logs\n      cluster: staging\n      namespaces: [payments]\n",
            expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    )
    .expect("write");
    // An access test of staging: the CI robot never reads secrets in payments.
    std::fs::write(
        server.work.join("tests/staging.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: AccessTest\nmetadata:\n  name: staging\nspec:\n  cluster: staging\n  \
         deny:\n    - subjects: {clients: [ci-deployer]}\n      verb: get\n      resource: secrets\n      namespace: payments\n",
    )
    .expect("write");
    server.commit_and_push("search may read payments logs for a moment");
    let head = server.head();
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "staging",
        &["--no-leader-election", "--resync", "*/2 * * * * *"],
    );
    wait_until(
        Duration::from_secs(60),
        "the head is applied",
        &replica,
        || applied_cleanly(&plane, &head),
    );
    assert!(exists(
        &plane,
        &["rolebinding", "tollgate:logs", "-n", "payments"]
    ));
    let published = server.head();

    // A binding made by hand breaks the access test in the cluster: the controller asks the authorizer after each
    // apply and reports it as its error until the binding is gone.
    assert_success(&plane.kubectl(&[
        "create",
        "rolebinding",
        "by-hand",
        "-n",
        "payments",
        // Not aggregated: without kube-controller-manager, admin and edit hold no rules.
        "--clusterrole=cluster-admin",
        "--serviceaccount=tollgate-clients:ci-deployer",
    ]));
    wait_until(
        Duration::from_secs(20),
        "the access test fails in the cluster",
        &replica,
        || {
            status(&plane).is_some_and(|s| {
                s["lastError"]["step"] == "access-tests"
                    && s["lastError"]["diagnostics"].as_str().is_some_and(|d| {
                        d.contains("tests/staging.yaml: spec.deny[0]") && d.contains("by-hand")
                    })
            })
        },
    );
    assert_success(&plane.kubectl(&["delete", "rolebinding", "by-hand", "-n", "payments"]));
    wait_until(
        Duration::from_secs(20),
        "the error clears once the binding is gone",
        &replica,
        || status(&plane).is_some_and(|s| s["lastError"].is_null()),
    );

    // Drift: a person deletes a binding by hand; the next resync puts it back without any commit.
    assert_success(&plane.kubectl(&["delete", "rolebinding", "tollgate:edit", "-n", "search"]));
    wait_until(
        Duration::from_secs(20),
        "the resync repairs the drift",
        &replica,
        || exists(&plane, &["rolebinding", "tollgate:edit", "-n", "search"]),
    );

    // The expiry passes: the grant's binding goes at the next resync.
    let gone = wait_until(
        Duration::from_secs(30),
        "the expired grant is removed",
        &replica,
        || !exists(&plane, &["rolebinding", "tollgate:logs", "-n", "payments"]),
    );
    let late = jiff::Timestamp::now().duration_since(expires);
    assert!(
        late < jiff::SignedDuration::from_secs(10),
        "removed {late:?} after the expiry ({gone:?} of waiting)"
    );
    assert_eq!(
        server.head(),
        published,
        "no commit was needed, not even of client files"
    );
}

#[test]
fn a_replica_that_loses_the_lease_stops_writing_until_it_holds_it_again() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: true,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let server = GitServer::start(&common::root().join("example-repo"));
    let first = server.head();
    let (token, user) = REPLICAS[0];
    let kubeconfig = plane.kubeconfig_for(user, token);
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "staging",
        &["--lease-duration", "6s"],
    );
    wait_until(
        Duration::from_secs(60),
        "the head is applied",
        &replica,
        || applied_cleanly(&plane, &first),
    );

    // Another holder appears (as if a partition had let another replica win): this one must stand down.
    assert_success(&plane.kubectl(&[
        "patch",
        "lease",
        "tollgate-leader",
        "-n",
        SYSTEM_NAMESPACE,
        "--type=merge",
        "-p",
        &format!(
            "{{\"spec\":{{\"holderIdentity\":\"intruder\",\"renewTime\":\"{}\"}}}}",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        ),
    ]));
    wait_until(
        Duration::from_secs(10),
        "the replica stands down",
        &replica,
        || replica.metric("tollgate_leader") == 0.0,
    );
    let stood_down = Instant::now();
    let writes_before = writes_besides_the_lease(&plane, user);
    edit(
        &server,
        "access/teams.yaml",
        "namespaces: [search, search-indexer]",
        "namespaces: [search]",
    );
    server.commit_and_push("a change while another replica holds the lease");
    let next = server.head();
    // While the intruder's lease is valid, nothing is written, however many polls pass.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        writes_besides_the_lease(&plane, user),
        writes_before,
        "no write without the lease"
    );
    assert!(exists(
        &plane,
        &["rolebinding", "tollgate:edit", "-n", "search-indexer"]
    ));

    // The intruder never renews: after a lease duration this replica takes the lease back and applies.
    wait_until(
        Duration::from_secs(30),
        "the replica leads again and applies",
        &replica,
        || applied_cleanly(&plane, &next),
    );
    assert!(
        stood_down.elapsed() >= Duration::from_secs(5),
        "it waited for the other's lease to run out"
    );
    assert!(!exists(
        &plane,
        &["rolebinding", "tollgate:edit", "-n", "search-indexer"]
    ));
}

/// A commit that removes every grant is not applied by the controller: the deletion guard refuses it (it counts
/// bindings and people, so the example organisation's 7 bindings are guarded too), and the refusal stands in
/// `tollgate status`, as a Warning Event and in the metrics until a commit restores access. A Namespace the
/// repository no longer has is held back, not deleted, and the status says so on every run.
#[test]
fn the_controller_refuses_a_commit_that_empties_access_and_holds_namespace_deletions_back() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    // Without kube-controller-manager `view` grants nothing, so example-repo's access test would fail in the
    // cluster: served without it.
    let content = tempfile::tempdir().expect("temp dir");
    let from = common::root().join("example-repo");
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.expect("example-repo entry");
        let target = content
            .path()
            .join(entry.path().strip_prefix(&from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else if !entry.path().ends_with("tests/prod.yaml") {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
    let server = GitServer::start(content.path());
    let first = server.head();
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "prod",
        &["--no-leader-election", "--no-publish"],
    );
    wait_until(
        Duration::from_secs(60),
        "the first commit is applied",
        &replica,
        || applied_cleanly(&plane, &first),
    );
    let bindings_before = managed_bindings(&plane);
    assert!(!bindings_before.is_empty());

    for file in [
        "access/ci.yaml",
        "access/incident.yaml",
        "access/platform.yaml",
        "access/teams.yaml",
    ] {
        std::fs::remove_file(server.work.join(file)).expect("rm");
    }
    server.commit_and_push("Remove every grant");
    let emptied = server.head();
    wait_until(
        Duration::from_secs(30),
        "the guard's refusal is reported",
        &replica,
        || {
            status(&plane)
                .is_some_and(|s| s["lastError"]["revision"].as_str() == Some(emptied.as_str()))
        },
    );
    let reported = status(&plane).expect("status");
    assert_eq!(reported["lastError"]["step"], "guard", "{reported:#}");
    let message = reported["lastError"]["message"]
        .as_str()
        .expect("a message");
    assert!(message.contains("every one of the"), "{message}");
    assert_eq!(
        managed_bindings(&plane),
        bindings_before,
        "nothing was applied"
    );
    assert_eq!(reported["appliedRevision"].as_str(), Some(first.as_str()));
    assert_eq!(
        replica.metric("tollgate_reconciles_total{result=\"refused\"}"),
        1.0
    );
    let events = stdout(&plane.kubectl(&[
        "get",
        "events",
        "-n",
        SYSTEM_NAMESPACE,
        "-o",
        "jsonpath={.items[*].message}",
    ]));
    assert!(events.contains("guard failed"), "{events}");
    let human = plane.tollgate(
        &plane.kubeconfig,
        &["status", "--namespace", SYSTEM_NAMESPACE],
    );
    assert_eq!(human.status.code(), Some(1), "the refusal stands");

    // Restoring the grants and retiring the toolbox environment: applied, except its Namespace, held back.
    harness::git::git(&server.work, &["checkout", &first, "--", "access"]);
    std::fs::remove_file(server.work.join("environments/toolbox.yaml")).expect("rm");
    let access = std::fs::read_to_string(server.work.join("access/platform.yaml")).expect("read");
    std::fs::write(
        server.work.join("access/platform.yaml"),
        access.replace("    - environment: toolbox\n      cluster: prod\n", ""),
    )
    .expect("write");
    server.commit_and_push("Retire the toolbox");
    let retired = server.head();
    wait_until(
        Duration::from_secs(30),
        "the retirement is applied",
        &replica,
        || applied_cleanly(&plane, &retired),
    );
    let reported = status(&plane).expect("status");
    let held = reported["heldBack"]
        .as_array()
        .expect("held back deletions");
    assert_eq!(held.len(), 1, "{reported:#}");
    assert_eq!(held[0]["object"], "Namespace sessions-toolbox");
    assert!(
        exists(&plane, &["namespace", "sessions-toolbox"]),
        "not deleted"
    );
    assert!(!exists(
        &plane,
        &[
            "podtemplate",
            "tollgate-session-toolbox",
            "-n",
            "sessions-toolbox"
        ]
    ));
    let human = stdout(&plane.tollgate(
        &plane.kubeconfig,
        &["status", "--namespace", SYSTEM_NAMESPACE],
    ));
    assert!(
        human.contains("held back: 1 deletion(s)") && human.contains("--allow-namespace-deletion"),
        "{human}"
    );
}

/// Commits `everything` in the working clone on top of the branch (taking in tollgate's own commits first, so a
/// signature is not lost to a rebase), signed with the SSH key at `key` the way `git commit -S` with
/// `gpg.format=ssh` signs (the stock git running the stock ssh-keygen), or unsigned; and pushes it.
fn commit_signed(server: &GitServer, key: Option<&Path>, message: &str) {
    use harness::git::git;
    git(
        &server.work,
        &[
            "pull",
            "--quiet",
            "--rebase",
            "--autostash",
            "origin",
            "main",
        ],
    );
    git(&server.work, &["add", "-A"]);
    match key {
        Some(key) => {
            let signing_key = format!("user.signingkey={}", key.display());
            git(
                &server.work,
                &[
                    "-c",
                    "gpg.format=ssh",
                    "-c",
                    &signing_key,
                    "commit",
                    "--quiet",
                    "-S",
                    "-m",
                    message,
                ],
            );
        }
        None => {
            git(&server.work, &["commit", "--quiet", "-m", message]);
        }
    }
    git(&server.work, &["push", "--quiet", "origin", "HEAD:main"]);
}

/// Signed configuration (Settings `spec.verify`): `apply --git` and the controller apply a commit only when the
/// commit that made its configuration is signed by a signer the *last applied* revision allowed, so a commit cannot
/// add its own signer; commits that change no configuration (tollgate's client files, a README) need no signature.
/// A refused commit changes nothing in the cluster; the controller reports it as its standing error, with an Event
/// and a metric. Signatures are made by the stock git and ssh-keygen; the allowed signers tollgate records are read
/// back by `git verify-commit`.
#[test]
fn a_commit_applies_only_when_signed_by_a_signer_the_last_applied_revision_allowed() {
    use harness::git::git;
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane, &["payments", "search", "search-indexer"]);
    let server = GitServer::start(&common::root().join("example-repo"));
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let keys = tempfile::tempdir().expect("temp dir");
    // frank and grace are users of example-repo whose recipients are their SSH keys (tests/identities).
    let key = |name: &str| {
        let path = keys.path().join(name);
        std::fs::copy(
            common::root().join(format!("tests/identities/{name}.ssh-ed25519")),
            &path,
        )
        .expect("copy the key");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    };
    let (frank, grace) = (key("frank"), key("grace"));
    let cache = tempfile::tempdir().expect("temp dir");
    let apply = || {
        plane.tollgate(
            &kubeconfig,
            &[
                "apply",
                "--git",
                &server.url,
                "--git-cache",
                cache.path().to_str().expect("utf-8"),
                "--cluster",
                "staging",
                "--yes",
            ],
        )
    };
    let record = || -> Value {
        let output = plane.kubectl(&[
            "get",
            "configmap",
            "tollgate-applied",
            "-n",
            SYSTEM_NAMESPACE,
            "-o",
            "jsonpath={.data.applied\\.json}",
        ]);
        assert_success(&output);
        serde_json::from_slice(&output.stdout).expect("the record is JSON")
    };
    let deployer_deletes = || {
        stdout(&plane.kubectl(&[
            "get",
            "clusterrole",
            "tollgate:deployer",
            "-o",
            "jsonpath={.rules[0].verbs}",
        ]))
        .contains("delete")
    };

    // No `verify` yet: the unsigned first commit applies, and the cluster records it.
    assert_success(&apply());
    assert_eq!(record()["revisions"][0]["revision"], server.head());
    assert!(record()["signers"].is_null());

    // Turning `verify` on needs no signature (nothing asked for one yet); from then on frank signs.
    edit(
        &server,
        "settings.yaml",
        "  deletionGuard:",
        "  verify:\n    signers:\n      users: [frank]\n  deletionGuard:",
    );
    commit_signed(&server, None, "Require frank's signature");
    assert_success(&apply());
    assert_eq!(record()["signers"]["signers"][0]["principal"], "user frank");

    // An unsigned access change is refused, and nothing is applied.
    edit(
        &server,
        "roles/deployer.yaml",
        "\"patch\"]",
        "\"patch\", \"delete\"]",
    );
    commit_signed(&server, None, "The deployer deletes too");
    let refused = apply();
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        message.contains(&format!("commit {} is not signed", server.head()))
            && message.contains("(user frank)")
            && message.contains("nothing was applied"),
        "{message}"
    );
    assert!(!deployer_deletes());

    // grace signs it and adds herself as a signer: refused, a commit cannot add its own signer.
    edit(
        &server,
        "settings.yaml",
        "users: [frank]",
        "users: [frank, grace]",
    );
    commit_signed(&server, Some(&grace), "grace may sign too");
    let refused = apply();
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        message.contains(
            "which the last applied revision does not allow to sign (allowed: user frank)"
        ),
        "{message}"
    );
    assert!(!deployer_deletes());
    let revisions_before = record()["revisions"].as_array().expect("a list").len();

    // frank signs a commit on top: it vouches for the whole configuration, which is applied; grace may sign now.
    edit(
        &server,
        "settings.yaml",
        "users: [frank, grace]",
        "users: [grace, frank]",
    );
    commit_signed(
        &server,
        Some(&frank),
        "Reviewed: the deployer deletes, grace signs",
    );
    assert_success(&apply());
    assert!(deployer_deletes());
    let applied = record();
    assert_eq!(applied["revisions"][0]["signedBy"], "user frank");
    assert_eq!(applied["revisions"][0]["configuredBy"], server.head());
    assert_eq!(
        applied["revisions"].as_array().expect("a list").len(),
        revisions_before + 1
    );
    // The stock git verifies the commit with the allowed signers file tollgate recorded.
    let allowed = keys.path().join("allowed_signers");
    std::fs::write(&allowed, applied["allowedSigners"].as_str().expect("text")).expect("write");
    let allowed_config = format!("gpg.ssh.allowedSignersFile={}", allowed.display());
    let checked = git(
        &server.work,
        &["-c", &allowed_config, "verify-commit", "HEAD"],
    );
    assert!(
        String::from_utf8_lossy(&checked.stderr).contains("Good \"git\" signature for user:frank"),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    // An unsigned change with grace's signed (empty) commit on top: her signature vouches for the same
    // configuration. An unsigned README on top changes no configuration and needs no signature.
    let reviewed = server.head();
    edit(
        &server,
        "roles/deployer.yaml",
        "\"patch\", \"delete\"]",
        "\"patch\"]",
    );
    commit_signed(&server, None, "The deployer no longer deletes");
    let grace_key = format!("user.signingkey={}", grace.display());
    git(
        &server.work,
        &[
            "-c",
            "gpg.format=ssh",
            "-c",
            &grace_key,
            "commit",
            "--quiet",
            "--allow-empty",
            "-S",
            "-m",
            "Reviewed",
        ],
    );
    git(&server.work, &["push", "--quiet", "origin", "HEAD:main"]);
    std::fs::write(server.work.join("README.md"), "Access to our clusters.\n").expect("write");
    commit_signed(&server, None, "A README");
    assert_success(&apply());
    assert!(!deployer_deletes());
    assert_eq!(record()["revisions"][0]["signedBy"], "user grace");

    // A force push back to an older signed commit (frank's, which let the deployer delete) would undo grace's
    // review: refused, until a person decides otherwise.
    let newest = server.head();
    git(
        &server.work,
        &[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("{reviewed}:main"),
        ],
    );
    let replayed = apply();
    assert_eq!(replayed.status.code(), Some(1));
    let message = String::from_utf8_lossy(&replayed.stderr).into_owned();
    assert!(
        message.contains(&format!("does not contain {newest}"))
            && message.contains("--allow-rewritten-history"),
        "{message}"
    );
    assert!(!deployer_deletes());
    git(
        &server.work,
        &[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("{newest}:main"),
        ],
    );
    assert_success(&apply());
    assert!(!deployer_deletes());

    // An unsigned merge whose first parent is that older signed commit, with the newest as its second parent (a
    // fast-forward for the server): the branch's own line no longer holds what was applied last. Refused.
    let tree = format!("{reviewed}^{{tree}}");
    let merge = git(
        &server.work,
        &[
            "commit-tree",
            &tree,
            "-p",
            &reviewed,
            "-p",
            &newest,
            "-m",
            "Merge",
        ],
    );
    let merge = String::from_utf8_lossy(&merge.stdout).trim().to_owned();
    git(
        &server.work,
        &["push", "--quiet", "origin", &format!("{merge}:main")],
    );
    let merged = apply();
    assert_eq!(merged.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&merged.stderr).contains(&format!("does not contain {newest}")),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(!deployer_deletes());
    git(
        &server.work,
        &[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("{newest}:main"),
        ],
    );

    // The timeline tells committed from applied: each change of the robot's access with the first apply that
    // included it, and whose signature it carried.
    let timeline = plane.tollgate(
        &kubeconfig,
        &[
            "timeline",
            "client/ci-deployer",
            "--repo",
            server.work.to_str().expect("utf-8"),
            "--cluster",
            "staging",
            "--applied",
            "--json",
        ],
    );
    assert_success(&timeline);
    let entries: Value = serde_json::from_slice(&timeline.stdout).expect("JSON");
    let entries = entries.as_array().expect("entries");
    let signer_of = |side: &str| {
        entries
            .iter()
            .find(|e| {
                e[side].as_array().is_some_and(|rules| {
                    rules
                        .iter()
                        .any(|r| r.as_str().unwrap_or("").contains("patch,delete"))
                })
            })
            .map(|e| e["applied"]["signedBy"].clone())
    };
    assert_eq!(
        signer_of("gained"),
        Some(Value::from("user frank")),
        "{entries:#?}"
    );
    assert_eq!(
        signer_of("lost"),
        Some(Value::from("user grace")),
        "{entries:#?}"
    );

    // The controller: an unsigned change is its standing error (step verify), with an Event and a metric, and the
    // last good state stays applied; a signed commit on top is applied.
    let replica = Replica::start(
        &plane,
        &server,
        &kubeconfig,
        "staging",
        &["--no-leader-election"],
    );
    let head = server.head();
    wait_until(
        Duration::from_secs(60),
        "the head is applied",
        &replica,
        || applied_cleanly(&plane, &head),
    );
    edit(
        &server,
        "roles/deployer.yaml",
        "\"patch\"]",
        "\"patch\", \"delete\"]",
    );
    commit_signed(&server, None, "Unsigned, again");
    wait_until(
        Duration::from_secs(60),
        "the unsigned commit is refused",
        &replica,
        || {
            status(&plane).is_some_and(|s| {
                s["lastError"]["step"] == "verify"
                    && s["lastError"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("is not signed"))
            })
        },
    );
    assert_eq!(replica.metric("tollgate_unverified_commits_total"), 1.0);
    let events = stdout(&plane.kubectl(&[
        "get",
        "events",
        "-n",
        SYSTEM_NAMESPACE,
        "-o",
        "jsonpath={.items[*].message}",
    ]));
    assert!(events.contains("verify failed: commit"), "{events}");
    assert!(!deployer_deletes());
    assert_eq!(applied_revision(&plane).as_deref(), Some(head.as_str()));
    edit(
        &server,
        "settings.yaml",
        "users: [grace, frank]",
        "users: [frank, grace]",
    );
    commit_signed(&server, Some(&frank), "Reviewed");
    let signed = server.head();
    wait_until(
        Duration::from_secs(60),
        "the signed commit is applied",
        &replica,
        || applied_cleanly(&plane, &signed),
    );
    assert!(deployer_deletes());
    assert_eq!(
        record()["revisions"][0]["by"],
        format!("controller {}", replica.name())
    );
}
