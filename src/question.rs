//! A question about access as people write it (`create pods/exec -n payments`, `deploy`, `deployments.v1.apps`,
//! `/metrics`), read as the API server's request info describes it: RBAC matches names literally, so a misread name
//! would silently answer "nobody". The API resources Kubernetes serves itself come from k8s-openapi's types, with
//! kubectl's short names; a Namespace's name is its namespace; a cluster-scoped resource has none.

use k8s_openapi::{NamespaceResourceScope, Resource};

use crate::rbac::Request;

/// Something the reading of a question changed or doubts, for the one who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// A doubt about the question (`warning: ...`) rather than how it was read (`note: ...`).
    pub warning: bool,
    /// What, in words.
    pub text: String,
}

impl Notice {
    fn warning(text: String) -> Notice {
        Notice {
            warning: true,
            text,
        }
    }

    fn note(text: String) -> Notice {
        Notice {
            warning: false,
            text,
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.warning { "warning" } else { "note" };
        write!(f, "{what}: {}", self.text)
    }
}

/// Why a question cannot be asked, in words that say what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QuestionError(pub String);

/// Whether `segment` is an API version (`v1`, `v1beta1`, `v2alpha1`), as in `deployments.v1.apps`.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let after_major = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    if after_major.len() == rest.len() {
        return false;
    }
    if after_major.is_empty() {
        return true;
    }
    ["alpha", "beta"].iter().any(|stage| {
        after_major
            .strip_prefix(stage)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// A question as the API server's request info would describe it: `resource` as kubectl reads it
/// (`resource[.version][.group][/subresource]`, singular, kind and short names of built-in resources; or a path),
/// a Namespace's name as its namespace, no namespace for a cluster-scoped resource; with what was read differently
/// from what was written.
///
/// # Errors
/// [`QuestionError`] when `verb` is empty, `resource` is not a resource or a path, a resource that is not built in
/// has no group, or the namespace is not a namespace name.
pub fn parse(
    verb: &str,
    resource: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<(Request, Vec<Notice>), QuestionError> {
    let mut notices = Vec::new();
    if verb.is_empty() {
        return Err(QuestionError(
            "VERB is empty; expected e.g. get, list, create, delete".to_owned(),
        ));
    }
    if !crate::validate::values::VERBS.contains(&verb) {
        notices.push(Notice::warning(format!(
            "`{verb}` is not a verb the API server uses (RBAC matches verbs exactly, in lower case)"
        )));
    }
    let namespace = namespace.filter(|n| !n.is_empty());
    if resource.starts_with('/') {
        if name.is_some() || namespace.is_some() {
            notices.push(Notice::warning(
                "a non-resource URL has no name or namespace; they are ignored".to_owned(),
            ));
        }
        let request = Request::NonResource {
            verb: verb.to_owned(),
            path: resource.to_owned(),
        };
        return Ok((request, notices));
    }
    let malformed = || {
        QuestionError(format!(
            "RESOURCE `{resource}` is not a resource: expected resource[.group][/subresource] as for kubectl, e.g. \
             pods, pods/log, deployments.apps, deployments.apps/scale; or a URL path starting with /"
        ))
    };
    let (written, subresource) = match resource.split_once('/') {
        Some((_, sub)) if sub.is_empty() || sub.contains('/') => return Err(malformed()),
        Some((written, sub)) => (written, sub),
        None => (resource, ""),
    };
    let (plural, group) = match written.split_once('.') {
        Some((plural, rest)) => match rest.split_once('.') {
            Some((version, group)) if is_version(version) => (plural, Some(group)),
            _ => (plural, Some(rest)),
        },
        None => (written, None),
    };
    if plural.is_empty() || group == Some("") {
        return Err(malformed());
    }
    let found = find(plural, group);
    let (plural, group, namespaced) = match &found {
        Some(builtin) => (builtin.plural, builtin.group, Some(builtin.namespaced)),
        None if plural.chars().any(|c| c.is_ascii_uppercase()) => {
            return Err(QuestionError(format!(
                "RESOURCE `{resource}`: `{plural}` is not a built-in resource, and resource names are lower case \
                 plurals (`widgets.example.com`)"
            )));
        }
        // A resource of a CRD or an aggregated API: RBAC needs its group, which only the cluster's discovery knows.
        None => match group {
            Some(version) if is_version(version) => {
                return Err(QuestionError(format!(
                    "RESOURCE `{resource}`: `{version}` is a version, not a group; write `{plural}.GROUP` or \
                     `{plural}.{version}.GROUP`"
                )));
            }
            None => {
                return Err(QuestionError(format!(
                    "RESOURCE `{resource}` is not one of Kubernetes' built-in resources; for another resource give \
                     its group as well (`widgets.example.com`)"
                )));
            }
            Some(group) => {
                notices.push(Notice::note(format!(
                    "`{plural}.{group}` is not one of Kubernetes' built-in resources; asked as written (its plural, \
                     in group `{group}`)"
                )));
                (plural, group, None)
            }
        },
    };
    let shown = if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    };
    if found.is_some() && shown != written {
        notices.push(Notice::note(format!(
            "asked about `{shown}` (written `{written}`)"
        )));
    }
    // The API server gives a request on a Namespace object that Namespace as its namespace (RequestInfo).
    let namespace = match (plural, group, name) {
        ("namespaces", "", Some(name)) => {
            if namespace.is_some_and(|n| n != name) {
                notices.push(Notice::note(format!(
                    "a request on Namespace `{name}` is in namespace `{name}`; -n is ignored"
                )));
            }
            Some(name)
        }
        _ if namespaced == Some(false) && namespace.is_some() => {
            notices.push(Notice::warning(format!(
                "`{shown}` is cluster-scoped; -n is ignored (only ClusterRoleBindings answer)"
            )));
            None
        }
        _ => namespace,
    };
    if let Some(namespace) = namespace
        && !crate::validate::values::is_dns1123_label(namespace)
    {
        return Err(QuestionError(format!(
            "`{namespace}` is not a namespace name (a DNS-1123 label: a-z, 0-9 and -, at most 63)"
        )));
    }
    let request = Request::Resource {
        verb: verb.to_owned(),
        api_group: group.to_owned(),
        resource: plural.to_owned(),
        subresource: subresource.to_owned(),
        name: name.unwrap_or_default().to_owned(),
        namespace: namespace.unwrap_or_default().to_owned(),
    };
    Ok((request, notices))
}

/// One built-in resource: its plural (what RBAC rules name), group, kind, kubectl's short names, and whether it
/// lives in a namespace.
pub struct Builtin {
    /// The plural RBAC rules name: `deployments`.
    pub plural: &'static str,
    /// The API group; `""` for the core group.
    pub group: &'static str,
    /// The kind: `Deployment`.
    pub kind: &'static str,
    /// kubectl's short names: `deploy`.
    pub short: &'static [&'static str],
    /// Whether objects of it live in a namespace.
    pub namespaced: bool,
}

fn builtin<R: Resource<Scope: 'static>>(short: &'static [&'static str]) -> Builtin {
    Builtin {
        plural: R::URL_PATH_SEGMENT,
        group: R::GROUP,
        kind: R::KIND,
        short,
        namespaced: std::any::TypeId::of::<R::Scope>()
            == std::any::TypeId::of::<NamespaceResourceScope>(),
    }
}

/// The built-in resources of Kubernetes v1.34 (core, the API server's own groups, apiextensions' CRDs and the
/// aggregator's APIServices), with kubectl's short names.
pub fn builtins() -> Vec<Builtin> {
    use k8s_openapi::api::{
        admissionregistration, authentication, authorization, flowcontrol, node, resource,
    };
    use k8s_openapi::api::{
        apps, autoscaling, batch, certificates, coordination, core, discovery, networking,
    };
    use k8s_openapi::api::{policy, rbac, scheduling, storage};
    vec![
        builtin::<core::v1::Pod>(&["po"]),
        builtin::<core::v1::Service>(&["svc"]),
        builtin::<core::v1::ConfigMap>(&["cm"]),
        builtin::<core::v1::Secret>(&[]),
        builtin::<core::v1::Namespace>(&["ns"]),
        builtin::<core::v1::Node>(&["no"]),
        builtin::<core::v1::ServiceAccount>(&["sa"]),
        builtin::<core::v1::PersistentVolume>(&["pv"]),
        builtin::<core::v1::PersistentVolumeClaim>(&["pvc"]),
        builtin::<core::v1::Endpoints>(&["ep"]),
        builtin::<core::v1::Event>(&["ev"]),
        builtin::<core::v1::LimitRange>(&["limits"]),
        builtin::<core::v1::ResourceQuota>(&["quota"]),
        builtin::<core::v1::ReplicationController>(&["rc"]),
        builtin::<core::v1::PodTemplate>(&[]),
        builtin::<apps::v1::Deployment>(&["deploy"]),
        builtin::<apps::v1::ReplicaSet>(&["rs"]),
        builtin::<apps::v1::StatefulSet>(&["sts"]),
        builtin::<apps::v1::DaemonSet>(&["ds"]),
        builtin::<apps::v1::ControllerRevision>(&[]),
        builtin::<batch::v1::Job>(&[]),
        builtin::<batch::v1::CronJob>(&["cj"]),
        builtin::<autoscaling::v2::HorizontalPodAutoscaler>(&["hpa"]),
        builtin::<networking::v1::Ingress>(&["ing"]),
        builtin::<networking::v1::IngressClass>(&[]),
        builtin::<networking::v1::NetworkPolicy>(&["netpol"]),
        builtin::<policy::v1::PodDisruptionBudget>(&["pdb"]),
        builtin::<rbac::v1::Role>(&[]),
        builtin::<rbac::v1::RoleBinding>(&[]),
        builtin::<rbac::v1::ClusterRole>(&[]),
        builtin::<rbac::v1::ClusterRoleBinding>(&[]),
        builtin::<storage::v1::StorageClass>(&["sc"]),
        builtin::<storage::v1::CSIDriver>(&[]),
        builtin::<storage::v1::VolumeAttachment>(&[]),
        builtin::<scheduling::v1::PriorityClass>(&["pc"]),
        builtin::<certificates::v1::CertificateSigningRequest>(&["csr"]),
        builtin::<coordination::v1::Lease>(&[]),
        builtin::<discovery::v1::EndpointSlice>(&[]),
        builtin::<core::v1::ComponentStatus>(&["cs"]),
        builtin::<networking::v1::IPAddress>(&[]),
        builtin::<networking::v1::ServiceCIDR>(&[]),
        builtin::<node::v1::RuntimeClass>(&[]),
        builtin::<storage::v1::CSINode>(&[]),
        builtin::<storage::v1::CSIStorageCapacity>(&[]),
        builtin::<storage::v1::VolumeAttributesClass>(&[]),
        builtin::<flowcontrol::v1::FlowSchema>(&[]),
        builtin::<flowcontrol::v1::PriorityLevelConfiguration>(&[]),
        builtin::<authentication::v1::TokenReview>(&[]),
        builtin::<authentication::v1::SelfSubjectReview>(&[]),
        builtin::<authorization::v1::SubjectAccessReview>(&[]),
        builtin::<authorization::v1::SelfSubjectAccessReview>(&[]),
        builtin::<authorization::v1::LocalSubjectAccessReview>(&[]),
        builtin::<authorization::v1::SelfSubjectRulesReview>(&[]),
        builtin::<admissionregistration::v1::MutatingWebhookConfiguration>(&[]),
        builtin::<admissionregistration::v1::ValidatingWebhookConfiguration>(&[]),
        builtin::<admissionregistration::v1::ValidatingAdmissionPolicy>(&[]),
        builtin::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>(&[]),
        builtin::<resource::v1::DeviceClass>(&[]),
        builtin::<resource::v1::ResourceClaim>(&[]),
        builtin::<resource::v1::ResourceClaimTemplate>(&[]),
        builtin::<resource::v1::ResourceSlice>(&[]),
        builtin::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>(&[
            "crd", "crds",
        ]),
        builtin::<k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService>(&[]),
        // What impersonation asks about (the API server's impersonation filter, `WithImpersonation`): these are
        // resources to RBAC only, with no objects or types; an extra's key is the subresource of `userextras`.
        virtual_resource("users", "", "User"),
        virtual_resource("groups", "", "Group"),
        virtual_resource("userextras", "authentication.k8s.io", "UserExtra"),
        virtual_resource("uids", "authentication.k8s.io", "UID"),
    ]
}

/// A cluster-scoped resource RBAC names that has no objects (users, groups, ...).
fn virtual_resource(plural: &'static str, group: &'static str, kind: &'static str) -> Builtin {
    Builtin {
        plural,
        group,
        kind,
        short: &[],
        namespaced: false,
    }
}

/// `name` (a plural, singular, kind or short name, any case) and `group` (empty: any) as a built-in resource.
pub fn find(name: &str, group: Option<&str>) -> Option<Builtin> {
    let lower = name.to_ascii_lowercase();
    builtins().into_iter().find(|b| {
        group.is_none_or(|g| g == b.group)
            && (b.plural == lower
                || b.kind.eq_ignore_ascii_case(&lower)
                || b.short.contains(&lower.as_str()))
    })
}
