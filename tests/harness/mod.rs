//! A real Kubernetes control plane for tests: etcd, kube-apiserver and (on request) kube-controller-manager,
//! built by `scripts/control-plane`, started on loopback in a temporary folder, stopped when dropped.
#![allow(dead_code)]

pub mod git;
pub mod netns;
pub mod node;
pub mod sessions;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Static bearer tokens the apiserver accepts (`--token-auth-file`): an admin in `system:masters`, and an
/// unprivileged user with no bindings.
pub const ADMIN_TOKEN: &str = "tollgate-test-admin";
pub const UNPRIVILEGED_TOKEN: &str = "tollgate-test-nobody";
/// What tests run tollgate as: a `system:masters` user of its own, so the audit log tells its requests apart.
pub const APPLIER_TOKEN: &str = "tollgate-test-applier";
pub const APPLIER_USER: &str = "applier";
/// Two more `system:masters` users, one per controller replica, so the audit log tells replicas apart.
pub const REPLICAS: [(&str, &str); 2] = [
    ("tollgate-test-replica-a", "replica-a"),
    ("tollgate-test-replica-b", "replica-b"),
];

pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub server: String,
    pub ca: PathBuf,
    pub kubeconfig: PathBuf,
    processes: Vec<(&'static str, Child)>,
    /// How kube-apiserver was started, to start it again after [`ControlPlane::stop_apiserver`].
    apiserver: Vec<std::ffi::OsString>,
}

pub struct Options {
    /// Start kube-controller-manager too (garbage collection, namespace deletion, ClusterRole aggregation).
    pub controller_manager: bool,
    /// Write the audit log tests count requests with; benchmarks leave it off, as its cost is not tollgate's.
    pub audit_log: bool,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Where the binaries are: `TOLLGATE_K8S_BIN`, else what `scripts/control-plane` built. Never skips.
pub fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOLLGATE_K8S_BIN") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let go_mod = std::fs::read_to_string(root.join("tests/control-plane/go.mod"))
        .expect("tests/control-plane/go.mod");
    let version = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("k8s.io/kubernetes "))
        .expect("go.mod pins k8s.io/kubernetes")
        .trim();
    let cache = std::env::var_os("TOLLGATE_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/tollgate"),
        PathBuf::from,
    );
    let bin = cache.join(format!("k8s-{version}/bin"));
    for name in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kubectl",
    ] {
        assert!(
            bin.join(name).is_file(),
            "{} is missing: run `scripts/control-plane` to build the control plane (or set TOLLGATE_K8S_BIN)",
            bin.join(name).display()
        );
    }
    bin
}

/// The `tollgate` binary: Cargo's for tests and benches, else `TOLLGATE_BIN`, else the one next to the running
/// program's folder (`target/debug/examples/demo` -> `target/debug/tollgate`).
pub fn tollgate_bin() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_tollgate") {
        return PathBuf::from(path);
    }
    if let Some(path) = std::env::var_os("TOLLGATE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running program's path");
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("tollgate"))
        .filter(|path| path.is_file())
        .expect("the tollgate binary next to this program: build it with `cargo build`, or set TOLLGATE_BIN")
}

pub fn spawn(name: &'static str, mut command: Command, log: &Path) -> (&'static str, Child) {
    let log = std::fs::File::create(log).expect("log file");
    command
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null());
    // If the test process dies without unwinding, the kernel stops the control plane with it.
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    (
        name,
        command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}")),
    )
}

