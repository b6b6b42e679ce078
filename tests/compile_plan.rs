//! Compile and offline plan of the example repository: determinism, what lands where, drift and deletions.

mod common;

use tollgate::compile::{CompileContext, compile};
use tollgate::objects::{LiveState, ObjectKey, ObjectKind};
use tollgate::pipeline::check;
use tollgate::plan::{Action, Against, plan};
use tollgate::render;

fn desired(cluster: &str, now: jiff::Timestamp) -> tollgate::objects::DesiredState {
    let loaded = common::example_repo();
    let checked = check(&loaded, now).expect("example-repo is valid");
    compile(
        &checked.model,
        &CompileContext {
            cluster,
            now,
            revision: Some("0123abc"),
        },
    )
    .expect("compiles")
}

#[test]
fn compiling_twice_gives_byte_identical_yaml() {
    let a = render::objects_yaml(&desired("prod", common::now()));
    let b = render::objects_yaml(&desired("prod", common::now()));
    assert_eq!(a, b);
    insta::assert_snapshot!("prod_objects", a);
}

#[test]
fn every_object_carries_ownership_labels_and_source() {
    let state = desired("staging", common::now());
    for (key, manifest) in &state.objects {
        let metadata = &manifest["metadata"];
        assert_eq!(
            metadata["labels"]["app.kubernetes.io/managed-by"], "tollgate",
            "{key}"
        );
        assert_eq!(
            metadata["labels"]["tollgate.dev/instance"], "staging",
            "{key}"
        );
        assert!(
            metadata["annotations"]["tollgate.dev/source"].is_string(),
            "{key}"
        );
        assert_eq!(
            metadata["annotations"]["tollgate.dev/revision"], "0123abc",
            "{key}"
        );
    }
}

#[test]
fn one_binding_per_scope_and_role_holds_all_subjects() {
    let state = desired("staging", common::now());
    let key = ObjectKey::namespaced(ObjectKind::RoleBinding, "search", "tollgate:edit");
    let subjects: Vec<_> = state.objects[&key]["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    // search = erin, frank, grace; only frank owns a staging client.
    assert_eq!(subjects, ["frank-workstation"]);
    let admin = ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, "tollgate:cluster-admin");
    assert_eq!(state.objects[&admin]["subjects"][0]["name"], "alice-laptop");
    assert_eq!(state.objects[&admin]["roleRef"]["name"], "cluster-admin");
}

#[test]
fn user_mode_grants_name_prefixed_users_and_groups() {
    let state = desired("prod", common::now());
    let view = ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, "tollgate:view");
    assert_eq!(state.objects[&view]["subjects"][0]["kind"], "Group");
    assert_eq!(state.objects[&view]["subjects"][0]["name"], "oidc:platform");
    let search = ObjectKey::namespaced(ObjectKind::RoleBinding, "search", "tollgate:view");
    assert_eq!(
        state.objects[&search]["subjects"][0]["name"],
        "oidc:grace@example.com"
    );
}

#[test]
fn expired_grants_compile_to_nothing() {
    let exec = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:exec");
    assert!(desired("prod", common::now()).objects.contains_key(&exec));
    let after_expiry = "2027-04-01T00:00:00Z".parse().unwrap();
    assert!(!desired("prod", after_expiry).objects.contains_key(&exec));
}

#[test]
fn plan_against_itself_is_empty_and_drift_is_an_update() {
    let state = desired("prod", common::now());
    let mut live = LiveState {
        objects: state.objects.clone(),
    };
    let unchanged = plan(&state, &live, Against::Empty);
    assert!(!unchanged.summary.has_changes());
    assert!(unchanged.access.is_empty());

    // Someone adds a subject by hand, and deletes another binding.
    let logs = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:logs");
    live.objects.get_mut(&logs).unwrap()["subjects"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"kind": "User", "name": "intruder", "apiGroup": "rbac.authorization.k8s.io"}));
    let view = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:view");
    live.objects.remove(&view);
    let drift = plan(
        &state,
        &live,
        Against::File {
            path: "live.yaml".into(),
        },
    );
    let action = |key: &ObjectKey| {
        drift
            .changes
            .iter()
            .find(|c| &c.object == key)
            .unwrap()
            .action
    };
    assert_eq!(action(&logs), Action::Update);
    assert_eq!(action(&view), Action::Create);
    let intruder = drift
        .access
        .iter()
        .find(|a| a.subject.name == "intruder")
        .unwrap();
    assert_eq!(intruder.lost.len(), 1);
    insta::assert_snapshot!("drift_human", render::human(&drift, false));
}

#[test]
fn changed_role_ref_is_a_replace_and_unowned_objects_are_conflicts() {
    let state = desired("prod", common::now());
    let mut live = LiveState {
        objects: state.objects.clone(),
    };
    let logs = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:logs");
    live.objects.get_mut(&logs).unwrap()["roleRef"]["name"] = "view".into();
    let sa = ObjectKey::namespaced(ObjectKind::ServiceAccount, "tollgate-clients", "bob-laptop");
    live.objects.get_mut(&sa).unwrap()["metadata"]["labels"] = serde_json::json!({});
    let result = plan(&state, &live, Against::Empty);
    let change = |key: &ObjectKey| {
        result
            .changes
            .iter()
            .find(|c| &c.object == key)
            .unwrap()
            .clone()
    };
    assert_eq!(change(&logs).action, Action::Replace);
    assert_eq!(change(&sa).action, Action::Conflict);
    assert_eq!(result.summary.conflict, 1);
}

#[test]
fn objects_no_longer_desired_are_deleted_and_the_guard_trips_on_mass_deletion() {
    let state = desired("prod", common::now());
    let live = LiveState {
        objects: state.objects.clone(),
    };
    let mut shrunk = state.clone();
    shrunk
        .objects
        .retain(|key, _| key.kind == ObjectKind::Namespace);
    let result = plan(&shrunk, &live, Against::Empty);
    assert_eq!(
        result.summary.delete,
        state.objects.len() - shrunk.objects.len()
    );
    let guard = result.deletion_guard.expect("the guard trips");
    assert_eq!(guard.managed, state.objects.len());
    // Deletions run bindings first.
    let first_delete = result
        .changes
        .iter()
        .find(|c| c.action == Action::Delete)
        .unwrap();
    assert_eq!(first_delete.object.kind, ObjectKind::RoleBinding);
}

#[test]
fn live_objects_are_read_from_a_kubectl_list() {
    let state = desired("prod", common::now());
    let items: Vec<_> = state.objects.values().cloned().collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let live = LiveState::from_yaml("live.yaml", &serde_yaml::to_string(&list).unwrap()).unwrap();
    assert_eq!(live.objects.len(), state.objects.len());
    assert!(!plan(&state, &live, Against::Empty).summary.has_changes());
}

/// What a real kube-apiserver (v1.34.4) returned for `kubectl get ... -o yaml` after a server-side apply of
/// `tollgate render --cluster prod`: uids, managedFields, server defaults and omitted empty fields included.
#[test]
fn objects_as_a_real_apiserver_returns_them_plan_to_no_changes() {
    let path = common::root().join("tests/fixtures/live/prod-applied-kube-apiserver-v1.34.4.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let live = LiveState::from_yaml("live.yaml", &text).unwrap();
    let state = desired("prod", common::now());
    assert_eq!(live.objects.len(), state.objects.len());
    let result = plan(&state, &live, Against::Empty);
    let changed: Vec<_> = result
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.object.to_string(), c.fields.clone()))
        .collect();
    assert!(changed.is_empty(), "{changed:#?}");
}
