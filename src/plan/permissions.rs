//! What a plan's role and binding changes mean: per subject and scope, the requests it may make after the plan and
//! could not before, and the ones it loses ("client bob-laptop in payments: + create pods/exec"), decided by the
//! RBAC evaluator on both sides, so that a reviewer reads verbs on resources and not only role names.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Serialize;

use super::access::SubjectName;
use crate::rbac::{Policy, Request, UserInfo};

/// How one subject's permissions change in one scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionChange {
    /// Who.
    pub subject: SubjectName,
    /// Set for a client acting as its owner: the owner's username, whose permissions these are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting_as: Option<String>,
    /// Where: a namespace, or `None` for the whole cluster (and non-resource URLs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// What it may do now and could not, as `kubectl auth can-i` words grouped by verbs: `get, list, watch pods,
    /// services`; `*` where the rule says `*` (every verb, resource or group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gained: Vec<String>,
    /// What it could do and may no longer, in the same words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}

/// One identity of a subject to compare: as itself on both sides, or (a client acting as its owner) as the owner
/// it may act as after the plan and before it.
pub(super) struct Compared {
    /// Who.
    pub subject: SubjectName,
    /// The owner's username for a client acting as them.
    pub acting_as: Option<String>,
    /// The identity after the plan; `None`: it has none (its binding goes).
    pub after: Option<UserInfo>,
    /// The identity before the plan; `None`: it had none.
    pub before: Option<UserInfo>,
    /// For a client acting as its owner, the client's own identity: what it could do as itself before is not
    /// gained by acting as its owner.
    pub own: Option<UserInfo>,
}

/// The permission changes of `compared` going from `before` (tollgate's live roles and bindings) to `after` (the
/// plan's): a request counts as gained when a rule after the plan allows it and no rule before it does (so a verb
/// added to a role the subject holds through `*` is not news), with `*` asked literally (only a `*` allows `*`);
/// lost the other way round. Sorted by subject, identity, then scope (cluster-wide first).
pub(super) fn permission_changes(
    after: &Policy,
    before: &Policy,
    compared: &[Compared],
) -> Vec<PermissionChange> {
    let mut out = Vec::new();
    // Many subjects hold the same roles and had none before (every client of a team on a first plan): their lines
    // are worked out once per set of roles.
    let mut cache = Cache::default();
    for identity in compared {
        let before_sides: Vec<&UserInfo> = identity.before.iter().chain(&identity.own).collect();
        let after_sides: Vec<&UserInfo> = identity.after.iter().collect();
        let gained = new_lines(
            after,
            identity.after.as_ref(),
            before,
            &before_sides,
            &mut cache,
        );
        let lost = new_lines(
            before,
            identity.before.as_ref(),
            after,
            &after_sides,
            &mut cache,
        );
        let scopes: BTreeSet<&Option<String>> = gained.keys().chain(lost.keys()).collect();
        for scope in scopes {
            let change = PermissionChange {
                subject: identity.subject.clone(),
                acting_as: identity.acting_as.clone(),
                namespace: scope.clone(),
                gained: gained.get(scope).cloned().unwrap_or_default(),
                lost: lost.get(scope).cloned().unwrap_or_default(),
            };
            if !change.gained.is_empty() || !change.lost.is_empty() {
                out.push(change);
            }
        }
    }
    out.sort();
    out
}

/// Lines by what decides them: the rules the identity holds on its side (each role's rules are one slice of the
/// policy, named by its address; cluster-wide ones, then the scope's) and the rules the other side's identity holds
/// (by scope): many subjects hold the same roles (every client of a team), and their lines are worked out once.
type Cache = BTreeMap<(Vec<(usize, usize)>, Vec<(usize, usize)>, Held), Vec<String>>;

/// What an identity holds on one side: (scope, rule slice address), sorted.
type Held = Vec<(Option<String>, (usize, usize))>;

/// The address of a role's rules: the same slice for every binding to that role.
fn address(rules: &[PolicyRule]) -> (usize, usize) {
    (rules.as_ptr() as usize, rules.len())
}

