//! The failing inputs from real reports (`tests/fixtures/cases/`, one folder per case, its `cmd` file saying what
//! went wrong), each run as its `cmd` runs it and held to the right value.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn case(name: &str) -> PathBuf {
    common::root().join("tests/fixtures/cases").join(name)
}

fn tollgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("tollgate runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// FiloSottile/age#384: a blank line or a byte-order mark before the armor (Windows editors) is skipped.
#[test]
fn age_leading_bytes() {
    let dir = case("age-leading-bytes");
    let identity = common::root().join("tests/identities/bob.agekey");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("client.json")).expect("case"))
            .expect("JSON");
    for file in ["bob-prod.leadingnl.age", "bob-prod.bom.age"] {
        let output = tollgate(
            &dir,
            &[
                "client",
                "kubeconfig",
                file,
                "-i",
                identity.to_str().expect("UTF-8"),
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{file}: {}", text(&output));
        let kubeconfig: serde_json::Value =
            serde_yaml::from_slice(&output.stdout).expect("a kubeconfig");
        assert_eq!(
            kubeconfig["users"][0]["user"]["token"], expected["kubernetes"]["token"],
            "{file}"
        );
    }
}

/// fluxcd/kustomize-controller#192: a Namespace that only carries tollgate's labels is not a deletion.
#[test]
fn copied_label_prune() {
    let dir = case("copied-label-prune");
    let output = tollgate(
        &dir,
        &[
            "plan",
            "--repo",
            "repo",
            "--cluster",
            "staging",
            "--live-from",
            "live.yaml",
            "--detailed-exitcode",
        ],
    );
    let shown = text(&output);
    assert!(!shown.contains("- Namespace payments-sandbox"), "{shown}");
    assert!(
        shown.contains("? Namespace payments-sandbox")
            && shown.contains("tollgate never wrote it")
            && shown.contains("`kubectl-client-side-apply`"),
        "{shown}"
    );
    // What remains are the creates of the repository's own objects; nothing is deleted.
    assert!(shown.contains("0 to delete"), "{shown}");
}

/// dtolnay/serde-yaml#202: `<<: *payments` is applied, and the repository is valid with no knock-on warning.
#[test]
fn merge_keys() {
    let dir = case("merge-keys");
    let output = tollgate(&dir, &["validate", "--repo", "repo"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(!text(&output).contains("warning"), "{}", text(&output));
    let rendered = text(&tollgate(
        &dir,
        &["render", "--repo", "repo", "--cluster", "prod"],
    ));
    assert!(
        rendered.contains("namespace: payments") && rendered.contains("name: edit"),
        "the merged grant binds edit in payments in prod:\n{rendered}"
    );
}

/// infrahq/infra#2677: the identity provider's group names are kept in `groupName`, and the hint says so
/// instead of suggesting a name that matches nobody.
#[test]
fn oidc_group_names() {
    let dir = case("oidc-group-names");
    let output = tollgate(&dir, &["validate", "--repo", "repo"]);
    assert_eq!(output.status.code(), Some(1));
    let shown = text(&output);
    assert!(
        shown.contains("spec.groupName: \"infra/platform-admins\"")
            && shown.contains("spec.groupName: \"Platform Admins\""),
        "{shown}"
    );
    assert!(!shown.contains("try `"), "{shown}");
}

/// kubernetes/kubernetes#61222, rook/rook#2666: strings RBAC never matches are errors.
#[test]
fn rbac_dead_rules() {
    let dir = case("rbac-dead-rules");
    let output = tollgate(&dir, &["validate", "--repo", "repo"]);
    assert_eq!(output.status.code(), Some(1));
    let shown = text(&output);
    for expected in [
        "`apps/v1`",
        "`ConfigMaps`",
        "write `services`",
        "`read` is not",
        "`write` is not",
    ] {
        assert!(shown.contains(expected), "{expected}: {shown}");
    }
    let plan = tollgate(
        &dir,
        &[
            "plan",
            "--repo",
            "repo",
            "--cluster",
            "staging",
            "--offline",
        ],
    );
    assert_eq!(
        plan.status.code(),
        Some(1),
        "no plan shows the dead role as access"
    );
}

/// KEP-4006: `pods/exec` with only `create` is a warning at the rule's verbs.
#[test]
fn rbac_exec_create_only() {
    let dir = case("rbac-exec-create-only");
    let output = tollgate(&dir, &["validate", "--repo", "repo"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("warning[websocket-verbs]: role.yaml:11:7: spec.rules[1].verbs:"),
        "{}",
        text(&output)
    );
}

/// gatekeeper-library#561: Kubernetes' own identities never reach a binding.
#[test]
fn system_subjects() {
    let dir = case("system-subjects");
    for (repo, cluster) in [("repo-username", "staging"), ("repo-group-prefix", "prod")] {
        let output = tollgate(&dir, &["validate", "--repo", repo]);
        assert_eq!(output.status.code(), Some(1), "{repo}");
        assert!(
            text(&output).contains("error[reserved-subject]"),
            "{repo}: {}",
            text(&output)
        );
        let plan = tollgate(
            &dir,
            &["plan", "--repo", repo, "--cluster", cluster, "--offline"],
        );
        assert_eq!(plan.status.code(), Some(1), "{repo}");
        assert!(!text(&plan).contains("+ cluster-admin"), "{}", text(&plan));
    }
}

/// A cause is printed once: the repository that is not there, a client file that is not JSON.
#[test]
fn a_cause_is_printed_once() {
    let output = tollgate(&common::root(), &["validate", "--repo", "/nonexistent"]);
    let shown = text(&output);
    assert_eq!(
        shown.matches("No such file or directory").count(),
        1,
        "{shown}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("broken.json"), "{\"formatVersion\": ").expect("write");
    let output = tollgate(dir.path(), &["client", "kubeconfig", "broken.json"]);
    let shown = text(&output);
    assert_eq!(shown.matches("the JSON ends early").count(), 1, "{shown}");
    assert!(
        shown.contains("broken.json is not a tollgate client file"),
        "{shown}"
    );
    // A value of the file is never quoted: it could be the token.
    std::fs::write(
        dir.path().join("typed.json"),
        "{\"formatVersion\": 1, \"client\": \"c\", \"cluster\": \"p\", \"kubernetes\": \"SECRET-TOKEN\"}",
    )
    .expect("write");
    let shown = text(&tollgate(
        dir.path(),
        &["client", "kubeconfig", "typed.json"],
    ));
    assert!(
        shown.contains("`kubernetes`: the value has the wrong type (expected a JSON object)")
            && !shown.contains("SECRET-TOKEN"),
        "{shown}"
    );
}

/// `-o` onto an existing file with a wider mode: the new file is 0600 all the same.
#[test]
fn client_output_is_always_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("config");
    std::fs::write(&out, "old").expect("write");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let file = case("kubeconfig-name-collision").join("eu.west-laptop.json");
    let output = tollgate(
        dir.path(),
        &[
            "client",
            "kubeconfig",
            file.to_str().expect("UTF-8"),
            "-o",
            "config",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let mode = std::fs::metadata(&out)
        .expect("written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&out)
            .expect("read")
            .contains("token-of-eu-west-laptop")
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

/// A client file is untrusted input (anyone can encrypt to a public key): a line break in `dns` must not become a
/// `PostUp =` line that `wg-quick up` runs as root, and a kubeconfig never points kubectl at a plain-http server.
#[test]
fn a_client_file_cannot_inject_into_what_tollgate_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = serde_json::json!({
        "formatVersion": 1,
        "client": "bob-laptop",
        "cluster": "prod",
        "kubernetes": {"server": "https://k8s.example.com", "token": "t",
                       "certificateAuthority": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                       "tokenExpires": "2026-12-01T00:00:00Z"},
        "wireguard": {"privateKey": "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", "address": "10.90.0.4/30",
                      "gatewayPublicKey": "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=",
                      "endpoint": "vpn.example.com:51820", "allowedIps": ["10.96.0.0/12"],
                      "dns": ["10.96.0.10\nPostUp = sh -c 'id > /tmp/pwned'"]},
    });
    std::fs::write(dir.path().join("evil.json"), file.to_string()).expect("write");
    let output = tollgate(dir.path(), &["client", "wg-config", "evil.json"]);
    assert_eq!(output.status.code(), Some(1));
    let shown = text(&output);
    assert!(
        shown.contains("`wireguard.dns[0]` must be an IP address")
            && !shown.contains("PostUp = sh"),
        "{shown}"
    );
    let mut http = file.clone();
    http["wireguard"]["dns"] = serde_json::json!(["10.96.0.10"]);
    http["kubernetes"]["server"] = "http://k8s.example.com".into();
    std::fs::write(dir.path().join("http.json"), http.to_string()).expect("write");
    let shown = text(&tollgate(
        dir.path(),
        &["client", "kubeconfig", "http.json"],
    ));
    assert!(
        shown.contains("`kubernetes.server` must be an https URL"),
        "{shown}"
    );
}
