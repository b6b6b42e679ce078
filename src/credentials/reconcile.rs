//! The credentials step of a reconcile, run after apply has created the clients' ServiceAccounts: issue, renew and
//! revoke tokens, keep WireGuard keys and ranges, and decide which client files to (re)publish. The result is a
//! list of artifact edits for the Git edge; nothing here touches Git. Each rule has its own home: token renewal in
//! [`super::tokens`], revocation in [`super::revocation`], ranges in [`super::addresses`], the no-churn rule in
//! [`super::index`], the Secrets and ServiceAccounts in [`super::store`]; this file only runs them in order.
//!
//! Order matters for crash safety: the new state (tokens, keys, and the publish index naming the ciphertext's blob
//! id) is saved before the push. A crash after the save but before the push leaves a state whose blob is not in
//! the tree, so the next run publishes again; a crash after the push finds the blob in place and does nothing.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;

use super::addresses::allocate;
use super::client_file::{
    CLIENT_FILE_FORMAT_VERSION, ClientFile, KubernetesAccess, WireGuardAccess,
};
use super::index::{
    ChangeReason, artifact_path, artifact_update, change_reason, client_recipients,
};
use super::peers::{peer_list, publish_peers};
use super::revocation::{client_private_key, revocation_needed};
use super::state::{ClientState, STATE_FORMAT_VERSION, WireGuardState, recipient_keys};
use super::store::{CredentialsError, Store};
use super::tokens::token_is_fresh;
use crate::cluster::Cluster;
use crate::compile::subjects::SubjectResolver;
use crate::git::ArtifactEdit;
use crate::objects::DesiredState;
use crate::validate::model::{AccessModel, Client};
use crate::wireguard::reach::{Identities, reach};

/// One client file the commit writes or removes, and why.
#[derive(Debug, Clone, Serialize)]
pub struct ClientChange {
    /// The `Client` document's name (for a file that belongs to no client: its file name).
    pub client: String,
    /// The file's path in the repository: `<artifactsPath>/<cluster>/<client>.age`.
    pub path: String,
    /// Why it changed, for the commit message and the report.
    pub reason: ChangeReason,
}

/// A client the credentials step could not fully serve in this run; the other clients go on.
#[derive(Debug, Clone, Serialize)]
pub struct ClientFailure {
    /// The `Client` document's name.
    pub client: String,
    /// What went wrong, worded about the client (e.g. its ServiceAccount does not exist).
    pub reason: String,
}

/// What the credentials step decided.
#[derive(Debug, Default)]
pub struct CredentialsOutcome {
    /// The client files to write (age ciphertext) or remove, all in one commit.
    pub edits: Vec<ArtifactEdit>,
    /// Why each file is written or removed, for the commit message and the report.
    pub changes: Vec<ClientChange>,
    /// Per-client problems; they do not stop the other clients.
    pub failures: Vec<ClientFailure>,
    /// Clients that are gone: their state Secret is deleted once the removal of their artifact is pushed.
    pub forget: Vec<String>,
    /// Tokens the TokenRequest API issued in this run (new clients, renewals, revocations).
    pub tokens_issued: usize,
    /// Clients whose ServiceAccount was re-created to void every token handed out before.
    pub revoked: Vec<String>,
}

impl CredentialsOutcome {
    /// The write-back commit's message: which clients and why.
    pub fn commit_message(&self, cluster: &str) -> String {
        let mut message = format!(
            "tollgate: client files for cluster {cluster} ({} changed)\n\n",
            self.changes.len()
        );
        for change in &self.changes {
            message.push_str(&format!("- {}: {}\n", change.client, change.reason));
        }
        message.push_str("\nThis commit touches only client files; it changes no access.\n");
        message
    }
}

/// What the credentials step works from: the validated model, the compiled objects, the times and the fetched tree.
pub struct CredentialsInput<'a> {
    /// The validated repository: clients, their owners and recipients, Settings.
    pub model: &'a AccessModel,
    /// The compiled objects; a revoked client's ServiceAccount is re-created from its manifest here.
    pub desired: &'a DesiredState,
    /// The Settings cluster (tollgate instance): labels the state Secrets and names the folder of its client files.
    pub cluster: &'a str,
    /// When grants, users and clients are evaluated (expiries, sunsets): `--now` or the clock.
    pub now: Timestamp,
    /// The real time, for tokens: when one was issued and whether it needs renewing.
    pub clock: Timestamp,
    /// The fetched tree's files (path -> blob id), to see what the repository holds now.
    pub tree: &'a BTreeMap<String, gix::ObjectId>,
}

