//! Benchmark of publishing client files: 1,000 files, each to 3 recipients (age X25519, ssh-ed25519, ssh-rsa),
//! encrypted with the age crate, indexed (HMAC) and committed with gix into a bare cache, next to the stock `age`
//! CLI run once per file on the same plaintexts and recipients; then a second publish with nothing new, which
//! must make no commit. The push (to a local bare repository) is timed separately: it is network in real life.
//!
//! Prints figures side by side; asserts only that the no-change publish makes no commit. Run:
//! `cargo bench --bench publish`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use tollgate::credentials::client_file::{
    CLIENT_FILE_FORMAT_VERSION, ClientFile, KubernetesAccess, WireGuardAccess,
};
use tollgate::credentials::index::artifact_update;
use tollgate::credentials::state::{SharedState, generate_private_key};
use tollgate::git::{Author, Backoff, GitAuth, GitRemote, Published};
use tollgate::validate::model::{Recipient, RecipientKind};

const FILES: usize = 1_000;

fn git(dir: &std::path::Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdout(Stdio::null())
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn recipients(root: &std::path::Path) -> Vec<Recipient> {
    let read = |name: &str| {
        std::fs::read_to_string(root.join("tests/identities").join(name))
            .expect("a test identity")
            .trim()
            .to_owned()
    };
    vec![
        Recipient {
            kind: RecipientKind::X25519,
            key: "age185tmcu77mv0h09k4pkg0h2ha97pd7dp9zkcag6qyt83kmvxmr35syf8gw7".into(),
        },
        Recipient {
            kind: RecipientKind::SshEd25519,
            key: read("frank.ssh-ed25519.pub"),
        },
        Recipient {
            kind: RecipientKind::SshRsa,
            key: read("heidi.ssh-rsa.pub"),
        },
    ]
}

/// A client file as tollgate writes it, with a token of realistic length (a TokenRequest JWT is ~1 KB).
fn client_file(index: usize) -> ClientFile {
    ClientFile {
        format_version: CLIENT_FILE_FORMAT_VERSION,
        client: format!("client-{index:04}"),
        cluster: "prod".into(),
        kubernetes: KubernetesAccess {
            server: "https://prod.k8s.example.com:6443".into(),
            certificate_authority: "-----BEGIN CERTIFICATE-----\n".to_owned()
                + &"MIIBszCCAVmgAwIBAgIUY2VydGlmaWNhdGUgYXV0aG9yaXR5IGZvciB0ZXN0cw\n".repeat(10)
                + "-----END CERTIFICATE-----\n",
            token: format!("eyJhbGciOiJSUzI1NiJ9.{}.{index}", "x".repeat(900)),
            token_expires: "2026-11-23T12:00:00Z".into(),
            default_namespace: Some("payments".into()),
            impersonate: None,
        },
        wireguard: Some(WireGuardAccess {
            private_key: generate_private_key(),
            address: format!(
                "10.{}.{}.{}/30",
                90 + index / 16384,
                (index / 64) % 256,
                (index % 64) * 4
            ),
            gateway_public_key: "f0oBDi7l3Nn5TQq2HgYz0d0C2r1qU6K0kF6jvJm3wGM=".into(),
            endpoint: "vpn.prod.example.com:51820".into(),
            allowed_ips: vec!["10.96.0.0/12".into(), "10.244.0.0/16".into()],
            dns: vec!["10.96.0.10".into()],
        }),
    }
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let recipients = recipients(root);
    let shared = SharedState::generate();
    let plaintexts: Vec<(String, String)> = (0..FILES)
        .map(|i| {
            let file = client_file(i);
            (
                format!("artifacts/prod/{}.age", file.client),
                file.to_json(),
            )
        })
        .collect();

    // A bare "remote" with one commit, and tollgate's cache fetched from it.
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).expect("mkdir");
    git(&seed, &["init", "--quiet"]);
    std::fs::write(seed.join("settings.yaml"), "# access repository\n").expect("write");
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "--quiet", "-m", "seed"]);
    git(
        dir.path(),
        &["clone", "--quiet", "--bare", "seed", "remote.git"],
    );
    let remote = GitRemote {
        url: format!("file://{}", dir.path().join("remote.git").display()),
        branch: "main".into(),
        cache: dir.path().join("cache"),
        auth: GitAuth::None,
    };
    let base = remote.fetch().expect("fetch");
    let author = Author::default();

    // tollgate: HMAC + age encryption of every file, then one commit.
    let started = Instant::now();
    let mut edits = Vec::with_capacity(FILES);
    let mut index = BTreeMap::new();
    for (path, plaintext) in &plaintexts {
        let hmac = shared.plaintext_hmac(plaintext.as_bytes());
        let (edit, published) = artifact_update(
            None,
            path,
            plaintext.as_bytes(),
            &hmac,
            &recipients,
            &base.files,
        )
        .expect("seal")
        .expect("a first publish encrypts");
        edits.push(edit);
        index.insert(path.clone(), published);
    }
    let sealed = started.elapsed();
    let commit = remote
        .commit(&base, &edits, "tollgate: bench", &author)
        .expect("commit")
        .expect("a commit");
    let committed = started.elapsed();
    let push_started = Instant::now();
    let published = remote
        .publish(base, &edits, "tollgate: bench", &author, Backoff::default())
        .expect("publish");
    let pushed = push_started.elapsed();
    assert!(matches!(published, Published::Pushed { .. }));
    let _ = commit;

    // The stock age CLI, once per file, same plaintexts and recipients.
    let ssh_dir = dir.path().join("recipients");
    std::fs::create_dir_all(&ssh_dir).expect("mkdir");
    std::fs::write(ssh_dir.join("ed25519"), &recipients[1].key).expect("write");
    std::fs::write(ssh_dir.join("rsa"), &recipients[2].key).expect("write");
    let age_started = Instant::now();
    for (_, plaintext) in &plaintexts {
        let mut child = Command::new("age")
            .args(["-e", "-a", "-r", &recipients[0].key, "-R"])
            .arg(ssh_dir.join("ed25519"))
            .arg("-R")
            .arg(ssh_dir.join("rsa"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the stock age CLI runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(plaintext.as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("age finishes");
        assert!(output.status.success() && output.stdout.starts_with(b"-----BEGIN AGE"));
    }
    let age_cli = age_started.elapsed();

    // A second publish with nothing new: HMACs match the index, blobs match the tree, no commit.
    let head = remote.fetch().expect("fetch");
    let again_started = Instant::now();
    let mut again = Vec::new();
    for (path, plaintext) in &plaintexts {
        let hmac = shared.plaintext_hmac(plaintext.as_bytes());
        if let Some((edit, _)) = artifact_update(
            index.get(path),
            path,
            plaintext.as_bytes(),
            &hmac,
            &recipients,
            &head.files,
        )
        .expect("seal")
        {
            again.push(edit);
        }
    }
    let outcome = remote
        .publish(
            head.clone(),
            &again,
            "tollgate: bench",
            &author,
            Backoff::default(),
        )
        .expect("publish");
    let unchanged = again_started.elapsed();
    assert!(
        again.is_empty() && outcome == Published::Unchanged,
        "no change, no commit"
    );
    let after = remote.fetch().expect("fetch");
    assert_eq!(after.commit, head.commit);

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!("publish {FILES} client files x 3 recipients (X25519, ssh-ed25519, ssh-rsa)");
    println!(
        "  tollgate encrypt + HMAC index         {:>9.1} ms",
        ms(sealed)
    );
    println!(
        "  tollgate encrypt + index + commit      {:>9.1} ms",
        ms(committed)
    );
    println!(
        "  stock age CLI, once per file           {:>9.1} ms   ({:.1}x tollgate's encrypt + commit)",
        ms(age_cli),
        age_cli.as_secs_f64() / committed.as_secs_f64()
    );
    println!(
        "  git push to a local bare repository    {:>9.1} ms   (network in real life; not in the target)",
        ms(pushed)
    );
    println!(
        "  second publish, nothing new            {:>9.1} ms   commits: 0, files re-encrypted: {}",
        ms(unchanged),
        again.len()
    );
}
