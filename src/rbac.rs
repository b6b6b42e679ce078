//! Kubernetes' RBAC authorizer, evaluated from roles and bindings without asking a cluster: "may this user do
//! this request", answered exactly as kube-apiserver's RBAC authorizer answers it, and by which binding and role.
//! Pure: the roles and bindings come from a compiled repository, a live cluster or a file, read elsewhere.
//!
//! The semantics are copied from Kubernetes v1.34, not reinvented:
//! - `plugin/pkg/auth/authorizer/rbac/rbac.go` (`RuleAllows`) and `pkg/apis/rbac/v1/evaluation_helpers.go`
//!   (`VerbMatches`, `APIGroupMatches`, `ResourceMatches`, `ResourceNameMatches`, `NonResourceURLMatches`);
//! - `pkg/registry/rbac/validation/rule.go` (`VisitRulesFor`, `appliesToUser`, `GetRoleReferenceRules`): every
//!   ClusterRoleBinding applies to every request, a RoleBinding only to resource requests in its own namespace
//!   (so non-resource URLs are reachable only through ClusterRoleBindings), a RoleBinding to a ClusterRole grants
//!   that role's rules in the binding's namespace only;
//! - `pkg/controller/clusterroleaggregation`: a ClusterRole with an `aggregationRule` holds the rules of every
//!   other ClusterRole its selectors match (name order, duplicates dropped), until nothing changes.
//!
//! The RBAC authorizer only: the API server's other authorizers (the `system:masters` group, the Node authorizer,
//! webhooks) are not modelled, so a question about them is out of scope rather than answered wrongly.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Kubernetes' default ClusterRoles, as [`kubernetes_cluster_roles_json`] writes them from a v1.34 API server's
/// bootstrap policy; `tests/authorizer.rs` checks it against the control plane the tests run (and rewrites it with
/// `TOLLGATE_UPDATE_CLUSTER_ROLES=1`).
const KUBERNETES_CLUSTER_ROLES: &str = include_str!("kubernetes-cluster-roles.json");

/// The label the API server puts on the ClusterRoles of its bootstrap policy.
pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");

/// Kubernetes' default ClusterRoles (`admin`, `edit`, `view`, `cluster-admin`, the `system:` ones and the roles
/// they aggregate), as every v1.34 cluster holds them unless someone edited them: what a binding to one grants when
/// no cluster was read. The aggregated roles hold no rules here; [`Policy::new`] aggregates them.
pub fn kubernetes_cluster_roles() -> Vec<ClusterRole> {
    serde_json::from_str(KUBERNETES_CLUSTER_ROLES)
        .expect("written by kubernetes_cluster_roles_json and read back by tests/authorizer.rs")
}

/// `listed`, a cluster's ClusterRoles, kept as [`kubernetes_cluster_roles`] holds them: those of the bootstrap
/// policy ([`BOOTSTRAP_LABEL`]), by name, with only their name, their aggregation labels, their aggregation rule and
/// their rules (none for an aggregated role, whose rules kube-controller-manager writes), as pretty JSON.
pub fn kubernetes_cluster_roles_json(listed: Vec<ClusterRole>) -> String {
    let mut kept: Vec<ClusterRole> = listed
        .into_iter()
        .filter(|r| {
            r.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(BOOTSTRAP_LABEL.0))
                .is_some_and(|v| v == BOOTSTRAP_LABEL.1)
        })
        .map(|r| {
            let labels: BTreeMap<String, String> = r
                .metadata
                .labels
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| k.starts_with("rbac.authorization.k8s.io/aggregate-to-"))
                .collect();
            ClusterRole {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: r.metadata.name,
                    labels: (!labels.is_empty()).then_some(labels),
                    ..Default::default()
                },
                rules: if r.aggregation_rule.is_some() {
                    None
                } else {
                    r.rules
                },
                aggregation_rule: r.aggregation_rule,
            }
        })
        .collect();
    kept.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut text = serde_json::to_string_pretty(&kept).expect("ClusterRoles serialize");
    text.push('\n');
    text
}

/// `*`: every verb, API group, resource or non-resource URL (`rbacv1.VerbAll`, `APIGroupAll`, `ResourceAll`,
/// `NonResourceAll`).
const ALL: &str = "*";

