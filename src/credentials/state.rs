//! What tollgate must remember between reconciles about credentials, as kept in Secrets in the clients namespace:
//! the instance's shared secrets (the publish index's HMAC key, the gateway's WireGuard key) and, per client, the
//! token handed out, its WireGuard key and range, and what was last published. Never in Git, never in logs:
//! `Debug` masks every secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use boringtun::x25519::{PublicKey, StaticSecret};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use jiff::Timestamp;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::validate::model::Recipient;

/// Version of the stored state; a reader refuses other versions rather than guess.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The Secret holding [`SharedState`].
pub const SHARED_SECRET: &str = "tollgate-state";
/// The data key under which a state Secret keeps its JSON.
pub const STATE_KEY: &str = "state.json";
/// Label on every credentials Secret: `shared` or `client`.
pub const CREDENTIALS_LABEL: &str = "tollgate.dev/credentials";

/// The Secret holding one client's [`ClientState`].
pub fn client_secret_name(client: &str) -> String {
    format!("tollgate-client-{client}")
}

/// The instance's own secrets, made once and kept in the [`SHARED_SECRET`] Secret; `Debug` shows only the gateway's
/// public key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SharedState {
    /// [`STATE_FORMAT_VERSION`]; [`SharedState::check`] refuses any other.
    pub format_version: u32,
    /// Key of the HMAC over published plaintexts (base64, 32 bytes).
    pub hmac_key: String,
    /// The cluster's WireGuard gateway private key (base64, as `wg` prints it).
    pub gateway_private_key: String,
}

impl fmt::Debug for SharedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedState")
            .field(
                "gateway_public_key",
                &public_key_of(&self.gateway_private_key),
            )
            .finish_non_exhaustive()
    }
}

impl SharedState {
    /// Fresh random keys, made once per instance.
    pub fn generate() -> SharedState {
        let mut hmac_key = [0u8; 32];
        OsRng.fill_bytes(&mut hmac_key);
        SharedState {
            format_version: STATE_FORMAT_VERSION,
            hmac_key: BASE64.encode(hmac_key),
            gateway_private_key: generate_private_key(),
        }
    }

    /// The gateway's WireGuard public key (base64), as clients put it in `[Peer]`; `None` if the stored private key
    /// is not a key.
    pub fn gateway_public_key(&self) -> Option<String> {
        public_key_of(&self.gateway_private_key)
    }

    /// The keyed hash of a plaintext, hex: equal plaintexts give equal hashes, and without the key (which never
    /// leaves the Secret) the hash says nothing about the plaintext.
    pub fn plaintext_hmac(&self, plaintext: &[u8]) -> String {
        let key = BASE64
            .decode(&self.hmac_key)
            .expect("the HMAC key was validated when the state was read");
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC accepts any key length");
        mac.update(plaintext);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Checks a state read back from its Secret: the format version, a 32-byte HMAC key and a WireGuard private key.
    /// `Err` says what is wrong, for [`crate::credentials::CredentialsError::BadState`].
    pub fn check(&self) -> Result<(), String> {
        if self.format_version != STATE_FORMAT_VERSION {
            return Err(format!(
                "format version {} (this tollgate reads {STATE_FORMAT_VERSION})",
                self.format_version
            ));
        }
        if BASE64.decode(&self.hmac_key).map(|k| k.len()) != Ok(32) {
            return Err("hmacKey is not 32 bytes of base64".into());
        }
        if public_key_of(&self.gateway_private_key).is_none() {
            return Err("gatewayPrivateKey is not a WireGuard key".into());
        }
        Ok(())
    }
}

/// What tollgate remembers about one client, in that client's Secret ([`client_secret_name`]); `Debug` masks the
/// token and the WireGuard key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientState {
    /// [`STATE_FORMAT_VERSION`]; a state of another version is refused when the Secrets are read.
    pub format_version: u32,
    /// The `Client` document's name.
    pub client: String,
    /// The ServiceAccount the token belongs to; a re-created ServiceAccount (new uid) voids the token.
    pub service_account_uid: String,
    /// The ServiceAccount token last handed out, from the TokenRequest API; reused until renewed or revoked.
    pub token: String,
    /// When the token was requested, by tollgate's clock; with `token_expires`, decides when it is renewed.
    pub token_issued: Timestamp,
    /// When the token stops working, as the TokenRequest API answered.
    pub token_expires: Timestamp,
    /// The recipients the current token was handed to (sorted keys). Losing one of them revokes the token.
    pub recipients: Vec<String>,
    /// The client's WireGuard key and range; absent without `vpn`, or when the cluster has no gateway or client pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<WireGuardState>,
    /// What the repository holds for this client, as last published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishedArtifact>,
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState")
            .field("client", &self.client)
            .field("service_account_uid", &self.service_account_uid)
            .field("token", &"<masked>")
            .field("token_expires", &self.token_expires)
            .field("recipients", &self.recipients)
            .field(
                "wireguard",
                &self.wireguard.as_ref().map(|w| (w.address, "<masked>")),
            )
            .field("published", &self.published)
            .finish()
    }
}

/// A client's WireGuard key and range, kept between runs so that its client file changes only when they must.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WireGuardState {
    /// The client's WireGuard private key (base64, as `wg` prints it); a new one after every revocation.
    pub private_key: String,
    /// The client's range from the cluster's client pool, e.g. `10.90.0.4/30`; kept while it fits the pool.
    pub address: IpNet,
}

/// One entry of the publish index: the artifact is current while all three still match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishedArtifact {
    /// Where the ciphertext was committed: `<artifactsPath>/<cluster>/<client>.age`.
    pub path: String,
    /// HMAC of the client file's plaintext.
    pub hmac: String,
    /// The recipients it was encrypted to (sorted keys).
    pub recipients: Vec<String>,
    /// The Git blob id of the ciphertext: a hand edit or a lost push shows up as a different blob in the tree.
    pub blob: String,
}

/// A new WireGuard private key (base64), from the OS's random source via boringtun's x25519.
pub fn generate_private_key() -> String {
    BASE64.encode(StaticSecret::random_from_rng(OsRng).to_bytes())
}

/// The public key of a base64 private key, or `None` when it is not one.
pub fn public_key_of(private_key: &str) -> Option<String> {
    let bytes: [u8; 32] = BASE64.decode(private_key).ok()?.try_into().ok()?;
    Some(BASE64.encode(PublicKey::from(&StaticSecret::from(bytes)).as_bytes()))
}

/// The recipient keys as the index records them: sorted, without duplicates.
pub fn recipient_keys(recipients: &[Recipient]) -> Vec<String> {
    let mut keys: Vec<String> = recipients.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pair_up_and_debug_masks_them() {
        let state = SharedState::generate();
        state.check().expect("generated state is valid");
        let public = state.gateway_public_key().expect("public key");
        assert_ne!(public, state.gateway_private_key);
        let shown = format!("{state:?}");
        assert!(!shown.contains(&state.gateway_private_key));
        assert!(!shown.contains(&state.hmac_key));
        assert!(shown.contains(&public));
    }

    #[test]
    fn the_hmac_depends_on_key_and_plaintext() {
        let a = SharedState::generate();
        let b = SharedState::generate();
        assert_eq!(a.plaintext_hmac(b"x"), a.plaintext_hmac(b"x"));
        assert_ne!(a.plaintext_hmac(b"x"), a.plaintext_hmac(b"y"));
        assert_ne!(a.plaintext_hmac(b"x"), b.plaintext_hmac(b"x"));
    }
}
