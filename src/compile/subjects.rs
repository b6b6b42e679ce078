//! Who a grant lands on: groups expanded, clients found by owner, inactive people and clients left out.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::Subject;

use crate::config::documents::AccessAs;
use crate::validate::model::{AccessModel, Client, Grant, Subjects};

/// An RBAC subject, ordered the way bindings list them: ServiceAccounts, then users, then groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RbacSubject {
    /// A client's ServiceAccount.
    ServiceAccount {
        /// The ServiceAccount's namespace: Settings' `spec.clientsNamespace`.
        namespace: String,
        /// The ServiceAccount's name: the client's name.
        name: String,
    },
    /// A person in an `accessAs: user` grant: `spec.subjectPrefixes.user` then the User's `username`.
    User(String),
    /// A group in an `accessAs: user` grant: `spec.subjectPrefixes.group` then the Group's name.
    Group(String),
}

impl RbacSubject {
    /// The subject as an RBAC binding lists it; a ServiceAccount without `apiGroup`, as the API server stores it.
    pub fn to_k8s(&self) -> Subject {
        match self {
            // The API server stores ServiceAccount subjects without an apiGroup; writing `""` would read back as
            // drift on every plan.
            RbacSubject::ServiceAccount { namespace, name } => Subject {
                kind: "ServiceAccount".to_owned(),
                api_group: None,
                name: name.clone(),
                namespace: Some(namespace.clone()),
            },
            RbacSubject::User(name) => Subject {
                kind: "User".to_owned(),
                api_group: Some("rbac.authorization.k8s.io".to_owned()),
                name: name.clone(),
                namespace: None,
            },
            RbacSubject::Group(name) => Subject {
                kind: "Group".to_owned(),
                api_group: Some("rbac.authorization.k8s.io".to_owned()),
                name: name.clone(),
                namespace: None,
            },
        }
    }
}

/// The identity a client acts as through Kubernetes impersonation (kubectl's `--as` and `--as-group`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impersonation {
    /// The RBAC `User` subject of the client's owner, prefix included, e.g. `oidc:alice@example.com`.
    pub user: String,
    /// The RBAC `Group` subjects of the owner's groups, prefixed and sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Expanded group memberships, client ownership and a cache of resolved subject lists for one cluster.
pub struct SubjectResolver<'m> {
    model: &'m AccessModel,
    cluster: &'m str,
    now: Timestamp,
    /// Every user in a group, through nested groups too.
    group_users: HashMap<&'m str, BTreeSet<&'m str>>,
    /// A group and every group nested in it.
    group_closure: HashMap<&'m str, BTreeSet<&'m str>>,
    /// Active clients of this cluster, by owner.
    clients_by_owner: HashMap<&'m str, Vec<&'m str>>,
    /// Users that an active `accessAs: user` grant of this cluster reaches, directly or through a group.
    user_mode_users: HashSet<&'m str>,
    /// Every group a user is in, directly or through nesting, for those users only.
    user_mode_groups: HashMap<&'m str, BTreeSet<&'m str>>,
    /// Documents share one `Subjects` across their grants, so one resolution serves them all.
    cache: HashMap<(*const Subjects, AccessAs), Arc<Vec<RbacSubject>>>,
}

impl<'m> SubjectResolver<'m> {
    /// Prepares the resolver for `cluster` at `now`: expands every group and indexes the active clients of
    /// `cluster` by owner.
    pub fn new(model: &'m AccessModel, cluster: &'m str, now: Timestamp) -> Self {
        let mut resolver = SubjectResolver {
            model,
            cluster,
            now,
            group_users: HashMap::new(),
            group_closure: HashMap::new(),
            clients_by_owner: HashMap::new(),
            user_mode_users: HashSet::new(),
            user_mode_groups: HashMap::new(),
            cache: HashMap::new(),
        };
        for name in model.groups.keys() {
            resolver.expand_group(name);
        }
        for client in model.clients.values() {
            if model.client_is_live(client, cluster, now) {
                for owner in &client.owners {
                    resolver
                        .clients_by_owner
                        .entry(owner.as_str())
                        .or_default()
                        .push(client.name.as_str());
                }
            }
        }
        for grant in &model.grants {
            if grant.cluster != cluster
                || !grant.is_active(now)
                || grant.access_as != AccessAs::User
            {
                continue;
            }
            resolver
                .user_mode_users
                .extend(grant.subjects.users.iter().map(String::as_str));
            for group in &grant.subjects.groups {
                if let Some(users) = resolver.group_users.get(group.as_str()) {
                    resolver.user_mode_users.extend(users.iter().copied());
                }
            }
        }
        // Impersonation needs each such user's groups: one pass over the memberships, not one per client.
        for (group, users) in &resolver.group_users {
            for user in users {
                if resolver.user_mode_users.contains(user) {
                    resolver
                        .user_mode_groups
                        .entry(user)
                        .or_default()
                        .insert(group);
                }
            }
        }
        resolver
    }

