//! The OpenID Connect relying party: discovery, the authorization code flow
//! with PKCE, and ID token verification. The same code signs users in
//! through Cognito in AWS and through the development provider on a laptop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadataWithLogout, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use tracing::instrument;
use url::Url;

/// How long discovery and the provider's keys are trusted before they are
/// fetched again; a token signed with an unknown key refreshes them sooner.
const PROVIDER_TTL: Duration = Duration::from_secs(600);

/// How old cached keys must be before a token they cannot verify makes
/// Coffer fetch them again.
const KEY_REFRESH_COOLDOWN: Duration = Duration::from_secs(60);

/// Claims beyond the standard ones: the groups claim (whatever its name)
/// and Cognito's `token_use`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponseWithGroups = StandardTokenResponse<IdFields, CoreTokenType>;
type DiscoveredClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponseWithGroups,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How Coffer is registered with its identity provider.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// Exactly as the provider writes it.
    pub issuer: IssuerUrl,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// The portal's `/auth/callback`.
    pub redirect_url: Url,
    /// Where the provider sends the browser after signing out.
    pub post_logout_url: Url,
    /// A provider's sign-out URL when discovery names none (Cognito).
    pub logout_url: Option<Url>,
    /// The ID token claim carrying groups.
    pub groups_claim: String,
}

/// What Coffer keeps in the browser's session between sending it to the
/// provider and its return: each value is used once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A local path to return to after sign-in.
    pub next: String,
}

/// A user the provider vouched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// Why a sign-in did not complete. The messages are safe to show and to
/// record; none carries a token or code.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the sign-in response does not match a sign-in started in this browser")]
    StateMismatch,
    #[error("the identity provider refused the sign-in: {0}")]
    ProviderRefused(String),
    #[error("the authorization code could not be exchanged: {0}")]
    CodeExchange(String),
    #[error("the identity provider sent no ID token")]
    MissingIdToken,
    #[error("the ID token was refused: {0}")]
    InvalidIdToken(String),
    #[error("the identity provider is unreachable")]
    Unavailable(#[source] anyhow::Error),
}

/// A discovered provider, ready to use.
#[derive(Debug)]
struct Provider {
    client: DiscoveredClient,
    end_session: Option<EndSessionUrl>,
    fetched_at: Instant,
}

/// Signs users in against one OpenID Connect provider.
#[derive(Debug)]
pub struct RelyingParty {
    settings: OidcSettings,
    http: reqwest::Client,
    provider: RwLock<Option<Arc<Provider>>>,
}

impl RelyingParty {
    /// A relying party that discovers its provider on first use, so the
    /// portal can start before an embedded provider listens.
    pub fn new(settings: OidcSettings) -> anyhow::Result<RelyingParty> {
        // Following redirects would let a provider response point Coffer's
        // requests anywhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .context("failed to build the OIDC HTTP client")?;
        Ok(RelyingParty {
            settings,
            http,
            provider: RwLock::new(None),
        })
    }

    /// The issuer users are keyed under.
    pub fn issuer(&self) -> &Url {
        self.settings.issuer.url()
    }

    /// Fetches discovery and the provider's keys, or answers from cache.
    async fn provider(&self, refresh: bool) -> anyhow::Result<Arc<Provider>> {
        // Fresh enough cached metadata answers without a network call.
        if !refresh
            && let Some(provider) = self.provider.read().await.as_ref()
            && provider.fetched_at.elapsed() < PROVIDER_TTL
        {
            return Ok(provider.clone());
        }

        // Discovery refuses a document whose issuer differs from ours.
        let metadata =
            ProviderMetadataWithLogout::discover_async(self.settings.issuer.clone(), &self.http)
                .await
                .with_context(|| {
                    format!(
                        "OIDC discovery failed for {}",
                        self.settings.issuer.as_str()
                    )
                })?;
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let client_secret = self
            .settings
            .client_secret
            .as_ref()
            .map(|secret| ClientSecret::new(secret.expose_secret().to_owned()));
        let client = DiscoveredClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            client_secret,
        )
        .set_redirect_uri(RedirectUrl::from_url(self.settings.redirect_url.clone()));

