//! Validation of `Client` documents: owners, extra recipients, clusters, sunsets and VPN settings.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Kind;

use super::model::*;
use super::{Documents, Validator, field, key, values};

impl<'a> Validator<'a> {
    pub(super) fn clients(
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
}
