//! Validation of `Environment` documents: the session pod template (image, namespace, service account, security
//! settings, DNS, timeouts) of one or more clusters.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::documents::{EnvironmentSpec, SettingsSpec};
use crate::config::source::DocRef;

use super::model::*;
use super::{Documents, Validator, field, key, values};

/// How much of the 256 KiB the API server allows for an object's annotations (`TotalAnnotationSizeLimitB`) the
/// session settings may use; the rest is left for tollgate's own annotations (source files, revision) and for
/// what other tools add.
const MAX_SESSION_ANNOTATIONS: usize = 200 * 1024;

/// The longest `removeTimeout`: it is how long a pod's removal may take, and a longer value is nearly always a
/// session lifetime written in the wrong field (`maxSessionDuration`).
const MAX_REMOVE_TIMEOUT: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// Why `namespace` cannot be an environment's: a Kubernetes namespace, tollgate's clients namespace, or the
/// controller's.
fn reserved_namespace(namespace: &str, settings: Option<&SettingsSpec>) -> Option<&'static str> {
    // Kubernetes reserves `kube-` for its own namespaces (and add-ons such as `kube-flannel` live there).
    if SYSTEM_NAMESPACES.contains(&namespace) || namespace.starts_with("kube-") {
        return Some("a namespace of Kubernetes itself");
    }
    let settings = settings?;
    if namespace == settings.clients_namespace {
        return Some("the clients namespace: session users could read the clients' tokens");
    }
    (namespace == settings.controller_namespace).then_some("the controller's namespace")
}

/// Whether two environments' cluster lists meet (an empty list is every cluster).
fn share_a_cluster(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|c| b.contains(c))
}

