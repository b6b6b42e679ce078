//! The credentials step of a reconcile, run after apply has created the clients' ServiceAccounts: issue, renew and
//! revoke tokens, keep WireGuard keys and ranges, and decide which client files to (re)publish. The result is a
//! list of artifact edits for the Git edge; nothing here touches Git.
//!
//! Order matters for crash safety: the new state (tokens, keys, and the publish index naming the ciphertext's blob
//! id) is saved before the push. A crash after the save but before the push leaves a state whose blob is not in
//! the tree, so the next run publishes again; a crash after the push finds the blob in place and does nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use serde::Serialize;

use super::addresses::allocate;
use super::client_file::{
    CLIENT_FILE_FORMAT_VERSION, ClientFile, KubernetesAccess, WireGuardAccess,
};
use super::seal::{SealError, seal};
use super::state::{
    CREDENTIALS_LABEL, ClientState, PublishedArtifact, SHARED_SECRET, STATE_FORMAT_VERSION,
    STATE_KEY, SharedState, WireGuardState, client_secret_name, generate_private_key,
    recipient_keys,
};
use crate::cluster::{Cluster, describe, status_code};
use crate::compile::sessions::CLIENT_LABEL;
use crate::git::{ArtifactEdit, blob_id};
use crate::objects::{
    DesiredState, INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, ObjectKey, ObjectKind,
};
use crate::validate::model::{AccessModel, Client, Recipient};

const FIELD_MANAGER: &str = "tollgate";

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials Secret {namespace}/{name}: {reason}")]
    ReadState {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error(
        "the credentials Secret {namespace}/{name} is unusable ({reason}); nothing was published"
    )]
    BadState {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error(
        "cannot save the credentials Secret {namespace}/{name}: {reason}; nothing was published"
    )]
    WriteState {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("cannot list the clients' ServiceAccounts in {namespace}: {reason}")]
    ListServiceAccounts { namespace: String, reason: String },
}

/// Why a client's file changed, for the commit message and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeReason {
    Created,
    /// The token was near its expiry, or its ServiceAccount was re-created.
    TokenRenewed,
    /// A recipient was removed: every earlier token was revoked and the WireGuard key rotated.
    Revoked,
    RecipientsAdded,
    /// Other content changed (namespace, server, VPN settings).
    Updated,
    /// The artifact in the repository was missing or not what tollgate published.
    Restored,
    Deleted,
}

