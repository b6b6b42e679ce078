//! A real Git server for tests: `git daemon` on loopback serving one bare repository with pushes enabled, plus a
//! working clone the test commits through (as a person merging a change would). Stopped when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use super::{free_port, spawn};

pub struct GitServer {
    pub dir: tempfile::TempDir,
    /// `git://127.0.0.1:PORT/access.git`
    pub url: String,
    pub bare: PathBuf,
    /// A working clone the test edits and pushes from.
    pub work: PathBuf,
    port: u16,
    daemon: Option<Child>,
}

/// Runs the stock `git` with a fixed identity and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test Person",
            "-c",
            "user.email=person@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("the stock git runs");
    assert!(
        output.status.success(),
        "git {args:?} in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl GitServer {
    /// Serves a repository whose `main` branch holds a copy of `content` in its first commit.
    pub fn start(content: &Path) -> GitServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let bare = dir.path().join("repos/access.git");
        std::fs::create_dir_all(&bare).expect("mkdir");
        git(&bare, &["init", "--bare", "--quiet"]);
        let port = free_port();
        let url = format!("git://127.0.0.1:{port}/access.git");
        let work = dir.path().join("work");
        let mut server = GitServer {
            dir,
            url,
            bare,
            work,
            port,
            daemon: None,
        };
        server.restart();
        git(
            server.dir.path(),
            &["clone", "--quiet", &server.url, "work"],
        );
        copy_tree(content, &server.work);
        server.commit_and_push("Initial access configuration");
        server
    }

    /// Stops serving (the repository stays): Git is down.
    pub fn stop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }

    /// Serves again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let root = self.dir.path().join("repos");
        // `git daemon` would fork `git-daemon` and wait for it: killing `git` would leave the server running.
        let exec_path = text(&git(self.dir.path(), &["--exec-path"]));
        let mut command = Command::new(Path::new(&exec_path).join("git-daemon"));
        command
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--enable=receive-pack")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={}", self.port))
            .arg(format!("--base-path={}", root.display()))
            .arg(&root);
        let log = self.dir.path().join("git-daemon.log");
        let (_, daemon) = spawn("git-daemon", command, &log);
        self.daemon = Some(daemon);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "git daemon did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Commits everything in the working clone and pushes it (after taking in what tollgate pushed meanwhile).
    pub fn commit_and_push(&self, message: &str) {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        let has_main = !text(&git(&self.work, &["ls-remote", "origin", "main"])).is_empty();
        if has_main {
            git(
                &self.work,
                &["pull", "--quiet", "--rebase", "origin", "main"],
            );
        }
        git(&self.work, &["push", "--quiet", "origin", "HEAD:main"]);
    }

    /// `tollgate apply --git <this server> --git-cache CACHE --cluster CLUSTER --yes --publish`, then `extra`: the
    /// publish a controller would run, as one command.
    pub fn publish_args(&self, cache: &Path, cluster: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["apply", "--git", &self.url, "--git-cache"]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
        args.push(cache.display().to_string());
        args.extend(["--cluster", cluster, "--yes", "--publish"].map(str::to_owned));
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    /// The branch head as the server has it.
    pub fn head(&self) -> String {
        text(&git(&self.bare, &["rev-parse", "main"]))
    }

    pub fn commit_count(&self) -> usize {
        text(&git(&self.bare, &["rev-list", "--count", "main"]))
            .parse()
            .expect("a count")
    }

    /// A fresh clone with the stock `git`, as a developer would make it.
    pub fn clone_fresh(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["clone", "--quiet", &self.url, "clone"]);
        dir
    }

    /// Every blob and commit message ever stored on the server, for secret scanning.
    pub fn every_object(&self) -> Vec<Vec<u8>> {
        let listing = git(&self.bare, &["rev-list", "--all", "--objects"]);
        let mut objects = Vec::new();
        for line in text(&listing).lines() {
            let id = line.split(' ').next().expect("an object id");
            objects.push(git(&self.bare, &["cat-file", "-p", id]).stdout);
        }
        objects
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("readable entry");
        let relative = entry.path().strip_prefix(from).expect("inside");
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Git's smart HTTP protocol: `git http-backend` behind a minimal HTTP/1.1 server (TLS when given a config) that
/// demands Basic authentication with one token, as a Git host does. One request per connection.
pub struct HttpGitServer {
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    port: u16,
}

impl HttpGitServer {
    /// Serves the repositories of `git` (a [`GitServer`]), accepting `username:token` only.
    pub fn start(
        git: &GitServer,
        username: &str,
        token: &str,
        tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ) -> HttpGitServer {
        use base64::Engine as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let root = git.dir.path().join("repos");
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{token}"))
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, expected, tls) = (root.clone(), expected.clone(), tls.clone());
                std::thread::spawn(move || {
                    let _ = match tls {
                        Some(config) => rustls::ServerConnection::new(config)
                            .map_err(std::io::Error::other)
                            .and_then(|conn| {
                                serve(rustls::StreamOwned::new(conn, stream), &root, &expected)
                            }),
                        None => serve(stream, &root, &expected),
                    };
                });
            }
        });
        HttpGitServer {
            url: format!("{scheme}://127.0.0.1:{port}/access.git"),
            stop,
            port,
        }
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve<S: std::io::Read + std::io::Write>(
    stream: S,
    root: &Path,
    expected: &str,
) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = std::collections::HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    if headers.get("authorization").map(String::as_str) != Some(expected) {
        let mut out = reader.into_inner();
        out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return out.flush();
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = headers.get("content-length") {
        body.resize(length.parse().unwrap_or(0), 0);
        reader.read_exact(&mut body)?;
    }
    // The whole request is read; what the reader may still buffer is nothing.
    let mut out = reader.into_inner();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    for (header, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(value) = headers.get(header) {
            cgi.env(variable, value);
        }
    }
    let mut child = cgi.spawn()?;
    child.stdin.take().expect("stdin").write_all(&body)?;
    let output = child.wait_with_output()?;
    let split = output
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| (at, 2))
        });
    let Some((at, gap)) = split else {
        out.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let cgi_headers = String::from_utf8_lossy(&output.stdout[..at]).into_owned();
    let cgi_body = &output.stdout[at + gap..];
    let mut status = "200 OK".to_owned();
    let mut response = String::new();
    for line in cgi_headers.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value.trim().to_owned();
            }
            Some(_) => response.push_str(&format!("{line}\r\n")),
            None => {}
        }
    }
    out.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
            cgi_body.len()
        )
        .as_bytes(),
    )?;
    out.write_all(cgi_body)?;
    out.flush()
}

