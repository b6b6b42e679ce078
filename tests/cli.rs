//! The `tollgate` command as users run it: output snapshots and exit codes.

mod common;

use std::process::{Command, Output};

fn tollgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .args(["--now", "2026-11-22T12:00:00Z"])
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

/// `tollgate plan` of example-repo's prod cluster, with `extra` arguments.
fn plan_prod(extra: &[&str]) -> Output {
    let mut args = vec!["plan", "--repo", "example-repo", "--cluster", "prod"];
    args.extend(extra);
    tollgate(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

#[test]
fn offline_plan_of_the_example_repo() {
    let output = plan_prod(&["--offline"]);
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&output));
}

/// A CI step that takes exit 2 of `--detailed-exitcode` as "changes" must not pass on a typo: argument errors exit
/// 1, with clap's message; help exits 0.
#[test]
fn a_mistyped_argument_exits_1_not_2() {
    for typo in [
        &["--offline", "--output", "markdwon", "--detailed-exitcode"][..],
        &["--offline", "--outptu", "json", "--detailed-exitcode"][..],
    ] {
        let output = plan_prod(typo);
        assert_eq!(output.status.code(), Some(1), "{typo:?}");
        assert!(output.stdout.is_empty(), "{typo:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{typo:?}: {stderr}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plan", "--help"])
        .output()
        .expect("the binary runs");
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("--detailed-exitcode"));
}

