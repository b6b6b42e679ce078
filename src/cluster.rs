//! The cluster edge: connecting as kubectl does, reading the live state of one tollgate instance with one LIST per
//! managed kind, and the few writes apply makes, every request paced by one client-side rate limit.
//!
//! Nothing here decides anything: plan and apply take what this module reads and say what it should write.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::Resource as _;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, Preconditions,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use sha2::{Digest, Sha256};

use crate::objects::{
    DesiredState, INSTANCE_LABEL, LivePeers, LiveState, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
    Manifest, ObjectKey, ObjectKind,
};

/// The field manager of every server-side apply tollgate makes; `kubectl get --show-managed-fields` names it.
pub use crate::objects::FIELD_MANAGER;

/// Client-side pacing of API requests (kube-rs has none of its own): a token bucket refilled at `qps` per second
/// that holds at most `burst` tokens.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Requests per second the bucket refills at (`--qps`).
    pub qps: NonZeroU32,
    /// Requests allowed at once before pacing starts (`--burst`).
    pub burst: NonZeroU32,
}

/// Where the cluster is and how fast to talk to it.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `--kubeconfig`; without it `KUBECONFIG`, then `~/.kube/config`, then the pod's in-cluster configuration.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`; without it the kubeconfig's current context.
    pub context: Option<String>,
    /// Client-side pacing of every request made through the connection.
    pub rate_limit: RateLimit,
    /// Objects per LIST page.
    pub list_page: NonZeroU32,
}

/// Why no client for the cluster could be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The reason is the innermost cause only: kube's own message repeats the path and the I/O error.
    #[error("cannot read the kubeconfig {}: {reason}", path.display())]
    ReadKubeconfig {
        /// The `--kubeconfig` file.
        path: PathBuf,
        /// The innermost cause, e.g. the I/O or YAML error.
        reason: String,
    },
    /// The kubeconfig was read but cannot be used: e.g. no such context, or an unusable cluster or user entry.
    #[error("cannot use the kubeconfig{}", context.as_ref().map(|c| format!(" context `{c}`")).unwrap_or_default())]
    Kubeconfig {
        /// The `--context` asked for, if any.
        context: Option<String>,
        /// kube's error.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// kube's message already names both attempts; its source chain would repeat them.
    #[error(
        "no cluster configuration: no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a \
         pod ({reason}); `--offline` (of plan or who-can) works without a cluster"
    )]
    Infer {
        /// kube's message, naming why the kubeconfig and the in-cluster configuration both failed.
        reason: String,
    },
    /// A configuration was found, but kube cannot build a client from it (e.g. its TLS settings).
    #[error("cannot build a Kubernetes client")]
    Client(#[source] kube::Error),
}

/// Why the live state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A LIST request of one kind failed (e.g. forbidden, unreachable, or an expired continue token).
    #[error("cannot list {resource} on {server}: {}", describe(error))]
    List {
        /// The resource listed, e.g. `rolebindings`.
        resource: &'static str,
        /// The API server URL.
        server: String,
        /// kube's error, shown as [`describe`] words it.
        error: kube::Error,
    },
}

/// Objects per LIST page by default: a cluster with a few thousand objects of a kind is read in one request; one
/// with tens of thousands is read a page at a time, so a reconcile never holds a whole kind's response at once.
pub const DEFAULT_LIST_PAGE: u32 = 5_000;

/// One instance's labelled objects per kind, as [`Cluster::read_labelled`] read them; [`Cluster::read_conflicts`]
/// makes the live state of them.
pub struct Labelled {
    instance: String,
    kinds: Vec<(ObjectKind, Vec<(ObjectKey, Manifest)>)>,
}

/// A connection to one cluster's API server.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    limiter: Arc<DefaultDirectRateLimiter>,
    list_page: u32,
    /// The API server URL, for plans and messages.
    pub server: String,
    /// PEM of the CA this connection trusts for the API server (empty: the system's roots), which client files
    /// hand on.
    pub certificate_authority: String,
}

