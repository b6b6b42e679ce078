//! Where a client may go through the tunnel, read from the same compiled bindings the API server authorises it
//! with (not from a second reading of the YAML): the namespaces in which one of its identities is bound to a role,
//! or the whole cluster network when a ClusterRoleBinding names it. Pure.
//!
//! A client's identities: its ServiceAccount with the groups Kubernetes gives every ServiceAccount
//! (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`, `system:authenticated`, as the
//! ServiceAccount authenticator sets them), and, when it acts as its owner, the owner's user and groups.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::compile::IMPERSONATION_ROLE_PREFIX;
use crate::objects::{DesiredState, ObjectKind};

/// Who a client is to RBAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identities {
    /// The clients namespace (its ServiceAccount's namespace).
    pub namespace: String,
    /// The ServiceAccount's name (the client's name).
    pub service_account: String,
    /// The user it acts as (impersonation), prefixed as in the bindings.
    pub user: Option<String>,
    /// The groups it acts as, prefixed as in the bindings.
    pub groups: Vec<String>,
}

/// Where a client's packets may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A ClusterRoleBinding names one of its identities: all of the gateway's `allowedIps`.
    ClusterWide,
    /// The namespaces of the RoleBindings that name one of its identities (maybe none).
    Namespaces(BTreeSet<String>),
}

impl Identities {
    fn matches(&self, subject: &Value) -> bool {
        let name = subject["name"].as_str().unwrap_or_default();
        match subject["kind"].as_str() {
            Some("ServiceAccount") => {
                name == self.service_account
                    && subject["namespace"].as_str() == Some(self.namespace.as_str())
            }
            Some("User") => self.user.as_deref() == Some(name),
            Some("Group") => {
                name == "system:serviceaccounts"
                    || name == "system:authenticated"
                    || name == format!("system:serviceaccounts:{}", self.namespace)
                    || self.groups.iter().any(|g| g == name)
            }
            _ => false,
        }
    }
}

/// Where `who` may go, from the desired bindings. The bindings that let a client impersonate its owner grant no
/// access of their own and are not counted.
pub fn reach(desired: &DesiredState, who: &Identities) -> Reach {
    let mut namespaces = BTreeSet::new();
    for (key, manifest) in &desired.objects {
        let cluster_wide = match key.kind {
            ObjectKind::ClusterRoleBinding => true,
            ObjectKind::RoleBinding => false,
            _ => continue,
        };
        if manifest["roleRef"]["name"]
            .as_str()
            .is_some_and(|role| role.starts_with(IMPERSONATION_ROLE_PREFIX))
        {
            continue;
        }
        let named = manifest["subjects"]
            .as_array()
            .is_some_and(|subjects| subjects.iter().any(|s| who.matches(s)));
        if !named {
            continue;
        }
        if cluster_wide {
            return Reach::ClusterWide;
        }
        if let Some(namespace) = &key.namespace {
            namespaces.insert(namespace.clone());
        }
    }
    Reach::Namespaces(namespaces)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::objects::ObjectKey;

    fn desired(objects: Vec<(ObjectKey, Value)>) -> DesiredState {
        DesiredState {
            cluster: "dev".into(),
            clients_namespace: "tollgate-clients".into(),
            deletion_guard: crate::validate::model::DeletionGuard {
                max_delete_percent: 100,
                min_objects: 0,
            },
            objects: objects.into_iter().collect::<BTreeMap<_, _>>(),
            vpn: None,
        }
    }

    fn binding(
        kind: ObjectKind,
        namespace: Option<&str>,
        role: &str,
        subject: Value,
    ) -> (ObjectKey, Value) {
        let key = match namespace {
            Some(ns) => ObjectKey::namespaced(kind, ns, role),
            None => ObjectKey::cluster_scoped(kind, role),
        };
        (
            key,
            json!({"roleRef": {"name": role}, "subjects": [subject]}),
        )
    }

    #[test]
    fn namespaces_come_from_role_bindings_and_cluster_bindings_open_everything() {
        let alice = Identities {
            namespace: "tollgate-clients".into(),
            service_account: "alice-laptop".into(),
            user: Some("tg:alice".into()),
            groups: vec!["tg:backend".into()],
        };
        let sa = json!({"kind": "ServiceAccount", "name": "alice-laptop", "namespace": "tollgate-clients"});
        let state = desired(vec![
            binding(
                ObjectKind::RoleBinding,
                Some("payments"),
                "tollgate:view",
                sa.clone(),
            ),
            binding(
                ObjectKind::RoleBinding,
                Some("apps"),
                "edit",
                json!({"kind": "Group", "name": "tg:backend"}),
            ),
            binding(
                ObjectKind::RoleBinding,
                Some("other"),
                "edit",
                json!({"kind": "User", "name": "tg:bob"}),
            ),
            binding(
                ObjectKind::ClusterRoleBinding,
                None,
                "tollgate:impersonate:alice-laptop",
                sa.clone(),
            ),
        ]);
        assert_eq!(
            reach(&state, &alice),
            Reach::Namespaces(["apps".to_owned(), "payments".to_owned()].into())
        );
        let mut wide = state.clone();
        let (key, value) = binding(
            ObjectKind::ClusterRoleBinding,
            None,
            "view",
            json!({"kind": "User", "name": "tg:alice"}),
        );
        wide.objects.insert(key, value);
        assert_eq!(reach(&wide, &alice), Reach::ClusterWide);
        let nobody = Identities {
            service_account: "other".into(),
            user: None,
            groups: vec![],
            ..alice
        };
        assert_eq!(reach(&state, &nobody), Reach::Namespaces(BTreeSet::new()));
    }
}
