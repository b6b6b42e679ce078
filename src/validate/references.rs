//! References between documents and checks across the whole repository: names that must resolve (users, groups,
//! clients, roles, environments, clusters), group cycles, client pool capacity, and documents nothing uses.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::Kind;
use crate::config::source::DocRef;
use crate::diagnostics::did_you_mean;

use super::model::*;
use super::{Documents, Validator, field};

/// How deep groups may nest in groups (see `group_cycles`).
pub const MAX_GROUP_DEPTH: usize = 32;

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
            Kind::Settings | Kind::UserAccess | Kind::AccessTest => "unknown-reference",
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

    /// A group that contains itself, directly or through other groups, has no well-defined membership; a chain of
    /// groups deeper than [`MAX_GROUP_DEPTH`] is refused too (no identity provider nests so deep, and expanding
    /// it costs time and memory with the square of its depth). Walked with an explicit stack: no nesting, however
    /// deep, can overflow the thread's stack.
    pub(super) fn group_cycles(&mut self, docs: &Documents<'a>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        let children = |name: &str| -> &'a [String] {
            docs.groups
                .get(name)
                .map_or(&[][..], |(_, spec)| &spec.groups[..])
        };
        let mut marks: HashMap<&'a str, Mark> = HashMap::new();
        let mut depth: HashMap<&'a str, usize> = HashMap::new();
        let mut cycles: Vec<Vec<&'a str>> = Vec::new();
        for &root in docs.groups.keys() {
            if marks.contains_key(root) {
                continue;
            }
            // (group, index of its next child)
            let mut stack: Vec<(&'a str, usize)> = vec![(root, 0)];
            marks.insert(root, Mark::Visiting);
            while let Some((name, next)) = stack.last_mut() {
                let name: &'a str = name;
                if let Some(child) = children(name).get(*next) {
                    *next += 1;
                    let child = child.as_str();
                    match marks.get(child) {
                        Some(Mark::Done) => {}
                        Some(Mark::Visiting) => {
                            let start = stack
                                .iter()
                                .position(|(g, _)| *g == child)
                                .expect("a visiting group is on the stack");
                            let mut cycle: Vec<&str> =
                                stack[start..].iter().map(|(g, _)| *g).collect();
                            cycle.push(child);
                            cycles.push(cycle);
                        }
                        None if docs.groups.contains_key(child) => {
                            marks.insert(child, Mark::Visiting);
                            stack.push((child, 0));
                        }
                        None => {}
                    }
                } else {
                    let deepest = children(name)
                        .iter()
                        .filter_map(|c| depth.get(c.as_str()))
                        .max()
                        .copied()
                        .unwrap_or(0);
                    depth.insert(name, deepest + 1);
                    marks.insert(name, Mark::Done);
                    stack.pop();
                }
            }
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
        // Only the top of a chain that is too deep: the groups no other group contains.
        let nested: std::collections::HashSet<&str> = docs
            .groups
            .values()
            .flat_map(|(_, spec)| spec.groups.iter().map(String::as_str))
            .collect();
        for (&name, &(doc, _)) in &docs.groups {
            let levels = depth.get(name).copied().unwrap_or(0);
            if levels > MAX_GROUP_DEPTH && !nested.contains(name) {
                self.error(
                    "group-depth",
                    field(doc, "spec.groups"),
                    format!(
                        "group `{name}` nests groups {levels} levels deep; at most {MAX_GROUP_DEPTH} are allowed"
                    ),
                )
                .hint = Some("flatten the chain: list the users, or fewer levels of groups".to_owned());
            }
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
                // A pool that is written but invalid is reported at Settings; its clients have no other problem.
                let written = docs.settings[0]
                    .2
                    .clusters
                    .iter()
                    .any(|c| c.name == cluster.name && c.client_pool.is_some());
                if written {
                    continue;
                }
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