    /// Who `client` may act as in this cluster, or `None`: a client with exactly one active owner and no extra
    /// recipient, in a cluster with `impersonation` on, whose owner an `accessAs: user` grant of the cluster
    /// reaches. It may impersonate exactly that owner's RBAC `User` subject and the `Group` subjects of every group
    /// the owner is in (directly or through nesting), never anyone else. Whoever can read a client file holds its
    /// token, so the file must be the owner's alone: with two owners one could act as the other, and an extra
    /// recipient (a CI key, a colleague) could act as the owner; such clients act as nobody.
    pub fn impersonation(&self, client: &Client) -> Option<Impersonation> {
        let settings = &self.model.settings;
        if !settings.clusters.get(self.cluster)?.impersonation
            || !client.recipients.is_empty()
            || !self.model.client_is_live(client, self.cluster, self.now)
        {
            return None;
        }
        let mut owners = client
            .owners
            .iter()
            .filter_map(|owner| self.model.users.get(owner))
            .filter(|user| user.is_active(self.now));
        let (Some(owner), None) = (owners.next(), owners.next()) else {
            return None;
        };
        if !self.user_mode_users.contains(owner.name.as_str()) {
            return None;
        }
        let groups = self
            .user_mode_groups
            .get(owner.name.as_str())
            .into_iter()
            .flatten()
            .filter_map(|group| self.model.groups.get(*group))
            .map(|group| settings.subject_prefixes.group_subject(group))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Some(Impersonation {
            user: settings.subject_prefixes.user_subject(owner),
            groups,
        })
    }

    /// Validation guarantees groups form no cycle, so the recursion ends.
    fn expand_group(&mut self, name: &'m str) {
        if self.group_closure.contains_key(name) {
            return;
        }
        let Some(group) = self.model.groups.get(name) else {
            return;
        };
        let mut users: BTreeSet<&str> = group.members.iter().map(String::as_str).collect();
        let mut closure: BTreeSet<&str> = BTreeSet::from([name]);
        for child in &group.groups {
            self.expand_group(child);
            if let Some(child_users) = self.group_users.get(child.as_str()) {
                users.extend(child_users.iter().copied());
            }
            if let Some(child_closure) = self.group_closure.get(child.as_str()) {
                closure.extend(child_closure.iter().copied());
            }
        }
        self.group_users.insert(name, users);
        self.group_closure.insert(name, closure);
    }

    /// The ServiceAccount subject of `client`, in the clients namespace; whether the client is active is not checked.
    pub fn client_subject(&self, client: &str) -> RbacSubject {
        RbacSubject::ServiceAccount {
            namespace: self.model.settings.clients_namespace.clone(),
            name: client.to_owned(),
        }
    }

    fn client_is_here(&self, name: &str) -> bool {
        self.model
            .clients
            .get(name)
            .is_some_and(|c| self.model.client_is_live(c, self.cluster, self.now))
    }

    fn user_is_active(&self, name: &str) -> bool {
        self.model
            .users
            .get(name)
            .is_some_and(|u| u.is_active(self.now))
    }

    /// The RBAC subjects a grant lands on in this cluster, sorted and without duplicates.
    pub fn resolve(&mut self, grant: &Grant) -> Arc<Vec<RbacSubject>> {
        let cache_key = (Arc::as_ptr(&grant.subjects), grant.access_as);
        if let Some(resolved) = self.cache.get(&cache_key) {
            return resolved.clone();
        }
        let subjects = &grant.subjects;
        let mut resolved: BTreeSet<RbacSubject> = BTreeSet::new();
        for client in &subjects.clients {
            if self.client_is_here(client) {
                resolved.insert(self.client_subject(client));
            }
        }
        match grant.access_as {
            AccessAs::Client => {
                let mut users: BTreeSet<&str> = subjects.users.iter().map(String::as_str).collect();
                for group in &subjects.groups {
                    if let Some(members) = self.group_users.get(group.as_str()) {
                        users.extend(members.iter().copied());
                    }
                }
                for user in users {
                    if !self.user_is_active(user) {
                        continue;
                    }
                    for client in self.clients_by_owner.get(user).into_iter().flatten() {
                        resolved.insert(self.client_subject(client));
                    }
                }
            }
            AccessAs::User => {
                let prefixes = &self.model.settings.subject_prefixes;
                for user in &subjects.users {
                    if let Some(user) = self.model.users.get(user)
                        && user.is_active(self.now)
                    {
                        resolved.insert(RbacSubject::User(prefixes.user_subject(user)));
                    }
                }
                // An identity provider reports only a person's direct groups, so a grant to a group must also
                // name every group nested in it.
                for group in &subjects.groups {
                    for nested in self.group_closure.get(group.as_str()).into_iter().flatten() {
                        if let Some(nested) = self.model.groups.get(*nested) {
                            resolved.insert(RbacSubject::Group(prefixes.group_subject(nested)));
                        }
                    }
                }
            }
        }
        let resolved = Arc::new(resolved.into_iter().collect::<Vec<_>>());
        self.cache.insert(cache_key, resolved.clone());
        resolved
    }
}
