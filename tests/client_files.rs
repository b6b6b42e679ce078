//! Client files as their recipients get them: encrypted by tollgate with the age crate, decrypted by the stock
//! `age` CLI with each recipient's identity (X25519, SSH ed25519, SSH RSA) and refused to anyone else; turned by
//! `tollgate client kubeconfig` into a kubeconfig that stock kubectl uses against a real API server.

mod common;
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::{ControlPlane, Options};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use tollgate::credentials::client_file::{
    CLIENT_FILE_FORMAT_VERSION, ClientFile, KubernetesAccess, WireGuardAccess,
};
use tollgate::credentials::seal;
use tollgate::pipeline::check;
use tollgate::validate::model::Recipient;

fn identity(name: &str) -> PathBuf {
    common::root().join("tests/identities").join(name)
}

fn age_decrypt(identity: &Path, file: &Path) -> Output {
    Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("the stock `age` CLI runs (Debian package `age`; scripts/test installs it)")
}

fn tollgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .output()
        .expect("tollgate runs")
}

/// The recipients of three example users, one of each key type.
fn recipients() -> Vec<Recipient> {
    let checked = check(&common::example_repo(), common::now())
        .unwrap_or_else(|e| panic!("example-repo is valid: {e}"));
    ["alice", "frank", "heidi"]
        .iter()
        .flat_map(|user| checked.model.users[*user].recipients.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_decrypt_with_stock_age_and_connect_with_stock_kubectl() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    let admin = plane.admin().await;
    let mut namespace = Namespace::default();
    namespace.metadata.name = Some("tollgate-clients".into());
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
    let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), "tollgate-clients");
    let mut account = ServiceAccount::default();
    account.metadata.name = Some("bob-laptop".into());
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("service account");
    let status = plane
        .service_account_token("tollgate-clients", "bob-laptop")
        .await;

    let client_file = ClientFile {
        format_version: CLIENT_FILE_FORMAT_VERSION,
        client: "bob-laptop".into(),
        cluster: "prod".into(),
        kubernetes: KubernetesAccess {
            server: plane.server.clone(),
            certificate_authority: std::fs::read_to_string(&plane.ca).expect("CA"),
            token: status.token.clone(),
            token_expires: status.expiration_timestamp.0.to_string(),
            default_namespace: Some("tollgate-clients".into()),
            impersonate: None,
        },
        wireguard: Some(WireGuardAccess {
            private_key: "cHJpdmF0ZS1rZXktb2YtdGhlLWNsaWVudC0zMmJ5dGU=".into(),
            address: "10.91.0.4/30".into(),
            gateway_public_key: "Z2F0ZXdheS1wdWJsaWMta2V5LW9mLWdhdGV3YXktMzI=".into(),
            endpoint: "vpn.prod.example.com:51820".into(),
            allowed_ips: vec!["10.96.0.0/12".into()],
            dns: vec![],
        }),
    };
    let plaintext = client_file.to_json();
    let armored = seal::seal(plaintext.as_bytes(), &recipients()).expect("seals");
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(
        !armored.contains(&status.token),
        "the token is not in the artifact"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = dir.path().join("bob-laptop.age");
    std::fs::write(&artifact, &armored).expect("write");

    // Every recipient decrypts with the stock age CLI, whatever their key type; a non-recipient cannot.
    for key in ["alice.agekey", "frank.ssh-ed25519", "heidi.ssh-rsa"] {
        let out = age_decrypt(&identity(key), &artifact);
        assert!(
            out.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), plaintext, "{key}");
    }
    let out = age_decrypt(&identity("bob.agekey"), &artifact);
    assert!(!out.status.success(), "bob is not a recipient");

    // tollgate's own decryption agrees, and refuses without an identity or with the wrong one.
    let kubeconfig = dir.path().join("kubeconfig");
    let artifact_arg = artifact.to_str().expect("utf-8");
    let out = tollgate(&[
        "client",
        "kubeconfig",
        artifact_arg,
        "-i",
        identity("grace.ssh-ed25519").to_str().expect("utf-8"),
        "-i",
        identity("frank.ssh-ed25519").to_str().expect("utf-8"),
        "-o",
        kubeconfig.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kubeconfig)
            .expect("written")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds a token");
    let out = tollgate(&["client", "kubeconfig", artifact_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass an identity with -i"));
    let out = tollgate(&[
        "client",
        "kubeconfig",
        artifact_arg,
        "-i",
        identity("bob.agekey").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    // It says which key was tried and what the file is for: frank's and heidi's SSH keys by their age tags (the
    // first 4 bytes of the key's SHA-256, as `ssh-keygen -l` prints them) and alice's X25519 key, unnamed.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("none of the identities given can decrypt")
            && stderr
                .contains("tried age1ukrjvuwlgtvpec5nlmzk9vtuykt2adslxnfnq7chrunng968k46qt7m9e0")
            && stderr.contains("an ssh-ed25519 key with age tag M++4zQ")
            && stderr.contains("1 age X25519 key(s)")
            && !stderr.contains("grease"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Stock kubectl uses the kubeconfig as is: it authenticates as the client's ServiceAccount.
    let out = plane.kubectl_as(
        &kubeconfig,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "system:serviceaccount:tollgate-clients:bob-laptop"
    );
    let out = plane.kubectl_as(&kubeconfig, &["auth", "can-i", "list", "secrets"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no",
        "a client has only what it is granted"
    );

    let out = tollgate(&[
        "client",
        "wg-config",
        artifact_arg,
        "-i",
        identity("alice.agekey").to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wg = String::from_utf8_lossy(&out.stdout);
    assert!(
        wg.contains("Address = 10.91.0.4/32")
            && wg.contains("Endpoint = vpn.prod.example.com:51820"),
        "{wg}"
    );
}
