//! Field-level difference between a desired manifest and a live one.
//!
//! Desired-driven, like server-side apply: only fields tollgate sets are compared, so what the API server adds
//! (uid, defaults, status, other labels) is no drift. Lists are compared whole, element by element the same way,
//! so an extra subject added by hand to a binding is drift.

use serde::Serialize;
use serde_json::Value;

use crate::objects::REVISION_ANNOTATION;

/// One field whose live value differs from the desired one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path of the field, e.g. `subjects` or `metadata.labels.app.kubernetes.io/managed-by`.
    pub path: String,
    /// The live value; `None` when the live object lacks the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The desired value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// The fields of `desired` whose value in `live` differs: only fields tollgate sets (server-side apply's view),
/// a list as a whole, and never the revision annotation; and the fields tollgate set before (its entry in the live
/// object's `managedFields`) that `desired` no longer has, which an apply removes (a capability taken off an
/// environment, a label dropped).
pub fn diff(desired: &Value, live: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk("", desired, live, &mut changes);
    if let Some(owned) = applied_fields(live) {
        removed("", owned, Some(desired), live, &mut changes);
    } else if live["metadata"]["uid"].is_null() && live["metadata"]["managedFields"].is_null() {
        // Never stored by an API server (no uid): tollgate's own output, e.g. `render` of the target branch that CI
        // plans against. Every field of it is tollgate's, so one the repository no longer writes is a change.
        removed_from_render("", desired, live, &mut changes);
    }
    changes
}

/// Whether `live` has every field `desired` sets, with the same value (server-side apply's view of one value).
fn covers(desired: &Value, live: &Value) -> bool {
    let mut changes = Vec::new();
    walk("", desired, live, &mut changes);
    changes.is_empty()
}

/// Whether two values are the same both ways (empty values and absent ones alike).
fn same(a: &Value, b: &Value) -> bool {
    covers(a, b) && covers(b, a)
}

/// Fields of `live`, an object tollgate wrote out itself, that `desired` lacks; lists that differ either way.
fn removed_from_render(path: &str, desired: &Value, live: &Value, out: &mut Vec<FieldChange>) {
    match (desired, live) {
        (Value::Object(desired), Value::Object(live)) => {
            for (key, live_value) in live {
                if path == "metadata.annotations" && key == REVISION_ANNOTATION {
                    continue;
                }
                let at = join(path, key);
                match desired.get(key) {
                    None if !is_empty(live_value) => report(out, &at, live_value),
                    None => {}
                    Some(desired_value) => removed_from_render(&at, desired_value, live_value, out),
                }
            }
        }
        (Value::Array(desired_items), Value::Array(live_items)) => {
            let equal = desired_items.len() == live_items.len()
                && desired_items
                    .iter()
                    .zip(live_items)
                    .all(|(d, l)| same(d, l));
            if !equal && !out.iter().any(|c| c.path == path) {
                out.push(FieldChange {
                    path: path.to_owned(),
                    before: Some(Value::Array(live_items.clone())),
                    after: Some(Value::Array(desired_items.clone())),
                });
            }
        }
        _ => {}
    }
}

/// The fields tollgate's server-side apply owns in a live object: `fieldsV1` of its `Apply` entry in
/// `metadata.managedFields` (the API server's field-set format: `f:<field>` for a field, `k:<json>` for a list item
/// by its keys, `v:<json>` and `i:<index>` for other list items, `.` for the item itself).
fn applied_fields(live: &Value) -> Option<&serde_json::Map<String, Value>> {
    live["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|entry| {
            entry["manager"] == crate::objects::FIELD_MANAGER && entry["operation"] == "Apply"
        })?["fieldsV1"]
        .as_object()
}

