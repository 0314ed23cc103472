//! The JSON API under `/api/v1`, and the health endpoints at the root.
//! `docs/api.md` describes every route.

pub mod audit;
pub mod downloads;
pub mod health;
pub mod me;
pub mod models;
pub mod shares;
pub mod uploads;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use coffer_app::session::Role;
use serde::de::DeserializeOwned;

use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::{SessionUser, SignedIn, request_id};
use crate::error::{ApiError, json_error};
use crate::state::AppState;
use crate::uploads::Caller;

/// Routes under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::me))
        .route("/audit/events", get(audit::events))
        .route("/audit/events.csv", get(audit::events_csv))
        .route("/audit/events.json", get(audit::events_json))
        .route("/audit/verify", get(audit::verify))
        .route("/models", get(models::list))
        .route("/models/{name}", get(models::detail))
        .route("/models/{name}/versions/{version}", get(models::version))
        .route(
            "/models/{name}/description",
            axum::routing::put(models::set_description),
        )
        .route(
            "/models/{name}/aliases/{alias}",
            axum::routing::put(models::move_alias).delete(models::remove_alias),
        )
        .route(
            "/models/{name}/versions/{version}/files/{*path}",
            get(downloads::download),
        )
        .route("/shares", get(shares::list).post(shares::create))
        .route("/shares/{id}", delete(shares::revoke))
        .route("/uploads", get(uploads::list_all))
        .route(
            "/models/{name}/uploads",
            get(uploads::list_for_model).post(uploads::start),
        )
        .route(
            "/models/{name}/uploads/{id}",
            get(uploads::status).delete(uploads::abort),
        )
        .route(
            "/models/{name}/uploads/{id}/parts",
            post(uploads::sign_parts),
        )
        .route(
            "/models/{name}/uploads/{id}/complete",
            post(uploads::complete),
        )
        .fallback(|| async { json_error(StatusCode::NOT_FOUND, "not_found", "no such API route") })
}

/// The signed-in caller of an API route, with the request's id.
#[derive(Clone, Debug)]
pub struct Requester {
    pub user: SessionUser,
    pub request_id: String,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Requester {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        Ok(Requester {
            user,
            request_id: request_id(parts),
            // Under `nest("/api/v1")` the URI has lost its prefix; the
            // record names the path the caller really asked for.
            path: parts
                .extensions
                .get::<OriginalUri>()
                .map_or(parts.uri.path(), |original| original.path())
                .to_owned(),
        })
    }
}

impl Requester {
    /// Refuses callers holding none of `roles`, and records the refusal
    /// before answering.
    pub async fn require(&self, state: &AppState, roles: &[Role]) -> Result<(), ApiError> {
        if self.user.roles.iter().any(|role| roles.contains(role)) {
            return Ok(());
        }
        let event = AuditEvent::new(
            &self.user.username,
            Action::AccessDenied,
            Outcome::Denied,
            &self.request_id,
        )
        .with_path(self.path.clone())
        .with_detail("role does not allow this API route");
        state.audit.record(event).await?;
        Err(ApiError::Forbidden(
            "your role does not allow this action".into(),
        ))
    }

    /// The caller as services take it.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            user: &self.user,
            request_id: &self.request_id,
        }
    }
}

/// A JSON request body whose rejections answer in the API's error shape:
/// `415` without `Content-Type: application/json`, `400` saying what is
/// wrong otherwise.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(rejection) => Err(ApiError::BadRequest(format!(
                "invalid JSON body: {}",
                rejection.body_text()
            ))
            .into_response()),
        }
    }
}
