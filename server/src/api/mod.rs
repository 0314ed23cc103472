//! The JSON API under `/api/v1`, and the health endpoints at the root.
//! `docs/api.md` describes every route.

pub mod health;
pub mod me;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::error::json_error;
use crate::state::AppState;

/// Routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "not_found", "no such API route") })
}
