//! The identities and workloads tollgate creates: clients' ServiceAccounts, and for each session environment its
//! namespace, ServiceAccount, PodTemplate and the Role that lets granted people use its sessions.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, LocalObjectReference, PodDNSConfig, PodSpec, PodTemplate,
    PodTemplateSpec, SecurityContext, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::ObjectSink;
use crate::objects::{ObjectKey, ObjectKind};
use crate::validate::model::{AccessModel, Environment};

/// Label naming the client a ServiceAccount belongs to.
pub const CLIENT_LABEL: &str = "tollgate.dev/client";
/// Label naming the environment a session object belongs to.
pub const ENVIRONMENT_LABEL: &str = "tollgate.dev/environment";

pub(super) fn session_role_name(environment: &str) -> String {
    format!("tollgate:session:{environment}")
}

pub fn pod_template_name(environment: &str) -> String {
    format!("tollgate-session-{environment}")
}

pub(super) fn compile_clients(model: &AccessModel, out: &mut ObjectSink) {
    let ctx = out.ctx;
    let namespace = model.settings.clients_namespace.as_str();
    out.namespace(namespace, &[&model.settings.origin]);
    for client in model.clients.values() {
        if !client.is_active(ctx.now) || !client.clusters.contains(ctx.cluster) {
            continue;
        }
        let mut metadata = out.metadata(&client.name, Some(namespace), [&client.origin]);
        metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(CLIENT_LABEL.to_owned(), client.name.clone());
        let service_account = ServiceAccount {
            metadata,
            // Client tokens come from the TokenRequest API; no legacy token Secret is ever mounted or created.
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        };
        out.insert(
            ObjectKey::namespaced(ObjectKind::ServiceAccount, namespace, &client.name),
            service_account,
        );
    }
}

pub(super) fn compile_environments(model: &AccessModel, out: &mut ObjectSink) {
    let ctx = out.ctx;
    for environment in model.environments.values() {
        if !environment.in_cluster(ctx.cluster) {
            continue;
        }
        let origin = &environment.origin;
        let namespace = environment.namespace.as_str();
        out.namespace(namespace, &[origin]);
        if environment.service_account != "default" {
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
        let role_name = session_role_name(&environment.name);
        let role = super::rbac::role(
            labelled(
                out.metadata(&role_name, Some(namespace), [origin]),
                environment,
            ),
            super::rbac::session_rules(environment.port_forwarding),
        );
        out.insert(
            ObjectKey::namespaced(ObjectKind::Role, namespace, &role_name),
            role,
        );

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

fn labelled(mut metadata: ObjectMeta, environment: &Environment) -> ObjectMeta {
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(ENVIRONMENT_LABEL.to_owned(), environment.name.clone());
    metadata
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
    ]);
    if let Some(banner) = &environment.banner {
        annotations.insert("tollgate.dev/banner".to_owned(), banner.clone());
    }
    annotations
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
        automount_service_account_token: Some(environment.service_account != "default"),
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
