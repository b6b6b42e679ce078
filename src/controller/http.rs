//! The HTTP endpoints of the controller and the gateway for the kubelet and Prometheus: `/healthz` (the process
//! serves), `/readyz` (the loop has run once: for the controller, polled Git as the leader or looked at the lease as
//! a standby; for the gateway, configured its device) and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// Produces the `/metrics` text (OpenMetrics) on each scrape.
pub type Encoder = Arc<dyn Fn() -> String + Send + Sync>;

/// Says whether the process still does its work, for `/healthz` (false: 503, and the kubelet restarts it).
pub type Liveness = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
struct Shared {
    encode: Encoder,
    ready: Arc<AtomicBool>,
    alive: Liveness,
}

/// Binds `address` and serves until the returned task is aborted.
pub async fn serve(
    address: SocketAddr,
    encode: Encoder,
    ready: Arc<AtomicBool>,
    alive: Liveness,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Shared {
            encode,
            ready,
            alive,
        });
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the HTTP endpoints stopped");
        }
    });
    Ok((bound, task))
}

async fn healthz(State(shared): State<Shared>) -> impl IntoResponse {
    if (shared.alive)() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "stuck\n")
    }
}

async fn readyz(State(shared): State<Shared>) -> impl IntoResponse {
    if shared.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

async fn metrics_text(State(shared): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        (shared.encode)(),
    )
}