/// Who asks: a user's name and groups, as an authenticator sets them (`user.Info`). Nothing is implied: a
/// ServiceAccount's groups (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`, `system:authenticated`)
/// must be listed, as a SubjectAccessReview must list them; [`UserInfo::service_account`] does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct UserInfo {
    /// The username, e.g. `oidc:alice@example.com` or `system:serviceaccount:tollgate-clients:ci`.
    pub name: String,
    /// The user's groups.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A ServiceAccount as the API server authenticates its tokens: username
    /// `system:serviceaccount:<namespace>:<name>` and the groups `system:serviceaccounts`,
    /// `system:serviceaccounts:<namespace>` and `system:authenticated` (`serviceaccount.UserInfo`).
    pub fn service_account(namespace: &str, name: &str) -> UserInfo {
        UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_owned(),
            ],
        }
    }
}

/// What is asked: a request to the API, as the API server's request info describes it (`authorizer.Attributes`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Request {
    /// A request on a resource, e.g. `get pods/log` named `web-0` in `payments`.
    Resource {
        /// The verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or a
        /// special one (`use`, `bind`, `escalate`, `impersonate`, ...).
        verb: String,
        /// The API group; `""` for the core group.
        api_group: String,
        /// The resource, plural and lower case: `pods`.
        resource: String,
        /// The subresource, or `""`: `log`, `status`, `exec`.
        subresource: String,
        /// The object's name, or `""` (a create, or a list without a `metadata.name` field selector).
        name: String,
        /// The namespace, or `""` for a cluster-scoped resource or a request across all namespaces.
        namespace: String,
    },
    /// A request on a path outside the resource API, e.g. `get /healthz`.
    NonResource {
        /// The HTTP verb in lower case: `get`, `post`, ...
        verb: String,
        /// The URL path: `/healthz`, `/metrics`.
        path: String,
    },
}

impl Request {
    /// The verb and what it is on, as `kubectl auth can-i` takes them: `create pods/exec`, `list
    /// deployments.apps`, `get secrets db`, `get /metrics`.
    pub fn kubectl_words(&self) -> String {
        match self {
            Request::Resource {
                verb,
                api_group,
                resource,
                subresource,
                name,
                ..
            } => {
                let mut words = format!("{verb} {resource}");
                if !api_group.is_empty() {
                    words.push('.');
                    words.push_str(api_group);
                }
                if !subresource.is_empty() {
                    words.push('/');
                    words.push_str(subresource);
                }
                if !name.is_empty() {
                    words.push(' ');
                    words.push_str(name);
                }
                words
            }
            Request::NonResource { verb, path } => format!("{verb} {path}"),
        }
    }
}

impl std::fmt::Display for Request {
    /// [`Request::kubectl_words`] and where: `create pods/exec in payments`, `list pods cluster-wide`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Resource { namespace, .. } if !namespace.is_empty() => {
                write!(f, "{} in {namespace}", self.kubectl_words())
            }
            Request::Resource { .. } => write!(f, "{} cluster-wide", self.kubectl_words()),
            Request::NonResource { .. } => f.write_str(&self.kubectl_words()),
        }
    }
}

/// Which binding allowed a request, and through which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The binding: a ClusterRoleBinding (`namespace` `None`) or a RoleBinding.
    pub binding: ObjectName,
    /// The role the binding refers to: a ClusterRole (`namespace` `None`) or a Role in the binding's namespace.
    pub role: ObjectName,
}

/// Rules a user holds through one binding.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRules {
    /// Where they hold: a RoleBinding's namespace, or `None` for a ClusterRoleBinding (every namespace, and
    /// non-resource URLs).
    pub namespace: Option<String>,
    /// The binding.
    pub binding: ObjectName,
    /// The role it refers to.
    pub role: ObjectName,
    /// The role's rules (a ClusterRole's aggregated ones).
    pub rules: Vec<PolicyRule>,
}

/// [`HeldRules`] borrowed from a [`Policy`].
#[derive(Debug, Clone)]
pub struct HeldRef<'p> {
    /// Where they hold (see [`HeldRules::namespace`]).
    pub namespace: Option<&'p str>,
    /// The binding.
    pub binding: &'p ObjectName,
    /// The role it refers to.
    pub role: ObjectName,
    /// The role's rules; the same slice for every binding to one role.
    pub rules: &'p [PolicyRule],
}

