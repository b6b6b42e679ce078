//! Kubernetes objects as compile produces them and plan compares them: a typed key and the manifest as JSON.
//!
//! Compile builds k8s-openapi types and turns them into JSON once, so that plan can diff any kind field by field
//! and render any kind the same way; desired and live state are the same shape. Manifests are held as compact
//! JSON text ([`Manifest`]), not as parsed trees, so that a state of tens of thousands of objects stays small.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::lenient::{Fields, Items, StringMap, Text};
use crate::validate::model::DeletionGuard;

/// Label every object tollgate manages carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] on every object tollgate manages.
pub const MANAGED_BY_VALUE: &str = "tollgate";
/// Label naming the cluster (tollgate's instance) an object belongs to.
pub const INSTANCE_LABEL: &str = "tollgate.dev/instance";
/// Annotation naming the repository files an object was compiled from.
pub const SOURCE_ANNOTATION: &str = "tollgate.dev/source";
/// Annotation naming the Git revision an object was last written from; plans ignore it.
pub const REVISION_ANNOTATION: &str = "tollgate.dev/revision";
/// Label naming the client a ServiceAccount (or a credentials Secret) belongs to.
pub const CLIENT_LABEL: &str = "tollgate.dev/client";
/// Label naming the environment a session object belongs to.
pub const ENVIRONMENT_LABEL: &str = "tollgate.dev/environment";

/// The kinds tollgate manages, in the order they are applied (what others refer to comes first); prune goes in
/// reverse, so bindings disappear before the roles they name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ObjectKind {
    /// The clients namespace and each environment's namespace.
    Namespace,
    /// A client's identity, or an environment's session ServiceAccount.
    ServiceAccount,
    /// The rules of a built-in or custom role, named `tollgate:<role>`.
    ClusterRole,
    /// An environment's session Role, named `tollgate:session:<environment>`.
    Role,
    /// The template an environment's sessions start from, named `tollgate-session-<environment>`.
    PodTemplate,
    /// The cluster-wide grants of one role.
    ClusterRoleBinding,
    /// The grants of one role, or of an environment's sessions, in one namespace.
    RoleBinding,
}

impl ObjectKind {
    /// Every kind, in apply order.
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::Namespace,
        ObjectKind::ServiceAccount,
        ObjectKind::ClusterRole,
        ObjectKind::Role,
        ObjectKind::PodTemplate,
        ObjectKind::ClusterRoleBinding,
        ObjectKind::RoleBinding,
    ];

    /// The `apiVersion` of objects of this kind: `v1` or `rbac.authorization.k8s.io/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            ObjectKind::Namespace | ObjectKind::ServiceAccount | ObjectKind::PodTemplate => "v1",
            ObjectKind::ClusterRole
            | ObjectKind::Role
            | ObjectKind::ClusterRoleBinding
            | ObjectKind::RoleBinding => "rbac.authorization.k8s.io/v1",
        }
    }

    /// The `kind` field of objects of this kind, e.g. `ClusterRoleBinding`.
    pub fn kind(self) -> &'static str {
        match self {
            ObjectKind::Namespace => "Namespace",
            ObjectKind::ServiceAccount => "ServiceAccount",
            ObjectKind::ClusterRole => "ClusterRole",
            ObjectKind::Role => "Role",
            ObjectKind::PodTemplate => "PodTemplate",
            ObjectKind::ClusterRoleBinding => "ClusterRoleBinding",
            ObjectKind::RoleBinding => "RoleBinding",
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        self.api_version()
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The resource name in API paths, as RBAC rules and SubjectAccessReviews name it.
    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::Namespace => "namespaces",
            ObjectKind::ServiceAccount => "serviceaccounts",
            ObjectKind::ClusterRole => "clusterroles",
            ObjectKind::Role => "roles",
            ObjectKind::PodTemplate => "podtemplates",
            ObjectKind::ClusterRoleBinding => "clusterrolebindings",
            ObjectKind::RoleBinding => "rolebindings",
        }
    }

    /// Whether objects of this kind live in a namespace (all but Namespace, ClusterRole and ClusterRoleBinding).
    pub fn is_namespaced(self) -> bool {
        !matches!(
            self,
            ObjectKind::Namespace | ObjectKind::ClusterRole | ObjectKind::ClusterRoleBinding
        )
    }

    /// The kind a manifest's `apiVersion` and `kind` name; `None` for a kind tollgate does not manage.
    pub fn from_type(api_version: &str, kind: &str) -> Option<ObjectKind> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.api_version() == api_version && k.kind() == kind)
    }

    /// Whether this is RoleBinding or ClusterRoleBinding, the kinds that grant access.
    pub fn is_binding(self) -> bool {
        matches!(
            self,
            ObjectKind::ClusterRoleBinding | ObjectKind::RoleBinding
        )
    }
}