        let provider = Arc::new(Provider {
            client,
            end_session,
            fetched_at: Instant::now(),
        });
        *self.provider.write().await = Some(provider.clone());
        Ok(provider)
    }

    /// Answers whether the provider's discovery document is reachable.
    pub async fn check_ready(&self) -> anyhow::Result<()> {
        self.provider(false).await.map(|_| ())
    }

    /// The provider URL to send the browser to, and what to remember until
    /// it comes back.
    pub async fn begin(&self, next: String) -> anyhow::Result<(Url, PendingSignIn)> {
        let provider = self.provider(false).await?;

        // S256 is the only PKCE method Coffer uses; state and nonce are
        // fresh random values bound to this browser's session.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = provider
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();

        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next,
        };
        Ok((url, pending))
    }

    /// Completes a sign-in from the provider's callback parameters.
    #[instrument(skip_all)]
    pub async fn finish(
        &self,
        pending: &PendingSignIn,
        code: &str,
        returned_state: &str,
    ) -> Result<VerifiedIdentity, SignInError> {
        // The state proves the callback answers a sign-in this browser
        // started; compare without leaking timing.
        if !constant_time_eq(pending.state.as_bytes(), returned_state.as_bytes()) {
            return Err(SignInError::StateMismatch);
        }

        // Exchange the code, proving possession of the PKCE verifier.
        let provider = self
            .provider(false)
            .await
            .map_err(SignInError::Unavailable)?;
        let request = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| SignInError::CodeExchange(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|error| SignInError::CodeExchange(describe_token_error(&error)))?;
        let id_token = response.id_token().ok_or(SignInError::MissingIdToken)?;

        // Verify against current keys; a key the cache does not know may be
        // a rotation, so fetch the keys once more before refusing.
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match id_token.claims(&provider.client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // Keys fetched moments ago are current; refusing at once keeps
            // a stream of bad callbacks from becoming a stream of fetches.
            Err(first_error) if provider.fetched_at.elapsed() < KEY_REFRESH_COOLDOWN => {
                return Err(SignInError::InvalidIdToken(first_error.to_string()));
            }
            Err(first_error) => {
                let fresh = self
                    .provider(true)
                    .await
                    .map_err(SignInError::Unavailable)?;
                let verifier = fresh.client.id_token_verifier();
                id_token
                    .claims(&verifier, &nonce)
                    .map_err(|_| SignInError::InvalidIdToken(first_error.to_string()))?
                    .clone()
            }
        };

        // Cognito marks ID and access tokens; an access token must never
        // pass as proof of identity.
        let extra = claims.additional_claims();
        if let Some(token_use) = extra.claims.get("token_use")
            && token_use != "id"
        {
            return Err(SignInError::InvalidIdToken(
                "token_use is not \"id\"".to_owned(),
            ));
        }

        Ok(VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            username: username_of(&claims),
            groups: groups_of(extra, &self.settings.groups_claim),
        })
    }

    /// Where to send the browser so the provider's session ends too.
    pub async fn end_session_url(&self) -> anyhow::Result<Option<Url>> {
        let provider = self.provider(false).await?;
        let post_logout = self.settings.post_logout_url.as_str();
        let client_id = self.settings.client_id.as_str();

        // Standard RP-initiated logout where discovery offers it. The
        // client id stands in for `id_token_hint`, so no token rides in a
        // URL.
        if let Some(endpoint) = &provider.end_session {
            let mut url = endpoint.url().clone();
            url.query_pairs_mut()
                .append_pair("client_id", client_id)
                .append_pair("post_logout_redirect_uri", post_logout);
            return Ok(Some(url));
        }

        // Cognito's hosted UI speaks its own dialect.
        Ok(self.settings.logout_url.clone().map(|mut url| {
            url.query_pairs_mut()
                .append_pair("client_id", client_id)
                .append_pair("logout_uri", post_logout);
            url
        }))
    }
}

/// The name to show: the provider's preferred username, Cognito's
/// username, the email, or at last the subject.
fn username_of(claims: &openidconnect::IdTokenClaims<ExtraClaims, CoreGenderClaim>) -> String {
    claims
        .preferred_username()
        .map(|name| name.to_string())
        .or_else(|| {
            claims
                .additional_claims()
                .claims
                .get("cognito:username")
                .and_then(|value| value.as_str())
                .map(str::to_owned)
        })
        .or_else(|| claims.email().map(|email| email.to_string()))
        .unwrap_or_else(|| claims.subject().to_string())
}

/// Groups from the configured claim: a JSON array (Cognito) or a string of
/// names separated by spaces or commas.
fn groups_of(extra: &ExtraClaims, claim: &str) -> Vec<String> {
    match extra.claims.get(claim) {
        Some(serde_json::Value::Array(values)) => values
            .iter()
            .filter_map(|value| value.as_str())
            .map(str::to_owned)
            .collect(),
        Some(serde_json::Value::String(names)) => names
            .split([' ', ','])
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A token-endpoint failure in words that carry no secret.
fn describe_token_error<E: std::error::Error>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extra(json: serde_json::Value) -> ExtraClaims {
        serde_json::from_value(json).expect("claims parse")
    }

    #[test]
    fn groups_come_from_an_array_or_a_separated_string() {
        let cognito = extra(serde_json::json!({"cognito:groups": ["admins", "compliance"]}));
        assert_eq!(
            groups_of(&cognito, "cognito:groups"),
            ["admins", "compliance"]
        );

        let spaced = extra(serde_json::json!({"groups": "a b,c"}));
        assert_eq!(groups_of(&spaced, "groups"), ["a", "b", "c"]);
        assert!(groups_of(&spaced, "cognito:groups").is_empty());
    }

    #[test]
    fn constant_time_comparison_agrees_with_equality() {
        assert!(constant_time_eq(b"state", b"state"));
        assert!(!constant_time_eq(b"state", b"statf"));
        assert!(!constant_time_eq(b"state", b"stat"));
    }
}
