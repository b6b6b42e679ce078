//! Who can make a request in one cluster, by the repository: every person and client whose identity the compiled
//! roles and bindings allow it, with the binding, the role and the repository files behind the binding. The
//! answer comes from [`crate::rbac`], Kubernetes' own RBAC semantics, not from tollgate's reading of its grants.
//! Pure: the compiled state, the model and the roles the repository does not define (Kubernetes' `admin`, `edit`,
//! `view`, ... read from a cluster or a file) are passed in.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;

use crate::compile::IMPERSONATION_ROLE_PREFIX;
use crate::objects::{DesiredState, ObjectKind, SOURCE_ANNOTATION};
use crate::rbac::{ObjectName, Policy, Request, UserInfo};
use crate::validate::model::AccessModel;

/// The group every authenticated user is in (`user.AllAuthenticated`); the API server adds it to every identity,
/// also to an impersonated user.
const AUTHENTICATED: &str = "system:authenticated";

/// Who an answer is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Who {
    /// A person, by `User` document name, logged in as themselves.
    User {
        /// The `User` document's name.
        name: String,
        /// The user is disabled or expired: tollgate binds nothing to their name any more, but a grant to a group
        /// they are in still reaches them as long as the identity provider reports them in it.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        inactive: bool,
    },
    /// A client, by `Client` document name: as its ServiceAccount, or acting as its owner (impersonation).
    Client {
        /// The `Client` document's name.
        name: String,
        /// The owner's RBAC username when the client is allowed only by acting as them.
        #[serde(rename = "actingAs", skip_serializing_if = "Option::is_none")]
        acting_as: Option<String>,
    },
}

/// What the cluster holds besides the repository's objects, as far as it was read: Kubernetes' own roles (`admin`,
/// `edit`, `view`, ...) and, read from a cluster, every binding that is not this instance's (the defaults that give
/// `system:authenticated` discovery, hand-made ones).
#[derive(Debug, Clone, Default)]
pub struct Others {
    /// ClusterRoles; the repository's own win on a name both have.
    pub cluster_roles: Vec<ClusterRole>,
    /// Roles.
    pub roles: Vec<Role>,
    /// ClusterRoleBindings that are not this instance's.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// RoleBindings that are not this instance's.
    pub role_bindings: Vec<RoleBinding>,
    /// This instance's own roles and bindings as the cluster holds them, when read from a cluster (`None`: not
    /// read; only the repository's bindings answer): compared with the repository's to say whether the cluster
    /// holds what the answer assumes.
    pub owned: Option<Owned>,
}

/// tollgate's own RBAC objects of one instance, as a cluster holds them.
#[derive(Debug, Clone, Default)]
pub struct Owned {
    /// ClusterRoles.
    pub cluster_roles: Vec<ClusterRole>,
    /// Roles.
    pub roles: Vec<Role>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// RoleBindings.
    pub role_bindings: Vec<RoleBinding>,
}

/// How tollgate's RBAC objects in the cluster differ from the repository's: the answer is the repository's, so
/// each of these makes the cluster grant otherwise until the next apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// In the repository, not in the cluster (not applied yet, or deleted by hand).
    pub not_applied: Vec<String>,
    /// In both, with other rules, role or subjects (changed by hand, or a change not applied yet).
    pub changed: Vec<String>,
    /// tollgate's in the cluster, no longer in the repository (not pruned yet).
    pub not_in_repository: Vec<String>,
    /// In the repository, but the cluster holds an object of that name that is not this instance's (made or
    /// recreated by hand, or another's): apply reports a conflict and leaves it, so the cluster's object is what
    /// grants until someone resolves it.
    pub held_by_others: Vec<String>,
}

impl Drift {
    /// Whether the cluster holds exactly the repository's RBAC objects.
    pub fn is_empty(&self) -> bool {
        self.not_applied.is_empty()
            && self.changed.is_empty()
            && self.not_in_repository.is_empty()
            && self.held_by_others.is_empty()
    }
}

/// The parts of an RBAC object that grant (rules, aggregation, role reference, subjects), as JSON with empty and
/// null fields dropped, so that what compile writes and what the API server returns compare equal.
fn granting(object: &impl Serialize, fields: &[&str]) -> serde_json::Value {
    fn prune(value: serde_json::Value) -> Option<serde_json::Value> {
        use serde_json::Value;
        match value {
            Value::Null => None,
            Value::Array(items) => {
                let items: Vec<Value> = items.into_iter().filter_map(prune).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(map) => {
                let map: serde_json::Map<String, Value> = map
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, prune(v)?)))
                    .collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            other => Some(other),
        }
    }
    let whole = serde_json::to_value(object).unwrap_or_default();
    let kept: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .filter_map(|f| Some(((*f).to_owned(), prune(whole.get(*f)?.clone())?)))
        .collect();
    serde_json::Value::Object(kept)
}

/// The RBAC kinds, the objects [`who_can`] reads.
fn is_rbac(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::ClusterRole
            | ObjectKind::Role
            | ObjectKind::ClusterRoleBinding
            | ObjectKind::RoleBinding
    )
}

/// An RBAC object's identity: kind, namespace, name.
type RbacKey = (ObjectKind, Option<String>, String);

