//! Personal access without OIDC, against real parts: a kube-apiserver (+ controller-manager for the built-in
//! roles) with an audit log, `git daemon` on loopback, the stock `git` and `kubectl`. A client acts as its owner
//! through impersonation: `kubectl auth whoami` through the kubeconfig `update-kubeconfig` writes (an exec
//! credential plugin, no token on disk) names the person and their groups; what kubectl may do agrees with the
//! RBAC authorizer's answer for that person; the token cannot impersonate anyone else, nor a group its owner left;
//! without `as` it has only the client's own grants; `impersonation: false` takes it all away. Also: the kubeconfig
//! merge keeps another context byte for byte, `tollgate clients` and `client inspect` show state without secrets,
//! and passphrase-protected identities work on a terminal and say what to do without one.

mod common;
mod harness;

use common::{assert_success, stdout};

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use harness::git::{GitServer, git};
use harness::{APPLIER_TOKEN, ControlPlane, Options};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use serde_json::Value;

const ALICE: &str = "tg:alice@example.com";
const ALICE_CLIENT: &str = "system:serviceaccount:tollgate-clients:alice-laptop";

fn fixture() -> PathBuf {
    common::root().join("tests/fixtures/personal-access")
}

fn identity(name: &str) -> PathBuf {
    common::root().join("tests/identities").join(name)
}

fn tollgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("tollgate runs")
}

/// `tollgate client <subcommand> FILE -i alice's key [extra...]`.
fn with_alices_key(subcommand: &str, file: &Path, extra: &[&str]) -> Output {
    let file = file.display().to_string();
    let key = identity("alice.agekey").display().to_string();
    tollgate(
        &[
            &["client", subcommand, file.as_str(), "-i", key.as_str()][..],
            extra,
        ]
        .concat(),
    )
}