/// Per scope, the lines of the requests `user` may make under `policy` that none of `other_users` may under
/// `other`.
fn new_lines(
    policy: &Policy,
    user: Option<&UserInfo>,
    other: &Policy,
    other_users: &[&UserInfo],
    cache: &mut Cache,
) -> BTreeMap<Option<String>, Vec<String>> {
    let Some(user) = user else {
        return BTreeMap::new();
    };
    let mut slices: BTreeMap<Option<&str>, Vec<&[PolicyRule]>> = BTreeMap::new();
    for held in policy.held_by(user) {
        slices.entry(held.namespace).or_default().push(held.rules);
    }
    let mut other_held: Held = other_users
        .iter()
        .flat_map(|u| {
            other
                .held_by(u)
                .map(|h| (h.namespace.map(str::to_owned), address(h.rules)))
        })
        .collect();
    other_held.sort_unstable();
    other_held.dedup();
    let addresses = |rules: &[&[PolicyRule]]| -> Vec<(usize, usize)> {
        let mut keys: Vec<(usize, usize)> = rules.iter().map(|r| address(r)).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    };
    let new = |request: &Request| {
        other_users
            .iter()
            .all(|u| other.allows(u, request).is_none())
    };
    let cluster_wide: Vec<&[PolicyRule]> = slices.get(&None).cloned().unwrap_or_default();
    let mut out = BTreeMap::new();
    for (scope, rules) in &slices {
        // A namespace's requests depend on the namespace only through the other side's bindings there.
        let other_here: Held = other_held
            .iter()
            .filter(|(s, _)| s.is_none() || s.as_deref() == *scope)
            .map(|(s, a)| (s.as_ref().map(|_| String::new()), *a))
            .collect();
        let key = (addresses(&cluster_wide), addresses(rules), other_here);
        let lines = if let Some(lines) = cache.get(&key) {
            lines.clone()
        } else {
            let mut gained: BTreeSet<Request> = rules
                .iter()
                .flat_map(|rules| rules.iter())
                .flat_map(|rule| requests(rule, *scope))
                .filter(|r| new(r))
                .collect();
            // A request held cluster-wide is not news in a namespace too.
            if scope.is_some() && !cluster_wide.is_empty() {
                let words: BTreeSet<String> = cluster_wide
                    .iter()
                    .flat_map(|rules| rules.iter())
                    .flat_map(|rule| requests(rule, None))
                    .filter(|r| new(r))
                    .map(|r| r.kubectl_words())
                    .collect();
                gained.retain(|r| !words.contains(&r.kubectl_words()));
            }
            let lines = grouped(&gained);
            cache.insert(key, lines.clone());
            lines
        };
        if !lines.is_empty() {
            out.insert(scope.map(str::to_owned), lines);
        }
    }
    out
}

/// Every request `rule` allows, one verb, group, resource and name at a time, as asked in `namespace` (`None`:
/// across the cluster, where non-resource URLs count too); wildcards as written.
fn requests(rule: &PolicyRule, namespace: Option<&str>) -> Vec<Request> {
    let mut out = Vec::new();
    if let Some(urls) = &rule.non_resource_urls
        && namespace.is_none()
    {
        for verb in &rule.verbs {
            for path in urls {
                out.push(Request::NonResource {
                    verb: verb.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    let names: Vec<&str> = match &rule.resource_names {
        Some(names) if !names.is_empty() => names.iter().map(String::as_str).collect(),
        _ => vec![""],
    };
    for verb in &rule.verbs {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
                for name in &names {
                    out.push(Request::Resource {
                        verb: verb.clone(),
                        api_group: group.clone(),
                        resource: resource.to_owned(),
                        subresource: subresource.to_owned(),
                        name: (*name).to_owned(),
                        namespace: namespace.unwrap_or_default().to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// Requests as lines: the resources (and paths) that share the same verbs on one line, `get, list, watch pods,
/// services`; named objects as `secrets ci-token`.
fn grouped(requests: &BTreeSet<Request>) -> Vec<String> {
    let mut verbs_of: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for request in requests {
        let (verb, what) = match request {
            Request::Resource { verb, .. } | Request::NonResource { verb, .. } => {
                let words = request.kubectl_words();
                let what = words
                    .strip_prefix(verb.as_str())
                    .unwrap_or(&words)
                    .trim_start()
                    .to_owned();
                (verb.as_str(), what)
            }
        };
        verbs_of.entry(what).or_default().insert(verb);
    }
    let mut by_verbs: BTreeMap<Vec<&str>, Vec<String>> = BTreeMap::new();
    for (what, verbs) in verbs_of {
        by_verbs
            .entry(verbs.into_iter().collect())
            .or_default()
            .push(what);
    }
    by_verbs
        .into_iter()
        .map(|(verbs, what)| format!("{} {}", verbs.join(", "), what.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
            api_groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
            resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn requests_share_a_line_when_they_share_their_verbs() {
        let mut requests = BTreeSet::new();
        for rule in [
            rule(&["get", "list"], &[""], &["pods", "services"]),
            rule(&["create"], &[""], &["pods/exec"]),
            rule(&["get", "list"], &["apps"], &["deployments"]),
        ] {
            requests.extend(super::requests(&rule, Some("payments")));
        }
        assert_eq!(
            grouped(&requests),
            [
                "create pods/exec",
                "get, list deployments.apps, pods, services"
            ]
        );
    }
}