/// The label selector of one tollgate instance's objects.
pub fn instance_selector(instance: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{INSTANCE_LABEL}={instance}")
}

/// The dynamic API resource of a kind tollgate manages (group, version, kind, plural), for untyped requests.
pub fn api_resource(kind: ObjectKind) -> ApiResource {
    let version = kind
        .api_version()
        .rsplit('/')
        .next()
        .expect("rsplit yields at least one item");
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group(), version, kind.kind()),
        kind.plural(),
    )
}

/// An API error as people read it: `403 Forbidden: rolebindings... is forbidden: ...`.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let reason = if status.reason.is_empty() {
                "Error"
            } else {
                &status.reason
            };
            format!("{} {reason}: {}", status.code, status.message)
        }
        other => {
            let mut text = without_exec_output(&other.to_string());
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&without_exec_output(&cause.to_string()));
                source = cause.source();
            }
            text
        }
    }
}

/// kube's message for a failed exec credential plugin quotes the plugin's whole output, which can hold a token
/// (a plugin may print its credential and still fail): keep the command and its status, drop the output.
fn without_exec_output(text: &str) -> String {
    match text.find(": Output {") {
        Some(at) if text.starts_with("auth exec command '") => format!(
            "{} (its output is not shown: it may hold a credential)",
            &text[..at]
        ),
        _ => text.to_owned(),
    }
}

fn innermost_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// What a namespace holds, as [`Cluster::count_namespace_objects`] counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceContents {
    /// Every object counted.
    pub total: u64,
    /// Objects per resource (plural), most first.
    pub by_resource: Vec<(String, u64)>,
    /// Resources that could not be listed (e.g. forbidden), so not counted.
    pub unreadable: Vec<String>,
}

impl std::fmt::Display for NamespaceContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<String> = self
            .by_resource
            .iter()
            .take(4)
            .map(|(resource, count)| format!("{count} {resource}"))
            .collect();
        write!(f, "it holds {} object(s)", self.total)?;
        if !shown.is_empty() {
            write!(f, ": {}", shown.join(", "))?;
            if self.by_resource.len() > shown.len() {
                write!(f, ", ...")?;
            }
        }
        if !self.unreadable.is_empty() {
            write!(
                f,
                " (and {} resource type(s) not counted: not allowed to list them)",
                self.unreadable.len()
            )?;
        }
        Ok(())
    }
}

/// The HTTP status of an API error, if the API server answered.
pub fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// One page of a LIST of tollgate's objects, decoded straight into what plan reads. Each object's
/// `managedFields` are cut to who wrote them (manager and operation) by the decoder itself: ownership needs the
/// names, while the field sets (`fieldsV1`, the largest part of a listed object) are skipped without being built.
#[derive(serde::Deserialize)]
struct LivePage {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<LiveObject>,
}

/// A listed object: the metadata plan, prune and the fingerprint read, and every other field as it came, as its
/// JSON text. Decoded by hand rather than with `#[serde(flatten)]` into a map: flatten buffers the whole object in
/// serde's content tree and the map builds a JSON tree of every field, which made decoding LIST pages the longest
/// step of a plan (benches/live.rs); a field kept as text is only scanned.
struct LiveObject {
    metadata: LiveMetadata,
    /// Every top-level field but `metadata`, `apiVersion` and `kind` (list items of built-in kinds carry no type;
    /// [`live_manifest`] writes it from the kind listed), in the server's order.
    fields: Vec<(String, Box<serde_json::value::RawValue>)>,
}

impl<'de> serde::Deserialize<'de> for LiveObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = LiveObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Kubernetes object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LiveObject, A::Error> {
                let mut metadata = None;
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "metadata" => metadata = Some(map.next_value()?),
                        "apiVersion" | "kind" => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        _ => fields.push((key.into_owned(), map.next_value()?)),
                    }
                }
                let metadata =
                    metadata.ok_or_else(|| serde::de::Error::missing_field("metadata"))?;
                Ok(LiveObject { metadata, fields })
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// What plan reads of `metadata`: fields the API server sets and tollgate does not compare
/// (`creationTimestamp`, `generation`, ...) are skipped.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LiveMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    managed_fields: Option<Vec<LiveManager>>,
}

