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
/// a list as a whole, and never the revision annotation.
pub fn diff(desired: &Value, live: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk("", desired, live, &mut changes);
    changes
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
            let same = desired_items.len() == live_items.len()
                && desired_items
                    .iter()
                    .zip(live_items)
                    .all(|(d, l)| diff(d, l).is_empty());
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
    fn the_revision_annotation_is_ignored() {
        let desired = json!({"metadata": {"annotations": {REVISION_ANNOTATION: "b"}}});
        let live = json!({"metadata": {"annotations": {REVISION_ANNOTATION: "a"}}});
        assert!(diff(&desired, &live).is_empty());
    }
}
