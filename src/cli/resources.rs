//! The API resources Kubernetes serves itself (from k8s-openapi's types), so that a question written as for
//! kubectl (`deploy`, `pod`, `Deployment`, `deployments.v1.apps`) is asked about the resource the API server names
//! (`deployments` in `apps`), and a namespace is not given to a cluster-scoped one: RBAC matches names literally,
//! so a misread name would silently answer "nobody".

use k8s_openapi::{NamespaceResourceScope, Resource};

/// One built-in resource: its plural (what RBAC rules name), group, kind, kubectl's short names, and whether it
/// lives in a namespace.
pub struct Builtin {
    pub plural: &'static str,
    pub group: &'static str,
    pub kind: &'static str,
    pub short: &'static [&'static str],
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