/// A role or binding by name: cluster-scoped when `namespace` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ObjectName {
    /// The namespace of a Role or RoleBinding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectName {
    /// The binding as people name it: `RoleBinding namespace/name`, or `ClusterRoleBinding name` (control
    /// characters escaped, [`crate::text::shown`]).
    pub fn as_binding(&self) -> String {
        self.with_kind("ClusterRoleBinding", "RoleBinding")
    }

    /// The role as people name it: `Role namespace/name`, or `ClusterRole name`.
    pub fn as_role(&self) -> String {
        self.with_kind("ClusterRole", "Role")
    }

    fn with_kind(&self, cluster_kind: &str, namespaced_kind: &str) -> String {
        let kind = if self.namespace.is_some() {
            namespaced_kind
        } else {
            cluster_kind
        };
        format!("{kind} {}", crate::text::shown(&self.to_string()))
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One binding as the authorizer reads it.
#[derive(Debug, Clone)]
struct Binding {
    name: ObjectName,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// The roles and bindings of a cluster, with aggregated ClusterRoles resolved: what the RBAC authorizer decides
/// with.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    cluster_roles: BTreeMap<String, Vec<PolicyRule>>,
    roles: BTreeMap<(String, String), Vec<PolicyRule>>,
    /// In name order: the first that allows a request is the one reported.
    cluster_role_bindings: Vec<Binding>,
    /// By namespace, each in name order.
    role_bindings: BTreeMap<String, Vec<Binding>>,
    /// For each subject a binding can match, the bindings naming it, in visiting order: ClusterRoleBindings by
    /// index, then RoleBindings by namespace and index. A large organisation has thousands of bindings, each
    /// naming a few subjects; a question about one identity reads only its own.
    by_subject: BTreeMap<Matched, Vec<(Option<String>, usize)>>,
}

/// What a binding subject matches in a [`UserInfo`] (`appliesToUser`): its username (a `User` subject, or a
/// ServiceAccount's `system:serviceaccount:<namespace>:<name>`), or one of its groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Matched {
    Username(String),
    Group(String),
}

impl Matched {
    /// What `subject`, in a binding of `binding_namespace` (`""`: a ClusterRoleBinding), matches; `None` for a
    /// subject that matches nobody (an unknown kind; a ServiceAccount without a namespace in a
    /// ClusterRoleBinding).
    fn of(subject: &Subject, binding_namespace: &str) -> Option<Matched> {
        match subject.kind.as_str() {
            "User" => Some(Matched::Username(subject.name.clone())),
            "Group" => Some(Matched::Group(subject.name.clone())),
            "ServiceAccount" => {
                let namespace = match subject.namespace.as_deref() {
                    Some(namespace) if !namespace.is_empty() => namespace,
                    _ => binding_namespace,
                };
                (!namespace.is_empty()).then(|| {
                    Matched::Username(format!(
                        "system:serviceaccount:{namespace}:{}",
                        subject.name
                    ))
                })
            }
            _ => None,
        }
    }
}

