//! Validation of `Environment` documents: the session pod template (image, namespace, service account, security
//! settings, DNS, timeouts) of one or more clusters.

use std::collections::{BTreeMap, BTreeSet};

use super::model::*;
use super::{Documents, Validator, field, key, values};

impl<'a> Validator<'a> {
    pub(super) fn environments(
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
}
