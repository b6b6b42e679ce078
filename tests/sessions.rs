//! The SSH session gateway against real parts: a kube-apiserver, `tollgate apply` of a repository with an
//! environment, the gateway running as its own ServiceAccount with the RBAC of `deploy/session-gateway.yaml` and
//! the Roles the controller compiles, and the stock OpenSSH client with keys made by ssh-keygen. There is no kubelet
//! here, so a session pod never becomes ready: the test checks the pod the gateway creates against the template,
//! that the person is told why within `readyTimeout` and the pod is gone, every refusal, and the reaper.

mod common;
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_success, stdout};
use harness::{ControlPlane, Options, free_port};
use serde_json::Value;

/// A fresh Ed25519 key pair in `dir`: the private key's path and the public key's text (without comment).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
    let public = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    (path, public)
}

fn repository(dir: &Path, keys: &[(&str, &str)], ready_timeout: &str, remove_timeout: &str) {
    let key = |name: &str| keys.iter().find(|(n, _)| *n == name).expect("a key").1;
    let text = format!(
        r#"apiVersion: tollgate.dev/v1alpha1
kind: Settings
metadata: {{name: settings}}
spec:
  clusters:
    - name: test
      apiServer: https://127.0.0.1:6443
  subjectPrefixes: {{user: "oidc:", group: "oidc:"}}
---
apiVersion: tollgate.dev/v1alpha1
kind: User
metadata: {{name: alice}}
spec:
  recipients: ["{alice}"]
---
apiVersion: tollgate.dev/v1alpha1
kind: User
metadata: {{name: bob}}
spec:
  recipients: ["{bob}"]
---
apiVersion: tollgate.dev/v1alpha1
kind: User
metadata: {{name: carol}}
spec:
  disabled: true
  recipients: ["{carol}"]
---
apiVersion: tollgate.dev/v1alpha1
kind: User
metadata: {{name: dave}}
spec:
  recipients: ["{dave}"]
---
apiVersion: tollgate.dev/v1alpha1
kind: Environment
metadata: {{name: toolbox}}
spec:
  image: localhost/busybox:test
  imagePullPolicy: Never
  namespace: sessions-toolbox
  runAsUser: 1000
  capabilities: {{drop: [ALL]}}
  readyTimeout: {ready_timeout}
  removeTimeout: {remove_timeout}
  maxSessionDuration: 2h
  banner: "hello {{user}}"
---
apiVersion: tollgate.dev/v1alpha1
kind: UserAccess
metadata: {{name: sessions}}
spec:
  subjects: {{users: [alice, carol]}}
  accessAs: user
  grants:
    - environment: toolbox
      cluster: test
---
apiVersion: tollgate.dev/v1alpha1
kind: UserAccess
metadata: {{name: expired}}
spec:
  subjects: {{users: [dave]}}
  accessAs: user
  grants:
    - environment: toolbox
      cluster: test
      expires: "2020-01-01T00:00:00Z"
"#,
        alice = key("alice"),
        bob = key("bob"),
        carol = key("carol"),
        dave = key("dave"),
    );
    std::fs::write(dir.join("access.yaml"), text).expect("repository written");
}

/// The stock ssh client, batch mode, trusting only the gateway's published host key.
struct Ssh {
    port: u16,
    known_hosts: PathBuf,
}

impl Ssh {
    fn run(&self, key: &Path, login: &str, args: &[&str]) -> Output {
        self.run_with(key, login, &[], args)
    }