impl Policy {
    /// The policy of these objects. ClusterRoles with an `aggregationRule` get the rules of the ClusterRoles their
    /// selectors match, as kube-controller-manager's aggregation controller writes them (their own `rules` are
    /// replaced); objects without a name are ignored, as the API server would never hold them.
    pub fn new(
        cluster_roles: impl IntoIterator<Item = ClusterRole>,
        roles: impl IntoIterator<Item = Role>,
        cluster_role_bindings: impl IntoIterator<Item = ClusterRoleBinding>,
        role_bindings: impl IntoIterator<Item = RoleBinding>,
    ) -> Policy {
        let cluster_roles: Vec<ClusterRole> = cluster_roles
            .into_iter()
            .filter(|r| r.metadata.name.is_some())
            .collect();
        let mut policy = Policy {
            cluster_roles: aggregate(&cluster_roles),
            ..Policy::default()
        };
        for role in roles {
            if let (Some(namespace), Some(name)) = (role.metadata.namespace, role.metadata.name) {
                policy
                    .roles
                    .insert((namespace, name), role.rules.unwrap_or_default());
            }
        }
        for binding in cluster_role_bindings {
            if let Some(name) = binding.metadata.name {
                policy.cluster_role_bindings.push(Binding {
                    name: ObjectName {
                        namespace: None,
                        name,
                    },
                    role_ref: binding.role_ref,
                    subjects: binding.subjects.unwrap_or_default(),
                });
            }
        }
        policy
            .cluster_role_bindings
            .sort_by(|a, b| a.name.cmp(&b.name));
        for binding in role_bindings {
            if let (Some(namespace), Some(name)) =
                (binding.metadata.namespace, binding.metadata.name)
            {
                policy
                    .role_bindings
                    .entry(namespace.clone())
                    .or_default()
                    .push(Binding {
                        name: ObjectName {
                            namespace: Some(namespace),
                            name,
                        },
                        role_ref: binding.role_ref,
                        subjects: binding.subjects.unwrap_or_default(),
                    });
            }
        }
        for bindings in policy.role_bindings.values_mut() {
            bindings.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut by_subject: BTreeMap<Matched, Vec<(Option<String>, usize)>> = BTreeMap::new();
        let cluster_wide = policy
            .cluster_role_bindings
            .iter()
            .enumerate()
            .map(|(index, b)| (None, index, b));
        let namespaced = policy
            .role_bindings
            .iter()
            .flat_map(|(namespace, bindings)| {
                bindings
                    .iter()
                    .enumerate()
                    .map(move |(index, b)| (Some(namespace), index, b))
            });
        for (namespace, index, binding) in cluster_wide.chain(namespaced) {
            for subject in &binding.subjects {
                if let Some(matched) = Matched::of(subject, namespace.map_or("", String::as_str)) {
                    let entry = by_subject.entry(matched).or_default();
                    let at = (namespace.cloned(), index);
                    // Visiting order already; a subject listed twice in one binding is one entry.
                    if entry.last() != Some(&at) {
                        entry.push(at);
                    }
                }
            }
        }
        policy.by_subject = by_subject;
        policy
    }

    /// Whether `user` may make `request`, and through which binding and role (the first in Kubernetes' visiting
    /// order: ClusterRoleBindings, then the RoleBindings of the request's namespace; each in name order). `None`:
    /// RBAC does not allow it (its authorizer then says "no opinion", which with RBAC alone is a denial).
    pub fn allows(&self, user: &UserInfo, request: &Request) -> Option<Grant> {
        self.allows_when(user, request, |request, rule| {
            rule_matches(request, rule, false)
        })
    }

    /// A ClusterRole's rules, aggregated; `None` when the policy does not hold it.
    pub fn cluster_role_rules(&self, name: &str) -> Option<&[PolicyRule]> {
        self.cluster_roles.get(name).map(Vec::as_slice)
    }

    /// Whether `user` may make `request` on at least one object: as [`Policy::allows`], but a rule that lists
    /// `resourceNames` counts whatever the request's name ("may impersonate some user", "may read a secret").
    pub fn allows_some_name(&self, user: &UserInfo, request: &Request) -> Option<Grant> {
        self.allows_when(user, request, |request, rule| {
            rule_matches(request, rule, true)
        })
    }

    fn allows_when(
        &self,
        user: &UserInfo,
        request: &Request,
        allows: impl Fn(&Request, &PolicyRule) -> bool,
    ) -> Option<Grant> {
        let namespace = match request {
            Request::Resource { namespace, .. } => namespace.as_str(),
            Request::NonResource { .. } => "",
        };
        self.applying(user, Some(namespace))
            .find_map(|(binding, namespace)| {
                let (role, rules) = self.role_reference_rules(&binding.role_ref, namespace)?;
                rules
                    .iter()
                    .any(|rule| allows(request, rule))
                    .then(|| Grant {
                        binding: binding.name.clone(),
                        role,
                    })
            })
    }

    /// Every rule `user` holds, with where it holds it (`namespace` `None`: every namespace, and non-resource URLs)
    /// and through which binding and role: what `VisitRulesFor` visits for a request in each namespace, as
    /// SelfSubjectRulesReview lists it, for every namespace with a RoleBinding that applies. Bindings to a missing
    /// role give nothing.
    pub fn rules_for(&self, user: &UserInfo) -> Vec<HeldRules> {
        self.held_by(user)
            .map(|held| HeldRules {
                namespace: held.namespace.map(str::to_owned),
                binding: held.binding.clone(),
                role: held.role,
                rules: held.rules.to_vec(),
            })
            .collect()
    }

    /// [`Policy::rules_for`], borrowing the rules from the policy: for asking many questions of one identity.
    pub fn held_by<'p>(&'p self, user: &'p UserInfo) -> impl Iterator<Item = HeldRef<'p>> + 'p {
        self.applying(user, None)
            .filter_map(|(binding, namespace)| {
                let (role, rules) = self.role_reference_rules(&binding.role_ref, namespace)?;
                Some(HeldRef {
                    namespace: (!namespace.is_empty()).then_some(namespace),
                    binding: &binding.name,
                    role,
                    rules,
                })
            })
    }

