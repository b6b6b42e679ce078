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
use std::num::NonZeroUsize;

use futures::{StreamExt as _, TryStreamExt as _};

use jiff::Timestamp;
use rayon::prelude::*;
use serde::Serialize;

use super::addresses::{Allocation, allocate};
use super::client_file::{
    CLIENT_FILE_FORMAT_VERSION, ClientFile, KubernetesAccess, WireGuardAccess,
};
use super::index::{
    ChangeReason, artifact_path, artifact_update, change_reason, client_recipients,
};
use super::peers::{peer_list, publish_peers};
use super::revocation::{client_private_key, revocation_needed};
use super::state::{
    ClientState, STATE_FORMAT_VERSION, SharedState, WireGuardState, recipient_keys,
};
use super::store::{CredentialsError, Store};
use super::tokens::token_is_fresh;
use crate::cluster::Cluster;
use crate::compile::subjects::{Impersonation, SubjectResolver};
use crate::git::ArtifactEdit;
use crate::objects::DesiredState;
use crate::validate::model::{AccessModel, Client, Recipient};
use crate::wireguard::reach::{Grants, Identities, Reach};

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
    /// API requests in flight at once (`--concurrency`); each is also paced by the connection's `--qps`.
    pub concurrency: NonZeroUsize,
    /// Counts the clients whose token is settled, then whose file is built; `ProgressBar::hidden()` shows nothing.
    pub progress: &'a indicatif::ProgressBar,
}

/// A client the credentials step serves in this run, with what was decided about it before any request.
struct Pending<'a> {
    client: &'a Client,
    /// Its file's path in the repository.
    path: String,
    /// Its stored state, if any.
    previous: Option<&'a ClientState>,
    /// Who its file is encrypted to.
    recipients: Vec<Recipient>,
    /// The recipients' keys, sorted: what the state records.
    keys: Vec<String>,
    /// Its ServiceAccount's uid before this run.
    uid: String,
    /// Whether its tokens must be voided (a recipient left): its ServiceAccount is re-created.
    revoke: bool,
    /// Who it acts as, resolved here because the resolver is not shared between threads.
    impersonate: Option<Impersonation>,
}

/// A client's ServiceAccount and token after the API requests of this run.
struct Issued {
    /// The ServiceAccount's uid (a new one when it was re-created).
    uid: String,
    token: String,
    issued: Timestamp,
    expires: Timestamp,
    /// Whether the TokenRequest API issued the token in this run.
    new_token: bool,
}

/// Re-creates a client's ServiceAccount when its tokens must be voided, then keeps its token while it is the
/// current ServiceAccount's and has more than a third of its life left, or asks for a new one. `Err` says why the
/// client cannot be served; a failed token request after a re-creation still reports the new uid.
async fn issue(
    store: &Store<'_>,
    input: &CredentialsInput<'_>,
    p: &Pending<'_>,
) -> Result<Issued, (String, Option<String>)> {
    let mut uid = p.uid.clone();
    if p.revoke {
        uid = store
            .recreate_service_account(input.desired, &p.client.name, &uid)
            .await
            .map_err(|reason| {
                (
                    format!("cannot revoke its tokens by re-creating its ServiceAccount: {reason}"),
                    None,
                )
            })?;
    }
    let reusable = p.previous.filter(|prev| {
        !p.revoke && prev.service_account_uid == uid && token_is_fresh(prev, input.clock)
    });
    if let Some(prev) = reusable {
        return Ok(Issued {
            uid,
            token: prev.token.clone(),
            issued: prev.token_issued,
            expires: prev.token_expires,
            new_token: false,
        });
    }
    match store
        .request_token(&p.client.name, input.model.settings.token_lifetime)
        .await
    {
        Ok((token, expires)) => Ok(Issued {
            uid,
            token,
            issued: input.clock,
            expires,
            new_token: true,
        }),
        Err(reason) => Err((
            format!("cannot issue a token: {reason}"),
            p.revoke.then_some(uid),
        )),
    }
}

/// What every client file is built from besides the client itself.
struct FileContext<'a> {
    input: &'a CredentialsInput<'a>,
    /// The API server URL client files name.
    server: String,
    certificate_authority: &'a str,
    allocation: Option<&'a Allocation>,
    shared: &'a SharedState,
}

/// A client's file, encrypted, and its new state.
struct Sealed {
    state: ClientState,
    /// The HMAC of the plaintext, which the state's index records.
    hmac: String,
    /// The file to write; `None` when the published one is current.
    edit: Option<ArtifactEdit>,
    /// The client's previous file, when it moved (a renamed cluster folder) and is still in the tree.
    previous_path_removed: Option<String>,
}

