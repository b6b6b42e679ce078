//! What `tollgate clients` and `tollgate client inspect` show: every client in every cluster, its owners and
//! recipients, and the state of its credentials with the reason for it, from the repository and (when the cluster
//! could be read) the instance's state Secrets. Pure: the edge reads the Secrets and the Git history.
//!
//! A state Secret holds a token; only [`StateSummary`] (times, range, uid, path) is taken from it, so nothing
//! printed here can carry a secret.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::index::{artifact_path, client_recipients};
use super::state::{ClientState, recipient_keys};
use crate::compile::subjects::{Impersonation, SubjectResolver};
use crate::git::CommitSummary;
use crate::validate::model::{AccessModel, Client};

/// Where a client's credentials stand in one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ClientStatus {
    /// In the repository, but no token or file yet: the next reconcile creates them.
    #[serde(rename = "pending")]
    Pending,
    /// A token is issued and the client file is published.
    #[serde(rename = "issued")]
    Issued,
    /// The client is gone from the repository or from this cluster while its credentials are still there: the
    /// next reconcile deletes its ServiceAccount (voiding every token) and removes its file.
    #[serde(rename = "revoked")]
    Revoked,
    /// Its `sunset` has passed: it compiles to nothing, its credentials are (or are being) removed.
    #[serde(rename = "sunset")]
    Sunset,
    /// No owner is active with a key and no extra recipient is listed: nobody may read its file, so it has none.
    #[serde(rename = "waiting for an owner")]
    WaitingForOwner,
}

impl fmt::Display for ClientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientStatus::Pending => "pending",
            ClientStatus::Issued => "issued",
            ClientStatus::Revoked => "revoked",
            ClientStatus::Sunset => "sunset",
            ClientStatus::WaitingForOwner => "waiting for an owner",
        })
    }
}

/// What a listing takes from a client's state Secret: no token, no key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateSummary {
    /// When the current token was issued.
    pub token_issued: Timestamp,
    /// When it stops working.
    pub token_expires: Timestamp,
    /// The client's WireGuard range, e.g. `10.90.0.4/30`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The uid of the ServiceAccount the token belongs to.
    pub service_account_uid: String,
    /// The recipients (public keys) the token was handed to.
    pub recipients: Vec<String>,
    /// Where its file was last published, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_path: Option<String>,
}

impl From<&ClientState> for StateSummary {
    fn from(state: &ClientState) -> StateSummary {
        StateSummary {
            // tollgate's clock has nanoseconds; the API server's expiry has seconds: show both alike.
            token_issued: Timestamp::from_second(state.token_issued.as_second())
                .unwrap_or(state.token_issued),
            token_expires: state.token_expires,
            address: state.wireguard.as_ref().map(|w| w.address.to_string()),
            service_account_uid: state.service_account_uid.clone(),
            recipients: state.recipients.clone(),
            published_path: state.published.as_ref().map(|p| p.path.clone()),
        }
    }
}

/// One client in one cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRow {
    /// The `Client` document's name (for a client that is gone: the name its credentials carry).
    pub client: String,
    /// The Settings cluster.
    pub cluster: String,
    /// The document's owners, with their standing when not active (`bob (disabled)`).
    pub owners: Vec<String>,
    /// Who can read its file: `<owner>: <key>` for each active owner's key, `extra: <key>` for the others.
    pub recipients: Vec<String>,
    /// Where its credentials stand.
    pub status: ClientStatus,
    /// Why, in a sentence.
    pub reason: String,
    /// What the cluster's state Secret says; `None` when the cluster was not read or holds no state for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<StateSummary>,
    /// Whether `state` and `status` come from the cluster (`true`) or from the repository alone.
    pub from_cluster: bool,
    /// Where its client file is (or would be) in the repository.
    pub file: String,
    /// Whether that file is in the repository.
    pub file_present: bool,
    /// The newest commit that changed the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<CommitSummary>,
    /// Who it acts as for its owner's `accessAs: user` grants, if anyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acts_as: Option<Impersonation>,
    /// The document's `vpn`.
    pub vpn: bool,
    /// The document's `defaultNamespace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_namespace: Option<String>,
    /// The document's `sunset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sunset: Option<Timestamp>,
}

