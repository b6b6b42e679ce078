//! The kube I/O of the credentials step, in the clients namespace: the shared state Secret, one state Secret per
//! client, and the clients' ServiceAccounts. What a token or a revocation does with them lives in
//! [`super::tokens`] and [`super::revocation`], as further `impl Store` blocks.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::Serialize;

use super::state::{
    CREDENTIALS_LABEL, ClientState, SHARED_SECRET, STATE_FORMAT_VERSION, STATE_KEY, SharedState,
    client_secret_name,
};
use crate::cluster::{Cluster, describe, status_code};
use crate::objects::{CLIENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE};

pub(super) use crate::objects::FIELD_MANAGER;

/// Why the credentials step failed as a whole: its state Secrets or the clients' ServiceAccounts could not be read
/// or written. Problems of a single client are not errors; they are reported per client.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The GET of the shared state Secret or the LIST of the client state Secrets failed.
    #[error("cannot read the credentials Secret {namespace}/{name}: {reason}")]
    ReadState {
        /// The clients namespace.
        namespace: String,
        /// The Secret's name; `tollgate-client-*` for the LIST of the clients' states.
        name: String,
        /// The API server's answer.
        reason: String,
    },
    /// A state Secret exists but cannot be used: no `state.json`, not the expected JSON, another format version,
    /// or (the shared one) a bad HMAC or gateway key.
    #[error(
        "the credentials Secret {namespace}/{name} is unusable ({reason}); nothing was published"
    )]
    BadState {
        /// The clients namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// What is wrong with its content.
        reason: String,
    },
    /// Creating the shared state Secret, saving a client's (server-side apply) or deleting a gone client's failed.
    #[error(
        "cannot save the credentials Secret {namespace}/{name}: {reason}; nothing was published"
    )]
    WriteState {
        /// The clients namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// The API server's answer.
        reason: String,
    },
    /// The LIST of this instance's client ServiceAccounts (for their uids) failed.
    #[error("cannot list the clients' ServiceAccounts in {namespace}: {reason}")]
    ListServiceAccounts {
        /// The clients namespace.
        namespace: String,
        /// The API server's answer.
        reason: String,
    },
}

/// The kube I/O of the credentials step, in the clients namespace.
pub(super) struct Store<'a> {
    pub(super) cluster: &'a Cluster,
    pub(super) namespace: &'a str,
    pub(super) instance: &'a str,
}

impl Store<'_> {
    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.cluster.kube(), self.namespace)
    }

    pub(super) fn service_accounts(&self) -> Api<ServiceAccount> {
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
    pub(super) async fn shared_state(&self) -> Result<SharedState, CredentialsError> {
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
    pub(super) async fn client_states(
        &self,
    ) -> Result<BTreeMap<String, ClientState>, CredentialsError> {
        let selector = format!(
            "{CREDENTIALS_LABEL}=client,{INSTANCE_LABEL}={}",
            self.instance
        );
        let secrets = self
            .list(self.secrets(), &selector)
            .await
            .map_err(|error| self.read_error("tollgate-client-*", &error))?;
        let mut states = BTreeMap::new();
        for secret in secrets {
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
    pub(super) async fn service_account_uids(
        &self,
    ) -> Result<BTreeMap<String, String>, CredentialsError> {
        let selector = format!(
            "{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{INSTANCE_LABEL}={},{CLIENT_LABEL}",
            self.instance
        );
        let accounts = self
            .list(self.service_accounts(), &selector)
            .await
            .map_err(|error| CredentialsError::ListServiceAccounts {
                namespace: self.namespace.to_owned(),
                reason: describe(&error),
            })?;
        Ok(accounts
            .into_iter()
            .filter_map(|sa| Some((sa.metadata.name?, sa.metadata.uid?)))
            .collect())
    }

    /// One paced, unpaged LIST of the objects of `api` (in the clients namespace) that match a label selector.
    async fn list<K>(&self, api: Api<K>, selector: &str) -> Result<Vec<K>, kube::Error>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        self.cluster.paced().await;
        Ok(api
            .list(&ListParams::default().labels(selector))
            .await?
            .items)
    }

    pub(super) async fn save_client_state(
        &self,
        state: &ClientState,
    ) -> Result<(), CredentialsError> {
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

    pub(super) async fn delete_client_state(&self, client: &str) -> Result<(), CredentialsError> {
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

/// Every client state of the tollgate instance `instance` (a Settings cluster) in `namespace`, by client name, for
/// `tollgate clients`: one LIST. The states hold tokens; callers show only what [`super::listing`] takes from them.
///
/// Errors: [`CredentialsError::ReadState`] when the LIST fails (e.g. 403 for someone who may not read the clients
/// namespace's Secrets), [`CredentialsError::BadState`] for a state of another format.
pub async fn read_client_states(
    cluster: &Cluster,
    namespace: &str,
    instance: &str,
) -> Result<BTreeMap<String, ClientState>, CredentialsError> {
    Store {
        cluster,
        namespace,
        instance,
    }
    .client_states()
    .await
}
