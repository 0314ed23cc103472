//! `/healthz` (the process answers) and `/readyz` (it can do its work).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// Alive: the process answers requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: both buckets and the identity provider answer. A load balancer
/// sends no traffic to an instance that says no.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (storage, identity) = tokio::join!(state.storage.check_ready(), state.oidc.check_ready());
    let describe = |result: &anyhow::Result<()>| match result {
        Ok(()) => "ok".to_owned(),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "readiness check failed");
            "unreachable".to_owned()
        }
    };

    let ready = storage.is_ok() && identity.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "storage": describe(&storage), "identity": describe(&identity) },
    });
    (status, Json(body))
}
