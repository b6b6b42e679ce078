//! Publishing client files back to Git, against real parts: a kube-apiserver (+ controller-manager for the
//! built-in roles), `git daemon` on loopback, the stock `git`, `age` and `kubectl`. Issue, decrypt, connect; no
//! churn; renew; revoke on recipient removal and on deletion (old tokens get 401); ranges stay, are released and
//! reused; a concurrent commit survives the push retry; and no secret ever reaches any Git object.

mod common;
mod harness;

use common::{assert_success, stdout};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use harness::git::{GitServer, git};
use harness::{APPLIER_TOKEN, ControlPlane, Options};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::Value;
use tollgate::credentials::client_file::ClientFile;
use tollgate::credentials::state::{ClientState, SharedState, public_key_of};
use tollgate::git::{ArtifactEdit, Author, Backoff, GitAuth, GitRemote, Published};

const NOW: &str = "2026-12-01T00:00:00Z";
const CLIENTS_NAMESPACE: &str = "tollgate-clients";

fn identity(name: &str) -> PathBuf {
    common::root().join("tests/identities").join(name)
}

/// Decrypts with the stock `age` CLI; `None` when the identity is not a recipient.
fn age_decrypt(identity: &Path, file: &Path) -> Option<Vec<u8>> {
    let output = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .expect("the stock `age` CLI runs");
    output.status.success().then_some(output.stdout)
}

struct World {
    plane: ControlPlane,
    server: GitServer,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    /// Every token and private key seen in a decrypted client file, for the final scan.
    secrets: Vec<String>,
}

