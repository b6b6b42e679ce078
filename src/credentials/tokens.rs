//! Tokens: issued by the TokenRequest API for a client's ServiceAccount with the configured lifetime, and kept
//! until less than a third of their life is left (then renewed), so that a developer who pulls once a day with a
//! 24 h lifetime always finds a token with hours to spare.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use kube::api::PostParams;

use super::state::ClientState;
use super::store::Store;
use crate::cluster::describe;

/// A token is renewed when less than a third of its life is left.
pub(super) fn token_is_fresh(state: &ClientState, now: Timestamp) -> bool {
    let life = state.token_expires.duration_since(state.token_issued);
    let left = state.token_expires.duration_since(now);
    left > life / 3
}

impl Store<'_> {
    pub(super) async fn request_token(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::state::STATE_FORMAT_VERSION;

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