/// One `managedFields` entry: its manager and operation, and for tollgate's own apply its field set as text (plan
/// reads which fields tollgate set to see the ones it no longer sets, `plan::diff`); other managers' field sets are
/// dropped once the page is decoded ([`LiveManager::keep_only_applied`]).
#[derive(serde::Deserialize, serde::Serialize)]
struct LiveManager {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
    #[serde(rename = "fieldsV1", default, skip_serializing_if = "Option::is_none")]
    fields_v1: Option<Box<serde_json::value::RawValue>>,
}

impl LiveManager {
    /// Drops the field set unless it is tollgate's server-side apply.
    fn keep_only_applied(&mut self) {
        if self.manager.as_deref() != Some(crate::objects::FIELD_MANAGER)
            || self.operation.as_deref() != Some("Apply")
        {
            self.fields_v1 = None;
        }
    }
}

/// A listed object as plan compares it: with its type, which list items lack. The fields kept as text are
/// written as they came.
fn live_manifest(kind: ObjectKind, mut object: LiveObject) -> Manifest {
    for entry in object.metadata.managed_fields.iter_mut().flatten() {
        entry.keep_only_applied();
    }
    struct Typed<'o> {
        kind: ObjectKind,
        object: &'o LiveObject,
    }
    impl serde::Serialize for Typed<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap as _;
            let mut map = serializer.serialize_map(Some(3 + self.object.fields.len()))?;
            map.serialize_entry("apiVersion", self.kind.api_version())?;
            map.serialize_entry("kind", self.kind.kind())?;
            map.serialize_entry("metadata", &self.object.metadata)?;
            for (name, value) in &self.object.fields {
                map.serialize_entry(name, value)?;
            }
            map.end()
        }
    }
    Manifest::new(&Typed {
        kind,
        object: &object,
    })
}

/// The key of a listed object of `kind` (list items carry no type); `None` without a name.
fn object_key(kind: ObjectKind, name: Option<&str>, namespace: Option<&str>) -> Option<ObjectKey> {
    Some(ObjectKey {
        kind,
        namespace: kind
            .is_namespaced()
            .then(|| namespace.unwrap_or("default").to_owned()),
        name: name?.to_owned(),
    })
}

