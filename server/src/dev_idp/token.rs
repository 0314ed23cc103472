//! The token endpoint: `authorization_code` for the portal and
//! `client_credentials` for the pipeline client.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreErrorResponseType, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    EmptyExtraTokenFields, IdTokenFields, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenType,
};
use percent_encoding::percent_decode_str;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::codes::{RedeemError, verify_pkce_s256};
use super::tokens::{IdTokenExtras, Issue, Subject, TOKEN_LIFETIME};
use super::users::digest;
use super::{Client, ClientKind, DevIdp, PIPELINE_SCOPE};

/// The answer to the code grant: `CoreTokenResponse` with this provider's
/// ID token claims.
type CodeTokenResponse = StandardTokenResponse<
    IdTokenFields<
        IdTokenExtras,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    Bearer,
>;

/// The answer to the client credentials grant, which has no ID token.
type MachineTokenResponse = StandardTokenResponse<EmptyExtraTokenFields, Bearer>;

/// `token_type` spelt `Bearer`, as RFC 6750 and Cognito spell it.
/// openidconnect's `CoreTokenType` writes `bearer`; the value is
/// case-insensitive, but not every client compares it that way.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
enum Bearer {
    Bearer,
}
impl TokenType for Bearer {}

/// Parameters of a token request. Not `Debug`: they hold secrets.
#[derive(Default, Deserialize)]
struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// An error answered as RFC 6749, section 5.2, describes it.
struct TokenError {
    kind: CoreErrorResponseType,
    description: &'static str,
}

impl TokenError {
    fn new(kind: CoreErrorResponseType, description: &'static str) -> Self {
        Self { kind, description }
    }

    fn invalid_request(description: &'static str) -> Self {
        Self::new(CoreErrorResponseType::InvalidRequest, description)
    }

    fn invalid_grant(description: &'static str) -> Self {
        Self::new(CoreErrorResponseType::InvalidGrant, description)
    }

    fn invalid_client() -> Self {
        Self::new(
            CoreErrorResponseType::InvalidClient,
            "client authentication failed",
        )
    }

    /// Something on this side broke; the cause was logged where it
    /// happened.
    fn server_error() -> Self {
        Self::new(
            CoreErrorResponseType::Extension("server_error".to_owned()),
            "the provider could not answer; see its log",
        )
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        // 401 with a challenge for client authentication, 500 for our own
        // failures, 400 for everything else.
        let status = match &self.kind {
            CoreErrorResponseType::InvalidClient => StatusCode::UNAUTHORIZED,
            CoreErrorResponseType::Extension(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = StandardErrorResponse::new(self.kind, Some(self.description.to_owned()), None);
        let mut response = json(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="coffer-dev-idp""#),
            );
        }
        response
    }
}

/// `POST /token`.
#[tracing::instrument(name = "dev_idp.token", skip_all)]
pub(super) async fn exchange(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match answer(&idp, &headers, &body, Utc::now()) {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(
                oidc.error = error.kind.as_ref(),
                reason = error.description,
                "development provider refused a token request"
            );
            error.into_response()
        }
    }
}

