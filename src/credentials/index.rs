//! The publish index and the no-churn rule: where a client's file lives, who may read it, and whether the copy in
//! the repository is still what tollgate published (age output is random, so a file is encrypted and committed
//! again only when its plaintext, its recipients or its blob changed).

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::seal::{SealError, seal};
use super::state::{ClientState, PublishedArtifact, recipient_keys};
use crate::git::{ArtifactEdit, blob_id};
use crate::validate::model::{AccessModel, Client, Recipient};

/// Why a client's file changed, for the commit message and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeReason {
    /// The client's first file, or the first since its state Secret was lost.
    Created,
    /// The token was near its expiry, or its ServiceAccount was re-created.
    TokenRenewed,
    /// A recipient was removed: every earlier token was revoked and the WireGuard key rotated.
    Revoked,
    /// Recipients were added and none removed: the same access, encrypted to more keys.
    RecipientsAdded,
    /// Other content changed (namespace, server, VPN settings).
    Updated,
    /// The artifact in the repository was missing or not what tollgate published.
    Restored,
    /// The client is gone (deleted, sunset, moved off this cluster) or the file belongs to no client: it is removed.
    Deleted,
    /// Every owner is disabled or expired and no extra recipient is listed: nobody may read its file any more, so
    /// its ServiceAccount (and every token) and its file are removed.
    NoRecipient,
    /// Not a client file: the session gateway's `known_hosts` line, new or for a new host key or address.
    SessionGatewayHostKey,
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
            ChangeReason::NoRecipient => {
                "no active owner or recipient is left: its ServiceAccount and file are removed"
            }
            ChangeReason::SessionGatewayHostKey => "the session gateway's host key (known_hosts)",
        })
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
    let in_tree = tree.get(path).map(std::string::ToString::to_string);
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

pub(super) fn change_reason(
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