impl FileContext<'_> {
    /// Builds a client's file and encrypts it to its recipients, unless the published one is current. Pure CPU.
    fn seal(&self, p: &Pending<'_>, issued: &Issued) -> Result<Sealed, String> {
        let input = self.input;
        let settings_cluster = input.model.settings.clusters.get(input.cluster);
        let wireguard_state = match (self.allocation, p.client.vpn) {
            (Some(allocation), true) => match allocation.assigned.get(&p.client.name) {
                Some(address) => Some(WireGuardState {
                    private_key: client_private_key(p.previous, p.revoke),
                    address: *address,
                }),
                None => {
                    return Err(format!(
                        "the client pool of cluster {} is exhausted; no WireGuard range for it",
                        input.cluster
                    ));
                }
            },
            _ => None,
        };
        let file = ClientFile {
            format_version: CLIENT_FILE_FORMAT_VERSION,
            client: p.client.name.clone(),
            cluster: input.cluster.to_owned(),
            kubernetes: KubernetesAccess {
                server: self.server.clone(),
                certificate_authority: self.certificate_authority.to_owned(),
                token: issued.token.clone(),
                token_expires: issued.expires.to_string(),
                default_namespace: p.client.default_namespace.clone(),
                impersonate: p.impersonate.clone(),
            },
            wireguard: wireguard_state.as_ref().and_then(|w| {
                let gateway = settings_cluster?.gateway.as_ref()?;
                Some(WireGuardAccess {
                    private_key: w.private_key.clone(),
                    address: w.address.to_string(),
                    gateway_public_key: self.shared.gateway_public_key()?,
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
        let hmac = self.shared.plaintext_hmac(plaintext.as_bytes());
        let previous_artifact = p.previous.and_then(|prev| prev.published.as_ref());
        let (published, edit, previous_path_removed) = match artifact_update(
            previous_artifact,
            &p.path,
            plaintext.as_bytes(),
            &hmac,
            &p.recipients,
            input.tree,
        ) {
            Ok(None) => (
                previous_artifact
                    .expect("only a published artifact can be current")
                    .clone(),
                None,
                None,
            ),
            Ok(Some((edit, published))) => {
                let moved = previous_artifact
                    .filter(|old| old.path != p.path && input.tree.contains_key(&old.path))
                    .map(|old| old.path.clone());
                (published, Some(edit), moved)
            }
            Err(error) => return Err(format!("cannot encrypt its file: {error}")),
        };
        Ok(Sealed {
            state: ClientState {
                format_version: STATE_FORMAT_VERSION,
                client: p.client.name.clone(),
                service_account_uid: issued.uid.clone(),
                token: issued.token.clone(),
                token_issued: issued.issued,
                token_expires: issued.expires,
                recipients: p.keys.clone(),
                wireguard: wireguard_state,
                published: Some(published),
            },
            hmac,
            edit,
            previous_path_removed,
        })
    }
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

    // 1. Per client, what it needs (pure): its file's path, recipients, ServiceAccount and whether its tokens must
    //    be voided.
    let mut pending = Vec::with_capacity(active.len());
    for client in active.values() {
        let path = artifact_path(input.model, input.cluster, &client.name);
        live_paths.insert(path.clone());
        let previous = stored.get(&client.name);
        let recipients = client_recipients(input.model, client, input.now);
        let keys = recipient_keys(&recipients);
        let Some(uid) = accounts.get(&client.name).cloned() else {
            outcome.failures.push(ClientFailure {
                client: client.name.clone(),
                reason: format!(
                    "its ServiceAccount {namespace}/{} does not exist (did the apply fail?)",
                    client.name
                ),
            });
            continue;
        };
        let revoke = revocation_needed(previous, &keys);
        pending.push(Pending {
            client,
            path,
            previous,
            recipients,
            keys,
            uid,
            revoke,
            impersonate: subjects.impersonation(client),
        });
    }

    // 2. The API requests (re-created ServiceAccounts, new tokens), `concurrency` in flight, each paced by the
    //    connection's rate limit; results come back in client order.
    let store = &store;
    input.progress.set_length(pending.len() as u64);
    input.progress.set_message("tokens");
    let tokens: Vec<Result<Issued, (String, Option<String>)>> =
        futures::stream::iter(pending.iter())
            .map(|p| async move {
                let issued = issue(store, input, p).await;
                input.progress.inc(1);
                issued
            })
            .buffered(input.concurrency.get())
            .collect()
            .await;

    // 3. The client files (pure CPU: HMAC and age encryption to each recipient), on every core.
    let mut ready = Vec::with_capacity(pending.len());
    for (p, issued) in pending.iter().zip(tokens) {
        let new_uid = match &issued {
            Ok(issued) => p.revoke.then(|| issued.uid.clone()),
            Err((_, new_uid)) => new_uid.clone(),
        };
        if let Some(uid) = new_uid {
            accounts.insert(p.client.name.clone(), uid);
            outcome.revoked.push(p.client.name.clone());
        }
        match issued {
            Ok(issued) => {
                if issued.new_token {
                    outcome.tokens_issued += 1;
                }
                ready.push((p, issued));
            }
            Err((reason, _)) => outcome.failures.push(ClientFailure {
                client: p.client.name.clone(),
                reason,
            }),
        }
    }
    let context = FileContext {
        input,
        server: settings_cluster.map_or_else(|| cluster.server.clone(), |c| c.api_server.clone()),
        certificate_authority: &cluster.certificate_authority,
        allocation: allocation.as_ref(),
        shared: &shared,
    };
    input.progress.set_position(0);
    input.progress.set_length(ready.len() as u64);
    input.progress.set_message("client files");
    let sealed = tokio::task::block_in_place(|| {
        // On every core: encrypting a thousand files to RSA and X25519 recipients is CPU-bound work.
        ready
            .par_iter()
            .map(|(p, issued)| {
                let sealed = context.seal(p, issued);
                input.progress.inc(1);
                sealed
            })
            .collect::<Vec<_>>()
    });

    // 4. The outcome in client order: edits, changes, and the states to save.
    for ((p, _), result) in ready.iter().zip(sealed) {
        let Sealed {
            state,
            hmac,
            edit,
            previous_path_removed,
        } = match result {
            Ok(sealed) => sealed,
            Err(reason) => {
                outcome.failures.push(ClientFailure {
                    client: p.client.name.clone(),
                    reason,
                });
                continue;
            }
        };
        if let Some(old) = previous_path_removed {
            outcome.edits.push(ArtifactEdit {
                path: old,
                content: None,
            });
        }
        if let Some(edit) = edit {
            outcome.edits.push(edit);
            outcome.changes.push(ClientChange {
                client: p.client.name.clone(),
                path: p.path.clone(),
                reason: change_reason(p.previous, &p.path, &hmac, &p.keys, p.revoke, &state.token),
            });
        }
        if p.previous != Some(&state) {
            saves.push(state.clone());
        }
        current.insert(p.client.name.clone(), state);
    }

    // One failure at most per client, reported in client order whichever phase it came from.
    outcome.failures.sort_by(|a, b| a.client.cmp(&b.client));

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

    // 5. The new states, saved before the push (see the top of this file), `concurrency` at a time.
    futures::stream::iter(saves.iter())
        .map(|state| store.save_client_state(state))
        .buffer_unordered(input.concurrency.get())
        .try_collect::<()>()
        .await?;
    // The gateway's peers follow the saved states: a new client's key, a revoked client's new key, and no peer
    // for a client that is gone, so revocation reaches the tunnel in the same reconcile.
    if let (Some(pool), Some(gateway)) =
        (vpn_pool, settings_cluster.and_then(|c| c.gateway.as_ref()))
    {
        // Where each client may go through the tunnel: where its identities are bound, in the compiled bindings.
        let peers: Vec<&ClientState> = current
            .values()
            .filter(|s| active.get(s.client.as_str()).is_some_and(|c| c.vpn))
            .collect();
        let identities: BTreeMap<&str, Identities> = peers
            .iter()
            .map(|s| {
                let name = s.client.as_str();
                let acts_as = active.get(name).and_then(|c| subjects.impersonation(c));
                let who = Identities {
                    namespace: namespace.to_owned(),
                    service_account: name.to_owned(),
                    user: acts_as.as_ref().map(|i| i.user.clone()),
                    groups: acts_as.map(|i| i.groups).unwrap_or_default(),
                };
                (name, who)
            })
            .collect();
        let grants = Grants::of(input.desired, identities.values());
        // Every peer's identities are in the map; a name that were not would reach nothing.
        let reach_of = |name: &str| {
            identities.get(name).map_or_else(
                || Reach::Namespaces(BTreeSet::new()),
                |who| grants.reach(who),
            )
        };
        let list = peer_list(input.cluster, pool, gateway, peers, reach_of);
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
