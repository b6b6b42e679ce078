//! Revocation: a client that loses a recipient (an owner, an owner's key, an extra recipient) or every recipient
//! has its ServiceAccount deleted and created again. Tokens are bound to the ServiceAccount's uid, so every token
//! handed out before stops working, and the client's WireGuard key is rotated with it.

use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};

use super::state::{ClientState, generate_private_key};
use super::store::{FIELD_MANAGER, Store};
use crate::cluster::{describe, status_code};
use crate::objects::{DesiredState, ObjectKey, ObjectKind};

/// Whether a client's earlier credentials must be voided: someone who could read its last file is no longer a
/// recipient (`keys` are the recipients' keys now; none left counts as everyone removed).
pub(super) fn revocation_needed(previous: Option<&ClientState>, keys: &[String]) -> bool {
    previous.is_some_and(|p| keys.is_empty() || p.recipients.iter().any(|key| !keys.contains(key)))
}

/// The client's WireGuard private key: the stored one, or a new one on first use and after a revocation.
pub(super) fn client_private_key(previous: Option<&ClientState>, revoked: bool) -> String {
    previous
        .and_then(|p| p.wireguard.as_ref())
        .filter(|_| !revoked)
        .map_or_else(generate_private_key, |w| w.private_key.clone())
}

impl Store<'_> {
    pub(super) async fn delete_service_account(&self, name: &str, uid: &str) -> Result<(), String> {
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
    pub(super) async fn recreate_service_account(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::state::STATE_FORMAT_VERSION;

    fn stored(recipients: &[&str]) -> ClientState {
        ClientState {
            format_version: STATE_FORMAT_VERSION,
            client: "c".into(),
            service_account_uid: "u".into(),
            token: "t".into(),
            token_issued: "2026-11-01T00:00:00Z".parse().expect("timestamp"),
            token_expires: "2026-11-01T03:00:00Z".parse().expect("timestamp"),
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
            wireguard: None,
            published: None,
        }
    }

    #[test]
    fn losing_any_recipient_revokes_and_gaining_one_does_not() {
        let keys = |list: &[&str]| list.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>();
        let before = stored(&["a", "b"]);
        assert!(
            !revocation_needed(None, &keys(&["a"])),
            "a new client has nothing to revoke"
        );
        assert!(!revocation_needed(Some(&before), &keys(&["a", "b"])));
        assert!(!revocation_needed(Some(&before), &keys(&["a", "b", "c"])));
        assert!(revocation_needed(Some(&before), &keys(&["a"])));
        assert!(revocation_needed(Some(&before), &keys(&["a", "c"])));
        assert!(revocation_needed(Some(&before), &[]), "no recipient left");
    }
}
