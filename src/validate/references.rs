//! References between documents and checks across the whole repository: names that must resolve (users, groups,
//! clients, roles, environments, clusters), group cycles, client pool capacity, and documents nothing uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::Kind;
use crate::config::source::DocRef;
use crate::diagnostics::did_you_mean;

use super::model::*;
use super::{Documents, Validator, field};

impl<'a> Validator<'a> {
    /// Reports a reference to a document that does not exist, unless that document exists but failed to load.
    pub(super) fn reference<V>(
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
        if self.repo.broken.contains(&(kind, name.to_owned())) || self.names_unknowable() {
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

    pub(super) fn cluster_reference(
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

    /// A group that contains itself, directly or through other groups, has no well-defined membership.
    pub(super) fn group_cycles(&mut self, docs: &Documents<'a>) {
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
    pub(super) fn pool_capacity(
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
    pub(super) fn unused(&mut self, docs: &Documents<'a>, grants: &[Grant]) {
        // A grant that did not load (a broken `UserAccess` document, an unreadable file) may well use them: say
        // nothing rather than something false.
        if !self.repo.broken.is_empty() || self.repo.unreadable_files > 0 {
            return;
        }
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
