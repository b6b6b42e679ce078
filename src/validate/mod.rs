//! Validation: loaded documents -> a validated [`AccessModel`], reporting every problem at once.
//!
//! Validation runs in passes so that one mistake is reported once: first every document's own values (names,
//! durations, keys, networks), then references between documents (which need every name known), then checks across
//! the whole repository (cycles, pool capacity, unused documents). A model is returned only when there is no error.

pub mod model;
pub mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;

use crate::config::documents::{
    ClientSpec, DocumentBody, EnvironmentSpec, GrantSpec, GroupSpec, RoleSpec, SettingsSpec,
    UserAccessSpec, UserSpec,
};
use crate::config::source::{DocRef, FieldPart, FileId};
use crate::config::{Kind, LoadedRepository};
use crate::diagnostics::{Diagnostic, Location, did_you_mean};
use model::*;

/// The outcome of validation: a model when nothing is wrong, and every diagnostic (warnings come with a model too).
#[derive(Debug)]
pub struct Validation {
    pub model: Option<AccessModel>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Validation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Validates a loaded repository. `now` decides which expiries have passed (warnings only: expired parts compile
/// to nothing).
pub fn validate(repo: &LoadedRepository, now: Timestamp) -> Validation {
    let mut validator = Validator::new(repo, now);
    let model = validator.run();
    let mut diagnostics = repo.diagnostics.clone();
    diagnostics.append(&mut validator.diagnostics);
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Validation {
        model: if has_errors { None } else { model },
        diagnostics,
    }
}

fn field(doc: DocRef, path: impl Into<String>) -> Location {
    Location::Field {
        doc,
        path: path.into(),
        part: FieldPart::Value,
    }
}

fn key(doc: DocRef, path: impl Into<String>) -> Location {
    Location::Field {
        doc,
        path: path.into(),
        part: FieldPart::Key,
    }
}

/// The documents of one kind, first definition of each name wins.
type ByName<'a, S> = BTreeMap<&'a str, (DocRef, &'a S)>;

struct Validator<'a> {
    repo: &'a LoadedRepository,
    now: Timestamp,
    diagnostics: Vec<Diagnostic>,
    origins: HashMap<FileId, Origin>,
}

/// The documents of a repository, sorted by kind and name.
#[derive(Default)]
struct Documents<'a> {
    settings: Vec<(DocRef, &'a str, &'a SettingsSpec)>,
    users: ByName<'a, UserSpec>,
    groups: ByName<'a, GroupSpec>,
    roles: ByName<'a, RoleSpec>,
    clients: ByName<'a, ClientSpec>,
    environments: ByName<'a, EnvironmentSpec>,
    access: ByName<'a, UserAccessSpec>,
}

impl<'a> Validator<'a> {
    fn new(repo: &'a LoadedRepository, now: Timestamp) -> Self {
        let origins = repo
            .sources
            .iter()
            .map(|(id, file)| (id, Arc::from(file.path.as_str())))
            .collect();
        Validator {
            repo,
            now,
            diagnostics: Vec::new(),
            origins,
        }
    }

