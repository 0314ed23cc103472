//! The authorization endpoint: the sign-in form (GET) and the password
//! check that answers a code (POST).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, REFERRER_POLICY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use openidconnect::core::CoreAuthErrorResponseType;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::DevIdp;
use super::codes::{CodeGrant, is_s256_challenge};
use super::pages::{self, SignInForm};

/// Scopes a browser sign-in may ask for.
const USER_SCOPES: &[&str] = &["openid", "email", "profile"];

/// Longest `state` or `nonce` accepted; real ones are a few dozen bytes.
const MAX_ECHOED_LEN: usize = 1024;

/// Longest username the form echoes back.
const MAX_USERNAME_LEN: usize = 256;

/// Parameters of an authorization request. Each may appear once: a repeated
/// parameter fails to parse and the request is refused.
#[derive(Default, Deserialize)]
pub(super) struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_mode: Option<String>,
    prompt: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
}

/// What the form sends beside the request. Not `Debug`: it holds a password.
#[derive(Deserialize)]
struct Credentials {
    username: Option<String>,
    password: Option<String>,
}

/// A request that passed every check.
struct ValidRequest {
    client_id: &'static str,
    redirect_uri: Url,
    scopes: Vec<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
}

/// Why a request is refused, and so how.
enum Refusal {
    /// The client or the redirect URI cannot be trusted: explain on a page
    /// and never redirect (RFC 6749, section 4.1.2.1).
    Page(&'static str),
    /// Report the error to the client at its registered redirect URI,
    /// boxed to keep the `Result` small.
    Redirect {
        to: Box<Url>,
        error: CoreAuthErrorResponseType,
        description: &'static str,
        state: Option<String>,
    },
}

/// `GET /authorize`: checks the request and shows the sign-in form.
#[tracing::instrument(name = "dev_idp.authorize", skip_all)]
pub(super) async fn show_form(State(idp): State<DevIdp>, RawQuery(query): RawQuery) -> Response {
    // A repeated or malformed parameter cannot be trusted with a redirect.
    let query = query.unwrap_or_default();
    let Ok(params) = serde_urlencoded::from_str::<AuthorizeParams>(&query) else {
        return bad_request("The sign-in request is malformed or repeats a parameter.");
    };

    // Show the form, carrying the checked request in hidden fields.
    match validate(&idp, &params) {
        Ok(request) => form(&idp, &request, StatusCode::OK, "", None),
        Err(refusal) => refuse(&idp, refusal),
    }
}

/// `POST /authorize`: checks the request again, then the password, and
/// sends the browser back to the client with a code.
#[tracing::instrument(name = "dev_idp.sign_in", skip_all)]
pub(super) async fn sign_in(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Hidden fields come from the browser, so they are checked again.
    let (Ok(params), Ok(credentials)) = (
        serde_urlencoded::from_bytes::<AuthorizeParams>(&body),
        serde_urlencoded::from_bytes::<Credentials>(&body),
    ) else {
        return bad_request("The sign-in form is malformed or repeats a field.");
    };
    let request = match validate(&idp, &params) {
        Ok(request) => request,
        Err(refusal) => return refuse(&idp, refusal),
    };

    // Both fields are needed before anything is checked.
    let username = credentials.username.unwrap_or_default();
    let password = SecretString::from(credentials.password.unwrap_or_default());
    let shown = if username.len() <= MAX_USERNAME_LEN {
        username.as_str()
    } else {
        ""
    };
    if username.is_empty() || password.expose_secret().is_empty() {
        let error = Some("Enter a username and a password.");
        return form(&idp, &request, StatusCode::BAD_REQUEST, shown, error);
    }

    // One message for an unknown user and a wrong password, so the form
    // does not reveal which accounts exist.
    let Some(user) = idp.inner.users.authenticate(&username, &password) else {
        // Name the account only if it exists: what was typed into the
        // username field may be a password.
        let known = idp
            .inner
            .users
            .get(&username)
            .map(|user| user.username.as_str());
        tracing::warn!(
            user.name = known,
            oidc.client_id = request.client_id,
            "development sign-in refused: wrong username or password"
        );

        // The portal's audit trail holds the refusal before the user
        // hears of it.
        if let Some(hook) = idp.inner.refusal_hook.get() {
            let request_id = headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("unknown")
                .to_owned();
            if let Err(error) = hook(known.map(str::to_owned), request_id).await {
                tracing::error!(error = %format!("{error:#}"), "could not record a refused sign-in");
                return (StatusCode::INTERNAL_SERVER_ERROR, "Sign-in is unavailable.")
                    .into_response();
            }
        }
        let error = Some("Incorrect username or password.");
        return form(&idp, &request, StatusCode::UNAUTHORIZED, shown, error);
    };

    // Remember the sign-in under a fresh one-shot code.
    let now = Utc::now();
    let grant = CodeGrant {
        client_id: request.client_id.to_owned(),
        redirect_uri: request.redirect_uri.to_string(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        username: user.username.clone(),
        auth_time: now,
    };
    let issued = match idp.inner.codes.lock() {
        Ok(mut codes) => codes.issue(grant, now).ok(),
        // A panic while holding the lock leaves the store unusable.
        Err(_) => {
            tracing::error!("development provider's code store is unusable after a panic");
            None
        }
    };
    let Some(code) = issued else {
        return refuse(
            &idp,
            Refusal::Redirect {
                to: Box::new(request.redirect_uri),
                error: CoreAuthErrorResponseType::TemporarilyUnavailable,
                description: "too many sign-ins are in progress; try again",
                state: request.state,
            },
        );
    };

    // Back to the client with the code, its state and our issuer (RFC 9207).
    tracing::info!(
        user.name = %user.username,
        oidc.client_id = request.client_id,
        "development sign-in succeeded"
    );
    let mut params = vec![("code", code.as_str()), ("iss", idp.issuer())];
    if let Some(state) = &request.state {
        params.push(("state", state));
    }
    redirect(request.redirect_uri, &params)
}

/// Checks an authorization request in the order RFC 6749 demands: first
/// what decides whether redirecting is safe, then the rest.
fn validate(idp: &DevIdp, params: &AuthorizeParams) -> Result<ValidRequest, Refusal> {
    // Only the portal signs users in; the pipeline client has no browser.
    let client = &idp.inner.portal;
    let Some(client_id) = params.client_id.as_deref() else {
        return Err(Refusal::Page("The sign-in request names no client."));
    };
    if client_id != client.id {
        return Err(Refusal::Page(
            "The sign-in request names an unknown client.",
        ));
    }

    // The redirect URI must be registered, character for character.
    let Some(redirect_uri) = params.redirect_uri.as_deref() else {
        return Err(Refusal::Page("The sign-in request names no redirect URI."));
    };
    let Some(registered) = client
        .redirect_uris
        .iter()
        .find(|uri| uri.as_str() == redirect_uri)
    else {
        return Err(Refusal::Page(
            "The sign-in request names a redirect URI that is not registered for this client.",
        ));
    };

    // From here on, errors go back to the client.
    let state = params.state.clone();
    if state
        .as_ref()
        .is_some_and(|state| state.len() > MAX_ECHOED_LEN)
    {
        return Err(Refusal::Page(
            "The sign-in request carries an over-long state.",
        ));
    }
    let back = |error, description| Refusal::Redirect {
        to: Box::new(registered.clone()),
        error,
        description,
        state: state.clone(),
    };
    use CoreAuthErrorResponseType as E;

    // Request objects are not supported (OpenID Connect Core, 6).
    if params.request.is_some() {
        return Err(back(
            E::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.request_uri.is_some() {
        return Err(back(
            E::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }

    // The code flow, answered in the query.
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(back(E::InvalidRequest, "response_type is required")),
        Some(_) => {
            return Err(back(
                E::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|mode| mode != "query")
    {
        return Err(back(
            E::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }

    // An OpenID request, with scopes the provider knows.
    let scopes: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|scope| scope == "openid") {
        return Err(back(E::InvalidScope, "the openid scope is required"));
    }
    if scopes
        .iter()
        .any(|scope| !USER_SCOPES.contains(&scope.as_str()))
    {
        return Err(back(
            E::InvalidScope,
            "only the openid, email and profile scopes are supported",
        ));
    }

    // PKCE with S256 on every request; plain gives no protection when the
    // authorization request itself leaks.
    match params.code_challenge_method.as_deref() {
        Some("S256") => {}
        Some("plain") => {
            return Err(back(
                E::InvalidRequest,
                "code_challenge_method=plain is not accepted; use S256",
            ));
        }
        _ => {
            return Err(back(
                E::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        }
    }
    let Some(code_challenge) = params.code_challenge.clone() else {
        return Err(back(E::InvalidRequest, "code_challenge is required"));
    };
    if !is_s256_challenge(&code_challenge) {
        return Err(back(
            E::InvalidRequest,
            "code_challenge must be 43 base64url characters",
        ));
    }

    // The nonce goes into the ID token as it came.
    let nonce = params.nonce.clone();
    if nonce
        .as_ref()
        .is_some_and(|nonce| nonce.len() > MAX_ECHOED_LEN)
    {
        return Err(back(E::InvalidRequest, "the nonce is too long"));
    }

    // The provider keeps no session, so it can never sign in silently.
    let prompts = params.prompt.as_deref().unwrap_or_default();
    if prompts.split(' ').any(|prompt| prompt == "none") {
        return Err(back(E::LoginRequired, "every sign-in shows the form"));
    }

    Ok(ValidRequest {
        client_id: client.id,
        redirect_uri: registered.clone(),
        scopes,
        state,
        nonce,
        code_challenge,
    })
}

/// The sign-in form for `request`.
fn form(
    idp: &DevIdp,
    request: &ValidRequest,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Response {
    // The request travels in hidden fields, exactly as it was checked.
    let mut hidden = vec![
        ("response_type", "code".to_owned()),
        ("client_id", request.client_id.to_owned()),
        ("redirect_uri", request.redirect_uri.to_string()),
        ("scope", request.scopes.join(" ")),
        ("code_challenge", request.code_challenge.clone()),
        ("code_challenge_method", "S256".to_owned()),
    ];
    if let Some(state) = &request.state {
        hidden.push(("state", state.clone()));
    }
    if let Some(nonce) = &request.nonce {
        hidden.push(("nonce", nonce.clone()));
    }
    let form = SignInForm {
        hidden: &hidden,
        username,
        error,
        demo: idp.inner.users.is_demo(),
    };
    pages::sign_in(status, &idp.inner.sign_in_csp, &form)
}

/// Answers a refused request: a page, or a redirect carrying the error.
fn refuse(idp: &DevIdp, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(message) => {
            tracing::warn!(reason = message, "development sign-in request refused");
            bad_request(message)
        }
        Refusal::Redirect {
            to,
            error,
            description,
            state,
        } => {
            tracing::warn!(
                oidc.error = error.as_ref(),
                reason = description,
                "development sign-in request refused"
            );
            let mut params = vec![
                ("error", error.as_ref()),
                ("error_description", description),
                ("iss", idp.issuer()),
            ];
            if let Some(state) = &state {
                params.push(("state", state));
            }
            redirect(*to, &params)
        }
    }
}

/// A 400 page that leads nowhere.
fn bad_request(message: &str) -> Response {
    pages::message(StatusCode::BAD_REQUEST, "Sign-in request refused", message)
}

/// A 303 to `to` with `params` added to its query.
pub(super) fn redirect(mut to: Url, params: &[(&str, &str)]) -> Response {
    // Keep any query the registered URI already has.
    to.query_pairs_mut().extend_pairs(params);

    // A URL serialises to ASCII, so it is always a valid header value.
    let Ok(location) = HeaderValue::from_str(to.as_str()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let headers = [
        (LOCATION, location),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    (StatusCode::SEE_OTHER, headers).into_response()
}
