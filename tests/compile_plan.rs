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
        let manifest = manifest.value();
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
    let subjects: Vec<_> = state.objects[&key].value()["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    // search = erin, frank, grace; only frank owns a staging client.
    assert_eq!(subjects, ["frank-workstation"]);
    let admin = ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, "tollgate:cluster-admin");
    assert_eq!(
        state.objects[&admin].value()["subjects"][0]["name"],
        "alice-laptop"
    );
    assert_eq!(
        state.objects[&admin].value()["roleRef"]["name"],
        "cluster-admin"
    );
}

#[test]
fn user_mode_grants_name_prefixed_users_and_groups() {
    let state = desired("prod", common::now());
    let view = ObjectKey::cluster_scoped(ObjectKind::ClusterRoleBinding, "tollgate:view");
    assert_eq!(state.objects[&view].value()["subjects"][0]["kind"], "Group");
    assert_eq!(
        state.objects[&view].value()["subjects"][0]["name"],
        "oidc:platform"
    );
    let search = ObjectKey::namespaced(ObjectKind::RoleBinding, "search", "tollgate:view");
    assert_eq!(
        state.objects[&search].value()["subjects"][0]["name"],
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
        ..LiveState::default()
    };
    let unchanged = plan(&state, &live, Against::Empty);
    assert!(!unchanged.summary.has_changes());
    assert!(unchanged.access.is_empty());

    // Someone adds a subject by hand, and deletes another binding.
    let logs = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:logs");
    live.objects.get_mut(&logs).unwrap().edit(|m| {
        m["subjects"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"kind": "User", "name": "intruder", "apiGroup": "rbac.authorization.k8s.io"}));
    });
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
        ..LiveState::default()
    };
    let logs = ObjectKey::namespaced(ObjectKind::RoleBinding, "payments", "tollgate:logs");
    live.objects
        .get_mut(&logs)
        .unwrap()
        .edit(|m| m["roleRef"]["name"] = "view".into());
    let sa = ObjectKey::namespaced(ObjectKind::ServiceAccount, "tollgate-clients", "bob-laptop");
    live.objects
        .get_mut(&sa)
        .unwrap()
        .edit(|m| m["metadata"]["labels"] = serde_json::json!({}));
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

/// The example organisation compiled with its `UserAccess` files left out (every grant removed), or with its
/// Settings' deletion guard rewritten; without its access test.
fn desired_from(
    now: jiff::Timestamp,
    edit: impl Fn(&str, &str) -> Option<String>,
) -> tollgate::objects::DesiredState {
    let files: Vec<(String, Vec<u8>)> = tollgate::files::read_config_files(&common::root().join("example-repo"))
            .expect("readable")
            .into_iter()
            // example-repo's access test asks for grants these plans take away.
            .filter(|file| !file.path.starts_with("tests/"))
            .filter_map(|file| {
                let text = String::from_utf8(file.content.expect("readable")).expect("UTF-8");
                edit(&file.path, &text).map(|text| (file.path, text.into_bytes()))
            })
            .collect();
    let checked = check(&tollgate::config::load(files), now).expect("valid");
    compile(
        &checked.model,
        &CompileContext {
            cluster: "prod",
            now,
            revision: None,
        },
    )
    .expect("compiles")
}

#[test]
fn objects_no_longer_desired_are_deleted_bindings_first() {
    let state = desired("prod", common::now());
    let live = LiveState {
        objects: state.objects.clone(),
        ..LiveState::default()
    };
    let mut shrunk = state.clone();
    shrunk
        .objects
        .retain(|key, _| key.kind != ObjectKind::PodTemplate);
    let result = plan(&shrunk, &live, Against::Empty);
    assert_eq!(result.summary.delete, 1);
    assert!(result.deletion_guard.is_none(), "a template is not access");
    let mut no_bindings = state.clone();
    no_bindings
        .objects
        .retain(|key, _| !key.kind.is_binding() && key.kind != ObjectKind::Role);
    let result = plan(&no_bindings, &live, Against::Empty);
    // Deletions run bindings first.
    let first_delete = result
        .changes
        .iter()
        .find(|c| c.action == Action::Delete)
        .unwrap();
    assert_eq!(first_delete.object.kind, ObjectKind::RoleBinding);
}

/// Deleting every `UserAccess` file of the example organisation deleted 7 objects of 23 before: under both
/// thresholds, applied without a word. The guard counts access now: every binding and every subject gone.
#[test]
fn the_guard_refuses_removing_every_grant_at_any_size() {
    let state = desired_from(common::now(), |_, text| Some(text.to_owned()));
    let live = LiveState {
        objects: state.objects.clone(),
        ..LiveState::default()
    };
    let emptied = desired_from(common::now(), |path, text| {
        (!path.starts_with("access/")).then(|| text.to_owned())
    });
    let result = plan(&emptied, &live, Against::Empty);
    let guard = result.deletion_guard.clone().expect("the guard trips");
    let bindings = state
        .objects
        .keys()
        .filter(|k| k.is_grant_binding())
        .count();
    assert_eq!((guard.deletes, guard.managed), (bindings, bindings));
    assert!(guard.subjects_losing_all > 0);
    assert_eq!(guard.subjects_losing_all, guard.subjects_with_access);
    assert!(
        guard
            .reason
            .contains(&format!("every one of the {bindings} bindings")),
        "{}",
        guard.reason
    );
    assert!(render::human(&result, false).contains("Deletion guard: it deletes every one of"));
}

