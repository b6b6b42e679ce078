//! Push notifications: an HTTP receiver (`--webhook-listen`) for the push events of GitHub, GitLab and
//! Gitea/Forgejo that makes the controller poll at once instead of at its next interval. Polling stays the fallback.
//!
//! Each forge's scheme is verified before the body is read as JSON, in constant time: GitHub's
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, Gitea/Forgejo's `X-Gitea-Signature: <hex HMAC>`
//! (Forgejo also sends it), GitLab's `X-Gitlab-Token: <the secret>`. Unsigned or wrongly signed requests get 401;
//! only a push to the watched branch triggers; a delivery id seen before is not triggered again (a replay).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq as _;
use tokio::sync::Notify;

use super::metrics::Metrics;

/// The largest body accepted (bytes); forges' push payloads are far smaller.
pub const MAX_BODY: usize = 1024 * 1024;
/// How many delivery ids are remembered to refuse replays.
const REMEMBERED_DELIVERIES: usize = 1024;

/// What a request turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A push to the watched branch: poll now.
    Push,
    /// Authentic, but nothing to do: another event (e.g. GitHub's `ping`), another branch, or a replayed delivery.
    Ignored(&'static str),
    /// No signature or token, or a wrong one: 401.
    Unauthorized,
    /// Authentic but not a push payload this receiver reads: 400.
    BadRequest,
}

fn hmac_ok(secret: &[u8], body: &[u8], hex: &str) -> bool {
    let Ok(signature) = hex::decode(hex) else {
        return false;
    };
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// Verifies a request and says what it is. `header` looks a header up by its lower-case name; `branch` is the
/// watched branch (`main`, not `refs/heads/main`). Pure: the delivery-id memory is the caller's.
pub fn verify(
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    secret: &[u8],
    branch: &str,
) -> (Verdict, Option<String>) {
    let (authentic, event, delivery) = if let Some(signature) = header("x-hub-signature-256") {
        let authentic = signature
            .strip_prefix("sha256=")
            .is_some_and(|hex| hmac_ok(secret, body, hex));
        (
            authentic,
            header("x-github-event"),
            header("x-github-delivery"),
        )
    } else if let Some(signature) = header("x-gitea-signature") {
        (
            hmac_ok(secret, body, &signature),
            header("x-gitea-event"),
            header("x-gitea-delivery"),
        )
    } else if let Some(token) = header("x-gitlab-token") {
        (
            bool::from(token.as_bytes().ct_eq(secret)),
            header("x-gitlab-event"),
            header("x-gitlab-event-uuid"),
        )
    } else {
        (false, None, None)
    };
    if !authentic {
        return (Verdict::Unauthorized, None);
    }
    if !matches!(event.as_deref(), Some("push" | "Push Hook")) {
        return (Verdict::Ignored("not a push event"), delivery);
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (Verdict::BadRequest, delivery);
    };
    let Some(reference) = payload["ref"].as_str() else {
        return (Verdict::BadRequest, delivery);
    };
    if reference.strip_prefix("refs/heads/") != Some(branch) {
        return (Verdict::Ignored("a push to another branch"), delivery);
    }
    (Verdict::Push, delivery)
}

#[derive(Clone)]
struct Receiver {
    secret: Arc<Vec<u8>>,
    branch: Arc<str>,
    poll: Arc<Notify>,
    metrics: Arc<Metrics>,
    seen: Arc<Mutex<VecDeque<String>>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (mut verdict, delivery) = verify(header, &body, &receiver.secret, &receiver.branch);
    if verdict == Verdict::Push
        && let Some(delivery) = delivery
    {
        let mut seen = receiver
            .seen
            .lock()
            .expect("the delivery memory is never poisoned");
        if seen.contains(&delivery) {
            verdict = Verdict::Ignored("a delivery seen before (replay)");
        } else {
            if seen.len() == REMEMBERED_DELIVERIES {
                seen.pop_front();
            }
            seen.push_back(delivery);
        }
    }
    let (result, answer) = match verdict {
        Verdict::Push => {
            receiver.poll.notify_one();
            ("push", (StatusCode::ACCEPTED, "polling now\n"))
        }
        Verdict::Ignored(why) => ("ignored", (StatusCode::OK, why)),
        Verdict::Unauthorized => {
            tracing::warn!("a webhook request without a valid signature or token was refused");
            ("unauthorized", (StatusCode::UNAUTHORIZED, "unauthorized\n"))
        }
        Verdict::BadRequest => (
            "bad_request",
            (StatusCode::BAD_REQUEST, "not a push payload\n"),
        ),
    };
    receiver.metrics.count_webhook(result);
    answer
}

/// Serves `POST /webhook` on `address` until the returned task is aborted; a verified push to `branch` wakes
/// `poll`.
///
/// # Errors
/// The bind error.
pub async fn serve(
    address: SocketAddr,
    secret: Vec<u8>,
    branch: &str,
    poll: Arc<Notify>,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/webhook", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Receiver {
            secret: Arc::new(secret),
            branch: Arc::from(branch),
            poll,
            metrics,
            seen: Arc::default(),
        });
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the webhook receiver stopped");
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn check(headers: &[(&str, String)], body: &[u8]) -> Verdict {
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        verify(lookup, body, b"s3cret", "main").0
    }

    #[test]
    fn each_forge_s_scheme_is_checked_and_only_pushes_to_the_branch_trigger() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let other = br#"{"ref":"refs/heads/feature"}"#;
        let github = |body: &[u8], secret: &[u8], event: &str| {
            vec![
                (
                    "x-hub-signature-256",
                    format!("sha256={}", sign(secret, body)),
                ),
                ("x-github-event", event.to_owned()),
            ]
        };
        assert_eq!(check(&github(body, b"s3cret", "push"), body), Verdict::Push);
        assert_eq!(
            check(&github(body, b"wrong", "push"), body),
            Verdict::Unauthorized
        );
        assert_eq!(
            check(&github(body, b"s3cret", "ping"), body),
            Verdict::Ignored("not a push event")
        );
        assert_eq!(
            check(&github(other, b"s3cret", "push"), other),
            Verdict::Ignored("a push to another branch")
        );
        // A body changed after signing.
        assert_eq!(
            check(&github(body, b"s3cret", "push"), other),
            Verdict::Unauthorized
        );
        let gitea = vec![
            ("x-gitea-signature", sign(b"s3cret", body)),
            ("x-gitea-event", "push".to_owned()),
        ];
        assert_eq!(check(&gitea, body), Verdict::Push);
        let gitlab = |token: &str| {
            vec![
                ("x-gitlab-token", token.to_owned()),
                ("x-gitlab-event", "Push Hook".to_owned()),
            ]
        };
        assert_eq!(check(&gitlab("s3cret"), body), Verdict::Push);
        assert_eq!(check(&gitlab("s3cre"), body), Verdict::Unauthorized);
        assert_eq!(check(&[], body), Verdict::Unauthorized);
        assert_eq!(
            check(&[("x-hub-signature-256", "sha256=zz".to_owned())], body),
            Verdict::Unauthorized
        );
        let garbage = b"not json";
        assert_eq!(
            check(&github(garbage, b"s3cret", "push"), garbage),
            Verdict::BadRequest
        );
    }
}