impl Cluster {
    /// Sets up a client as kubectl would: the `kubeconfig` file if given; else, with a `context`, the default
    /// kubeconfig (`KUBECONFIG`, then `~/.kube/config`); else the default kubeconfig, or failing that the pod's
    /// in-cluster configuration.
    pub async fn connect(options: &ConnectOptions) -> Result<Cluster, ConnectError> {
        let kubeconfig_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let config = match &options.kubeconfig {
            Some(path) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|error| ConnectError::ReadKubeconfig {
                        path: path.clone(),
                        reason: innermost_cause(&error),
                    })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &kubeconfig_options)
                    .await
                    .map_err(|source| ConnectError::Kubeconfig {
                        context: options.context.clone(),
                        source,
                    })?
            }
            None if options.context.is_some() => kube::Config::from_kubeconfig(&kubeconfig_options)
                .await
                .map_err(|source| ConnectError::Kubeconfig {
                    context: options.context.clone(),
                    source,
                })?,
            None => kube::Config::infer()
                .await
                .map_err(|error| ConnectError::Infer {
                    reason: error.to_string(),
                })?,
        };
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let certificate_authority = certificate_authority_pem(&config);
        // An API server that accepts a connection and never answers (a half-dead connection during a control plane
        // failover) would otherwise hold a request, and the loop waiting on it, forever.
        let mut config = config;
        if config.read_timeout.is_none() {
            config.read_timeout = Some(std::time::Duration::from_secs(60));
        }
        let client = kube::Client::try_from(config).map_err(ConnectError::Client)?;
        let quota = Quota::per_second(options.rate_limit.qps).allow_burst(options.rate_limit.burst);
        Ok(Cluster {
            client,
            limiter: Arc::new(RateLimiter::direct(quota)),
            list_page: options.list_page.get(),
            server,
            certificate_authority,
        })
    }

    /// The kube client, for the I/O of other edges (credentials, the controller); they call
    /// [`Cluster::paced`] first where volume matters.
    pub fn kube(&self) -> kube::Client {
        self.client.clone()
    }

    /// How many objects live in `namespace`, by resource (`pods`, `configmaps`, ...), for a plan that would delete
    /// it: API discovery, then one `limit=1` LIST per namespaced resource type (the count is the item plus
    /// `remainingItemCount`). Resources the caller may not list are left out of the count, and named.
    pub async fn count_namespace_objects(
        &self,
        namespace: &str,
    ) -> Result<NamespaceContents, kube::Error> {
        use kube::api::{Api, DynamicObject};
        use kube::discovery::{Discovery, Scope, verbs};
        self.paced().await;
        let discovery = Discovery::new(self.client.clone()).run().await?;
        let mut contents = NamespaceContents::default();
        for group in discovery.groups() {
            for (resource, capabilities) in group.recommended_resources() {
                if capabilities.scope != Scope::Namespaced
                    || !capabilities.supports_operation(verbs::LIST)
                {
                    continue;
                }
                // Events come and go by themselves; they are not what a person would lose.
                if resource.plural == "events" {
                    continue;
                }
                self.paced().await;
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), namespace, &resource);
                match api.list(&ListParams::default().limit(1)).await {
                    Ok(list) => {
                        let count = list.items.len() as u64
                            + list
                                .metadata
                                .remaining_item_count
                                .map_or(0, |n| n.max(0) as u64);
                        if count > 0 {
                            contents.total += count;
                            contents.by_resource.push((resource.plural.clone(), count));
                        }
                    }
                    Err(_) => contents.unreadable.push(resource.plural.clone()),
                }
            }
        }
        contents
            .by_resource
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(contents)
    }

    /// Waits for the rate limiter; every request calls it first.
    pub(crate) async fn paced(&self) {
        self.limiter.until_ready().await;
    }

    fn api(&self, kind: ObjectKind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = api_resource(kind);
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// The live state of one instance: every object carrying its labels (one LIST per kind), plus the metadata of
    /// unlabelled objects that have the name of an object about to be created (one metadata-only LIST of that
    /// kind, only when creates are pending), so that plan can report them as conflicts instead of taking them
    /// over. [`Cluster::read_labelled`] then [`Cluster::read_conflicts`].
    pub async fn read_live(&self, desired: &DesiredState) -> Result<LiveState, ReadError> {
        let labelled = self.read_labelled(&desired.cluster).await?;
        self.read_conflicts(labelled, desired).await
    }

    /// Every object carrying one instance's labels: one LIST per kind, all kinds at once. Needs only the
    /// instance's name, so a plan can start it before its repository is compiled.
    pub async fn read_labelled(&self, instance: &str) -> Result<Labelled, ReadError> {
        let selector = instance_selector(instance);
        let reads = ObjectKind::ALL.map(|kind| self.read_kind(kind, &selector));
        let kinds = futures::future::try_join_all(reads).await?;
        Ok(Labelled {
            instance: instance.to_owned(),
            kinds: ObjectKind::ALL.into_iter().zip(kinds).collect(),
        })
    }

    /// The live state from `labelled` (read for `desired`'s instance) and the conflict check: for each kind with
    /// creates pending, one metadata-only LIST finds unlabelled objects of the same names.
    ///
    /// # Panics
    /// When `labelled` was read for another instance than `desired`'s.
    pub async fn read_conflicts(
        &self,
        labelled: Labelled,
        desired: &DesiredState,
    ) -> Result<LiveState, ReadError> {
        assert_eq!(
            labelled.instance, desired.cluster,
            "the labelled objects are read for the desired state's instance"
        );
        let checks = labelled
            .kinds
            .into_iter()
            .map(|(kind, objects)| self.add_conflicts(kind, objects, desired));
        let mut live = LiveState::default();
        for objects in futures::future::try_join_all(checks).await? {
            live.objects.extend(objects);
        }
        Ok(live)
    }

    /// The published peer list (ConfigMap `tollgate-peers` in the clients namespace), for the plan's peer changes:
    /// one GET. A failure is not an error of the plan: peers are then not planned, and the plan says why.
    pub async fn read_peers(&self, namespace: &str) -> LivePeers {
        use crate::wireguard::peers::{PEERS_CONFIGMAP, PEERS_KEY, PeerList};
        self.paced().await;
        let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(PEERS_CONFIGMAP).await {
            Ok(None) => LivePeers::Absent,
            Ok(Some(configmap)) => match configmap.data.and_then(|mut d| d.remove(PEERS_KEY)) {
                Some(text) => PeerList::parse(&text).map_or_else(
                    |e| LivePeers::Unreadable(e.to_string()),
                    LivePeers::Published,
                ),
                None => LivePeers::Unreadable(format!(
                    "the ConfigMap {namespace}/{PEERS_CONFIGMAP} has no `{PEERS_KEY}`"
                )),
            },
            Err(error) => LivePeers::Unreadable(format!(
                "cannot read the ConfigMap {namespace}/{PEERS_CONFIGMAP}: {}",
                describe(&error)
            )),
        }
    }

    /// One kind's objects carrying the instance's labels (`selector`).
    async fn read_kind(
        &self,
        kind: ObjectKind,
        selector: &str,
    ) -> Result<Vec<(ObjectKey, Manifest)>, ReadError> {
        let mut objects = Vec::new();
        let owned = ListParams::default().labels(selector);
        let url = &DynamicObject::url_path(&api_resource(kind), None);
        self.list_pages(
            owned,
            |p| async move {
                let request = kube::core::Request::new(url)
                    .list(&p)
                    .map_err(kube::Error::BuildRequest)?;
                let page: LivePage = self.client.request(request).await?;
                Ok((page.items, page.metadata.continue_))
            },
            |item: LiveObject| {
                let key = object_key(
                    kind,
                    item.metadata.name.as_deref(),
                    item.metadata.namespace.as_deref(),
                );
                if let Some(key) = key {
                    objects.push((key, live_manifest(kind, item)));
                }
            },
        )
        .await
        .map_err(|error| self.list_error(kind, error))?;
        Ok(objects)
    }

    /// `objects` (one kind's labelled objects) and the unlabelled objects of that kind that have the name of a
    /// desired object not among them (a create that would collide).
    async fn add_conflicts(
        &self,
        kind: ObjectKind,
        mut objects: Vec<(ObjectKey, Manifest)>,
        desired: &DesiredState,
    ) -> Result<Vec<(ObjectKey, Manifest)>, ReadError> {
        let api = self.api(kind, None);
        let seen: BTreeSet<ObjectKey> = objects.iter().map(|(key, _)| key.clone()).collect();
        let creates = desired
            .objects
            .keys()
            .filter(|key| key.kind == kind && !seen.contains(key))
            .count();
        if creates == 0 {
            return Ok(objects);
        }
        let api = &api;
        self.list_pages(
            ListParams::default(),
            |p| async move {
                let page = api.list_metadata(&p).await?;
                Ok((page.items, page.metadata.continue_))
            },
            |item| {
                let metadata = item.metadata;
                if let Some(key) = object_key(
                    kind,
                    metadata.name.as_deref(),
                    metadata.namespace.as_deref(),
                ) && desired.objects.contains_key(&key)
                    && !seen.contains(&key)
                {
                    let object = LiveObject {
                        metadata: LiveMetadata {
                            name: metadata.name,
                            namespace: metadata.namespace,
                            uid: metadata.uid,
                            resource_version: metadata.resource_version,
                            labels: metadata.labels,
                            annotations: metadata.annotations,
                            managed_fields: metadata.managed_fields.map(|entries| {
                                entries
                                    .into_iter()
                                    .map(|e| LiveManager {
                                        manager: e.manager,
                                        operation: e.operation,
                                        fields_v1: None,
                                    })
                                    .collect()
                            }),
                        },
                        fields: Vec::new(),
                    };
                    objects.push((key, live_manifest(kind, object)));
                }
            },
        )
        .await
        .map_err(|error| self.list_error(kind, error))?;
        Ok(objects)
    }

    fn list_error(&self, kind: ObjectKind, error: kube::Error) -> ReadError {
        ReadError::List {
            resource: kind.plural(),
            server: self.server.clone(),
            error,
        }
    }

    /// Runs one LIST page by page (`--list-page-size` objects each), paced, handing every item to `each`; `list`
    /// fetches one page and returns its items and continue token.
    async fn list_pages<T, Page>(
        &self,
        params: ListParams,
        // A closure returning a future rather than an async closure: rustc does not prove the future of an
        // `AsyncFn` taking a reference `Send` for every lifetime, and `read_labelled` runs on a spawned task.
        list: impl Fn(ListParams) -> Page,
        mut each: impl FnMut(T),
    ) -> Result<(), kube::Error>
    where
        Page: Future<Output = Result<(Vec<T>, Option<String>), kube::Error>>,
    {
        let mut params = params.limit(self.list_page);
        loop {
            self.paced().await;
            let (items, continue_token) = list(params.clone()).await?;
            items.into_iter().for_each(&mut each);
            match continue_token {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(()),
            }
        }
    }

    /// Server-side apply of one object with tollgate's field manager. `force` takes over fields another manager
    /// set (a hand edit is drift to repair; an unlabelled object is only reached with `--adopt`).
    pub async fn apply(&self, key: &ObjectKey, manifest: &Manifest) -> Result<(), kube::Error> {
        self.paced().await;
        self.api(key.kind, key.namespace.as_deref())
            .patch(
                &key.name,
                // Objects are built from typed k8s-openapi structs, so there are no unknown fields to look for;
                // skipping the check cut a cold apply of 5,000 objects from 4.0 s to 3.4 s (benches/live.rs).
                &PatchParams::apply(FIELD_MANAGER)
                    .force()
                    .validation_ignore(),
                &Patch::Apply(manifest),
            )
            .await
            .map(|_| ())
    }

    /// Asks the API server's authorizer whether `user` may make `request` (a SubjectAccessReview): whether it is
    /// allowed, and the authorizer's reason (RBAC names the binding and role).
    pub async fn review(
        &self,
        user: &crate::rbac::UserInfo,
        request: &crate::rbac::Request,
    ) -> Result<(bool, String), kube::Error> {
        use k8s_openapi::api::authorization::v1::{
            NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
        };
        self.paced().await;
        let (resource_attributes, non_resource_attributes) = match request {
            crate::rbac::Request::Resource {
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
            crate::rbac::Request::NonResource { verb, path } => (
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
        let answer = kube::Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&kube::api::PostParams::default(), &review)
            .await?;
        let status = answer.status.unwrap_or_default();
        Ok((status.allowed, status.reason.unwrap_or_default()))
    }

    /// Deletes one object, only if it is still the one that was read (`uid` precondition). An object already
    /// gone counts as deleted.
    pub async fn delete(&self, key: &ObjectKey, uid: Option<&str>) -> Result<(), kube::Error> {
        self.paced().await;
        let params = DeleteParams {
            preconditions: uid.map(|uid| Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self
            .api(key.kind, key.namespace.as_deref())
            .delete(&key.name, &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if status_code(&error) == Some(404) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

/// A digest of what was read: every object's key, uid and resourceVersion. Two reads with the same fingerprint
/// saw the same objects in the same versions, so a plan saved from one is still valid against the other.
pub fn fingerprint(live: &LiveState) -> String {
    let mut hasher = Sha256::new();
    for (key, manifest) in &live.objects {
        let metadata = manifest.metadata();
        hasher.update(format!(
            "{key}\t{}\t{}\n",
            metadata.uid.as_deref().unwrap_or(""),
            metadata.resource_version.as_deref().unwrap_or("")
        ));
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// The CA certificates of a connection as PEM: inline DER from a kubeconfig, or the in-cluster CA file.
fn certificate_authority_pem(config: &kube::Config) -> String {
    use base64::Engine as _;
    if let Some(certificates) = &config.root_cert {
        let mut pem = String::new();
        for der in certificates {
            let encoded = base64::engine::general_purpose::STANDARD.encode(der);
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in encoded.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        return pem;
    }
    config
        .root_cert_file
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A LIST page as kube-apiserver writes it: items without their type, `managedFields` with field sets.
    const PAGE: &str = r#"{"kind":"RoleBindingList","apiVersion":"rbac.authorization.k8s.io/v1",
      "metadata":{"resourceVersion":"812","continue":"next"},
      "items":[
        {"metadata":{"name":"view","namespace":"search","uid":"u-1","resourceVersion":"17",
           "creationTimestamp":"2026-11-30T10:00:00Z",
           "labels":{"app.kubernetes.io/managed-by":"tollgate","tollgate.dev/instance":"prod"},
           "annotations":{"tollgate.dev/revision":"abc"},
           "managedFields":[{"manager":"tollgate","operation":"Apply","apiVersion":"rbac.authorization.k8s.io/v1",
             "time":"2026-11-30T10:00:00Z","fieldsType":"FieldsV1",
             "fieldsV1":{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{}}},"f:subjects":{}}},
             {"manager":"kubectl-edit","operation":"Update","fieldsV1":{"f:roleRef":{}}}]},
         "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
         "subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"tg:g:search \"x\""}]},
        {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
         "metadata":{"name":"typed","namespace":"search"},"roleRef":{"name":"edit"}}
      ]}"#;

    #[test]
    fn listed_objects_keep_their_fields_and_the_metadata_plan_reads() {
        let page: LivePage = serde_json::from_str(PAGE).expect("a LIST page decodes");
        assert_eq!(page.metadata.continue_.as_deref(), Some("next"));
        let manifests: Vec<Manifest> = page
            .items
            .into_iter()
            .map(|item| live_manifest(ObjectKind::RoleBinding, item))
            .collect();
        let first = manifests[0].value();
        // What the tree decoding wrote: the type added, every other field as listed, `metadata` cut to what plan
        // reads and `managedFields` to who wrote them, with the field set of tollgate's own apply only.
        let expected = serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {
                "name": "view", "namespace": "search", "uid": "u-1", "resourceVersion": "17",
                "labels": {"app.kubernetes.io/managed-by": "tollgate", "tollgate.dev/instance": "prod"},
                "annotations": {"tollgate.dev/revision": "abc"},
                "managedFields": [
                    {"manager": "tollgate", "operation": "Apply",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}}}, "f:subjects": {}}},
                    {"manager": "kubectl-edit", "operation": "Update"},
                ],
            },
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "tg:g:search \"x\""}],
        });
        assert_eq!(first, expected);
        let metadata = manifests[0].metadata();
        assert_eq!(metadata.uid.as_deref(), Some("u-1"));
        let managers: Vec<Option<&str>> = metadata
            .managed_fields
            .iter()
            .flatten()
            .map(|entry| entry.manager.as_deref())
            .collect();
        assert_eq!(managers, [Some("tollgate"), Some("kubectl-edit")]);
        let binding = manifests[0].binding().expect("a binding");
        assert_eq!(binding.role_ref.name, "view");
        // An item that carries its type gets it once, from the kind listed.
        let second = manifests[1].json();
        assert_eq!(second.matches("\"apiVersion\"").count(), 1, "{second}");
        assert_eq!(second.matches("\"kind\"").count(), 1, "{second}");
        assert_eq!(manifests[1].value()["roleRef"]["name"], "edit");
    }

    #[test]
    fn an_item_without_metadata_is_an_error() {
        let error = serde_json::from_str::<LivePage>(r#"{"items":[{"roleRef":{}}]}"#)
            .err()
            .expect("an item without metadata is refused");
        assert!(error.to_string().contains("metadata"), "{error}");
    }
}