/// Identifies an object within one cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// The object's type (`apiVersion` and `kind`); keys sort by it first, so in apply order.
    pub kind: ObjectKind,
    /// The object's `metadata.namespace`; `None` for a cluster-scoped kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's `metadata.name`.
    pub name: String,
}

impl ObjectKey {
    /// Whether this is a binding made from grants (every such binding is named `tollgate:...`), as opposed to the
    /// session gateway's own binding in an environment namespace (`tollgate-session-gateway`), which the deletion
    /// guard does not count as anyone's access.
    pub fn is_grant_binding(&self) -> bool {
        self.kind.is_binding() && self.name.starts_with("tollgate:")
    }

    /// The key of a cluster-scoped object (Namespace, ClusterRole, ClusterRoleBinding).
    pub fn cluster_scoped(kind: ObjectKind, name: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            namespace: None,
            name: name.into(),
        }
    }

    /// The key of an object of a namespaced kind in `namespace`.
    pub fn namespaced(
        kind: ObjectKind,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        ObjectKey {
            kind,
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// The key of a manifest (`apiVersion`, `kind`, `metadata.namespace`, `metadata.name`), if it is of a kind
    /// tollgate manages.
    pub fn of_manifest(manifest: &Value) -> Option<ObjectKey> {
        let kind =
            ObjectKind::from_type(manifest["apiVersion"].as_str()?, manifest["kind"].as_str()?)?;
        let metadata = &manifest["metadata"];
        let name = metadata["name"].as_str()?.to_owned();
        let namespace = if kind.is_namespaced() {
            Some(
                metadata["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_owned(),
            )
        } else {
            None
        };
        Some(ObjectKey {
            kind,
            namespace,
            name,
        })
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind.kind(), self.name),
            None => write!(f, "{} {}", self.kind.kind(), self.name),
        }
    }
}

/// One object's manifest as compact JSON text.
///
/// A parsed `serde_json::Value` tree takes about ten times the memory of its text (a 55,670-object desired state
/// took 248 MiB as trees, 26 MB as text), so states hold text and parse where a field is read: whole
/// ([`Manifest::value`]) to compare or render, or only the fields a step needs ([`Manifest::metadata`],
/// [`Manifest::binding`]), which skips the rest without building it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Manifest(Box<RawValue>);

impl Manifest {
    /// Serializes `object` (a k8s-openapi type, or a `Value`) straight to compact JSON.
    ///
    /// # Panics
    /// When `object` does not serialize to JSON, which k8s-openapi types and `Value`s always do.
    pub fn new(object: &impl Serialize) -> Manifest {
        Manifest(
            serde_json::value::to_raw_value(object)
                .expect("k8s-openapi objects and JSON values serialize to JSON"),
        )
    }

