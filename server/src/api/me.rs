//! `GET /api/v1/me`: who the caller is and the token their state-changing
//! requests must carry.

use axum::Json;
use coffer_app::session::Role;
use serde::Serialize;

use crate::auth::SignedIn;

#[derive(Debug, Serialize)]
pub struct Me {
    username: String,
    roles: Vec<Role>,
    csrf_token: String,
}

/// Answers the signed-in user's name, roles and CSRF token; 401 otherwise.
pub async fn me(SignedIn(user): SignedIn) -> Json<Me> {
    Json(Me {
        username: user.username,
        roles: user.roles,
        csrf_token: user.csrf_token,
    })
}
