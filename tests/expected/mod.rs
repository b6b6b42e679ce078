//! What the access repository should grant, derived in the test from the fixture's YAML alone, without
//! tollgate's model or compiler: the second, independent opinion the real RBAC authorizer is compared against.
//!
//! The semantics follow DESIGN.md and the Kubernetes documentation of the default roles; the fixture is read as
//! plain YAML values.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml::Value;

/// Who asks: a user name and its groups, as a SubjectAccessReview carries them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity {
    pub label: String,
    pub user: String,
    pub groups: Vec<String>,
}

/// One question of the matrix. An empty namespace asks about a cluster-scoped resource.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
}

pub const CHECKS: &[Check] = &[
    Check {
        verb: "get",
        group: "",
        resource: "pods",
    },
    Check {
        verb: "list",
        group: "",
        resource: "pods",
    },
    Check {
        verb: "create",
        group: "",
        resource: "pods",
    },
    Check {
        verb: "delete",
        group: "",
        resource: "pods",
    },
    Check {
        verb: "get",
        group: "",
        resource: "pods/log",
    },
    Check {
        verb: "create",
        group: "",
        resource: "pods/exec",
    },
    Check {
        verb: "create",
        group: "",
        resource: "pods/attach",
    },
    Check {
        verb: "create",
        group: "",
        resource: "pods/portforward",
    },
    Check {
        verb: "get",
        group: "",
        resource: "secrets",
    },
    Check {
        verb: "get",
        group: "",
        resource: "configmaps",
    },
    Check {
        verb: "create",
        group: "",
        resource: "configmaps",
    },
    Check {
        verb: "update",
        group: "",
        resource: "services",
    },
    Check {
        verb: "get",
        group: "apps",
        resource: "deployments",
    },
    Check {
        verb: "create",
        group: "apps",
        resource: "deployments",
    },
    Check {
        verb: "delete",
        group: "apps",
        resource: "deployments",
    },
    Check {
        verb: "patch",
        group: "apps",
        resource: "statefulsets",
    },
    Check {
        verb: "create",
        group: "rbac.authorization.k8s.io",
        resource: "rolebindings",
    },
];

/// Cluster-scoped questions, asked with an empty namespace.
pub const CLUSTER_CHECKS: &[Check] = &[
    Check {
        verb: "list",
        group: "",
        resource: "nodes",
    },
    Check {
        verb: "delete",
        group: "",
        resource: "namespaces",
    },
];

#[derive(Debug, Clone)]
enum Permissions {
    /// A Kubernetes default role or a tollgate built-in, by name.
    Builtin(String),
    /// A custom role's rules: (apiGroups, resources, verbs).
    Rules(Vec<(Vec<String>, Vec<String>, Vec<String>)>),
    /// Logging in to a session environment.
    Session { port_forwarding: bool },
}

#[derive(Debug, Clone)]
enum Target {
    Identity(String),
    Group(String),
}

#[derive(Debug, Clone)]
struct ExpectedGrant {
    target: Target,
    permissions: Permissions,
    /// `None`: the whole cluster.
    namespace: Option<String>,
}

pub struct Expected {
    grants: Vec<ExpectedGrant>,
    pub identities: Vec<Identity>,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn read_documents(root: &Path) -> Vec<Value> {
    let mut documents = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !name.starts_with('.') && name != "artifacts" {
                    stack.push(path);
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                let text = std::fs::read_to_string(&path).expect("fixture file");
                for document in serde_yaml::Deserializer::from_str(&text) {
                    let value: Value =
                        serde::Deserialize::deserialize(document).expect("fixture YAML");
                    if !value.is_null() {
                        documents.push(value);
                    }
                }
            }
        }
    }
    documents
}

