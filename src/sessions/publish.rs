//! Writes the session directory (ConfigMap [`SESSIONS_CONFIGMAP`] in the clients namespace) after an apply, so
//! that the session gateway follows the repository's users, keys and environments.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

use super::directory::{SESSIONS_CONFIGMAP, SESSIONS_KEY, SessionDirectory};
use crate::cluster::Cluster;
use crate::objects::FIELD_MANAGER;
use crate::objects::{INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// Writes `directory` into `namespace` when it differs from what is there. A cluster without environments gets no
/// ConfigMap, but one already there is updated (to its empty list), so that a removed environment takes its logins
/// with it. Returns whether it wrote.
///
/// Errors: the API server's answer to the read or the server-side apply (field manager `tollgate`).
pub async fn publish_directory(
    cluster: &Cluster,
    namespace: &str,
    directory: &SessionDirectory,
) -> Result<bool, kube::Error> {
    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.kube(), namespace);
    cluster.paced().await;
    let current = configmaps.get_opt(SESSIONS_CONFIGMAP).await?;
    if current.is_none() && directory.environments.is_empty() {
        return Ok(false);
    }
    let json = directory.to_json();
    if current.and_then(|c| c.data?.remove(SESSIONS_KEY)).as_ref() == Some(&json) {
        return Ok(false);
    }
    let configmap = ConfigMap {
        metadata: ObjectMeta {
            name: Some(SESSIONS_CONFIGMAP.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
                (INSTANCE_LABEL.to_owned(), directory.cluster.clone()),
            ])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(SESSIONS_KEY.to_owned(), json)])),
        ..ConfigMap::default()
    };
    cluster.paced().await;
    configmaps
        .patch(
            SESSIONS_CONFIGMAP,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&configmap),
        )
        .await?;
    Ok(true)
}
