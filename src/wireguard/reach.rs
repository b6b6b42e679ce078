//! Where a client may go through the tunnel, read from the same compiled bindings the API server authorises it
//! with (not from a second reading of the YAML): the namespaces in which one of its identities is bound to a role,
//! or the whole cluster network when a ClusterRoleBinding names it. Pure.
//!
//! A client's identities: its ServiceAccount with the groups Kubernetes gives every ServiceAccount
//! (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`, `system:authenticated`, as the
//! ServiceAccount authenticator sets them), and, when it acts as its owner, the owner's user and groups.

use std::collections::{BTreeSet, HashMap};

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
    /// Every subject RBAC matches this client as, as (`kind`, `name`) with a ServiceAccount named
    /// `<namespace>/<name>`.
    fn subjects(&self) -> Vec<(&'static str, String)> {
        let mut subjects = vec![
            (
                "ServiceAccount",
                format!("{}/{}", self.namespace, self.service_account),
            ),
            ("Group", "system:serviceaccounts".to_owned()),
            ("Group", "system:authenticated".to_owned()),
            (
                "Group",
                format!("system:serviceaccounts:{}", self.namespace),
            ),
        ];
        subjects.extend(self.user.iter().map(|user| ("User", user.clone())));
        subjects.extend(self.groups.iter().map(|group| ("Group", group.clone())));
        subjects
    }
}

/// The desired bindings that name the clients' identities, by subject, read once from the desired state so that
/// each client's reach is a few lookups (a gateway serves thousands of clients; the state holds tens of thousands
/// of bindings). Only the clients' subjects are kept: indexing every subject of a large organisation took about
/// 280 MiB for a moment of every publish (55,670 objects).
#[derive(Debug, Default)]
pub struct Grants<'d> {
    /// (`kind`, `name`) of a subject (a ServiceAccount as `<namespace>/<name>`) -> the namespaces of the
    /// RoleBindings naming it, `None` for a ClusterRoleBinding.
    by_subject: HashMap<(&'static str, String), BTreeSet<Option<&'d str>>>,
}

impl<'d> Grants<'d> {
    /// Reads the bindings of `desired` that name a subject of one of `clients`. The bindings that let a client
    /// impersonate its owner grant no access of their own and are left out.
    pub fn of<'c>(
        desired: &'d DesiredState,
        clients: impl IntoIterator<Item = &'c Identities>,
    ) -> Grants<'d> {
        let mut by_subject: HashMap<(&'static str, String), BTreeSet<Option<&'d str>>> = clients
            .into_iter()
            .flat_map(Identities::subjects)
            .map(|subject| (subject, BTreeSet::new()))
            .collect();
        for (key, manifest) in &desired.objects {
            if !key.kind.is_binding() {
                continue;
            }
            let Some(binding) = manifest.binding() else {
                continue;
            };
            if binding.role_ref.name.starts_with(IMPERSONATION_ROLE_PREFIX) {
                continue;
            }
            let scope = match key.kind {
                ObjectKind::ClusterRoleBinding => None,
                _ => key.namespace.as_deref(),
            };
            for subject in binding.subjects {
                let (kind, name) = match subject.kind.as_str() {
                    "ServiceAccount" => (
                        "ServiceAccount",
                        format!("{}/{}", subject.namespace.unwrap_or_default(), subject.name),
                    ),
                    "User" => ("User", subject.name),
                    "Group" => ("Group", subject.name),
                    _ => continue,
                };
                if let Some(scopes) = by_subject.get_mut(&(kind, name)) {
                    scopes.insert(scope);
                }
            }
        }
        Grants { by_subject }
    }

    /// Where `who` (one of the clients the grants were read for) may go.
    pub fn reach(&self, who: &Identities) -> Reach {
        let mut namespaces = BTreeSet::new();
        for subject in who.subjects() {
            for scope in self.by_subject.get(&subject).into_iter().flatten() {
                match scope {
                    None => return Reach::ClusterWide,
                    Some(namespace) => {
                        namespaces.insert((*namespace).to_owned());
                    }
                }
            }
        }
        Reach::Namespaces(namespaces)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

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
            objects: objects
                .into_iter()
                .map(|(key, value)| (key, value.into()))
                .collect::<BTreeMap<_, _>>(),
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
        let nobody = Identities {
            service_account: "other".into(),
            user: None,
            groups: vec![],
            ..alice.clone()
        };
        let clients = [&alice, &nobody];
        assert_eq!(
            Grants::of(&state, clients).reach(&alice),
            Reach::Namespaces(["apps".to_owned(), "payments".to_owned()].into())
        );
        let mut wide = state.clone();
        let (key, value) = binding(
            ObjectKind::ClusterRoleBinding,
            None,
            "view",
            json!({"kind": "User", "name": "tg:alice"}),
        );
        wide.objects.insert(key, value.into());
        assert_eq!(Grants::of(&wide, clients).reach(&alice), Reach::ClusterWide);
        assert_eq!(
            Grants::of(&state, clients).reach(&nobody),
            Reach::Namespaces(BTreeSet::new())
        );
    }
}
