//! Live plan and apply against a real control plane: what tollgate applies is checked with the real RBAC
//! authorizer (SubjectAccessReview) against an expectation derived independently from the fixture, and every
//! safety rule of apply (drift repair, prune, conflicts, deletion guard, saved plans, API errors, zero-write
//! reconciles) is exercised with the stock tools and the apiserver's audit log as witnesses.

mod common;
mod expected;
mod harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use expected::{CHECKS, CLUSTER_CHECKS, Expected};
use harness::{APPLIER_TOKEN, APPLIER_USER, ControlPlane, Options, UNPRIVILEGED_TOKEN};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};

/// Every test applies at this time, so the fixture's expiring grant is active whatever day the tests run.
const NOW: &str = "2026-12-01T00:00:00Z";
/// The namespaces the example organisation's grants name; tollgate binds in them but does not own them.
const TEAM_NAMESPACES: &[&str] = &["payments", "search", "search-indexer"];

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON on stdout ({e}):\n{}\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

fn example_repo() -> PathBuf {
    common::root().join("example-repo")
}

/// A control plane without kube-controller-manager never fills Kubernetes' aggregated roles (`view` grants
/// nothing), so example-repo's access test ("the platform team lists pods in prod") fails when `apply` asks the
/// cluster: tests on such a plane leave it out.
fn without_access_test(repo: &tempfile::TempDir) {
    std::fs::remove_file(repo.path().join("tests/prod.yaml"))
        .expect("example-repo has an access test");
}

fn setup(plane: &ControlPlane) {
    for namespace in TEAM_NAMESPACES {
        let out = plane.kubectl(&["create", "namespace", namespace]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

fn apply_args<'a>(repo: &'a str, cluster: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "apply",
        "--repo",
        repo,
        "--cluster",
        cluster,
        "--now",
        NOW,
        "--yes",
    ];
    args.extend_from_slice(extra);
    args
}

fn plan_args<'a>(repo: &'a str, cluster: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "plan",
        "--repo",
        repo,
        "--cluster",
        cluster,
        "--now",
        NOW,
        "--color",
        "never",
    ];
    args.extend_from_slice(extra);
    args
}