    /// The manifest as a JSON tree.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).expect("a manifest is JSON by construction")
    }

    /// Changes the manifest through its JSON tree (parsed and written back: for the rare edit, not a loop).
    pub fn edit(&mut self, change: impl FnOnce(&mut Value)) {
        let mut tree = self.value();
        change(&mut tree);
        *self = Manifest::new(&tree);
    }

    /// The compact JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The manifest as a typed Kubernetes object (e.g. k8s-openapi's `ClusterRole`); `None` when it does not
    /// read as one (a hand-written `--live-from` object with a field of another type).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.json()).ok()
    }

    /// The metadata plan and apply decide with: labels, annotations, uid, resourceVersion and the field managers.
    /// Lenient as the JSON-tree reading was: a field of another type than expected (a hand-written `--live-from`
    /// file) counts as absent, without hiding the others.
    pub fn metadata(&self) -> Metadata {
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct Object {
            metadata: Fields<MetadataFields>,
        }
        #[derive(Default, Deserialize)]
        #[serde(default, rename_all = "camelCase")]
        struct MetadataFields {
            labels: StringMap,
            annotations: StringMap,
            uid: Text,
            resource_version: Text,
            managed_fields: Items<Fields<ManagerFields>>,
        }
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct ManagerFields {
            manager: Text,
        }
        let Fields(metadata) = serde_json::from_str::<Object>(self.0.get())
            .map(|o| o.metadata)
            .unwrap_or_default();
        Metadata {
            labels: metadata.labels.0,
            annotations: metadata.annotations.0,
            uid: metadata.uid.0,
            resource_version: metadata.resource_version.0,
            // Absent: nothing to go on but the labels. Present but not a list (a hand-written file): no manager
            // can be read from it, so it does not prove tollgate wrote the object (never pruned on its word).
            managed_fields: metadata.managed_fields.0.map(|entries| {
                entries
                    .into_iter()
                    .map(|Fields(e)| ManagedFieldsEntry {
                        manager: e.manager.0,
                    })
                    .collect()
            }),
        }
    }

    /// A binding's `roleRef` and `subjects`; `None` when the manifest has no `roleRef.name` (not a binding).
    /// Only these two fields are built; the rest of the manifest is skipped.
    pub fn binding(&self) -> Option<Binding> {
        #[derive(Default, Deserialize)]
        #[serde(default, rename_all = "camelCase")]
        struct Object {
            role_ref: Fields<RoleRefFields>,
            subjects: Items<Fields<SubjectFields>>,
        }
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct RoleRefFields {
            kind: Text,
            name: Text,
        }
        #[derive(Default, Deserialize)]
        #[serde(default)]
        struct SubjectFields {
            kind: Text,
            name: Text,
            namespace: Text,
        }
        let object = serde_json::from_str::<Object>(self.0.get()).ok()?;
        let Fields(role_ref) = object.role_ref;
        Some(Binding {
            role_ref: RoleRef {
                kind: role_ref.kind.0.unwrap_or_default(),
                name: role_ref.name.0?,
            },
            subjects: object
                .subjects
                .0
                .unwrap_or_default()
                .into_iter()
                .map(|Fields(subject)| Subject {
                    kind: subject.kind.0.unwrap_or_default(),
                    name: subject.name.0.unwrap_or_default(),
                    namespace: subject.namespace.0,
                })
                .collect(),
        })
    }
}

impl From<Value> for Manifest {
    fn from(value: Value) -> Manifest {
        Manifest::new(&value)
    }
}

impl PartialEq for Manifest {
    fn eq(&self, other: &Manifest) -> bool {
        self.0.get() == other.0.get()
    }
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

/// The part of an object's `metadata` that ownership, prune and the fingerprint read (see [`Manifest::metadata`]).
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// `metadata.labels` (string values only).
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations` (string values only).
    pub annotations: BTreeMap<String, String>,
    /// `metadata.uid`, set by the API server.
    pub uid: Option<String>,
    /// `metadata.resourceVersion`, set by the API server.
    pub resource_version: Option<String>,
    /// The `manager` of each `metadata.managedFields` entry; `None` when the field is absent (`kubectl get -o yaml`
    /// leaves it out).
    pub managed_fields: Option<Vec<ManagedFieldsEntry>>,
}

/// One `metadata.managedFields` entry, as far as ownership reads it.
#[derive(Debug, Clone, Default)]
pub struct ManagedFieldsEntry {
    /// The field manager, e.g. `tollgate` or `kubectl-client-side-apply`.
    pub manager: Option<String>,
}

/// A RoleBinding's or ClusterRoleBinding's `roleRef` and `subjects` (see [`Manifest::binding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `roleRef`.
    pub role_ref: RoleRef,
    /// `subjects`; empty when absent.
    pub subjects: Vec<Subject>,
}

/// A binding's `roleRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRef {
    /// `Role` or `ClusterRole` (empty when absent).
    pub kind: String,
    /// The role's name.
    pub name: String,
}

/// One of a binding's `subjects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount` (empty when absent).
    pub kind: String,
    /// The user's, group's or ServiceAccount's name (empty when absent).
    pub name: String,
    /// A ServiceAccount's namespace.
    pub namespace: Option<String>,
}