fn rbac_key(
    kind: ObjectKind,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> RbacKey {
    (
        kind,
        meta.namespace.clone(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn object_key((kind, namespace, name): RbacKey) -> crate::objects::ObjectKey {
    match namespace {
        Some(namespace) => crate::objects::ObjectKey::namespaced(kind, namespace, name),
        None => crate::objects::ObjectKey::cluster_scoped(kind, name),
    }
}

/// The objects of `others` that are not this instance's, by identity.
fn others_keys(others: &Others) -> BTreeSet<RbacKey> {
    let mut keys = BTreeSet::new();
    keys.extend(
        others
            .cluster_roles
            .iter()
            .map(|o| rbac_key(ObjectKind::ClusterRole, &o.metadata)),
    );
    keys.extend(
        others
            .roles
            .iter()
            .map(|o| rbac_key(ObjectKind::Role, &o.metadata)),
    );
    keys.extend(
        others
            .cluster_role_bindings
            .iter()
            .map(|o| rbac_key(ObjectKind::ClusterRoleBinding, &o.metadata)),
    );
    keys.extend(
        others
            .role_bindings
            .iter()
            .map(|o| rbac_key(ObjectKind::RoleBinding, &o.metadata)),
    );
    keys
}

/// How `owned` (live) differs from `desired`'s RBAC objects; `theirs`, the cluster's other objects, tells a
/// repository object that is missing from one whose name something else holds.
fn drift(desired: &DesiredState, owned: &Owned, theirs: &BTreeSet<RbacKey>) -> Drift {
    type Granting = BTreeMap<(ObjectKind, Option<String>, String), serde_json::Value>;
    let fields = |kind: ObjectKind| -> &'static [&'static str] {
        match kind {
            ObjectKind::ClusterRole => &["rules", "aggregationRule"],
            ObjectKind::Role => &["rules"],
            _ => &["roleRef", "subjects"],
        }
    };
    let mut live: Granting = BTreeMap::new();
    let mut add =
        |kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, value| {
            if let Some(name) = &meta.name {
                live.insert((kind, meta.namespace.clone(), name.clone()), value);
            }
        };
    for o in &owned.cluster_roles {
        add(
            ObjectKind::ClusterRole,
            &o.metadata,
            granting(o, fields(ObjectKind::ClusterRole)),
        );
    }
    for o in &owned.roles {
        add(
            ObjectKind::Role,
            &o.metadata,
            granting(o, fields(ObjectKind::Role)),
        );
    }
    for o in &owned.cluster_role_bindings {
        add(
            ObjectKind::ClusterRoleBinding,
            &o.metadata,
            granting(o, fields(ObjectKind::ClusterRoleBinding)),
        );
    }
    for o in &owned.role_bindings {
        add(
            ObjectKind::RoleBinding,
            &o.metadata,
            granting(o, fields(ObjectKind::RoleBinding)),
        );
    }
    let mut out = Drift::default();
    for (key, manifest) in &desired.objects {
        if !is_rbac(key.kind) {
            continue;
        }
        let want: serde_json::Value = serde_json::from_str(manifest.json()).unwrap_or_default();
        let want = granting(&want, fields(key.kind));
        let identity = (key.kind, key.namespace.clone(), key.name.clone());
        match live.remove(&identity) {
            None if theirs.contains(&identity) => out.held_by_others.push(key.to_string()),
            None => out.not_applied.push(key.to_string()),
            Some(have) if have != want => out.changed.push(key.to_string()),
            Some(_) => {}
        }
    }
    for key in live.into_keys() {
        out.not_in_repository.push(object_key(key).to_string());
    }
    out
}

/// One person or client who can, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// Who.
    pub who: Who,
    /// The identity the API server sees (the username; a client's ServiceAccount, or the owner it acts as).
    pub username: String,
    /// The binding that allows it (the first in Kubernetes' order).
    pub binding: ObjectName,
    /// The role that binding refers to.
    pub role: ObjectName,
    /// The repository files the binding comes from (its `tollgate.dev/source` annotation); empty for a binding
    /// the repository does not hold.
    pub sources: Vec<String>,
    /// The binding is the cluster's, not the repository's (a default binding, or one made by hand).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside_repository: bool,
    /// The grants behind the binding, with their place in the repository ([`grants_behind`], positioned by the
    /// caller, which holds the files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantAt>,
    /// The oldest commit since which the answer holds unbroken (the same subject through the same binding), when
    /// the caller looked it up in the history (`who-can --since`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
}

/// A commit, as `who-can --since` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Since {
    /// The commit id.
    pub commit: String,
    /// The committer's time.
    pub time: Timestamp,
    /// The author, `Name <email>`.
    pub author: String,
    /// The first line of the message.
    pub summary: String,
}

/// One grant of a `UserAccess` document, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantAt {
    /// The file of the document.
    pub file: String,
    /// The `UserAccess` document's name.
    pub access: String,
    /// The grant's index in the document's `spec.grants`.
    pub index: usize,
    /// The line of the grant in the file (1-based), when the file's text was at hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl GrantAt {
    /// With the line of `spec.grants[index]` in the loaded files.
    pub fn located(mut self, loaded: &crate::config::LoadedRepository) -> GrantAt {
        self.line = loaded
            .documents
            .iter()
            .find(|d| d.body.kind() == crate::config::Kind::UserAccess && d.name == self.access)
            .and_then(|d| {
                loaded.sources.field_position(
                    d.at,
                    &format!("spec.grants[{}]", self.index),
                    crate::config::source::FieldPart::Key,
                )
            })
            .map(|position| position.line);
        self
    }
}

impl std::fmt::Display for GrantAt {
    /// `access/teams.yaml:14`, or `access/teams.yaml (UserAccess payments, spec.grants[0])` without a line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => write!(
                f,
                "{} (UserAccess {}, spec.grants[{}])",
                self.file, self.access, self.index
            ),
        }
    }
}

/// The active grants of `cluster` at `now` that land in `binding` (tollgate's bindings merge every grant of one
/// role and scope, [`crate::compile::grant_bindings`]), in the model's order.
pub fn grants_behind(
    model: &AccessModel,
    cluster: &str,
    now: Timestamp,
    binding: &ObjectName,
) -> Vec<GrantAt> {
    let mut index_in_document: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for grant in &model.grants {
        let counter = index_in_document.entry(grant.access.as_str()).or_insert(0);
        let index = *counter;
        *counter += 1;
        if grant.cluster != cluster || !grant.is_active(now) {
            continue;
        }
        let lands = crate::compile::grant_bindings(model, grant)
            .into_iter()
            .any(|(namespace, name)| namespace == binding.namespace && name == binding.name);
        if lands {
            out.push(GrantAt {
                file: grant.origin.to_string(),
                access: grant.access.clone(),
                index,
                line: None,
            });
        }
    }
    out
}

/// Everyone who can, and what the answer could not see.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoCan {
    /// The question as asked of the authorizer.
    pub request: Request,
    /// Whether bindings outside the repository (read from the cluster) were part of the answer.
    pub cluster_bindings_included: bool,
    /// Read from a cluster: how tollgate's RBAC objects there differ from the repository's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// Whether the answer saw everything: the cluster's roles and bindings read, and the cluster holding the
    /// repository's RBAC objects as they are.
    pub complete: bool,
    /// People first, then clients; each by name.
    pub answers: Vec<Answer>,
    /// ClusterRoles the repository's bindings refer to that neither it nor the given roles define: what they
    /// grant is unknown, so the answer may miss people (pass the cluster's roles).
    pub unknown_roles: BTreeSet<String>,
}