/// Asserts that the command failed (exit 1) and said `expected` on standard error.
#[track_caller]
fn fails_with(output: &Output, expected: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert!(stderr(output).contains(expected), "{}", stderr(output));
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `tollgate render` of the `dev` cluster, each object as JSON.
fn compiled(repo: &Path) -> Vec<Value> {
    use serde::Deserialize as _;
    let output = tollgate(&[
        "render",
        "--repo",
        &repo.display().to_string(),
        "--cluster",
        "dev",
    ]);
    assert_success(&output);
    serde_yaml::Deserializer::from_slice(&output.stdout)
        .map(|document| Value::deserialize(document).expect("a YAML object"))
        .filter(|object| !object.is_null())
        .collect()
}

/// The users and groups each impersonation ClusterRole allows, by client.
fn impersonation_rules(objects: &[Value]) -> Vec<(String, Vec<String>, Vec<String>)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole")
        .filter_map(|o| {
            let client = o["metadata"]["name"]
                .as_str()?
                .strip_prefix("tollgate:impersonate:")?
                .to_owned();
            let names = |resource: &str| -> Vec<String> {
                o["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|r| r["resources"][0] == resource)
                    .flat_map(|r| r["resourceNames"].as_array().cloned().unwrap_or_default())
                    .map(|n| n.as_str().unwrap_or_default().to_owned())
                    .collect()
            };
            assert!(
                o["rules"].as_array().into_iter().flatten().all(|r| {
                    r["verbs"] == serde_json::json!(["impersonate"])
                        && r["resourceNames"].as_array().is_some_and(|n| !n.is_empty())
                        && r["resources"] != serde_json::json!(["serviceaccounts"])
                }),
                "only named users and groups may be impersonated: {o}"
            );
            Some((client, names("users"), names("groups")))
        })
        .collect()
}

#[test]
fn only_a_single_owner_with_user_grants_is_impersonated_with_nested_groups() {
    let rules = impersonation_rules(&compiled(&fixture()));
    assert_eq!(
        rules,
        [
            (
                "alice-laptop".to_owned(),
                vec![ALICE.to_owned()],
                vec!["tg:backend".to_owned(), "tg:engineering".to_owned()]
            ),
            (
                "bob-laptop".to_owned(),
                vec!["tg:bob".to_owned()],
                vec!["tg:Ops Team".to_owned()]
            ),
            (
                "frank-laptop".to_owned(),
                vec!["tg:frank".to_owned()],
                vec!["tg:Ops Team".to_owned()]
            ),
        ],
        "shared-box has two owners and dave no accessAs: user grant"
    );

    // The switch for clusters with OIDC: no impersonation at all.
    let copy = tempfile::tempdir().expect("temp dir");
    harness::git::copy_tree(&fixture(), copy.path());
    let settings = copy.path().join("settings.yaml");
    let text = std::fs::read_to_string(&settings).expect("settings");
    std::fs::write(
        &settings,
        text.replace(
            "      apiServer: https://dev.k8s.example.com:6443\n",
            "      apiServer: https://dev.k8s.example.com:6443\n      impersonation: false\n",
        ),
    )
    .expect("write");
    assert_eq!(impersonation_rules(&compiled(copy.path())), []);

    // Whoever can read the client file holds its token: with an extra recipient, the client acts as nobody.
    let clients_file = copy.path().join("clients.yaml");
    let text = std::fs::read_to_string(&clients_file).expect("clients");
    std::fs::write(
        &clients_file,
        text.replacen(
            "  owners: [alice]\n",
            "  owners: [alice]\n  recipients: [age1ukrjvuwlgtvpec5nlmzk9vtuykt2adslxnfnq7chrunng968k46qt7m9e0]\n",
            1,
        ),
    )
    .expect("write");

    // A disabled owner takes the rules away too.
    let people = copy.path().join("people.yaml");
    let text = std::fs::read_to_string(&people).expect("people");
    std::fs::write(
        &people,
        text.replace(
            "  name: bob\nspec:\n",
            "  name: bob\nspec:\n  disabled: true\n",
        ),
    )
    .expect("write");
    std::fs::write(
        &settings,
        std::fs::read_to_string(fixture().join("settings.yaml")).expect("settings"),
    )
    .expect("write");
    let clients: Vec<String> = impersonation_rules(&compiled(copy.path()))
        .into_iter()
        .map(|(client, _, _)| client)
        .collect();
    assert_eq!(
        clients,
        ["frank-laptop"],
        "alice-laptop has an extra recipient, bob is disabled"
    );
}

/// A client file whose token expired, decrypted: `get-token` refuses it and says how to get the renewed one.
#[test]
fn an_expired_token_says_git_pull() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = plain_client_file(dir.path(), "2020-01-01T00:00:00Z");
    let output = tollgate(&["client", "get-token", &file.display().to_string()]);
    fails_with(&output, "expired at 2020-01-01T00:00:00Z");
    fails_with(&output, "`git pull`");
    assert!(!stderr(&output).contains("plain-token-value"));
}

/// Runs tollgate in a new session without a controlling terminal, as a daemon or CI job would.
fn without_terminal(args: &[&str]) -> Output {
    Command::new("setsid")
        .arg("--wait")
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("setsid runs")
}

/// The RBAC authorizer's answer (a SubjectAccessReview by the admin) for `user` in `groups`.
async fn allowed(
    plane: &ControlPlane,
    user: &str,
    groups: &[&str],
    attributes: ResourceAttributes,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
            resource_attributes: Some(attributes),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(plane.admin().await)
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .expect("status")
        .allowed
}

async fn can(
    plane: &ControlPlane,
    user: &str,
    groups: &[&str],
    verb: &str,
    resource: &str,
    namespace: &str,
) -> bool {
    let (group, resource) = match resource {
        "deployments" => ("apps", resource),
        other => ("", other),
    };
    let attributes = ResourceAttributes {
        verb: Some(verb.to_owned()),
        group: Some(group.to_owned()),
        resource: Some(resource.to_owned()),
        namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
        ..Default::default()
    };
    allowed(plane, user, groups, attributes).await
}

/// Whether the client's ServiceAccount may impersonate `name` (`users` or `groups`).
async fn may_impersonate(plane: &ControlPlane, resource: &str, name: &str) -> bool {
    let attributes = ResourceAttributes {
        verb: Some("impersonate".to_owned()),
        group: Some(String::new()),
        resource: Some(resource.to_owned()),
        name: Some(name.to_owned()),
        ..Default::default()
    };
    let groups = [
        "system:serviceaccounts",
        "system:serviceaccounts:tollgate-clients",
        "system:authenticated",
    ];
    allowed(plane, ALICE_CLIENT, &groups, attributes).await
}