impl ControlPlane {
    pub fn start(options: Options) -> ControlPlane {
        let bin = binaries();
        let dir = tempfile::Builder::new()
            .prefix("tollgate-cp-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let status = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(d.join("sa.key"))
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl genrsa failed");
        // Every request's metadata, so tests can count who wrote what (idempotence, least privilege).
        std::fs::write(
            d.join("audit-policy.yaml"),
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
        )
        .expect("audit policy");
        std::fs::write(
            d.join("tokens.csv"),
            format!(
                "{ADMIN_TOKEN},admin,admin-uid,system:masters\n{UNPRIVILEGED_TOKEN},nobody,nobody-uid\n\
                 {APPLIER_TOKEN},{APPLIER_USER},applier-uid,system:masters\n\
                 {},{},replica-a-uid,system:masters\n{},{},replica-b-uid,system:masters\n",
                REPLICAS[0].0, REPLICAS[0].1, REPLICAS[1].0, REPLICAS[1].1
            ),
        )
        .expect("token file");

        let etcd_port = free_port();
        let mut etcd = Command::new(bin.join("etcd"));
        etcd.arg("--data-dir")
            .arg(d.join("etcd"))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{etcd_port}"
            ))
            .arg(format!(
                "--listen-peer-urls=http://127.0.0.1:{}",
                free_port()
            ))
            .arg("--log-level=warn")
            .arg("--unsafe-no-fsync");
        let mut processes = vec![spawn("etcd", etcd, &d.join("etcd.log"))];

