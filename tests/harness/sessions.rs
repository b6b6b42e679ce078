//! The session gateway's test world, shared by `tests/sessions.rs` and `benches/sessions.rs`: keys made by
//! ssh-keygen, a repository with users alice (granted `toolbox`), bob (granted `forwarding`, which allows port
//! forwarding, and `missing`, whose image no node has), carol (disabled), dave (expired grant), an unknown mallory, `tollgate apply` of it, and
//! `tollgate session-gateway` as its own ServiceAccount with exactly `deploy/session-gateway.yaml`'s RBAC; the stock
//! `ssh` trusts only the `known_hosts` line `tollgate apply --publish` put in the repository (checked against the
//! key in the gateway's Secret).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::git::GitServer;
use super::{ControlPlane, free_port, tollgate_bin};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

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
  sftpCommand: [/usr/lib/openssh/sftp-server]
---
apiVersion: tollgate.dev/v1alpha1
kind: Environment
metadata: {{name: forwarding}}
spec:
  image: localhost/busybox:test
  imagePullPolicy: Never
  namespace: sessions-forwarding
  readyTimeout: {ready_timeout}
  removeTimeout: {remove_timeout}
  portForwarding: true
---
apiVersion: tollgate.dev/v1alpha1
kind: Environment
metadata: {{name: missing}}
spec:
  image: localhost/not-on-the-node:test
  imagePullPolicy: Never
  namespace: sessions-missing
  readyTimeout: {ready_timeout}
  removeTimeout: {remove_timeout}
---
apiVersion: tollgate.dev/v1alpha1
kind: UserAccess
metadata: {{name: forwarding}}
spec:
  subjects: {{users: [bob]}}
  accessAs: user
  grants:
    - environment: forwarding
      cluster: test
    - environment: missing
      cluster: test
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
#[derive(Clone)]
pub struct Ssh {
    pub port: u16,
    pub known_hosts: PathBuf,
}

impl Ssh {
    pub fn run(&self, key: &Path, login: &str, args: &[&str]) -> Output {
        self.run_with(key, login, &[], args)
    }

    /// `ssh` with more `options` before the destination.
    pub fn run_with(&self, key: &Path, login: &str, options: &[&str], args: &[&str]) -> Output {
        self.command(key, login, options, args)
            .output()
            .expect("ssh runs")
    }

