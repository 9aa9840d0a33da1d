//! The HTTP endpoint: `/metrics` (Prometheus text format), `/health`, `/ready`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::health::Health;

#[derive(Clone)]
struct AppState {
    prometheus: PrometheusHandle,
    health: Health,
}

/// Why the telemetry endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid metrics.listen address {0:?}")]
    Address(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
}

/// Installs the global Prometheus recorder (once per process) and returns its handle.
pub fn install_recorder() -> Result<PrometheusHandle, TelemetryError> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
    let handle = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .map_err(|e| TelemetryError::Recorder(e.to_string()))?
        .install_recorder()
        .map_err(|e| TelemetryError::Recorder(e.to_string()))?;
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// Serves the endpoint on `listen` until the process ends. Returns the bound
/// address (useful with port 0).
pub async fn serve(listen: &str, health: Health) -> Result<SocketAddr, TelemetryError> {
    let addr: SocketAddr = listen.parse().map_err(|_| TelemetryError::Address(listen.to_string()))?;
    let prometheus = install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| TelemetryError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| TelemetryError::Bind { addr, source })?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health_check))
        .route("/ready", get(ready_check))
        .with_state(AppState { prometheus, health });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "telemetry endpoint stopped");
        }
    });
    Ok(bound)
}

async fn metrics(State(state): State<AppState>) -> String {
    state.prometheus.run_upkeep();
    state.prometheus.render()
}

async fn health_check(State(state): State<AppState>) -> (StatusCode, String) {
    match state.health.liveness() {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}

async fn ready_check(State(state): State<AppState>) -> (StatusCode, String) {
    match state.health.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}