/// A commit that lowers the guard and takes access away at once is judged by the last applied limits, which
/// the clients Namespace records.
#[test]
fn a_commit_cannot_lower_the_guard_and_delete_in_one_step() {
    // The last applied revision had a strict guard: at most 10% of the bindings, or 1.
    let strict = desired_from(common::now(), |path, text| match path {
        "settings.yaml" => Some(
            text.replace("maxDeletePercent: 50", "maxDeletePercent: 10")
                .replace("minObjects: 10", "minObjects: 1"),
        ),
        _ => Some(text.to_owned()),
    });
    let live = LiveState {
        objects: strict.objects.clone(),
        ..LiveState::default()
    };
    // This commit lowers it back to 50% and 10, and takes most access away.
    let relaxed_and_emptied = desired_from(common::now(), |path, text| {
        (!path.starts_with("access/") || path == "access/platform.yaml").then(|| text.to_owned())
    });
    let result = plan(&relaxed_and_emptied, &live, Against::Empty);
    let guard = result
        .deletion_guard
        .expect("judged by the last applied limits");
    assert!(guard.limits_from_last_applied);
    assert_eq!((guard.max_delete_percent, guard.min_objects), (10, 1));
    // Without the record of the last applied limits (a first apply), the commit's own limits decide.
    let mut unrecorded = live.clone();
    for manifest in unrecorded.objects.values_mut() {
        manifest.edit(|m| {
            if let Some(annotations) = m["metadata"]["annotations"].as_object_mut() {
                annotations.remove("tollgate.dev/deletion-guard");
            }
        });
    }
    let result = plan(&relaxed_and_emptied, &unrecorded, Against::Empty);
    assert!(
        result.deletion_guard.is_none(),
        "{:?}",
        result.deletion_guard
    );
}

/// fluxcd/kustomize-controller#192: a team Namespace made from a copy of a tollgate namespace's YAML carries its
/// labels, but only kubectl ever wrote it. It is never pruned, and the plan says why.
#[test]
fn an_object_that_only_carries_the_labels_is_never_pruned() {
    let case = common::root().join("tests/fixtures/cases/copied-label-prune");
    let checked = check(&common::load_dir(&case.join("repo")), common::now()).expect("valid");
    let state = compile(
        &checked.model,
        &CompileContext {
            cluster: "staging",
            now: common::now(),
            revision: None,
        },
    )
    .expect("compiles");
    let text = std::fs::read_to_string(case.join("live.yaml")).expect("case");
    let mut live = LiveState::from_yaml("live.yaml", &text).expect("live");
    live.objects.extend(state.objects.clone());
    let result = plan(&state, &live, Against::Empty);
    let key = ObjectKey::cluster_scoped(ObjectKind::Namespace, "payments-sandbox");
    let change = result
        .changes
        .iter()
        .find(|c| c.object == key)
        .expect("shown in the plan");
    assert_eq!(change.action, Action::Unowned);
    assert!(
        change
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("tollgate never wrote it")
                && r.contains("kubectl-client-side-apply")),
        "{change:?}"
    );
    assert_eq!(result.summary.delete, 0);
    assert!(!result.summary.has_changes());
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

/// A client whose only owner is disabled (and that has no extra recipient) ends at the next apply, publish or
/// not: its ServiceAccount is not compiled, so apply deletes it, every token dies, and the plan shows the loss.
#[test]
fn a_client_whose_owners_are_all_gone_loses_its_access_at_the_next_apply() {
    let state = desired_from(common::now(), |_, text| Some(text.to_owned()));
    let live = LiveState {
        objects: state.objects.clone(),
        ..LiveState::default()
    };
    let bob_disabled = desired_from(common::now(), |path, text| match path {
        "users/bob.yaml" => Some(format!("{text}  disabled: true\n")),
        _ => Some(text.to_owned()),
    });
    let result = plan(&bob_disabled, &live, Against::Empty);
    let account =
        ObjectKey::namespaced(ObjectKind::ServiceAccount, "tollgate-clients", "bob-laptop");
    assert!(
        result
            .changes
            .iter()
            .any(|c| c.object == account && c.action == Action::Delete),
        "bob-laptop's ServiceAccount is deleted"
    );
    let bob = result
        .access
        .iter()
        .find(|a| a.subject.kind == "client" && a.subject.name == "bob-laptop")
        .expect("an access change for bob-laptop");
    assert!(bob.lost_all && bob.gained.is_empty(), "{bob:?}");
    assert!(render::human(&result, false).contains("client bob-laptop\n    - exec in payments"));
}