    fn error(
        &mut self,
        code: &'static str,
        location: Location,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::error(code, location, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn warning(&mut self, code: &'static str, location: Location, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(code, location, message));
    }

    fn origin(&self, doc: DocRef) -> Origin {
        self.origins[&doc.file].clone()
    }

    fn describe(&self, doc: DocRef) -> String {
        let path = &self.repo.sources.file(doc.file).path;
        match self
            .repo
            .sources
            .field_position(doc, "metadata.name", FieldPart::Value)
        {
            Some(at) => format!("{path}:{}", at.line),
            None => path.clone(),
        }
    }

    fn run(&mut self) -> Option<AccessModel> {
        let docs = self.collect();
        let settings = self.settings(&docs);
        let clusters: BTreeSet<String> = settings
            .as_ref()
            .map(|s| s.clusters.keys().cloned().collect())
            .unwrap_or_default();

        let users = self.users(&docs);
        let groups = self.groups(&docs);
        let roles = self.roles(&docs);
        let clients = self.clients(&docs, &clusters);
        let environments = self.environments(&docs, &clusters);
        let grants = self.grants(&docs, &clusters, &roles, &environments);

        self.group_cycles(&docs);
        if let Some(settings) = &settings {
            self.pool_capacity(&docs, settings, &clients);
        }
        self.unused(&docs, &grants);

        Some(AccessModel {
            settings: settings?,
            users,
            groups,
            roles,
            clients,
            environments,
            grants,
            validated: Validated::proof(),
        })
    }

    /// Sorts documents by kind, reporting invalid and duplicate names.
    fn collect(&mut self) -> Documents<'a> {
        let mut docs = Documents::default();
        let mut first: HashMap<(Kind, &str), DocRef> = HashMap::new();
        for document in &self.repo.documents {
            let kind = document.body.kind();
            let name = document.name.as_str();
            if kind != Kind::Settings {
                if let Err((message, hint)) = values::dns1123_label(name) {
                    self.error("invalid-name", field(document.at, "metadata.name"), message)
                        .hint = hint;
                }
                if let Some(earlier) = first.get(&(kind, name)) {
                    let message = format!(
                        "duplicate {kind} `{name}`: it is already defined at {}",
                        self.describe(*earlier)
                    );
                    self.error(
                        "duplicate-name",
                        field(document.at, "metadata.name"),
                        message,
                    );
                    continue;
                }
                first.insert((kind, name), document.at);
            }
            let at = document.at;
            match &document.body {
                DocumentBody::Settings(spec) => docs.settings.push((at, name, spec)),
                DocumentBody::User(spec) => _ = docs.users.insert(name, (at, spec)),
                DocumentBody::Group(spec) => _ = docs.groups.insert(name, (at, spec)),
                DocumentBody::Role(spec) => _ = docs.roles.insert(name, (at, spec)),
                DocumentBody::Client(spec) => _ = docs.clients.insert(name, (at, spec)),
                DocumentBody::Environment(spec) => {
                    _ = docs.environments.insert(name, (at, &**spec))
                }
                DocumentBody::UserAccess(spec) => _ = docs.access.insert(name, (at, spec)),
            }
        }
        docs
    }

    /// Reports a reference to a document that does not exist, unless that document exists but failed to load.
    fn reference<V>(
        &mut self,
        doc: DocRef,
        path: String,
        kind: Kind,
        name: &str,
        known: &BTreeMap<&str, V>,
    ) -> bool {
        if known.contains_key(name) {
            return true;
        }
        if self.repo.broken.contains(&(kind, name.to_owned())) {
            return false;
        }
        let code = match kind {
            Kind::User => "unknown-user",
            Kind::Group => "unknown-group",
            Kind::Client => "unknown-client",
            Kind::Role => "unknown-role",
            Kind::Environment => "unknown-environment",
            Kind::Settings | Kind::UserAccess => "unknown-reference",
        };
        let hint = did_you_mean(name, known.keys().copied());
        let noun = kind.as_str().to_lowercase();
        self.error(code, field(doc, path), format!("unknown {noun} `{name}`"))
            .hint = hint;
        false
    }

    fn cluster_reference(
        &mut self,
        doc: DocRef,
        path: String,
        name: &str,
        clusters: &BTreeSet<String>,
    ) -> bool {
        if clusters.contains(name) || clusters.is_empty() {
            // With no (valid) Settings every cluster name is unknown; that is reported once, not per reference.
            return clusters.contains(name);
        }
        let hint = did_you_mean(name, clusters.iter().map(String::as_str)).unwrap_or_else(|| {
            let list: Vec<_> = clusters.iter().map(|c| format!("`{c}`")).collect();
            format!("Settings defines {}", list.join(", "))
        });
        self.error(
            "unknown-cluster",
            field(doc, path),
            format!("unknown cluster `{name}`: Settings does not define it"),
        )
        .hint = Some(hint);
        false
    }

    fn timestamp(
        &mut self,
        doc: DocRef,
        path: &str,
        text: &Option<String>,
        what: &str,
    ) -> Option<Timestamp> {
        let text = text.as_deref()?;
        match values::timestamp(text) {
            Ok(at) => {
                if at <= self.now {
                    self.warning(
                        "expired",
                        field(doc, path),
                        format!("{what} {text} has passed; this compiles to nothing"),
                    );
                }
                Some(at)
            }
            Err(message) => {
                self.error("invalid-timestamp", field(doc, path), message);
                None
            }
        }
    }

    fn recipients(&mut self, doc: DocRef, path: &str, list: &[String]) -> Vec<Recipient> {
        let mut parsed: Vec<Recipient> = Vec::new();
        for (i, text) in list.iter().enumerate() {
            match values::recipient(text) {
                Ok(recipient) => {
                    if parsed.contains(&recipient) {
                        self.error(
                            "duplicate-recipient",
                            field(doc, format!("{path}[{i}]")),
                            "this key is listed twice",
                        );
                    } else {
                        parsed.push(recipient);
                    }
                }
                Err(message) => {
                    self.error(
                        "invalid-recipient",
                        field(doc, format!("{path}[{i}]")),
                        message,
                    );
                }
            }
        }
        parsed
    }

    // -----------------------------------------------------------------------------------------------------------

    fn settings(&mut self, docs: &Documents<'a>) -> Option<Settings> {
        let Some(&(doc, _, spec)) = docs.settings.first() else {
            let settings_broken = self
                .repo
                .broken
                .iter()
                .any(|(kind, _)| *kind == Kind::Settings);
            if !settings_broken {
                self.error(
                    "missing-settings",
                    Location::Repository,
                    "the repository has no `Settings` document",
                )
                .hint =
                    Some("add one document of kind `Settings` that lists the clusters".to_owned());
            }
            return None;
        };
        for &(extra, _, _) in &docs.settings[1..] {
            let message = format!(
                "a second `Settings` document; a repository has exactly one (the first is at {})",
                self.describe(doc)
            );
            self.error("duplicate-settings", key(extra, "kind"), message);
        }

        let mut clusters = BTreeMap::new();
        let mut pools: Vec<(String, ipnet::IpNet, String)> = Vec::new();
        if spec.clusters.is_empty() {
            self.error(
                "no-clusters",
                key(doc, "spec.clusters"),
                "Settings must define at least one cluster",
            );
        }
        for (i, cluster) in spec.clusters.iter().enumerate() {
            let path = format!("spec.clusters[{i}]");
            if let Err((message, hint)) = values::dns1123_label(&cluster.name) {
                self.error("invalid-name", field(doc, format!("{path}.name")), message)
                    .hint = hint;
            }
            if clusters.contains_key(&cluster.name) {
                self.error(
                    "duplicate-name",
                    field(doc, format!("{path}.name")),
                    format!("duplicate cluster `{}`", cluster.name),
                );
                continue;
            }
            if !(cluster.api_server.starts_with("https://")
                || cluster.api_server.starts_with("http://"))
                || cluster.api_server.len() <= "https://".len()
            {
                self.error(
                    "invalid-url",
                    field(doc, format!("{path}.apiServer")),
                    format!("`{}` is not an http(s) URL", cluster.api_server),
                );
            }
            let gateway = cluster.gateway.as_ref().map(|gateway| {
                if !is_host_port(&gateway.endpoint) {
                    self.error(
                        "invalid-endpoint",
                        field(doc, format!("{path}.gateway.endpoint")),
                        format!("`{}` is not a `host:port` endpoint", gateway.endpoint),
                    );
                }
                let mut allowed_ips = Vec::new();
                for (j, text) in gateway.allowed_ips.iter().enumerate() {
                    match text.parse::<ipnet::IpNet>() {
                        Ok(net) => allowed_ips.push(net),
                        Err(_) => {
                            self.error(
                                "invalid-cidr",
                                field(doc, format!("{path}.gateway.allowedIps[{j}]")),
                                format!("`{text}` is not a CIDR network such as `10.96.0.0/12`"),
                            );
                        }
                    }
                }
                let mut dns = Vec::new();
                for (j, text) in gateway.dns.iter().enumerate() {
                    match text.parse() {
                        Ok(ip) => dns.push(ip),
                        Err(_) => {
                            self.error(
                                "invalid-ip",
                                field(doc, format!("{path}.gateway.dns[{j}]")),
                                format!("`{text}` is not an IP address"),
                            );
                        }
                    }
                }
                Gateway {
                    endpoint: gateway.endpoint.clone(),
                    allowed_ips,
                    dns,
                }
            });
            let client_pool = cluster.client_pool.as_ref().and_then(|pool| {
                let cidr = match pool.cidr.parse::<ipnet::IpNet>() {
                    Ok(cidr) => cidr,
                    Err(_) => {
                        self.error(
                            "invalid-cidr",
                            field(doc, format!("{path}.clientPool.cidr")),
                            format!("`{}` is not a CIDR network such as `10.90.0.0/16`", pool.cidr),
                        );
                        return None;
                    }
                };
                if cidr != cidr.trunc() {
                    self.error(
                        "invalid-cidr",
                        field(doc, format!("{path}.clientPool.cidr")),
                        format!("`{}` has host bits set", pool.cidr),
                    )
                    .hint = Some(format!("did you mean `{}`?", cidr.trunc()));
                    return None;
                }
                if pool.per_client_prefix < cidr.prefix_len() || pool.per_client_prefix > cidr.max_prefix_len() {
                    self.error(
                        "prefix-outside-pool",
                        field(doc, format!("{path}.clientPool.perClientPrefix")),
                        format!(
                            "a /{} range does not fit in the pool {cidr}: the prefix must be between {} and {}",
                            pool.per_client_prefix,
                            cidr.prefix_len(),
                            cidr.max_prefix_len()
                        ),
                    );
                    return None;
                }
                for (other, other_cidr, _) in &pools {
                    if other_cidr.contains(&cidr.network()) || cidr.contains(&other_cidr.network()) {
                        let message = format!("pool {cidr} overlaps the pool {other_cidr} of cluster `{other}`");
                        self.error("overlapping-pools", field(doc, format!("{path}.clientPool.cidr")), message);
                    }
                }
                pools.push((cluster.name.clone(), cidr, path.clone()));
                Some(ClientPool {
                    cidr,
                    per_client_prefix: pool.per_client_prefix,
                })
            });
            clusters.insert(
                cluster.name.clone(),
                Cluster {
                    name: cluster.name.clone(),
                    api_server: cluster.api_server.clone(),
                    gateway,
                    client_pool,
                },
            );
        }
        if let Err((message, hint)) = values::dns1123_label(&spec.clients_namespace) {
            self.error("invalid-name", field(doc, "spec.clientsNamespace"), message)
                .hint = hint;
        }
        let token_lifetime = match values::duration(&spec.token_lifetime) {
            Ok(duration) => Some(duration),
            Err(message) => {
                self.error(
                    "invalid-duration",
                    field(doc, "spec.tokenLifetime"),
                    message,
                );
                None
            }
        };
        let artifacts_path = spec.artifacts_path.trim_matches('/');
        if artifacts_path.is_empty()
            || artifacts_path
                .split('/')
                .any(|part| part == ".." || part == "." || part.is_empty())
        {
            self.error(
                "invalid-path",
                field(doc, "spec.artifactsPath"),
                format!(
                    "`{}` must be a relative folder inside the repository",
                    spec.artifacts_path
                ),
            );
        }
        if spec.deletion_guard.max_delete_percent > 100 {
            self.error(
                "invalid-value",
                field(doc, "spec.deletionGuard.maxDeletePercent"),
                "a percentage must be between 0 and 100",
            );
        }
        Some(Settings {
            clusters,
            clients_namespace: spec.clients_namespace.clone(),
            token_lifetime: token_lifetime?,
            artifacts_path: artifacts_path.to_owned(),
            deletion_guard: DeletionGuard {
                max_delete_percent: spec.deletion_guard.max_delete_percent,
                min_objects: spec.deletion_guard.min_objects,
            },
            subject_prefixes: SubjectPrefixes {
                user: spec.subject_prefixes.user.clone(),
                group: spec.subject_prefixes.group.clone(),
            },
            origin: self.origin(doc),
        })
    }

    fn users(&mut self, docs: &Documents<'a>) -> BTreeMap<String, User> {
        let mut users = BTreeMap::new();
        let mut key_owner: HashMap<String, &str> = HashMap::new();
        for (&name, &(doc, spec)) in &docs.users {
            let recipients = self.recipients(doc, "spec.recipients", &spec.recipients);
            for (i, recipient) in recipients.iter().enumerate() {
                if let Some(other) = key_owner.insert(recipient.key.clone(), name) {
                    self.error(
                        "duplicate-recipient",
                        field(doc, format!("spec.recipients[{i}]")),
                        format!("this key is also a recipient of user `{other}`; every person needs their own key"),
                    );
                }
            }
            if let Some(email) = &spec.email
                && !email.contains('@')
            {
                self.error(
                    "invalid-email",
                    field(doc, "spec.email"),
                    format!("`{email}` is not an email address"),
                );
            }
            let username = spec.username.clone().unwrap_or_else(|| name.to_owned());
            if username.is_empty() {
                self.error(
                    "invalid-value",
                    field(doc, "spec.username"),
                    "the username must not be empty",
                );
            }
            let expires = self.timestamp(doc, "spec.expires", &spec.expires, "the user's expiry");
            users.insert(
                name.to_owned(),
                User {
                    name: name.to_owned(),
                    username,
                    email: spec.email.clone(),
                    recipients,
                    expires,
                    disabled: spec.disabled,
                    origin: self.origin(doc),
                },
            );
        }
        users
    }

    fn groups(&mut self, docs: &Documents<'a>) -> BTreeMap<String, Group> {
        let mut groups = BTreeMap::new();
        for (&name, &(doc, spec)) in &docs.groups {
            for (i, member) in spec.members.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.members[{i}]"),
                    Kind::User,
                    member,
                    &docs.users,
                );
            }
            for (i, group) in spec.groups.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.groups[{i}]"),
                    Kind::Group,
                    group,
                    &docs.groups,
                );
            }
            groups.insert(
                name.to_owned(),
                Group {
                    name: name.to_owned(),
                    members: spec.members.iter().cloned().collect(),
                    groups: spec.groups.iter().cloned().collect(),
                    origin: self.origin(doc),
                },
            );
        }
        groups
    }

    fn roles(&mut self, docs: &Documents<'a>) -> BTreeMap<String, Role> {
        let mut roles = BTreeMap::new();
        for (&name, &(doc, spec)) in &docs.roles {
            if BuiltinRole::parse(name).is_some() {
                self.error(
                    "shadows-builtin-role",
                    field(doc, "metadata.name"),
                    format!("`{name}` is a built-in role; a custom role needs another name"),
                );
                continue;
            }
            let definition = match (&spec.rules, &spec.cluster_role) {
                (Some(rules), None) => {
                    if rules.is_empty() {
                        self.error(
                            "invalid-rule",
                            key(doc, "spec.rules"),
                            "a role needs at least one rule",
                        );
                    }
                    for (i, rule) in rules.iter().enumerate() {
                        let path = format!("spec.rules[{i}]");
                        if rule.verbs.is_empty() || rule.verbs.iter().any(String::is_empty) {
                            self.error(
                                "invalid-rule",
                                key(doc, format!("{path}.verbs")),
                                "a rule needs at least one verb (e.g. `get`, `list`, `watch`)",
                            );
                        }
                        if rule.resources.is_empty() && rule.non_resource_urls.is_empty() {
                            self.error(
                                "invalid-rule",
                                key(doc, path.clone()),
                                "a rule needs `resources` or `nonResourceURLs`",
                            );
                        }
                        if !rule.resources.is_empty() && rule.api_groups.is_empty() {
                            self.error(
                                "invalid-rule",
                                key(doc, format!("{path}.resources")),
                                "a rule with `resources` needs `apiGroups` (`\"\"` is the core group)",
                            );
                        }
                        if !rule.resources.is_empty() && !rule.non_resource_urls.is_empty() {
                            self.error(
                                "invalid-rule",
                                key(doc, format!("{path}.nonResourceURLs")),
                                "a rule has either `resources` or `nonResourceURLs`, not both",
                            );
                        }
                    }
                    RoleDefinition::Rules(
                        rules
                            .iter()
                            .map(|rule| PolicyRule {
                                api_groups: rule.api_groups.clone(),
                                resources: rule.resources.clone(),
                                resource_names: rule.resource_names.clone(),
                                non_resource_urls: rule.non_resource_urls.clone(),
                                verbs: rule.verbs.clone(),
                            })
                            .collect(),
                    )
                }
                (None, Some(cluster_role)) => {
                    if let Err(message) = values::dns1123_subdomain(&cluster_role.replace(':', "-"))
                    {
                        self.error("invalid-name", field(doc, "spec.clusterRole"), message);
                    }
                    RoleDefinition::ClusterRole(cluster_role.clone())
                }
                (Some(_), Some(_)) | (None, None) => {
                    self.error(
                        "invalid-role",
                        key(doc, "spec"),
                        "a role has either `rules` or `clusterRole`, exactly one of them",
                    );
                    continue;
                }
            };
            roles.insert(
                name.to_owned(),
                Role {
                    name: name.to_owned(),
                    definition,
                    origin: self.origin(doc),
                },
            );
        }
        roles
    }

    fn clients(
        &mut self,
        docs: &Documents<'a>,
        clusters: &BTreeSet<String>,
    ) -> BTreeMap<String, Client> {
        let mut clients = BTreeMap::new();
        for (&name, &(doc, spec)) in &docs.clients {
            let mut owners_resolved = true;
            let mut owner_keys = 0;
            for (i, owner) in spec.owners.iter().enumerate() {
                if self.reference(
                    doc,
                    format!("spec.owners[{i}]"),
                    Kind::User,
                    owner,
                    &docs.users,
                ) {
                    owner_keys += docs.users[owner.as_str()].1.recipients.len();
                } else {
                    owners_resolved = false;
                }
            }
            let recipients = self.recipients(doc, "spec.recipients", &spec.recipients);
            for (i, recipient) in recipients.iter().enumerate() {
                for owner in &spec.owners {
                    let Some((_, user)) = docs.users.get(owner.as_str()) else {
                        continue;
                    };
                    let listed = user
                        .recipients
                        .iter()
                        .filter_map(|text| values::recipient(text).ok())
                        .any(|r| r.key == recipient.key);
                    if listed {
                        self.error(
                            "duplicate-recipient",
                            field(doc, format!("spec.recipients[{i}]")),
                            format!("this key is already a recipient as owner `{owner}`'s key"),
                        );
                    }
                }
            }
            if owners_resolved && owner_keys == 0 && spec.recipients.is_empty() {
                self.error(
                    "no-recipient",
                    key(doc, "spec"),
                    "the client has no recipient: nobody could decrypt its client file",
                )
                .hint = Some(
                    "add an owner with `recipients`, or list public keys in `spec.recipients`"
                        .to_owned(),
                );
            }
            if spec.clusters.is_empty() {
                self.error(
                    "no-clusters",
                    key(doc, "spec.clusters"),
                    "a client needs at least one cluster",
                );
            }
            for (i, cluster) in spec.clusters.iter().enumerate() {
                self.cluster_reference(doc, format!("spec.clusters[{i}]"), cluster, clusters);
            }
            if let Some(namespace) = &spec.default_namespace
                && let Err((message, hint)) = values::dns1123_label(namespace)
            {
                self.error("invalid-name", field(doc, "spec.defaultNamespace"), message)
                    .hint = hint;
            }
            let sunset = self.timestamp(doc, "spec.sunset", &spec.sunset, "the client's sunset");
            clients.insert(
                name.to_owned(),
                Client {
                    name: name.to_owned(),
                    owners: spec.owners.iter().cloned().collect(),
                    recipients,
                    clusters: spec.clusters.iter().cloned().collect(),
                    default_namespace: spec.default_namespace.clone(),
                    vpn: spec.vpn,
                    sunset,
                    origin: self.origin(doc),
                },
            );
        }
        clients
    }

    fn environments(
        &mut self,
        docs: &Documents<'a>,
        clusters: &BTreeSet<String>,
    ) -> BTreeMap<String, Environment> {
        let mut environments = BTreeMap::new();
        for (&name, &(doc, spec)) in &docs.environments {
            for (i, cluster) in spec.clusters.iter().enumerate() {
                self.cluster_reference(doc, format!("spec.clusters[{i}]"), cluster, clusters);
            }
            if spec.image.trim().is_empty() {
                self.error(
                    "invalid-value",
                    field(doc, "spec.image"),
                    "the image must not be empty",
                );
            }
            if let Err((message, hint)) = values::dns1123_label(&spec.namespace) {
                self.error("invalid-name", field(doc, "spec.namespace"), message)
                    .hint = hint;
            }
            if let Err(message) = values::dns1123_subdomain(&spec.service_account) {
                self.error("invalid-name", field(doc, "spec.serviceAccount"), message);
            }
            if let Some(secret) = &spec.image_pull_secret
                && let Err(message) = values::dns1123_subdomain(secret)
            {
                self.error("invalid-name", field(doc, "spec.imagePullSecret"), message);
            }
            let mut capabilities = |list: &[String], path: &str| -> Vec<String> {
                let mut names = Vec::new();
                for (i, text) in list.iter().enumerate() {
                    match values::capability(text) {
                        Ok(name) => names.push(name),
                        Err((message, hint)) => {
                            self.error(
                                "invalid-capability",
                                field(doc, format!("{path}[{i}]")),
                                message,
                            )
                            .hint = hint;
                        }
                    }
                }
                names
            };
            let capabilities_add = capabilities(&spec.capabilities.add, "spec.capabilities.add");
            let capabilities_drop = capabilities(&spec.capabilities.drop, "spec.capabilities.drop");
            let mut dns_servers = Vec::new();
            let dns = spec.dns.clone().unwrap_or_default();
            for (i, text) in dns.servers.iter().enumerate() {
                match text.parse() {
                    Ok(ip) => dns_servers.push(ip),
                    Err(_) => {
                        self.error(
                            "invalid-ip",
                            field(doc, format!("spec.dns.servers[{i}]")),
                            format!("`{text}` is not an IP address"),
                        );
                    }
                }
            }
            if spec.shell.is_empty() {
                self.error(
                    "invalid-value",
                    key(doc, "spec.shell"),
                    "the shell command must not be empty",
                );
            }
            if spec.command.is_empty() {
                self.error(
                    "invalid-value",
                    key(doc, "spec.command"),
                    "the pod command must not be empty",
                );
            }
            let mut timeout = |text: &str, path: &str| match values::duration(text) {
                Ok(duration) => Some(duration),
                Err(message) => {
                    self.error("invalid-duration", field(doc, path), message);
                    None
                }
            };
            let ready_timeout = timeout(&spec.ready_timeout, "spec.readyTimeout");
            let remove_timeout = timeout(&spec.remove_timeout, "spec.removeTimeout");
            let (Some(ready_timeout), Some(remove_timeout)) = (ready_timeout, remove_timeout)
            else {
                continue;
            };
            environments.insert(
                name.to_owned(),
                Environment {
                    name: name.to_owned(),
                    clusters: spec.clusters.iter().cloned().collect(),
                    image: spec.image.clone(),
                    namespace: spec.namespace.clone(),
                    service_account: spec.service_account.clone(),
                    capabilities_add,
                    capabilities_drop,
                    privileged: spec.privileged,
                    dns_servers,
                    dns_searches: dns.searches.clone(),
                    shell: spec.shell.clone(),
                    command: spec.command.clone(),
                    run_as_user: spec.run_as_user,
                    run_as_group: spec.run_as_group,
                    working_dir: spec.working_dir.clone(),
                    image_pull_secret: spec.image_pull_secret.clone(),
                    ready_timeout,
                    remove_timeout,
                    port_forwarding: spec.port_forwarding,
                    banner: spec.banner.clone(),
                    origin: self.origin(doc),
                },
            );
        }
        environments
    }

    fn grants(
        &mut self,
        docs: &Documents<'a>,
        clusters: &BTreeSet<String>,
        roles: &BTreeMap<String, Role>,
        environments: &BTreeMap<String, Environment>,
    ) -> Vec<Grant> {
        let mut grants = Vec::new();
        for (&name, &(doc, spec)) in &docs.access {
            let subjects = &spec.subjects;
            if subjects.users.is_empty()
                && subjects.groups.is_empty()
                && subjects.clients.is_empty()
            {
                self.error(
                    "no-subjects",
                    key(doc, "spec.subjects"),
                    "the grants have no subject",
                );
            }
            for (i, user) in subjects.users.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.subjects.users[{i}]"),
                    Kind::User,
                    user,
                    &docs.users,
                );
            }
            for (i, group) in subjects.groups.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.subjects.groups[{i}]"),
                    Kind::Group,
                    group,
                    &docs.groups,
                );
            }
            for (i, client) in subjects.clients.iter().enumerate() {
                self.reference(
                    doc,
                    format!("spec.subjects.clients[{i}]"),
                    Kind::Client,
                    client,
                    &docs.clients,
                );
            }
            let shared = Arc::new(Subjects {
                users: subjects.users.iter().cloned().collect(),
                groups: subjects.groups.iter().cloned().collect(),
                clients: subjects.clients.iter().cloned().collect(),
            });
            let expires = self.timestamp(doc, "spec.expires", &spec.expires, "the expiry");
            if spec.grants.is_empty() {
                self.error(
                    "no-grants",
                    key(doc, "spec.grants"),
                    "the document grants nothing",
                );
            }
            let origin = self.origin(doc);
            for (i, grant) in spec.grants.iter().enumerate() {
                let path = format!("spec.grants[{i}]");
                if let Some(target) =
                    self.grant_target(doc, &path, grant, docs, roles, environments)
                {
                    let cluster_ok = self.cluster_reference(
                        doc,
                        format!("{path}.cluster"),
                        &grant.cluster,
                        clusters,
                    );
                    if let (GrantTarget::Environment(environment), true) = (&target, cluster_ok)
                        && let Some(environment) = environments.get(environment)
                        && !environment.in_cluster(&grant.cluster)
                    {
                        self.error(
                            "environment-not-in-cluster",
                            field(doc, format!("{path}.cluster")),
                            format!(
                                "environment `{}` does not exist in cluster `{}`",
                                environment.name, grant.cluster
                            ),
                        );
                    }
                    let namespaces = grant.namespaces.as_ref().map(|namespaces| {
                        if namespaces.is_empty() {
                            self.error(
                                "no-namespaces",
                                key(doc, format!("{path}.namespaces")),
                                "an empty namespace list grants nothing; leave `namespaces` out to grant the whole cluster",
                            );
                        }
                        for (j, namespace) in namespaces.iter().enumerate() {
                            if let Err((message, hint)) = values::dns1123_label(namespace) {
                                self.error("invalid-name", field(doc, format!("{path}.namespaces[{j}]")), message)
                                    .hint = hint;
                            }
                        }
                        namespaces.iter().cloned().collect::<BTreeSet<_>>()
                    });
                    if matches!(target, GrantTarget::Environment(_)) && namespaces.is_some() {
                        self.error(
                            "invalid-grant",
                            key(doc, format!("{path}.namespaces")),
                            "an environment grant is scoped to the environment's namespace; remove `namespaces`",
                        );
                    }
                    let grant_expires = self.timestamp(
                        doc,
                        &format!("{path}.expires"),
                        &grant.expires,
                        "the grant's expiry",
                    );
                    grants.push(Grant {
                        access: name.to_owned(),
                        subjects: shared.clone(),
                        target,
                        cluster: grant.cluster.clone(),
                        namespaces,
                        access_as: spec.access_as,
                        expires: match (expires, grant_expires) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        },
                        origin: origin.clone(),
                    });
                }
            }
        }
        grants
    }

    fn grant_target(
        &mut self,
        doc: DocRef,
        path: &str,
        grant: &GrantSpec,
        docs: &Documents<'a>,
        roles: &BTreeMap<String, Role>,
        environments: &BTreeMap<String, Environment>,
    ) -> Option<GrantTarget> {
        match (&grant.role, &grant.environment) {
            (Some(role), None) => {
                if let Some(builtin) = BuiltinRole::parse(role) {
                    return Some(GrantTarget::Role(RoleRef::Builtin(builtin)));
                }
                if roles.contains_key(role) {
                    return Some(GrantTarget::Role(RoleRef::Custom(role.clone())));
                }
                if docs.roles.contains_key(role.as_str())
                    || self.repo.broken.contains(&(Kind::Role, role.clone()))
                {
                    // The Role exists but is invalid; that is reported at the Role.
                    return None;
                }
                let names = BuiltinRole::ALL
                    .iter()
                    .map(|r| r.name())
                    .chain(docs.roles.keys().copied());
                let hint = did_you_mean(role, names).unwrap_or_else(|| {
                    "the built-in roles are cluster-admin, admin, edit, view, logs, exec and port-forward; other roles need a `Role` document".to_owned()
                });
                self.error(
                    "unknown-role",
                    field(doc, format!("{path}.role")),
                    format!("unknown role `{role}`: neither a built-in role nor a `Role` document"),
                )
                .hint = Some(hint);
                None
            }
            (None, Some(environment)) => {
                let found = self.reference(
                    doc,
                    format!("{path}.environment"),
                    Kind::Environment,
                    environment,
                    &docs.environments,
                );
                (found && environments.contains_key(environment))
                    .then(|| GrantTarget::Environment(environment.clone()))
            }
            _ => {
                self.error(
                    "invalid-grant",
                    key(doc, path.to_owned()),
                    "a grant names either a `role` or an `environment`, exactly one of them",
                );
                None
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------

    /// A group that contains itself, directly or through other groups, has no well-defined membership.
    fn group_cycles(&mut self, docs: &Documents<'a>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit<'a>(
            name: &'a str,
            docs: &Documents<'a>,
            marks: &mut HashMap<&'a str, Mark>,
            trail: &mut Vec<&'a str>,
            cycles: &mut Vec<Vec<&'a str>>,
        ) {
            match marks.get(name) {
                Some(Mark::Done) => return,
                Some(Mark::Visiting) => {
                    let start = trail
                        .iter()
                        .position(|g| *g == name)
                        .expect("a visiting group is on the trail");
                    let mut cycle = trail[start..].to_vec();
                    cycle.push(name);
                    cycles.push(cycle);
                    return;
                }
                None => {}
            }
            let Some((_, spec)) = docs.groups.get(name) else {
                return;
            };
            marks.insert(name, Mark::Visiting);
            trail.push(name);
            for child in &spec.groups {
                visit(child, docs, marks, trail, cycles);
            }
            trail.pop();
            marks.insert(name, Mark::Done);
        }
        let mut marks = HashMap::new();
        let mut cycles = Vec::new();
        for &name in docs.groups.keys() {
            visit(name, docs, &mut marks, &mut Vec::new(), &mut cycles);
        }
        for cycle in cycles {
            let (doc, spec) = docs.groups[cycle[0]];
            let next = cycle.get(1).copied().unwrap_or(cycle[0]);
            let index = spec.groups.iter().position(|g| g == next).unwrap_or(0);
            self.error(
                "group-cycle",
                field(doc, format!("spec.groups[{index}]")),
                format!(
                    "group `{}` contains itself: {}",
                    cycle[0],
                    cycle.join(" -> ")
                ),
            );
        }
    }

    /// Every VPN client of a cluster needs its own range of the pool.
    fn pool_capacity(
        &mut self,
        docs: &Documents<'a>,
        settings: &Settings,
        clients: &BTreeMap<String, Client>,
    ) {
        let settings_doc = docs.settings[0].0;
        for (index, cluster) in settings.clusters.values().enumerate() {
            let vpn_clients: Vec<&Client> = clients
                .values()
                .filter(|c| c.vpn && c.is_active(self.now) && c.clusters.contains(&cluster.name))
                .collect();
            if vpn_clients.is_empty() {
                continue;
            }
            let Some(pool) = cluster.client_pool else {
                for client in vpn_clients {
                    let (doc, spec) = docs.clients[client.name.as_str()];
                    let i = spec
                        .clusters
                        .iter()
                        .position(|c| *c == cluster.name)
                        .unwrap_or(0);
                    self.error(
                        "no-client-pool",
                        field(doc, format!("spec.clusters[{i}]")),
                        format!(
                            "the client uses the VPN but cluster `{}` has no `clientPool`",
                            cluster.name
                        ),
                    )
                    .hint = Some(
                        "set `vpn: false`, or give the cluster a `clientPool` in Settings"
                            .to_owned(),
                    );
                }
                continue;
            };
            let capacity = pool.capacity();
            if vpn_clients.len() as u128 > capacity {
                let position = docs.settings[0]
                    .2
                    .clusters
                    .iter()
                    .position(|c| c.name == cluster.name)
                    .unwrap_or(index);
                self.error(
                    "pool-exhausted",
                    field(settings_doc, format!("spec.clusters[{position}].clientPool")),
                    format!(
                        "cluster `{}` has {} VPN clients but its pool {} holds only {capacity} ranges of /{}",
                        cluster.name,
                        vpn_clients.len(),
                        pool.cidr,
                        pool.per_client_prefix
                    ),
                )
                .hint = Some("use a larger pool or a longer `perClientPrefix`".to_owned());
            }
        }
    }

    /// Groups and roles that no grant reaches are probably leftovers; say so without failing.
    fn unused(&mut self, docs: &Documents<'a>, grants: &[Grant]) {
        let mut used_groups: BTreeSet<&str> = BTreeSet::new();
        let mut used_roles: BTreeSet<&str> = BTreeSet::new();
        for grant in grants {
            used_groups.extend(grant.subjects.groups.iter().map(String::as_str));
            if let GrantTarget::Role(RoleRef::Custom(role)) = &grant.target {
                used_roles.insert(role);
            }
        }
        for (_, spec) in docs.groups.values() {
            used_groups.extend(spec.groups.iter().map(String::as_str));
        }
        for (&name, &(doc, _)) in &docs.groups {
            if !used_groups.contains(name) {
                self.warning(
                    "unused-group",
                    field(doc, "metadata.name"),
                    format!("no grant names group `{name}`"),
                );
            }
        }
        for (&name, &(doc, _)) in &docs.roles {
            if !used_roles.contains(name) && BuiltinRole::parse(name).is_none() {
                self.warning(
                    "unused-role",
                    field(doc, "metadata.name"),
                    format!("no grant uses role `{name}`"),
                );
            }
        }
    }
}

fn is_host_port(endpoint: &str) -> bool {
    match endpoint.rsplit_once(':') {
        Some((host, port)) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}