    /// The ClusterRoles that bindings applying to `user` refer to but that the policy does not hold: what they
    /// grant is unknown.
    pub fn unknown_roles_for(&self, user: &UserInfo) -> Vec<String> {
        self.applying(user, None)
            .filter(|(binding, _)| {
                binding.role_ref.kind == "ClusterRole"
                    && !self.cluster_roles.contains_key(&binding.role_ref.name)
            })
            .map(|(binding, _)| binding.role_ref.name.clone())
            .collect()
    }

    /// The bindings whose subjects include `user`, each with the namespace it grants in (`""`: cluster-wide), in
    /// Kubernetes' visiting order: every ClusterRoleBinding, then the RoleBindings of `namespace` (`Some("")`: none,
    /// as for a cluster-scoped or non-resource request) or of every namespace (`None`).
    fn applying<'p>(
        &'p self,
        user: &'p UserInfo,
        namespace: Option<&'p str>,
    ) -> impl Iterator<Item = (&'p Binding, &'p str)> + 'p {
        let matched = std::iter::once(Matched::Username(user.name.clone()))
            .chain(user.groups.iter().cloned().map(Matched::Group));
        // `None` (cluster-wide) sorts before every namespace: the visiting order.
        let mut at: Vec<&(Option<String>, usize)> = matched
            .filter_map(|m| self.by_subject.get(&m))
            .flatten()
            .filter(|(ns, _)| match (ns, namespace) {
                (None, _) | (Some(_), None) => true,
                (Some(ns), Some(wanted)) => ns == wanted,
            })
            .collect();
        at.sort();
        at.dedup();
        at.into_iter().filter_map(move |(ns, index)| match ns {
            None => Some((self.cluster_role_bindings.get(*index)?, "")),
            Some(ns) => {
                let (ns, bindings) = self.role_bindings.get_key_value(ns)?;
                Some((bindings.get(*index)?, ns.as_str()))
            }
        })
    }

    /// The role a binding refers to and its rules (`GetRoleReferenceRules`): a `Role` in the binding's
    /// namespace, or a `ClusterRole`; `None` when it does not exist (the binding then grants nothing).
    fn role_reference_rules(
        &self,
        role_ref: &RoleRef,
        namespace: &str,
    ) -> Option<(ObjectName, &[PolicyRule])> {
        match role_ref.kind.as_str() {
            "Role" => {
                let rules = self
                    .roles
                    .get(&(namespace.to_owned(), role_ref.name.clone()))?;
                Some((
                    ObjectName {
                        namespace: Some(namespace.to_owned()),
                        name: role_ref.name.clone(),
                    },
                    rules,
                ))
            }
            "ClusterRole" => {
                let rules = self.cluster_roles.get(&role_ref.name)?;
                Some((
                    ObjectName {
                        namespace: None,
                        name: role_ref.name.clone(),
                    },
                    rules,
                ))
            }
            _ => None,
        }
    }
}

/// Whether one rule allows the request (`RuleAllows`).
pub fn rule_allows(request: &Request, rule: &PolicyRule) -> bool {
    rule_matches(request, rule, false)
}

/// Whether one rule allows the request for at least one object: `RuleAllows`, whatever names the rule lists.
pub fn rule_allows_some_name(request: &Request, rule: &PolicyRule) -> bool {
    rule_matches(request, rule, true)
}