#[test]
fn detailed_exitcode_is_3_for_a_second_look_2_for_changes_and_0_without() {
    // Against an empty cluster, staging gives cluster-admin, edit and a NET_ADMIN session: a second look.
    let changed = tollgate(&[
        "plan",
        "--repo",
        "example-repo",
        "--cluster",
        "staging",
        "--offline",
        "--detailed-exitcode",
    ]);
    assert_eq!(changed.status.code(), Some(3));
    assert!(stdout(&changed).contains("Needs a second look"));

    // Render the desired objects, then plan against them: nothing to do.
    let rendered = tollgate(&["render", "--repo", "example-repo", "--cluster", "staging"]);
    assert_eq!(rendered.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.yaml");
    std::fs::write(&live, rendered.stdout).unwrap();
    let same = tollgate(&[
        "plan",
        "--repo",
        "example-repo",
        "--cluster",
        "staging",
        "--live-from",
        live.to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    assert!(stdout(&same).contains("No changes"));

    // Only the `logs` ClusterRole missing (reading pod logs): a change, but no power over others.
    let text = std::fs::read_to_string(&live).unwrap();
    let without: Vec<&str> = text
        .split("---\n")
        .filter(|doc| {
            !(doc.contains("kind: ClusterRole\n") && doc.contains("name: \"tollgate:logs\"\n"))
        })
        .collect();
    assert!(
        without.len() < text.split("---\n").count(),
        "the logs ClusterRole is rendered"
    );
    std::fs::write(&live, without.join("---\n")).unwrap();
    let logs = tollgate(&[
        "plan",
        "--repo",
        "example-repo",
        "--cluster",
        "staging",
        "--live-from",
        live.to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    assert_eq!(logs.status.code(), Some(2), "{}", stdout(&logs));
    assert!(!stdout(&logs).contains("Needs a second look"));
}

#[test]
fn markdown_and_json_views_of_the_same_plan() {
    let markdown = tollgate(&[
        "plan",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--offline",
        "--output",
        "markdown",
    ]);
    insta::assert_snapshot!("plan_markdown", stdout(&markdown));
    let json = tollgate(&[
        "plan",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--offline",
        "--output",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(plan["formatVersion"], 1);
    assert_eq!(plan["summary"]["create"], 23);
    assert_eq!(plan["changes"].as_array().unwrap().len(), 23);
    assert!(
        plan["access"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"]["name"] == "ci-deployer")
    );
}

#[test]
fn an_invalid_repository_fails_with_diagnostics_and_plans_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::root().join("tests/fixtures/base.yaml"),
        dir.path().join("base.yaml"),
    )
    .unwrap();
    std::fs::copy(
        common::root().join("tests/fixtures/invalid/unknown-field.yaml"),
        dir.path().join("access.yaml"),
    )
    .unwrap();
    let repo = dir.path().to_str().unwrap();
    let output = tollgate(&["plan", "--repo", repo, "--cluster", "staging", "--offline"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no plan is printed");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("access.yaml:10:7: spec.grants[0].namespace: unknown field `namespace`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `namespaces`?"));

    let validate = tollgate(&["validate", "--repo", repo]);
    assert_eq!(validate.status.code(), Some(1));
}

#[test]
fn validate_reports_the_example_repo_valid() {
    let output = tollgate(&["validate", "--repo", "example-repo"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "example-repo: 27 documents in 22 files are valid\n"
    );
}

#[test]
fn unknown_cluster_is_a_clear_error() {
    let output = tollgate(&[
        "plan",
        "--repo",
        "example-repo",
        "--cluster",
        "dev",
        "--offline",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown cluster `dev`"), "{stderr}");
}

#[test]
fn apply_names_the_kubeconfig_it_cannot_read() {
    let output = tollgate(&[
        "apply",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--kubeconfig",
        "tests/no-such-kubeconfig",
        "--yes",
    ]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr));
}

#[test]
fn apply_validates_the_whole_repository_before_it_connects() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::root().join("example-repo/settings.yaml"),
        dir.path().join("settings.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: Group\nmetadata:\n  name: x\nspec:\n  memebrs: [a]\n",
    )
    .unwrap();
    let output = tollgate(&[
        "apply",
        "--repo",
        dir.path().to_str().unwrap(),
        "--cluster",
        "prod",
        "--kubeconfig",
        "tests/no-such-kubeconfig",
        "--yes",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(dir.path().to_str().unwrap(), "<repo>");
    assert!(!stderr.contains("kubeconfig"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

/// `tollgate ... | head` ends quietly when the pipe closes, with the status a shell gives SIGPIPE (128 + 13).
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // The reading end is closed before tollgate starts, so its first write meets a closed pipe.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["completions", "bash"])
        .stdout(writer)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(141));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn names_from_a_live_file_cannot_rewrite_the_plan() {
    // A RoleBinding with tollgate's labels that the repository does not compile to (so it is pruned), named and
    // binding a subject with terminal control characters: a fake "Plan" line, a cleared line, a reversed name.
    let dir = tempfile::tempdir().expect("temp dir");
    let live = dir.path().join("live.json");
    let binding = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": "x\u{1b}[2K\rPlan: 0 to create",
            "namespace": "payments",
            "labels": {"app.kubernetes.io/managed-by": "tollgate", "tollgate.dev/instance": "prod"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tollgate:view"},
        "subjects": [{"kind": "User", "name": "mallory\nNo changes\u{202e}"}],
    });
    std::fs::write(&live, binding.to_string()).expect("write");
    let output = plan_prod(&["--live-from", live.to_str().expect("UTF-8")]);
    let text = stdout(&output);
    assert!(
        !text.contains(['\u{1b}', '\r', '\u{202e}']),
        "raw control characters in:\n{text}"
    );
    assert!(
        text.contains("RoleBinding payments/x\\u{1b}[2K\\u{d}Plan: 0 to create"),
        "{text}"
    );
    assert!(
        text.contains("user mallory\\u{a}No changes\\u{202e}"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("No changes")), "{text}");
}

/// `plan` and `apply` list the cluster while they validate; an invalid repository still fails with its diagnostics
/// alone and at once, without waiting for a credential plugin that takes its time (here: two minutes).
#[test]
fn an_invalid_repository_does_not_wait_for_the_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    std::fs::copy(
        common::root().join("example-repo/settings.yaml"),
        repo.join("settings.yaml"),
    )
    .expect("copy");
    std::fs::write(
        repo.join("broken.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: Group\nmetadata:\n  name: x\nspec:\n  memebrs: [a]\n",
    )
    .expect("write");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: slow\n\
         clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: sleep, args: ['120'], \
         interactiveMode: Never}}}]\n\
         contexts: [{name: slow, context: {cluster: c, user: u}}]\n",
    )
    .expect("write");
    for args in [&["plan"][..], &["apply", "--yes"]] {
        let command = args[0];
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(args)
            .args(["--repo", repo.to_str().expect("UTF-8"), "--cluster", "prod"])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        // Not a speed figure: a hang check, far below the plugin's two minutes.
        let started = std::time::Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("`tollgate {command}` waited for the cluster with an invalid repository");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.contains("spec.memebrs"), "{command}: {stderr}");
        assert!(
            !stderr.contains("kube") && !stderr.contains("127.0.0.1"),
            "{command}: a cluster message among the diagnostics: {stderr}"
        );
    }
}

/// Kubernetes' `view` (cut down), as `kubectl get clusterroles -o yaml` writes it, in a file under `dir`.
fn view_role_file(dir: &std::path::Path) -> std::path::PathBuf {
    let roles = dir.join("clusterroles.yaml");
    std::fs::write(
        &roles,
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRole\n  \
         metadata:\n    name: view\n  rules:\n  - apiGroups: [\"\"]\n    resources: [pods, configmaps]\n    verbs: [get, list, watch]\n",
    )
    .unwrap();
    roles
}

/// `tollgate who-can` as a reviewer reads it: who, as whom, through which binding and role, from which file; the
/// built-in roles it cannot see named on stderr.
#[test]
fn who_can_lists_people_and_clients_with_their_binding() {
    let output = tollgate(&[
        "who-can",
        "create",
        "pods/exec",
        "-n",
        "payments",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--offline",
    ]);
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&output));
    // The snapshot holds it too: offline, the cluster's bindings were not read (said on stdout), and Kubernetes'
    // `view` is taken as v1.34 defines it, so it is not an unknown role.
    assert!(stdout(&output).contains("were not read"));
    assert!(!stdout(&output).contains("not known"));
    // The grant behind bob's client's binding, as file:line (the JSON has the document and the grant's index).
    let json = tollgate(&[
        "who-can",
        "create",
        "pods/exec",
        "-n",
        "payments",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--offline",
        "--json",
    ]);
    let answer: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let bob = answer["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["who"]["name"] == "bob-laptop")
        .expect("bob's client can");
    assert_eq!(
        bob["grants"],
        serde_json::json!([{"file": "access/incident.yaml", "access": "payments-migration", "index": 0, "line": 13}])
    );

    // Offline, grace reads configmaps in search through Kubernetes' default `view`.
    let offline = tollgate(&[
        "who-can",
        "list",
        "configmaps",
        "-n",
        "search",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--offline",
        "--json",
    ]);
    assert_eq!(offline.status.code(), Some(0));
    let answer: serde_json::Value = serde_json::from_slice(&offline.stdout).unwrap();
    assert!(
        answer["answers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["who"]["name"] == "grace"),
        "{answer:#}"
    );
    assert_eq!(answer["unknownRoles"], serde_json::json!([]));
    assert_eq!(answer["complete"], false);

    // With Kubernetes' `view` from a file (as `kubectl get clusterroles -o yaml` writes it), grace, who reads
    // search on prod as herself, is found through her own login (configmaps: only `view` of her roles has them).
    let dir = tempfile::tempdir().unwrap();
    let roles = view_role_file(dir.path());
    let output = tollgate(&[
        "who-can",
        "list",
        "configmaps",
        "-n",
        "search",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--roles-from",
        roles.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let grace = answer["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["who"]["name"] == "grace")
        .unwrap_or_else(|| panic!("grace can list configmaps in search: {answer:#}"));
    assert_eq!(grace["username"], "oidc:grace@example.com");
    assert_eq!(grace["role"]["name"], "view");
    assert_eq!(grace["binding"]["namespace"], "search");
}

/// who-can reads RESOURCE as kubectl does, and asks what the API server would be asked: short, singular and kind
/// names and `resource.version.group` resolved, a Namespace's name as its namespace, no namespace for a
/// cluster-scoped resource; what it cannot read is refused with exit 1.
#[test]
fn who_can_asks_what_the_api_server_would_be_asked() {
    let asked = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["who-can"];
        all.extend(args);
        all.extend([
            "--repo",
            "example-repo",
            "--cluster",
            "prod",
            "--offline",
            "--json",
        ]);
        let output = tollgate(&all);
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        answer["request"].clone()
    };
    for written in [
        "deploy",
        "deployment",
        "Deployment",
        "deployments.apps",
        "deployments.v1.apps",
    ] {
        let request = asked(&["get", written, "-n", "payments"]);
        assert_eq!(request["resource"], "deployments", "{written}");
        assert_eq!(request["apiGroup"], "apps", "{written}");
        assert_eq!(request["namespace"], "payments", "{written}");
    }
    let request = asked(&["delete", "ns", "payments"]);
    assert_eq!(
        (
            &request["resource"],
            &request["namespace"],
            &request["name"]
        ),
        (&"namespaces".into(), &"payments".into(), &"payments".into())
    );
    let request = asked(&["get", "nodes", "-n", "payments"]);
    assert_eq!(request["namespace"], "");
    let request = asked(&["update", "deployments.apps/scale", "web", "-n", "search"]);
    assert_eq!(request["subresource"], "scale");
    assert_eq!(request["name"], "web");
    assert_eq!(asked(&["get", "/healthz"])["kind"], "nonResource");
    for bad in [
        &["get", "pods//log"][..],
        &["get", ".apps"],
        &["get", "Widgets"],
        &["get", "pods", "-n", "Bad!"],
    ] {
        let mut all = vec!["who-can"];
        all.extend(bad);
        all.extend(["--repo", "example-repo", "--cluster", "prod", "--offline"]);
        let output = tollgate(&all);
        assert_eq!(output.status.code(), Some(1), "{bad:?}");
        assert!(output.stdout.is_empty(), "{bad:?}");
    }
}

/// `tollgate can` as a reviewer reads it: the identities, then every rule with where it holds and why.
#[test]
fn can_lists_every_rule_with_where_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let roles = view_role_file(dir.path());
    let output = tollgate(&[
        "can",
        "grace",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--roles-from",
        roles.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!(stdout(&output));
    let missing = tollgate(&[
        "can",
        "client/nobody",
        "--repo",
        "example-repo",
        "--cluster",
        "prod",
        "--offline",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("client `nobody` is not in the repository")
    );
}

/// An access test the grants break refuses the repository: `validate` and `plan` exit 1 with the test's file, line
/// and question, and the binding (with its files) that breaks a `deny`, or who lacks an `allow`.
#[test]
fn an_access_test_that_does_not_hold_refuses_the_repository() {
    let repo = common::example_copy();
    // bob's incident grant (access/incident.yaml) gives his client exec in payments on prod: a team member may not.
    // carol (payments) has no client and prod gives the team nothing as themselves: she cannot deploy.
    std::fs::write(
        repo.path().join("tests/payments.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: AccessTest\nmetadata:\n  name: payments\nspec:\n  cluster: prod\n  \
         deny:\n    - subjects: {groups: [payments]}\n      verb: create\n      resource: pods/exec\n      \
         namespace: payments\n  allow:\n    - subjects: {users: [carol], clients: [ci-deployer]}\n      verb: create\n      \
         resource: deploy\n      namespace: payments\n",
    )
    .unwrap();
    let path = repo.path().to_str().unwrap();
    let validate = tollgate(&["validate", "--repo", path]);
    assert_eq!(validate.status.code(), Some(1));
    let text = stdout(&validate);
    assert!(
        text.contains(
            "error[access-test-failed]: tests/payments.yaml:8:7: spec.deny[0]: `create pods/exec in payments` must be \
             denied, but client bob-laptop (owned by bob) may through RoleBinding payments/tollgate:exec -> \
             ClusterRole tollgate:exec (access/incident.yaml)"
        ),
        "{text}"
    );
    // ci-deployer deploys in payments (access/ci.yaml); only carol lacks it. A failing `allow` is a warning (an
    // expiry alone may cause it, and the controller must still apply the repository), but validate still fails.
    assert!(
        text.contains(
            "warning[access-test-failed]: tests/payments.yaml:13:7: spec.allow[0]: `create deployments.apps in payments` \
             must be allowed, but user carol may not (as themselves or through a client they own)"
        ),
        "{text}"
    );
    let plan = tollgate(&["plan", "--repo", path, "--cluster", "prod", "--offline"]);
    assert_eq!(plan.status.code(), Some(1));
    assert_eq!(stdout(&plan), "", "nothing is planned");
    // The other cluster is not asked: staging plans.
    let staging = tollgate(&["plan", "--repo", path, "--cluster", "staging", "--offline"]);
    assert_eq!(
        staging.status.code(),
        Some(1),
        "the repository as a whole is refused"
    );

    // When the incident grant expires, the deny holds; carol still lacks the allow.
    let later = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["validate", "--repo", path, "--now", "2027-04-01T00:00:00Z"])
        .output()
        .unwrap();
    let text = stdout(&later);
    assert!(!text.contains("spec.deny[0]"), "{text}");
    assert!(text.contains("spec.allow[0]"), "{text}");
}

/// The past, from the checkout's first-parent history as the stock `git` writes it: `who-can --at` a date or a
/// revision answers as the repository stood then (a commit that does not validate is skipped, and said), and
/// `timeline` lists when a person's access changed, with the commit.
#[test]
fn the_past_is_read_from_the_first_parent_history() {
    let repo = common::example_copy();
    let path = repo.path().to_str().unwrap().to_owned();
    let git = |args: &[&str], date: &str| {
        let output = Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let commit = |message: &str, date: &str| {
        git(&["add", "-A"], date);
        git(&["commit", "-q", "-m", message], date);
    };
    git(&["init", "-q", "-b", "main"], "2026-11-01T10:00:00Z");
    commit("The example organisation", "2026-11-01T10:00:00Z");
    let grant = repo.path().join("access/carol.yaml");
    std::fs::write(
        &grant,
        "apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata:\n  name: carol-exec\nspec:\n  subjects:\n    \
         users: [carol]\n  accessAs: user\n  grants:\n    - role: exec\n      cluster: prod\n      namespaces: [payments]\n",
    )
    .unwrap();
    commit("Carol may exec in payments", "2026-11-10T10:00:00Z");
    std::fs::write(&grant, "apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata:\n  name: broken\nspec: {}\n")
        .unwrap();
    commit("A broken commit", "2026-11-15T10:00:00Z");
    std::fs::remove_file(&grant).unwrap();
    commit("Carol's exec ends", "2026-11-20T10:00:00Z");

    let who = |at: &str| -> (Vec<String>, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args([
                "who-can",
                "create",
                "pods/exec",
                "-n",
                "payments",
                "--repo",
                &path,
                "--cluster",
                "prod",
            ])
            .args(["--at", at, "--json"])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let names = answer["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["who"]["name"].as_str().unwrap().to_owned())
            .collect();
        (
            names,
            answer["asOf"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let (before, _) = who("2026-11-05");
    assert!(!before.contains(&"carol".to_owned()), "{before:?}");
    let (granted, summary) = who("2026-11-12");
    assert!(granted.contains(&"carol".to_owned()), "{granted:?}");
    assert_eq!(summary, "Carol may exec in payments");
    // The broken commit was never applied: the one before it answers.
    let (broken, summary) = who("HEAD~1");
    assert!(broken.contains(&"carol".to_owned()), "{broken:?}");
    assert_eq!(summary, "Carol may exec in payments");
    let (after, _) = who("HEAD");
    assert!(!after.contains(&"carol".to_owned()), "{after:?}");
    // Since which commit: carol since her grant (the broken commit above it passed over), bob's client since the
    // first commit.
    let since = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "who-can",
            "create",
            "pods/exec",
            "-n",
            "payments",
            "--repo",
            &path,
            "--cluster",
            "prod",
            "--at",
            "HEAD~1",
            "--since",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        since.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&since.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&since.stdout).unwrap();
    let since_of = |name: &str| {
        answer["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["who"]["name"] == name)
            .map(|a| a["since"]["summary"].clone())
    };
    assert_eq!(
        since_of("carol"),
        Some("Carol may exec in payments".into()),
        "{answer:#}"
    );
    assert_eq!(
        since_of("bob-laptop"),
        Some("The example organisation".into()),
        "{answer:#}"
    );
    let unknown = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "who-can",
            "get",
            "pods",
            "--repo",
            &path,
            "--cluster",
            "prod",
            "--at",
            "2020-01-01",
        ])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("names no commit"));

    let timeline = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "timeline",
            "user/carol",
            "--repo",
            &path,
            "--cluster",
            "prod",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        timeline.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&timeline.stderr)
    );
    let entries: serde_json::Value = serde_json::from_slice(&timeline.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    let summaries: Vec<&str> = entries
        .iter()
        .map(|e| e["revision"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "Carol may exec in payments",
            "A broken commit",
            "Carol's exec ends"
        ],
        "{entries:#?}"
    );
    let gained: Vec<&str> = entries[0]["gained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(
        gained
            .iter()
            .any(|g| g.starts_with("payments: create,get pods/exec")
                && g.contains("ClusterRole tollgate:exec (access/carol.yaml")),
        "{gained:?}"
    );
    assert!(
        entries[1]["skipped"]
            .as_str()
            .unwrap()
            .contains("never applied")
    );
    assert_eq!(entries[2]["lost"], entries[0]["gained"]);
    assert_eq!(
        entries[0]["revision"]["author"],
        "Alice <alice@example.com>"
    );
}

/// The plan says what role and binding changes mean, request by request: a verb added to a custom role is exactly
/// that verb gained where its holders hold the role, and a grant taken away is every request it gave, lost.
#[test]
fn the_plan_shows_the_permissions_gained_and_lost() {
    let repo = common::example_copy();
    let path = repo.path().to_str().unwrap();
    let rendered = tollgate(&["render", "--repo", path, "--cluster", "staging"]);
    assert_eq!(rendered.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.yaml");
    std::fs::write(&live, rendered.stdout).unwrap();
    let role = repo.path().join("roles/deployer.yaml");
    let text = std::fs::read_to_string(&role).unwrap();
    std::fs::write(
        &role,
        text.replacen("\"patch\"]", "\"patch\", \"delete\"]", 1),
    )
    .unwrap();
    let grants = repo.path().join("access/teams.yaml");
    let text = std::fs::read_to_string(&grants).unwrap();
    std::fs::write(
        &grants,
        text.replacen(
            "namespaces: [search, search-indexer]",
            "namespaces: [search]",
            1,
        ),
    )
    .unwrap();
    let plan = tollgate(&[
        "plan",
        "--repo",
        path,
        "--cluster",
        "staging",
        "--live-from",
        live.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(plan.status.code(), Some(0), "{}", stdout(&plan));
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let permissions = json["permissions"].as_array().expect("permissions");
    let deployer: Vec<&serde_json::Value> = permissions
        .iter()
        .filter(|p| p["subject"]["name"] == "ci-deployer")
        .collect();
    assert_eq!(deployer.len(), 2, "{permissions:#?}");
    for change in deployer {
        assert_eq!(
            change["gained"],
            serde_json::json!(["delete deployments.apps, statefulsets.apps"]),
            "{change}"
        );
        assert!(change.get("lost").is_none(), "{change}");
    }
    // The search team's edit in search-indexer is gone: every request of `edit` there is lost, nothing gained.
    let lost: Vec<&serde_json::Value> = permissions
        .iter()
        .filter(|p| p["namespace"] == "search-indexer")
        .collect();
    assert!(!lost.is_empty(), "{permissions:#?}");
    for change in lost {
        assert!(change.get("gained").is_none(), "{change}");
        let lines = change["lost"].as_array().expect("lost").len();
        assert!(lines >= 2, "{change}");
        assert!(
            change["lost"].as_array().unwrap().iter().any(|l| l
                .as_str()
                .unwrap()
                .starts_with("create, delete, deletecollection, patch, update")),
            "{change}"
        );
    }
    assert!(
        permissions
            .iter()
            .all(|p| p["subject"]["name"] == "ci-deployer" || p["namespace"] == "search-indexer"),
        "{permissions:#?}"
    );
}