/// What one cluster should hold, as compiled from the repository.
#[derive(Debug, Clone)]
pub struct DesiredState {
    /// The cluster (tollgate instance) the objects are for: their [`INSTANCE_LABEL`].
    pub cluster: String,
    /// Namespace of the clients' ServiceAccounts: plan uses it to name access changes by client.
    pub clients_namespace: String,
    /// Settings' `spec.deletionGuard`, which plan checks deletions against.
    pub deletion_guard: DeletionGuard,
    /// Every object the cluster should hold, as JSON manifests by key (so in apply order).
    pub objects: BTreeMap<ObjectKey, Manifest>,
    /// The VPN clients of the cluster, when it has a gateway and a client pool: plan predicts their peers.
    pub vpn: Option<VpnClients>,
}

/// The clients that should have a WireGuard peer on a cluster's gateway, and the pool their ranges come from.
#[derive(Debug, Clone)]
pub struct VpnClients {
    /// Settings' `clientPool`.
    pub pool: crate::validate::model::ClientPool,
    /// Live clients with `vpn` on this cluster.
    pub clients: std::collections::BTreeSet<String>,
}

/// What a cluster holds: every object of a managed kind that was read, owned by tollgate or not (a same-named
/// object tollgate does not own is a conflict, so it must be seen).
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// The objects read, as JSON manifests by key; an unlabelled one read from a cluster has only its type and
    /// `metadata`.
    pub objects: BTreeMap<ObjectKey, Manifest>,
    /// The gateway's published peers (ConfigMap `tollgate-peers`), when they were read.
    pub peers: LivePeers,
}

/// What a cluster's published peer list was found to be.
#[derive(Debug, Clone, Default)]
pub enum LivePeers {
    /// Not read (`--live-from`, `apply` without `--publish`): peers are not planned.
    #[default]
    NotRead,
    /// None published yet (or `--offline`: an empty cluster).
    Absent,
    /// Read: the published list.
    Published(crate::wireguard::peers::PeerList),
    /// Could not be read or parsed (e.g. no permission to get the ConfigMap): peers are not planned, and the plan
    /// says why.
    Unreadable(String),
}

/// The field manager of every write tollgate makes (server-side apply); `managedFields` names it on every object
/// tollgate wrote.
pub const FIELD_MANAGER: &str = "tollgate";

/// Annotation of the clients Namespace that records the deletion guard of the last applied revision, so that a
/// commit cannot lower the guard and delete access in one step.
pub const DELETION_GUARD_ANNOTATION: &str = "tollgate.dev/deletion-guard";

/// Whose a live object is, for plan and prune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// It carries tollgate's labels for the cluster and tollgate wrote it (or its `managedFields` were not
    /// exported, as `kubectl get -o yaml` omits them: then the labels are all there is to go on).
    Owned,
    /// It carries tollgate's labels, but tollgate never wrote it: no `tollgate` field manager. Copied YAML, or
    /// another tool. Never pruned, never updated without `--adopt`.
    LabelledOnly {
        /// The field managers that did write it, e.g. `kubectl-client-side-apply`.
        managers: Vec<String>,
    },
    /// Not labelled for this cluster.
    Foreign,
}

/// Decides ownership from evidence tollgate itself wrote: its labels and its field manager.
pub fn ownership(manifest: &Manifest, cluster: &str) -> Ownership {
    let metadata = manifest.metadata();
    let labels = &metadata.labels;
    let labelled = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
        && labels.get(INSTANCE_LABEL).map(String::as_str) == Some(cluster);
    if !labelled {
        return Ownership::Foreign;
    }
    let Some(entries) = &metadata.managed_fields else {
        return Ownership::Owned;
    };
    let managers: Vec<String> = entries.iter().filter_map(|e| e.manager.clone()).collect();
    if managers.iter().any(|m| m == FIELD_MANAGER) {
        Ownership::Owned
    } else {
        Ownership::LabelledOnly { managers }
    }
}

/// Whether a live object is tollgate's in `cluster` (see [`ownership`]).
pub fn is_owned_by(manifest: &Manifest, cluster: &str) -> bool {
    ownership(manifest, cluster) == Ownership::Owned
}

