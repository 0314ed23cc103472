//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0).
//!
//! The provider keeps no session of its own, so there is nothing to end
//! here: the endpoint checks the request and either sends the browser back
//! to a registered address or shows a page saying the user is signed out.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::DevIdp;
use super::authorize::redirect;
use super::pages;

/// Longest `state` sent back; real ones are a few dozen bytes.
const MAX_STATE_LEN: usize = 1024;

/// Parameters of an end-session request; `logout_hint` and `ui_locales`
/// are accepted and have no use here.
#[derive(Default, Deserialize)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    #[serde(default, rename = "logout_hint")]
    _logout_hint: Option<String>,
    #[serde(default, rename = "ui_locales")]
    _ui_locales: Option<String>,
}

/// `GET /logout`.
#[tracing::instrument(name = "dev_idp.logout", skip_all)]
pub(super) async fn end_session_query(
    State(idp): State<DevIdp>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = serde_urlencoded::from_str(&query.unwrap_or_default());
    end_session(&idp, params.ok())
}

/// `POST /logout`, which the specification also allows.
#[tracing::instrument(name = "dev_idp.logout", skip_all)]
pub(super) async fn end_session_form(State(idp): State<DevIdp>, body: Bytes) -> Response {
    end_session(&idp, serde_urlencoded::from_bytes(&body).ok())
}

/// Redirects to the requested post-logout URI when the request earns it,
/// and otherwise shows that the user is signed out.
fn end_session(idp: &DevIdp, params: Option<LogoutParams>) -> Response {
    // A malformed request still signs nobody in; it just goes nowhere.
    let Some(params) = params else {
        tracing::warn!("development provider got a malformed end-session request");
        return signed_out(true);
    };

    // The client named, directly or by the hint's audience, must be the
    // portal: it is the only one with post-logout URIs.
    let client = &idp.inner.portal;
    if params
        .client_id
        .as_deref()
        .is_some_and(|id| id != client.id)
    {
        tracing::warn!("end-session request names an unknown client");
        return signed_out(true);
    }
    if let Some(hint) = &params.id_token_hint {
        let checked = idp
            .inner
            .signer
            .verify_id_token_hint(&idp.inner.issuer, client.id, hint);
        if let Err(error) = checked {
            tracing::warn!(
                reason = format!("{error:#}"),
                "end-session request carries an id_token_hint this provider did not issue"
            );
            return signed_out(true);
        }
    }

    // No return address asked for: just say so.
    let Some(requested) = params.post_logout_redirect_uri.as_deref() else {
        return signed_out(false);
    };

    // A return address needs a known client and an exact registration.
    let identified = params.client_id.is_some() || params.id_token_hint.is_some();
    let registered = client
        .post_logout_redirect_uris
        .iter()
        .find(|uri| uri.as_str() == requested);
    let state = params.state.filter(|state| state.len() <= MAX_STATE_LEN);
    match registered {
        Some(uri) if identified => {
            tracing::info!(oidc.client_id = client.id, "end-session request honoured");
            let state: Vec<(&str, &str)> = state.iter().map(|s| ("state", s.as_str())).collect();
            redirect(uri.clone(), &state)
        }
        _ => {
            tracing::warn!(
                oidc.client_id = client.id,
                "end-session request names a return address that is not registered, \
                 or no client"
            );
            signed_out(true)
        }
    }
}

/// The plain signed-out page; `refused` adds why the browser stays here.
fn signed_out(refused: bool) -> Response {
    let text = if refused {
        "You are signed out of the Coffer development sign-in. The request \
         did not name a registered address to return to, so you stay on this \
         page; you can close it."
    } else {
        "You are signed out of the Coffer development sign-in. You can close \
         this page."
    };
    pages::message(StatusCode::OK, "Signed out", text)
}