/// What the listing is made from.
pub struct ListingInput<'a> {
    /// The validated repository.
    pub model: &'a AccessModel,
    /// When expiries and sunsets are evaluated.
    pub now: Timestamp,
    /// The repository's files under the artifacts folder, as paths relative to the config root.
    pub files: &'a BTreeSet<String>,
    /// Per Settings cluster that could be read: its client states by client name. A cluster that is not here was
    /// not read.
    pub states: &'a BTreeMap<String, BTreeMap<String, StateSummary>>,
    /// The newest commit that changed each artifact path (see [`crate::git::last_changes`]).
    pub commits: &'a BTreeMap<String, CommitSummary>,
}

/// Every client in every cluster (or in `cluster`), including clients that are gone but whose credentials are
/// still in the repository or the cluster; sorted by client, then cluster.
pub fn client_rows(input: &ListingInput<'_>, cluster: Option<&str>) -> Vec<ClientRow> {
    let model = input.model;
    let clusters: Vec<&str> = model
        .settings
        .clusters
        .keys()
        .map(String::as_str)
        .filter(|c| cluster.is_none_or(|wanted| wanted == *c))
        .collect();
    let mut rows = Vec::new();
    for name in &clusters {
        let resolver = SubjectResolver::new(model, name, input.now);
        let no_states = BTreeMap::new();
        let states = input.states.get(*name);
        let mut seen = BTreeSet::new();
        for client in model
            .clients
            .values()
            .filter(|c| c.clusters.contains(*name))
        {
            seen.insert(client.name.clone());
            let state = states.unwrap_or(&no_states).get(&client.name);
            rows.push(row(input, name, client, state, states.is_some(), &resolver));
        }
        // Credentials of clients that are gone from the repository or from this cluster.
        let folder = format!("{}/{name}/", model.settings.artifacts_path);
        let leftover_files = input.files.iter().filter_map(|path| {
            path.strip_prefix(&folder)?
                .strip_suffix(".age")
                .filter(|client| !client.contains('/'))
        });
        let leftovers: BTreeSet<&str> = states
            .unwrap_or(&no_states)
            .keys()
            .map(String::as_str)
            .chain(leftover_files)
            .filter(|client| !seen.contains(*client))
            .collect();
        for client in leftovers {
            let file = artifact_path(model, name, client);
            let state = states.and_then(|s| s.get(client)).cloned();
            let elsewhere = model.clients.contains_key(client);
            rows.push(ClientRow {
                client: client.to_owned(),
                cluster: (*name).to_owned(),
                owners: Vec::new(),
                recipients: Vec::new(),
                status: ClientStatus::Revoked,
                reason: format!(
                    "{}: the next reconcile deletes its ServiceAccount, voiding every token, and removes its file",
                    if elsewhere {
                        format!("its document no longer lists cluster {name}")
                    } else {
                        "its document is gone from the repository".to_owned()
                    }
                ),
                from_cluster: state.is_some(),
                state,
                file_present: input.files.contains(&file),
                published: input.commits.get(&file).cloned(),
                file,
                acts_as: None,
                vpn: false,
                default_namespace: None,
                sunset: None,
            });
        }
    }
    rows.sort_by(|a, b| (&a.client, &a.cluster).cmp(&(&b.client, &b.cluster)));
    rows
}

/// The artifact paths whose history a listing shows: every client's file in every cluster, and what the artifacts
/// folder holds.
pub fn artifact_paths(model: &AccessModel, files: &BTreeSet<String>) -> Vec<String> {
    let mut paths: BTreeSet<String> = model
        .clients
        .values()
        .flat_map(|client| {
            client
                .clusters
                .iter()
                .map(|cluster| artifact_path(model, cluster, &client.name))
        })
        .collect();
    paths.extend(files.iter().filter(|p| p.ends_with(".age")).cloned());
    paths.into_iter().collect()
}