/// Fields of `owned` (a `fieldsV1` set at `path`) present in `live` but not in `desired`: apply removes them. List
/// items named by their keys are matched by those keys; other list items are compared with their list, whole.
fn removed(
    path: &str,
    owned: &serde_json::Map<String, Value>,
    desired: Option<&Value>,
    live: &Value,
    out: &mut Vec<FieldChange>,
) {
    for (key, below) in owned {
        let below = below.as_object();
        if let Some(field) = key.strip_prefix("f:") {
            if path == "metadata.annotations" && field == REVISION_ANNOTATION {
                continue;
            }
            let Some(live_value) = live.get(field) else {
                continue;
            };
            let at = join(path, field);
            match desired.and_then(|d| d.get(field)) {
                None if !is_empty(live_value) => report(out, &at, live_value),
                None => {}
                Some(desired_value) => {
                    if let Some(below) = below.filter(|b| b.keys().any(|k| k != ".")) {
                        removed(&at, below, Some(desired_value), live_value, out);
                    }
                }
            }
        } else if let Some(keys) = key.strip_prefix("k:") {
            let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else {
                continue;
            };
            let matches = |item: &&Value| keys.iter().all(|(k, v)| item.get(k) == Some(v));
            let Some(live_item) = live.as_array().and_then(|items| items.iter().find(matches))
            else {
                continue;
            };
            let named: Vec<String> = keys
                .iter()
                .map(|(k, v)| format!("{k}={}", plain(v)))
                .collect();
            let at = format!("{path}[{}]", named.join(","));
            match desired
                .and_then(Value::as_array)
                .and_then(|items| items.iter().find(matches))
            {
                None => report(out, &at, live_item),
                Some(desired_item) => {
                    if let Some(below) = below {
                        removed(&at, below, Some(desired_item), live_item, out);
                    }
                }
            }
        }
    }
}

