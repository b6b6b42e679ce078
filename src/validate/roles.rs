//! Validation of custom `Role` documents: policy rules, or a reference to an existing ClusterRole.

use std::collections::BTreeMap;

use crate::config::documents::PolicyRuleSpec;
use crate::config::source::DocRef;
use crate::diagnostics::did_you_mean;

use super::model::*;
use super::values::VERBS;
use super::{Documents, Validator, field, key, values};

/// Verbs that RBAC matches with an empty name: a rule's `resourceNames` never let them through
/// (`create` has no name yet; `deletecollection` and unselected `list`/`watch` name none).
const NAMELESS_VERBS: [&str; 2] = ["create", "deletecollection"];

/// Singular or capitalised spellings of common resources, with the plural RBAC matches.
const PLURALS: [(&str, &str); 24] = [
    ("pod", "pods"),
    ("service", "services"),
    ("deployment", "deployments"),
    ("configmap", "configmaps"),
    ("secret", "secrets"),
    ("namespace", "namespaces"),
    ("node", "nodes"),
    ("ingress", "ingresses"),
    ("job", "jobs"),
    ("cronjob", "cronjobs"),
    ("statefulset", "statefulsets"),
    ("daemonset", "daemonsets"),
    ("replicaset", "replicasets"),
    ("persistentvolumeclaim", "persistentvolumeclaims"),
    ("persistentvolume", "persistentvolumes"),
    ("serviceaccount", "serviceaccounts"),
    ("role", "roles"),
    ("rolebinding", "rolebindings"),
    ("clusterrole", "clusterroles"),
    ("clusterrolebinding", "clusterrolebindings"),
    ("event", "events"),
    ("endpoint", "endpoints"),
    ("networkpolicy", "networkpolicies"),
    ("horizontalpodautoscaler", "horizontalpodautoscalers"),
];

impl<'a> Validator<'a> {
    pub(super) fn roles(&mut self, docs: &Documents<'a>) -> BTreeMap<String, Role> {
        let mut roles = BTreeMap::new();
        for (&name, &(doc, spec)) in &docs.roles {
            if BuiltinRole::parse(name).is_some() {
                self.error(
                    "shadows-builtin-role",
                    field(doc, "metadata.name"),
                    format!("`{name}` is a built-in role; a custom role needs another name"),
                );
                continue;
            }
            let definition = match (&spec.rules, &spec.cluster_role) {
                (Some(rules), None) => {
                    if rules.is_empty() {
                        self.error(
                            "invalid-rule",
                            key(doc, "spec.rules"),
                            "a role needs at least one rule",
                        );
                    }
                    for (i, rule) in rules.iter().enumerate() {
                        let path = format!("spec.rules[{i}]");
                        if rule.verbs.is_empty() || rule.verbs.iter().any(String::is_empty) {
                            self.error(
                                "invalid-rule",
                                key(doc, format!("{path}.verbs")),
                                "a rule needs at least one verb (e.g. `get`, `list`, `watch`)",
                            );
                        }
                        if rule.resources.is_empty() && rule.non_resource_urls.is_empty() {
                            self.error(
                                "invalid-rule",
                                key(doc, path.clone()),
                                "a rule needs `resources` or `nonResourceURLs`",
                            );
                        }
                        if !rule.resources.is_empty() && rule.api_groups.is_empty() {
                            self.error(
                                "invalid-rule",
                                key(doc, format!("{path}.resources")),
                                "a rule with `resources` needs `apiGroups` (`\"\"` is the core group)",
                            );
                        }
                        if !rule.resources.is_empty() && !rule.non_resource_urls.is_empty() {
                            self.error(
                                "invalid-rule",
                                key(doc, format!("{path}.nonResourceURLs")),
                                "a rule has either `resources` or `nonResourceURLs`, not both",
                            );
                        }
                        self.rule_strings(doc, &path, rule);
                        let names = format!("{path}.resourceNames");
                        if rule.resource_names.is_empty() && self.written(doc, &names) {
                            self.error(
                                "no-resource-names",
                                key(doc, names),
                                "an empty `resourceNames` means every object, the same as leaving it out",
                            )
                            .hint = Some("name the objects, or remove `resourceNames` to mean every object".to_owned());
                        }
                    }
                    RoleDefinition::Rules(
                        rules
                            .iter()
                            .map(|rule| PolicyRule {
                                api_groups: rule.api_groups.clone(),
                                resources: rule.resources.clone(),
                                resource_names: rule.resource_names.clone(),
                                non_resource_urls: rule.non_resource_urls.clone(),
                                verbs: rule.verbs.clone(),
                            })
                            .collect(),
                    )
                }
                (None, Some(cluster_role)) => {
                    if let Err(message) = values::dns1123_subdomain(&cluster_role.replace(':', "-"))
                    {
                        self.error("invalid-name", field(doc, "spec.clusterRole"), message);
                    }
                    RoleDefinition::ClusterRole(cluster_role.clone())
                }
                (Some(_), Some(_)) | (None, None) => {
                    self.error(
                        "invalid-role",
                        key(doc, "spec"),
                        "a role has either `rules` or `clusterRole`, exactly one of them",
                    );
                    continue;
                }
            };
            roles.insert(
                name.to_owned(),
                Role {
                    name: name.to_owned(),
                    definition,
                    origin: self.origin(doc),
                },
            );
        }
        roles
    }
}

