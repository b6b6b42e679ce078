//! Compile: a validated [`AccessModel`] -> the Kubernetes objects one cluster should hold. Pure and deterministic:
//! the same model, cluster, time and revision give byte-identical objects.

mod clients;
pub mod rbac;
pub mod sessions;
pub mod subjects;

pub use rbac::{IMPERSONATION_ROLE_PREFIX, SESSION_ROLE_PREFIX, grant_bindings};

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::objects::{
    DesiredState, ENVIRONMENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, Manifest,
    ObjectKey, ObjectKind, REVISION_ANNOTATION, SOURCE_ANNOTATION,
};
use crate::validate::model::{AccessModel, Environment, Origin};

/// What compile needs besides the model; the clock and the revision are passed in, never read.
#[derive(Debug, Clone, Copy)]
pub struct CompileContext<'a> {
    /// The cluster to compile, as Settings' `spec.clusters[].name` names it; it becomes the instance label.
    pub cluster: &'a str,
    /// Grants, users and clients whose expiry or sunset is at or before `now` compile to nothing.
    pub now: Timestamp,
    /// Git revision written into each object's annotations, when known.
    pub revision: Option<&'a str>,
}

/// Why a validated model cannot be compiled for the cluster asked for.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Settings define no cluster of that name.
    #[error("unknown cluster `{cluster}`: the repository's Settings define {known}")]
    UnknownCluster {
        /// The cluster asked for.
        cluster: String,
        /// The clusters Settings define, each in backticks, comma-separated.
        known: String,
    },
}

/// The clients that get a WireGuard peer on the cluster: live, `vpn`, and only when it has a gateway and a pool
/// (the same rule the credentials step allocates ranges by).
fn vpn_clients(model: &AccessModel, ctx: &CompileContext) -> Option<crate::objects::VpnClients> {
    let settings = model.settings.clusters.get(ctx.cluster)?;
    let pool = settings.gateway.as_ref().and(settings.client_pool)?;
    Some(crate::objects::VpnClients {
        pool,
        clients: model
            .clients
            .values()
            .filter(|c| c.vpn && model.client_is_live(c, ctx.cluster, ctx.now))
            .map(|c| c.name.clone())
            .collect(),
    })
}

/// Compiles the objects of one cluster.
pub fn compile(model: &AccessModel, ctx: &CompileContext) -> Result<DesiredState, CompileError> {
    if !model.settings.clusters.contains_key(ctx.cluster) {
        let known: Vec<_> = model
            .settings
            .clusters
            .keys()
            .map(|c| format!("`{c}`"))
            .collect();
        return Err(CompileError::UnknownCluster {
            cluster: ctx.cluster.to_owned(),
            known: known.join(", "),
        });
    }
    let mut out = ObjectSink {
        ctx: *ctx,
        objects: BTreeMap::new(),
    };
    clients::compile_clients(model, &mut out);
    sessions::compile_environments(model, &mut out);
    rbac::compile_roles(model, &mut out);
    rbac::compile_session_roles(model, &mut out);
    let mut resolver = subjects::SubjectResolver::new(model, ctx.cluster, ctx.now);
    rbac::compile_bindings(model, &mut resolver, &mut out);
    rbac::compile_impersonation(model, &resolver, &mut out);
    Ok(DesiredState {
        cluster: ctx.cluster.to_owned(),
        clients_namespace: model.settings.clients_namespace.clone(),
        deletion_guard: model.settings.deletion_guard,
        objects: out.objects,
        vpn: vpn_clients(model, ctx),
    })
}

/// Collects compiled objects; the first definition of a key wins (e.g. two environments sharing a namespace).
struct ObjectSink<'a> {
    ctx: CompileContext<'a>,
    objects: BTreeMap<ObjectKey, Manifest>,
}

impl ObjectSink<'_> {
    /// Standard metadata: ownership labels, and annotations naming the source files and the revision.
    fn metadata<'o>(
        &self,
        name: &str,
        namespace: Option<&str>,
        origins: impl IntoIterator<Item = &'o Origin>,
    ) -> ObjectMeta {
        let labels = BTreeMap::from([
            (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (INSTANCE_LABEL.to_owned(), self.ctx.cluster.to_owned()),
        ]);
        let mut annotations = BTreeMap::new();
        let origins: BTreeSet<&str> = origins.into_iter().map(|o| &**o).collect();
        if !origins.is_empty() {
            annotations.insert(SOURCE_ANNOTATION.to_owned(), describe_origins(&origins));
        }
        if let Some(revision) = self.ctx.revision {
            annotations.insert(REVISION_ANNOTATION.to_owned(), revision.to_owned());
        }
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: namespace.map(str::to_owned),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        }
    }

    fn insert(&mut self, key: ObjectKey, object: impl serde::Serialize) {
        if self.objects.contains_key(&key) {
            return;
        }
        self.objects.insert(key, Manifest::new(&object));
    }

    /// Sets an annotation on an object already compiled.
    fn annotate(&mut self, key: &ObjectKey, name: &str, value: String) {
        if let Some(manifest) = self.objects.get_mut(key) {
            manifest.edit(|tree| tree["metadata"]["annotations"][name] = Value::String(value));
        }
    }

    /// Sets a label on an object already compiled.
    fn label(&mut self, key: &ObjectKey, name: &str, value: &str) {
        if let Some(manifest) = self.objects.get_mut(key) {
            manifest
                .edit(|tree| tree["metadata"]["labels"][name] = Value::String(value.to_owned()));
        }
    }

    fn namespace(&mut self, name: &str, origins: &[&Origin]) {
        let key = ObjectKey::cluster_scoped(ObjectKind::Namespace, name);
        if self.objects.contains_key(&key) {
            return;
        }
        let namespace = k8s_openapi::api::core::v1::Namespace {
            metadata: self.metadata(name, None, origins.iter().copied()),
            ..Default::default()
        };
        self.insert(key, namespace);
    }
}

/// Adds the label that names the environment an object belongs to (its session objects and its Role).
fn labelled(mut metadata: ObjectMeta, environment: &Environment) -> ObjectMeta {
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(ENVIRONMENT_LABEL.to_owned(), environment.name.clone());
    metadata
}

/// Annotations are limited in size and a fat binding can come from hundreds of files: name the first few.
fn describe_origins(origins: &BTreeSet<&str>) -> String {
    const SHOWN: usize = 5;
    let names: Vec<&str> = origins.iter().take(SHOWN).copied().collect();
    let more = origins.len().saturating_sub(SHOWN);
    let mut text = names.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}