impl fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeReason::Created => "created",
            ChangeReason::TokenRenewed => "token renewed",
            ChangeReason::Revoked => "recipient removed: old tokens revoked, keys rotated",
            ChangeReason::RecipientsAdded => "recipients added",
            ChangeReason::Updated => "updated",
            ChangeReason::Restored => "restored (the repository's copy was missing or edited)",
            ChangeReason::Deleted => "deleted",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientChange {
    pub client: String,
    pub path: String,
    pub reason: ChangeReason,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientFailure {
    pub client: String,
    pub reason: String,
}

/// What the credentials step decided.
#[derive(Debug, Default)]
pub struct CredentialsOutcome {
    pub edits: Vec<ArtifactEdit>,
    pub changes: Vec<ClientChange>,
    pub failures: Vec<ClientFailure>,
    /// Clients that are gone: their state Secret is deleted once the removal of their artifact is pushed.
    pub forget: Vec<String>,
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

/// Where a client's file lives in the repository.
pub fn artifact_path(model: &AccessModel, cluster: &str, client: &str) -> String {
    format!("{}/{cluster}/{client}.age", model.settings.artifacts_path)
}

/// Who may read a client's file: its active owners' keys and its extra recipients.
pub fn client_recipients(model: &AccessModel, client: &Client, now: Timestamp) -> Vec<Recipient> {
    let mut recipients: Vec<Recipient> = client
        .owners
        .iter()
        .filter_map(|owner| model.users.get(owner))
        .filter(|user| user.is_active(now))
        .flat_map(|user| user.recipients.iter().cloned())
        .chain(client.recipients.iter().cloned())
        .collect();
    recipients.sort();
    recipients.dedup();
    recipients
}

pub struct CredentialsInput<'a> {
    pub model: &'a AccessModel,
    pub desired: &'a DesiredState,
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
        .filter(|c| c.is_active(input.now) && c.clusters.contains(input.cluster))
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

    let mut outcome = CredentialsOutcome::default();
    let mut saves: Vec<ClientState> = Vec::new();
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
        let lost_recipient =
            previous.is_some_and(|p| p.recipients.iter().any(|key| !keys.contains(key)));
        if recipients.is_empty() {
            outcome.failures.push(fail(
                "no active owner or recipient is left to encrypt its file to: nothing is published for it, and \
                 tokens handed out before are revoked"
                    .into(),
            ));
        }
        let Some(mut uid) = accounts.get(&client.name).cloned() else {
            outcome.failures.push(fail(format!(
                "its ServiceAccount {namespace}/{} does not exist (did the apply fail?)",
                client.name
            )));
            continue;
        };
        let revoke = lost_recipient || (recipients.is_empty() && previous.is_some());
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
        if recipients.is_empty() {
            if input.tree.contains_key(&path) {
                outcome.edits.push(ArtifactEdit {
                    path: path.clone(),
                    content: None,
                });
                outcome.changes.push(ClientChange {
                    client: client.name.clone(),
                    path,
                    reason: ChangeReason::Revoked,
                });
            }
            outcome.forget.push(client.name.clone());
            continue;
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
                    private_key: previous
                        .and_then(|p| p.wireguard.as_ref())
                        .filter(|_| !revoke)
                        .map(|w| w.private_key.clone())
                        .unwrap_or_else(generate_private_key),
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
                    .map(|c| c.api_server.clone())
                    .unwrap_or_else(|| cluster.server.clone()),
                certificate_authority: cluster.certificate_authority.clone(),
                token: token.clone(),
                token_expires: expires.to_string(),
                default_namespace: client.default_namespace.clone(),
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
                        .map(|ip| ip.to_string())
                        .collect(),
                    dns: gateway.dns.iter().map(|ip| ip.to_string()).collect(),
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
            saves.push(state);
        }
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
            continue;
        }
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
                reason: ChangeReason::Deleted,
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

/// The no-churn rule. The repository's copy of an artifact is current while its plaintext's HMAC, its recipients
/// and the blob in the tree are what was last published; then `None`. Otherwise the plaintext is encrypted again
/// and the edit comes back with the index entry that describes it.
pub fn artifact_update(
    previous: Option<&PublishedArtifact>,
    path: &str,
    plaintext: &[u8],
    hmac: &str,
    recipients: &[Recipient],
    tree: &BTreeMap<String, gix::ObjectId>,
) -> Result<Option<(ArtifactEdit, PublishedArtifact)>, SealError> {
    let keys = recipient_keys(recipients);
    let in_tree = tree.get(path).map(|id| id.to_string());
    let current = previous.is_some_and(|published| {
        published.path == path
            && published.hmac == hmac
            && published.recipients == keys
            && in_tree.as_deref() == Some(published.blob.as_str())
    });
    if current {
        return Ok(None);
    }
    let armored = seal(plaintext, recipients)?;
    let published = PublishedArtifact {
        path: path.to_owned(),
        hmac: hmac.to_owned(),
        recipients: keys,
        blob: blob_id(armored.as_bytes()).to_string(),
    };
    let edit = ArtifactEdit {
        path: path.to_owned(),
        content: Some(armored.into_bytes()),
    };
    Ok(Some((edit, published)))
}

/// A token is renewed when less than a third of its life is left.
fn token_is_fresh(state: &ClientState, now: Timestamp) -> bool {
    let life = state.token_expires.duration_since(state.token_issued);
    let left = state.token_expires.duration_since(now);
    left > life / 3
}

fn change_reason(
    previous: Option<&ClientState>,
    path: &str,
    hmac: &str,
    keys: &[String],
    revoked: bool,
    token: &str,
) -> ChangeReason {
    let Some(previous) = previous else {
        return ChangeReason::Created;
    };
    if revoked {
        return ChangeReason::Revoked;
    }
    let Some(published) = &previous.published else {
        return ChangeReason::Created;
    };
    if published.recipients != keys {
        ChangeReason::RecipientsAdded
    } else if previous.token != token {
        ChangeReason::TokenRenewed
    } else if published.hmac != hmac || published.path != path {
        ChangeReason::Updated
    } else {
        ChangeReason::Restored
    }
}

/// The kube I/O of the credentials step, in the clients namespace.
struct Store<'a> {
    cluster: &'a Cluster,
    namespace: &'a str,
    instance: &'a str,
}