async fn allowed(
    client: &Client,
    user: &str,
    groups: &[String],
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((resource, sub)) => (resource, Some(sub.to_owned())),
        None => (resource, None),
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: Some(groups.to_vec()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                subresource,
                namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .expect("a decision")
        .allowed
}

/// The authorizer's answer once it has caught up: RBAC reads bindings from an informer cache, so right after an
/// apply an answer may still be the old one. Asks again while it differs from `want`, for up to 5 s, and returns
/// the last answer; a real mismatch stays one.
#[allow(clippy::too_many_arguments)]
async fn settled(
    client: &Client,
    user: &str,
    groups: &[String],
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    want: bool,
) -> bool {
    let mut answer = allowed(client, user, groups, verb, group, resource, namespace).await;
    for _ in 0..50 {
        if answer == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = allowed(client, user, groups, verb, group, resource, namespace).await;
    }
    answer
}

/// The aggregated default roles (view, edit, admin) get their rules from kube-controller-manager.
fn wait_for_aggregated_roles(plane: &ControlPlane) {
    let started = std::time::Instant::now();
    loop {
        let out = plane.kubectl(&["get", "clusterrole", "view", "-o", "jsonpath={.rules}"]);
        if out.status.success() && stdout(&out).len() > 10 {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the view ClusterRole was never aggregated"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Applies example-repo to `cluster`, then asks the real authorizer every question of the matrix for every
/// subject and compares with the independent expectation; then proves a second apply writes nothing.
async fn rbac_matrix(cluster: &str) {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: true,
    });
    setup(&plane);
    wait_for_aggregated_roles(&plane);
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let repo = example_repo();
    let repo = repo.to_str().expect("utf-8 path");

    let rendered = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["render", "--repo", repo, "--cluster", cluster, "--now", NOW])
        .output()
        .expect("render");
    assert_exit(&rendered, 0);
    let object_count = stdout(&rendered).matches("\n---\n").count() + 1;

    let out = plane.tollgate(&applier, &apply_args(repo, cluster, &["--output", "json"]));
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["summary"]["created"], object_count, "{report:#}");
    assert_eq!(report["summary"]["failed"], 0);

    let admin = plane.admin().await;
    let expected = Expected::derive(Path::new(repo), cluster, NOW);
    let mut namespaces: Vec<&str> = TEAM_NAMESPACES.to_vec();
    namespaces.extend(["tollgate-sessions", "kube-system", "unrelated"]);
    let (mut asked, mut granted) = (0, 0);
    let mut mismatches = Vec::new();
    for identity in &expected.identities {
        let questions = namespaces
            .iter()
            .flat_map(|ns| CHECKS.iter().map(move |c| (c, *ns)))
            .chain(CLUSTER_CHECKS.iter().map(|c| (c, "")));
        for (check, namespace) in questions {
            let want = expected.allows(identity, check, namespace);
            let got = settled(
                &admin,
                &identity.user,
                &identity.groups,
                check.verb,
                check.group,
                check.resource,
                namespace,
                want,
            )
            .await;
            asked += 1;
            granted += usize::from(got);
            if want != got {
                mismatches.push(format!(
                    "{}: {} {}{} in {:?}: expected {want}, the authorizer says {got}",
                    identity.label,
                    check.verb,
                    if check.group.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", check.group)
                    },
                    check.resource,
                    namespace
                ));
            }
        }
    }
    eprintln!(
        "{cluster}: {asked} SubjectAccessReviews, {granted} allowed, {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        granted > 50 && granted < asked / 2,
        "the matrix must hold both answers: {granted} of {asked}"
    );

    // A second apply of the same repository: no writes at all, one LIST per managed kind.
    let before = plane.requests_by(APPLIER_USER).len();
    let out = plane.tollgate(&applier, &apply_args(repo, cluster, &["--output", "json"]));
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["summary"]["unchanged"], object_count, "{report:#}");
    let second: Vec<Value> = plane
        .requests_by(APPLIER_USER)
        .into_iter()
        .skip(before)
        .collect();
    // Besides the access tests' SubjectAccessReviews (prod has one), which write nothing.
    let reviews = second
        .iter()
        .filter(|e| e["objectRef"]["resource"] == "subjectaccessreviews")
        .count();
    assert_eq!(
        reviews > 0,
        cluster == "prod",
        "{reviews} SubjectAccessReviews"
    );
    // Besides the access tests' SubjectAccessReviews, one GET of the record of what was applied and one of the
    // session directory (which their writes after a change would need anyway).
    let verbs: Vec<&str> = second
        .iter()
        .filter(|e| e["objectRef"]["resource"] != "subjectaccessreviews")
        .filter(|e| e["objectRef"]["name"] != "tollgate-applied")
        .filter(|e| e["objectRef"]["name"] != "tollgate-sessions")
        .filter_map(|e| e["verb"].as_str())
        .collect();
    assert!(
        verbs.iter().all(|v| *v == "list"),
        "a no-op apply only lists: {verbs:?}"
    );
    assert_eq!(verbs.len(), 7, "one LIST per managed kind: {verbs:?}");

    // The same with pages of 3 objects: every page is read (a missed one would show as creates and writes).
    let before = plane.requests_by(APPLIER_USER).len();
    let out = plane.tollgate(
        &applier,
        &apply_args(
            repo,
            cluster,
            &["--output", "json", "--list-page-size", "3"],
        ),
    );
    assert_exit(&out, 0);
    assert_eq!(json(&out)["summary"]["unchanged"], object_count);
    let paged: Vec<Value> = plane
        .requests_by(APPLIER_USER)
        .into_iter()
        .skip(before)
        .filter(|e| e["objectRef"]["resource"] != "subjectaccessreviews")
        .filter(|e| e["objectRef"]["name"] != "tollgate-applied")
        .filter(|e| e["objectRef"]["name"] != "tollgate-sessions")
        .collect();
    assert!(
        paged.iter().all(|e| e["verb"] == "list"),
        "paging adds no writes"
    );
    let managed = object_count;
    assert!(
        paged.len() >= managed / 3,
        "{} LISTs for {managed} objects in pages of 3",
        paged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_grants_exactly_what_the_repository_says() {
    rbac_matrix("prod").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_grants_exactly_what_the_repository_says() {
    rbac_matrix("staging").await;
}

/// The name of the first managed object of `kind` in `namespace` (for bindings) as the cluster holds it.
fn managed_names(plane: &ControlPlane, kind: &str, namespace: &str) -> Vec<String> {
    let out = plane.kubectl(&[
        "get",
        kind,
        "-n",
        namespace,
        "-l",
        "tollgate.dev/instance=prod",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).split_whitespace().map(str::to_owned).collect()
}

fn changes_of<'a>(plan: &'a Value, action: &str) -> Vec<&'a Value> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == action)
        .collect()
}

fn writes(plane: &ControlPlane) -> usize {
    plane.writes_by(APPLIER_USER).len()
}

/// Drift, replace, removal, conflicts, the deletion guard, saved plans and API errors, one after the other on one
/// cluster, each checked with kubectl, the authorizer and the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_repairs_prunes_and_refuses_what_is_unsafe() {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: true,
    });
    setup(&plane);
    wait_for_aggregated_roles(&plane);
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let repo_dir = common::example_copy();
    let repo = repo_dir.path().to_str().expect("utf-8 path");
    let admin = plane.admin().await;

    // Without --yes and without a terminal, nothing is written.
    let out = plane.tollgate(
        &applier,
        &["apply", "--repo", repo, "--cluster", "prod", "--now", NOW],
    );
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("refusing to apply without --yes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&plane), 0);

    // A saved plan applies what was reviewed.
    let saved = repo_dir.path().join("../tollgate-first.plan.json");
    let saved = saved.to_str().expect("utf-8");
    let out = plane.tollgate(
        &applier,
        &plan_args(repo, "prod", &["--out", saved, "--detailed-exitcode"]),
    );
    // 3, not 2: the first apply gives exec in payments and in the toolbox sessions (a second look).
    assert_exit(&out, 3);
    let out = plane.tollgate(&applier, &["apply", saved, "--yes"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("Apply complete"), "{}", stdout(&out));
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &["--detailed-exitcode"]));
    assert_exit(&out, 0);

    // example-repo's access test (tests/prod.yaml: the CI robot never reads secrets in payments) asked of the
    // cluster's own authorizer after an apply: a binding made by hand breaks it, though the repository passes it.
    let out = plane.kubectl(&[
        "create",
        "rolebinding",
        "by-hand",
        "-n",
        "payments",
        "--clusterrole=edit",
        "--serviceaccount=tollgate-clients:ci-deployer",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &[]));
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(
            "error[access-test-failed-in-cluster]: tests/prod.yaml: spec.deny[0]: `get secrets in payments` must be \
             denied, but client ci-deployer may in the cluster (RBAC: allowed by RoleBinding \"by-hand/payments\""
        ),
        "{}",
        stderr(&out)
    );
    let out = plane.kubectl(&["delete", "rolebinding", "by-hand", "-n", "payments"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &[]));
    assert_exit(&out, 0);

    // Drift: a binding edited by hand and another deleted; plan shows both, apply restores both.
    let bindings = managed_names(&plane, "rolebindings", "payments");
    assert!(bindings.len() >= 2, "{bindings:?}");
    let (edited, deleted) = (&bindings[0], &bindings[1]);
    assert_eq!(edited, "tollgate:deployer");
    let out = plane.kubectl(&[
        "patch", "rolebinding", edited, "-n", "payments", "--type=json",
        "-p", r#"[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"mallory","apiGroup":"rbac.authorization.k8s.io"}}]"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.kubectl(&["delete", "rolebinding", deleted, "-n", "payments"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.tollgate(
        &applier,
        &plan_args(repo, "prod", &["--output", "json", "--detailed-exitcode"]),
    );
    // 3: restoring the deleted binding (exec in payments) gives back a power the cluster no longer grants.
    assert_exit(&out, 3);
    let plan = json(&out);
    assert_eq!(
        plan["secondLook"][0]["detail"], "create pods/exec",
        "{:#}",
        plan["secondLook"]
    );
    let updates = changes_of(&plan, "update");
    assert_eq!(updates.len(), 1, "{plan:#}");
    assert_eq!(updates[0]["object"]["name"], edited.as_str());
    assert_eq!(updates[0]["fields"][0]["path"], "subjects");
    let creates = changes_of(&plan, "create");
    assert_eq!(creates.len(), 1, "{plan:#}");
    assert_eq!(creates[0]["object"]["name"], deleted.as_str());
    let mallory = |client: Client, want: bool| async move {
        // The first binding in payments is the deployer's, which reads deployments.
        settled(
            &client,
            "mallory",
            &[],
            "get",
            "apps",
            "deployments",
            "payments",
            want,
        )
        .await
    };
    assert!(
        mallory(admin.clone(), true).await,
        "the hand edit grants mallory access"
    );
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &["--output", "json"]));
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(
        (
            report["summary"]["updated"].as_u64(),
            report["summary"]["created"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(
        !mallory(admin.clone(), false).await,
        "apply removed the hand-added subject"
    );
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &["--detailed-exitcode"]));
    assert_exit(&out, 0);

    // Replace: a managed binding whose roleRef was changed (delete + create by hand, labels kept) is replaced.
    let out = plane.kubectl(&["get", "rolebinding", edited, "-n", "payments", "-o", "json"]);
    let mut binding: Value = serde_json::from_slice(&out.stdout).expect("binding JSON");
    let original_role = binding["roleRef"]["name"].clone();
    binding["roleRef"]["name"] = "admin".into();
    for field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
    ] {
        binding["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove(field);
    }
    let tampered = repo_dir.path().join("../tampered.json");
    std::fs::write(&tampered, binding.to_string()).expect("write");
    assert!(
        plane
            .kubectl(&["delete", "rolebinding", edited, "-n", "payments"])
            .status
            .success()
    );
    let out = plane.kubectl(&["create", "-f", tampered.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &["--output", "json"]));
    let plan = json(&out);
    let replaces = changes_of(&plan, "replace");
    assert_eq!(replaces.len(), 1, "{plan:#}");
    assert!(
        replaces[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("roleRef")
    );
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &["--output", "json"]));
    assert_exit(&out, 0);
    assert_eq!(json(&out)["summary"]["replaced"], 1);
    let out = plane.kubectl(&[
        "get",
        "rolebinding",
        edited,
        "-n",
        "payments",
        "-o",
        "jsonpath={.roleRef.name}",
    ]);
    assert_eq!(Value::from(stdout(&out)), original_role);

    // Removal: grace's port-forward grant leaves the repository; apply prunes it; the authorizer says no.
    let grace = |client: Client, want: bool| async move {
        settled(
            &client,
            "oidc:grace@example.com",
            &[],
            "create",
            "",
            "pods/portforward",
            "search",
            want,
        )
        .await
    };
    assert!(grace(admin.clone(), true).await);
    let teams = repo_dir.path().join("access/teams.yaml");
    let text = std::fs::read_to_string(&teams).expect("teams.yaml");
    let without = text.replace(
        "    - role: port-forward\n      cluster: prod\n      namespaces: [search]\n",
        "",
    );
    assert_ne!(text, without, "the fixture has grace's port-forward grant");
    std::fs::write(&teams, without).expect("write");
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &["--output", "json"]));
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(report["summary"]["deleted"], 1, "{report:#}");
    assert!(
        !grace(admin.clone(), false).await,
        "the pruned grant no longer holds"
    );

    // Conflict: a same-named object without tollgate's labels is reported and left alone; --adopt takes it over.
    let victim = &managed_names(&plane, "rolebindings", "search")[0];
    assert!(
        plane
            .kubectl(&["delete", "rolebinding", victim, "-n", "search"])
            .status
            .success()
    );
    let out = plane.kubectl(&[
        "create",
        "rolebinding",
        victim,
        "-n",
        "search",
        "--clusterrole=view",
        "--user=someone",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &["--output", "json"]));
    assert_eq!(changes_of(&json(&out), "conflict").len(), 1);
    let before = writes(&plane);
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &[]));
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&format!("RoleBinding search/{victim}")),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--adopt"), "{}", stderr(&out));
    assert_eq!(writes(&plane), before, "a refused apply writes nothing");
    let out = plane.kubectl(&[
        "get",
        "rolebinding",
        victim,
        "-n",
        "search",
        "-o",
        "jsonpath={.subjects[0].name}",
    ]);
    assert_eq!(
        stdout(&out),
        "someone",
        "the unlabelled object is untouched"
    );
    let out = plane.tollgate(
        &applier,
        &apply_args(repo, "prod", &["--adopt", "--output", "json"]),
    );
    assert_exit(&out, 0);
    assert_eq!(json(&out)["summary"]["adopted"], 1);
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &["--detailed-exitcode"]));
    assert_exit(&out, 0);

    // A saved plan is refused once the cluster has moved.
    let stale = repo_dir.path().join("../tollgate-stale.plan.json");
    let stale = stale.to_str().expect("utf-8");
    std::fs::write(
        repo_dir.path().join("access/teams.yaml"),
        text.replace("grace", "erin"),
    )
    .expect("write");
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &["--out", stale]));
    assert_exit(&out, 0);
    let out = plane.kubectl(&[
        "label",
        "rolebinding",
        victim,
        "-n",
        "search",
        "touched=yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = writes(&plane);
    let out = plane.tollgate(&applier, &["apply", stale, "--yes"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has changed since the plan"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&plane), before);
    std::fs::write(repo_dir.path().join("access/teams.yaml"), &text).expect("write");

    // A broken repository applies nothing.
    std::fs::write(
        repo_dir.path().join("access/broken.yaml"),
        "kind: UserAccess\nspec: [\n",
    )
    .expect("write");
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &[]));
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("access/broken.yaml:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&plane), before);
    std::fs::remove_file(repo_dir.path().join("access/broken.yaml")).expect("rm");

    // An empty repository (Settings only) would delete nearly everything: the guard refuses (every binding gone),
    // the flags proceed (one for mass deletion, one for the environment's Namespace).
    let empty = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        repo_dir.path().join("settings.yaml"),
        empty.path().join("settings.yaml"),
    )
    .expect("copy");
    let empty = empty.path().to_str().expect("utf-8").to_owned();
    let out = plane.tollgate(&applier, &plan_args(&empty, "prod", &["--output", "json"]));
    let guard = &json(&out)["deletionGuard"];
    assert!(
        guard["deletes"].as_u64() > Some(3)
            && guard["deletes"] == guard["managed"]
            && guard["reason"]
                .as_str()
                .is_some_and(|r| r.contains("every one of the")),
        "{}",
        stdout(&out)
    );
    let out = plane.tollgate(
        &applier,
        &apply_args(&empty, "prod", &["--allow-mass-deletion"]),
    );
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("--allow-namespace-deletion"),
        "the environment's Namespace needs its own flag: {}",
        stderr(&out)
    );
    assert_eq!(writes(&plane), before, "refused before any write");
    let out = plane.tollgate(&applier, &apply_args(&empty, "prod", &[]));
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("deletion guard refuses"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&plane), before, "the guard refuses before any write");
    let out = plane.tollgate(
        &applier,
        &apply_args(
            &empty,
            "prod",
            &[
                "--allow-mass-deletion",
                "--allow-namespace-deletion",
                "--output",
                "json",
            ],
        ),
    );
    assert_exit(&out, 0);
    assert!(json(&out)["summary"]["deleted"].as_u64() > Some(10));
    assert!(managed_names(&plane, "rolebindings", "payments").is_empty());

    // Too few permissions: the API server's refusals fail the apply, naming each object and the reason, and the
    // report says what was and was not done.
    let out = plane.kubectl(&[
        "create",
        "clusterrole",
        "half-applier",
        "--verb=get,list,create,patch,delete",
        "--resource=namespaces,serviceaccounts,podtemplates",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.kubectl(&["create", "clusterrole", "half-applier-reads", "--verb=list",
        "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,clusterroles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for role in ["half-applier", "half-applier-reads"] {
        let out = plane.kubectl(&[
            "create",
            "clusterrolebinding",
            role,
            &format!("--clusterrole={role}"),
            "--user=nobody",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let nobody = plane.kubeconfig_for("nobody", UNPRIVILEGED_TOKEN);
    let report_path = repo_dir.path().join("../report.json");
    let out = plane.tollgate(
        &nobody,
        &apply_args(
            repo,
            "prod",
            &["--report", report_path.to_str().expect("utf-8")],
        ),
    );
    assert_exit(&out, 1);
    let message = stderr(&out);
    assert!(message.contains("the apply failed for"), "{message}");
    assert!(
        message.contains("RoleBinding payments/") && message.contains("403 Forbidden"),
        "{message}"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report")).expect("report JSON");
    assert!(
        report["summary"]["created"].as_u64() > Some(0),
        "{report:#}"
    );
    assert!(report["summary"]["failed"].as_u64() > Some(0), "{report:#}");
    // (The session namespace deleted above is still terminating without a controller manager: writes into it
    // fail too, so look at the clients' ServiceAccounts.)
    let outcome_of = |kind: &str, namespace: &str| {
        report["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["object"]["kind"] == kind && o["object"]["namespace"] == namespace)
            .map(|o| o["outcome"].clone())
    };
    assert_eq!(
        outcome_of("ServiceAccount", "tollgate-clients"),
        Some("created".into())
    );
    assert_eq!(outcome_of("RoleBinding", "payments"), Some("failed".into()));
}

/// Ownership from evidence tollgate wrote, against a real API server: a Namespace made from a copy of a
/// tollgate-made YAML (labels and all, written by kubectl) is shown as unowned and never pruned; a Namespace
/// tollgate did create is deleted only with its own flag, and the plan says how many objects live in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_only_what_tollgate_wrote_and_never_a_namespace_by_routine() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: true,
    });
    setup(&plane);
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let repo_dir = common::example_copy();
    without_access_test(&repo_dir);
    let repo = repo_dir.path().to_str().expect("utf-8");
    assert_exit(&plane.tollgate(&applier, &apply_args(repo, "prod", &[])), 0);

    // A team namespace created from a copy of tollgate's YAML: labels, but only kubectl's field manager.
    let copied = repo_dir.path().join("../copied.yaml");
    std::fs::write(
        &copied,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: payments-sandbox\n  labels:\n    \
         app.kubernetes.io/managed-by: tollgate\n    tollgate.dev/instance: prod\n",
    )
    .expect("write");
    let out = plane.kubectl(&["apply", "-f", copied.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["a", "b"] {
        let out = plane.kubectl(&["create", "configmap", name, "-n", "sessions-toolbox"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    // The toolbox environment is retired: its Namespace (with the two ConfigMaps) would go.
    std::fs::remove_file(repo_dir.path().join("environments/toolbox.yaml")).expect("rm");
    let platform = repo_dir.path().join("access/platform.yaml");
    let text = std::fs::read_to_string(&platform).expect("read");
    std::fs::write(
        &platform,
        text.replace("    - environment: toolbox\n      cluster: prod\n", ""),
    )
    .expect("write");
    let out = plane.tollgate(&applier, &plan_args(repo, "prod", &[]));
    let plan = stdout(&out);
    assert!(
        plan.contains("? Namespace payments-sandbox")
            && plan.contains("`kubectl-client-side-apply`")
            && !plan.contains("- Namespace payments-sandbox"),
        "{plan}"
    );
    assert!(
        // The two ConfigMaps, and tollgate's own ServiceAccount, PodTemplate, the session Role and the session
        // gateway's Role, and their RoleBindings.
        plan.contains(
            "- Namespace sessions-toolbox (it holds 8 object(s): 2 configmaps, 2 rolebindings, 2 roles, 1 podtemplates"
        ),
        "{plan}"
    );
    let before = writes(&plane);
    let out = plane.tollgate(&applier, &apply_args(repo, "prod", &[]));
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("--allow-namespace-deletion"),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&plane), before, "refused before any write");
    let out = plane.tollgate(
        &applier,
        &apply_args(
            repo,
            "prod",
            &["--allow-namespace-deletion", "--output", "json"],
        ),
    );
    assert_exit(&out, 0);
    let report = json(&out);
    let outcome = |name: &str| {
        report["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["object"]["kind"] == "Namespace" && o["object"]["name"] == name)
            .map(|o| o["outcome"].clone())
    };
    assert_eq!(outcome("sessions-toolbox"), Some(Value::from("deleted")));
    assert_eq!(outcome("payments-sandbox"), Some(Value::from("unchanged")));
    let out = plane.kubectl(&["get", "namespace", "payments-sandbox"]);
    assert!(out.status.success(), "the copied namespace stays");
}

/// The kinds tollgate manages, as kubectl names them: a dump of these is what `--live-from` reads.
const MANAGED_KINDS: &str =
    "namespaces,serviceaccounts,clusterroles,roles,podtemplates,clusterrolebindings,rolebindings";

/// The parts of a JSON plan that depend on what was read, not on where it was read from.
fn read_parts(plan: &Value) -> Value {
    serde_json::json!({
        "summary": plan["summary"],
        "changes": plan["changes"],
        "access": plan["access"],
        "deletionGuard": plan["deletionGuard"],
    })
}

/// The live state is read two ways: from the cluster (LIST pages decoded field by field as text, `managedFields`
/// cut by the decoder, unlabelled objects found by a metadata-only LIST) and from a `kubectl get -o json` dump of
/// the same objects (`--live-from`, read as whole JSON trees). On drift of every sort the two plans must be the
/// same, object by object and subject by subject.
fn plans_from_cluster_and_dump_agree(cluster: &str) {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        audit_log: false,
    });
    setup(&plane);
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let repo_dir = common::example_copy();
    without_access_test(&repo_dir);
    // alice logs in to staging as herself too: her laptop's client then acts as her there (an impersonation role).
    std::fs::write(
        repo_dir.path().join("access/alice-staging.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata:\n  name: alice-staging\nspec:\n  \
         subjects:\n    users: [alice]\n  accessAs: user\n  grants:\n    - role: view\n      cluster: staging\n      \
         namespaces: [search]\n",
    )
    .expect("write a grant");
    let repo = repo_dir.path().to_str().expect("utf-8 path");
    let dump = plane.dir.path().join("live-dump.json");
    let dump = dump.to_str().expect("utf-8");
    let compare = |moment: &str| {
        let out = plane.tollgate(&applier, &plan_args(repo, cluster, &["--output", "json"]));
        assert_exit(&out, 0);
        let from_cluster = json(&out);
        let out = plane.kubectl(&[
            "get",
            MANAGED_KINDS,
            "-A",
            "-o",
            "json",
            "--show-managed-fields",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::write(dump, &out.stdout).expect("write the dump");
        let out = plane.tollgate(
            &applier,
            &plan_args(repo, cluster, &["--output", "json", "--live-from", dump]),
        );
        assert_exit(&out, 0);
        let from_dump = json(&out);
        assert_eq!(
            read_parts(&from_cluster),
            read_parts(&from_dump),
            "{cluster}, {moment}: the plan from the cluster differs from the plan from its dump"
        );
        from_cluster
    };
    let empty = compare("before apply");
    assert!(
        changes_of(&empty, "create").len() > 10,
        "{}",
        empty["summary"]
    );
    let out = plane.tollgate(&applier, &apply_args(repo, cluster, &[]));
    assert_exit(&out, 0);
    let applied = compare("after apply");
    assert!(
        changes_of(&applied, "create").is_empty(),
        "{}",
        applied["summary"]
    );

    // Drift of every sort.
    let instance = format!("tollgate.dev/instance={cluster}");
    let out = plane.kubectl(&[
        "get",
        "rolebindings",
        "-A",
        "-l",
        &instance,
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    let bindings: Vec<(&str, &str)> = listed
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(namespace, _)| TEAM_NAMESPACES.contains(namespace))
        .collect();
    assert!(bindings.len() >= 3, "{bindings:?}");
    for args in [
        // A subject added by hand, with a field tollgate never writes, and quotes and non-ASCII in its name.
        vec![
            "patch",
            "rolebinding",
            bindings[0].1,
            "-n",
            bindings[0].0,
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"m\u00e4llory \"x\"","apiGroup":"rbac.authorization.k8s.io","namespace":"payments"}}]"#,
        ],
        // tollgate's label removed: no longer its object, and a name it wants to create (a conflict).
        vec![
            "label",
            "rolebinding",
            bindings[1].1,
            "-n",
            bindings[1].0,
            "app.kubernetes.io/managed-by-",
        ],
        // Deleted: a create.
        vec!["delete", "rolebinding", bindings[2].1, "-n", bindings[2].0],
        // An annotation of someone else's on an object of tollgate's.
        vec![
            "annotate",
            "namespace",
            "tollgate-clients",
            "note=hand-made",
        ],
        // An object tollgate never wrote that carries its labels.
        vec![
            "create",
            "rolebinding",
            "hand-made",
            "-n",
            "search",
            "--clusterrole",
            "view",
            "--user",
            "eve",
        ],
        vec![
            "label",
            "rolebinding",
            "hand-made",
            "-n",
            "search",
            "app.kubernetes.io/managed-by=tollgate",
            &instance,
        ],
    ] {
        let out = plane.kubectl(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    // Where clients act as their owners (staging), an impersonation role changed by hand while every binding stays
    // as it is: whose access changes is then read from the bindings the plan leaves alone too.
    let out = plane.kubectl(&["get", "clusterroles", "-o", "name"]);
    let impersonation = stdout(&out)
        .lines()
        .find(|line| line.contains("tollgate:impersonate:"))
        .map(|line| {
            line.trim_start_matches("clusterrole.rbac.authorization.k8s.io/")
                .to_owned()
        });
    if let Some(role) = &impersonation {
        let out = plane.kubectl(&[
            "patch",
            "clusterrole",
            role,
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/rules/0/resourceNames","value":["someone-else"]}]"#,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let drifted = compare("after drift");
    for action in ["update", "create", "conflict", "unowned"] {
        assert!(
            !changes_of(&drifted, action).is_empty(),
            "a {action}: {}",
            drifted["summary"]
        );
    }
    assert!(
        drifted["access"].as_array().is_some_and(|a| !a.is_empty()),
        "the drift changes someone's access: {}",
        drifted["access"]
    );
    assert_eq!(
        impersonation.is_some(),
        cluster == "staging",
        "alice's laptop acts as alice on staging, not on prod (impersonation off)"
    );
}

#[test]
fn prod_plans_the_same_from_the_cluster_and_from_its_dump() {
    plans_from_cluster_and_dump_agree("prod");
}

#[test]
fn staging_plans_the_same_from_the_cluster_and_from_its_dump() {
    plans_from_cluster_and_dump_agree("staging");
}

/// A control plane (aggregating ClusterRoles) with example-repo's `cluster` applied by tollgate, an admin client,
/// and what the fixture grants, derived independently.
async fn example_applied(cluster: &str) -> (ControlPlane, Client, Expected) {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: false,
    });
    setup(&plane);
    wait_for_aggregated_roles(&plane);
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let repo = example_repo();
    let repo = repo.to_str().expect("utf-8 path");
    let out = plane.tollgate(&applier, &apply_args(repo, cluster, &[]));
    assert_exit(&out, 0);
    let admin = plane.admin().await;
    let expected = Expected::derive(Path::new(repo), cluster, NOW);
    (plane, admin, expected)
}

/// `tollgate who-can` against the authorizer: for every question of the matrix, the people and clients it lists as
/// themselves are exactly the identities of the repository (derived independently from its YAML) that
/// SubjectAccessReview allows, with the cluster's own ClusterRoles read live.
async fn who_can_matrix(cluster: &str) {
    let (plane, admin, expected) = example_applied(cluster).await;
    let repo = example_repo();
    let repo = repo.to_str().expect("utf-8 path");
    let mut namespaces: Vec<&str> = TEAM_NAMESPACES.to_vec();
    namespaces.extend(["kube-system", ""]);
    let (mut listed, mut asked) = (0, 0);
    let mut mismatches = Vec::new();
    for namespace in namespaces {
        let checks = if namespace.is_empty() {
            CLUSTER_CHECKS
        } else {
            CHECKS
        };
        for check in checks {
            let resource = match (check.group, check.resource.split_once('/')) {
                ("", _) => check.resource.to_owned(),
                (group, Some((resource, sub))) => format!("{resource}.{group}/{sub}"),
                (group, None) => format!("{}.{group}", check.resource),
            };
            let mut args = vec![
                "who-can",
                check.verb,
                &resource,
                "--repo",
                repo,
                "--cluster",
                cluster,
                "--now",
                NOW,
                "--json",
            ];
            if !namespace.is_empty() {
                args.extend(["-n", namespace]);
            }
            let out = plane.tollgate(&plane.kubeconfig, &args);
            assert_exit(&out, 0);
            let answer = json(&out);
            assert!(
                answer["unknownRoles"].as_array().is_some_and(Vec::is_empty),
                "every role is known with the cluster's: {answer}"
            );
            assert_eq!(answer["clusterBindingsIncluded"], true);
            let allowed: std::collections::BTreeSet<&str> = answer["answers"]
                .as_array()
                .expect("answers")
                .iter()
                .filter(|a| a["who"]["actingAs"].is_null())
                .filter_map(|a| a["username"].as_str())
                .collect();
            listed += allowed.len();
            // Group probes (a made-up member of one group) are not people of the repository: who-can names people.
            for identity in expected
                .identities
                .iter()
                .filter(|i| !i.label.starts_with("group "))
            {
                let want = allowed.contains(identity.user.as_str());
                // Every authenticated identity is in system:authenticated, which the cluster's default bindings
                // name (who-can reads them from the cluster).
                let mut groups = identity.groups.clone();
                groups.push("system:authenticated".to_owned());
                let got = settled(
                    &admin,
                    &identity.user,
                    &groups,
                    check.verb,
                    check.group,
                    check.resource,
                    namespace,
                    want,
                )
                .await;
                asked += 1;
                if got != want {
                    mismatches.push(format!(
                        "{} {} {resource} in {namespace:?}: who-can {want}, SubjectAccessReview {got}",
                        identity.label, check.verb
                    ));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        asked > 200 && listed > 20,
        "{asked} questions, {listed} listed"
    );
    // What every login may do comes from the cluster's default bindings, not the repository: every person is
    // listed for it, through a binding the answer says is the cluster's.
    let out = plane.tollgate(
        &plane.kubeconfig,
        &[
            "who-can",
            "get",
            "/healthz",
            "--repo",
            repo,
            "--cluster",
            cluster,
            "--now",
            NOW,
            "--json",
        ],
    );
    assert_exit(&out, 0);
    let answer = json(&out);
    let users: std::collections::BTreeSet<&str> = answer["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .filter(|a| a["who"]["kind"] == "user" && a["outsideRepository"] == true)
        .filter_map(|a| a["who"]["name"].as_str())
        .collect();
    let people = expected
        .identities
        .iter()
        .filter(|i| i.label.starts_with("user "))
        .count();
    assert_eq!(
        users.len(),
        people,
        "every person may GET /healthz: {answer}"
    );

    // A binding given tollgate's labels by hand is not tollgate's: its subjects are listed, as the cluster's.
    let instance = format!("tollgate.dev/instance={cluster}");
    for args in [
        &[
            "create",
            "clusterrolebinding",
            "backdoor",
            "--clusterrole",
            "cluster-admin",
            "--user",
            "oidc:erin",
        ][..],
        &[
            "label",
            "clusterrolebinding",
            "backdoor",
            "app.kubernetes.io/managed-by=tollgate",
            &instance,
        ],
    ] {
        let out = plane.kubectl(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let ask = |args: &[&str]| {
        let mut all = vec!["who-can"];
        all.extend(args);
        all.extend(["--repo", repo, "--cluster", cluster, "--now", NOW, "--json"]);
        let out = plane.tollgate(&plane.kubeconfig, &all);
        assert_exit(&out, 0);
        json(&out)
    };
    let answer = ask(&["delete", "secrets", "-n", "kube-system"]);
    let erin = answer["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .find(|a| a["who"]["name"] == "erin" && a["binding"]["name"] == "backdoor")
        .unwrap_or_else(|| panic!("the hand-made, hand-labelled binding counts: {answer:#}"));
    assert_eq!(erin["outsideRepository"], true);
    // A hand edit of one of tollgate's own bindings: the answer says it is incomplete, and where.
    let out = plane.kubectl(&[
        "get",
        "rolebindings",
        "-A",
        "-l",
        &instance,
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}"#,
    ]);
    let listed = stdout(&out);
    let (namespace, name) = listed
        .lines()
        .find_map(|l| l.split_once(' '))
        .expect("a RoleBinding of tollgate's");
    let out = plane.kubectl(&[
        "patch", "rolebinding", name, "-n", namespace, "--type=json", "-p",
        r#"[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"mallory","apiGroup":"rbac.authorization.k8s.io"}}]"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer = ask(&["get", "/healthz"]);
    assert_eq!(answer["complete"], false, "{answer:#}");
    let changed = answer["drift"]["changed"].to_string();
    assert!(changed.contains(name), "{changed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_can_on_prod_lists_exactly_whom_the_authorizer_allows() {
    who_can_matrix("prod").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_can_on_staging_lists_exactly_whom_the_authorizer_allows() {
    who_can_matrix("staging").await;
}

/// Whether one rule of `tollgate can --json` covers a question (RBAC's matching, written again here from the
/// Kubernetes documentation: `*` everywhere, `*/sub`, no names).
fn covers(rule: &Value, verb: &str, group: &str, resource: &str) -> bool {
    let has = |field: &str, wanted: &str| {
        rule[field]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i == "*" || i == wanted))
    };
    let subresource = resource.split_once('/').map(|(_, sub)| sub);
    let resource_matches = rule["resources"].as_array().is_some_and(|items| {
        items.iter().filter_map(Value::as_str).any(|r| {
            r == "*" || r == resource || subresource.is_some_and(|sub| r == format!("*/{sub}"))
        })
    });
    has("verbs", verb)
        && has("apiGroups", group)
        && resource_matches
        && rule["resourceNames"].as_array().is_none_or(Vec::is_empty)
}

/// `tollgate can` against the authorizer: for every person and client of the repository, every question of the
/// matrix that SubjectAccessReview allows is covered by a rule `can` lists for them there (nothing missing), and
/// every concrete rule it lists is allowed by SubjectAccessReview where it says (nothing invented).
async fn can_matrix(cluster: &str) {
    let (plane, admin, expected) = example_applied(cluster).await;
    let repo = example_repo();
    let repo = repo.to_str().expect("utf-8 path");
    let mut problems = Vec::new();
    let (mut covered, mut confirmed) = (0, 0);
    for identity in &expected.identities {
        let subject = match identity.label.split_once(' ') {
            Some(("user", name)) => format!("user/{name}"),
            Some(("client", name)) => format!("client/{name}"),
            _ => continue,
        };
        let out = plane.tollgate(
            &plane.kubeconfig,
            &[
                "can",
                &subject,
                "--repo",
                repo,
                "--cluster",
                cluster,
                "--now",
                NOW,
                "--json",
            ],
        );
        if subject.starts_with("client/") && out.status.code() == Some(1) {
            // A client of another cluster: not here.
            assert!(
                stderr(&out).contains("is not in the repository"),
                "{}",
                stderr(&out)
            );
            continue;
        }
        assert_exit(&out, 0);
        let answer = json(&out);
        let rules: Vec<&Value> = answer["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .filter(|r| r["actingAs"].is_null())
            .collect();
        let mut groups = identity.groups.clone();
        groups.push("system:authenticated".to_owned());
        // Nothing missing.
        let mut namespaces: Vec<&str> = TEAM_NAMESPACES.to_vec();
        namespaces.extend(["kube-system", ""]);
        for namespace in namespaces {
            let checks = if namespace.is_empty() {
                CLUSTER_CHECKS
            } else {
                CHECKS
            };
            for check in checks {
                let allowed = allowed(
                    &admin,
                    &identity.user,
                    &groups,
                    check.verb,
                    check.group,
                    check.resource,
                    namespace,
                )
                .await;
                let listed = rules.iter().any(|r| {
                    (r["namespace"].is_null() || r["namespace"] == namespace)
                        && covers(&r["rule"], check.verb, check.group, check.resource)
                });
                if allowed && !listed {
                    problems.push(format!(
                        "{subject}: {} {}/{} in {namespace:?} is allowed but not listed",
                        check.verb, check.group, check.resource
                    ));
                }
                covered += usize::from(allowed);
            }
        }
        // Nothing invented: each concrete rule's first verb and resource, where it holds.
        for held in &rules {
            let rule = &held["rule"];
            let first = |field: &str| {
                rule[field]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_str)
            };
            let (Some(verb), Some(group), Some(resource)) =
                (first("verbs"), first("apiGroups"), first("resources"))
            else {
                continue;
            };
            if [verb, group, resource].iter().any(|x| x.contains('*'))
                || rule["resourceNames"]
                    .as_array()
                    .is_some_and(|n| !n.is_empty())
            {
                continue;
            }
            let namespace = held["namespace"].as_str().unwrap_or("payments");
            if !settled(
                &admin,
                &identity.user,
                &groups,
                verb,
                group,
                resource,
                namespace,
                true,
            )
            .await
            {
                problems.push(format!(
                    "{subject}: {verb} {group}/{resource} in {namespace} is listed (via {}) but not allowed",
                    held["binding"]
                ));
            }
            confirmed += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        covered > 20 && confirmed > 20,
        "{covered} allowed questions covered, {confirmed} rules confirmed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_on_prod_lists_everything_the_authorizer_allows_and_nothing_else() {
    can_matrix("prod").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_on_staging_lists_everything_the_authorizer_allows_and_nothing_else() {
    can_matrix("staging").await;
}

/// The identity SubjectAccessReview is asked about for a plan's subject: a client's ServiceAccount, a user, a
/// group's member with no other group, a ServiceAccount.
fn reviewed_identity(subject: &Value) -> (String, Vec<String>) {
    let name = subject["name"].as_str().expect("a subject name");
    match subject["kind"].as_str().expect("a subject kind") {
        "client" => (
            format!("system:serviceaccount:tollgate-clients:{name}"),
            vec![
                "system:serviceaccounts".to_owned(),
                "system:serviceaccounts:tollgate-clients".to_owned(),
                "system:authenticated".to_owned(),
            ],
        ),
        "user" => (name.to_owned(), Vec::new()),
        "group" => ("second-look-probe".to_owned(), vec![name.to_owned()]),
        // The session gateway's own ServiceAccount (`namespace/name`), bound in environment namespaces.
        "serviceaccount" => {
            let (namespace, account) = name.split_once('/').expect("namespace/name");
            (
                format!("system:serviceaccount:{namespace}:{account}"),
                vec![
                    "system:serviceaccounts".to_owned(),
                    format!("system:serviceaccounts:{namespace}"),
                    "system:authenticated".to_owned(),
                ],
            )
        }
        other => panic!("a subject of kind {other}"),
    }
}

/// A second look's request (`create pods/exec`, `escalate roles.rbac.authorization.k8s.io`, every verb on
/// everything) as SubjectAccessReview attributes: verb, group, resource[/subresource].
fn reviewed_request(detail: &str) -> (String, String, String) {
    if detail.starts_with("every verb") {
        return ("*".to_owned(), "*".to_owned(), "*".to_owned());
    }
    let (verb, resource) = detail.split_once(' ').expect("verb and resource");
    let (resource, sub) = match resource.split_once('/') {
        Some((resource, sub)) => (resource, format!("/{sub}")),
        None => (resource, String::new()),
    };
    let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
    (verb.to_owned(), group.to_owned(), format!("{plural}{sub}"))
}

/// Asks the authorizer about every RBAC second look of `plan` (sessions are not RBAC), expecting `want`.
async fn review_second_looks(client: &Client, plan: &Value, want: bool) -> usize {
    let mut asked = 0;
    for look in plan["secondLook"].as_array().expect("secondLook") {
        if look["power"] == "host-access-session" {
            continue;
        }
        let (user, groups) = reviewed_identity(&look["subject"]);
        let (verb, group, resource) = reviewed_request(look["detail"].as_str().expect("detail"));
        let namespace = look["namespace"].as_str().unwrap_or_default();
        let got = settled(
            client, &user, &groups, &verb, &group, &resource, namespace, want,
        )
        .await;
        assert_eq!(got, want, "{look}: SubjectAccessReview said {got}");
        asked += 1;
    }
    asked
}

/// The plan's "needs a second look" section against the real authorizer: every power it says a subject gains is
/// one SubjectAccessReview denies before the apply and allows after it; `--detailed-exitcode` exits 3 for such a
/// plan, 0 once applied, 3 again when a custom role is given `get secrets` (bindings unchanged) or an environment
/// becomes privileged, and 2 for a change that only takes power away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_flags_exactly_the_powers_the_authorizer_newly_allows() {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: false,
    });
    setup(&plane);
    wait_for_aggregated_roles(&plane);
    let admin = plane.admin().await;
    let applier = plane.kubeconfig_for("applier", APPLIER_TOKEN);
    let repo = common::example_copy();
    let path = repo.path().to_str().expect("utf-8 path");
    let plan = |plane: &ControlPlane, code: i32| -> Value {
        let out = plane.tollgate(
            &applier,
            &plan_args(
                path,
                "staging",
                &["--output", "json", "--detailed-exitcode"],
            ),
        );
        assert_exit(&out, code);
        json(&out)
    };
    let apply = |plane: &ControlPlane| {
        let out = plane.tollgate(&applier, &apply_args(path, "staging", &[]));
        assert_exit(&out, 0);
    };

    // The first apply gives example-repo's powers: edit (secrets, exec, ServiceAccount tokens, impersonating
    // ServiceAccounts) in team namespaces, cluster-admin, a NET_ADMIN session.
    let first = plan(&plane, 3);
    let powers: BTreeSet<&str> = first["secondLook"]
        .as_array()
        .expect("secondLook")
        .iter()
        .filter_map(|l| l["power"].as_str())
        .collect();
    for power in [
        "everything",
        "read-secrets",
        "exec",
        "impersonate",
        "host-access-session",
    ] {
        assert!(powers.contains(power), "{power} missing from {powers:?}");
    }
    let asked = review_second_looks(&admin, &first, false).await;
    apply(&plane);
    assert_eq!(review_second_looks(&admin, &first, true).await, asked);
    assert!(asked >= 10, "{asked} second looks asked");
    let applied = plan(&plane, 0);
    assert_eq!(applied["secondLook"], json!([]));

    // A rule added to a custom role: no binding changes, and its client gains `get secrets` where it is bound.
    let deployer = repo.path().join("roles/deployer.yaml");
    let original = std::fs::read_to_string(&deployer).expect("deployer.yaml");
    std::fs::write(
        &deployer,
        format!(
            "{original}    - apiGroups: [\"\"]\n      resources: [\"secrets\"]\n      verbs: [\"get\"]\n"
        ),
    )
    .expect("write deployer.yaml");
    // example-repo's access test forbids exactly that in prod: the repository is refused, naming the binding.
    let refused = plane.tollgate(
        &applier,
        &plan_args(
            path,
            "staging",
            &["--output", "json", "--detailed-exitcode"],
        ),
    );
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("tests/prod.yaml:")
            && stderr(&refused)
                .contains("`get secrets in payments` must be denied, but client ci-deployer")
            && stderr(&refused).contains("RoleBinding payments/tollgate:deployer"),
        "{}",
        stderr(&refused)
    );
    std::fs::remove_file(repo.path().join("tests/prod.yaml")).expect("remove the access test");
    let secrets = plan(&plane, 3);
    let looks = secrets["secondLook"].as_array().expect("secondLook");
    let places: BTreeSet<(&str, &str, &str)> = looks
        .iter()
        .map(|l| {
            (
                l["subject"]["name"].as_str().unwrap_or_default(),
                l["detail"].as_str().unwrap_or_default(),
                l["namespace"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        places,
        BTreeSet::from([
            ("ci-deployer", "get secrets", "payments"),
            ("ci-deployer", "get secrets", "search"),
        ]),
        "{looks:?}"
    );
    assert!(
        looks
            .iter()
            .all(|l| l["role"] == "ClusterRole tollgate:deployer"
                && l["sources"] == json!(["access/ci.yaml"]))
    );
    review_second_looks(&admin, &secrets, false).await;
    apply(&plane);
    review_second_looks(&admin, &secrets, true).await;

    // Taking the power away again needs no second look: exit 2, as any change.
    std::fs::write(&deployer, &original).expect("write deployer.yaml");
    let removed = plan(&plane, 2);
    assert_eq!(removed["secondLook"], json!([]));
    apply(&plane);

    // The toolbox environment for the CI robot: a login (`use`), not exec into pods (the session gateway does
    // that), so no power over others and no host access: a change without a second look.
    std::fs::write(
        repo.path().join("access/toolbox.yaml"),
        "apiVersion: tollgate.dev/v1alpha1\nkind: UserAccess\nmetadata:\n  name: ci-toolbox\nspec:\n  subjects:\n    \
         clients: [ci-deployer]\n  grants:\n    - environment: toolbox\n      cluster: staging\n",
    )
    .expect("write access/toolbox.yaml");
    let session = plan(&plane, 2);
    assert_eq!(session["secondLook"], json!([]));
    apply(&plane);

    // The environment's sessions become privileged: who is bound to its Role gets a session on the node, though no
    // binding changes.
    let toolbox = repo.path().join("environments/toolbox.yaml");
    let text = std::fs::read_to_string(&toolbox).expect("toolbox.yaml");
    std::fs::write(&toolbox, format!("{text}  privileged: true\n")).expect("write toolbox.yaml");
    let privileged = plan(&plane, 3);
    let looks = privileged["secondLook"].as_array().expect("secondLook");
    assert!(!looks.is_empty());
    assert!(
        looks.iter().all(|l| l["power"] == "host-access-session"
            && l["detail"] == "environment toolbox: privileged"
            && l["namespace"] == "sessions-toolbox"
            && l["subject"]["name"] == "ci-deployer"),
        "{looks:?}"
    );

    // Back to unprivileged, and the capabilities it dropped no longer written: fields tollgate set and no longer
    // sets are changes, and the apply removes them from the cluster.
    let unprivileged = text.replace("  capabilities:\n    drop: [ALL]\n", "");
    assert_ne!(unprivileged, text, "toolbox.yaml drops capabilities");
    std::fs::write(&toolbox, unprivileged).expect("write toolbox.yaml");
    let dropped = plan(&plane, 2);
    let fields: Vec<&str> = dropped["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["object"]["kind"] == "PodTemplate")
        .flat_map(|c| c["fields"].as_array().into_iter().flatten())
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        fields.contains(&"template.spec.containers[name=session].securityContext.capabilities"),
        "{fields:?}"
    );
    apply(&plane);
    let out = plane.kubectl(&[
        "get",
        "podtemplate",
        "-n",
        "sessions-toolbox",
        "tollgate-session-toolbox",
        "-o",
        "jsonpath={.template.spec.containers[0].securityContext}",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("capabilities"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("\"privileged\":false"),
        "{}",
        stdout(&out)
    );
    plan(&plane, 0);
}
