//! The Git edge over the transports Git hosts offer, against real servers on loopback: SSH with a key (OpenSSH's
//! sshd, strict host key checking) and HTTPS with a token (`git http-backend` behind a TLS server with a CA of the
//! test's own, trusted through `SSL_CERT_FILE`). gix fetches, `git` pushes. Over plain HTTP the token is never
//! sent; the token stays out of errors and of the cache's configuration.

mod common;
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use harness::git::{GitServer, HttpGitServer, SshServer};
use tollgate::git::{ArtifactEdit, Author, Backoff, GitAuth, GitRemote, Published};

const TOKEN: &str = "tg-test-token-8d1f0c2a9b7e";

/// Runs `openssl` with whitespace-separated arguments.
fn openssl(dir: &Path, args: &str) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it; returns the TLS config and the CA's PEM path.
fn tls(dir: &Path) -> (Arc<rustls::ServerConfig>, PathBuf) {
    const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    openssl(
        dir,
        &format!("req -x509 {EC} -keyout ca.key -out ca.crt -days 1 -subj /CN=tollgate-test-CA"),
    );
    openssl(
        dir,
        &format!("req {EC} -keyout server.key -out server.csr -subj /CN=127.0.0.1"),
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write");
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile san.ext",
    );
    use rustls::pki_types::pem::PemObject as _;
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("server.crt"))
        .expect("certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    (Arc::new(config), dir.join("ca.crt"))
}

/// gix fetches the branch and reads its tree; one commit is pushed with `git` and becomes the server's head.
fn fetch_and_push(remote: &GitRemote, server: &GitServer, transport: &str) {
    let base = remote
        .fetch()
        .unwrap_or_else(|e| panic!("gix fetches over {transport}: {e}"));
    assert!(base.files.contains_key("settings.yaml"));
    let edits = [ArtifactEdit {
        path: format!("artifacts/prod/{transport}.age"),
        content: Some(b"-----BEGIN AGE ENCRYPTED FILE-----\n".to_vec()),
    }];
    let published = remote
        .publish(
            base,
            &edits,
            &format!("tollgate: over {transport}"),
            &Author::default(),
            Backoff::default(),
        )
        .unwrap_or_else(|e| panic!("git pushes over {transport}: {e}"));
    let Published::Pushed { commit, .. } = published else {
        panic!("expected a push, got {published:?}");
    };
    assert_eq!(server.head(), commit.to_string());
}

fn remote(url: &str, cache: PathBuf, token_file: &Path) -> GitRemote {
    GitRemote {
        url: url.to_owned(),
        branch: "main".into(),
        cache,
        auth: GitAuth::TokenFile {
            username: "robot".into(),
            path: token_file.to_owned(),
        },
    }
}

#[test]
fn fetches_and_pushes_over_https_with_a_token_that_stays_out_of_git() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, ca) = tls(dir.path());
    // Before any other thread of this test binary starts: how an operator trusts a private CA.
    #[allow(unsafe_code)]
    // SAFETY: no other thread of this test reads the environment while it is set.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &ca);
    }
    let server = GitServer::start(&common::root().join("example-repo"));
    let https = HttpGitServer::start(&server, "robot", TOKEN, Some(config));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write");

    // A wrong token: a clear error naming the URL and branch, and the token nowhere in it.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-token\n").expect("write");
    let error = remote(&https.url, dir.path().join("wrong-cache"), &wrong)
        .fetch()
        .expect_err("a wrong token is refused")
        .to_string();
    assert!(
        error.contains(&https.url) && error.contains("`main`"),
        "{error}"
    );
    assert!(!error.contains("not-the-token"), "{error}");

    let remote = remote(&https.url, dir.path().join("cache"), &token_file);
    fetch_and_push(&remote, &server, "https");
    // The cache's configuration names the token's file, never the token.
    let config = std::fs::read_to_string(dir.path().join("cache/config")).expect("config");
    assert!(
        config.contains(&token_file.display().to_string()),
        "{config}"
    );
    assert!(!config.contains(TOKEN), "{config}");

    // Over plain HTTP, gix refuses to send the token at all.
    let http = HttpGitServer::start(&server, "robot", TOKEN, None);
    let error = remote_over(&http.url, dir.path(), &token_file)
        .fetch()
        .expect_err("no credentials in clear text")
        .to_string();
    assert!(error.contains("clear text"), "{error}");
}

fn remote_over(url: &str, dir: &Path, token_file: &Path) -> GitRemote {
    remote(url, dir.join("http-cache"), token_file)
}
#[test]
fn fetches_and_pushes_over_ssh_with_a_key_and_strict_host_checking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = GitServer::start(&common::root().join("example-repo"));
    let ssh = SshServer::start(dir.path());
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let url = format!(
        "ssh://{user}@127.0.0.1:{}{}",
        ssh.port,
        server.bare.display()
    );
    let remote = |cache: &str, known_hosts: &Path| GitRemote {
        url: url.clone(),
        branch: "main".into(),
        cache: dir.path().join(cache),
        auth: GitAuth::SshKey {
            path: ssh.client_key.clone(),
            known_hosts: Some(known_hosts.to_owned()),
        },
    };

    // A host key that is not the known one: refused before anything is sent.
    let stranger = dir.path().join("stranger_known_hosts");
    std::fs::write(
        &stranger,
        format!("[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHOxP0XnSZ0TnBfD6g1u+Zc1N4V8Qm2b6eYQ3z9j5kQZ\n", ssh.port),
    )
    .expect("write");
    remote("stranger-cache", &stranger)
        .fetch()
        .expect_err("an unknown host key is refused");

    let remote = remote("cache", &ssh.known_hosts);
    fetch_and_push(&remote, &server, "ssh");
}