impl Store<'_> {
    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.cluster.kube(), self.namespace)
    }

    fn service_accounts(&self) -> Api<ServiceAccount> {
        Api::namespaced(self.cluster.kube(), self.namespace)
    }

    fn read_error(&self, name: &str, error: &kube::Error) -> CredentialsError {
        CredentialsError::ReadState {
            namespace: self.namespace.to_owned(),
            name: name.to_owned(),
            reason: describe(error),
        }
    }

    fn bad_state(&self, name: &str, reason: String) -> CredentialsError {
        CredentialsError::BadState {
            namespace: self.namespace.to_owned(),
            name: name.to_owned(),
            reason,
        }
    }

    /// The instance's shared state, generated and saved on first use. Creation is a plain create, so two
    /// replicas racing cannot both win with different keys.
    async fn shared_state(&self) -> Result<SharedState, CredentialsError> {
        self.cluster.paced().await;
        match self.secrets().get_opt(SHARED_SECRET).await {
            Ok(Some(secret)) => {
                let state: SharedState = self.decode(SHARED_SECRET, &secret)?;
                state
                    .check()
                    .map_err(|reason| self.bad_state(SHARED_SECRET, reason))?;
                Ok(state)
            }
            Ok(None) => {
                let state = SharedState::generate();
                let secret = self.secret(SHARED_SECRET, "shared", None, &state);
                self.cluster.paced().await;
                match self.secrets().create(&PostParams::default(), &secret).await {
                    Ok(_) => Ok(state),
                    Err(error) if status_code(&error) == Some(409) => {
                        Box::pin(self.shared_state()).await
                    }
                    Err(error) => Err(CredentialsError::WriteState {
                        namespace: self.namespace.to_owned(),
                        name: SHARED_SECRET.to_owned(),
                        reason: describe(&error),
                    }),
                }
            }
            Err(error) => Err(self.read_error(SHARED_SECRET, &error)),
        }
    }

    /// Every client's stored state (one LIST).
    async fn client_states(&self) -> Result<BTreeMap<String, ClientState>, CredentialsError> {
        self.cluster.paced().await;
        let selector = format!(
            "{CREDENTIALS_LABEL}=client,{INSTANCE_LABEL}={}",
            self.instance
        );
        let list = self
            .secrets()
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|error| self.read_error("(client states)", &error))?;
        let mut states = BTreeMap::new();
        for secret in list.items {
            let name = secret.metadata.name.clone().unwrap_or_default();
            let state: ClientState = self.decode(&name, &secret)?;
            if state.format_version != STATE_FORMAT_VERSION {
                return Err(
                    self.bad_state(&name, format!("format version {}", state.format_version))
                );
            }
            states.insert(state.client.clone(), state);
        }
        Ok(states)
    }

    /// The uid of every client ServiceAccount of this instance (one LIST).
    async fn service_account_uids(&self) -> Result<BTreeMap<String, String>, CredentialsError> {
        self.cluster.paced().await;
        let selector = format!(
            "{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{INSTANCE_LABEL}={},{CLIENT_LABEL}",
            self.instance
        );
        let list = self
            .service_accounts()
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|error| CredentialsError::ListServiceAccounts {
                namespace: self.namespace.to_owned(),
                reason: describe(&error),
            })?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|sa| Some((sa.metadata.name?, sa.metadata.uid?)))
            .collect())
    }

    async fn request_token(
        &self,
        client: &str,
        lifetime: SignedDuration,
    ) -> Result<(String, Timestamp), String> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(lifetime.as_secs()),
                ..TokenRequestSpec::default()
            },
            ..TokenRequest::default()
        };
        self.cluster.paced().await;
        let response = self
            .service_accounts()
            .create_token_request(client, &PostParams::default(), &request)
            .await
            .map_err(|error| describe(&error))?;
        let status = response
            .status
            .ok_or("the API server returned no token status")?;
        Ok((status.token, status.expiration_timestamp.0))
    }

    async fn delete_service_account(&self, name: &str, uid: &str) -> Result<(), String> {
        self.cluster.paced().await;
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self.service_accounts().delete(name, &params).await {
            Ok(_) => Ok(()),
            Err(error) if status_code(&error) == Some(404) => Ok(()),
            Err(error) => Err(describe(&error)),
        }
    }

    /// Tokens are bound to their ServiceAccount's uid: deleting the account and creating it again voids every
    /// token issued before. Returns the new uid.
    async fn recreate_service_account(
        &self,
        desired: &DesiredState,
        name: &str,
        uid: &str,
    ) -> Result<String, String> {
        let key = ObjectKey::namespaced(ObjectKind::ServiceAccount, self.namespace, name);
        let manifest = desired
            .objects
            .get(&key)
            .ok_or_else(|| format!("{key} is not in the desired state"))?;
        self.delete_service_account(name, uid).await?;
        self.cluster.paced().await;
        let created = self
            .service_accounts()
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(manifest),
            )
            .await
            .map_err(|error| describe(&error))?;
        created
            .metadata
            .uid
            .ok_or_else(|| "the re-created ServiceAccount has no uid".to_owned())
    }

    async fn save_client_state(&self, state: &ClientState) -> Result<(), CredentialsError> {
        let name = client_secret_name(&state.client);
        let secret = self.secret(&name, "client", Some(&state.client), state);
        self.cluster.paced().await;
        self.secrets()
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await
            .map_err(|error| CredentialsError::WriteState {
                namespace: self.namespace.to_owned(),
                name: name.clone(),
                reason: describe(&error),
            })?;
        Ok(())
    }

    async fn delete_client_state(&self, client: &str) -> Result<(), CredentialsError> {
        let name = client_secret_name(client);
        self.cluster.paced().await;
        match self.secrets().delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(error) if status_code(&error) == Some(404) => Ok(()),
            Err(error) => Err(CredentialsError::WriteState {
                namespace: self.namespace.to_owned(),
                name,
                reason: describe(&error),
            }),
        }
    }

    fn secret(
        &self,
        name: &str,
        role: &str,
        client: Option<&str>,
        state: &impl Serialize,
    ) -> Secret {
        let mut labels = BTreeMap::from([
            (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (INSTANCE_LABEL.to_owned(), self.instance.to_owned()),
            (CREDENTIALS_LABEL.to_owned(), role.to_owned()),
        ]);
        if let Some(client) = client {
            labels.insert(CLIENT_LABEL.to_owned(), client.to_owned());
        }
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(self.namespace.to_owned()),
                labels: Some(labels),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(
                STATE_KEY.to_owned(),
                ByteString(serde_json::to_vec(state).expect("state serializes to JSON")),
            )])),
            ..Secret::default()
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        secret: &Secret,
    ) -> Result<T, CredentialsError> {
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(STATE_KEY))
            .ok_or_else(|| self.bad_state(name, format!("it has no `{STATE_KEY}`")))?;
        serde_json::from_slice(&bytes.0).map_err(|error| self.bad_state(name, error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(issued: &str, expires: &str) -> ClientState {
        ClientState {
            format_version: STATE_FORMAT_VERSION,
            client: "c".into(),
            service_account_uid: "u".into(),
            token: "t".into(),
            token_issued: issued.parse().expect("timestamp"),
            token_expires: expires.parse().expect("timestamp"),
            recipients: vec![],
            wireguard: None,
            published: None,
        }
    }

    #[test]
    fn a_token_is_renewed_when_a_third_of_its_life_is_left() {
        let token = state("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z");
        let at = |t: &str| token_is_fresh(&token, t.parse().expect("timestamp"));
        assert!(at("2026-11-01T00:00:00Z"));
        assert!(at("2026-11-01T01:59:00Z"));
        assert!(!at("2026-11-01T02:00:00Z"));
        assert!(!at("2026-11-01T04:00:00Z"));
    }
}
