//! `/login`, `/auth/callback` and `/logout`: the browser's way in and out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::oidc::{PendingSignIn, SignInError, VerifiedIdentity, constant_time_eq};
use super::{CurrentUser, SessionUser, USER_KEY, new_csrf_token, request_id};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::error::ApiError;
use crate::state::AppState;

/// Session key of a sign-in waiting for the provider's answer.
const PENDING_KEY: &str = "pending_sign_in";

/// The page that explains a failed sign-in.
const FAILED_PAGE: &str = "/auth/failed";

#[derive(Debug, Deserialize)]
pub struct LoginParams {
    next: Option<String>,
}

/// Starts a sign-in: remembers state, nonce and PKCE verifier in this
/// browser's session and sends it to the provider.
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    parts: Parts,
    Query(params): Query<LoginParams>,
) -> Result<Response, ApiError> {
    let next = safe_next(params.next.as_deref());

    // Someone already signed in has nothing to do here.
    let signed_in = parts
        .extensions
        .get::<CurrentUser>()
        .is_some_and(|current| current.0.is_some());
    if signed_in {
        return Ok(Redirect::to(&next).into_response());
    }

    // An unreachable provider is a page for the user, not a crash.
    let (url, pending) = match state.oidc.begin(next).await {
        Ok(started) => started,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "cannot start sign-in");
            return Ok(Redirect::to(&format!("{FAILED_PAGE}?reason=unavailable")).into_response());
        }
    };
    session
        .insert(PENDING_KEY, &pending)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Finishes a sign-in: checks the provider's answer, records it, and only
/// then opens a session under a new id.
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    parts: Parts,
    Query(params): Query<CallbackParams>,
) -> Result<Response, ApiError> {
    let request_id = request_id(&parts);

    // The pending sign-in is used once, whatever happens next.
    let pending: Option<PendingSignIn> = session
        .remove(PENDING_KEY)
        .await
        .map_err(anyhow::Error::from)?;
    let identity = match verify_callback(&state, pending.as_ref(), &params).await {
        Ok(identity) => identity,
        Err(failure) => return refuse(&state, &request_id, failure).await,
    };

    // The sign-in is on record before the session exists.
    let roles = state
        .groups
        .roles_for(identity.groups.iter().map(String::as_str));
    let event = AuditEvent::new(
        &identity.username,
        Action::SignIn,
        Outcome::Success,
        &request_id,
    )
    .with_detail(format!(
        "subject {} at {}",
        identity.subject, identity.issuer
    ));
    state.audit.record(event).await?;
    if roles.is_empty() {
        let event = AuditEvent::new(
            &identity.username,
            Action::AccessDenied,
            Outcome::Denied,
            &request_id,
        )
        .with_detail("signed in without a Coffer group");
        state.audit.record(event).await?;
    }

    // A new id at sign-in: whoever knew the anonymous session's id learns
    // nothing about the signed-in one.
    session.cycle_id().await.map_err(anyhow::Error::from)?;
    let now = state.clock.now();
    let user = SessionUser {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        username: identity.username.clone(),
        roles: roles.clone(),
        csrf_token: new_csrf_token(),
        signed_in_at: now,
        last_seen: now,
    };
    session
        .insert(USER_KEY, &user)
        .await
        .map_err(anyhow::Error::from)?;
    tracing::info!(user.name = %user.username, user.roles = ?user.roles, "signed in");

    let next = match (roles.is_empty(), pending) {
        (false, Some(pending)) => pending.next,
        _ => "/".to_owned(),
    };
    Ok(Redirect::to(&next).into_response())
}

/// Why a callback cannot sign anyone in, in the words the failure page and
/// the audit record use.
#[derive(Debug)]
struct Refusal {
    reason: &'static str,
    detail: String,
}

async fn verify_callback(
    state: &AppState,
    pending: Option<&PendingSignIn>,
    params: &CallbackParams,
) -> Result<VerifiedIdentity, Refusal> {
    // An answer to a sign-in this browser never started (or already
    // finished) is refused before anything is sent to the provider.
    let Some(pending) = pending else {
        return Err(Refusal {
            reason: "no_pending",
            detail: "no sign-in was in progress in this browser".to_owned(),
        });
    };

    // The provider may answer with an error instead of a code.
    if let Some(error) = &params.error {
        return Err(Refusal {
            reason: "provider",
            detail: format!("the identity provider answered {error}"),
        });
    }
    let (Some(code), Some(returned_state)) = (&params.code, &params.state) else {
        return Err(Refusal {
            reason: "provider",
            detail: "the callback carried no code or state".to_owned(),
        });
    };

    state
        .oidc
        .finish(pending, code, returned_state)
        .await
        .map_err(|error| Refusal {
            reason: match error {
                SignInError::StateMismatch => "state",
                SignInError::Unavailable(_) => "unavailable",
                SignInError::ProviderRefused(_) | SignInError::CodeExchange(_) => "exchange",
                SignInError::MissingIdToken | SignInError::InvalidIdToken(_) => "token",
            },
            detail: error.to_string(),
        })
}

/// Records a failed sign-in and sends the browser to the page explaining it.
async fn refuse(
    state: &AppState,
    request_id: &str,
    refusal: Refusal,
) -> Result<Response, ApiError> {
    tracing::warn!(reason = refusal.reason, detail = %refusal.detail, "sign-in refused");
    let event = AuditEvent::new(
        "anonymous",
        Action::SignInFailed,
        Outcome::Failure,
        request_id,
    )
    .with_detail(refusal.detail);
    state.audit.record(event).await?;
    let target = format!("{FAILED_PAGE}?reason={}", refusal.reason);
    Ok(Redirect::to(&target).into_response())
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf_token: String,
}

/// Ends the session here and at the provider.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    parts: Parts,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    let user = parts
        .extensions
        .get::<CurrentUser>()
        .and_then(|current| current.0.clone());
    let Some(user) = user else {
        return Ok(Redirect::to("/").into_response());
    };

    // The form's hidden token proves the request came from a Coffer page.
    if !constant_time_eq(user.csrf_token.as_bytes(), form.csrf_token.as_bytes()) {
        return Err(ApiError::Forbidden(
            "missing or wrong CSRF token".to_owned(),
        ));
    }

    // Record first, then remove the session from the store so its cookie
    // is worthless even if replayed.
    let event = AuditEvent::new(
        &user.username,
        Action::SignOut,
        Outcome::Success,
        &request_id(&parts),
    );
    state.audit.record(event).await?;
    session.flush().await.map_err(anyhow::Error::from)?;
    tracing::info!(user.name = %user.username, "signed out");

    // The provider's session ends too, where the provider offers a way.
    let target = match state.oidc.end_session_url().await {
        Ok(Some(url)) => url.to_string(),
        Ok(None) => "/".to_owned(),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "cannot reach the provider to sign out there");
            "/".to_owned()
        }
    };
    Ok(Redirect::to(&target).into_response())
}

/// A path on this site to return to after sign-in; anything else (another
/// host, a scheme, a protocol-relative URL) becomes `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/upload")), "/upload");
        assert_eq!(safe_next(Some("/models?q=a")), "/models?q=a");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
