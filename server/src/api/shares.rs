//! The share link routes: create, list, revoke. Data scientists and admins
//! only; compliance staff change nothing, links included.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coffer_app::session::Role;
use coffer_app::shares::api::{CreateShare, CreatedShare, ShareList, ShareView};

use crate::api::{JsonBody, Requester};
use crate::error::ApiError;
use crate::registry::manifest::rfc3339;
use crate::state::AppState;

/// Who may create, list and revoke links.
const SHARERS: &[Role] = &[Role::DataScientist, Role::Admin];

/// `POST /api/v1/shares`
pub async fn create(
    State(state): State<AppState>,
    requester: Requester,
    JsonBody(request): JsonBody<CreateShare>,
) -> Result<Response, ApiError> {
    requester.require(&state, SHARERS).await?;
    let created = state.shares.create(requester.caller(), &request).await?;

    // The only answer that ever carries the token.
    let path = format!("/s/{}", created.token.expose());
    let url = state.settings.public_url_for(&path)?;
    let body = CreatedShare {
        id: created.record.id.clone(),
        url: url.to_string(),
        expires_at: rfc3339(created.record.expires_at),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v1/shares`: the caller's links; every link for an admin.
pub async fn list(
    State(state): State<AppState>,
    requester: Requester,
) -> Result<Json<ShareList>, ApiError> {
    requester.require(&state, SHARERS).await?;
    let all = requester.user.roles.contains(&Role::Admin);
    Ok(Json(state.shares.list(&requester.user, all).await?))
}

/// `DELETE /api/v1/shares/{id}`
pub async fn revoke(
    State(state): State<AppState>,
    requester: Requester,
    Path(id): Path<String>,
) -> Result<Json<ShareView>, ApiError> {
    requester.require(&state, SHARERS).await?;
    Ok(Json(state.shares.revoke(requester.caller(), &id).await?))
}