/// A key value of a list item as written in a path: strings bare.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A removed field, unless a change already covers it (its list or object was reported whole).
fn report(out: &mut Vec<FieldChange>, path: &str, live_value: &Value) {
    let covered = out.iter().any(|c| {
        path == c.path
            || path.starts_with(&format!("{}.", c.path))
            || path.starts_with(&format!("{}[", c.path))
    });
    if !covered {
        out.push(FieldChange {
            path: path.to_owned(),
            before: Some(live_value.clone()),
            after: None,
        });
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Values the API server drops when it stores an object (Go's `omitempty`), so their absence is no drift.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn walk(path: &str, desired: &Value, live: &Value, out: &mut Vec<FieldChange>) {
    match (desired, live) {
        (Value::Object(desired), Value::Object(live)) => {
            for (key, desired_value) in desired {
                // The revision moves with every commit; rewriting every object for it would be churn.
                if path == "metadata.annotations" && key == REVISION_ANNOTATION {
                    continue;
                }
                let field = join(path, key);
                match live.get(key) {
                    Some(live_value) => walk(&field, desired_value, live_value, out),
                    None if is_empty(desired_value) => {}
                    None => out.push(FieldChange {
                        path: field,
                        before: None,
                        after: Some(desired_value.clone()),
                    }),
                }
            }
        }
        (Value::Array(desired_items), Value::Array(live_items)) => {
            // An RBAC rule has no field the API server fills in: a field only the live rule has (`resourceNames`
            // taken off in the repository) is a difference too.
            let both_ways = path == "rules";
            let same = desired_items.len() == live_items.len()
                && desired_items
                    .iter()
                    .zip(live_items)
                    .all(|(d, l)| if both_ways { same(d, l) } else { covers(d, l) });
            if !same {
                out.push(FieldChange {
                    path: path.to_owned(),
                    before: Some(Value::Array(live_items.clone())),
                    after: Some(Value::Array(desired_items.clone())),
                });
            }
        }
        (desired, live) if desired == live => {}
        (desired, live) => out.push(FieldChange {
            path: path.to_owned(),
            before: Some(live.clone()),
            after: Some(desired.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_added_fields_are_not_drift() {
        let desired = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "subjects": [{"kind": "User", "name": "u"}]});
        let live = json!({"metadata": {"name": "a", "uid": "123", "labels": {"x": "1", "y": "2"}},
                          "subjects": [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}]});
        assert!(diff(&desired, &live).is_empty());
    }

    #[test]
    fn changed_labels_and_extra_list_items_are_drift() {
        let desired = json!({"metadata": {"labels": {"x": "1"}}, "subjects": [{"name": "u"}]});
        let live = json!({"metadata": {"labels": {"x": "2"}}, "subjects": [{"name": "u"}, {"name": "intruder"}]});
        let paths: Vec<_> = diff(&desired, &live).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["metadata.labels.x", "subjects"]);
    }

    #[test]
    fn empty_values_the_server_omits_are_not_drift() {
        // Seen against a real kube-apiserver: it stores `apiGroup: ""` of a ServiceAccount subject as absent.
        let desired =
            json!({"subjects": [{"kind": "ServiceAccount", "name": "a", "apiGroup": ""}]});
        let live = json!({"subjects": [{"kind": "ServiceAccount", "name": "a"}]});
        assert!(diff(&desired, &live).is_empty());
    }

    #[test]
    fn a_field_tollgate_set_and_no_longer_sets_is_a_change() {
        // As a kube-apiserver records tollgate's server-side apply of an environment's PodTemplate.
        let live = json!({
            "metadata": {
                "labels": {"a": "1", "gone": "x", "theirs": "y"},
                "managedFields": [
                    {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:theirs": {}}}}},
                    {"manager": "tollgate", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:a": {}, "f:gone": {}}},
                        "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"session\"}": {
                            ".": {}, "f:name": {}, "f:image": {},
                            "f:securityContext": {"f:capabilities": {"f:add": {}}, "f:privileged": {}}
                        }}}}
                    }}
                ]
            },
            "template": {"spec": {"containers": [{
                "name": "session", "image": "alpine", "imagePullPolicy": "IfNotPresent",
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}, "privileged": false}
            }]}}
        });
        let desired = json!({
            "metadata": {"labels": {"a": "1"}},
            "template": {"spec": {"containers": [{
                "name": "session", "image": "alpine", "securityContext": {"privileged": false}
            }]}}
        });
        let changes = diff(&desired, &live);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        // Another manager's label and the server's default stay; tollgate's own removals are changes.
        assert_eq!(
            paths,
            [
                "metadata.labels.gone",
                "template.spec.containers[name=session].securityContext.capabilities"
            ]
        );
        assert!(changes.iter().all(|c| c.after.is_none()));
        // Stored by a server without tollgate's managedFields (written by another tool): nothing is known to be
        // tollgate's, so no removal is claimed.
        let mut bare = live.clone();
        let metadata = bare["metadata"].as_object_mut().expect("metadata");
        metadata.remove("managedFields");
        metadata.insert("uid".to_owned(), json!("u"));
        assert!(diff(&desired, &bare).is_empty());
    }

    #[test]
    fn a_rule_that_lost_its_resource_names_is_a_change() {
        let desired =
            json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]});
        let live = json!({"metadata": {"uid": "u"}, "rules": [{"apiGroups": [""], "resources": ["secrets"],
            "verbs": ["get"], "resourceNames": ["ci-token"]}]});
        let paths: Vec<String> = diff(&desired, &live).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["rules"]);
    }

    #[test]
    fn a_rendered_object_is_tollgates_whole() {
        // `render` output (no uid, no managedFields): a field the repository no longer writes is a change.
        let desired = json!({"metadata": {"name": "t"}, "template": {"spec": {"containers": [{"name": "s"}]}}});
        let live = json!({"metadata": {"name": "t"}, "template": {"spec": {"containers": [
            {"name": "s", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}}});
        let paths: Vec<String> = diff(&desired, &live).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["template.spec.containers"]);
        // Stored by a server (a uid), without managedFields: nothing is known to be tollgate's, nothing claimed.
        let mut stored = live.clone();
        stored["metadata"]["uid"] = json!("u");
        assert!(diff(&desired, &stored).is_empty());
    }

    #[test]
    fn the_revision_annotation_is_ignored() {
        let desired = json!({"metadata": {"annotations": {REVISION_ANNOTATION: "b"}}});
        let live = json!({"metadata": {"annotations": {REVISION_ANNOTATION: "a"}}});
        assert!(diff(&desired, &live).is_empty());
    }
}