struct World {
    plane: ControlPlane,
    server: GitServer,
    applier: PathBuf,
    cache: tempfile::TempDir,
}

impl World {
    /// `tollgate plan` of the repository's next commit against the live cluster: its access changes, as JSON text.
    fn planned_access(&self) -> String {
        let output = self.plane.tollgate(
            &self.applier,
            &[
                "plan",
                "--repo",
                &self.server.work.display().to_string(),
                "--cluster",
                "dev",
                "--output",
                "json",
            ],
        );
        assert_success(&output);
        let plan: Value = serde_json::from_slice(&output.stdout).expect("a plan");
        plan["access"].to_string()
    }

    fn publish(&self) -> Value {
        let args = self
            .server
            .publish_args(self.cache.path(), "dev", &["--output", "json"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.plane.tollgate(&self.applier, &args);
        assert_success(&output);
        serde_json::from_slice(&output.stdout).expect("an apply report")
    }

    fn edit(&self, path: &str, change: impl FnOnce(String) -> String) {
        let path = self.server.work.join(path);
        let text = std::fs::read_to_string(&path).expect("readable");
        let changed = change(text.clone());
        assert_ne!(changed, text, "the edit of {} changes it", path.display());
        std::fs::write(&path, changed).expect("writable");
    }

    fn kubectl(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        self.plane.kubectl_as(kubeconfig, args)
    }

    /// `kubectl auth can-i` through a kubeconfig: `true` for "yes".
    fn kubectl_can(&self, kubeconfig: &Path, context: Option<&str>, check: &[&str]) -> bool {
        let mut args = vec!["auth", "can-i"];
        args.extend_from_slice(check);
        if let Some(context) = context {
            args.extend(["--context", context]);
        }
        let output = self.kubectl(kubeconfig, &args);
        let answer = stdout(&output);
        assert!(
            answer.trim() == "yes" || answer.trim() == "no",
            "kubectl auth can-i {check:?}: {answer}{}",
            stderr(&output)
        );
        answer.trim() == "yes"
    }
}

fn whoami(world: &World, kubeconfig: &Path, context: Option<&str>) -> Result<Value, String> {
    let mut args = vec!["auth", "whoami", "-o", "json"];
    if let Some(context) = context {
        args.extend(["--context", context]);
    }
    let output = world.kubectl(kubeconfig, &args);
    if output.status.success() {
        Ok(
            serde_json::from_slice::<Value>(&output.stdout).expect("JSON")["status"]["userInfo"]
                .clone(),
        )
    } else {
        Err(stderr(&output))
    }
}

/// What kubectl says when a request through `kubeconfig` fails (it must).
fn refused(world: &World, kubeconfig: &Path) -> String {
    let output = world.kubectl(kubeconfig, &["get", "pods", "-n", "monitoring"]);
    assert!(!output.status.success(), "refused: {}", stdout(&output));
    stderr(&output)
}

fn groups_of(user_info: &Value) -> Vec<String> {
    let mut groups: Vec<String> = user_info["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| g.as_str().unwrap_or_default().to_owned())
        .collect();
    groups.sort();
    groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_acts_as_its_owner_and_as_nobody_else() {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: true,
    });
    for namespace in ["apps", "monitoring", "tools"] {
        assert_success(&plane.kubectl(&["create", "namespace", namespace]));
    }
    let server = GitServer::start(&fixture());
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let world = World {
        plane,
        server,
        applier,
        cache: tempfile::tempdir().expect("temp dir"),
    };
    let api_server = world.plane.server.clone();
    world.edit("settings.yaml", |text| {
        text.replace("https://dev.k8s.example.com:6443", &api_server)
    });
    world.server.commit_and_push("The test's API server");

    // First publish: the plan shows who may act as whom, as access.
    let access = world.planned_access();
    world.publish();
    assert!(
        access.contains(&format!("impersonate user {ALICE}"))
            && access.contains("impersonate group tg:engineering"),
        "{access}"
    );

    // A person's checkout of the access repository, and their kubeconfig with someone else's context in it.
    let checkout = world.server.clone_fresh();
    let repo = checkout.path().join("clone");
    let alice_file = repo.join("artifacts/dev/alice-laptop.age");
    let home = tempfile::tempdir().expect("temp dir");
    let kubeconfig = home.path().join("config");
    for args in [
        &[
            "config",
            "set-cluster",
            "other",
            "--server=https://other.example.com:6443",
        ][..],
        &["config", "set-credentials", "other", "--token=other-token"],
        &[
            "config",
            "set-context",
            "other",
            "--cluster=other",
            "--user=other",
            "--namespace=elsewhere",
        ],
        &["config", "use-context", "other"],
    ] {
        assert_success(&world.kubectl(&kubeconfig, args));
    }
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let before = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let section = |text: &str, from: &str, to: &str| -> String {
        let start = text.find(from).expect("section") + from.len();
        let end = text[start..].find(to).map_or(text.len(), |i| start + i);
        text[start..end].to_owned()
    };
    let other_cluster = section(&before, "clusters:\n", "contexts:\n");
    let other_context = section(&before, "contexts:\n", "current-context:");
    let other_user = section(&before, "users:\n", "\u{0}");
    assert!(other_user.contains("other-token"), "{before}");

    let output = with_alices_key(
        "update-kubeconfig",
        &alice_file,
        &[
            "--kubeconfig",
            &kubeconfig.display().to_string(),
            "--use-context",
        ],
    );
    assert_success(&output);
    assert!(
        stdout(&output).contains(&format!(
            "dev/alice-laptop (acts as {ALICE} in tg:backend, tg:engineering"
        )),
        "{}",
        stdout(&output)
    );
    let after = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    for kept in [&other_cluster, &other_context, &other_user] {
        assert!(
            after.contains(kept.as_str()),
            "kept byte for byte:\n{kept}\nin\n{after}"
        );
    }
    assert_eq!(
        std::fs::metadata(&kubeconfig)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // No token on disk: the decrypted file's token is nowhere in the kubeconfig.
    let decrypted = with_alices_key("kubeconfig", &alice_file, &[]);
    assert_success(&decrypted);
    let token_kubeconfig: Value = serde_yaml::from_slice(&decrypted.stdout).expect("YAML");
    let token = token_kubeconfig["users"][0]["user"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert!(!after.contains(&token), "no token in the exec kubeconfig");
    assert_eq!(token_kubeconfig["users"][0]["user"]["as"], ALICE);

    // kubectl, through the exec plugin, is alice with her groups (nested included).
    let me = whoami(&world, &kubeconfig, None).expect("whoami works");
    assert_eq!(me["username"], ALICE);
    assert_eq!(
        groups_of(&me),
        ["system:authenticated", "tg:backend", "tg:engineering"]
    );
    // The other context still works as it did (its server is unreachable, but kubectl reads it).
    let view = world.kubectl(
        &kubeconfig,
        &[
            "config",
            "view",
            "--context",
            "other",
            "--minify",
            "-o",
            "json",
        ],
    );
    assert_success(&view);
    assert!(stdout(&view).contains("https://other.example.com:6443"));

    // What the kubeconfig may do is what RBAC says alice may do, and no more.
    let alice_groups = ["tg:backend", "tg:engineering", "system:authenticated"];
    let checks: [(&str, &str, &str, bool); 7] = [
        ("create", "deployments", "apps", true),
        ("delete", "pods", "apps", true),
        ("get", "pods", "monitoring", true),
        ("create", "deployments", "monitoring", false),
        ("get", "pods", "tools", false),
        ("get", "secrets", "kube-system", false),
        ("list", "nodes", "", false),
    ];
    for (verb, resource, namespace, expected) in checks {
        let mut args = vec![verb, resource];
        if !namespace.is_empty() {
            args.extend(["-n", namespace]);
        }
        let through_kubeconfig = world.kubectl_can(&kubeconfig, None, &args);
        let authorizer = can(
            &world.plane,
            ALICE,
            &alice_groups,
            verb,
            resource,
            namespace,
        )
        .await;
        assert_eq!(
            through_kubeconfig, authorizer,
            "{verb} {resource} -n {namespace}"
        );
        assert_eq!(authorizer, expected, "{verb} {resource} -n {namespace}");
    }
    // The client's own grants (accessAs: client) are in the `as-client` context, and only there.
    let own = Some("dev/alice-laptop/as-client");
    assert_eq!(
        whoami(&world, &kubeconfig, own).expect("whoami")["username"],
        ALICE_CLIENT
    );
    assert!(world.kubectl_can(&kubeconfig, own, &["get", "pods", "-n", "tools"]));
    assert!(!world.kubectl_can(&kubeconfig, own, &["create", "deployments", "-n", "apps"]));

    // The audit log names both the client and the person.
    let events = world.plane.requests_by(ALICE_CLIENT);
    assert!(
        events
            .iter()
            .any(|e| e["impersonatedUser"]["username"] == ALICE),
        "an audit event of {ALICE_CLIENT} acting as {ALICE}"
    );

    // The token cannot act as anyone else: another user, a group alice is not in, system:masters, a
    // ServiceAccount.
    let token_file = home.path().join("token-kubeconfig");
    std::fs::write(&token_file, &decrypted.stdout).expect("write");
    for extra in [
        &["--as", "tg:bob"][..],
        &["--as-group", "tg:Ops Team"],
        &["--as-group", "system:masters"],
        &["--as", "system:serviceaccount:kube-system:default"],
        &["--as", "system:admin"],
    ] {
        // `auth whoami` hides the API server's reason; a plain request shows it.
        let mut args = vec!["get", "pods", "-n", "monitoring"];
        args.extend_from_slice(extra);
        let output = world.kubectl(&token_file, &args);
        assert!(!output.status.success(), "{extra:?} must be refused");
        assert!(
            stderr(&output).contains("cannot impersonate"),
            "{extra:?}: {}",
            stderr(&output)
        );
    }

    // The listing: every client, its state from the cluster, who it acts as, and never a token.
    let repo_arg = repo.display().to_string();
    let kubeconfig_arg = world.applier.display().to_string();
    let output = tollgate(&[
        "clients",
        "--repo",
        &repo_arg,
        "--kubeconfig",
        &kubeconfig_arg,
        "--json",
    ]);
    assert_success(&output);
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let states: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["client"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            "alice-laptop",
            "bob-laptop",
            "dave-laptop",
            "frank-laptop",
            "shared-box"
        ]
        .map(|c| (c.to_owned(), "issued".to_owned()))
    );
    let alice_row = &rows[0];
    assert_eq!(alice_row["fromCluster"], true);
    assert_eq!(alice_row["actsAs"]["user"], ALICE);
    assert!(alice_row["state"]["tokenExpires"].is_string());
    assert_eq!(
        alice_row["published"]["commit"].as_str(),
        Some(
            stdout(&git(
                &repo,
                &[
                    "log",
                    "-1",
                    "--format=%H",
                    "--",
                    "artifacts/dev/alice-laptop.age"
                ]
            ))
            .trim()
        )
    );
    assert!(
        !stdout(&output).contains(&token),
        "the listing never shows a token"
    );
    let output = tollgate(&[
        "client",
        "inspect",
        "alice-laptop",
        "--repo",
        &repo_arg,
        "--kubeconfig",
        &kubeconfig_arg,
    ]);
    assert_success(&output);
    let shown = stdout(&output);
    assert!(
        shown.contains("state:           issued — token issued")
            && shown.contains(&format!(
                "acts as:         {ALICE} in groups tg:backend, tg:engineering"
            ))
            && !shown.contains(&token),
        "{shown}"
    );

    // Passphrase-protected identities: frank's SSH key with a passphrase works on a terminal, and says what to do
    // without one.
    let protected = home.path().join("frank-protected");
    std::fs::copy(identity("frank.ssh-ed25519"), &protected).expect("copy");
    std::fs::set_permissions(&protected, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", "correct horse", "-f"])
        .arg(&protected)
        .output()
        .expect("ssh-keygen runs");
    assert_success(&keygen);
    let frank_file = repo
        .join("artifacts/dev/frank-laptop.age")
        .display()
        .to_string();
    let protected_arg = protected.display().to_string();
    let get_token = [
        "client",
        "get-token",
        frank_file.as_str(),
        "-i",
        protected_arg.as_str(),
    ];
    let (shown, code) = common::on_terminal(&get_token, "correct horse");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("\"kind\": \"ExecCredential\""), "{shown}");
    let (shown, code) = common::on_terminal(&get_token, "wrong horse");
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("the passphrase is wrong"), "{shown}");
    let output = without_terminal(&get_token);
    fails_with(
        &output,
        "protected by a passphrase and there is no terminal",
    );
    fails_with(&output, "age-keygen");
    // An age identity file encrypted with a passphrase (`age -p`), as `age -d -i` reads it.
    let encrypted_identity = home.path().join("alice.agekey.age");
    std::fs::write(
        &encrypted_identity,
        passphrase_encrypted(
            &std::fs::read(identity("alice.agekey")).expect("identity"),
            "open sesame",
        ),
    )
    .expect("write");
    let (shown, code) = common::on_terminal(
        &[
            "client",
            "get-token",
            &alice_file.display().to_string(),
            "-i",
            &encrypted_identity.display().to_string(),
        ],
        "open sesame",
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains(&token),
        "the terminal shows the ExecCredential"
    );

    // alice leaves backend (and so engineering): the next reconcile takes both groups away.
    world.edit("people.yaml", |text| {
        text.replace(
            "  name: backend\nspec:\n  members: [alice]\n",
            "  name: backend\nspec:\n  members: []\n",
        )
    });
    world.server.commit_and_push("alice leaves backend");
    let access = world.planned_access();
    let report = world.publish();
    assert_eq!(
        report["publish"]["changes"][0]["client"], "alice-laptop",
        "{report}"
    );
    assert!(
        access.contains("impersonate group tg:backend"),
        "the plan shows the loss: {access}"
    );
    assert!(!may_impersonate(&world.plane, "groups", "tg:backend").await);
    assert!(may_impersonate(&world.plane, "users", ALICE).await);
    // The kubeconfig still says she is in those groups: the API server refuses, until she pulls...
    let refusal = refused(&world, &kubeconfig);
    assert!(refusal.contains("cannot impersonate"), "{refusal}");
    assert_success(&git(&repo, &["pull", "--quiet"]));
    // ...and then tollgate says what changed and what to run.
    let refusal = refused(&world, &kubeconfig);
    assert!(
        refusal.contains("now acts as tg:alice@example.com")
            && refusal.contains(&format!(
                "tollgate client update-kubeconfig {} -i {}",
                alice_file.display(),
                identity("alice.agekey").display()
            )),
        "{refusal}"
    );
    let output = with_alices_key(
        "update-kubeconfig",
        &alice_file,
        &["--kubeconfig", &kubeconfig.display().to_string()],
    );
    assert_success(&output);
    let me = whoami(&world, &kubeconfig, None).expect("whoami works again");
    assert_eq!(groups_of(&me), ["system:authenticated"]);
    assert!(!world.kubectl_can(&kubeconfig, None, &["create", "deployments", "-n", "apps"]));
    assert!(world.kubectl_can(&kubeconfig, None, &["get", "pods", "-n", "monitoring"]));
    let after_update = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    for kept in [&other_cluster, &other_context, &other_user] {
        assert!(
            after_update.contains(kept.as_str()),
            "still kept byte for byte"
        );
    }

    // A cluster with OIDC turns impersonation off: the rules go, the client file says so.
    world.edit("settings.yaml", |text| {
        text.replace(
            &format!("      apiServer: {api_server}\n"),
            &format!("      apiServer: {api_server}\n      impersonation: false\n"),
        )
    });
    world.server.commit_and_push("dev uses OIDC");
    let access = world.planned_access();
    world.publish();
    assert!(
        access.contains(&format!("impersonate user {ALICE}")),
        "{access}"
    );
    assert!(!may_impersonate(&world.plane, "users", ALICE).await);
    assert_success(&git(&repo, &["pull", "--quiet"]));
    let refusal = refused(&world, &kubeconfig);
    assert!(
        refusal.contains("does not act as its owner any more"),
        "{refusal}"
    );
    let plain = with_alices_key("kubeconfig", &alice_file, &[]);
    assert_success(&plain);
    let plain: Value = serde_yaml::from_slice(&plain.stdout).expect("YAML");
    assert!(plain["users"][0]["user"].get("as").is_none(), "{plain}");
    assert_eq!(
        plain["users"].as_array().map(Vec::len),
        Some(1),
        "no as-client user either"
    );
}

/// `plaintext` encrypted to a passphrase and armored, as `age -p -a` writes it.
fn passphrase_encrypted(plaintext: &[u8], passphrase: &str) -> Vec<u8> {
    use std::io::Write as _;
    let encryptor = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(
        passphrase.to_owned(),
    ));
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .expect("armor");
    let mut writer = encryptor.wrap_output(armor).expect("encrypt");
    writer.write_all(plaintext).expect("write");
    writer
        .finish()
        .and_then(age::armor::ArmoredWriter::finish)
        .expect("finish");
    out
}

/// A copy of the fixture to change.
fn fixture_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temp dir");
    harness::git::copy_tree(&fixture(), copy.path());
    copy
}