/// Who can make `request` in `desired`'s cluster at `now`, with `others`, what the cluster holds besides: the
/// repository's users (their RBAC username and the RBAC names of the groups they are in directly, as an identity
/// provider reports them, plus `system:authenticated`; disabled and expired users too, marked, as grants to their
/// groups still reach them) and its clients in this cluster (their ServiceAccount with its groups; and, for a
/// client that may impersonate its owner, that owner's identity), each checked against the roles and bindings of
/// `desired` and `others`.
pub fn who_can(
    model: &AccessModel,
    desired: &DesiredState,
    others: Others,
    request: &Request,
    now: Timestamp,
) -> WhoCan {
    let cluster_bindings_included = others.owned.is_some();
    let drift = others
        .owned
        .as_ref()
        .map(|owned| drift(desired, owned, &others_keys(&others)));
    let (policy, unknown_roles, sources) = policy_of(desired, others);
    let mut answers = Vec::new();
    for (who, identity) in identities(model, desired, now) {
        if let Some(grant) = policy.allows(&identity, request) {
            let from_repository = sources.get(&grant.binding);
            answers.push(Answer {
                who,
                username: identity.name,
                outside_repository: from_repository.is_none(),
                grants: Vec::new(),
                since: None,
                sources: from_repository.cloned().unwrap_or_default(),
                binding: grant.binding,
                role: grant.role,
            });
        }
    }
    // A client allowed as itself is not listed again as acting as its owner.
    let direct: BTreeSet<String> = answers
        .iter()
        .filter_map(|a| match &a.who {
            Who::Client {
                name,
                acting_as: None,
            } => Some(name.clone()),
            _ => None,
        })
        .collect();
    answers.retain(|a| match &a.who {
        Who::Client {
            name,
            acting_as: Some(_),
        } => !direct.contains(name),
        _ => true,
    });
    WhoCan {
        request: request.clone(),
        cluster_bindings_included,
        complete: complete(cluster_bindings_included, drift.as_ref()),
        drift,
        answers,
        unknown_roles,
    }
}

/// Whether an answer saw everything: the cluster's roles and bindings read, and the cluster holding the
/// repository's RBAC objects as they are. A ClusterRole bound but defined neither in the repository nor in the
/// cluster read grants nothing (the authorizer skips a binding to a missing role), so it does not make the answer
/// incomplete; without the cluster, what such a role grants is unknown.
fn complete(cluster_bindings_included: bool, drift: Option<&Drift>) -> bool {
    cluster_bindings_included && drift.is_none_or(Drift::is_empty)
}

/// Whose permissions `tollgate can` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A `User` document by name.
    User(String),
    /// A `Client` document by name.
    Client(String),
}

/// Why [`can`] has no answer.
#[derive(Debug, thiserror::Error)]
pub enum CanError {
    /// No such `User` or `Client` document, or a client without a ServiceAccount in this cluster, and (read from a
    /// cluster) no binding of tollgate's left there for it.
    #[error(
        "{0} is not in the repository for cluster `{1}` (a User document, or a Client document naming the cluster), \
         and no binding of tollgate's in a cluster read names it"
    )]
    NotFound(String, String),
}

/// One rule a person or client holds, where, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldRule {
    /// The identity that holds it (a client's ServiceAccount, or the owner it acts as).
    pub username: String,
    /// Set when the rule is the owner's, held by a client acting as them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting_as: Option<String>,
    /// Where: a namespace, or `None` for every namespace (and non-resource URLs).
    pub namespace: Option<String>,
    /// The rule as the role writes it.
    pub rule: k8s_openapi::api::rbac::v1::PolicyRule,
    /// The binding that gives it.
    pub binding: ObjectName,
    /// The role holding the rule.
    pub role: ObjectName,
    /// The repository files the binding comes from.
    pub sources: Vec<String>,
    /// The binding is the cluster's, not the repository's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside_repository: bool,
}

/// Everything one person or client may do in a cluster: every rule they hold, as themselves and (a client) as the
/// owner it may act as.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Can {
    /// Who.
    pub who: Who,
    /// `false`: the repository no longer has the subject, and the rules are those tollgate's bindings still in the
    /// cluster give (until an apply prunes them).
    pub in_repository: bool,
    /// The identities the API server would see, with their groups.
    pub identities: Vec<IdentityShown>,
    /// The rules: cluster-wide first, then by namespace; each binding's in the role's order.
    pub rules: Vec<HeldRule>,
    /// A user's clients in this cluster, each with rules of its own.
    pub clients: Vec<String>,
    /// ClusterRoles bound to them that are not known (see [`WhoCan::unknown_roles`]).
    pub unknown_roles: BTreeSet<String>,
    /// Whether bindings outside the repository (read from the cluster) were part of the answer.
    pub cluster_bindings_included: bool,
    /// Read from a cluster: how tollgate's RBAC objects there differ from the repository's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// Whether the answer saw everything (see [`WhoCan::complete`]).
    pub complete: bool,
}

/// An identity as shown: its username and groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityShown {
    /// The username.
    pub username: String,
    /// The groups.
    pub groups: Vec<String>,
    /// Set for a client acting as its owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acting_as: Option<String>,
}

/// What `subject` may do in `desired`'s cluster at `now` (with `others`, what the cluster holds besides): every rule
/// of every binding that applies to its identities, as [`who_can`] would find them. A subject the repository no
/// longer has, read from a cluster that still holds tollgate's bindings for it (not pruned yet), is answered from
/// those, marked `inRepository: false`.
///
/// # Errors
/// [`CanError::NotFound`] when the repository has no such user, or no such client in this cluster, and no binding
/// of tollgate's in the cluster read names it.
pub fn can(
    model: &AccessModel,
    desired: &DesiredState,
    others: Others,
    subject: &Subject,
    now: Timestamp,
) -> Result<Can, CanError> {
    let mine: Vec<(Who, UserInfo)> = identities(model, desired, now)
        .into_iter()
        .filter(|(who, _)| match (who, subject) {
            (Who::User { name, .. }, Subject::User(wanted))
            | (Who::Client { name, .. }, Subject::Client(wanted)) => name == wanted,
            _ => false,
        })
        .collect();
    let Some((first, _)) = mine.first() else {
        return left_in_cluster(model, desired, others, subject);
    };
    let who = match first.clone() {
        Who::Client { name, .. } => Who::Client {
            name,
            acting_as: None,
        },
        user => user,
    };
    let clients = match subject {
        Subject::User(name) => model
            .clients
            .values()
            .filter(|c| c.owners.contains(name))
            .filter(|c| has_service_account(desired, &c.name))
            .map(|c| c.name.clone())
            .collect(),
        Subject::Client(_) => Vec::new(),
    };
    let cluster_bindings_included = others.owned.is_some();
    let drift = others
        .owned
        .as_ref()
        .map(|owned| drift(desired, owned, &others_keys(&others)));
    let (policy, _, sources) = policy_of(desired, others);
    let (rules, unknown_roles, identities) = held(&policy, &sources, &mine);
    Ok(Can {
        who,
        in_repository: true,
        identities,
        rules,
        clients,
        complete: complete(cluster_bindings_included, drift.as_ref()),
        drift,
        unknown_roles,
        cluster_bindings_included,
    })
}

/// Whether `client` has a ServiceAccount in `desired`'s cluster (it names the cluster and is not past its sunset).
fn has_service_account(desired: &DesiredState, client: &str) -> bool {
    desired
        .objects
        .contains_key(&crate::objects::ObjectKey::namespaced(
            ObjectKind::ServiceAccount,
            &desired.clients_namespace,
            client,
        ))
}

