//! The pod of one SSH session, made from its environment's PodTemplate, and what its status means to the person
//! waiting for it. Pure: the gateway creates, watches and deletes it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodTemplate};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::objects::ENVIRONMENT_LABEL;

/// Label naming the user a session pod belongs to.
pub const SESSION_USER_LABEL: &str = "tollgate.dev/session-user";
/// Label holding a session's id; every session pod has it, and the reaper lists pods by it.
pub const SESSION_LABEL: &str = "tollgate.dev/session";
/// Annotation holding the address the SSH connection came from.
pub const SOURCE_ANNOTATION: &str = "tollgate.dev/source-address";
/// The `app.kubernetes.io/managed-by` value of session pods: the gateway's, not the controller's (which never lists
/// pods).
pub const MANAGED_BY_GATEWAY: &str = "tollgate-session-gateway";
/// The container sessions attach to (the template's only container).
pub const SESSION_CONTAINER: &str = "session";

/// A session pod's name: `<user>--<environment>-<id>`, e.g. `alice--toolbox-x7k2p`, cut to 63 characters so that
/// it also serves as the pod's hostname.
pub fn pod_name(user: &str, environment: &str, id: &str) -> String {
    let mut name = format!("{user}--{environment}-{id}");
    if name.len() > 63 {
        // Keep the id, which makes the name unique: shorten the readable part.
        let keep = 63 - id.len() - 1;
        let head: String = format!("{user}--{environment}")
            .chars()
            .take(keep)
            .collect();
        name = format!("{}-{id}", head.trim_end_matches('-'));
    }
    name
}

/// A random session id of 8 lower-case letters and digits (about 41 bits), from `bytes` (which the caller draws
/// from the OS's generator).
pub fn session_id(bytes: [u8; 8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// The pod of a session: the template's pod spec unchanged (image, ServiceAccount, security, DNS, deadline), its
/// labels plus the user, environment and session, and the source address as an annotation.
///
/// Errors: the template has no pod spec (it was not made by tollgate).
pub fn session_pod(
    template: &PodTemplate,
    namespace: &str,
    user: &str,
    environment: &str,
    id: &str,
    source: Option<std::net::SocketAddr>,
) -> Result<Pod, String> {
    let spec_template = template
        .template
        .as_ref()
        .ok_or_else(|| "the environment's PodTemplate has no template".to_owned())?;
    let spec = spec_template
        .spec
        .clone()
        .ok_or_else(|| "the environment's PodTemplate has no pod spec".to_owned())?;
    let mut labels = spec_template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.extend([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY_GATEWAY.to_owned(),
        ),
        (ENVIRONMENT_LABEL.to_owned(), environment.to_owned()),
        (SESSION_USER_LABEL.to_owned(), user.to_owned()),
        (SESSION_LABEL.to_owned(), id.to_owned()),
    ]);
    let annotations = source
        .map(|address| BTreeMap::from([(SOURCE_ANNOTATION.to_owned(), address.ip().to_string())]));
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(user, environment, id)),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// Where a session pod stands, as the person waiting is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Not yet scheduled or started; the text says what it waits for (e.g. `pulling image`).
    Waiting(String),
    /// Running and ready: attach.
    Ready,
    /// It cannot become ready; the text says why (e.g. `ErrImagePull: ...`).
    Failed(String),
}

/// Container waiting reasons that mean the pod will not start without a change (kubelet's image and config errors).
const FATAL_WAITING: [&str; 7] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// What `pod`'s status means: ready, failed (with the kubelet's reason), or still waiting (with what for).
pub fn progress(pod: &Pod) -> Progress {
    let Some(status) = &pod.status else {
        return Progress::Waiting("waiting for the pod to be scheduled".to_owned());
    };
    if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
        let why = status
            .message
            .clone()
            .or_else(|| status.reason.clone())
            .unwrap_or_else(|| "the session container exited".to_owned());
        return Progress::Failed(why);
    }
    let container = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == SESSION_CONTAINER);
    if let Some(container) = container {
        if container.ready {
            return Progress::Ready;
        }
        let state = container.state.as_ref();
        if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.clone().unwrap_or_default();
            let message = waiting.message.clone().unwrap_or_default();
            if FATAL_WAITING.contains(&reason.as_str()) {
                return Progress::Failed(
                    format!("{reason}: {message}")
                        .trim_end_matches(": ")
                        .to_owned(),
                );
            }
            return Progress::Waiting(match reason.as_str() {
                "ContainerCreating" => "pulling the image and starting the container".to_owned(),
                "" => "waiting for the container".to_owned(),
                other => other.to_owned(),
            });
        }
        if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
            return Progress::Failed(format!(
                "the session container exited with status {}{}",
                terminated.exit_code,
                terminated
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
        return Progress::Waiting("starting".to_owned());
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    if let Some(condition) = unschedulable {
        return Progress::Waiting(format!(
            "no node can run it yet: {}",
            condition.message.clone().unwrap_or_default()
        ));
    }
    if status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True")
    {
        Progress::Waiting("scheduled; pulling the image".to_owned())
    } else {
        Progress::Waiting("waiting for the pod to be scheduled".to_owned())
    }
}

/// The banner with `{user}` and `{environment}` replaced.
pub fn banner(text: &str, user: &str, environment: &str) -> String {
    text.replace("{user}", user)
        .replace("{environment}", environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_their_id_and_fit_a_hostname() {
        let name = pod_name(&"a".repeat(63), &"b".repeat(63), "x7k2p9q1");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("-x7k2p9q1"), "{name}");
        assert_eq!(
            pod_name("alice", "toolbox", "x7k2p9q1"),
            "alice--toolbox-x7k2p9q1"
        );
    }

    #[test]
    fn session_ids_use_the_name_alphabet() {
        let id = session_id([0, 25, 26, 35, 36, 255, 100, 7]);
        assert_eq!(id.len(), 8);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{id}"
        );
    }

    #[test]
    fn a_pull_error_fails_and_creating_waits() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "session", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "image not present"}}
            }]}
        }))
        .expect("a pod");
        assert_eq!(
            progress(&pod),
            Progress::Failed("ErrImageNeverPull: image not present".to_owned())
        );
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "session", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                "state": {"waiting": {"reason": "ContainerCreating"}}
            }]}
        }))
        .expect("a pod");
        assert!(matches!(progress(&pod), Progress::Waiting(w) if w.contains("pulling")));
        assert_eq!(
            banner("hi {user} in {environment}", "alice", "toolbox"),
            "hi alice in toolbox"
        );
    }
}