/// Why a file of live objects (`plan --live-from FILE`) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveStateError {
    /// A document of the file is not valid YAML or JSON.
    #[error("cannot parse the live objects in {path}: {message}")]
    Parse {
        /// The file, as the user named it.
        path: String,
        /// serde_yaml's message.
        message: String,
    },
}

impl LiveState {
    /// Reads objects as `kubectl get -o yaml` prints them (a `List`), or as multi-document YAML or JSON. Objects of
    /// kinds tollgate does not manage are skipped.
    pub fn from_yaml(path: &str, text: &str) -> Result<LiveState, LiveStateError> {
        let mut state = LiveState::default();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value: Value =
                serde::Deserialize::deserialize(document).map_err(|e| LiveStateError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
            state.add(value);
        }
        // Manifests are parsed again as JSON where a field is read; serde_json refuses deeper nesting (128 levels)
        // than serde_yaml, so such a file is refused here rather than failing later.
        for (key, manifest) in &state.objects {
            serde_json::from_str::<Value>(manifest.json()).map_err(|e| LiveStateError::Parse {
                path: path.to_owned(),
                message: format!("{key}: {e}"),
            })?;
        }
        Ok(state)
    }

    fn add(&mut self, value: Value) {
        if value.is_null() {
            return;
        }
        if value["kind"]
            .as_str()
            .is_some_and(|kind| kind == "List" || kind.ends_with("List"))
        {
            // Moved out, not cloned: a `kubectl get -o yaml` List of tens of thousands of objects would otherwise be
            // held twice.
            if let Value::Object(mut list) = value
                && let Some(Value::Array(items)) = list.remove("items")
            {
                for item in items {
                    self.add(item);
                }
            }
            return;
        }
        if let Some(key) = ObjectKey::of_manifest(&value) {
            self.objects.insert(key, Manifest::new(&value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_odd_field_hides_only_itself() {
        // A hand-written `--live-from` object: a label that is a number, a null annotation, a non-string uid.
        let manifest = Manifest::new(&json!({
            "metadata": {
                "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, INSTANCE_LABEL: "prod", "version": 2},
                "annotations": {"a": null, "b": "kept"},
                "uid": 7,
                "managedFields": [{"manager": "tollgate"}, {"manager": 3}, "junk"],
            },
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": 5}, {"kind": "Group", "name": "g"}],
        }));
        let metadata = manifest.metadata();
        assert_eq!(metadata.labels.len(), 2);
        assert_eq!(
            metadata.annotations,
            BTreeMap::from([("b".into(), "kept".into())])
        );
        assert_eq!(metadata.uid, None);
        assert_eq!(ownership(&manifest, "prod"), Ownership::Owned);
        let binding = manifest.binding().expect("a binding");
        assert_eq!(binding.role_ref.name, "view");
        assert_eq!(
            binding
                .subjects
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["", "g"]
        );
        // managedFields that are not a list name no manager: labelled, but not proven tollgate's.
        let odd = Manifest::new(&json!({"metadata": {
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, INSTANCE_LABEL: "prod"},
            "managedFields": {"manager": "tollgate"},
        }}));
        assert_eq!(
            ownership(&odd, "prod"),
            Ownership::LabelledOnly { managers: vec![] }
        );
        // Without a role name it is no binding, as the tree reading skipped it.
        assert!(
            Manifest::new(&json!({"roleRef": {"kind": "Role"}}))
                .binding()
                .is_none()
        );
    }

    #[test]
    fn live_objects_nested_deeper_than_json_allows_are_refused() {
        // serde_yaml and serde_json stop at different depths: whatever a `--live-from` file holds, either it is
        // refused with its object named, or every manifest it gave parses again as JSON (plan's diff reads it).
        let mut refused_by_the_json_check = 0;
        for depth in 100..140 {
            let text = format!(
                "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: a, namespace: b}}\ndeep: {}{}\n",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            match LiveState::from_yaml("live.yaml", &text) {
                Ok(state) => state.objects.values().for_each(|m| drop(m.value())),
                Err(LiveStateError::Parse { message, .. }) => {
                    if message.starts_with("ServiceAccount b/a") {
                        refused_by_the_json_check += 1;
                    }
                }
            }
        }
        assert!(refused_by_the_json_check > 0);
    }
}