fn row(
    input: &ListingInput<'_>,
    cluster: &str,
    client: &Client,
    state: Option<&StateSummary>,
    cluster_read: bool,
    resolver: &SubjectResolver<'_>,
) -> ClientRow {
    let model = input.model;
    let now = input.now;
    let file = artifact_path(model, cluster, &client.name);
    let file_present = input.files.contains(&file);
    let standing = |owner: &String| match model.users.get(owner) {
        Some(user) if user.disabled => Some("disabled"),
        Some(user) if !user.is_active(now) => Some("expired"),
        Some(user) if user.recipients.is_empty() => Some("without a key"),
        _ => None,
    };
    let owners: Vec<String> = client
        .owners
        .iter()
        .map(|owner| match standing(owner) {
            Some(standing) => format!("{owner} ({standing})"),
            None => owner.clone(),
        })
        .collect();
    let recipients = client_recipients(model, client, now);
    let recipient_names: Vec<String> = recipients
        .iter()
        .map(|recipient| {
            let key = recipient_keys(std::slice::from_ref(recipient)).join("");
            let owner = client.owners.iter().find(|owner| {
                model
                    .users
                    .get(*owner)
                    .is_some_and(|u| u.recipients.contains(recipient))
            });
            match owner {
                Some(owner) => format!("{owner}: {key}"),
                None => format!("extra: {key}"),
            }
        })
        .collect();
    let (status, reason) = if !client.is_active(now) {
        let sunset = client.sunset.map(|t| t.to_string()).unwrap_or_default();
        let left = if state.is_some() || file_present {
            "the next reconcile deletes its ServiceAccount, voiding every token, and removes its file"
        } else {
            "its ServiceAccount and file are gone"
        };
        (
            ClientStatus::Sunset,
            format!("its sunset ({sunset}) has passed: {left}"),
        )
    } else if !model.client_is_live(client, cluster, now) {
        let why = if client.owners.is_empty() {
            "it has no owner and no extra recipient".to_owned()
        } else {
            let owners: Vec<String> = client
                .owners
                .iter()
                .map(|owner| format!("{owner} is {}", standing(owner).unwrap_or("active")))
                .collect();
            format!(
                "no owner is active with a key ({}) and it lists no extra recipient",
                owners.join(", ")
            )
        };
        (
            ClientStatus::WaitingForOwner,
            format!(
                "{why}: nobody may read its file, so it has no ServiceAccount, token or file until an active owner \
                 or a recipient is added"
            ),
        )
    } else {
        live_status(input, cluster, client, state, cluster_read, file_present)
    };
    ClientRow {
        client: client.name.clone(),
        cluster: cluster.to_owned(),
        owners,
        recipients: recipient_names,
        status,
        reason,
        state: state.cloned(),
        from_cluster: cluster_read,
        published: input.commits.get(&file).cloned(),
        file,
        file_present,
        acts_as: resolver.impersonation(client),
        vpn: client.vpn,
        default_namespace: client.default_namespace.clone(),
        sunset: client.sunset,
    }
}

/// The status of a client that should have credentials in `cluster`.
fn live_status(
    input: &ListingInput<'_>,
    cluster: &str,
    client: &Client,
    state: Option<&StateSummary>,
    cluster_read: bool,
    file_present: bool,
) -> (ClientStatus, String) {
    let pending =
        "the next reconcile creates its ServiceAccount, issues a token and publishes its file";
    if !cluster_read {
        // From the checkout alone: whether the file is here. Token times live in the cluster's state Secrets.
        return if file_present {
            (
                ClientStatus::Issued,
                "its file is in this checkout of the repository".to_owned(),
            )
        } else {
            (
                ClientStatus::Pending,
                "no file in this checkout of the repository: once the controller has applied the client, `git pull` \
                 brings it"
                    .to_owned(),
            )
        };
    }
    let Some(state) = state else {
        return (
            ClientStatus::Pending,
            format!("not applied to cluster {cluster} yet: {pending}"),
        );
    };
    let wanted = recipient_keys(&client_recipients(input.model, client, input.now));
    let removed: Vec<&String> = state
        .recipients
        .iter()
        .filter(|key| !wanted.contains(key))
        .collect();
    if !removed.is_empty() {
        return (
            ClientStatus::Issued,
            format!(
                "a recipient was removed ({}): the next reconcile revokes every token it was handed (re-creating its \
                 ServiceAccount) and publishes a new file",
                removed
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if state.token_expires <= input.now {
        return (
            ClientStatus::Issued,
            format!(
                "its token expired at {}: the controller has not renewed it (is it running?)",
                state.token_expires
            ),
        );
    }
    (
        ClientStatus::Issued,
        format!(
            "token issued {}, expires {}; tollgate renews it when less than a third of its life is left",
            state.token_issued, state.token_expires
        ),
    )
}
