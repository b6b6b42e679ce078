//! tollgate's RBAC evaluator (`tollgate::rbac`) against the real one: a policy full of RBAC's corner cases is
//! created on a real control plane (kube-controller-manager aggregating ClusterRoles), and every question of a
//! large matrix (subjects x verbs x resources and subresources x names x namespaces, and non-resource URLs) is
//! asked of both the evaluator, fed with the roles and bindings read back from the cluster, and of the API
//! server's SubjectAccessReview. They must agree on every one.

mod common;
mod harness;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use harness::{ControlPlane, Options};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tollgate::rbac::{Policy, Request, UserInfo};

/// The policy under test: every corner of RBAC's matching that the evaluator copies.
fn policy_objects() -> Vec<serde_json::Value> {
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| json!({"apiGroups": groups, "resources": resources, "verbs": verbs});
    let cluster_role = |name: &str, rules: serde_json::Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name}, "rules": rules})
    };
    let subject = |kind: &str, name: &str, namespace: Option<&str>| {
        let mut s = json!({"kind": kind, "name": name});
        if kind == "ServiceAccount" {
            if let Some(namespace) = namespace {
                s["namespace"] = json!(namespace);
            }
        } else {
            s["apiGroup"] = json!("rbac.authorization.k8s.io");
        }
        s
    };
    let cluster_binding = |name: &str, role: &str, subjects: serde_json::Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": subjects})
    };
    let binding =
        |namespace: &str, name: &str, kind: &str, role: &str, subjects: serde_json::Value| {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name, "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
               "subjects": subjects})
        };
    vec![
        cluster_role("t-star", json!([rule(&["*"], &["*"], &["*"])])),
        cluster_role(
            "t-pods-slash-star",
            json!([rule(&[""], &["pods/*"], &["get", "create"])]),
        ),
        cluster_role(
            "t-any-status",
            json!([rule(&["*"], &["*/status"], &["get", "update", "patch"])]),
        ),
        cluster_role("t-logs", json!([rule(&[""], &["pods/log"], &["get"])])),
        cluster_role(
            "t-named",
            json!([{"apiGroups": [""], "resources": ["configmaps", "secrets"], "resourceNames": ["cm-a"],
                    "verbs": ["get", "list", "watch", "create", "update", "delete", "deletecollection"]}]),
        ),
        cluster_role(
            "t-urls",
            json!([{"nonResourceURLs": ["/healthz", "/logs/*", "/metrics*"], "verbs": ["get"]},
                   {"nonResourceURLs": ["*"], "verbs": ["post"]}]),
        ),
        cluster_role(
            "t-apps",
            json!([
                rule(
                    &["apps"],
                    &["deployments", "deployments/scale"],
                    &["get", "update"]
                ),
                rule(&[""], &["pods"], &["escalate", "bind", "use"])
            ]),
        ),
        cluster_role(
            "t-exec",
            json!([rule(
                &[""],
                &["pods/exec", "pods/attach"],
                &["create", "get"]
            )]),
        ),
        cluster_role(
            "t-impersonate",
            json!([
                {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"],
                 "resourceNames": ["alice"]}
            ]),
        ),
        // Aggregation: t-aggregated holds the rules of every ClusterRole labelled t-agg=yes; one of them is also
        // aggregated into the built-in `view`.
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "t-aggregated"},
               "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"t-agg": "yes"}}]},
               "rules": []}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "t-agg-part-1", "labels": {"t-agg": "yes"}},
               "rules": [rule(&[""], &["secrets"], &["get"])]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "t-agg-part-2",
                            "labels": {"t-agg": "yes", "rbac.authorization.k8s.io/aggregate-to-view": "true"}},
               "rules": [rule(&["example.com"], &["widgets"], &["list", "watch"])]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "t-role", "namespace": "a"},
               "rules": [rule(&[""], &["services", "services/proxy"], &["get", "list"])]}),
        // ClusterRoleBindings.
        cluster_binding(
            "t-star",
            "t-star",
            // (A ServiceAccount subject without a namespace is refused in a ClusterRoleBinding.)
            json!([subject("Group", "g-star", None)]),
        ),
        cluster_binding(
            "t-pods-slash-star",
            "t-pods-slash-star",
            json!([subject("User", "u2", None)]),
        ),
        cluster_binding(
            "t-any-status",
            "t-any-status",
            json!([subject("Group", "g2", None)]),
        ),
        cluster_binding("t-named", "t-named", json!([subject("User", "u3", None)])),
        cluster_binding(
            "t-urls",
            "t-urls",
            json!([subject("Group", "g-urls", None)]),
        ),
        cluster_binding(
            "t-aggregated",
            "t-aggregated",
            json!([subject("User", "u4", None)]),
        ),
        cluster_binding("t-edit", "edit", json!([subject("User", "u5", None)])),
        cluster_binding(
            "t-missing-role",
            "t-does-not-exist",
            json!([subject("User", "u1", None)]),
        ),
        cluster_binding(
            "t-impersonate",
            "t-impersonate",
            json!([subject("ServiceAccount", "sa2", Some("a"))]),
        ),
        // RoleBindings.
        binding(
            "a",
            "t-logs",
            "ClusterRole",
            "t-logs",
            json!([subject("User", "u1", None)]),
        ),
        binding(
            "a",
            "t-role",
            "Role",
            "t-role",
            json!([subject("Group", "g1", None)]),
        ),
        // A ServiceAccount without a namespace in a RoleBinding is the binding's namespace's.
        binding(
            "a",
            "t-view",
            "ClusterRole",
            "view",
            json!([subject("ServiceAccount", "sa1", None)]),
        ),
        binding(
            "b",
            "t-apps",
            "ClusterRole",
            "t-apps",
            json!([subject("ServiceAccount", "sa2", Some("a"))]),
        ),
        binding(
            "b",
            "t-exec",
            "ClusterRole",
            "t-exec",
            json!([subject("Group", "system:serviceaccounts:a", None)]),
        ),
        // Non-resource URLs through a RoleBinding grant nothing.
        binding(
            "b",
            "t-urls",
            "ClusterRole",
            "t-urls",
            json!([subject("User", "u1", None)]),
        ),
        // A Role of another namespace, and a missing Role: nothing.
        binding(
            "b",
            "t-role",
            "Role",
            "t-role",
            json!([subject("User", "u1", None)]),
        ),
        binding(
            "b",
            "t-admin",
            "ClusterRole",
            "admin",
            json!([subject("User", "u4", None)]),
        ),
    ]
}