/// Authenticates the client, then runs the grant it asked for.
fn answer(
    idp: &DevIdp,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Response, TokenError> {
    // A form, each parameter at most once (RFC 6749, section 3.2).
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(TokenError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params: TokenParams = serde_urlencoded::from_bytes(body)
        .map_err(|_| TokenError::invalid_request("the form is malformed or repeats a parameter"))?;

    // Clients authenticate before anything else is looked at.
    let client = authenticate_client(idp, headers, &params)?;
    match params.grant_type.as_deref() {
        Some("authorization_code") => code_grant(idp, client, &params, now),
        Some("client_credentials") => client_credentials_grant(idp, client, &params, now),
        Some(_) => Err(TokenError::new(
            CoreErrorResponseType::UnsupportedGrantType,
            "only authorization_code and client_credentials are supported",
        )),
        None => Err(TokenError::invalid_request("grant_type is required")),
    }
}

/// Checks `client_secret_basic` or `client_secret_post`, exactly one of them.
fn authenticate_client<'a>(
    idp: &'a DevIdp,
    headers: &HeaderMap,
    params: &TokenParams,
) -> Result<&'a Client, TokenError> {
    // Which method did the client use?
    let basic = basic_credentials(headers)?;
    let (id, secret) = match (basic, &params.client_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (Some((id, secret)), None) => {
            if params
                .client_id
                .as_ref()
                .is_some_and(|form_id| *form_id != id)
            {
                return Err(TokenError::invalid_request(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, secret)
        }
        (None, Some(secret)) => {
            let id = params.client_id.clone().ok_or_else(|| {
                TokenError::invalid_request("client_id is required with client_secret")
            })?;
            (id, SecretString::from(secret.clone()))
        }
        (None, None) => return Err(TokenError::invalid_client()),
    };

    // An unknown client costs the same comparison as a known one.
    let client = idp.client(&id);
    let expected = client.map_or([0u8; 32], |client| client.secret_digest);
    let matches = digest(&secret) == expected;
    match client {
        Some(client) if matches => Ok(client),
        _ => {
            tracing::warn!(
                oidc.client_id = client.map(|client| client.id),
                "development provider refused a client's credentials"
            );
            Err(TokenError::invalid_client())
        }
    }
}

/// The id and secret of an `Authorization: Basic` header, each
/// form-urlencoded before encoding as RFC 6749, section 2.3.1, requires.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, SecretString)>, TokenError> {
    // No header, or another scheme, means no Basic credentials.
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| TokenError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(TokenError::invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client());
    }

    // base64 of `id:secret`, each part form-urlencoded.
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| TokenError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| TokenError::invalid_client())?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(TokenError::invalid_client)?;
    let id = form_decode(id)?;
    let secret = SecretString::from(form_decode(secret)?);
    Ok(Some((id, secret)))
}

/// Decodes one `application/x-www-form-urlencoded` value.
fn form_decode(text: &str) -> Result<String, TokenError> {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| TokenError::invalid_client())
}