    /// The `ssh` command line of [`Ssh::run_with`], to spawn.
    pub fn command(&self, key: &Path, login: &str, options: &[&str], args: &[&str]) -> Command {
        let mut command = Command::new("ssh");
        command
            .args(self.options(key))
            .args(["-p", &self.port.to_string()])
            .args(options)
            .arg(format!("{login}@127.0.0.1"))
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// A master connection (`ssh -N -o ControlMaster=yes -S control`) that later commands share through
    /// [`Ssh::through`]; returned once its control socket exists.
    pub fn master(&self, key: &Path, login: &str, control: &Path) -> Child {
        let control_text = control.to_str().expect("utf-8");
        let child = self
            .command(
                key,
                login,
                &["-o", "ControlMaster=yes", "-S", control_text, "-N"],
                &[],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh starts");
        wait_until("the master connection", Duration::from_secs(10), || {
            control.exists()
        });
        child
    }

    /// Runs `args` as a new session on the connection of [`Ssh::master`].
    pub fn through(&self, key: &Path, login: &str, control: &Path, args: &[&str]) -> Output {
        let control_text = control.to_str().expect("utf-8");
        self.run_with(
            key,
            login,
            &["-o", "ControlMaster=no", "-S", control_text],
            args,
        )
    }

    /// The options every OpenSSH program (`ssh`, `sftp`, `scp`) takes here: no configuration, batch mode, only
    /// `key`, and only the published host key trusted. The port is each program's own flag.
    pub fn options(&self, key: &Path) -> Vec<String> {
        let mut options: Vec<String> = [
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
        ]
        .map(str::to_owned)
        .to_vec();
        options.push("-o".to_owned());
        options.push(format!("UserKnownHostsFile={}", self.known_hosts.display()));
        options.push("-i".to_owned());
        options.push(key.display().to_string());
        options
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(plane: &ControlPlane, args: &[&str]) -> Value {
    let output = plane.kubectl(&[args, &["-o", "json"]].concat());
    assert_success(&output);
    serde_json::from_str(&stdout(&output)).expect("kubectl prints JSON")
}

pub fn session_pods(plane: &ControlPlane) -> Vec<Value> {
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

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `tollgate apply` of the repository at `repo` to the test cluster, as the controller does.
pub fn apply(plane: &ControlPlane, repo: &Path) -> Output {
    plane.tollgate(
        &plane.kubeconfig,
        &[
            "apply",
            "--repo",
            repo.to_str().expect("utf-8"),
            "--cluster",
            "test",
            "--yes",
        ],
    )
}

pub struct Gateway(Child);

impl Gateway {
    /// Sends SIGTERM, as a rollout does.
    pub fn terminate(&self) {
        assert_success(
            &Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .output()
                .expect("kill runs"),
        );
    }

    /// The gateway process's id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Whether the process exits within `timeout`.
    pub fn exits_within(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A repository applied to a control plane and the session gateway serving it, as its own ServiceAccount with
/// exactly `deploy/session-gateway.yaml`'s RBAC; ssh trusts only the host key the gateway keeps in its Secret.
pub struct World {
    pub work: tempfile::TempDir,
    pub keys: Vec<(&'static str, PathBuf)>,
    pub kubeconfig: PathBuf,
    pub port: u16,
    pub log: PathBuf,
    pub gateway: Option<Gateway>,
    pub ssh: Ssh,
    /// The repository on a Git server, where `tollgate apply --publish` put the gateway's `known_hosts`.
    pub git: GitServer,
}

impl World {
    pub async fn start(plane: &ControlPlane, ready_timeout: &str, remove_timeout: &str) -> World {
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
        let applied = apply(plane, &repo);
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
        let names: Vec<&str> = directory["environments"]
            .as_array()
            .expect("environments")
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(names, ["forwarding", "missing", "toolbox"]);

        // The gateway as its own ServiceAccount, with exactly deploy/session-gateway.yaml's RBAC.
        let manifest = root().join("deploy/session-gateway.yaml");
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
            git: GitServer::start(&repo),
            work,
            kubeconfig,
            port,
            gateway: None,
        };
        world.start_gateway();

        // The host key it generated once, from its Secret.
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
        let public = stdout(&public)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");

        // Its known_hosts line, published in the repository by the publish step (as the controller runs it) from
        // the gateway's status: ssh trusts exactly that file, so nobody trusts on first use.
        wait_until(
            "the gateway's status with its known_hosts line",
            Duration::from_secs(20),
            || {
                let status = plane.kubectl(&[
                    "get",
                    "configmap",
                    "-n",
                    "tollgate-clients",
                    "tollgate-session-gateway-status",
                    "-o",
                    "jsonpath={.data.status\\.json}",
                ]);
                stdout(&status).contains("advertise")
            },
        );
        let cache = world.work.path().join("git-cache");
        let args = world
            .git
            .publish_args(&cache, "test", &["--output", "json"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let published = plane.tollgate(&plane.kubeconfig, &args);
        assert_success(&published);
        let commits = world.git.commit_count();
        let clone = world.git.clone_fresh();
        let file = clone.path().join("clone/artifacts/test/known_hosts");
        let text = std::fs::read_to_string(&file).expect("the published known_hosts");
        let line = text
            .lines()
            .find(|l| !l.starts_with('#'))
            .expect("a known_hosts line");
        assert_eq!(line, format!("[127.0.0.1]:{port} {public}"), "{text}");
        std::fs::copy(&file, &world.ssh.known_hosts).expect("known_hosts copied");
        // Published once: the next publish finds it current and commits nothing.
        assert_success(&plane.tollgate(&plane.kubeconfig, &args));
        assert_eq!(world.git.commit_count(), commits, "a second commit");
        world
    }

    /// Starts the gateway (again, after a kill), appending to its log, and waits until it listens.
    pub fn start_gateway(&mut self) {
        self.start_gateway_with(&[]);
    }

    /// [`World::start_gateway`] with more arguments.
    pub fn start_gateway_with(&mut self, extra: &[&str]) {
        let before = self.read_log().matches("session gateway listening").count();
        let mut command = Command::new(tollgate_bin());
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
            .args(["--advertise", &format!("127.0.0.1:{}", self.port)])
            .args(["--refresh-interval", "1s", "--reap-interval", "2s"])
            .args(extra)
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

    pub fn read_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn key(&self, name: &str) -> PathBuf {
        self.keys
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a key")
            .1
            .clone()
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}