        let port = free_port();
        let mut apiserver = Command::new(bin.join("kube-apiserver"));
        apiserver
            .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
            .arg(format!("--secure-port={port}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg("--cert-dir")
            .arg(d.join("certs"))
            .args(["--authorization-mode=RBAC", "--allow-privileged=true"])
            .arg("--token-auth-file")
            .arg(d.join("tokens.csv"))
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg("--service-account-key-file")
            .arg(d.join("sa.key"))
            .arg("--service-account-signing-key-file")
            .arg(d.join("sa.key"))
            .arg("--service-cluster-ip-range=10.0.0.0/24");
        if options.audit_log {
            apiserver
                .arg("--audit-policy-file")
                .arg(d.join("audit-policy.yaml"))
                .arg("--audit-log-path")
                .arg(d.join("audit.log"))
                .args(["--audit-log-format=json", "--audit-log-mode=blocking"]);
        }
        let apiserver_args = apiserver.get_args().map(ToOwned::to_owned).collect();
        processes.push(spawn(
            "kube-apiserver",
            apiserver,
            &d.join("kube-apiserver.log"),
        ));

        let server = format!("https://127.0.0.1:{port}");
        let ca = d.join("certs/apiserver.crt");
        let kubeconfig = d.join("kubeconfig");
        let mut plane = ControlPlane {
            dir,
            bin,
            server,
            ca,
            kubeconfig,
            processes,
            apiserver: apiserver_args,
        };
        plane.write_kubeconfig(&plane.kubeconfig.clone(), ADMIN_TOKEN);
        plane.wait_ready();
        if options.controller_manager {
            plane.start_controller_manager();
        }
        plane
    }

    /// Starts kube-scheduler, so that pods without a `nodeName` are placed on a node (see [`node::Node`]).
    pub fn start_scheduler(&mut self) {
        let mut scheduler = Command::new(self.bin.join("kube-scheduler"));
        scheduler.arg("--kubeconfig").arg(&self.kubeconfig).args([
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--leader-elect=false",
        ]);
        let log = self.dir.path().join("kube-scheduler.log");
        self.processes
            .push(spawn("kube-scheduler", scheduler, &log));
    }

    fn start_controller_manager(&mut self) {
        let d = self.dir.path();
        let mut manager = Command::new(self.bin.join("kube-controller-manager"));
        manager
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args([
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
            ])
            .arg("--controllers=namespace,garbagecollector,clusterrole-aggregation,serviceaccount")
            .arg("--service-account-private-key-file")
            .arg(d.join("sa.key"))
            .arg("--root-ca-file")
            .arg(&self.ca);
        self.processes.push(spawn(
            "kube-controller-manager",
            manager,
            &d.join("kube-controller-manager.log"),
        ));
    }

    /// A kubeconfig for any bearer token, usable by stock kubectl and by kube-rs.
    pub fn write_kubeconfig(&self, path: &Path, token: &str) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: user\ncurrent-context: test\n",
            self.server,
            self.ca.display()
        );
        std::fs::write(path, text).expect("kubeconfig");
    }

    /// Stops kube-apiserver (etcd keeps the data): the API is down until [`ControlPlane::start_apiserver`].
    pub fn stop_apiserver(&mut self) {
        if let Some(index) = self
            .processes
            .iter()
            .position(|(name, _)| *name == "kube-apiserver")
        {
            let (_, mut child) = self.processes.remove(index);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts kube-apiserver again, same port, same certificates, and waits until it is ready.
    pub fn start_apiserver(&mut self) {
        let mut command = Command::new(self.bin.join("kube-apiserver"));
        command.args(&self.apiserver);
        let log = self.dir.path().join("kube-apiserver-restarted.log");
        self.processes.push(spawn("kube-apiserver", command, &log));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let exited = self.processes.iter_mut().find_map(|(name, child)| {
                child
                    .try_wait()
                    .ok()
                    .flatten()
                    .map(|status| (*name, status))
            });
            if let Some((name, status)) = exited {
                panic!("{name} exited with {status}:\n{}", self.log_tail(name));
            }
            if self.ca.is_file() && self.kubectl(&["get", "--raw=/readyz"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "kube-apiserver was not ready within 60 s:\n{}",
            self.log_tail("kube-apiserver")
        );
    }

    /// Audit events (stage ResponseComplete) of every request by `user`.
    pub fn requests_by(&self, user: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.log"))
            .expect("the audit log exists (start the control plane with Options::audit_log)");
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| {
                event["stage"] == "ResponseComplete" && event["user"]["username"] == user
            })
            .collect()
    }

    /// Audit events (stage ResponseComplete) of requests by `user` that changed something: create, update,
    /// patch (including server-side apply), delete. Blocking audit mode: written before the response is sent.
    /// A SubjectAccessReview is a `create` that stores nothing (an access test's question): not a write.
    pub fn writes_by(&self, user: &str) -> Vec<serde_json::Value> {
        self.requests_by(user)
            .into_iter()
            .filter(|event| {
                matches!(
                    event["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                ) && event["objectRef"]["resource"] != "subjectaccessreviews"
            })
            .collect()
    }

    /// Writes a kubeconfig for `token` into the control plane's folder and returns its path.
    pub fn kubeconfig_for(&self, name: &str, token: &str) -> PathBuf {
        let path = self.dir.path().join(format!("kubeconfig-{name}"));
        self.write_kubeconfig(&path, token);
        path
    }

    /// Runs the `tollgate` binary under test with `--kubeconfig` appended.
    pub fn tollgate(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        Command::new(tollgate_bin())
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .stdin(Stdio::null())
            .output()
            .expect("tollgate runs")
    }

    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<_> = text.lines().rev().take(30).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Stock kubectl with the admin kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_as(&self.kubeconfig, args)
    }

    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        Command::new(self.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    pub async fn client_for_token(&self, token: &str) -> kube::Client {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.dir.path().join(format!("kubeconfig-{n}"));
        self.write_kubeconfig(&path, token);
        let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("kubeconfig loads");
        kube::Client::try_from(config).expect("client")
    }

    /// A token for a ServiceAccount from the TokenRequest API, valid for an hour, as the admin asks for it.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> k8s_openapi::api::authentication::v1::TokenRequestStatus {
        use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![],
                expiration_seconds: Some(3600),
                bound_object_ref: None,
            },
            ..Default::default()
        };
        kube::Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(
            self.admin().await,
            namespace,
        )
        .create_token_request(name, &kube::api::PostParams::default(), &request)
        .await
        .expect("token request")
        .status
        .expect("a token")
    }

    pub async fn admin(&self) -> kube::Client {
        self.client_for_token(ADMIN_TOKEN).await
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for (_, child) in self.processes.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// POSTs a webhook to the receiver as a forge would: (status code, body).
pub fn post_webhook(port: u16, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the webhook receiver listens");
    let mut request = format!(
        "POST /webhook HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    std::io::Write::write_all(&mut stream, request.as_bytes()).expect("send");
    // A receiver that refuses a body by its length answers before reading it and may close early: what it
    // answered is what counts.
    let _ = std::io::Write::write_all(&mut stream, body);
    let mut response = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

/// GitHub's signature header value for `body`.
pub fn github_signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