/// A user's groups, through nested groups.
fn groups_of(
    user: &str,
    groups: &BTreeMap<String, (Vec<String>, Vec<String>)>,
) -> BTreeSet<String> {
    let mut found: BTreeSet<String> = groups
        .iter()
        .filter(|(_, (members, _))| members.iter().any(|m| m == user))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let parents: Vec<String> = groups
            .iter()
            .filter(|(name, (_, children))| {
                !found.contains(*name) && children.iter().any(|c| found.contains(c))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if parents.is_empty() {
            return found;
        }
        found.extend(parents);
    }
}

impl Expected {
    /// Reads the fixture and derives, for `cluster` at time `now` (RFC 3339), who gets what.
    pub fn derive(root: &Path, cluster: &str, now: &str) -> Expected {
        let now: jiff::Timestamp = now.parse().expect("now");
        let mut usernames = BTreeMap::new();
        let mut groups = BTreeMap::new();
        let mut clients: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        let mut roles = BTreeMap::new();
        let mut environments = BTreeMap::new();
        let mut access = Vec::new();
        let mut prefixes = (String::new(), String::new());
        let mut clients_namespace = String::new();
        for doc in read_documents(root) {
            let name = doc["metadata"]["name"].as_str().unwrap_or("").to_owned();
            let spec = &doc["spec"];
            match doc["kind"].as_str() {
                Some("Settings") => {
                    prefixes = (
                        spec["subjectPrefixes"]["user"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                        spec["subjectPrefixes"]["group"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                    );
                    clients_namespace = spec["clientsNamespace"]
                        .as_str()
                        .expect("clientsNamespace")
                        .to_owned();
                }
                Some("User") => {
                    let username = spec["username"].as_str().unwrap_or(&name).to_owned();
                    usernames.insert(name, username);
                }
                Some("Group") => {
                    groups.insert(name, (strings(&spec["members"]), strings(&spec["groups"])));
                }
                Some("Client") => {
                    clients.insert(name, (strings(&spec["owners"]), strings(&spec["clusters"])));
                }
                Some("Role") => {
                    let rules = spec["rules"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .map(|r| {
                            (
                                strings(&r["apiGroups"]),
                                strings(&r["resources"]),
                                strings(&r["verbs"]),
                            )
                        })
                        .collect::<Vec<_>>();
                    roles.insert(name, rules);
                }
                Some("Environment") => {
                    environments.insert(
                        name,
                        (
                            spec["namespace"].as_str().expect("namespace").to_owned(),
                            spec["portForwarding"].as_bool().unwrap_or(false),
                            strings(&spec["clusters"]),
                        ),
                    );
                }
                Some("UserAccess") => access.push(spec.clone()),
                _ => {}
            }
        }
        let sa = |client: &str| format!("system:serviceaccount:{clients_namespace}:{client}");
        let client_here = |client: &str| {
            clients
                .get(client)
                .is_some_and(|(_, c)| c.iter().any(|c| c == cluster))
        };

        let mut grants = Vec::new();
        for spec in &access {
            if let Some(expires) = spec["expires"].as_str()
                && expires.parse::<jiff::Timestamp>().expect("expires") <= now
            {
                continue;
            }
            let subjects = &spec["subjects"];
            let as_user = spec["accessAs"].as_str() == Some("user");
            let mut targets = Vec::new();
            for client in strings(&subjects["clients"]) {
                if client_here(&client) {
                    targets.push(Target::Identity(sa(&client)));
                }
            }
            if as_user {
                for user in strings(&subjects["users"]) {
                    targets.push(Target::Identity(format!(
                        "{}{}",
                        prefixes.0, usernames[&user]
                    )));
                }
                for group in strings(&subjects["groups"]) {
                    targets.push(Target::Group(format!("{}{group}", prefixes.1)));
                }
            } else {
                let mut people: BTreeSet<String> =
                    strings(&subjects["users"]).into_iter().collect();
                for user in usernames.keys() {
                    if groups_of(user, &groups)
                        .iter()
                        .any(|g| strings(&subjects["groups"]).contains(g))
                    {
                        people.insert(user.clone());
                    }
                }
                for (client, (owners, _)) in &clients {
                    if client_here(client) && owners.iter().any(|o| people.contains(o)) {
                        targets.push(Target::Identity(sa(client)));
                    }
                }
            }
            for grant in spec["grants"].as_sequence().expect("grants") {
                if grant["cluster"].as_str() != Some(cluster) {
                    continue;
                }
                let mut scopes: Vec<Option<String>> = strings(&grant["namespaces"])
                    .into_iter()
                    .map(Some)
                    .collect();
                if scopes.is_empty() {
                    scopes.push(None);
                }
                let permissions = if let Some(environment) = grant["environment"].as_str() {
                    let (namespace, port_forwarding, env_clusters) = &environments[environment];
                    if !env_clusters.is_empty() && !env_clusters.iter().any(|c| c == cluster) {
                        continue;
                    }
                    scopes = vec![Some(namespace.clone())];
                    Permissions::Session {
                        port_forwarding: *port_forwarding,
                    }
                } else {
                    let role = grant["role"].as_str().expect("role");
                    match roles.get(role) {
                        Some(rules) => Permissions::Rules(rules.clone()),
                        None => Permissions::Builtin(role.to_owned()),
                    }
                };
                for target in &targets {
                    for namespace in &scopes {
                        grants.push(ExpectedGrant {
                            target: target.clone(),
                            permissions: permissions.clone(),
                            namespace: namespace.clone(),
                        });
                    }
                }
            }
        }

        let mut identities = Vec::new();
        for (user, username) in &usernames {
            identities.push(Identity {
                label: format!("user {user}"),
                user: format!("{}{username}", prefixes.0),
                groups: groups_of(user, &groups)
                    .iter()
                    .map(|g| format!("{}{g}", prefixes.1))
                    .collect(),
            });
        }
        for group in groups.keys() {
            identities.push(Identity {
                label: format!("group {group}"),
                user: format!("{}probe-of-{group}", prefixes.0),
                groups: vec![format!("{}{group}", prefixes.1)],
            });
        }
        for client in clients.keys() {
            identities.push(Identity {
                label: format!("client {client}"),
                user: sa(client),
                groups: vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{clients_namespace}"),
                ],
            });
        }
        identities.push(Identity {
            label: "a stranger".into(),
            user: format!("{}stranger", prefixes.0),
            groups: vec![],
        });
        Expected { grants, identities }
    }

    /// Whether `identity` may do `check` in `namespace` ("" for a cluster-scoped resource).
    pub fn allows(&self, identity: &Identity, check: &Check, namespace: &str) -> bool {
        self.grants.iter().any(|grant| {
            let targeted = match &grant.target {
                Target::Identity(user) => *user == identity.user,
                Target::Group(group) => identity.groups.contains(group),
            };
            let in_scope = match &grant.namespace {
                None => true,
                Some(n) => n == namespace,
            };
            targeted && in_scope && permits(&grant.permissions, check, namespace.is_empty())
        })
    }
}

fn is_read(verb: &str) -> bool {
    matches!(verb, "get" | "list" | "watch")
}

/// What a role lets one do, from the Kubernetes documentation of the default roles and DESIGN.md's built-ins.
fn permits(permissions: &Permissions, check: &Check, cluster_scoped: bool) -> bool {
    let Check {
        verb,
        group,
        resource,
    } = *check;
    match permissions {
        Permissions::Builtin(name) if name == "cluster-admin" => true,
        // The other roles hold only namespaced resources.
        _ if cluster_scoped => false,
        Permissions::Builtin(name) => match name.as_str() {
            "admin" => true,
            "edit" => resource != "rolebindings",
            "view" => {
                is_read(verb) && resource != "secrets" && !resource.starts_with("pods/")
                    || resource == "pods/log" && is_read(verb)
            }
            "logs" => is_read(verb) && (resource == "pods" || resource == "pods/log"),
            "exec" => {
                (is_read(verb) && resource == "pods")
                    || (resource == "pods/exec" && matches!(verb, "create" | "get"))
            }
            "port-forward" => {
                (is_read(verb) && resource == "pods")
                    || (resource == "pods/portforward" && matches!(verb, "create" | "get"))
            }
            other => panic!("the fixture uses a role this test does not know: {other}"),
        },
        Permissions::Rules(rules) => rules.iter().any(|(groups, resources, verbs)| {
            groups.iter().any(|g| g == group || g == "*")
                && resources.iter().any(|r| r == resource || r == "*")
                && verbs.iter().any(|v| v == verb || v == "*")
        }),
        Permissions::Session { port_forwarding } => {
            (is_read(verb) && resource == "pods")
                || (matches!(resource, "pods/exec" | "pods/attach")
                    && matches!(verb, "create" | "get"))
                || (*port_forwarding
                    && resource == "pods/portforward"
                    && matches!(verb, "create" | "get"))
        }
    }
}
