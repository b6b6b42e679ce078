//! Session environments: for each, its namespace, ServiceAccount and the PodTemplate sessions start from. The Role
//! that lets granted people use its sessions is RBAC, compiled in [`super::rbac`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, LocalObjectReference, PodDNSConfig, PodSpec, PodTemplate,
    PodTemplateSpec, SecurityContext, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{ObjectSink, labelled};
use crate::objects::{ENVIRONMENT_LABEL, ObjectKey, ObjectKind};
use crate::validate::model::{AccessModel, Environment};

/// The PodTemplate of an environment's sessions, in the environment's namespace.
pub fn pod_template_name(environment: &str) -> String {
    format!("tollgate-session-{environment}")
}

pub(super) fn compile_environments(model: &AccessModel, out: &mut ObjectSink) {
    let ctx = out.ctx;
    for environment in model.environments_in(ctx.cluster) {
        let origin = &environment.origin;
        let namespace = environment.namespace.as_str();
        out.namespace(namespace, &[origin]);
        if needs_privileged_pods(environment) {
            // Pod Security admission: only a namespace whose environment needs it may run privileged pods.
            let key = ObjectKey::cluster_scoped(ObjectKind::Namespace, namespace);
            out.label(&key, POD_SECURITY_ENFORCE_LABEL, "privileged");
        }
        {
            let service_account = ServiceAccount {
                metadata: labelled(
                    out.metadata(&environment.service_account, Some(namespace), [origin]),
                    environment,
                ),
                ..ServiceAccount::default()
            };
            out.insert(
                ObjectKey::namespaced(
                    ObjectKind::ServiceAccount,
                    namespace,
                    &environment.service_account,
                ),
                service_account,
            );
        }
        let template_name = pod_template_name(&environment.name);
        let mut metadata = labelled(
            out.metadata(&template_name, Some(namespace), [origin]),
            environment,
        );
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .extend(session_annotations(environment));
        let template = PodTemplate {
            metadata,
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([(
                        ENVIRONMENT_LABEL.to_owned(),
                        environment.name.clone(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(environment)),
            }),
        };
        out.insert(
            ObjectKey::namespaced(ObjectKind::PodTemplate, namespace, &template_name),
            template,
        );
    }
}

/// Session settings that are not part of a pod spec travel as annotations of the template, for the session
/// manager to read.
fn session_annotations(environment: &Environment) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([
        (
            "tollgate.dev/shell".to_owned(),
            serde_json::to_string(&environment.shell).expect("strings serialize"),
        ),
        (
            "tollgate.dev/ready-timeout".to_owned(),
            format!("{}s", environment.ready_timeout.as_secs()),
        ),
        (
            "tollgate.dev/remove-timeout".to_owned(),
            format!("{}s", environment.remove_timeout.as_secs()),
        ),
        (
            "tollgate.dev/port-forwarding".to_owned(),
            environment.port_forwarding.to_string(),
        ),
        (
            "tollgate.dev/exec-command".to_owned(),
            serde_json::to_string(&environment.exec_command).expect("strings serialize"),
        ),
    ]);
    if let Some(sftp) = &environment.sftp_command {
        annotations.insert(
            "tollgate.dev/sftp-command".to_owned(),
            serde_json::to_string(sftp).expect("strings serialize"),
        );
    }
    if let Some(banner) = &environment.banner {
        annotations.insert("tollgate.dev/banner".to_owned(), banner.clone());
    }
    annotations
}

/// Pod Security admission's label that sets the level a namespace enforces
/// (<https://kubernetes.io/docs/concepts/security/pod-security-admission/>).
pub const POD_SECURITY_ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";

/// The capabilities the Pod Security Standards' `baseline` level lets a container add
/// (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>, "Capabilities").
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Whether the environment's pods need the `privileged` Pod Security level: they run privileged or add a
/// capability `baseline` forbids (e.g. `NET_ADMIN`).
pub fn needs_privileged_pods(environment: &Environment) -> bool {
    environment.privileged
        || environment
            .capabilities_add
            .iter()
            .any(|c| !BASELINE_CAPABILITIES.contains(&c.as_str()))
}

fn pod_spec(environment: &Environment) -> PodSpec {
    let capabilities = (!environment.capabilities_add.is_empty()
        || !environment.capabilities_drop.is_empty())
    .then(|| Capabilities {
        add: (!environment.capabilities_add.is_empty())
            .then(|| environment.capabilities_add.clone()),
        drop: (!environment.capabilities_drop.is_empty())
            .then(|| environment.capabilities_drop.clone()),
    });
    let container = Container {
        name: "session".to_owned(),
        image: Some(environment.image.clone()),
        command: Some(environment.command.clone()),
        working_dir: environment.working_dir.clone(),
        image_pull_policy: environment.image_pull_policy.map(|policy| {
            serde_json::to_value(policy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .expect("a pull policy serializes to its name")
        }),
        stdin: Some(true),
        tty: Some(true),
        security_context: Some(SecurityContext {
            privileged: Some(environment.privileged),
            capabilities,
            run_as_user: environment.run_as_user,
            run_as_group: environment.run_as_group,
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let has_dns = !environment.dns_servers.is_empty() || !environment.dns_searches.is_empty();
    PodSpec {
        containers: vec![container],
        service_account_name: Some(environment.service_account.clone()),
        automount_service_account_token: Some(environment.mount_service_account_token),
        active_deadline_seconds: Some(environment.max_session_duration.as_secs()),
        // Half of removeTimeout to stop after SIGTERM, then the kubelet kills it: the removal the gateway awaits
        // for removeTimeout ends in time even when the command ignores SIGTERM (as `sleep` as PID 1 does).
        termination_grace_period_seconds: Some((environment.remove_timeout.as_secs() / 2).max(1)),
        node_selector: {
            let selector: BTreeMap<String, String> = [
                ("kubernetes.io/os", &environment.os),
                ("kubernetes.io/arch", &environment.arch),
            ]
            .into_iter()
            .filter_map(|(label, value)| Some((label.to_owned(), value.clone()?)))
            .collect();
            (!selector.is_empty()).then_some(selector)
        },
        dns_policy: (!environment.dns_servers.is_empty()).then(|| "None".to_owned()),
        dns_config: has_dns.then(|| PodDNSConfig {
            nameservers: (!environment.dns_servers.is_empty()).then(|| {
                environment
                    .dns_servers
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            }),
            searches: (!environment.dns_searches.is_empty())
                .then(|| environment.dns_searches.clone()),
            options: None,
        }),
        image_pull_secrets: environment
            .image_pull_secret
            .as_ref()
            .map(|name| vec![LocalObjectReference { name: name.clone() }]),
        restart_policy: Some("Never".to_owned()),
        ..PodSpec::default()
    }
}