impl World {
    /// `tollgate apply --git ... --publish` for staging, as its own process (a restart every time).
    fn publish(&self) -> Value {
        let output = self.run_publish();
        assert_success(&output);
        // Not a terminal, and JSON: no progress bars.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("objects [") && !stderr.contains("client files ["),
            "{stderr}"
        );
        serde_json::from_slice(&output.stdout).expect("an apply report")
    }

    fn run_publish(&self) -> Output {
        let args = self.server.publish_args(
            self.cache.path(),
            "staging",
            &["--now", NOW, "--output", "json"],
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.plane.tollgate(&self.kubeconfig, &args)
    }

    /// Decrypts a published client file from a fresh stock clone, remembering its secrets.
    fn client_file(&mut self, client: &str, identity_name: &str) -> Option<ClientFile> {
        let clone = self.server.clone_fresh();
        let path = clone
            .path()
            .join(format!("clone/artifacts/staging/{client}.age"));
        assert!(path.is_file(), "{} is published", path.display());
        let plaintext = age_decrypt(&identity(identity_name), &path)?;
        let file = ClientFile::parse("client file", &plaintext).expect("a client file");
        self.secrets.push(file.kubernetes.token.clone());
        if let Some(wireguard) = &file.wireguard {
            self.secrets.push(wireguard.private_key.clone());
        }
        Some(file)
    }

    fn edit(&self, path: &str, change: impl FnOnce(String) -> String) {
        let path = self.server.work.join(path);
        let text = std::fs::read_to_string(&path).expect("readable");
        std::fs::write(&path, change(text)).expect("writable");
    }

    async fn client_state(&self, client: &str) -> Option<ClientState> {
        let secrets = Api::<Secret>::namespaced(self.plane.admin().await, CLIENTS_NAMESPACE);
        let secret = secrets
            .get_opt(&format!("tollgate-client-{client}"))
            .await
            .expect("get")?;
        Some(serde_json::from_slice(&secret.data.expect("data")["state.json"].0).expect("state"))
    }

    /// Writes a kubeconfig from a client file with `tollgate client kubeconfig` and asks stock kubectl.
    fn kubectl_with(&self, file: &ClientFile, args: &[&str]) -> Output {
        let dir = tempfile::tempdir().expect("temp dir");
        let json = dir.path().join("client.json");
        std::fs::write(&json, file.to_json()).expect("write");
        let kubeconfig = dir.path().join("kubeconfig");
        let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["client", "kubeconfig"])
            .arg(&json)
            .arg("-o")
            .arg(&kubeconfig)
            .output()
            .expect("tollgate runs");
        assert_success(&output);
        self.plane.kubectl_as(&kubeconfig, args)
    }

    /// Waits until the API server rejects `token` with 401 (its token cache keeps a good answer up to 10 s).
    async fn assert_revoked(&self, token: &str, who: &str) {
        let configmaps = Api::<ConfigMap>::namespaced(
            self.plane.client_for_token(token).await,
            CLIENTS_NAMESPACE,
        );
        let started = Instant::now();
        loop {
            match configmaps.list(&Default::default()).await {
                Err(kube::Error::Api(status)) if status.code == 401 => return,
                _ if started.elapsed() > Duration::from_secs(30) => {
                    panic!("{who}'s old token still authenticates after 30 s")
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

fn changes(report: &Value) -> BTreeMap<String, String> {
    report["publish"]["changes"]
        .as_array()
        .expect("publish changes")
        .iter()
        .map(|c| {
            (
                c["client"].as_str().expect("client").to_owned(),
                c["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_renews_revokes_and_never_leaks() {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: false,
    });
    for namespace in ["payments", "search", "search-indexer"] {
        assert_success(&plane.kubectl(&["create", "namespace", namespace]));
    }
    let server = GitServer::start(&common::root().join("example-repo"));
    let kubeconfig = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let mut world = World {
        plane,
        server,
        kubeconfig,
        cache: tempfile::tempdir().expect("temp dir"),
        secrets: Vec::new(),
    };
    // Client files must point at this API server, and carol reads bob's file too (to be removed later).
    let api_server = world.plane.server.clone();
    world.edit("settings.yaml", |text| {
        text.replace("https://staging.k8s.example.com:6443", &api_server)
    });
    let carol = "age1u8k32hws0sfsxke3c6z5wla45jmv2n7p30p6azx2wjg8kqct4e2s3fw2kz";
    world.edit("clients/bob-laptop.yaml", |text| {
        format!("{text}  recipients: [{carol}]\n")
    });
    world
        .server
        .commit_and_push("Staging API server for the test; carol reads bob's file");

    // First publish: every staging client gets a file, in one commit on top of the head.
    let before = world.server.commit_count();
    let report = world.publish();
    let published = changes(&report);
    assert_eq!(
        published.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "alice-laptop",
            "bob-laptop",
            "ci-deployer",
            "frank-workstation"
        ]
    );
    assert!(
        published.values().all(|reason| reason == "created"),
        "{published:?}"
    );
    assert_eq!(report["publish"]["tokensIssued"], 4);
    assert_eq!(world.server.commit_count(), before + 1);
    let message = git(
        &world.server.bare,
        &["log", "-1", "--format=%an <%ae>%n%B", "main"],
    );
    let message = stdout(&message);
    assert!(
        message.starts_with(
            "tollgate <tollgate@localhost>\ntollgate: client files for cluster staging"
        ),
        "{message}"
    );
    assert!(message.contains("- bob-laptop: created"), "{message}");
    let touched = stdout(&git(
        &world.server.bare,
        &["show", "--name-only", "--format=", "main"],
    ));
    assert!(
        touched.lines().all(|p| p.starts_with("artifacts/staging/")),
        "{touched}"
    );

    // Each recipient decrypts with the stock age CLI (X25519 and SSH); others cannot.
    let alice = world
        .client_file("alice-laptop", "alice.agekey")
        .expect("alice reads hers");
    assert!(
        world.client_file("alice-laptop", "bob.agekey").is_none(),
        "bob cannot read alice's file"
    );
    // And when he tries with tollgate, it says which key he tried and whose keys the file is for: the repository
    // around the file names alice as the owner of its one recipient.
    let clone = world.server.clone_fresh();
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["client", "kubeconfig"])
        .arg(
            clone
                .path()
                .join("clone/artifacts/staging/alice-laptop.age"),
        )
        .arg("-i")
        .arg(identity("bob.agekey"))
        .output()
        .expect("tollgate runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("tried age1ukrjvuwlgtvpec5nlmzk9vtuykt2adslxnfnq7chrunng968k46qt7m9e0")
            && stderr.contains(
                "encrypted to alice's age185tmcu77mv0h09k4pkg0h2ha97pd7dp9zkcag6qyt83kmvxmr35syf8gw7, alice's \
                 ssh-ed25519 SHA256:yV1FjXZRtER4VGaWJ2pvNTU0QeDsmRQjsE9QlXfixP8 (client `alice-laptop` of the \
                 repository at"
            ),
        "{stderr}"
    );
    let frank = world
        .client_file("frank-workstation", "frank.ssh-ed25519")
        .expect("frank reads his with his SSH key");
    let bob = world
        .client_file("bob-laptop", "bob.agekey")
        .expect("bob reads his");
    assert_eq!(
        world.client_file("bob-laptop", "carol.agekey").as_ref(),
        Some(&bob),
        "carol, an extra recipient, reads the same file"
    );
    let ci = world
        .client_file("ci-deployer", "ci-robot.agekey")
        .expect("the robot reads its file");
    assert!(
        ci.wireguard.is_none(),
        "vpn: false means no WireGuard section"
    );

    // The file is what kubectl needs: it names the client's ServiceAccount and grants what the repository says.
    assert_eq!(alice.kubernetes.server, world.plane.server);
    assert_eq!(
        alice.kubernetes.default_namespace.as_deref(),
        Some("kube-system")
    );
    let whoami = world.kubectl_with(
        &bob,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_success(&whoami);
    assert_eq!(
        stdout(&whoami),
        "system:serviceaccount:tollgate-clients:bob-laptop"
    );
    for (file, args, expected) in [
        (&bob, ["create", "deployments", "-n", "payments"], "yes"),
        (&bob, ["create", "deployments", "-n", "search"], "no"),
        (&alice, ["delete", "secrets", "-n", "kube-system"], "yes"),
        (
            &frank,
            ["create", "deployments", "-n", "search-indexer"],
            "yes",
        ),
        (&frank, ["get", "secrets", "-n", "payments"], "no"),
    ] {
        let answer = world.kubectl_with(file, &[&["auth", "can-i"][..], &args[..]].concat());
        assert_eq!(
            stdout(&answer).trim(),
            expected,
            "{} can-i {args:?}",
            file.client
        );
    }

    // WireGuard: a range from the pool each, the gateway's public key from the state Secret.
    let gateway_secret = Api::<Secret>::namespaced(world.plane.admin().await, CLIENTS_NAMESPACE)
        .get("tollgate-state")
        .await
        .expect("the shared state Secret");
    let shared: SharedState =
        serde_json::from_slice(&gateway_secret.data.expect("data")["state.json"].0).expect("state");
    world.secrets.push(shared.gateway_private_key.clone());
    world.secrets.push(shared.hmac_key.clone());
    let addresses: BTreeMap<&str, String> = [&alice, &bob, &frank]
        .iter()
        .map(|f| {
            let wireguard = f.wireguard.as_ref().expect("a VPN client");
            assert_eq!(
                Some(wireguard.gateway_public_key.clone()),
                public_key_of(&shared.gateway_private_key)
            );
            assert_eq!(wireguard.endpoint, "vpn.staging.example.com:51820");
            (f.client.as_str(), wireguard.address.clone())
        })
        .collect();
    assert_eq!(
        addresses.values().map(String::as_str).collect::<Vec<_>>(),
        ["10.90.0.0/30", "10.90.0.4/30", "10.90.0.8/30"]
    );

    // No churn: a second run (a new process, as after a restart) issues nothing and commits nothing.
    let head = world.server.head();
    let again = world.publish();
    assert!(again["publish"]["commit"].is_null(), "{again}");
    assert_eq!(again["publish"]["tokensIssued"], 0);
    assert_eq!(world.server.head(), head, "no new commit");

    // Renewal: a token with less than a third of its life left is replaced; the range and key stay.
    let mut aged = world
        .client_state("alice-laptop")
        .await
        .expect("alice's state");
    aged.token_issued = "2026-01-01T00:00:00Z".parse().expect("timestamp");
    let secrets = Api::<Secret>::namespaced(world.plane.admin().await, CLIENTS_NAMESPACE);
    secrets
        .patch(
            "tollgate-client-alice-laptop",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "stringData": {"state.json": serde_json::to_string(&aged).expect("json")}
            })),
        )
        .await
        .expect("age alice's token");
    let renewed = world.publish();
    assert_eq!(
        changes(&renewed),
        BTreeMap::from([("alice-laptop".into(), "tokenRenewed".into())])
    );
    let alice2 = world
        .client_file("alice-laptop", "alice.agekey")
        .expect("alice reads hers");
    assert_ne!(alice2.kubernetes.token, alice.kubernetes.token);
    assert!(
        alice2.wireguard == alice.wireguard,
        "renewal keeps the WireGuard key and range"
    );
    assert_success(&world.kubectl_with(&alice2, &["auth", "whoami"]));

    // Removing a recipient revokes every earlier token and rotates the key; the remaining recipient reads it.
    world.edit("clients/bob-laptop.yaml", |text| {
        text.replace(&format!("  recipients: [{carol}]\n"), "")
    });
    world
        .server
        .commit_and_push("carol no longer reads bob's file");
    let revoked = world.publish();
    assert_eq!(
        changes(&revoked),
        BTreeMap::from([("bob-laptop".into(), "revoked".into())])
    );
    assert_eq!(
        revoked["publish"]["revoked"],
        serde_json::json!(["bob-laptop"])
    );
    world
        .assert_revoked(&bob.kubernetes.token, "bob-laptop (before carol's removal)")
        .await;
    assert!(
        world.client_file("bob-laptop", "carol.agekey").is_none(),
        "carol no longer decrypts it"
    );
    let bob2 = world
        .client_file("bob-laptop", "bob.agekey")
        .expect("bob still reads his");
    let (old, new) = (
        bob.wireguard.as_ref().expect("wg"),
        bob2.wireguard.as_ref().expect("wg"),
    );
    assert_ne!(
        old.private_key, new.private_key,
        "the WireGuard key is rotated"
    );
    assert_eq!(old.address, new.address, "the range stays");
    let whoami = world.kubectl_with(
        &bob2,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_eq!(
        stdout(&whoami),
        "system:serviceaccount:tollgate-clients:bob-laptop"
    );

    // Deleting a client revokes its tokens, removes its file and releases its range ...
    std::fs::remove_file(world.server.work.join("clients/frank-workstation.yaml")).expect("rm");
    world.server.commit_and_push("frank's workstation is gone");
    let deleted = world.publish();
    assert_eq!(
        changes(&deleted),
        BTreeMap::from([("frank-workstation".into(), "deleted".into())])
    );
    world
        .assert_revoked(&frank.kubernetes.token, "frank-workstation")
        .await;
    let clone = world.server.clone_fresh();
    assert!(
        !clone
            .path()
            .join("clone/artifacts/staging/frank-workstation.age")
            .exists()
    );
    assert!(
        world.client_state("frank-workstation").await.is_none(),
        "its state is forgotten"
    );

    // ... which the next new client gets.
    std::fs::write(
        world.server.work.join("clients/zoe-laptop.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: Client\nmetadata:\n  name: zoe-laptop\nspec:\n  owners: [frank]\n  clusters: [staging]\n",
    )
    .expect("write");
    world.server.commit_and_push("A new client");
    world.publish();
    let zoe = world
        .client_file("zoe-laptop", "frank.ssh-ed25519")
        .expect("frank reads zoe's");
    assert_eq!(
        zoe.wireguard.as_ref().expect("wg").address,
        addresses["frank-workstation"]
    );

    // Its only owner is disabled: nobody may read its file any more. The apply itself deletes its ServiceAccount
    // (publish or not: the plan shows it), so every token it had dies; its file is removed, and the run says why.
    world.edit("users/frank.yaml", |text| {
        format!("{text}  disabled: true\n")
    });
    world.server.commit_and_push("frank is disabled");
    let output = world.run_publish();
    assert_eq!(
        output.status.code(),
        Some(0),
        "nothing failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("an apply report");
    let objects = report["objects"].as_array().expect("objects");
    assert!(
        objects
            .iter()
            .any(|o| o["object"]["kind"] == "ServiceAccount"
                && o["object"]["name"] == "zoe-laptop"
                && o["outcome"] == "deleted"),
        "the apply deleted zoe-laptop's ServiceAccount: {objects:?}"
    );
    let changes = report["publish"]["changes"].as_array().expect("changes");
    assert!(
        changes
            .iter()
            .any(|c| c["client"] == "zoe-laptop" && c["reason"] == "noRecipient"),
        "{changes:?}"
    );
    world
        .assert_revoked(&zoe.kubernetes.token, "zoe-laptop (owner disabled)")
        .await;
    let clone = world.server.clone_fresh();
    assert!(
        !clone
            .path()
            .join("clone/artifacts/staging/zoe-laptop.age")
            .exists()
    );
    assert!(
        clone
            .path()
            .join("clone/artifacts/staging/alice-laptop.age")
            .exists(),
        "the others stay"
    );

    // On a terminal, apply shows how far it is on stderr: objects written, then clients served (every JSON run
    // above showed nothing extra: `World::publish` checks).
    std::fs::write(
        world.server.work.join("clients/yann-laptop.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: Client\nmetadata:\n  name: yann-laptop\nspec:\n  owners: [bob]\n  clusters: [staging]\n",
    )
    .expect("write");
    world.server.commit_and_push("yann-laptop");
    let kubeconfig = world.kubeconfig.display().to_string();
    let mut args = world
        .server
        .publish_args(world.cache.path(), "staging", &["--now", NOW]);
    args.extend(["--kubeconfig".to_owned(), kubeconfig]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (shown, code) = common::on_terminal(&args, "");
    assert_eq!(code, 0, "{shown}");
    // The new client's ServiceAccount and the bindings that now name it, then tokens and files for every client.
    for bar in ["objects [", "tokens [", "client files ["] {
        assert!(shown.contains(bar), "no `{bar}` progress in:\n{shown}");
    }
    let yann = world
        .client_file("yann-laptop", "bob.agekey")
        .expect("bob decrypts yann-laptop's file");
    assert_eq!(yann.client, "yann-laptop");

    // No secret, ever: not in any blob or commit message of any commit on the server.
    let objects = world.server.every_object();
    assert!(
        objects.len() > 20,
        "the scan sees the history ({} objects)",
        objects.len()
    );
    for secret in &world.secrets {
        assert!(secret.len() > 20);
        for object in &objects {
            assert!(
                !object.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret reached Git"
            );
        }
    }
    for object in &objects {
        assert!(
            !String::from_utf8_lossy(object).contains("eyJhbGciOi"),
            "a JWT reached Git"
        );
    }
}

#[test]
fn a_concurrent_commit_survives_the_push_retry() {
    let server = GitServer::start(&common::root().join("example-repo"));
    let cache = tempfile::tempdir().expect("temp dir");
    let remote = GitRemote {
        url: server.url.clone(),
        branch: "main".into(),
        cache: cache.path().join("cache"),
        auth: GitAuth::None,
    };
    let base = remote.fetch().expect("fetch");
    assert!(
        base.files.contains_key("settings.yaml"),
        "the tree is read without a checkout"
    );

    // Someone merges while tollgate works on the head it fetched.
    std::fs::write(server.work.join("NOTES.md"), "merged meanwhile\n").expect("write");
    server.commit_and_push("A person's change");
    let theirs = server.head();

    let edits = [ArtifactEdit {
        path: "artifacts/staging/x.age".into(),
        content: Some(b"-----BEGIN AGE ENCRYPTED FILE-----\n".to_vec()),
    }];
    let backoff = Backoff {
        first: Duration::from_millis(10),
        attempts: 3,
    };
    let published = remote
        .publish(
            base.clone(),
            &edits,
            "tollgate: test",
            &Author::default(),
            backoff,
        )
        .expect("publish");
    let Published::Pushed { commit, attempts } = published else {
        panic!("expected a push, got {published:?}");
    };
    assert_eq!(
        attempts, 2,
        "the first push is rejected, the rebuilt one lands"
    );
    assert_eq!(server.head(), commit.to_string());
    let parent = stdout(&git(&server.bare, &["rev-parse", "main^"]));
    assert_eq!(
        parent.trim(),
        theirs,
        "tollgate's commit sits on top of the person's"
    );
    let clone = server.clone_fresh();
    assert!(clone.path().join("clone/NOTES.md").is_file());
    assert!(clone.path().join("clone/artifacts/staging/x.age").is_file());

    // The same edit again changes nothing: no commit.
    let head = remote.fetch().expect("fetch");
    assert_eq!(
        remote
            .publish(head, &edits, "tollgate: test", &Author::default(), backoff)
            .expect("publish"),
        Published::Unchanged
    );
    // Removing it leaves no empty folder behind.
    let head = remote.fetch().expect("fetch");
    let removal = [ArtifactEdit {
        path: "artifacts/staging/x.age".into(),
        content: None,
    }];
    remote
        .publish(
            head,
            &removal,
            "tollgate: remove",
            &Author::default(),
            backoff,
        )
        .expect("publish");
    let after = remote.fetch().expect("fetch");
    assert!(
        after.files.keys().all(|p| !p.starts_with("artifacts/")),
        "{:?}",
        after.files.keys()
    );
}