/// Who asks: users with and without groups, ServiceAccounts with the groups the API server gives them.
fn subjects() -> Vec<UserInfo> {
    let user = |name: &str, groups: &[&str]| UserInfo {
        name: name.to_owned(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    };
    vec![
        user("u1", &["g1", "system:authenticated"]),
        user("u2", &[]),
        user("u3", &["g2"]),
        user("u4", &["g-urls"]),
        user("u5", &["system:authenticated"]),
        user("someone", &["g-star"]),
        user("nobody", &[]),
        UserInfo::service_account("a", "sa1"),
        UserInfo::service_account("a", "sa2"),
        UserInfo::service_account("b", "sa1"),
    ]
}

/// Every question of the matrix.
fn requests() -> Vec<Request> {
    let verbs = [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "escalate",
        "bind",
        "impersonate",
        "use",
    ];
    let resources = [
        ("", "pods", ""),
        ("", "pods", "log"),
        ("", "pods", "exec"),
        ("", "pods", "status"),
        ("apps", "deployments", ""),
        ("apps", "deployments", "status"),
        ("apps", "deployments", "scale"),
        ("", "configmaps", ""),
        ("", "secrets", ""),
        ("", "services", "proxy"),
        ("", "users", ""),
        ("example.com", "widgets", ""),
        ("rbac.authorization.k8s.io", "roles", ""),
        ("", "nodes", ""),
    ];
    let mut out = Vec::new();
    for verb in verbs {
        for (group, resource, subresource) in resources {
            for name in ["", "cm-a", "alice"] {
                for namespace in ["a", "b", ""] {
                    out.push(Request::Resource {
                        verb: verb.to_owned(),
                        api_group: group.to_owned(),
                        resource: resource.to_owned(),
                        subresource: subresource.to_owned(),
                        name: name.to_owned(),
                        namespace: namespace.to_owned(),
                    });
                }
            }
        }
    }
    for verb in ["get", "post", "put"] {
        for path in [
            "/healthz",
            "/healthz/ping",
            "/logs",
            "/logs/",
            "/logs/x",
            "/metrics",
            "/metricsx",
            "/api",
        ] {
            out.push(Request::NonResource {
                verb: verb.to_owned(),
                path: path.to_owned(),
            });
        }
    }
    out
}

/// The API server's answer to `request` for `user`.
async fn review(client: &Client, user: &UserInfo, request: &Request) -> bool {
    let (resource_attributes, non_resource_attributes) = match request {
        Request::Resource {
            verb,
            api_group,
            resource,
            subresource,
            name,
            namespace,
        } => (
            Some(ResourceAttributes {
                verb: Some(verb.clone()),
                group: Some(api_group.clone()),
                resource: Some(resource.clone()),
                subresource: (!subresource.is_empty()).then(|| subresource.clone()),
                name: (!name.is_empty()).then(|| name.clone()),
                namespace: (!namespace.is_empty()).then(|| namespace.clone()),
                ..ResourceAttributes::default()
            }),
            None,
        ),
        Request::NonResource { verb, path } => (
            None,
            Some(NonResourceAttributes {
                verb: Some(verb.clone()),
                path: Some(path.clone()),
            }),
        ),
    };
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            groups: Some(user.groups.clone()),
            resource_attributes,
            non_resource_attributes,
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview")
        .status
        .expect("a decision")
        .allowed
}

/// Creates `object` (any of the kinds above) as the cluster admin.
async fn create(client: &Client, object: &serde_json::Value) {
    let kind = object["kind"].as_str().expect("a kind");
    let namespace = object["metadata"]["namespace"].as_str();
    let post = PostParams::default();
    match kind {
        "ClusterRole" => {
            let o: ClusterRole = serde_json::from_value(object.clone()).expect("a ClusterRole");
            Api::<ClusterRole>::all(client.clone())
                .create(&post, &o)
                .await
                .map(drop)
        }
        "ClusterRoleBinding" => {
            let o: ClusterRoleBinding =
                serde_json::from_value(object.clone()).expect("a ClusterRoleBinding");
            Api::<ClusterRoleBinding>::all(client.clone())
                .create(&post, &o)
                .await
                .map(drop)
        }
        "Role" => {
            let o: Role = serde_json::from_value(object.clone()).expect("a Role");
            Api::<Role>::namespaced(client.clone(), namespace.expect("a namespace"))
                .create(&post, &o)
                .await
                .map(drop)
        }
        "RoleBinding" => {
            let o: RoleBinding = serde_json::from_value(object.clone()).expect("a RoleBinding");
            Api::<RoleBinding>::namespaced(client.clone(), namespace.expect("a namespace"))
                .create(&post, &o)
                .await
                .map(drop)
        }
        other => panic!("unexpected kind {other}"),
    }
    .unwrap_or_else(|e| panic!("create {object}: {e}"));
}

/// The policy as the cluster holds it now: every ClusterRole, Role and binding.
async fn live_policy(client: &Client) -> Policy {
    let all = ListParams::default();
    let cluster_roles = Api::<ClusterRole>::all(client.clone())
        .list(&all)
        .await
        .expect("clusterroles");
    let roles = Api::<Role>::all(client.clone())
        .list(&all)
        .await
        .expect("roles");
    let cluster_role_bindings = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&all)
        .await
        .expect("clusterrolebindings");
    let role_bindings = Api::<RoleBinding>::all(client.clone())
        .list(&all)
        .await
        .expect("rolebindings");
    Policy::new(
        cluster_roles.items,
        roles.items,
        cluster_role_bindings.items,
        role_bindings.items,
    )
}

