//! What relying parties read about the provider: the discovery document,
//! the key set, and the user-info endpoint.

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, EndSessionUrl, JsonWebKeySetUrl, LogoutProviderMetadata,
    ProviderMetadata, ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::tokens::ALG;
use super::{DevIdp, PIPELINE_SCOPE};

/// Discovery fields that openidconnect's `ProviderMetadata` lacks.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(super) struct ExtraMetadata {
    /// RFC 8414: the PKCE methods accepted, here only `S256`.
    code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// The discovery document: core metadata, RP-initiated logout and
/// [`ExtraMetadata`].
pub(super) type DevProviderMetadata = ProviderMetadata<
    LogoutProviderMetadata<ExtraMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// `GET /.well-known/openid-configuration`.
pub(super) async fn configuration(State(idp): State<DevIdp>) -> Response {
    match metadata(&idp) {
        Ok(metadata) => Json(metadata).into_response(),
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "development provider could not describe itself"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /jwks`: the public signing key.
pub(super) async fn jwks(State(idp): State<DevIdp>) -> Response {
    Json(idp.inner.signer.jwks()).into_response()
}

/// The discovery document of `idp`.
pub(super) fn metadata(idp: &DevIdp) -> anyhow::Result<DevProviderMetadata> {
    // Every endpoint hangs off the issuer.
    let logout = LogoutProviderMetadata {
        end_session_endpoint: Some(EndSessionUrl::new(idp.endpoint("logout"))?),
        additional_metadata: ExtraMetadata {
            code_challenge_methods_supported: vec!["S256".to_owned()],
            authorization_response_iss_parameter_supported: true,
        },
    };
    let metadata = DevProviderMetadata::new(
        idp.inner.issuer.clone(),
        AuthUrl::new(idp.endpoint("authorize"))?,
        JsonWebKeySetUrl::new(idp.endpoint("jwks"))?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![ALG],
        logout,
    )
    .set_token_endpoint(Some(TokenUrl::new(idp.endpoint("token"))?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(idp.endpoint("userinfo"))?));

    // What the provider accepts and emits.
    let scopes = ["openid", "email", "profile", PIPELINE_SCOPE];
    let claims = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "email",
        "email_verified",
        "preferred_username",
        "token_use",
        idp.inner.groups_claim.as_str(),
    ];
    Ok(metadata
        .set_scopes_supported(Some(scopes.map(|s| Scope::new(s.to_owned())).to_vec()))
        .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
        .set_grant_types_supported(Some(vec![
            CoreGrantType::AuthorizationCode,
            CoreGrantType::ClientCredentials,
        ]))
        .set_token_endpoint_auth_methods_supported(Some(vec![
            CoreClientAuthMethod::ClientSecretBasic,
            CoreClientAuthMethod::ClientSecretPost,
        ]))
        .set_claim_types_supported(Some(vec![CoreClaimType::Normal]))
        .set_claims_supported(Some(
            claims.map(|c| CoreClaimName::new(c.to_owned())).to_vec(),
        ))
        // Discovery defaults `request_uri_parameter_supported` to true, so
        // the unsupported request parameters are said out loud.
        .set_claims_parameter_supported(Some(false))
        .set_request_parameter_supported(Some(false))
        .set_request_uri_parameter_supported(Some(false)))
}

/// `GET` or `POST /userinfo`: the claims of the user behind a bearer access
/// token, as the ID token states them.
#[tracing::instrument(name = "dev_idp.userinfo", skip_all)]
pub(super) async fn userinfo(State(idp): State<DevIdp>, headers: HeaderMap) -> Response {
    // RFC 6750: no token gets a bare challenge, a bad one `invalid_token`.
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return unauthorized(r#"Bearer realm="coffer-dev-idp""#);
    };
    let invalid = || unauthorized(r#"Bearer realm="coffer-dev-idp", error="invalid_token""#);

    // Only a live user access token of this provider with the openid scope.
    let inner = &idp.inner;
    let claims = match inner
        .signer
        .verify_access_token(&inner.issuer, token, Utc::now())
    {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(
                reason = format!("{error:#}"),
                "development provider refused a user-info request"
            );
            return invalid();
        }
    };
    let extras = claims.additional_claims();
    let has_openid = extras.scope.split(' ').any(|scope| scope == "openid");
    let user = extras
        .username
        .as_deref()
        .and_then(|name| inner.users.get(name));
    let Some(user) = user.filter(|_| has_openid) else {
        return invalid();
    };

    // The same claims as the ID token's profile.
    let mut body = Map::new();
    body.insert("sub".to_owned(), json!(user.subject));
    body.insert("preferred_username".to_owned(), json!(user.username));
    if let Some(email) = &user.email {
        body.insert("email".to_owned(), json!(email));
        body.insert("email_verified".to_owned(), json!(true));
    }
    if !user.groups.is_empty() {
        body.insert(inner.groups_claim.clone(), json!(user.groups));
    }
    let no_store = [(CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    (no_store, Json(Value::Object(body))).into_response()
}

/// A 401 with the given challenge.
fn unauthorized(challenge: &'static str) -> Response {
    let headers = [
        (WWW_AUTHENTICATE, HeaderValue::from_static(challenge)),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (StatusCode::UNAUTHORIZED, headers).into_response()
}
