//! What the gateway may know, written by the credentials step into the clients namespace: the public peer list
//! (ConfigMap [`PEERS_CONFIGMAP`]) and the gateway's own private key (Secret [`GATEWAY_SECRET`]). The gateway's
//! Role names only these two objects, so the pod that holds NET_ADMIN never sees a client token or a client's key.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

use super::state::{ClientState, public_key_of};
use super::store::{CredentialsError, FIELD_MANAGER};
use crate::cluster::{Cluster, describe};
use crate::objects::{INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::validate::model::{ClientPool, Gateway};
use crate::wireguard::peers::{
    GATEWAY_PRIVATE_KEY, GATEWAY_SECRET, PEERS_CONFIGMAP, PEERS_FORMAT_VERSION, PEERS_KEY, Peer,
    PeerList,
};
use crate::wireguard::reach::Reach;

/// The peer list of a cluster's gateway from the clients' states: one peer per client with a WireGuard key and a
/// range inside the pool (a state this run could not renew may still hold a range of an older pool; the gateway
/// would refuse the whole list for it).
pub fn peer_list<'a>(
    cluster: &str,
    pool: ClientPool,
    gateway: &Gateway,
    states: impl IntoIterator<Item = &'a ClientState>,
    reach_of: impl Fn(&str) -> Reach,
) -> PeerList {
    let mut peers: Vec<Peer> = states
        .into_iter()
        .filter_map(|state| {
            let wireguard = state.wireguard.as_ref()?;
            if !pool.cidr.contains(&wireguard.address) {
                return None;
            }
            Some(Peer {
                client: state.client.clone(),
                public_key: public_key_of(&wireguard.private_key)?,
                range: wireguard.address,
                namespaces: match reach_of(&state.client) {
                    Reach::ClusterWide => None,
                    Reach::Namespaces(namespaces) => Some(namespaces.into_iter().collect()),
                },
            })
        })
        .collect();
    peers.sort_by(|a, b| a.client.cmp(&b.client));
    PeerList {
        format_version: PEERS_FORMAT_VERSION,
        cluster: cluster.to_owned(),
        allowed_ips: gateway.allowed_ips.clone(),
        pool: pool.cidr,
        dns: gateway.dns.clone(),
        peers,
    }
}

/// Writes the peer list and the gateway's key into `namespace` when they differ from what is there (a reconcile
/// with nothing new writes nothing). Server-side apply by the field manager `tollgate`.
///
/// Errors: [`CredentialsError::ReadState`] / [`CredentialsError::WriteState`] naming the object and the API
/// server's answer.
pub async fn publish_peers(
    cluster: &Cluster,
    namespace: &str,
    list: &PeerList,
    gateway_private_key: &str,
) -> Result<(), CredentialsError> {
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (INSTANCE_LABEL.to_owned(), list.cluster.clone()),
    ]);
    let read_error = |name: &str, error: &kube::Error| CredentialsError::ReadState {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        reason: describe(error),
    };
    let write_error = |name: &str, error: &kube::Error| CredentialsError::WriteState {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        reason: describe(error),
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();

    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.kube(), namespace);
    cluster.paced().await;
    let current = configmaps
        .get_opt(PEERS_CONFIGMAP)
        .await
        .map_err(|e| read_error(PEERS_CONFIGMAP, &e))?;
    let json = list.to_json();
    if current.and_then(|c| c.data?.remove(PEERS_KEY)).as_ref() != Some(&json) {
        let configmap = ConfigMap {
            metadata: ObjectMeta {
                name: Some(PEERS_CONFIGMAP.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(PEERS_KEY.to_owned(), json)])),
            ..ConfigMap::default()
        };
        cluster.paced().await;
        configmaps
            .patch(PEERS_CONFIGMAP, &params, &Patch::Apply(&configmap))
            .await
            .map_err(|e| write_error(PEERS_CONFIGMAP, &e))?;
    }

    let secrets: Api<Secret> = Api::namespaced(cluster.kube(), namespace);
    cluster.paced().await;
    let current = secrets
        .get_opt(GATEWAY_SECRET)
        .await
        .map_err(|e| read_error(GATEWAY_SECRET, &e))?;
    let key = ByteString(gateway_private_key.as_bytes().to_vec());
    if current
        .and_then(|s| s.data?.remove(GATEWAY_PRIVATE_KEY))
        .as_ref()
        != Some(&key)
    {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(GATEWAY_SECRET.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(GATEWAY_PRIVATE_KEY.to_owned(), key)])),
            ..Secret::default()
        };
        cluster.paced().await;
        secrets
            .patch(GATEWAY_SECRET, &params, &Patch::Apply(&secret))
            .await
            .map_err(|e| write_error(GATEWAY_SECRET, &e))?;
    }
    Ok(())
}
