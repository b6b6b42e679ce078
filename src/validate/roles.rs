//! Validation of custom `Role` documents: policy rules, or a reference to an existing ClusterRole.

use std::collections::BTreeMap;

use super::model::*;
use super::{Documents, Validator, field, key, values};

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