/// `grant_type=authorization_code`: redeems a code once and answers an
/// access token and an ID token.
fn code_grant(
    idp: &DevIdp,
    client: &Client,
    params: &TokenParams,
    now: DateTime<Utc>,
) -> Result<Response, TokenError> {
    // Only the portal has codes to redeem.
    if client.kind != ClientKind::Browser {
        return Err(TokenError::new(
            CoreErrorResponseType::UnauthorizedClient,
            "this client may not use the authorization_code grant",
        ));
    }
    let (Some(code), Some(redirect_uri), Some(verifier)) = (
        params.code.as_deref(),
        params.redirect_uri.as_deref(),
        params.code_verifier.as_deref(),
    ) else {
        return Err(TokenError::invalid_request(
            "code, redirect_uri and code_verifier are required",
        ));
    };

    // Redeeming consumes the code, whether or not the checks below pass,
    // so a stolen code cannot be tried against several verifiers.
    let redeemed = match idp.inner.codes.lock() {
        Ok(mut codes) => codes.redeem(code, now),
        Err(_) => {
            tracing::error!("development provider's code store is unusable after a panic");
            return Err(TokenError::server_error());
        }
    };
    let grant = match redeemed {
        Ok(grant) => grant,
        Err(RedeemError::Unknown) => {
            return Err(TokenError::invalid_grant(
                "the authorization code is invalid or was already used",
            ));
        }
        Err(RedeemError::Expired) => {
            return Err(TokenError::invalid_grant(
                "the authorization code has expired",
            ));
        }
    };

    // The code is bound to its client, redirect URI and PKCE challenge.
    if grant.client_id != client.id {
        return Err(TokenError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(TokenError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !verify_pkce_s256(verifier, &grant.code_challenge) {
        return Err(TokenError::invalid_grant(
            "code_verifier does not match the code challenge",
        ));
    }

    // Tokens for the user who signed in.
    let Some(user) = idp.inner.users.get(&grant.username) else {
        return Err(TokenError::invalid_grant("the account no longer exists"));
    };
    let subject = Subject {
        sub: &user.subject,
        username: Some(&user.username),
        email: user.email.as_deref(),
        groups: &user.groups,
        auth_time: Some(grant.auth_time),
    };
    let issue = Issue {
        issuer: &idp.inner.issuer,
        groups_claim: &idp.inner.groups_claim,
        client_id: client.id,
        scopes: &grant.scopes,
        now,
    };
    let signer = &idp.inner.signer;
    let access_token = signer
        .access_token(&issue, &subject)
        .map_err(signing_failed)?;
    let id_token = signer
        .id_token(&issue, &subject, grant.nonce.as_deref(), &access_token)
        .map_err(signing_failed)?;

    // The standard response, ID token included.
    let extra = IdTokenFields::new(Some(id_token), EmptyExtraTokenFields {});
    let mut response = CodeTokenResponse::new(access_token, Bearer::Bearer, extra);
    response.set_expires_in(TOKEN_LIFETIME.to_std().ok().as_ref());
    response.set_scopes(Some(grant.scopes.iter().cloned().map(Scope::new).collect()));
    tracing::info!(
        user.name = %user.username,
        oidc.client_id = client.id,
        oidc.grant_type = "authorization_code",
        "development provider issued tokens"
    );
    Ok(json(StatusCode::OK, &response))
}

/// `grant_type=client_credentials`: an access token with the machine
/// client's groups.
fn client_credentials_grant(
    idp: &DevIdp,
    client: &Client,
    params: &TokenParams,
    now: DateTime<Utc>,
) -> Result<Response, TokenError> {
    // Only the machine client acts on its own behalf.
    if client.kind != ClientKind::Machine {
        return Err(TokenError::new(
            CoreErrorResponseType::UnauthorizedClient,
            "this client may not use the client_credentials grant",
        ));
    }

    // As Cognito does, no scope asked means every scope the client has.
    let requested: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    if requested.iter().any(|scope| scope != PIPELINE_SCOPE) {
        return Err(TokenError::new(
            CoreErrorResponseType::InvalidScope,
            "the only scope of this client is coffer/api",
        ));
    }
    let scopes = vec![PIPELINE_SCOPE.to_owned()];

    // The client is its own subject.
    let subject = Subject {
        sub: client.id,
        username: None,
        email: None,
        groups: &client.groups,
        auth_time: None,
    };
    let issue = Issue {
        issuer: &idp.inner.issuer,
        groups_claim: &idp.inner.groups_claim,
        client_id: client.id,
        scopes: &scopes,
        now,
    };
    let access_token = idp
        .inner
        .signer
        .access_token(&issue, &subject)
        .map_err(signing_failed)?;

    // The standard response, without ID token.
    let mut response =
        MachineTokenResponse::new(access_token, Bearer::Bearer, EmptyExtraTokenFields {});
    response.set_expires_in(TOKEN_LIFETIME.to_std().ok().as_ref());
    response.set_scopes(Some(scopes.into_iter().map(Scope::new).collect()));
    tracing::info!(
        oidc.client_id = client.id,
        oidc.grant_type = "client_credentials",
        "development provider issued an access token"
    );
    Ok(json(StatusCode::OK, &response))
}

/// Logs a signing failure once and hides it from the client.
fn signing_failed(error: anyhow::Error) -> TokenError {
    tracing::error!(
        error = format!("{error:#}"),
        "development provider could not sign a token"
    );
    TokenError::server_error()
}

/// JSON that no cache may keep (RFC 6749, section 5.1).
fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let Ok(text) = serde_json::to_string(body) else {
        tracing::error!("development provider could not serialise a token response");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (PRAGMA, HeaderValue::from_static("no-cache")),
    ];
    (status, headers, text).into_response()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn basic(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn basic_credentials_are_base64_of_form_encoded_id_and_secret() {
        let encoded = STANDARD.encode("my%20client:p%3Ass+word");

        let parsed = basic_credentials(&basic(&format!("Basic {encoded}")));

        let (id, secret) = parsed.ok().flatten().expect("credentials");
        assert_eq!(id, "my client");
        assert_eq!(secret.expose_secret(), "p:ss word");
    }

    #[test]
    fn malformed_basic_credentials_are_refused() {
        assert!(basic_credentials(&basic("Basic !!!")).is_err());
        assert!(
            basic_credentials(&basic(&format!("Basic {}", STANDARD.encode("no-colon")))).is_err()
        );
        assert!(basic_credentials(&basic("Bearer abc")).is_err());
        assert!(matches!(basic_credentials(&HeaderMap::new()), Ok(None)));
    }
}