/// The rules `identities` hold under `policy` (cluster-wide first, then by namespace), the unknown ClusterRoles
/// bound to them, and the identities as shown.
fn held(
    policy: &Policy,
    sources: &BTreeMap<ObjectName, Vec<String>>,
    identities: &[(Who, UserInfo)],
) -> (Vec<HeldRule>, BTreeSet<String>, Vec<IdentityShown>) {
    let mut rules = Vec::new();
    let mut unknown_roles = BTreeSet::new();
    let mut shown = Vec::new();
    for (identity_who, identity) in identities {
        let acting_as = match identity_who {
            Who::Client { acting_as, .. } => acting_as.clone(),
            Who::User { .. } => None,
        };
        shown.push(IdentityShown {
            username: identity.name.clone(),
            groups: identity.groups.clone(),
            acting_as: acting_as.clone(),
        });
        for held in policy.rules_for(identity) {
            let from_repository = sources.get(&held.binding);
            for rule in held.rules {
                rules.push(HeldRule {
                    username: identity.name.clone(),
                    acting_as: acting_as.clone(),
                    namespace: held.namespace.clone(),
                    rule,
                    binding: held.binding.clone(),
                    role: held.role.clone(),
                    sources: from_repository.cloned().unwrap_or_default(),
                    outside_repository: from_repository.is_none(),
                });
            }
        }
        unknown_roles.extend(policy.unknown_roles_for(identity));
    }
    rules.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    (rules, unknown_roles, shown)
}

/// [`can`] for a subject the repository does not have: what the cluster read grants the identity tollgate gave it
/// (a user's prefixed name, with no group but `system:authenticated`, since the repository no longer says which;
/// a client's ServiceAccount), if one of tollgate's bindings still names it; the files are those the bindings'
/// annotation named when they were applied.
fn left_in_cluster(
    model: &AccessModel,
    desired: &DesiredState,
    others: Others,
    subject: &Subject,
) -> Result<Can, CanError> {
    let (who, identity, shown) = match subject {
        Subject::User(name) => (
            Who::User {
                name: name.clone(),
                inactive: false,
            },
            UserInfo {
                name: format!("{}{name}", model.settings.subject_prefixes.user),
                groups: vec![AUTHENTICATED.to_owned()],
            },
            format!("user `{}`", crate::text::shown(name)),
        ),
        Subject::Client(name) => (
            Who::Client {
                name: name.clone(),
                acting_as: None,
            },
            UserInfo::service_account(&desired.clients_namespace, name),
            format!("client `{}`", crate::text::shown(name)),
        ),
    };
    let not_found = || CanError::NotFound(shown.clone(), desired.cluster.clone());
    let Some(owned) = others.owned else {
        return Err(not_found());
    };
    let mut sources = BTreeMap::new();
    let mut note = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        let files = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(SOURCE_ANNOTATION))
            .map(|s| s.split(", ").map(str::to_owned).collect())
            .unwrap_or_default();
        sources.insert(
            ObjectName {
                namespace: meta.namespace.clone(),
                name: meta.name.clone().unwrap_or_default(),
            },
            files,
        );
    };
    owned
        .cluster_role_bindings
        .iter()
        .for_each(|b| note(&b.metadata));
    owned.role_bindings.iter().for_each(|b| note(&b.metadata));
    let policy = Policy::new(
        others.cluster_roles.into_iter().chain(owned.cluster_roles),
        others.roles.into_iter().chain(owned.roles),
        others
            .cluster_role_bindings
            .into_iter()
            .chain(owned.cluster_role_bindings),
        others.role_bindings.into_iter().chain(owned.role_bindings),
    );
    let (rules, unknown_roles, identities) = held(&policy, &sources, &[(who.clone(), identity)]);
    if rules.iter().all(|r| r.outside_repository) {
        return Err(not_found());
    }
    Ok(Can {
        who,
        in_repository: false,
        identities,
        rules,
        clients: Vec::new(),
        unknown_roles,
        cluster_bindings_included: true,
        drift: None,
        // The user's groups are not known any more.
        complete: false,
    })
}

/// The RBAC policy of `desired` with `others` (the repository's objects win on a name both have); the
/// ClusterRoles the bindings name that neither holds; each repository binding's source files.
fn policy_of(
    desired: &DesiredState,
    others: Others,
) -> (Policy, BTreeSet<String>, BTreeMap<ObjectName, Vec<String>>) {
    // An object of the cluster's under a name the repository holds is left out: the answer is the repository's,
    // and drift names the object as held by others.
    let ours = |kind: ObjectKind,
                meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        desired
            .objects
            .contains_key(&object_key(rbac_key(kind, meta)))
    };
    let mut cluster_roles: BTreeMap<String, ClusterRole> = others
        .cluster_roles
        .into_iter()
        .filter_map(|r| Some((r.metadata.name.clone()?, r)))
        .collect();
    let mut roles: Vec<Role> = others
        .roles
        .into_iter()
        .filter(|o| !ours(ObjectKind::Role, &o.metadata))
        .collect();
    let mut cluster_bindings: Vec<ClusterRoleBinding> = others
        .cluster_role_bindings
        .into_iter()
        .filter(|o| !ours(ObjectKind::ClusterRoleBinding, &o.metadata))
        .collect();
    let mut bindings: Vec<RoleBinding> = others
        .role_bindings
        .into_iter()
        .filter(|o| !ours(ObjectKind::RoleBinding, &o.metadata))
        .collect();
    let mut sources = BTreeMap::new();
    for (key, manifest) in &desired.objects {
        match key.kind {
            ObjectKind::ClusterRole => {
                if let Some(role) = manifest.parse::<ClusterRole>() {
                    cluster_roles.insert(key.name.clone(), role);
                }
            }
            ObjectKind::Role => roles.extend(manifest.parse::<Role>()),
            ObjectKind::ClusterRoleBinding | ObjectKind::RoleBinding => {
                let files: Vec<String> = manifest
                    .metadata()
                    .annotations
                    .get(SOURCE_ANNOTATION)
                    .map(|s| s.split(", ").map(str::to_owned).collect())
                    .unwrap_or_default();
                sources.insert(
                    ObjectName {
                        namespace: key.namespace.clone(),
                        name: key.name.clone(),
                    },
                    files,
                );
                if key.kind == ObjectKind::ClusterRoleBinding {
                    cluster_bindings.extend(manifest.parse::<ClusterRoleBinding>());
                } else {
                    bindings.extend(manifest.parse::<RoleBinding>());
                }
            }
            _ => {}
        }
    }
    let referenced = cluster_bindings
        .iter()
        .map(|b| &b.role_ref)
        .chain(bindings.iter().map(|b| &b.role_ref))
        .filter(|r| r.kind == "ClusterRole")
        .map(|r| r.name.clone());
    let unknown = referenced
        .filter(|name| !cluster_roles.contains_key(name))
        .collect();
    let policy = Policy::new(
        cluster_roles.into_values(),
        roles,
        cluster_bindings,
        bindings,
    );
    (policy, unknown, sources)
}