impl<'a> Validator<'a> {
    pub(super) fn environments(
        &mut self,
        docs: &Documents<'a>,
        clusters: &BTreeSet<String>,
    ) -> BTreeMap<String, Environment> {
        let mut environments = BTreeMap::new();
        // Each environment owns its namespace (tollgate creates and prunes it): one environment per namespace in
        // any cluster they share.
        let mut owners: Vec<(&str, &str, &EnvironmentSpec, DocRef)> = Vec::new();
        let settings = docs.settings.first().map(|(_, _, spec)| *spec);
        // Namespaces that grants name: the teams', which tollgate binds in but never owns.
        let team_namespaces: Vec<(DocRef, (&str, &str))> =
            docs.access
                .values()
                .flat_map(|(doc, spec)| {
                    spec.grants.iter().flat_map(move |grant| {
                        grant.namespaces.iter().flatten().map(move |namespace| {
                            (*doc, (namespace.as_str(), grant.cluster.as_str()))
                        })
                    })
                })
                .collect();
        for (&name, &(doc, spec)) in &docs.environments {
            if spec.clusters.is_empty() && self.written(doc, "spec.clusters") {
                self.error(
                    "no-clusters",
                    key(doc, "spec.clusters"),
                    "an empty cluster list is not \"no clusters\" here: left out, it means every cluster",
                )
                .hint = Some("name the clusters, or remove `clusters` to mean every cluster".to_owned());
            }
            for (i, cluster) in spec.clusters.iter().enumerate() {
                self.cluster_reference(doc, format!("spec.clusters[{i}]"), cluster, clusters);
            }
            if let Err(message) = values::image_reference(spec.image.trim()) {
                self.error("invalid-image", field(doc, "spec.image"), message);
            }
            if let Err((message, hint)) = values::dns1123_label(&spec.namespace) {
                self.error("invalid-name", field(doc, "spec.namespace"), message)
                    .hint = hint;
            } else if let Some(reason) = reserved_namespace(&spec.namespace, settings) {
                self.error(
                    "reserved-namespace",
                    field(doc, "spec.namespace"),
                    format!(
                        "`{}` is {reason}; an environment's namespace is its own (tollgate creates and prunes it)",
                        spec.namespace
                    ),
                )
                .hint = Some(format!("use a namespace of its own, e.g. `sessions-{name}`"));
            } else if let Some((grant, _)) =
                team_namespaces.iter().find(|(_, (namespace, cluster))| {
                    *namespace == spec.namespace.as_str()
                        && (spec.clusters.is_empty() || spec.clusters.iter().any(|c| c == cluster))
                })
            {
                let message = format!(
                    "`{}` is a team's namespace that grants bind in (at {}): tollgate would create, own and prune \
                     it, and session users could exec into every pod in it",
                    spec.namespace,
                    self.describe(*grant)
                );
                self.error("namespace-taken", field(doc, "spec.namespace"), message)
                    .hint = Some(format!(
                    "use a namespace of its own, e.g. `sessions-{name}`"
                ));
            } else if let Some((other, _, _, first)) =
                owners.iter().find(|(_, namespace, other, _)| {
                    *namespace == spec.namespace && share_a_cluster(&spec.clusters, &other.clusters)
                })
            {
                let message = format!(
                    "environment `{other}` (at {}) already has the namespace `{}` in a cluster both exist in",
                    self.describe(*first),
                    spec.namespace
                );
                self.error("namespace-taken", field(doc, "spec.namespace"), message)
                    .hint = Some("give each environment a namespace of its own".to_owned());
            }
            owners.push((name, &spec.namespace, spec, doc));
            let service_account = spec.service_account.as_deref().unwrap_or("session");
            if service_account == "default" {
                self.error(
                    "invalid-service-account",
                    field(doc, "spec.serviceAccount"),
                    "sessions must run as a ServiceAccount tollgate creates for the environment; the namespace's \
                     `default` ServiceAccount is not one",
                )
                .hint = Some("remove `serviceAccount` (tollgate then creates `session`), or name another".to_owned());
            } else if let Err(message) = values::dns1123_subdomain(service_account) {
                self.error("invalid-name", field(doc, "spec.serviceAccount"), message);
            }
            for (path, id) in [
                ("spec.runAsUser", spec.run_as_user),
                ("spec.runAsGroup", spec.run_as_group),
            ] {
                if let Some(id) = id
                    && !(0..=i64::from(i32::MAX)).contains(&id)
                {
                    self.error(
                        "invalid-value",
                        field(doc, path),
                        format!("{id} is not a Linux user or group ID the API server accepts: 0 to 2147483647"),
                    );
                }
            }
            let annotations = spec.banner.as_deref().map_or(0, str::len)
                + spec.shell.iter().map(|s| s.len() + 3).sum::<usize>();
            if annotations > MAX_SESSION_ANNOTATIONS {
                self.error(
                    "too-long",
                    field(doc, if spec.banner.is_some() { "spec.banner" } else { "spec.shell" }),
                    format!(
                        "the banner and shell are {annotations} bytes; they travel as annotations of the session \
                         PodTemplate, and the API server refuses more than 256 KiB of annotations (at most \
                         {MAX_SESSION_ANNOTATIONS} bytes here)"
                    ),
                );
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
            // The API server's limits on `dnsConfig` (`validatePodDNSConfig`).
            if dns.servers.len() > 3 {
                self.error(
                    "too-many",
                    key(doc, "spec.dns.servers"),
                    format!(
                        "{} nameservers; a pod may have at most 3",
                        dns.servers.len()
                    ),
                );
            }
            if dns.searches.len() > 32 {
                self.error(
                    "too-many",
                    key(doc, "spec.dns.searches"),
                    format!(
                        "{} search domains; a pod may have at most 32",
                        dns.searches.len()
                    ),
                );
            }
            let search_chars: usize = dns.searches.iter().map(String::len).sum::<usize>()
                + dns.searches.len().saturating_sub(1);
            if search_chars > 2048 {
                self.error(
                    "too-long",
                    key(doc, "spec.dns.searches"),
                    format!(
                        "the search domains are {search_chars} characters; a pod's are at most 2048"
                    ),
                );
            }
            for (i, search) in dns.searches.iter().enumerate() {
                if let Err(message) = values::search_domain(search) {
                    self.error(
                        "invalid-name",
                        field(doc, format!("spec.dns.searches[{i}]")),
                        message,
                    );
                }
            }
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
            let max_session_duration =
                timeout(&spec.max_session_duration, "spec.maxSessionDuration");
            if let Some(remove) = remove_timeout
                && remove > MAX_REMOVE_TIMEOUT
            {
                self.error(
                    "invalid-duration",
                    field(doc, "spec.removeTimeout"),
                    format!(
                        "`{}` is how long the removal of a session pod may take after its session ends, at most \
                         10m; it is not how long a session or its pod lasts",
                        spec.remove_timeout
                    ),
                )
                .hint = Some(
                    "bound a session's length with `maxSessionDuration` (default 12h), and keep `removeTimeout` \
                     short, e.g. `1m`"
                        .to_owned(),
                );
            }
            if spec.exec_command.is_empty() {
                self.error(
                    "invalid-value",
                    key(doc, "spec.execCommand"),
                    "the exec command must not be empty",
                );
            }
            if spec.sftp_command.as_ref().is_some_and(Vec::is_empty) {
                self.error(
                    "invalid-value",
                    key(doc, "spec.sftpCommand"),
                    "the sftp command must not be empty; leave `sftpCommand` out to refuse sftp and scp",
                );
            }
            for (path, value) in [("spec.os", &spec.os), ("spec.arch", &spec.arch)] {
                if let Some(value) = value
                    && let Err(message) = values::label_value(value)
                {
                    self.error("invalid-value", field(doc, path), message);
                }
            }
            let login = spec.login.clone().unwrap_or_default();
            let mut login_groups = BTreeSet::new();
            for (i, group) in login.groups.iter().enumerate() {
                if docs.groups.contains_key(group.as_str()) {
                    login_groups.insert(group.clone());
                } else {
                    self.error(
                        "unknown-group",
                        field(doc, format!("spec.login.groups[{i}]")),
                        format!("no `Group` document is named `{group}`"),
                    );
                }
            }
            let mut login_networks = Vec::new();
            for (i, text) in login.source_networks.iter().enumerate() {
                match text.parse::<ipnet::IpNet>() {
                    Ok(network) => login_networks.push(network.trunc()),
                    Err(_) => {
                        self.error(
                            "invalid-cidr",
                            field(doc, format!("spec.login.sourceNetworks[{i}]")),
                            format!(
                                "`{text}` is not a network in CIDR notation, e.g. `10.8.0.0/16`"
                            ),
                        );
                    }
                }
            }
            let (Some(ready_timeout), Some(remove_timeout), Some(max_session_duration)) =
                (ready_timeout, remove_timeout, max_session_duration)
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
                    service_account: service_account.to_owned(),
                    mount_service_account_token: spec.service_account.is_some(),
                    capabilities_add,
                    capabilities_drop,
                    privileged: spec.privileged,
                    dns_servers,
                    dns_searches: dns.searches.clone(),
                    shell: spec.shell.clone(),
                    command: spec.command.clone(),
                    exec_command: spec.exec_command.clone(),
                    sftp_command: spec.sftp_command.clone(),
                    run_as_user: spec.run_as_user,
                    run_as_group: spec.run_as_group,
                    working_dir: spec.working_dir.clone(),
                    image_pull_secret: spec.image_pull_secret.clone(),
                    image_pull_policy: spec.image_pull_policy,
                    os: spec.os.clone(),
                    arch: spec.arch.clone(),
                    ready_timeout,
                    remove_timeout,
                    max_session_duration,
                    login_groups,
                    login_networks,
                    port_forwarding: spec.port_forwarding,
                    banner: spec.banner.clone(),
                    origin: self.origin(doc),
                },
            );
        }
        environments
    }
}
