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

/// The repository file that holds the session gateway's `known_hosts` line: `<artifactsPath>/<cluster>/known_hosts`,
/// next to the cluster's client files, in the clear (a host key is public).
pub fn known_hosts_path(artifacts_path: &str, cluster: &str) -> String {
    format!("{artifacts_path}/{cluster}/known_hosts")
}

/// The content of [`known_hosts_path`] for the gateway's line (`[HOST]:PORT ssh-ed25519 AAAA...`): a comment that
/// says where it comes from and how to use it, then the line.
pub fn known_hosts_file(cluster: &str, line: &str) -> Vec<u8> {
    format!(
        "# The SSH host key of cluster {cluster}'s session gateway, published by tollgate from its status.\n\
         # ssh -o UserKnownHostsFile=<this file> ..., or append it to ~/.ssh/known_hosts.\n\
         {line}\n"
    )
    .into_bytes()
}

/// The edit that publishes the session gateway's `known_hosts` line, made from its status in `namespace` (the
/// clients namespace: its advertised address and host key, each checked), when the gateway advertises an address
/// and the repository (`tree`: path -> blob id) does not hold exactly that file yet. No gateway, no address, or a
/// status that cannot be read or checked: no edit (the file is left as it is; publishing never fails for it, the
/// reason is logged).
pub async fn known_hosts_edit(
    cluster: &Cluster,
    namespace: &str,
    path: &str,
    cluster_name: &str,
    tree: &BTreeMap<String, gix::ObjectId>,
) -> Option<crate::git::ArtifactEdit> {
    cluster.paced().await;
    let line = match super::gateway::read_status(&cluster.kube(), namespace)
        .await
        .and_then(|status| status.and_then(|s| s.known_hosts_line()).transpose())
    {
        Ok(line) => line?,
        Err(reason) => {
            tracing::warn!(%reason, "the session gateway's known_hosts line is not published");
            return None;
        }
    };
    let content = known_hosts_file(cluster_name, &line);
    (tree.get(path) != Some(&crate::git::blob_id(&content))).then(|| crate::git::ArtifactEdit {
        path: path.to_owned(),
        content: Some(content),
    })
}