impl Validator<'_> {
    /// RBAC matches API groups, resources and verbs as exact strings: a spelling that can never match a request
    /// (a version in an API group, a capital letter, a singular, a made-up verb) grants nothing, silently. Such
    /// strings are errors; verbs that a rule's other fields make useless are warnings.
    fn rule_strings(&mut self, doc: DocRef, path: &str, rule: &PolicyRuleSpec) {
        for (i, group) in rule.api_groups.iter().enumerate() {
            let at = field(doc, format!("{path}.apiGroups[{i}]"));
            if let Some((name, version)) = group.split_once('/') {
                self.error(
                    "dead-rule",
                    at,
                    format!("`{group}` is a group and a version; RBAC names API groups without their version"),
                )
                .hint = Some(format!("write `{name}` (the version `{version}` is not part of the group)"));
            } else if group
                .chars()
                .any(|c| c.is_ascii_uppercase() || c.is_whitespace())
            {
                self.error(
                    "dead-rule",
                    at,
                    format!("`{group}` is not an API group: groups are lower-case DNS names such as `apps`"),
                );
            }
        }
        for (i, resource) in rule.resources.iter().enumerate() {
            let at = field(doc, format!("{path}.resources[{i}]"));
            let (base, sub) = resource.split_once('/').unwrap_or((resource, ""));
            let lower = resource.to_ascii_lowercase();
            if resource != "*" && resource.chars().any(|c| c.is_ascii_uppercase()) {
                let plural = PLURALS
                    .iter()
                    .find(|(one, many)| lower == *one || lower == *many)
                    .map_or(lower.clone(), |(_, many)| (*many).to_owned());
                self.error(
                    "dead-rule",
                    at,
                    format!("`{resource}` never matches: RBAC resources are lower-case plurals"),
                )
                .hint = Some(format!("write `{plural}`"));
            } else if let Some((_, plural)) = PLURALS.iter().find(|(one, _)| *one == base) {
                let fixed = if sub.is_empty() {
                    (*plural).to_owned()
                } else {
                    format!("{plural}/{sub}")
                };
                self.error(
                    "dead-rule",
                    at,
                    format!("`{resource}` never matches: RBAC resources are plurals"),
                )
                .hint = Some(format!("write `{fixed}`"));
            } else if sub == "*" && base != "*" {
                // Kubernetes' `ResourceMatches`: `*/sub` matches a subresource of any resource; `res/*` is a
                // literal that no request has.
                self.error(
                    "dead-rule",
                    at,
                    format!(
                        "`{resource}` never matches: RBAC has no wildcard for subresources (`*/status` matches any \
                         resource's status, but `{base}/*` is taken literally)"
                    ),
                )
                .hint = Some(format!(
                    "list the subresources, e.g. `{base}/log`, `{base}/exec`"
                ));
            }
        }
        let mut known = Vec::new();
        for (i, verb) in rule.verbs.iter().enumerate() {
            if VERBS.contains(&verb.as_str()) {
                known.push(verb.as_str());
                continue;
            }
            let hint = match verb.to_ascii_lowercase().as_str() {
                "read" | "view" => Some("reading is `get`, `list` and `watch`".to_owned()),
                "write" | "edit" | "modify" => {
                    Some("writing is `create`, `update`, `patch` and `delete`".to_owned())
                }
                "all" => Some("every verb is `*`".to_owned()),
                lower if VERBS.contains(&lower) => Some(format!("verbs are lower-case: `{lower}`")),
                _ => did_you_mean(verb, VERBS.iter().copied()),
            };
            self.error(
                "dead-rule",
                field(doc, format!("{path}.verbs[{i}]")),
                format!("`{verb}` is not a Kubernetes verb; RBAC would never match it"),
            )
            .hint = hint;
        }
        if !rule.resource_names.is_empty() && !known.is_empty() {
            let nameless: Vec<&str> = known
                .iter()
                .copied()
                .filter(|v| NAMELESS_VERBS.contains(v))
                .collect();
            if nameless.len() == known.len() {
                self.error(
                    "dead-rule",
                    key(doc, format!("{path}.resourceNames")),
                    format!(
                        "with `resourceNames` this rule grants nothing: {} name no object, so RBAC never matches \
                         them against names",
                        quoted(&nameless)
                    ),
                )
                .hint = Some("remove `resourceNames`, or give the rule verbs that act on one object (`get`, `update`, `patch`, `delete`)".to_owned());
            } else if !nameless.is_empty() {
                self.warning(
                    "dead-rule",
                    key(doc, format!("{path}.resourceNames")),
                    format!(
                        "{} never match with `resourceNames` (they name no object); the rule's other verbs do",
                        quoted(&nameless)
                    ),
                );
            }
        }
        // kubectl 1.30+ opens exec, attach and port-forward streams over WebSockets, an HTTP GET that RBAC
        // authorizes as `get` on the subresource (KEP-4006); SPDY used `create`.
        let streaming: Vec<&str> = rule
            .resources
            .iter()
            .map(String::as_str)
            .filter(|r| matches!(*r, "pods/exec" | "pods/attach" | "pods/portforward"))
            .collect();
        let has = |verb: &str| known.contains(&verb) || known.contains(&"*");
        if !streaming.is_empty() && has("create") && !has("get") {
            self.warning(
                "websocket-verbs",
                key(doc, format!("{path}.verbs")),
                format!(
                    "{} with only `create`: kubectl 1.30+ connects over WebSockets, which needs `get` as well",
                    quoted(&streaming)
                ),
            );
        }
    }
}

fn quoted(items: &[&str]) -> String {
    let list: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    list.join(", ")
}