fn edit_file(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("readable");
    assert!(text.contains(from), "{from} in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("writable");
}

#[test]
fn clients_are_listed_with_their_state_and_why() {
    let copy = fixture_copy();
    let root = copy.path();
    edit_file(
        &root.join("people.yaml"),
        "  name: dave\nspec:\n",
        "  name: dave\nspec:\n  disabled: true\n",
    );
    edit_file(
        &root.join("clients.yaml"),
        "  name: frank-laptop\nspec:\n",
        "  name: frank-laptop\nspec:\n  sunset: \"2026-06-01T00:00:00Z\"\n",
    );
    std::fs::create_dir_all(root.join("artifacts/dev")).expect("mkdir");
    for stray in ["alice-laptop", "old-box"] {
        std::fs::write(root.join(format!("artifacts/dev/{stray}.age")), "age file").expect("write");
    }
    let repo = root.display().to_string();
    let args = [
        "clients",
        "--repo",
        &repo,
        "--offline",
        "--now",
        "2026-12-01T00:00:00Z",
    ];
    let table = tollgate(&args);
    assert_success(&table);
    insta::assert_snapshot!("clients_offline", stdout(&table));
    let json = tollgate(&[&args[..], &["--json"]].concat());
    let rows: Vec<Value> = serde_json::from_slice(&json.stdout).expect("JSON");
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["client"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("alice-laptop", "issued"),
            ("bob-laptop", "pending"),
            ("dave-laptop", "waiting for an owner"),
            ("frank-laptop", "sunset"),
            ("old-box", "revoked"),
            ("shared-box", "pending"),
        ]
    );
    let inspect = tollgate(&[
        "client",
        "inspect",
        "dave-laptop",
        "--repo",
        &repo,
        "--offline",
        "--now",
        "2026-12-01T00:00:00Z",
    ]);
    assert_success(&inspect);
    insta::assert_snapshot!("inspect_waiting_for_an_owner", stdout(&inspect));
    let missing = tollgate(&["client", "inspect", "nobody", "--repo", &repo, "--offline"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("there is no client `nobody`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn client_new_writes_valid_documents_or_nothing() {
    let copy = fixture_copy();
    let root = copy.path();
    let repo = root.display().to_string();
    let output = tollgate(&[
        "client",
        "new",
        "erin-laptop",
        "--owner",
        "alice",
        "--default-namespace",
        "apps",
        "--repo",
        &repo,
    ]);
    assert_success(&output);
    // Beside the repository's other clients (here: at the top, in clients.yaml's folder).
    let written = std::fs::read_to_string(root.join("erin-laptop.yaml")).expect("written");
    insta::assert_snapshot!("client_new", written);
    let output = tollgate(&[
        "client", "new", "runner", "--owner", "bob", "--owner", "carol", "--count", "2",
        "--no-vpn", "--repo", &repo,
    ]);
    assert_success(&output);
    assert!(root.join("runner-1.yaml").is_file() && root.join("runner-2.yaml").is_file());
    let output = tollgate(&[
        "client", "new", "runner", "--owner", "bob", "--count", "1", "--repo", &repo,
    ]);
    assert_success(&output);
    assert!(root.join("runner-3.yaml").is_file(), "the next free name");
    let validate = tollgate(&["validate", "--repo", &repo]);
    assert_success(&validate);

    // Invalid input: the error names the file, line and field, and nothing is written.
    let output = tollgate(&[
        "client",
        "new",
        "zed-laptop",
        "--owner",
        "zed",
        "--repo",
        &repo,
    ]);
    fails_with(
        &output,
        "zed-laptop.yaml:6:12: spec.owners[0]: unknown user `zed`",
    );
    fails_with(&output, "nothing was written");
    assert!(!root.join("zed-laptop.yaml").exists());
    let output = tollgate(&[
        "client",
        "new",
        "alice-laptop",
        "--owner",
        "alice",
        "--repo",
        &repo,
    ]);
    fails_with(&output, "already a client `alice-laptop`");
    let output = tollgate(&[
        "client",
        "new",
        "x",
        "--owner",
        "alice",
        "--cluster",
        "nowhere",
        "--repo",
        &repo,
    ]);
    fails_with(&output, "nowhere");
}

/// A decrypted client file (JSON) whose token expires at `expires`, acting as users whose names start with `-`,
/// for the offline tests.
fn plain_client_file(dir: &Path, expires: &str) -> PathBuf {
    let file = dir.join("dev-alice.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "formatVersion": 1,
            "client": "alice-laptop",
            "cluster": "dev",
            "kubernetes": {
                "server": "https://dev.k8s.example.com:6443",
                "certificateAuthority": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "token": "plain-token-value",
                "tokenExpires": expires,
                "impersonate": {"user": "-alice", "groups": ["-ops"]},
            },
        })
        .to_string(),
    )
    .expect("write");
    file
}

#[test]
fn update_kubeconfig_leaves_alone_what_it_must_not_touch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let in_an_hour = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let file = plain_client_file(dir.path(), &in_an_hour.to_string())
        .display()
        .to_string();
    let update = |kubeconfig: &str, extra: &[&str]| {
        tollgate(
            &[
                &[
                    "client",
                    "update-kubeconfig",
                    &file,
                    "--kubeconfig",
                    kubeconfig,
                ][..],
                extra,
            ]
            .concat(),
        )
    };

    // Not a regular file: refused (as root, /dev/null would otherwise become a file).
    let output = update("/dev/null", &[]);
    fails_with(&output, "not a regular file");
    assert!(std::fs::metadata("/dev/null").is_ok_and(|m| !m.is_file()));

    // Flow style: kubectl reads `yes` as a boolean, a rewrite would make it a string; refused, unchanged.
    let flow = dir.path().join("flow");
    let text = "{apiVersion: v1, kind: Config, clusters: [{name: x, cluster: {server: 'https://x', insecure-skip-tls-verify: yes}}]}\n";
    std::fs::write(&flow, text).expect("write");
    let output = update(&flow.display().to_string(), &[]);
    fails_with(&output, "kubectl config view --raw");
    assert_eq!(std::fs::read_to_string(&flow).expect("read"), text);

    // Someone else's context of the name asked for: refused, unchanged.
    let mine = dir.path().join("mine");
    let text = "apiVersion: v1\nkind: Config\ncontexts:\n- context:\n    cluster: home\n    user: home\n  name: home\ncurrent-context: home\n";
    std::fs::write(&mine, text).expect("write");
    let output = update(&mine.display().to_string(), &["--context-name", "home"]);
    fails_with(&output, "has a context `home` of its own");
    assert_eq!(std::fs::read_to_string(&mine).expect("read"), text);

    // Another writer holds kubectl's lock: tollgate waits, then says so, and writes nothing.
    let lock = dir.path().join("mine.lock");
    std::fs::write(&lock, "").expect("lock");
    let output = update(&mine.display().to_string(), &[]);
    fails_with(&output, "is locked by another writer");
    std::fs::remove_file(&lock).expect("unlock");

    // Otherwise it merges: names that start with `-` reach get-token as values, not options; kubectl reads the
    // result, and the exec plugin it names prints the token.
    let output = update(&mine.display().to_string(), &[]);
    assert_success(&output);
    assert!(!lock.exists(), "the lock is released");
    let merged: Value =
        serde_yaml::from_str(&std::fs::read_to_string(&mine).expect("read")).expect("YAML");
    let exec = &merged["users"][0]["user"]["exec"];
    let args: Vec<String> = exec["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        args.ends_with(&["--as=-alice".to_owned(), "--as-group=-ops".to_owned()]),
        "{args:?}"
    );
    assert_eq!(
        merged["current-context"], "home",
        "the user's current context stays"
    );
    let output = Command::new(exec["command"].as_str().expect("command"))
        .args(&args)
        .output()
        .expect("the plugin runs");
    assert_success(&output);
    let credential: Value = serde_json::from_slice(&output.stdout).expect("an ExecCredential");
    assert_eq!(credential["status"]["token"], "plain-token-value");
    assert!(
        !std::fs::read_to_string(&mine)
            .expect("read")
            .contains("plain-token-value")
    );
}