/// Waits until `check` holds, for up to `limit`.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    check: impl Fn() -> F,
) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluator_agrees_with_subject_access_review_on_every_question() {
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: false,
    });
    let client = plane.admin().await;
    // tollgate's copy of Kubernetes' default ClusterRoles is this API server's bootstrap policy.
    let bootstrap = Api::<ClusterRole>::all(client.clone())
        .list(&ListParams::default().labels(&format!(
            "{}={}",
            tollgate::rbac::BOOTSTRAP_LABEL.0,
            tollgate::rbac::BOOTSTRAP_LABEL.1
        )))
        .await
        .expect("the bootstrap ClusterRoles");
    let written = tollgate::rbac::kubernetes_cluster_roles_json(bootstrap.items);
    let copy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/kubernetes-cluster-roles.json"
    );
    if std::env::var_os("TOLLGATE_UPDATE_CLUSTER_ROLES").is_some() {
        std::fs::write(copy, &written).expect("src/kubernetes-cluster-roles.json is writable");
    }
    assert!(
        written == std::fs::read_to_string(copy).expect("src/kubernetes-cluster-roles.json"),
        "src/kubernetes-cluster-roles.json differs from the API server's bootstrap ClusterRoles; rerun this test \
         with TOLLGATE_UPDATE_CLUSTER_ROLES=1"
    );
    // And aggregated by the evaluator, its admin, edit and view hold what kube-controller-manager writes into them.
    let defaults = Policy::new(tollgate::rbac::kubernetes_cluster_roles(), [], [], []);
    let roles = Api::<ClusterRole>::all(client.clone());
    for name in ["admin", "edit", "view"] {
        let ours = defaults.cluster_role_rules(name).expect("a default role");
        eventually(
            &format!("{name} aggregated as the evaluator aggregates it"),
            Duration::from_secs(60),
            || async {
                let live = roles
                    .get(name)
                    .await
                    .ok()
                    .and_then(|r| r.rules)
                    .unwrap_or_default();
                live.len() == ours.len() && live.iter().all(|rule| ours.contains(rule))
            },
        )
        .await;
    }
    for name in ["a", "b"] {
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some(name.to_owned());
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("a namespace");
    }
    for object in policy_objects() {
        create(&client, &object).await;
    }
    // kube-controller-manager aggregates: t-aggregated gets both parts' rules, view gets part 2's.
    let roles = Api::<ClusterRole>::all(client.clone());
    eventually("aggregation", Duration::from_secs(60), || async {
        let aggregated = roles
            .get("t-aggregated")
            .await
            .ok()
            .and_then(|r| r.rules)
            .unwrap_or_default();
        let view = roles
            .get("view")
            .await
            .ok()
            .and_then(|r| r.rules)
            .unwrap_or_default();
        aggregated.len() == 2
            && view
                .iter()
                .any(|r| r.resources.iter().flatten().any(|x| x == "widgets"))
    })
    .await;
    // The authorizer reads roles and bindings from informer caches: wait until it sees the last of each kind.
    let sentinel = UserInfo {
        name: "u4".to_owned(),
        groups: Vec::new(),
    };
    for (request, what) in [
        (
            Request::Resource {
                verb: "list".to_owned(),
                api_group: "example.com".to_owned(),
                resource: "widgets".to_owned(),
                subresource: String::new(),
                name: String::new(),
                namespace: String::new(),
            },
            "the aggregated role",
        ),
        (
            Request::Resource {
                verb: "delete".to_owned(),
                api_group: String::new(),
                resource: "pods".to_owned(),
                subresource: String::new(),
                name: String::new(),
                namespace: "b".to_owned(),
            },
            "the last RoleBinding",
        ),
    ] {
        eventually(what, Duration::from_secs(30), || {
            review(&client, &sentinel, &request)
        })
        .await;
    }
    let policy = live_policy(&client).await;

    let questions: Vec<(UserInfo, Request)> = subjects()
        .into_iter()
        .flat_map(|user| {
            requests()
                .into_iter()
                .map(move |request| (user.clone(), request))
        })
        .collect();
    let answers: Vec<(UserInfo, Request, bool)> = futures::stream::iter(questions)
        .map(|(user, request)| {
            let client = client.clone();
            async move {
                let allowed = review(&client, &user, &request).await;
                (user, request, allowed)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut disagreements = Vec::new();
    let mut counts: BTreeMap<bool, usize> = BTreeMap::new();
    for (user, request, allowed) in &answers {
        *counts.entry(*allowed).or_default() += 1;
        let evaluated = policy.allows(user, request);
        if evaluated.is_some() != *allowed {
            disagreements.push(format!(
                "{} {:?}: SubjectAccessReview {allowed}, evaluator {evaluated:?}",
                user.name, request
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} answers differ:\n{}",
        disagreements.len(),
        answers.len(),
        disagreements.join("\n")
    );
    // A matrix that allowed or denied everything would prove little.
    let (allowed, denied) = (
        counts.get(&true).copied().unwrap_or(0),
        counts.get(&false).copied().unwrap_or(0),
    );
    assert!(answers.len() > 10_000, "{} questions", answers.len());
    assert!(
        allowed > 1_000 && denied > 1_000,
        "{allowed} allowed, {denied} denied"
    );
}
