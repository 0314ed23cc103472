//! Who is asking: sessions, sign-in, roles and the checks every route runs.
//!
//! A layer reads the session once per request, ends it when it has been
//! idle or alive too long, and leaves a [`CurrentUser`] in the request's
//! extensions. Pages and API handlers decide from that; nothing trusts the
//! browser's idea of who it is.

pub mod oidc;
pub mod roles;
pub mod routes;
pub mod session_store;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use coffer_app::session::{Role, Viewer};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::error::ApiError;
use crate::http::request_id::request_id_of;
use crate::state::AppState;

/// Session key of the signed-in user.
pub const USER_KEY: &str = "user";

/// How stale `last_seen` may grow before it is written again; bounds the
/// session writes an active user causes.
const LAST_SEEN_GRANULARITY: time::Duration = time::Duration::seconds(60);

/// The signed-in user as the session keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Users are keyed by issuer and subject, never by name or email.
    pub issuer: String,
    pub subject: String,
    pub username: String,
    pub roles: Vec<Role>,
    /// Echoed by cookie-authenticated requests that change state.
    pub csrf_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_in_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

impl SessionUser {
    /// The user as pages see them.
    pub fn viewer(&self, state: &AppState) -> Viewer {
        let expires_at = self.expires_at(state);
        Viewer {
            username: self.username.clone(),
            roles: self.roles.clone(),
            csrf_token: self.csrf_token.clone(),
            session_expires_at: expires_at.unix_timestamp(),
        }
    }

    /// The earlier of the idle and the absolute deadline.
    fn expires_at(&self, state: &AppState) -> OffsetDateTime {
        let idle = self.last_seen + state.settings.session_idle();
        let absolute = self.signed_in_at + state.settings.session_max();
        idle.min(absolute)
    }
}

/// A fresh CSRF token: 128 random bits, hex-encoded.
pub fn new_csrf_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The user behind a request, as the session layer found them.
#[derive(Clone, Debug, Default)]
pub struct CurrentUser(pub Option<SessionUser>);

/// Loads the session's user, ends an expired session, and keeps the idle
/// timer running.
pub async fn session_layer(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    match current_user(&state, &session).await {
        Ok(user) => {
            request.extensions_mut().insert(CurrentUser(user));
            next.run(request).await
        }
        // Failing to read a session must not fall back to anonymous
        // access: answer with an error instead.
        Err(error) => ApiError::Internal(error).into_response(),
    }
}

async fn current_user(state: &AppState, session: &Session) -> anyhow::Result<Option<SessionUser>> {
    let Some(mut user) = session.get::<SessionUser>(USER_KEY).await? else {
        return Ok(None);
    };

    // A session past either deadline is over: remove it everywhere.
    let now = state.clock.now();
    if now >= user.expires_at(state) {
        tracing::info!(user.name = %user.username, "session expired");
        session.flush().await?;
        return Ok(None);
    }

    // Activity pushes the idle deadline out.
    if now - user.last_seen >= LAST_SEEN_GRANULARITY {
        user.last_seen = now;
        session.insert(USER_KEY, &user).await?;
    }
    Ok(Some(user))
}

/// Extracts the signed-in user; anonymous requests get 401.
#[derive(Clone, Debug)]
pub struct SignedIn(pub SessionUser);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .and_then(|current| current.0.clone())
            .map(SignedIn)
            .ok_or(ApiError::Unauthorized)
    }
}

/// Refuses state-changing requests that another site could have caused: a
/// foreign `Origin`, or (for cookie-authenticated API calls) a missing or
/// wrong `X-CSRF-Token`.
pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe_method(request.method()) {
        return next.run(request).await;
    }

    // Browsers send Origin with every POST; any origin but ours is refused.
    // Pages send no referrer, so Chromium writes `null` even for its own
    // forms; Fetch Metadata tells those apart from sandboxed or foreign
    // senders.
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").map(|value| value.as_bytes());
    let origin_ok = match headers.get(header::ORIGIN).map(|value| value.as_bytes()) {
        None => true,
        Some(b"null") => fetch_site == Some(b"same-origin"),
        Some(origin) => origin == state.settings.public_origin().as_bytes(),
    };
    let site_ok = matches!(fetch_site, None | Some(b"same-origin" | b"none"));
    if !origin_ok || !site_ok {
        return ApiError::Forbidden("cross-origin request refused".to_owned()).into_response();
    }

    // API calls signed in by cookie must echo the session's token. Forms
    // (sign-out) check their hidden field in the handler instead.
    if request.uri().path().starts_with("/api/") {
        let user = request
            .extensions()
            .get::<CurrentUser>()
            .and_then(|current| current.0.as_ref());
        let sent = request
            .headers()
            .get("x-csrf-token")
            .map(|value| value.as_bytes());
        let valid = match (user, sent) {
            (Some(user), Some(sent)) => oidc::constant_time_eq(user.csrf_token.as_bytes(), sent),
            // Anonymous calls are refused by the handler's own check.
            (None, _) => true,
            (Some(_), None) => false,
        };
        if !valid {
            return ApiError::Forbidden("missing or wrong X-CSRF-Token header".to_owned())
                .into_response();
        }
    }
    next.run(request).await
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The request id from request parts, for audit records.
pub fn request_id(parts: &Parts) -> String {
    request_id_of(&parts.extensions)
}
