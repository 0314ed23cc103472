//! The portal's routes and the layers around them, outermost first:
//! request ids, tracing, security headers, panic catching; then, for the
//! portal itself, sessions, the signed-in user, the page context, CSRF and
//! page access.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::http::{Response, StatusCode};
use axum::middleware::{from_fn_with_state, map_response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::api;
use crate::auth::session_store::BucketSessionStore;
use crate::auth::{self, routes as auth_routes};
use crate::dev_idp::DevIdp;
use crate::error::json_error;
use crate::http::headers::security_headers;
use crate::http::request_id::{MakeRandomRequestId, REQUEST_ID_HEADER, request_id_of};
use crate::pages;
use crate::shares;
use crate::state::AppState;

/// Every route of one server instance.
pub fn build(state: AppState, dev_idp: Option<&DevIdp>) -> Router {
    let portal = portal(&state);

    // Health checks need no session; the bundle's files need none either.
    let mut router = Router::new()
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .merge(portal)
        .with_state(state.clone())
        .nest_service("/pkg", ServeDir::new(&state.settings.site_dir))
        // Browsers ask for this path on pages that name no icon.
        .route_service(
            "/favicon.ico",
            ServeFile::new(state.settings.site_dir.join("favicon.svg")),
        );
    if let Some(provider) = dev_idp {
        router = router.nest("/dev-idp", provider.router());
    }

    // Listed innermost first: a panic becomes a 500 inside the request's
    // span, and that 500 still carries the request id and the headers.
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(map_response(describe_bare_errors))
        .layer(from_fn_with_state(state, security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER.clone()))
        .layer(SetRequestIdLayer::new(
            REQUEST_ID_HEADER.clone(),
            MakeRandomRequestId,
        ))
}

/// Pages, sign-in and the API: everything that knows who is asking.
fn portal(state: &AppState) -> Router<AppState> {
    let settings = &state.settings;

    // `__Host-` pins the cookie to this exact origin over HTTPS; plain
    // HTTP on loopback cannot use the prefix. Lax lets the cookie ride the
    // provider's redirect back to the callback.
    let cookie_name = if settings.is_https() {
        "__Host-coffer"
    } else {
        "coffer"
    };
    let idle = time::Duration::try_from(settings.session_idle()).unwrap_or(time::Duration::MINUTE);
    let sessions = SessionManagerLayer::new(BucketSessionStore::new(state.storage.clone()))
        .with_name(cookie_name)
        .with_secure(settings.is_https())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle));

    Router::new()
        .route("/login", get(auth_routes::login))
        .route("/auth/callback", get(auth_routes::callback))
        .route("/logout", post(auth_routes::logout))
        .route("/_srv/{*name}", post(server_function))
        .route("/s/{token}/files/{*path}", get(shares::routes::download))
        .nest("/api/v1", api::router())
        .merge(pages::router(state))
        .fallback(pages::not_found)
        .layer(from_fn_with_state(state.clone(), pages::page_access))
        .layer(from_fn_with_state(state.clone(), auth::csrf_guard))
        .layer(from_fn_with_state(state.clone(), pages::page_context))
        .layer(from_fn_with_state(state.clone(), auth::session_layer))
        .layer(sessions)
}

/// Gives error answers produced without a body (a wrong method, a missing
/// bundle file) a JSON body and a content type, like every other answer.
async fn describe_bare_errors(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let bare = !response.headers().contains_key(header::CONTENT_TYPE);
    if !bare || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }

    // Keep headers such as `Allow` on a 405.
    let (mut parts, _) = response.into_parts();
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    let described = json_error(status, &code, status.canonical_reason().unwrap_or("error"));
    let (described_parts, body) = described.into_parts();
    parts.headers.extend(described_parts.headers);
    axum::response::Response::from_parts(parts, body)
}

/// Runs a Leptos server function with the request's verified context.
async fn server_function(request: Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    leptos_axum::handle_server_fns_with_context(pages::provide_request_context, request)
        .await
        .into_response()
}

/// One span per request: method, path and request id; never the query,
/// which may carry an authorization code, and never a share link's token.
fn request_span(request: &Request<Body>) -> tracing::Span {
    tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.path = %redact_path(request.uri().path()),
        request.id = %request_id_of(request.extensions()),
    )
}

/// A path as logs may show it: a share link's token (`/s/<token>/…`) is a
/// bearer credential, so it becomes `…`.
fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/s/") {
        Some(rest) => {
            let after_token = rest.find('/').map_or("", |at| &rest[at..]);
            format!("/s/…{after_token}").into()
        }
        None => path.into(),
    }
}

/// A panic becomes a plain 500; the request id in the response header lets
/// an operator find the panic in the log.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("handler panicked");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

/// How long shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_tokens_never_reach_the_logged_path() {
        assert_eq!(redact_path("/s/abcDEF123_-"), "/s/…");
        assert_eq!(
            redact_path("/s/abcDEF123_-/files/a/b.bin"),
            "/s/…/files/a/b.bin"
        );
        assert_eq!(redact_path("/s/"), "/s/…");
        assert_eq!(redact_path("/shares"), "/shares");
        assert_eq!(redact_path("/models/s/x"), "/models/s/x");
    }
}