/// Runs the credentials step; per-client problems are reported in the outcome, only state I/O failures abort.
pub async fn reconcile_credentials(
    cluster: &Cluster,
    input: &CredentialsInput<'_>,
) -> Result<CredentialsOutcome, CredentialsError> {
    let namespace = input.model.settings.clients_namespace.as_str();
    let store = Store {
        cluster,
        namespace,
        instance: input.cluster,
    };
    let shared = store.shared_state().await?;
    let stored = store.client_states().await?;
    let mut accounts = store.service_account_uids().await?;
    let settings_cluster = input.model.settings.clusters.get(input.cluster);

    let active: BTreeMap<&str, &Client> = input
        .model
        .clients
        .values()
        .filter(|c| input.model.client_is_live(c, input.cluster, input.now))
        .map(|c| (c.name.as_str(), c))
        .collect();

    // Ranges for VPN clients: the stored ones are kept, new clients get the lowest free range.
    let vpn_pool = settings_cluster.and_then(|c| c.gateway.as_ref().and(c.client_pool));
    let allocation = vpn_pool.map(|pool| {
        let existing = stored
            .iter()
            .filter_map(|(name, s)| Some((name.clone(), s.wireguard.as_ref()?.address)))
            .collect();
        let wanted = active
            .values()
            .filter(|c| c.vpn)
            .map(|c| c.name.clone())
            .collect();
        allocate(pool, &existing, &wanted)
    });

    // Who each client acts as: the same resolution the compiled impersonation rules come from.
    let subjects = SubjectResolver::new(input.model, input.cluster, input.now);
    let mut outcome = CredentialsOutcome::default();
    let mut saves: Vec<ClientState> = Vec::new();
    // Each client's state after this run (the stored one where this run could not serve it): the gateway's peers.
    let mut current: BTreeMap<String, ClientState> = stored.clone();
    let mut live_paths = BTreeSet::new();
    for client in active.values() {
        let path = artifact_path(input.model, input.cluster, &client.name);
        live_paths.insert(path.clone());
        let previous = stored.get(&client.name);
        let fail = |reason: String| ClientFailure {
            client: client.name.clone(),
            reason,
        };
        let recipients = client_recipients(input.model, client, input.now);
        let keys = recipient_keys(&recipients);
        let Some(mut uid) = accounts.get(&client.name).cloned() else {
            outcome.failures.push(fail(format!(
                "its ServiceAccount {namespace}/{} does not exist (did the apply fail?)",
                client.name
            )));
            continue;
        };
        let revoke = revocation_needed(previous, &keys);
        if revoke {
            match store
                .recreate_service_account(input.desired, &client.name, &uid)
                .await
            {
                Ok(new_uid) => {
                    uid = new_uid;
                    accounts.insert(client.name.clone(), uid.clone());
                    outcome.revoked.push(client.name.clone());
                }
                Err(reason) => {
                    outcome.failures.push(fail(format!(
                        "cannot revoke its tokens by re-creating its ServiceAccount: {reason}"
                    )));
                    continue;
                }
            }
        }

        // The token: kept while it is the current ServiceAccount's and has more than a third of its life left.
        let reusable = previous
            .filter(|p| !revoke && p.service_account_uid == uid && token_is_fresh(p, input.clock));
        let (token, issued, expires) = match reusable {
            Some(p) => (p.token.clone(), p.token_issued, p.token_expires),
            None => match store
                .request_token(&client.name, input.model.settings.token_lifetime)
                .await
            {
                Ok((token, expires)) => {
                    outcome.tokens_issued += 1;
                    (token, input.clock, expires)
                }
                Err(reason) => {
                    outcome
                        .failures
                        .push(fail(format!("cannot issue a token: {reason}")));
                    continue;
                }
            },
        };

        let wireguard_state = match (&allocation, client.vpn) {
            (Some(allocation), true) => match allocation.assigned.get(&client.name) {
                Some(address) => Some(WireGuardState {
                    private_key: client_private_key(previous, revoke),
                    address: *address,
                }),
                None => {
                    outcome.failures.push(fail(format!(
                        "the client pool of cluster {} is exhausted; no WireGuard range for it",
                        input.cluster
                    )));
                    continue;
                }
            },
            _ => None,
        };
        let file = ClientFile {
            format_version: CLIENT_FILE_FORMAT_VERSION,
            client: client.name.clone(),
            cluster: input.cluster.to_owned(),
            kubernetes: KubernetesAccess {
                server: settings_cluster
                    .map_or_else(|| cluster.server.clone(), |c| c.api_server.clone()),
                certificate_authority: cluster.certificate_authority.clone(),
                token: token.clone(),
                token_expires: expires.to_string(),
                default_namespace: client.default_namespace.clone(),
                impersonate: subjects.impersonation(client),
            },
            wireguard: wireguard_state.as_ref().and_then(|w| {
                let gateway = settings_cluster?.gateway.as_ref()?;
                Some(WireGuardAccess {
                    private_key: w.private_key.clone(),
                    address: w.address.to_string(),
                    gateway_public_key: shared.gateway_public_key()?,
                    endpoint: gateway.endpoint.clone(),
                    allowed_ips: gateway
                        .allowed_ips
                        .iter()
                        .map(std::string::ToString::to_string)
                        .collect(),
                    dns: gateway
                        .dns
                        .iter()
                        .map(std::string::ToString::to_string)
                        .collect(),
                })
            }),
        };
        let plaintext = file.to_json();
        let hmac = shared.plaintext_hmac(plaintext.as_bytes());
        let previous_artifact = previous.and_then(|p| p.published.as_ref());
        let published = match artifact_update(
            previous_artifact,
            &path,
            plaintext.as_bytes(),
            &hmac,
            &recipients,
            input.tree,
        ) {
            Ok(None) => previous_artifact
                .expect("only a published artifact can be current")
                .clone(),
            Ok(Some((edit, published))) => {
                if let Some(old) = previous_artifact
                    && old.path != path
                    && input.tree.contains_key(&old.path)
                {
                    outcome.edits.push(ArtifactEdit {
                        path: old.path.clone(),
                        content: None,
                    });
                }
                outcome.edits.push(edit);
                outcome.changes.push(ClientChange {
                    client: client.name.clone(),
                    path: path.clone(),
                    reason: change_reason(previous, &path, &hmac, &keys, revoke, &token),
                });
                published
            }
            Err(error) => {
                outcome
                    .failures
                    .push(fail(format!("cannot encrypt its file: {error}")));
                continue;
            }
        };
        let state = ClientState {
            format_version: STATE_FORMAT_VERSION,
            client: client.name.clone(),
            service_account_uid: uid,
            token,
            token_issued: issued,
            token_expires: expires,
            recipients: keys,
            wireguard: wireguard_state,
            published: Some(published),
        };
        if previous != Some(&state) {
            saves.push(state.clone());
        }
        current.insert(client.name.clone(), state);
    }

    // Clients that are gone (deleted, sunset, moved off this cluster): void their tokens now, even if apply's
    // prune did not get to their ServiceAccount, and remove their files.
    for (name, state) in &stored {
        if active.contains_key(name.as_str()) {
            continue;
        }
        if let Some(uid) = accounts.get(name)
            && let Err(reason) = store.delete_service_account(name, uid).await
        {
            outcome.failures.push(ClientFailure {
                client: name.clone(),
                reason: format!("cannot delete its ServiceAccount to revoke its tokens: {reason}"),
            });
            // Nothing changes for it until its tokens are void: its file stays, its state is kept.
            if let Some(published) = &state.published {
                live_paths.insert(published.path.clone());
            }
            continue;
        }
        // Still in the repository and on this cluster, but nobody left to read its file: say so.
        let orphaned = input
            .model
            .clients
            .get(name)
            .is_some_and(|c| c.is_active(input.now) && c.clusters.contains(input.cluster));
        if let Some(published) = &state.published
            && input.tree.contains_key(&published.path)
        {
            outcome.edits.push(ArtifactEdit {
                path: published.path.clone(),
                content: None,
            });
            outcome.changes.push(ClientChange {
                client: name.clone(),
                path: published.path.clone(),
                reason: if orphaned {
                    ChangeReason::NoRecipient
                } else {
                    ChangeReason::Deleted
                },
            });
            live_paths.insert(published.path.clone());
        }
        outcome.forget.push(name.clone());
    }
    // Files under this cluster's folder that belong to no client (e.g. published before the state was lost).
    let folder = format!("{}/{}/", input.model.settings.artifacts_path, input.cluster);
    for path in input.tree.keys() {
        if path.starts_with(&folder) && path.ends_with(".age") && !live_paths.contains(path) {
            let client = path[folder.len()..path.len() - ".age".len()].to_owned();
            outcome.edits.push(ArtifactEdit {
                path: path.clone(),
                content: None,
            });
            outcome.changes.push(ClientChange {
                client,
                path: path.clone(),
                reason: ChangeReason::Deleted,
            });
        }
    }

    for state in &saves {
        store.save_client_state(state).await?;
    }
    // The gateway's peers follow the saved states: a new client's key, a revoked client's new key, and no peer
    // for a client that is gone, so revocation reaches the tunnel in the same reconcile.
    if let (Some(pool), Some(gateway)) =
        (vpn_pool, settings_cluster.and_then(|c| c.gateway.as_ref()))
    {
        // Where each client may go through the tunnel: where its identities are bound, in the compiled bindings.
        let reach_of = |name: &str| {
            let acts_as = active.get(name).and_then(|c| subjects.impersonation(c));
            reach(
                input.desired,
                &Identities {
                    namespace: namespace.to_owned(),
                    service_account: name.to_owned(),
                    user: acts_as.as_ref().map(|i| i.user.clone()),
                    groups: acts_as.map(|i| i.groups).unwrap_or_default(),
                },
            )
        };
        let list = peer_list(
            input.cluster,
            pool,
            gateway,
            current
                .values()
                .filter(|s| active.get(s.client.as_str()).is_some_and(|c| c.vpn)),
            reach_of,
        );
        publish_peers(cluster, namespace, &list, &shared.gateway_private_key).await?;
    }
    Ok(outcome)
}

/// Deletes the state of clients that are gone, after the removal of their files was pushed; their ranges return
/// to the pool.
pub async fn forget_clients(
    cluster: &Cluster,
    model: &AccessModel,
    instance: &str,
    clients: &[String],
) -> Result<(), CredentialsError> {
    let store = Store {
        cluster,
        namespace: &model.settings.clients_namespace,
        instance,
    };
    for client in clients {
        store.delete_client_state(client).await?;
    }
    Ok(())
}