/// [`rule_allows`], or with `any_name`, whatever names the rule lists.
fn rule_matches(request: &Request, rule: &PolicyRule, any_name: bool) -> bool {
    match request {
        Request::Resource {
            verb,
            api_group,
            resource,
            subresource,
            name,
            ..
        } => {
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            verb_matches(rule, verb)
                && api_group_matches(rule, api_group)
                && resource_matches(rule, &combined, subresource)
                && (any_name || resource_name_matches(rule, name))
        }
        Request::NonResource { verb, path } => {
            verb_matches(rule, verb) && non_resource_url_matches(rule, path)
        }
    }
}

/// `VerbMatches`: the rule lists the verb, or `*`.
fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// `APIGroupMatches`: the rule lists the group (`""` for core), or `*`.
fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups
        .iter()
        .flatten()
        .any(|g| g == ALL || g == group)
}

/// `ResourceMatches`: `*`; the exact `resource` or `resource/subresource`; or `*/subresource` for a request on that
/// subresource. `pods/*` is not a pattern, and `pods` does not cover `pods/log`.
fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

/// `ResourceNameMatches`: no names listed means any name (also none); otherwise the request's name must be listed,
/// so a rule with names never allows a request without one (a create, a list without a name).
fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    match &rule.resource_names {
        None => true,
        Some(names) if names.is_empty() => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

/// `NonResourceURLMatches`: `*`, the exact path, or a pattern ending in `*` whose prefix (every trailing `*`
/// trimmed) starts the path.
fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().flatten().any(|url| {
        url == ALL
            || url == path
            || (url.ends_with('*') && path.starts_with(url.trim_end_matches('*')))
    })
}