/// An OpenSSH server on loopback that lets one key in, with the host key published as a `known_hosts` line, so
/// Git over SSH is tested the way a Git host serves it (with strict host key checking).
pub struct SshServer {
    pub port: u16,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    daemon: Child,
}

fn ssh_keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen");
}

impl SshServer {
    pub fn start(dir: &Path) -> SshServer {
        let host_key = dir.join("ssh_host_ed25519_key");
        let client_key = dir.join("client_ed25519");
        ssh_keygen(&host_key);
        ssh_keygen(&client_key);
        std::fs::copy(
            client_key.with_extension("pub"),
            dir.join("authorized_keys"),
        )
        .expect("authorized keys");
        let port = free_port();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 PermitRootLogin prohibit-password\n",
                host_key.display(),
                dir.join("authorized_keys").display(),
                dir.join("sshd.pid").display()
            ),
        )
        .expect("sshd config");
        // As root, sshd wants its privilege separation directory.
        #[allow(unsafe_code)]
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        }
        let mut command = Command::new("/usr/sbin/sshd");
        command
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(dir.join("sshd_config"));
        let (_, daemon) = spawn("sshd", command, &dir.join("sshd.log"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let host_public =
            std::fs::read_to_string(host_key.with_extension("pub")).expect("host key");
        let known_hosts = dir.join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_public}"))
            .expect("known hosts");
        SshServer {
            port,
            client_key,
            known_hosts,
            daemon,
        }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
