//! The README's first command (`scripts/demo`): the whole loop a user buys tollgate for, on this machine, step by
//! step. A real kube-apiserver and `git daemon` on loopback, a copy of `example-repo` as the access repository,
//! `tollgate controller` following it; then the plan, the apply, the client files published as a commit, one
//! decrypted with an example key, `kubectl` as that client, a grant added by a commit, and a removed client's
//! token refused. Everything it starts stops when it ends, also on Ctrl-C.
//!
//! `--non-interactive` runs through without pausing (CI runs it so: `tests/demo.rs`).

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use harness::git::{GitServer, git};
use harness::{ControlPlane, Options};

/// The cluster of example-repo the demo plays: its client files, grants and namespaces.
const CLUSTER: &str = "prod";
const CLIENT: &str = "bob-laptop";
const CONTROLLER_NAMESPACE: &str = "tollgate-system";

const USAGE: &str = "usage: scripts/demo [--non-interactive]

Runs tollgate's whole loop on this machine: a real kube-apiserver and Git server on loopback, a copy of
example-repo, `tollgate controller` following it. Pauses between steps on a terminal; --non-interactive runs
through. Everything it starts stops when it ends, also on Ctrl-C.";

fn main() {
    let mut interactive = std::io::stdin().is_terminal();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--non-interactive" => interactive = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("scripts/demo: unknown argument `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    // Every temporary folder of the demo (the control plane's, the Git server's, the caches) goes under one root,
    // so that an interrupted run removes them all, however early it is interrupted.
    let root = tempfile::Builder::new()
        .prefix("tollgate-demo-")
        .tempdir()
        .expect("a temporary folder");
    #[allow(unsafe_code)]
    // SAFETY: no other thread exists yet, so none reads the environment while it changes.
    unsafe {
        std::env::set_var("TMPDIR", root.path());
    }
    cleanup_on_interrupt(root.path().to_owned());
    let mut demo = Demo::start(interactive);
    demo.run();
    drop(demo);
    drop(root);
    println!("\nEverything the demo started has stopped; its temporary files are removed.");
}

/// On Ctrl-C the terminal sends SIGINT to the whole foreground process group, so the demo's children (etcd,
/// kube-apiserver, git daemon, the controller) stop by themselves; on SIGTERM they stop with the demo (the harness
/// starts them with a parent-death signal). The demo waits a moment for them, removes its temporary root and
/// exits 130 (143 for SIGTERM), as shells expect of an interrupted program.
fn cleanup_on_interrupt(root: PathBuf) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the signal");
        let code = runtime.block_on(async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => 130,
                _ = terminate.recv() => 143,
            }
        });
        eprintln!("\ninterrupted: stopping the control plane, the Git server and the controller");
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(250));
            if std::fs::remove_dir_all(&root).is_ok() || !root.exists() {
                break;
            }
        }
        std::process::exit(code);
    });
}

struct Demo {
    interactive: bool,
    plane: ControlPlane,
    server: GitServer,
    controller: Option<Child>,
    /// A developer's clone of the access repository.
    clone: PathBuf,
    step: usize,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut child) = self.controller.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Demo {
    fn start(interactive: bool) -> Demo {
        heading("tollgate demo: Kubernetes access as code, end to end on this machine");
        say(
            "Starting a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) on loopback ...",
        );
        let started = Instant::now();
        // kube-controller-manager fills the aggregated ClusterRoles (`edit`, `view`) that grants bind.
        let plane = ControlPlane::start(Options {
            controller_manager: true,
            audit_log: false,
        });
        say(&format!(
            "kube-apiserver is ready at {} ({:.1} s); its files are in {}.",
            plane.server,
            started.elapsed().as_secs_f64(),
            plane.dir.path().display()
        ));
        // Namespaces named in grants belong to the teams: tollgate binds in them but does not create them.
        for namespace in ["payments", "search", CONTROLLER_NAMESPACE] {
            ok(&plane.kubectl(&["create", "namespace", namespace]));
        }
        say(
            "Created the team namespaces `payments` and `search` (tollgate binds in them, it never owns them) and",
        );
        say("`tollgate-system`, where the controller keeps its status.");

        // The access repository: example-repo, with the prod cluster's API server pointed at this control plane,
        // so that the client files tollgate publishes connect here.
        let content = tempfile::tempdir().expect("a temporary folder");
        harness::git::copy_tree(&root().join("example-repo"), content.path());
        let settings = content.path().join("settings.yaml");
        let text = std::fs::read_to_string(&settings).expect("example-repo/settings.yaml");
        let text = text.replace("https://prod.k8s.example.com:6443", &plane.server);
        std::fs::write(&settings, text).expect("settings.yaml");
        let server = GitServer::start(content.path());
        say(&format!(
            "Serving a copy of example-repo at {} (git daemon); prod's apiServer now points here.",
            server.url
        ));
        let clone = plane.dir.path().join("access");
        git(
            plane.dir.path(),
            &["clone", "--quiet", &server.url, "access"],
        );
        say("$ git clone <url> access && cd access");
        Demo {
            interactive,
            plane,
            server,
            controller: None,
            clone,
            step: 0,
        }
    }

    fn run(&mut self) {
        self.plan();
        self.controller();
        self.published();
        self.connect();
        self.grant_by_commit();
        self.remove_client();
        heading("Done");
        say(
            "A merged change granted access and the controller applied it within seconds; the client file was the",
        );
        say("only credential anyone handled, and deleting the client in Git cut its token off.");
    }

    fn next(&mut self, title: &str, why: &[&str]) {
        self.step += 1;
        if self.interactive && self.step > 1 {
            print!("\n[press Enter for the next step] ");
            let _ = std::io::stdout().flush();
            let _ = std::io::stdin().lock().read_line(&mut String::new());
        }
        heading(&format!("Step {}: {title}", self.step));
        for line in why {
            say(line);
        }
    }

    fn plan(&mut self) {
        self.next(
            "the plan",
            &[
                "A merge request's CI runs `tollgate plan` against the cluster: per object and per person, what the",
                "repository would change. Here the cluster is empty, so everything is new.",
            ],
        );
        let d = &*self;
        let output = d.plane.tollgate(
            &d.plane.kubeconfig,
            &[
                "plan",
                "--repo",
                path(&d.clone),
                "--cluster",
                CLUSTER,
                "--color",
                "never",
            ],
        );
        ok(&output);
        let text = stdout(&output);
        show(
            &format!("$ tollgate plan --repo access --cluster {CLUSTER}"),
            &text,
        );
    }

    fn controller(&mut self) {
        self.next(
            "the controller applies it",
            &[
                "In the cluster, `tollgate controller` polls the branch, validates, plans, applies (server-side apply,",
                "prune last), issues each client's token and publishes its client file to Git, encrypted with age.",
            ],
        );
        let dir = self.plane.dir.path();
        let log = dir.join("controller.log");
        let mut command = Command::new(harness::tollgate_bin());
        command
            .args([
                "controller",
                "--cluster",
                CLUSTER,
                "--git",
                &self.server.url,
            ])
            .arg("--git-cache")
            .arg(dir.join("controller-cache"))
            .args(["--interval", "250ms", "--no-leader-election"])
            .args(["--namespace", CONTROLLER_NAMESPACE])
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", harness::free_port()))
            .arg("--kubeconfig")
            .arg(&self.plane.kubeconfig)
            .env("TOLLGATE_LOG", "info");
        self.controller = Some(harness::spawn("tollgate-controller", command, &log).1);
        say("$ tollgate controller --git <url> --cluster prod --interval 250ms");
        let first = self.server.head();
        let plane = &self.plane;
        let took = self.wait(
            "the controller applies the first commit",
            Duration::from_secs(90),
            || {
                status(plane).is_some_and(|s| {
                    s["appliedRevision"].as_str() == Some(first.as_str())
                        && s["publishedCommit"].is_string()
                })
            },
        );
        say(&format!(
            "Applied and published in {:.1} s.",
            took.as_secs_f64()
        ));
        let output = self.plane.tollgate(
            &self.plane.kubeconfig,
            &["status", "--namespace", CONTROLLER_NAMESPACE],
        );
        show("$ tollgate status", &stdout(&output));
    }

    fn published(&mut self) {
        self.next(
            "client files, published as a commit",
            &[
                "Every client's credentials are in the repository, each readable only by its recipients (the owners'",
                "age or SSH keys). The commit touches nothing but artifacts/, and the controller does not react to it.",
            ],
        );
        let d = &*self;
        git(&d.clone, &["pull", "--quiet", "--rebase"]);
        let log = git(&d.clone, &["log", "-1", "--stat"]);
        show("$ git pull && git log -1 --stat", &stdout(&log));
        let head =
            std::fs::read_to_string(d.clone.join(format!("artifacts/{CLUSTER}/{CLIENT}.age")))
                .expect("the client file was published");
        let first_lines: Vec<&str> = head.lines().take(3).collect();
        show(
            &format!("$ head -3 artifacts/{CLUSTER}/{CLIENT}.age"),
            &format!("{}\n...\n", first_lines.join("\n")),
        );
    }

    fn connect(&mut self) {
        self.next(
            "bob connects",
            &[
                "bob adds his client file to his kubeconfig. Its user entry runs `tollgate client get-token`, which",
                "decrypts the file with his key (here the example key from tests/identities) each time kubectl needs",
                "a token: no token is on disk. What he may do is what the repository grants his client.",
            ],
        );
        let d = &*self;
        let kubeconfig = d.plane.dir.path().join("bob.kubeconfig");
        let output = Command::new(harness::tollgate_bin())
            .args(["client", "update-kubeconfig"])
            .arg(d.clone.join(format!("artifacts/{CLUSTER}/{CLIENT}.age")))
            .arg("-i")
            .arg(root().join("tests/identities/bob.agekey"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--use-context")
            .output()
            .expect("tollgate runs");
        ok(&output);
        say(&format!(
            "$ tollgate client update-kubeconfig artifacts/{CLUSTER}/{CLIENT}.age -i tests/identities/bob.agekey \
             --kubeconfig bob.kubeconfig --use-context\n    {}",
            String::from_utf8_lossy(&output.stderr)
                .trim()
                .replace('\n', "\n    ")
        ));
        let whoami = d.plane.kubectl_as(
            &kubeconfig,
            &[
                "auth",
                "whoami",
                "-o",
                "jsonpath={.status.userInfo.username}",
            ],
        );
        ok(&whoami);
        say(&format!(
            "$ kubectl --kubeconfig bob.kubeconfig auth whoami\n    {}",
            stdout(&whoami).trim()
        ));
        for (verb, resource, namespace) in [
            ("get", "pods", "payments"),
            ("get", "pods/log", "payments"),
            ("delete", "deployments", "payments"),
            ("get", "secrets", "kube-system"),
            ("create", "deployments", "search"),
        ] {
            say(&format!(
                "$ kubectl --kubeconfig bob.kubeconfig auth can-i {verb} {resource} -n {namespace}: {}",
                can_i(&d.plane, &kubeconfig, verb, resource, namespace)
            ));
        }
    }

    fn grant_by_commit(&mut self) {
        self.next(
            "access changes by commit",
            &[
                "A merged change grants bob `edit` in `search` in prod. The controller sees the branch move, applies",
                "the new binding, and bob's next request is allowed. No one touched the cluster.",
            ],
        );
        let d = &*self;
        let grant = "apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata:\n  name: bob-search\nspec:\n  subjects:\n    users: [bob]\n  grants:\n    - role: edit\n      cluster: prod\n      namespaces: [search]\n";
        std::fs::write(d.clone.join("access/bob-search.yaml"), grant).expect("write the grant");
        show("$ cat access/bob-search.yaml", grant);
        commit_and_push(&d.clone, "bob may edit search in prod");
        say(
            "$ git add access/bob-search.yaml && git commit -m 'bob may edit search in prod' && git push",
        );
        let kubeconfig = d.plane.dir.path().join("bob.kubeconfig");
        let took = self.wait("the grant is applied", Duration::from_secs(30), || {
            can_i(&d.plane, &kubeconfig, "create", "deployments", "search") == "yes"
        });
        say(&format!(
            "$ kubectl --kubeconfig bob.kubeconfig auth can-i create deployments -n search: yes (applied {:.1} s after \
             the push)",
            took.as_secs_f64()
        ));
    }

    fn remove_client(&mut self) {
        self.next(
            "a removed client is cut off",
            &[
                "bob's laptop is lost: the client is deleted in Git. The controller deletes its ServiceAccount, so",
                "every token it ever had stops working, and removes its client file from the repository.",
            ],
        );
        let d = &*self;
        std::fs::remove_file(d.clone.join(format!("clients/{CLIENT}.yaml")))
            .expect("remove the client");
        commit_and_push(&d.clone, "bob's laptop was lost");
        say(&format!(
            "$ git rm clients/{CLIENT}.yaml && git commit -m \"bob's laptop was lost\" && git push"
        ));
        let kubeconfig = d.plane.dir.path().join("bob.kubeconfig");
        let mut refusal = String::new();
        // The API server caches a token's authentication for up to 10 s.
        let took = self.wait(
            "the removed client's token is refused",
            Duration::from_secs(60),
            || {
                let output = d.plane.kubectl_as(&kubeconfig, &["auth", "whoami"]);
                refusal = String::from_utf8_lossy(&output.stderr).trim().to_owned();
                !output.status.success() && refusal.contains("Unauthorized")
            },
        );
        say(&format!(
            "$ kubectl --kubeconfig bob.kubeconfig auth whoami\n    {refusal}\n(the token was refused {:.1} s after the \
             push)",
            took.as_secs_f64()
        ));
        let gone = self.wait(
            "the client file is removed from Git",
            Duration::from_secs(30),
            || {
                let now = d.server.head();
                let listing = git(&d.server.bare, &["ls-tree", "-r", "--name-only", &now]);
                !stdout(&listing).contains(&format!("artifacts/{CLUSTER}/{CLIENT}.age"))
            },
        );
        say(&format!(
            "artifacts/{CLUSTER}/{CLIENT}.age is gone from the branch ({:.1} s).",
            gone.as_secs_f64()
        ));
    }

    /// Polls `condition` every 100 ms; exits the demo with the controller's log when it does not hold in time.
    fn wait(&self, what: &str, limit: Duration, mut condition: impl FnMut() -> bool) -> Duration {
        let started = Instant::now();
        loop {
            if condition() {
                return started.elapsed();
            }
            if started.elapsed() > limit {
                let log = std::fs::read_to_string(self.plane.dir.path().join("controller.log"))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "the demo timed out waiting until {what}; the controller's log ends with:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn say(text: &str) {
    println!("{text}");
}

/// A command and its output, indented.
fn show(command: &str, output: &str) {
    println!("{command}");
    for line in output.trim_end().lines() {
        println!("    {line}");
    }
}

fn status(plane: &ControlPlane) -> Option<serde_json::Value> {
    let output = plane.tollgate(
        &plane.kubeconfig,
        &["status", "--namespace", CONTROLLER_NAMESPACE, "--json"],
    );
    serde_json::from_slice(&output.stdout).ok()
}

/// `kubectl auth can-i` as the kubeconfig's user: "yes" or "no".
fn can_i(
    plane: &ControlPlane,
    kubeconfig: &Path,
    verb: &str,
    resource: &str,
    namespace: &str,
) -> String {
    let output = plane.kubectl_as(
        kubeconfig,
        &["auth", "can-i", verb, resource, "-n", namespace],
    );
    stdout(&output).trim().to_owned()
}

fn commit_and_push(clone: &Path, message: &str) {
    git(clone, &["add", "-A"]);
    git(clone, &["commit", "--quiet", "-m", message]);
    git(clone, &["pull", "--quiet", "--rebase"]);
    git(clone, &["push", "--quiet", "origin", "HEAD:main"]);
}