    /// `ssh` with more `options` before the destination.
    fn run_with(&self, key: &Path, login: &str, options: &[&str], args: &[&str]) -> Output {
        Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .arg("-i")
            .arg(key)
            .args(["-p", &self.port.to_string()])
            .args(options)
            .arg(format!("{login}@127.0.0.1"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs")
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(plane: &ControlPlane, args: &[&str]) -> Value {
    let output = plane.kubectl(&[args, &["-o", "json"]].concat());
    assert_success(&output);
    serde_json::from_str(&stdout(&output)).expect("kubectl prints JSON")
}

fn session_pods(plane: &ControlPlane) -> Vec<Value> {
    json(
        plane,
        &[
            "get",
            "pods",
            "-n",
            "sessions-toolbox",
            "-l",
            "tollgate.dev/session",
        ],
    )["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A repository applied to a control plane and the session gateway serving it, as its own ServiceAccount with
/// exactly `deploy/session-gateway.yaml`'s RBAC; ssh trusts only the host key the gateway keeps in its Secret.
struct World {
    work: tempfile::TempDir,
    keys: Vec<(&'static str, PathBuf)>,
    kubeconfig: PathBuf,
    port: u16,
    log: PathBuf,
    gateway: Option<Gateway>,
    ssh: Ssh,
}

impl World {
    async fn start(plane: &ControlPlane, ready_timeout: &str, remove_timeout: &str) -> World {
        let work = tempfile::tempdir().expect("temp dir");
        let made: Vec<(&'static str, (PathBuf, String))> =
            ["alice", "bob", "carol", "dave", "mallory"]
                .into_iter()
                .map(|name| (name, keygen(work.path(), name)))
                .collect();
        let repo = work.path().join("repo");
        std::fs::create_dir(&repo).expect("repo dir");
        let texts: Vec<(&str, &str)> = made
            .iter()
            .map(|(n, (_, public))| (*n, public.as_str()))
            .collect();
        repository(&repo, &texts, ready_timeout, remove_timeout);

        // The controller's part: apply the repository (namespaces, Roles, the PodTemplate, the session directory).
        assert_success(&plane.kubectl(&["create", "namespace", "tollgate-system"]));
        let applied = plane.tollgate(
            &plane.kubeconfig,
            &[
                "apply",
                "--repo",
                repo.to_str().expect("utf-8"),
                "--cluster",
                "test",
                "--yes",
            ],
        );
        assert_success(&applied);
        let directory = json(
            plane,
            &[
                "get",
                "configmap",
                "-n",
                "tollgate-clients",
                "tollgate-sessions",
            ],
        );
        let directory: Value = serde_json::from_str(
            directory["data"]["sessions.json"]
                .as_str()
                .expect("the directory"),
        )
        .expect("JSON");
        assert_eq!(directory["environments"][0]["name"], "toolbox");

        // The gateway as its own ServiceAccount, with exactly deploy/session-gateway.yaml's RBAC.
        let manifest = common::root().join("deploy/session-gateway.yaml");
        assert_success(&plane.kubectl(&["apply", "-f", manifest.to_str().expect("utf-8")]));
        let token = plane
            .service_account_token("tollgate-system", "tollgate-session-gateway")
            .await
            .token;
        let kubeconfig = plane.kubeconfig_for("session-gateway", &token);
        let port = free_port();
        let mut world = World {
            log: work.path().join("gateway.log"),
            keys: made.into_iter().map(|(n, (path, _))| (n, path)).collect(),
            ssh: Ssh {
                port,
                known_hosts: work.path().join("known_hosts"),
            },
            work,
            kubeconfig,
            port,
            gateway: None,
        };
        world.start_gateway();

        // The host key it generated once, from its Secret: the known_hosts line handed out, no trust on first use.
        let secret = json(
            plane,
            &[
                "get",
                "secret",
                "-n",
                "tollgate-system",
                "tollgate-session-gateway",
            ],
        );
        let private = base64_decode(
            secret["data"]["ssh_host_ed25519_key"]
                .as_str()
                .expect("the host key"),
        );
        let host_key = world.work.path().join("host_key");
        std::fs::write(&host_key, private).expect("host key written");
        std::fs::set_permissions(
            &host_key,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("mode");
        let public = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&host_key)
            .output()
            .expect("ssh-keygen");
        assert_success(&public);
        std::fs::write(
            &world.ssh.known_hosts,
            format!("[127.0.0.1]:{port} {}", stdout(&public)),
        )
        .expect("known_hosts");
        world
    }

    /// Starts the gateway (again, after a kill), appending to its log, and waits until it listens.
    fn start_gateway(&mut self) {
        let before = self.read_log().matches("session gateway listening").count();
        let mut command = Command::new(harness::tollgate_bin());
        command
            .args([
                "session-gateway",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
            ])
            .args([
                "--namespace",
                "tollgate-system",
                "--clients-namespace",
                "tollgate-clients",
            ])
            .args(["--refresh-interval", "1s", "--reap-interval", "2s"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("TOLLGATE_LOG", "info,audit=info");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("gateway log");
        command
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null());
        self.gateway = Some(Gateway(command.spawn().expect("the gateway starts")));
        wait_until("the gateway listens", Duration::from_secs(20), || {
            self.read_log().matches("session gateway listening").count() > before
        });
    }

    fn read_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn key(&self, name: &str) -> PathBuf {
        self.keys
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a key")
            .1
            .clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_logins_are_decided_by_the_authorizer_and_every_session_pod_is_removed() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    let world = World::start(&plane, "3s", "20s").await;
    let ssh = &world.ssh;
    let key = |name: &str| world.key(name);
    let read_log = || world.read_log();
    let work = &world.work;

    // Refused before any pod exists: an unknown key, someone else's login name, a disabled user.
    for (who, login) in [
        ("mallory", "mallory+toolbox"),
        ("alice", "bob+toolbox"),
        ("carol", "carol+toolbox"),
    ] {
        let output = ssh.run(&key(who), login, &["id"]);
        assert_eq!(
            output.status.code(),
            Some(255),
            "{who} as {login}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("Permission denied"),
            "{}",
            stderr(&output)
        );
    }
    // Authenticated but not granted (bob), or granted with an expired grant (dave): told why, exit 1.
    for (who, login) in [
        ("bob", "bob+toolbox"),
        ("dave", "dave+toolbox"),
        ("alice", "alice+nowhere"),
    ] {
        let output = ssh.run(&key(who), login, &["id"]);
        assert_eq!(output.status.code(), Some(1), "{who}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("tollgate: refused:"),
            "{}",
            stderr(&output)
        );
    }
    assert!(stderr(&ssh.run(&key("bob"), "bob+toolbox", &["id"])).contains("no grant allows it"));
    assert!(
        stderr(&ssh.run(&key("alice"), "alice+nowhere", &["id"]))
            .contains("no environment nowhere")
    );
    assert!(
        session_pods(&plane).is_empty(),
        "no pod for a refused login"
    );

    // alice may: the pod is made from the template, she is told what it waits for, and with no kubelet it is never
    // ready: within readyTimeout she hears why, exit 1, and the pod is gone. No suffix: her only environment.
    let template = json(
        &plane,
        &[
            "get",
            "podtemplate",
            "-n",
            "sessions-toolbox",
            "tollgate-session-toolbox",
        ],
    );
    let login = {
        let key = key("alice");
        let ssh = Ssh {
            port: ssh.port,
            known_hosts: ssh.known_hosts.clone(),
        };
        std::thread::spawn(move || (Instant::now(), ssh.run(&key, "alice", &["id", "-u"])))
    };
    let mut seen = None;
    wait_until("alice's session pod", Duration::from_secs(10), || {
        seen = session_pods(&plane).into_iter().next();
        seen.is_some()
    });
    let pod = seen.expect("a pod");
    let name = pod["metadata"]["name"].as_str().expect("a name").to_owned();
    assert!(name.starts_with("alice--toolbox-"), "{name}");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["tollgate.dev/session-user"], "alice");
    assert_eq!(labels["tollgate.dev/environment"], "toolbox");
    assert_eq!(
        pod["metadata"]["annotations"]["tollgate.dev/source-address"],
        "127.0.0.1"
    );
    let spec = &pod["spec"];
    let wanted = &template["template"]["spec"];
    for field in [
        "serviceAccountName",
        "automountServiceAccountToken",
        "activeDeadlineSeconds",
        "restartPolicy",
        "dnsPolicy",
    ] {
        assert_eq!(spec[field], wanted[field], "pod spec field {field}");
    }
    for field in [
        "image",
        "imagePullPolicy",
        "command",
        "securityContext",
        "stdin",
        "tty",
    ] {
        assert_eq!(
            spec["containers"][0][field], wanted["containers"][0][field],
            "container field {field}"
        );
    }
    assert_eq!(spec["activeDeadlineSeconds"], 7200);
    assert_eq!(spec["serviceAccountName"], "session");
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "Never");
    let (started, output) = login.join().expect("the login thread");
    let waited = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains(&format!("tollgate: starting {name}")),
        "{said}"
    );
    assert!(
        said.contains("not ready within the environment's readyTimeout (3s)"),
        "{said}"
    );
    assert!(waited < Duration::from_secs(3 + 20 + 5), "{waited:?}");
    wait_until("alice's pod removed", Duration::from_secs(25), || {
        session_pods(&plane).is_empty()
    });

    // Port forwarding is refused (the environment does not allow it): ssh -L's channel is refused.
    let forward = ssh.run_with(
        &key("alice"),
        "alice+toolbox",
        &["-o", "ExitOnForwardFailure=yes", "-W", "10.0.0.1:443"],
        &[],
    );
    assert_ne!(forward.status.code(), Some(0), "{}", stderr(&forward));
    wait_until(
        "the forward refusal in the audit log",
        Duration::from_secs(5),
        || read_log().contains("the environment does not allow port forwarding"),
    );

    // A pod no live session holds (the gateway crashed) is removed by the reaper within its period.
    let orphan = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "alice--toolbox-orphan01", "namespace": "sessions-toolbox",
                     "labels": {"tollgate.dev/session": "orphan01", "tollgate.dev/session-user": "alice",
                                "tollgate.dev/environment": "toolbox"}},
        "spec": {"containers": [{"name": "session", "image": "localhost/busybox:test"}],
                 "automountServiceAccountToken": false, "serviceAccountName": "session"}
    });
    let orphan_file = work.path().join("orphan.json");
    std::fs::write(&orphan_file, orphan.to_string()).expect("orphan written");
    assert_success(&plane.kubectl(&["create", "-f", orphan_file.to_str().expect("utf-8")]));
    wait_until(
        "the reaper removes the orphan",
        Duration::from_secs(15),
        || session_pods(&plane).is_empty(),
    );

    // The audit trail: one JSON line per login, refusal and logout, never a key; Events in the namespace.
    let audit = read_log();
    for wanted in [
        "\"action\":\"Login\"",
        "\"action\":\"Failed\"",
        "\"action\":\"Logout\"",
        "\"action\":\"Reaped\"",
        "no user of the repository has this key",
        "user carol is disabled",
        "this key is alice's, not bob's",
    ] {
        assert!(
            audit.contains(wanted),
            "the audit log lacks {wanted}:\n{audit}"
        );
    }
    for (_, path) in &world.keys {
        let private = std::fs::read_to_string(path).expect("a private key");
        let body: String = private.lines().nth(1).unwrap_or_default().to_owned();
        assert!(!audit.contains(&body), "a private key in the log");
    }
    let events = json(&plane, &["get", "events", "-n", "sessions-toolbox"]);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    for wanted in [
        "SessionLogin",
        "SessionFailed",
        "SessionLogout",
        "SessionRefused",
        "SessionReaped",
    ] {
        assert!(reasons.contains(&wanted), "no {wanted} event: {reasons:?}");
    }

    // `tollgate sessions` reads the pods: none now.
    let sessions = plane.tollgate(&plane.kubeconfig, &["sessions", "--json"]);
    assert_success(&sessions);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&sessions)).expect("JSON"),
        serde_json::json!([])
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// Drives `ssh -tt` through a pseudo-terminal as a person would: waits for the pod, asks `stty size`, resizes the
/// terminal (TIOCSWINSZ and SIGWINCH, as a terminal emulator does), asks again, and exits with status 5. Prints the
/// transcript, then ssh's exit code on the last line.
const PTY_DRIVER: &str = r#"
import fcntl, os, pty, select, signal, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def size(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
size(24, 80)
seen = b""
def wait_for(token, timeout=90):
    global seen
    end = time.time() + timeout
    while token not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not ready:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("no %r in time" % token)
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("ssh ended before %r" % token)
        seen += data
wait_for(b"tollgate: ready")
time.sleep(1)
os.write(fd, b"stty size\n")
wait_for(b"24 80")
size(40, 100)
time.sleep(1)
os.write(fd, b"stty size\n")
wait_for(b"40 100")
os.write(fd, b"exit 5\n")
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print()
print(os.waitstatus_to_exitcode(status))
"#;

/// With a real node (containerd and a kubelet, placed by kube-scheduler): a login runs in a pod of its own, with
/// the command's output and exit status; an interactive login's terminal follows resizes; the pod is gone within
/// removeTimeout after logout; and a pod left by a gateway killed with SIGKILL is removed by the next gateway's
/// reaper.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_runs_in_its_own_pod_on_a_real_node() {
    let mut plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    plane.start_scheduler();
    let _node = harness::node::Node::start(&plane);
    let mut world = World::start(&plane, "90s", "10s").await;
    let alice = world.key("alice");

    // A command: `execCommand` (`/bin/sh -c`) with it, inside the pod, as the environment's user; its status back.
    let output = world
        .ssh
        .run(&alice, "alice+toolbox", &["id -u; hostname; exit 3"]);
    let logout = Instant::now();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert_eq!(lines[0], "1000", "runAsUser");
    assert!(
        lines[1].starts_with("alice--toolbox-"),
        "the pod's hostname: {printed}"
    );
    let said = stderr(&output);
    assert!(
        said.contains("tollgate: ready") && said.contains("hello alice"),
        "{said}"
    );
    // The pod is gone within removeTimeout (10 s) of the logout.
    wait_until(
        "the pod removed after logout",
        Duration::from_secs(10),
        || session_pods(&plane).is_empty(),
    );
    let removed_in = logout.elapsed();

    // An interactive login: a PTY running the shell, window resizes forwarded, the shell's exit status back.
    let mut ssh = vec![
        "ssh".to_owned(),
        "-tt".to_owned(),
        "-F".to_owned(),
        "/dev/null".to_owned(),
    ];
    for option in [
        "BatchMode=yes".to_owned(),
        "IdentitiesOnly=yes".to_owned(),
        "StrictHostKeyChecking=yes".to_owned(),
        format!("UserKnownHostsFile={}", world.ssh.known_hosts.display()),
    ] {
        ssh.extend(["-o".to_owned(), option]);
    }
    ssh.extend([
        "-i".to_owned(),
        alice.display().to_string(),
        "-p".to_owned(),
        world.port.to_string(),
        "alice+toolbox@127.0.0.1".to_owned(),
    ]);
    let driven = Command::new("python3")
        .args(["-c", PTY_DRIVER])
        .args(&ssh)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let transcript = stdout(&driven);
    assert!(driven.status.success(), "{transcript}\n{}", stderr(&driven));
    assert_eq!(transcript.lines().last(), Some("5"), "{transcript}");
    assert!(
        transcript.contains("24 80") && transcript.contains("40 100"),
        "{transcript}"
    );
    wait_until(
        "the interactive pod removed",
        Duration::from_secs(10),
        || session_pods(&plane).is_empty(),
    );

    // The gateway killed with SIGKILL in mid-session: its pod stays, and the next gateway's reaper removes it.
    let mut long = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args(["-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            world.ssh.known_hosts.display()
        ))
        .arg("-i")
        .arg(&alice)
        .args([
            "-p",
            &world.port.to_string(),
            "alice+toolbox@127.0.0.1",
            "sleep 300",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh starts");
    wait_until("a running session pod", Duration::from_secs(60), || {
        session_pods(&plane)
            .iter()
            .any(|p| p["status"]["phase"] == "Running")
    });
    drop(world.gateway.take());
    let _ = long.kill();
    let _ = long.wait();
    std::thread::sleep(Duration::from_secs(1));
    let left = session_pods(&plane);
    assert_eq!(left.len(), 1, "the killed gateway's pod is still there");
    world.start_gateway();
    wait_until(
        "the reaper removes the pod",
        Duration::from_secs(15),
        || session_pods(&plane).is_empty(),
    );
    assert!(world.read_log().contains("\"action\":\"Reaped\""));
    println!("session pod removed {removed_in:?} after logout");
}
