//! A synthetic organisation of any size, as repository files, for benchmarks. Valid by construction: every user
//! has their own real age key, every group and role is used.

use std::fmt::Write as _;

/// How big an organisation to generate.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Users, each with its own age recipient.
    pub users: usize,
    /// Groups of five users; every tenth group nests the next one.
    pub groups: usize,
    /// Grants, ten to a UserAccess document, each of one role in one namespace.
    pub grants: usize,
    /// Clients of cluster `bench`, owned in turn by every tenth user (`u00000`, `u00010`, ...).
    pub clients: usize,
    /// Namespaces the grants are spread across (`ns000`, `ns001`, ...).
    pub namespaces: usize,
}

impl Size {
    /// The size the foundation's performance targets are stated for.
    pub const TARGET: Size = Size {
        users: 10_000,
        groups: 2_000,
        grants: 50_000,
        clients: 1_000,
        namespaces: 100,
    };
}

const HEADER: &str = "apiVersion: tollgate.dev/v1alpha1\n";
const GRANTS_PER_DOCUMENT: usize = 10;
const DOCUMENTS_PER_FILE: usize = 100;
const ROLES: [&str; 6] = ["view", "edit", "logs", "exec", "deployer", "auditor"];

/// The repository's files as (path, bytes), ready for [`crate::config::load`]. The cluster is `bench`.
pub fn organisation(size: Size) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let settings = format!(
        "{HEADER}kind: Settings\nmetadata:\n  name: bench\nspec:\n  clusters:\n    - name: bench\n      apiServer: https://bench.example.com:6443\n      clientPool:\n        cidr: 10.64.0.0/10\n        perClientPrefix: 30\n"
    );
    files.push(("settings.yaml".to_owned(), settings.into_bytes()));

    let mut batch = String::new();
    for user in 0..size.users {
        // The age crate's own key generation: real, distinct recipients, as validation requires.
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let _ = write!(
            batch,
            "---\n{HEADER}kind: User\nmetadata:\n  name: u{user:05}\nspec:\n  email: u{user:05}@example.com\n  recipients:\n    - {recipient}\n"
        );
        flush(&mut files, &mut batch, "users", user, size.users);
    }
    for group in 0..size.groups {
        let members: Vec<String> = (0..5)
            .map(|k| format!("u{:05}", (group * 5 + k) % size.users))
            .collect();
        let nested = if group % 10 == 0 && group + 1 < size.groups {
            format!("  groups: [g{:04}]\n", group + 1)
        } else {
            String::new()
        };
        let _ = write!(
            batch,
            "---\n{HEADER}kind: Group\nmetadata:\n  name: g{group:04}\nspec:\n  members: [{}]\n{nested}",
            members.join(", ")
        );
        flush(&mut files, &mut batch, "groups", group, size.groups);
    }
    for role in ["deployer", "auditor"] {
        let _ = write!(
            batch,
            "---\n{HEADER}kind: Role\nmetadata:\n  name: {role}\nspec:\n  rules:\n    - apiGroups: [apps]\n      resources: [deployments]\n      verbs: [get, list, watch, patch]\n"
        );
    }
    files.push((
        "roles.yaml".to_owned(),
        std::mem::take(&mut batch).into_bytes(),
    ));
    for client in 0..size.clients {
        let owner = (client * 10) % size.users;
        let _ = write!(
            batch,
            "---\n{HEADER}kind: Client\nmetadata:\n  name: c{client:04}\nspec:\n  owners: [u{owner:05}]\n  clusters: [bench]\n"
        );
        flush(&mut files, &mut batch, "clients", client, size.clients);
    }
    let documents = size.grants.div_ceil(GRANTS_PER_DOCUMENT);
    for document in 0..documents {
        let _ = write!(
            batch,
            "---\n{HEADER}kind: UserAccess\nmetadata:\n  name: a{document:05}\nspec:\n  subjects:\n    users: [u{:05}]\n    groups: [g{:04}]\n  grants:\n",
            (document * 7) % size.users,
            document % size.groups
        );
        for grant in 0..GRANTS_PER_DOCUMENT.min(size.grants - document * GRANTS_PER_DOCUMENT) {
            let role = ROLES[(document + grant) % ROLES.len()];
            let namespace = (document * 3 + grant) % size.namespaces;
            let _ = write!(
                batch,
                "    - role: {role}\n      cluster: bench\n      namespaces: [ns{namespace:03}]\n"
            );
        }
        flush(&mut files, &mut batch, "access", document, documents);
    }
    files
}

fn flush(
    files: &mut Vec<(String, Vec<u8>)>,
    batch: &mut String,
    folder: &str,
    index: usize,
    total: usize,
) {
    if (index + 1).is_multiple_of(DOCUMENTS_PER_FILE) || index + 1 == total {
        let name = format!("{folder}/{:04}.yaml", index / DOCUMENTS_PER_FILE);
        files.push((name, std::mem::take(batch).into_bytes()));
    }
}