/// Every ClusterRole's rules, with aggregation resolved as the aggregation controller does, repeated until no
/// aggregated role changes (an aggregated role may select another); at most one round per role, as each round
/// settles at least one more level.
fn aggregate(cluster_roles: &[ClusterRole]) -> BTreeMap<String, Vec<PolicyRule>> {
    let mut rules: BTreeMap<String, Vec<PolicyRule>> = cluster_roles
        .iter()
        .filter_map(|r| {
            Some((
                r.metadata.name.clone()?,
                r.rules.clone().unwrap_or_default(),
            ))
        })
        .collect();
    let mut by_name: Vec<&ClusterRole> = cluster_roles.iter().collect();
    by_name.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for _ in 0..=cluster_roles.len() {
        let mut changed = false;
        for role in &by_name {
            let (Some(name), Some(aggregation)) = (&role.metadata.name, &role.aggregation_rule)
            else {
                continue;
            };
            let stored = role.rules.as_deref().unwrap_or_default();
            let aggregated = aggregated_rules(name, aggregation, &by_name, &rules, stored);
            if rules.get(name) != Some(&aggregated) {
                rules.insert(name.clone(), aggregated);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rules
}

/// The rules of the ClusterRoles an aggregation rule's selectors match, in selector then name order, each rule
/// once (`ruleExists` is deep equality); the aggregating role itself is skipped. The rules the role holds already
/// (`stored`: what the aggregation controller last wrote into a role read from a cluster) are kept first: the roles
/// given may be only some of the cluster's (`kubectl get clusterrole admin edit view`), and an answer must not
/// lose what those roles grant because the roles they aggregate were left out.
fn aggregated_rules(
    name: &str,
    aggregation: &AggregationRule,
    by_name: &[&ClusterRole],
    current: &BTreeMap<String, Vec<PolicyRule>>,
    stored: &[PolicyRule],
) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for rule in stored {
        if !out.contains(rule) {
            out.push(rule.clone());
        }
    }
    for selector in aggregation.cluster_role_selectors.iter().flatten() {
        for role in by_name {
            let Some(other) = &role.metadata.name else {
                continue;
            };
            if other == name || !selector_matches(selector, role.metadata.labels.as_ref()) {
                continue;
            }
            for rule in current.get(other).into_iter().flatten() {
                if !out.contains(rule) {
                    out.push(rule.clone());
                }
            }
        }
    }
    out
}

/// Whether a label selector matches labels (`metav1.LabelSelectorAsSelector`): every `matchLabels` pair and every
/// `matchExpressions` requirement (`In`, `NotIn`, `Exists`, `DoesNotExist`); an empty selector matches everything.
/// An unknown operator matches nothing (the API server would have refused the selector).
pub fn selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let pairs = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let expressions = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    pairs && expressions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| (*s).to_owned()).collect()),
            resources: Some(resources.iter().map(|s| (*s).to_owned()).collect()),
            verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
            ..PolicyRule::default()
        }
    }

    fn get(resource: &str, subresource: &str) -> Request {
        Request::Resource {
            verb: "get".to_owned(),
            api_group: String::new(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: String::new(),
            namespace: "ns".to_owned(),
        }
    }

    #[test]
    fn resources_match_as_kubernetes_matches_them() {
        let cases = [
            (&["*"][..], "pods", "log", true),
            (&["pods"][..], "pods", "log", false),
            (&["pods/*"][..], "pods", "log", false),
            (&["pods/log"][..], "pods", "log", true),
            (&["*/log"][..], "pods", "log", true),
            (&["*/status"][..], "deployments", "status", true),
            (&["*/status"][..], "deployments", "", false),
            (&["*/log"][..], "pods", "xlog", false),
        ];
        for (resources, resource, subresource, allowed) in cases {
            let r = rule(&[""], resources, &["get"]);
            assert_eq!(
                rule_allows(&get(resource, subresource), &r),
                allowed,
                "{resources:?} on {resource}/{subresource}"
            );
        }
    }

    #[test]
    fn names_non_resource_urls_and_service_accounts() {
        let mut named = rule(&[""], &["configmaps"], &["get", "create"]);
        named.resource_names = Some(vec!["a".to_owned()]);
        let mut request = get("configmaps", "");
        assert!(!rule_allows(&request, &named), "no name, listed names");
        if let Request::Resource { name, .. } = &mut request {
            *name = "a".to_owned();
        }
        assert!(rule_allows(&request, &named));
        let urls = PolicyRule {
            non_resource_urls: Some(vec!["/logs/*".to_owned(), "/healthz".to_owned()]),
            verbs: vec!["get".to_owned()],
            ..PolicyRule::default()
        };
        let path = |p: &str| Request::NonResource {
            verb: "get".to_owned(),
            path: p.to_owned(),
        };
        assert!(rule_allows(&path("/logs/x"), &urls));
        assert!(rule_allows(&path("/logs/"), &urls));
        assert!(!rule_allows(&path("/logs"), &urls));
        assert!(!rule_allows(&path("/healthz/ping"), &urls));
        let sa = UserInfo::service_account("ns", "robot");
        let subject = Subject {
            kind: "ServiceAccount".to_owned(),
            name: "robot".to_owned(),
            ..Subject::default()
        };
        let username = Some(Matched::Username(sa.name.clone()));
        assert_eq!(Matched::of(&subject, "ns"), username);
        assert_eq!(Matched::of(&subject, ""), None, "in a ClusterRoleBinding");
        assert_ne!(Matched::of(&subject, "other"), username);
    }

    #[test]
    fn aggregation_follows_selectors_to_a_fixed_point() {
        let labelled = |name: &str, label: Option<&str>, rules: Vec<PolicyRule>| ClusterRole {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_owned()),
                labels: label.map(|l| [(l.to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            rules: Some(rules),
            ..ClusterRole::default()
        };
        let aggregating = |name: &str, label: Option<&str>, selects: &str| ClusterRole {
            aggregation_rule: Some(AggregationRule {
                cluster_role_selectors: Some(vec![LabelSelector {
                    match_labels: Some([(selects.to_owned(), "true".to_owned())].into()),
                    ..LabelSelector::default()
                }]),
            }),
            rules: Some(vec![rule(&[""], &["secrets"], &["get"])]),
            ..labelled(name, label, Vec::new())
        };
        let roles = vec![
            aggregating("top", None, "to-top"),
            aggregating("middle", Some("to-top"), "to-middle"),
            labelled(
                "leaf",
                Some("to-middle"),
                vec![rule(&[""], &["pods"], &["list"])],
            ),
        ];
        let rules = aggregate(&roles);
        // `middle` holds `leaf`'s rules besides those it held, and `top` gets them through `middle`.
        let secrets = rule(&[""], &["secrets"], &["get"]);
        let pods = rule(&[""], &["pods"], &["list"]);
        assert_eq!(rules["middle"], [secrets.clone(), pods.clone()]);
        assert_eq!(rules["top"], [secrets, pods]);
    }
}
