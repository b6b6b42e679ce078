//! The test control plane is real: RBAC decisions come from the apiserver's authorizer, tokens from the
//! TokenRequest API are bound to their ServiceAccount, stock kubectl works, and kube-controller-manager finalizes
//! namespaces. One control plane for this test binary; each step isolates itself in its own namespace.

mod harness;

use harness::{ControlPlane, Options};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

fn named<T: kube::Resource<DynamicType = ()> + Default>(name: &str, namespace: Option<&str>) -> T {
    let mut object = T::default();
    object.meta_mut().name = Some(name.to_owned());
    object.meta_mut().namespace = namespace.map(str::to_owned);
    object
}

async fn can(client: &Client, user: &str, verb: &str, resource: &str, namespace: &str) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_owned()),
                resource: Some(resource.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview");
    answer.status.expect("a decision").allowed
}

/// The RBAC authorizer reads bindings from an informer cache, so a binding just created takes a moment to count:
/// ask until allowed, for up to 10 s.
async fn can_eventually(
    client: &Client,
    user: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
) -> bool {
    for _ in 0..100 {
        if can(client, user, verb, resource, namespace).await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

async fn create_namespace(client: &Client, name: &str) {
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &named(name, None))
        .await
        .expect("namespace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_is_real() {
    let started = std::time::Instant::now();
    let plane = ControlPlane::start(Options {
        controller_manager: true,
        audit_log: true,
    });
    eprintln!(
        "control plane ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let admin = plane.admin().await;

    // 1. RBAC: a RoleBinding grants exactly what it says, as the real authorizer decides.
    create_namespace(&admin, "rbac-a").await;
    create_namespace(&admin, "rbac-b").await;
    Api::<ServiceAccount>::namespaced(admin.clone(), "rbac-a")
        .create(&PostParams::default(), &named("reader", Some("rbac-a")))
        .await
        .expect("service account");
    let binding = RoleBinding {
        metadata: named::<RoleBinding>("reader", Some("rbac-a")).metadata,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "tollgate-test-configmap-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "reader".into(),
            namespace: Some("rbac-a".into()),
            ..Default::default()
        }]),
    };
    let role: k8s_openapi::api::rbac::v1::ClusterRole = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "tollgate-test-configmap-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }))
    .unwrap();
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .create(&PostParams::default(), &role)
        .await
        .expect("cluster role");
    Api::<RoleBinding>::namespaced(admin.clone(), "rbac-a")
        .create(&PostParams::default(), &binding)
        .await
        .expect("role binding");
    let reader = "system:serviceaccount:rbac-a:reader";
    assert!(can_eventually(&admin, reader, "list", "configmaps", "rbac-a").await);
    assert!(
        !can(&admin, reader, "delete", "configmaps", "rbac-a").await,
        "one verb over"
    );
    assert!(
        !can(&admin, reader, "list", "configmaps", "rbac-b").await,
        "one namespace over"
    );
    assert!(
        !can(&admin, reader, "list", "secrets", "rbac-a").await,
        "one resource over"
    );

    // 2. stock kubectl: it works with the harness kubeconfig and agrees with the SubjectAccessReviews.
    let namespaces = plane.kubectl(&["get", "ns", "-o", "name"]);
    assert!(namespaces.status.success());
    assert!(String::from_utf8_lossy(&namespaces.stdout).contains("namespace/rbac-a"));
    let can_i = |verb: &str, namespace: &str| {
        let out = plane.kubectl(&[
            "auth",
            "can-i",
            verb,
            "configmaps",
            "-n",
            namespace,
            "--as",
            reader,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(can_i("list", "rbac-a"), "yes");
    assert_eq!(can_i("delete", "rbac-a"), "no");
    assert_eq!(can_i("list", "rbac-b"), "no");

    // An identity without bindings is authenticated but may do nothing.
    let nobody = plane.dir.path().join("nobody.kubeconfig");
    plane.write_kubeconfig(&nobody, harness::UNPRIVILEGED_TOKEN);
    let forbidden = plane.kubectl_as(&nobody, &["get", "ns"]);
    assert!(!forbidden.status.success());
    assert!(String::from_utf8_lossy(&forbidden.stderr).contains("Forbidden"));

    // 3. TokenRequest: the token authenticates as the ServiceAccount, and dies with it.
    let accounts = Api::<ServiceAccount>::namespaced(admin.clone(), "rbac-a");
    let token = plane.service_account_token("rbac-a", "reader").await.token;
    let as_reader = plane.client_for_token(&token).await;
    let review = Api::<SelfSubjectReview>::all(as_reader.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .expect("SelfSubjectReview");
    let username = review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username);
    assert_eq!(username.as_deref(), Some(reader));
    let reader_kubeconfig = plane.dir.path().join("reader.kubeconfig");
    plane.write_kubeconfig(&reader_kubeconfig, &token);
    let whoami = plane.kubectl_as(
        &reader_kubeconfig,
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&whoami.stdout), reader);

    accounts
        .delete("reader", &DeleteParams::default())
        .await
        .expect("delete");
    accounts
        .create(&PostParams::default(), &named("reader", Some("rbac-a")))
        .await
        .expect("re-create");
    // kube-apiserver caches successful token authentications for 10 s, so revocation takes effect within that
    // cache's lifetime, not instantly: wait for the 401, with a bound.
    let configmaps = Api::<ConfigMap>::namespaced(as_reader, "rbac-a");
    let revoked_at = std::time::Instant::now();
    loop {
        match configmaps.list(&Default::default()).await {
            Err(kube::Error::Api(status)) if status.code == 401 => break,
            Err(other) => panic!("the old token must be rejected with 401, got {other:?}"),
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() < std::time::Duration::from_secs(30),
                    "the old token still works 30 s after its ServiceAccount was re-created"
                );
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
    eprintln!(
        "old token rejected {:.1} s after re-creation",
        revoked_at.elapsed().as_secs_f64()
    );

    // 4. kube-controller-manager: deleting a namespace removes it and what it held.
    create_namespace(&admin, "doomed").await;
    Api::<ConfigMap>::namespaced(admin.clone(), "doomed")
        .create(&PostParams::default(), &named("data", Some("doomed")))
        .await
        .expect("config map");
    let namespaces = Api::<Namespace>::all(admin.clone());
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .expect("delete namespace");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if namespaces
            .get_opt("doomed")
            .await
            .expect("get namespace")
            .is_none()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "namespace not finalized in 60 s:\n{}",
            plane.log_tail("kube-controller-manager")
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let left = Api::<ConfigMap>::namespaced(admin, "doomed")
        .list(&Default::default())
        .await
        .expect("list");
    assert!(left.items.is_empty());
}