/// A question of an `AccessTest` that the repository's roles and bindings answer otherwise than it expects.
#[derive(Debug, Clone)]
pub struct TestFailure {
    /// The document the question is written in.
    pub doc: crate::config::source::DocRef,
    /// Its file, repository-relative.
    pub file: String,
    /// Whether the question is an `allow` or a `deny`.
    pub expected: crate::validate::model::Expected,
    /// The question's path in it, e.g. `spec.deny[0]`.
    pub path: String,
    /// What is wrong, with the bindings that break it or the subjects that lack it.
    pub message: String,
}

/// The users a question's subjects name: its users and every member of its groups, nested groups included.
fn users_asked(
    model: &AccessModel,
    subjects: &crate::validate::model::Subjects,
) -> BTreeSet<String> {
    let mut users: BTreeSet<String> = subjects.users.iter().cloned().collect();
    users.extend(
        crate::validate::model::members(&model.groups, subjects.groups.iter().map(String::as_str))
            .into_iter()
            .map(str::to_owned),
    );
    users
}

/// How an identity's question is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, and how (`through RoleBinding payments/x -> ClusterRole edit (access/teams.yaml)`).
    Allowed(String),
    /// Not allowed.
    Denied,
    /// Not known: a bound ClusterRole nobody defines (named here).
    Unknown(String),
}

/// Every question of the model's `AccessTest`s about `desired`'s cluster that its compiled roles and bindings, with
/// `cluster_roles` (Kubernetes' own: the repository's win on a name), answer otherwise than expected, at `now`; see
/// [`evaluate_access_tests`] for who counts. A `deny` names objects by kind: a rule for some named objects (its
/// `resourceNames`) breaks it too, unless the question names one.
pub fn failing_access_tests(
    model: &AccessModel,
    desired: &DesiredState,
    cluster_roles: Vec<ClusterRole>,
    now: Timestamp,
) -> Vec<TestFailure> {
    if !model
        .access_tests
        .iter()
        .any(|t| t.cluster == desired.cluster)
    {
        return Vec::new();
    }
    let others = Others {
        cluster_roles,
        ..Others::default()
    };
    let (policy, _, sources) = policy_of(desired, others);
    evaluate_access_tests(model, desired, now, |identity, request, any_name| {
        let grant = if any_name {
            policy.allows_some_name(identity, request)
        } else {
            policy.allows(identity, request)
        };
        let Some(grant) = grant else {
            let unknown = policy.unknown_roles_for(identity);
            return if unknown.is_empty() {
                Decision::Denied
            } else {
                Decision::Unknown(unknown.join(", "))
            };
        };
        let files = sources
            .get(&grant.binding)
            .map(|f| format!(" ({})", f.join(", ")))
            .unwrap_or_default();
        Decision::Allowed(format!(
            "through {} -> {}{files}",
            grant.binding.as_binding(),
            grant.role.as_role(),
        ))
    })
}

/// Every identity and request the `AccessTest`s of `desired`'s cluster ask about, each once: what a live
/// authorizer is asked to check them after an apply.
pub fn access_test_questions(
    model: &AccessModel,
    desired: &DesiredState,
    now: Timestamp,
) -> Vec<(UserInfo, Request)> {
    let mut asked = BTreeSet::new();
    evaluate_access_tests(model, desired, now, |identity, request, _| {
        asked.insert((identity.clone(), request.clone()));
        Decision::Denied
    });
    asked.into_iter().collect()
}

/// Whom a question asks about: a person or client of the repository, or anyone the identity provider reports in a
/// group (a member the repository may not list).
enum Asked<'m> {
    Known(&'m Who),
    GroupMember(String),
}

/// The requests a question stands for: itself; for a `deny` of a namespaced resource without a namespace ("anywhere"),
/// also the same request in every namespace a RoleBinding of `desired` is in.
fn requests_of(
    question: &crate::validate::model::AccessQuestion,
    namespaces: &BTreeSet<&str>,
) -> Vec<Request> {
    let mut requests = vec![question.request.clone()];
    if question.expected == crate::validate::model::Expected::Deny
        && let Request::Resource {
            namespace,
            resource,
            api_group,
            ..
        } = &question.request
        && namespace.is_empty()
        && crate::question::find(resource, Some(api_group)).is_none_or(|b| b.namespaced)
    {
        for ns in namespaces {
            let mut scoped = question.request.clone();
            if let Request::Resource { namespace, .. } = &mut scoped {
                *namespace = (*ns).to_owned();
            }
            requests.push(scoped);
        }
    }
    requests
}

