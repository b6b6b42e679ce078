//! Validation of `UserAccess` documents: subjects, and grants of a role (in a cluster or some of its namespaces)
//! or of an environment.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::Kind;
use crate::config::documents::GrantSpec;
use crate::config::source::DocRef;
use crate::diagnostics::did_you_mean;

use super::model::*;
use super::{Documents, Validator, field, key, values};

impl<'a> Validator<'a> {
    pub(super) fn grants(
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
                        let mut namespaces = namespaces.clone();
                        namespaces.sort_unstable();
                        namespaces.dedup();
                        namespaces
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

    pub(super) fn grant_target(
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
                    || self.names_unknowable()
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
}