/// The questions of the model's `AccessTest`s about `desired`'s cluster that `decide` answers otherwise than
/// expected. `decide` says whether an identity may make a request (for some named object too, when asked with
/// `any_name`), and how.
///
/// A user may do what they may as themselves, or through a client they own (as its ServiceAccount, or acting as
/// its owner); a group stands for its members and for anyone the identity provider reports in it or in a group
/// nested in it. `deny` fails when any user, group member (disabled and expired users too: a grant to their group
/// still reaches them), anyone in a listed group, or client may, for any object of the kind (unless the question
/// names one), in the namespace asked or, without one, anywhere; or when a bound ClusterRole nobody defines leaves
/// it undecided. `allow` fails when an active user or group member, or a client, may not (a group without active
/// members: when someone in it may not).
pub fn evaluate_access_tests(
    model: &AccessModel,
    desired: &DesiredState,
    now: Timestamp,
    mut decide: impl FnMut(&UserInfo, &Request, bool) -> Decision,
) -> Vec<TestFailure> {
    use crate::validate::model::Expected;
    let questions: Vec<(
        &crate::validate::model::AccessTest,
        &crate::validate::model::AccessQuestion,
    )> = model
        .access_tests
        .iter()
        .filter(|t| t.cluster == desired.cluster)
        .flat_map(|t| t.questions.iter().map(move |q| (t, q)))
        .collect();
    if questions.is_empty() {
        return Vec::new();
    }
    let everyone = identities(model, desired, now);
    let namespaces: BTreeSet<&str> = desired
        .objects
        .keys()
        .filter(|k| k.kind == ObjectKind::RoleBinding)
        .filter_map(|k| k.namespace.as_deref())
        .collect();
    let owners = |client: &str| -> BTreeSet<String> {
        model
            .clients
            .get(client)
            .map(|c| c.owners.iter().cloned().collect())
            .unwrap_or_default()
    };
    let mut failures = Vec::new();
    for (test, question) in questions {
        let users = users_asked(model, &question.subjects);
        let clients = &question.subjects.clients;
        let groups = groups_asked(model, &question.subjects);
        let requests = requests_of(question, &namespaces);
        let any_name = question.expected == Expected::Deny
            && matches!(&question.request, Request::Resource { name, .. } if name.is_empty());
        // Who is asked about: the repository's identities the subjects stand for, and someone in each group.
        let mut asked: Vec<(Asked<'_>, BTreeSet<String>, UserInfo)> = Vec::new();
        for (who, identity) in &everyone {
            let stands_for: BTreeSet<String> = match who {
                Who::User { name, .. } => BTreeSet::from([name.clone()]),
                Who::Client { name, .. } => owners(name),
            };
            let included = match who {
                Who::User { name, .. } => users.contains(name),
                Who::Client { name, .. } => {
                    clients.contains(name) || stands_for.iter().any(|u| users.contains(u))
                }
            };
            if included {
                asked.push((Asked::Known(who), stands_for, identity.clone()));
            }
        }
        for group in &groups {
            if let Some(g) = model.groups.get(group) {
                let rbac = model.settings.subject_prefixes.group_subject(g);
                asked.push((
                    Asked::GroupMember(group.clone()),
                    BTreeSet::new(),
                    UserInfo {
                        name: String::new(),
                        groups: vec![rbac, AUTHENTICATED.to_owned()],
                    },
                ));
            }
        }
        // Each asked identity's answer: allowed (how), or undecided (why).
        let mut allowed: Vec<(&Asked<'_>, &BTreeSet<String>, String)> = Vec::new();
        let mut undecided: Vec<(&Asked<'_>, String)> = Vec::new();
        for (who, stands_for, identity) in &asked {
            let mut answer = Decision::Denied;
            for request in &requests {
                match decide(identity, request, any_name) {
                    Decision::Allowed(how) => {
                        let place = match request {
                            Request::Resource { namespace, .. }
                                if !namespace.is_empty() && requests.len() > 1 =>
                            {
                                format!(" in {namespace}")
                            }
                            _ => String::new(),
                        };
                        answer = Decision::Allowed(format!("{how}{place}"));
                        break;
                    }
                    Decision::Unknown(why) => answer = Decision::Unknown(why),
                    Decision::Denied => {}
                }
            }
            match answer {
                Decision::Allowed(how) => allowed.push((who, stands_for, how)),
                Decision::Unknown(why) => undecided.push((who, why)),
                Decision::Denied => {}
            }
        }
        let shown = |who: &Asked<'_>| match who {
            Asked::Known(who) => describe(model, who),
            Asked::GroupMember(group) => {
                format!("anyone the identity provider puts in group {group} may")
            }
        };
        let message = match question.expected {
            Expected::Deny if !allowed.is_empty() => {
                let mut through: Vec<String> = allowed
                    .iter()
                    .map(|(who, _, how)| format!("{} {how}", shown(who)))
                    .collect();
                let more = through.len().saturating_sub(5);
                through.truncate(5);
                Some(format!(
                    "`{}` must be denied, but {}{}",
                    question.request,
                    through.join("; "),
                    if more > 0 {
                        format!("; and {more} more")
                    } else {
                        String::new()
                    }
                ))
            }
            Expected::Deny if !undecided.is_empty() => {
                let (who, why) = &undecided[0];
                Some(format!(
                    "`{}` must be denied, but cannot be decided: {} be allowed through ClusterRole(s) {why}, which \
                     neither the repository nor Kubernetes defines",
                    question.request,
                    shown(who).trim_end_matches(" may").to_owned() + " may"
                ))
            }
            Expected::Deny => None,
            Expected::Allow => {
                let mut lacking: Vec<String> = users
                    .iter()
                    .filter(|u| model.users.get(*u).is_some_and(|user| user.is_active(now)))
                    .filter(|u| {
                        !allowed
                            .iter()
                            .any(|(_, stands_for, _)| stands_for.contains(*u))
                    })
                    .map(|u| format!("user {u}"))
                    .collect();
                lacking.extend(
                    clients
                        .iter()
                        .filter(|c| {
                            !allowed.iter().any(|(who, _, _)| {
                                matches!(who, Asked::Known(Who::Client { name, .. }) if name == *c)
                            })
                        })
                        .map(|c| format!("client {c}")),
                );
                // A listed group with no active member would pass whatever the grants: someone in it must may.
                for group in &question.subjects.groups {
                    let members = users_asked(
                        model,
                        &crate::validate::model::Subjects {
                            groups: BTreeSet::from([group.clone()]),
                            ..crate::validate::model::Subjects::default()
                        },
                    );
                    let active = members
                        .iter()
                        .any(|u| model.users.get(u).is_some_and(|user| user.is_active(now)));
                    let someone = allowed
                        .iter()
                        .any(|(who, _, _)| matches!(who, Asked::GroupMember(g) if g == group));
                    if !active && !someone {
                        lacking.push(format!("anyone in group {group} (it has no active member)"));
                    }
                }
                (!lacking.is_empty()).then(|| {
                    format!(
                        "`{}` must be allowed, but {} may not (as themselves or through a client they own)",
                        question.request,
                        lacking.join(", ")
                    )
                })
            }
        };
        if let Some(message) = message {
            failures.push(TestFailure {
                doc: question.doc,
                file: test.origin.to_string(),
                path: question.path.clone(),
                expected: question.expected,
                message,
            });
        }
    }
    failures
}

/// The groups a question's subjects name, nested groups included.
fn groups_asked(
    model: &AccessModel,
    subjects: &crate::validate::model::Subjects,
) -> BTreeSet<String> {
    crate::validate::model::nested_groups(&model.groups, subjects.groups.iter().map(String::as_str))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// `user alice may`, `client alice-laptop (alice's) may`, `client ci (acting as oidc:alice) may`: who an answer is
/// about, in words, with the owners of a client.
fn describe(model: &AccessModel, who: &Who) -> String {
    let owners = |client: &str| {
        let owners: Vec<&str> = model
            .clients
            .get(client)
            .into_iter()
            .flat_map(|c| c.owners.iter().map(String::as_str))
            .collect();
        if owners.is_empty() {
            String::new()
        } else {
            format!(" (owned by {})", owners.join(", "))
        }
    };
    match who {
        Who::User { name, .. } => format!("user {name} may"),
        Who::Client {
            name,
            acting_as: None,
        } => format!("client {name}{} may", owners(name)),
        Who::Client {
            name,
            acting_as: Some(owner),
        } => format!("client {name}{}, acting as {owner}, may", owners(name)),
    }
}

/// Every identity of the repository in this cluster: active users as themselves; clients with a ServiceAccount
/// here as it, and as the owner they may impersonate.
fn identities(model: &AccessModel, desired: &DesiredState, now: Timestamp) -> Vec<(Who, UserInfo)> {
    let prefixes = &model.settings.subject_prefixes;
    // The groups each user is in directly: an identity provider reports only those, which is why compile names
    // every nested group in a grant to a group (`compile::subjects`).
    let mut groups_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for group in model.groups.values() {
        for member in &group.members {
            groups_of
                .entry(member.as_str())
                .or_default()
                .insert(prefixes.group_subject(group));
        }
    }
    let mut out = Vec::new();
    // Inactive users too: their own name is bound to nothing, but their groups may be.
    for user in model.users.values() {
        let mut groups: Vec<String> = groups_of
            .get(user.name.as_str())
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        groups.push(AUTHENTICATED.to_owned());
        out.push((
            Who::User {
                name: user.name.clone(),
                inactive: !user.is_active(now),
            },
            UserInfo {
                name: prefixes.user_subject(user),
                groups,
            },
        ));
    }
    for client in model.clients.values() {
        if !has_service_account(desired, &client.name) {
            continue;
        }
        out.push((
            Who::Client {
                name: client.name.clone(),
                acting_as: None,
            },
            UserInfo::service_account(&desired.clients_namespace, &client.name),
        ));
        if let Some(owner) = impersonated(desired, &client.name) {
            out.push((
                Who::Client {
                    name: client.name.clone(),
                    acting_as: Some(owner.name.clone()),
                },
                owner,
            ));
        }
    }
    out
}

/// The identity a client may act as: the `users` and `groups` its impersonation ClusterRole names (compile writes
/// one user and that user's groups), with `system:authenticated`, which the API server adds to an impersonated user.
fn impersonated(desired: &DesiredState, client: &str) -> Option<UserInfo> {
    let key = crate::objects::ObjectKey::cluster_scoped(
        ObjectKind::ClusterRole,
        format!("{IMPERSONATION_ROLE_PREFIX}{client}"),
    );
    let role: ClusterRole = serde_json::from_str(desired.objects.get(&key)?.json()).ok()?;
    acting_identity(&role)
}

/// The identity a client's impersonation ClusterRole lets it act as: its first user, with the groups it names and
/// `system:authenticated`; `None` for a role that names no user.
pub fn acting_identity(role: &ClusterRole) -> Option<UserInfo> {
    let names = |resource: &str| -> Vec<String> {
        role.rules
            .iter()
            .flatten()
            .filter(|r| {
                r.verbs.iter().any(|v| v == "impersonate")
                    && r.resources.iter().flatten().any(|x| x == resource)
            })
            .flat_map(|r| r.resource_names.clone().unwrap_or_default())
            .collect()
    };
    let user = names("users").into_iter().next()?;
    let mut groups = names("groups");
    groups.push(AUTHENTICATED.to_owned());
    Some(UserInfo { name: user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileContext, compile};

    fn example(cluster: &str) -> (AccessModel, DesiredState, Timestamp) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example-repo");
        let files = crate::files::read_config_files(&root).expect("example-repo reads");
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().expect("a timestamp");
        let checked = crate::pipeline::check(&crate::config::load(files), now).expect("valid");
        let desired = compile(
            &checked.model,
            &CompileContext {
                cluster,
                now,
                revision: None,
            },
        )
        .expect("compiles");
        (checked.model, desired, now)
    }

    fn create(resource: &str, subresource: &str, namespace: &str) -> Request {
        Request::Resource {
            verb: "create".to_owned(),
            api_group: String::new(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: String::new(),
            namespace: namespace.to_owned(),
        }
    }

    #[test]
    fn exec_in_payments_is_for_who_the_repository_grants_it() {
        let (model, desired, now) = example("prod");
        // access/incident.yaml: bob may exec in payments on prod, through his client (prod has no impersonation).
        let answer = who_can(
            &model,
            &desired,
            Others::default(),
            &create("pods", "exec", "payments"),
            now,
        );
        let who: Vec<&Who> = answer.answers.iter().map(|a| &a.who).collect();
        assert_eq!(
            who,
            [&Who::Client {
                name: "bob-laptop".to_owned(),
                acting_as: None
            }]
        );
        let only = &answer.answers[0];
        assert_eq!(only.sources, ["access/incident.yaml"]);
        assert_eq!(only.role.name, "tollgate:exec");
        assert_eq!(
            only.username,
            "system:serviceaccount:tollgate-clients:bob-laptop"
        );
        // Without Kubernetes' own roles, the bindings to them are named as unknown.
        assert!(
            answer.unknown_roles.contains("view"),
            "{:?}",
            answer.unknown_roles
        );
        // Nobody can exec in a namespace no grant names.
        let elsewhere = who_can(
            &model,
            &desired,
            Others::default(),
            &create("pods", "exec", "kube-system"),
            now,
        );
        assert!(elsewhere.answers.is_empty(), "{:?}", elsewhere.answers);
    }

    #[test]
    fn a_disabled_user_is_listed_when_a_grant_to_their_group_still_reaches_them() {
        let (mut model, _, now) = example("prod");
        // access/platform.yaml: the platform group (alice, heidi) reads all of prod as themselves (Group subject).
        model.users.get_mut("alice").expect("alice").disabled = true;
        let desired = compile(
            &model,
            &CompileContext {
                cluster: "prod",
                now,
                revision: None,
            },
        )
        .expect("compiles");
        let view = ClusterRole {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("view".to_owned()),
                ..Default::default()
            },
            rules: Some(vec![k8s_openapi::api::rbac::v1::PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".to_owned()]),
                verbs: vec!["list".to_owned()],
                ..Default::default()
            }]),
            ..ClusterRole::default()
        };
        let mut request = create("pods", "", "kube-system");
        if let Request::Resource { verb, .. } = &mut request {
            *verb = "list".to_owned();
        }
        let others = Others {
            cluster_roles: vec![view],
            ..Others::default()
        };
        let answer = who_can(&model, &desired, others, &request, now);
        let users: Vec<&Who> = answer
            .answers
            .iter()
            .map(|a| &a.who)
            .filter(|w| matches!(w, Who::User { .. }))
            .collect();
        assert!(
            users.contains(&&Who::User {
                name: "alice".to_owned(),
                inactive: true
            }),
            "{users:?}"
        );
        assert!(
            users.contains(&&Who::User {
                name: "heidi".to_owned(),
                inactive: false
            }),
            "{users:?}"
        );
        assert!(answer.unknown_roles.is_empty() || !answer.unknown_roles.contains("view"));
    }

    #[test]
    fn can_lists_a_clients_rules_and_where_they_hold() {
        let (model, desired, now) = example("prod");
        let answer = can(
            &model,
            &desired,
            Others::default(),
            &Subject::Client("bob-laptop".to_owned()),
            now,
        )
        .expect("bob-laptop is a client on prod");
        assert_eq!(
            answer.identities[0].username,
            "system:serviceaccount:tollgate-clients:bob-laptop"
        );
        // access/incident.yaml: exec in payments.
        assert!(
            answer
                .rules
                .iter()
                .any(|r| r.namespace.as_deref() == Some("payments")
                    && r.role.name == "tollgate:exec"
                    && r.sources == ["access/incident.yaml"]),
            "{:?}",
            answer.rules
        );
        assert!(answer.rules.iter().all(|r| !r.outside_repository));
        let missing = can(
            &model,
            &desired,
            Others::default(),
            &Subject::User("nobody".to_owned()),
            now,
        );
        assert!(matches!(missing, Err(CanError::NotFound(..))));
    }

    /// tollgate's RBAC objects of `desired`, as a cluster that applied them holds them.
    fn applied(desired: &DesiredState) -> Owned {
        let mut owned = Owned::default();
        for (key, manifest) in &desired.objects {
            match key.kind {
                ObjectKind::ClusterRole => owned.cluster_roles.extend(manifest.parse()),
                ObjectKind::Role => owned.roles.extend(manifest.parse()),
                ObjectKind::ClusterRoleBinding => {
                    owned.cluster_role_bindings.extend(manifest.parse());
                }
                ObjectKind::RoleBinding => owned.role_bindings.extend(manifest.parse()),
                _ => {}
            }
        }
        owned
    }

    /// The RoleBinding in payments that gives bob-laptop `tollgate:exec` (access/incident.yaml).
    fn exec_binding(owned: &Owned) -> usize {
        owned
            .role_bindings
            .iter()
            .position(|b| {
                b.metadata.namespace.as_deref() == Some("payments")
                    && b.role_ref.name == "tollgate:exec"
            })
            .expect("access/incident.yaml binds tollgate:exec in payments")
    }

    #[test]
    fn a_hand_made_binding_under_a_repository_name_is_not_credited_to_the_repository() {
        let (model, desired, now) = example("prod");
        let mut owned = applied(&desired);
        // Someone deleted tollgate's binding and made one by hand under the same name.
        let mut by_hand = owned.role_bindings.remove(exec_binding(&owned));
        by_hand.metadata.labels = None;
        let others = Others {
            role_bindings: vec![by_hand.clone()],
            owned: Some(owned),
            ..Others::default()
        };
        let answer = can(
            &model,
            &desired,
            others.clone(),
            &Subject::Client("bob-laptop".to_owned()),
            now,
        )
        .expect("bob-laptop is a client on prod");
        let exec: Vec<&HeldRule> = answer
            .rules
            .iter()
            .filter(|r| r.role.name == "tollgate:exec")
            .collect();
        let rules_in_role = exec
            .iter()
            .filter(|r| r.namespace.as_deref() == Some("payments"))
            .count();
        let distinct_bindings: BTreeSet<&ObjectName> = exec.iter().map(|r| &r.binding).collect();
        assert_eq!(distinct_bindings.len(), 1, "{exec:?}");
        assert!(rules_in_role > 0);
        assert!(
            exec.iter()
                .all(|r| r.sources == ["access/incident.yaml"] && !r.outside_repository)
        );
        let drift = answer.drift.expect("read from a cluster");
        assert_eq!(drift.not_applied, Vec::<String>::new());
        assert_eq!(drift.held_by_others.len(), 1, "{drift:?}");
        assert!(drift.held_by_others[0].contains(by_hand.metadata.name.as_deref().expect("named")));
        assert!(!answer.complete);
        let who = who_can(
            &model,
            &desired,
            others,
            &create("pods", "exec", "payments"),
            now,
        );
        assert_eq!(who.answers.len(), 1, "{:?}", who.answers);
    }

    #[test]
    fn a_client_gone_from_the_repository_is_answered_from_what_the_cluster_still_holds() {
        let (model, desired, now) = example("prod");
        let owned = applied(&desired);
        // The cluster applied bob-laptop; the repository no longer gives prod a ServiceAccount for it.
        let mut gone = desired.clone();
        gone.objects
            .retain(|key, _| !(key.kind == ObjectKind::ServiceAccount && key.name == "bob-laptop"));
        let others = Others {
            owned: Some(owned),
            ..Others::default()
        };
        let answer = can(
            &model,
            &gone,
            others.clone(),
            &Subject::Client("bob-laptop".to_owned()),
            now,
        )
        .expect("tollgate's bindings for bob-laptop are still in the cluster");
        assert!(!answer.in_repository);
        assert!(!answer.complete);
        assert!(
            answer.rules.iter().any(|r| r.role.name == "tollgate:exec"
                && r.namespace.as_deref() == Some("payments")
                && r.sources == ["access/incident.yaml"]),
            "{:?}",
            answer.rules
        );
        // A name nothing in the cluster binds is still not found, read from the cluster or not.
        for others in [others, Others::default()] {
            let missing = can(
                &model,
                &gone,
                others,
                &Subject::Client("bobb-laptop".to_owned()),
                now,
            );
            assert!(matches!(missing, Err(CanError::NotFound(..))));
        }
        // Offline, the gone client is not found either: nothing says what the cluster holds.
        let offline = can(
            &model,
            &gone,
            Others::default(),
            &Subject::Client("bob-laptop".to_owned()),
            now,
        );
        assert!(matches!(offline, Err(CanError::NotFound(..))));
    }

    #[test]
    fn a_bound_cluster_role_missing_from_a_cluster_read_leaves_the_answer_complete() {
        let (model, desired, now) = example("prod");
        // Read from a cluster that holds the repository's objects but none of Kubernetes' roles.
        let others = Others {
            owned: Some(applied(&desired)),
            ..Others::default()
        };
        let answer = who_can(
            &model,
            &desired,
            others,
            &create("pods", "exec", "payments"),
            now,
        );
        assert!(
            answer.unknown_roles.contains("view"),
            "{:?}",
            answer.unknown_roles
        );
        assert!(answer.complete);
        let offline = who_can(
            &model,
            &desired,
            Others::default(),
            &create("pods", "exec", "payments"),
            now,
        );
        assert!(!offline.complete);
    }

    #[test]
    fn a_user_is_pointed_to_their_clients() {
        let (model, desired, now) = example("prod");
        let answer = can(
            &model,
            &desired,
            Others::default(),
            &Subject::User("bob".to_owned()),
            now,
        )
        .expect("bob is a user");
        assert!(
            answer.clients.contains(&"bob-laptop".to_owned()),
            "{:?}",
            answer.clients
        );
        assert!(answer.in_repository);
    }
}
