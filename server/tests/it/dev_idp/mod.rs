//! The development OpenID Connect provider, driven over HTTP the way the
//! portal (with `openidconnect`) and a pipeline use it.
//!
//! Each test mounts `DevIdp::router()` under `/dev-idp` in a small axum app
//! on 127.0.0.1:0. Generating an RSA key is slow in a debug build, so the
//! tests copy one key, generated once under Cargo's test temp folder, into
//! their own data folders; the persistence test makes its own.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_server::dev_idp::{DevIdp, DevIdpConfig};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenVerifier,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreTokenResponse, CoreUserInfoVerifier,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IdToken, IdTokenClaims, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, UserInfoJsonWebToken,
};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, WWW_AUTHENTICATE};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tempfile::TempDir;
use url::Url;

/// A PKCE pair for requests built by hand (RFC 7636, appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const PASSWORD: &str = "coffer-demo";

/// The claims Coffer reads beyond the standard ones.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct CofferClaims {
    token_use: String,
    #[serde(rename = "cognito:groups", default)]
    groups: Option<Vec<String>>,
}
impl AdditionalClaims for CofferClaims {}

type CofferIdToken = IdToken<
    CofferClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The claims of an access token beside `iss` and `sub`.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct AccessClaims {
    client_id: String,
    token_use: String,
    scope: String,
    exp: i64,
    iat: i64,
    #[serde(default)]
    username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Option<Vec<String>>,
}
impl AdditionalClaims for AccessClaims {}

type AccessJwt = UserInfoJsonWebToken<
    AccessClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A provider served on loopback, and a client that does not follow
/// redirects so that every `Location` can be inspected.
struct TestIdp {
    idp: DevIdp,
    issuer: Url,
    redirect_uri: Url,
    post_logout_uri: Url,
    http: reqwest::Client,
    _data: TempDir,
}

impl TestIdp {
    async fn start() -> TestIdp {
        TestIdp::start_with(|_| {}).await
    }

    /// Starts a provider whose configuration `adjust` may change.
    async fn start_with(adjust: impl FnOnce(&mut DevIdpConfig)) -> TestIdp {
        // The port decides the issuer, so bind first.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let issuer = Url::parse(&format!("{base}/dev-idp")).expect("issuer");
        let redirect_uri = Url::parse(&format!("{base}/auth/callback")).expect("uri");
        let post_logout_uri = Url::parse(&format!("{base}/signed-out")).expect("uri");

        // A data folder with the shared key.
        let data = data_dir_with_template_key();
        let mut config = DevIdpConfig::new(issuer.clone(), data.path().to_owned());
        config.redirect_uris = vec![redirect_uri.clone()];
        config.post_logout_redirect_uris = vec![post_logout_uri.clone()];
        adjust(&mut config);
        let idp = DevIdp::load_or_create(config).expect("provider starts");

        // Mounted as the portal mounts it.
        serve(listener, &idp);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        TestIdp {
            idp,
            issuer,
            redirect_uri,
            post_logout_uri,
            http,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.issuer)
    }

    /// A valid authorization request, as hidden form fields would carry it.
    fn request(&self) -> Vec<(&'static str, String)> {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.idp.client_id().to_owned()),
            ("redirect_uri", self.redirect_uri.to_string()),
            ("scope", "openid email profile".to_owned()),
            ("state", "state-123".to_owned()),
            ("nonce", "nonce-456".to_owned()),
            ("code_challenge", CHALLENGE.to_owned()),
            ("code_challenge_method", "S256".to_owned()),
        ]
    }

    async fn get_authorize(&self, request: &[(&str, String)]) -> reqwest::Response {
        self.http
            .get(self.url("authorize"))
            .query(request)
            .send()
            .await
            .expect("authorize answers")
    }

    async fn post_sign_in(
        &self,
        request: &[(&str, String)],
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let mut form = request.to_vec();
        form.push(("username", username.to_owned()));
        form.push(("password", password.to_owned()));
        self.http
            .post(self.url("authorize"))
            .form(&form)
            .send()
            .await
            .expect("sign-in answers")
    }

    /// Signs `username` in with a hand-built request and returns the code.
    async fn code_for(&self, username: &str) -> String {
        let response = self.post_sign_in(&self.request(), username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let query = location_query(&response);
        query.get("code").cloned().expect("a code")
    }

    /// Redeems a code as the portal, authenticated with Basic.
    async fn redeem(&self, code: &str, verifier: &str, redirect_uri: &str) -> reqwest::Response {
        self.http
            .post(self.url("token"))
            .basic_auth(
                self.idp.client_id(),
                Some(self.idp.client_secret().expose_secret()),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect_uri),
            ])
            .send()
            .await
            .expect("token answers")
    }

    /// The whole code flow through openidconnect, as the portal runs it:
    /// discovery, PKCE, the form, the exchange and ID token verification.
    async fn sign_in_with_openidconnect(&self, username: &str) -> SignedIn {
        // Discovery and a confidential client.
        let issuer = IssuerUrl::from_url(self.issuer.clone());
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.idp.client_id().to_owned()),
            Some(ClientSecret::new(
                self.idp.client_secret().expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(RedirectUrl::from_url(self.redirect_uri.clone()));

        // The authorization request with PKCE, state and nonce.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (auth_url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();

        // The browser shows the form and sends it back with the password.
        let page = self.http.get(auth_url).send().await.expect("form");
        assert_eq!(page.status(), StatusCode::OK);
        let mut form = hidden_fields(&page.text().await.expect("html"));
        form.push(("username".to_owned(), username.to_owned()));
        form.push(("password".to_owned(), PASSWORD.to_owned()));
        let answer = self
            .http
            .post(self.url("authorize"))
            .form(&form)
            .send()
            .await
            .expect("sign-in");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);

        // The callback carries the code, our state and the issuer.
        let callback = location(&answer);
        assert!(callback.as_str().starts_with(self.redirect_uri.as_str()));
        let query: HashMap<String, String> = callback.query_pairs().into_owned().collect();
        assert_eq!(query.get("state"), Some(state.secret()));
        assert_eq!(query.get("iss"), Some(&self.issuer.to_string()));
        let code = query.get("code").cloned().expect("a code");

        // The exchange, and the verification the portal performs.
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint known")
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .expect("tokens");
        let verifier: CoreIdTokenVerifier = client.id_token_verifier();
        let id_token = tokens.id_token().expect("an ID token");
        let core_claims = id_token.claims(&verifier, &nonce).expect("verified");
        assert!(
            id_token
                .claims(&verifier, &Nonce::new("other".to_owned()))
                .is_err(),
            "a wrong nonce must be refused"
        );

        // at_hash binds the ID token to the access token.
        let at_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().expect("alg"),
            id_token.signing_key(&verifier).expect("key"),
        )
        .expect("hash");
        assert_eq!(core_claims.access_token_hash(), Some(&at_hash));

        // The same token read with Coffer's claims.
        let coffer: CofferIdToken = id_token.to_string().parse().expect("ID token");
        let claims = coffer.claims(&verifier, &nonce).expect("verified").clone();
        SignedIn { tokens, claims }
    }
}

/// What a completed sign-in leaves the portal with.
struct SignedIn {
    tokens: CoreTokenResponse,
    claims: IdTokenClaims<CofferClaims, CoreGenderClaim>,
}

/// Serves `idp` under `/dev-idp` until the test's runtime ends.
fn serve(listener: tokio::net::TcpListener, idp: &DevIdp) {
    let app = axum::Router::new().nest("/dev-idp", idp.router());
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
}

/// A fresh data folder holding the key generated once for all tests.
fn data_dir_with_template_key() -> TempDir {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dev-idp-key-template");
        let issuer = Url::parse("http://127.0.0.1/dev-idp").expect("issuer");
        DevIdp::load_or_create(DevIdpConfig::new(issuer, dir.clone())).expect("template key");
        dir.join("dev-idp").join("signing-key.pem")
    });
    let data = tempfile::tempdir().expect("temp dir");
    let folder = data.path().join("dev-idp");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(template, folder.join("signing-key.pem")).expect("key copied");
    data
}

fn location(response: &reqwest::Response) -> Url {
    let value = response.headers().get(LOCATION).expect("a Location");
    Url::parse(value.to_str().expect("ascii")).expect("an absolute URL")
}

fn location_query(response: &reqwest::Response) -> HashMap<String, String> {
    location(response).query_pairs().into_owned().collect()
}

/// The hidden inputs of the sign-in form, unescaped.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |text: &str| {
        text.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split(r#"<input type="hidden" name=""#)
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once(r#"" value=""#).expect("a value");
            let (value, _) = rest.split_once('"').expect("a closing quote");
            (name.to_owned(), unescape(value))
        })
        .collect()
}

/// The JSON payload of a JWT, read without verification.
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a payload");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn with(
    request: &[(&'static str, String)],
    name: &str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut changed: Vec<_> = request
        .iter()
        .filter(|(key, _)| *key != name)
        .cloned()
        .collect();
    if let Some(value) = value {
        let key = request
            .iter()
            .map(|(key, _)| *key)
            .find(|key| *key == name)
            .expect("a known parameter");
        changed.push((key, value.to_owned()));
    }
    changed
}

async fn json_error(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("JSON error");
    body["error"].as_str().expect("an error code").to_owned()
}

#[tokio::test]
async fn discovery_is_accepted_by_openidconnect() {
    let t = TestIdp::start().await;

    let issuer = IssuerUrl::from_url(t.issuer.clone());
    let metadata = CoreProviderMetadata::discover_async(issuer, &t.http).await;
    let raw: Value = t
        .http
        .get(t.url(".well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");

    let metadata = metadata.expect("discovery accepted");
    assert_eq!(metadata.issuer().as_str(), t.issuer.as_str());
    assert_eq!(metadata.jwks().keys().len(), 1);
    assert_eq!(
        raw["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(raw["end_session_endpoint"], t.url("logout"));
    assert_eq!(raw["token_endpoint"], t.url("token"));
    assert_eq!(
        raw["grant_types_supported"],
        serde_json::json!(["authorization_code", "client_credentials"])
    );
    assert_eq!(
        raw["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        raw["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
}

#[tokio::test]
async fn the_key_set_publishes_one_rsa_key_with_a_kid() {
    let t = TestIdp::start().await;

    let jwks: Value = t
        .http
        .get(t.url("jwks"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");

    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0]["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(keys[0].get("d").is_none(), "the private part stays private");
}

#[tokio::test]
async fn the_code_flow_yields_a_verified_id_token_with_each_users_groups() {
    let t = TestIdp::start().await;
    let expected: [(&str, Option<&[&str]>); 4] = [
        ("alice", Some(&["data-scientists"])),
        ("carol", Some(&["compliance"])),
        ("dave", Some(&["admins"])),
        ("erin", None),
    ];

    for (username, groups) in expected {
        let signed_in = t.sign_in_with_openidconnect(username).await;

        let claims = &signed_in.claims;
        let groups = groups.map(|groups| groups.iter().map(|g| g.to_string()).collect());
        assert_eq!(claims.additional_claims().groups, groups, "{username}");
        assert_eq!(claims.additional_claims().token_use, "id");
        assert_eq!(claims.audiences()[0].as_str(), t.idp.client_id());
        assert!(claims.auth_time().is_some());
        let preferred = claims.preferred_username().map(|name| name.as_str());
        assert_eq!(preferred, Some(username));
        let email = claims.email().map(|email| email.as_str().to_owned());
        assert_eq!(email, Some(format!("{username}@example.com")));
        let sub = claims.subject().as_str();
        assert!(uuid::Uuid::parse_str(sub).is_ok(), "sub {sub} is a UUID");
    }
}

#[tokio::test]
async fn the_subject_is_the_same_at_every_sign_in() {
    let t = TestIdp::start().await;

    let first = t.sign_in_with_openidconnect("bob").await;
    let second = t.sign_in_with_openidconnect("bob").await;
    let other = t.sign_in_with_openidconnect("alice").await;

    assert_eq!(first.claims.subject(), second.claims.subject());
    assert_ne!(first.claims.subject(), other.claims.subject());
}

#[tokio::test]
async fn the_access_token_is_a_signed_jwt_without_audience() {
    let t = TestIdp::start().await;
    let signed_in = t.sign_in_with_openidconnect("dave").await;
    let token = signed_in.tokens.access_token().secret().clone();

    let jwt: AccessJwt = serde_json::from_value(Value::String(token.clone())).expect("a JWT");
    let verifier = CoreUserInfoVerifier::new(
        ClientId::new(t.idp.client_id().to_owned()),
        IssuerUrl::from_url(t.issuer.clone()),
        jwks_of(&t).await,
        None,
    )
    .require_audience_match(false);
    let claims = jwt
        .claims(&verifier)
        .expect("signature and issuer verified");
    let raw = payload(&token);

    let extras = claims.additional_claims();
    assert_eq!(extras.token_use, "access");
    assert_eq!(extras.client_id, t.idp.client_id());
    assert_eq!(extras.groups, Some(vec!["admins".to_owned()]));
    assert_eq!(extras.username.as_deref(), Some("dave"));
    assert_eq!(extras.scope, "openid email profile");
    assert_eq!(extras.exp - extras.iat, 3600);
    assert_eq!(claims.subject(), signed_in.claims.subject());
    assert!(raw.get("aud").is_none(), "no aud, as Cognito: {raw}");
    assert_eq!(
        signed_in.tokens.expires_in(),
        Some(std::time::Duration::from_secs(3600))
    );
}

#[tokio::test]
async fn userinfo_answers_for_an_access_token_and_refuses_an_id_token() {
    let t = TestIdp::start().await;
    let signed_in = t.sign_in_with_openidconnect("carol").await;
    let access = signed_in.tokens.access_token().secret().clone();
    let id_token = signed_in.tokens.id_token().expect("ID token").to_string();

    let info = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(&access)
        .send()
        .await;
    let misused = t
        .http
        .get(t.url("userinfo"))
        .bearer_auth(&id_token)
        .send()
        .await;
    let anonymous = t.http.get(t.url("userinfo")).send().await;

    let info: Value = info.expect("userinfo").json().await.expect("JSON");
    assert_eq!(info["sub"], signed_in.claims.subject().as_str());
    assert_eq!(info["preferred_username"], "carol");
    assert_eq!(info["cognito:groups"], serde_json::json!(["compliance"]));
    let misused = misused.expect("userinfo");
    assert_eq!(misused.status(), StatusCode::UNAUTHORIZED);
    let challenge = misused.headers().get(WWW_AUTHENTICATE).expect("challenge");
    assert!(challenge.to_str().expect("ascii").contains("invalid_token"));
    assert_eq!(
        anonymous.expect("userinfo").status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_without_a_code() {
    let t = TestIdp::start().await;

    let response = t.post_sign_in(&t.request(), "alice", "coffer-dem0").await;
    let unknown = t.post_sign_in(&t.request(), "mallory", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(LOCATION).is_none());
    let html = response.text().await.expect("html");
    assert!(html.contains("Incorrect username or password."));
    assert!(html.contains(r#"name="password""#));
    assert!(
        !html.contains("coffer-dem0"),
        "the password is never echoed"
    );
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_never_redirected_to() {
    let t = TestIdp::start().await;
    let registered = t.redirect_uri.to_string();
    let candidates = [
        "http://127.0.0.1:1/evil".to_owned(),
        format!("{registered}/"),
        format!("{registered}?next=x"),
        registered.replace("127.0.0.1", "localhost"),
    ];

    for candidate in &candidates {
        let request = with(&t.request(), "redirect_uri", Some(candidate));

        let shown = t.get_authorize(&request).await;
        let signed_in = t.post_sign_in(&request, "alice", PASSWORD).await;

        assert_eq!(shown.status(), StatusCode::BAD_REQUEST, "{candidate}");
        assert!(shown.headers().get(LOCATION).is_none(), "{candidate}");
        assert_eq!(signed_in.status(), StatusCode::BAD_REQUEST, "{candidate}");
        assert!(signed_in.headers().get(LOCATION).is_none(), "{candidate}");
    }
}

#[tokio::test]
async fn an_unknown_or_missing_client_is_never_redirected_to() {
    let t = TestIdp::start().await;

    let unknown = with(&t.request(), "client_id", Some("someone-else"));
    let pipeline = with(&t.request(), "client_id", Some("coffer-pipeline"));
    let missing = with(&t.request(), "client_id", None);

    for request in [unknown, pipeline, missing] {
        let response = t.get_authorize(&request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(LOCATION).is_none());
    }
}

#[tokio::test]
async fn a_request_without_pkce_or_with_plain_pkce_is_refused() {
    let t = TestIdp::start().await;
    let no_challenge = with(
        &with(&t.request(), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let no_method = with(&t.request(), "code_challenge_method", None);
    let plain = with(&t.request(), "code_challenge_method", Some("plain"));
    let plain = with(&plain, "code_challenge", Some(VERIFIER));

    for request in [no_challenge, no_method, plain] {
        let shown = t.get_authorize(&request).await;
        let signed_in = t.post_sign_in(&request, "alice", PASSWORD).await;

        for response in [shown, signed_in] {
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            let query = location_query(&response);
            assert_eq!(
                query.get("error").map(String::as_str),
                Some("invalid_request")
            );
            assert_eq!(query.get("state").map(String::as_str), Some("state-123"));
            assert!(!query.contains_key("code"));
        }
    }
}

#[tokio::test]
async fn other_bad_requests_go_back_to_the_client_with_an_error() {
    let t = TestIdp::start().await;
    let cases = [
        (
            with(&t.request(), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with(&t.request(), "scope", Some("email")), "invalid_scope"),
        (
            with(&t.request(), "scope", Some("openid admin")),
            "invalid_scope",
        ),
        (
            with(&t.request(), "code_challenge", Some("short")),
            "invalid_request",
        ),
    ];

    for (request, error) in cases {
        let response = t.get_authorize(&request).await;

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let query = location_query(&response);
        assert_eq!(query.get("error").map(String::as_str), Some(error));
        assert!(!query.contains_key("code"));
    }
}

#[tokio::test]
async fn prompt_none_answers_login_required_since_there_is_no_session() {
    let t = TestIdp::start().await;
    let mut request = t.request();
    request.push(("prompt", "none".to_owned()));

    let response = t.get_authorize(&request).await;

    let query = location_query(&response);
    assert_eq!(
        query.get("error").map(String::as_str),
        Some("login_required")
    );
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_burns_the_code() {
    let t = TestIdp::start().await;
    let code = t.code_for("alice").await;
    let wrong = "x".repeat(43);

    let refused = t.redeem(&code, &wrong, t.redirect_uri.as_str()).await;
    let retried = t.redeem(&code, VERIFIER, t.redirect_uri.as_str()).await;

    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_error(refused).await, "invalid_grant");
    assert_eq!(json_error(retried).await, "invalid_grant");
}

#[tokio::test]
async fn a_code_can_be_redeemed_only_once() {
    let t = TestIdp::start().await;
    let code = t.code_for("alice").await;

    let first = t.redeem(&code, VERIFIER, t.redirect_uri.as_str()).await;
    let second = t.redeem(&code, VERIFIER, t.redirect_uri.as_str()).await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        first.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let tokens: Value = first.json().await.expect("JSON");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(
        payload(tokens["id_token"].as_str().expect("id_token"))["nonce"],
        "nonce-456"
    );
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_error(second).await, "invalid_grant");
}

#[tokio::test]
async fn a_code_is_bound_to_its_redirect_uri() {
    let t = TestIdp::start().await;
    let code = t.code_for("alice").await;

    let response = t.redeem(&code, VERIFIER, "http://127.0.0.1:1/other").await;

    assert_eq!(json_error(response).await, "invalid_grant");
}

#[tokio::test]
async fn the_portal_may_authenticate_with_client_secret_post() {
    let t = TestIdp::start().await;
    let code = t.code_for("bob").await;
    let secret = t.idp.client_secret().expose_secret().to_owned();

    let response = t
        .http
        .post(t.url("token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", t.redirect_uri.as_str()),
            ("client_id", t.idp.client_id()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_with_invalid_client() {
    let t = TestIdp::start().await;
    let code = t.code_for("alice").await;

    let response = t
        .http
        .post(t.url("token"))
        .basic_auth(t.idp.client_id(), Some("not-the-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", t.redirect_uri.as_str()),
        ])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(WWW_AUTHENTICATE).is_some());
    assert_eq!(json_error(response).await, "invalid_client");
}

#[tokio::test]
async fn client_credentials_give_the_pipeline_its_groups() {
    let t = TestIdp::start().await;
    let (id, secret) = t.idp.pipeline_client();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::from_url(t.issuer.clone()), &t.http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.to_owned()),
        Some(ClientSecret::new(secret.expose_secret().to_owned())),
    );

    let tokens = client
        .exchange_client_credentials()
        .expect("token endpoint known")
        .request_async(&t.http)
        .await
        .expect("an access token");

    let claims = payload(tokens.access_token().secret());
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["scope"], "coffer/api");
    assert_eq!(
        claims["cognito:groups"],
        serde_json::json!(["data-scientists"])
    );
    assert!(claims.get("aud").is_none());
    assert!(tokens.id_token().is_none());
}

#[tokio::test]
async fn client_credentials_with_a_wrong_secret_or_the_wrong_client_are_refused() {
    let t = TestIdp::start().await;
    let (id, _) = t.idp.pipeline_client();
    let portal_secret = t.idp.client_secret().expose_secret().to_owned();
    let ask = |client: &str, secret: &str| {
        t.http
            .post(t.url("token"))
            .basic_auth(client, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };

    let wrong_secret = ask(id, "guess").await.expect("token");
    let portal = ask(t.idp.client_id(), &portal_secret).await.expect("token");

    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_error(wrong_secret).await, "invalid_client");
    assert_eq!(portal.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_error(portal).await, "unauthorized_client");
}

#[tokio::test]
async fn the_key_and_client_secrets_persist_across_restarts() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = || {
        let issuer = Url::parse("http://127.0.0.1:3000/dev-idp").expect("issuer");
        DevIdpConfig::new(issuer, data.path().to_owned())
    };

    let first = DevIdp::load_or_create(config()).expect("first start");
    let second = DevIdp::load_or_create(config()).expect("second start");

    assert_eq!(
        first.client_secret().expose_secret(),
        second.client_secret().expose_secret()
    );
    assert_eq!(
        first.pipeline_client().1.expose_secret(),
        second.pipeline_client().1.expose_secret()
    );
    assert_eq!(jwks_json(&first).await, jwks_json(&second).await);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = data.path().join("dev-idp").join("signing-key.pem");
        let mode = std::fs::metadata(key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn the_sign_in_page_escapes_what_it_echoes_and_is_locked_down() {
    let t = TestIdp::start().await;
    let attack = r#""><script>alert(1)</script>"#;
    let request = with(&t.request(), "state", Some(attack));

    let shown = t.get_authorize(&request).await;
    let refused = t.post_sign_in(&request, attack, "wrong").await;

    assert_eq!(shown.status(), StatusCode::OK);
    let headers = shown.headers().clone();
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    for html in [shown.text().await, refused.text().await] {
        let html = html.expect("html");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }
    let style = t.http.get(t.url("style.css")).send().await.expect("style");
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");
}

#[tokio::test]
async fn logout_returns_only_to_a_registered_address() {
    let t = TestIdp::start().await;
    let signed_in = t.sign_in_with_openidconnect("alice").await;
    let hint = signed_in.tokens.id_token().expect("ID token").to_string();
    let registered = t.post_logout_uri.to_string();
    let logout =
        |params: Vec<(&'static str, String)>| t.http.get(t.url("logout")).query(&params).send();

    let honoured = logout(vec![
        ("id_token_hint", hint.clone()),
        ("post_logout_redirect_uri", registered.clone()),
        ("state", "bye".to_owned()),
    ])
    .await
    .expect("logout");
    let by_client_id = logout(vec![
        ("client_id", t.idp.client_id().to_owned()),
        ("post_logout_redirect_uri", registered.clone()),
    ])
    .await
    .expect("logout");
    let unregistered = logout(vec![
        ("id_token_hint", hint.clone()),
        (
            "post_logout_redirect_uri",
            "http://127.0.0.1:1/evil".to_owned(),
        ),
    ])
    .await
    .expect("logout");
    let anonymous = logout(vec![("post_logout_redirect_uri", registered.clone())])
        .await
        .expect("logout");
    let forged = logout(vec![
        ("id_token_hint", format!("{hint}x")),
        ("post_logout_redirect_uri", registered.clone()),
    ])
    .await
    .expect("logout");

    assert_eq!(honoured.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&honoured).as_str(),
        format!("{registered}?state=bye")
    );
    assert_eq!(by_client_id.status(), StatusCode::SEE_OTHER);
    for refused in [unregistered, anonymous, forged] {
        assert_eq!(refused.status(), StatusCode::OK);
        assert!(refused.headers().get(LOCATION).is_none());
        let html = refused.text().await.expect("html");
        assert!(html.contains("You are signed out"));
    }
}

#[tokio::test]
async fn a_users_file_replaces_the_demo_accounts() {
    let file = tempfile::NamedTempFile::new().expect("file");
    let json = r#"[{"username": "zoe", "password": "zoe-pass-1", "groups": ["admins"]}]"#;
    file.as_file().write_all(json.as_bytes()).expect("written");
    let path = file.path().to_owned();
    let t = TestIdp::start_with(|config| config.users_file = Some(path)).await;

    let demo = t.post_sign_in(&t.request(), "alice", PASSWORD).await;
    let zoe = t.post_sign_in(&t.request(), "zoe", "zoe-pass-1").await;

    assert!(!t.idp.uses_demo_accounts());
    assert_eq!(demo.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(zoe.status(), StatusCode::SEE_OTHER);
    assert!(location_query(&zoe).contains_key("code"));
}

#[tokio::test]
async fn a_non_loopback_issuer_or_listener_is_refused_unless_forced() {
    let data = data_dir_with_template_key();
    let issuer = Url::parse("https://coffer.example/dev-idp").expect("issuer");
    let config = DevIdpConfig::new(issuer, data.path().to_owned());
    let mut forced = config.clone();
    forced.allow_non_loopback = true;

    let refused = DevIdp::load_or_create(config);
    let allowed = DevIdp::load_or_create(forced);

    assert!(refused.is_err());
    let allowed = allowed.expect("forced");
    assert!(
        allowed
            .check_listener("0.0.0.0:3000".parse().expect("addr"))
            .is_ok()
    );
    let t = TestIdp::start().await;
    assert!(
        t.idp
            .check_listener("127.0.0.1:3000".parse().expect("addr"))
            .is_ok()
    );
    assert!(
        t.idp
            .check_listener("0.0.0.0:3000".parse().expect("addr"))
            .is_err()
    );
}

#[tokio::test]
async fn logs_never_contain_passwords_codes_tokens_or_secrets() {
    // Capture this thread's logs; the server runs on the same thread.
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = SharedWriter(buffer.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A sign-in, a refused password, a redeemed code and a machine token.
    let t = TestIdp::start().await;
    let signed_in = t.sign_in_with_openidconnect("alice").await;
    t.post_sign_in(&t.request(), "alice", "typo-password").await;
    let code = t.code_for("bob").await;
    t.redeem(&code, VERIFIER, t.redirect_uri.as_str()).await;
    t.redeem(&code, VERIFIER, t.redirect_uri.as_str()).await;
    let (id, secret) = t.idp.pipeline_client();
    t.http
        .post(t.url("token"))
        .basic_auth(id, Some(secret.expose_secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");

    let logs = String::from_utf8(buffer.lock().expect("logs").clone()).expect("utf-8");
    assert!(logs.contains("development sign-in succeeded"), "{logs}");
    let secrets = [
        PASSWORD.to_owned(),
        "typo-password".to_owned(),
        code,
        signed_in.tokens.access_token().secret().clone(),
        signed_in.tokens.id_token().expect("ID token").to_string(),
        t.idp.client_secret().expose_secret().to_owned(),
        secret.expose_secret().to_owned(),
    ];
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
}

/// A log writer appending to a shared buffer.
#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().map_err(|_| std::io::ErrorKind::Other)?;
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The key set `idp` serves.
async fn jwks_json(idp: &DevIdp) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    serve(listener, idp);
    reqwest::get(format!("http://{address}/dev-idp/jwks"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON")
}

/// The key set of a running test provider, as openidconnect reads it.
async fn jwks_of(t: &TestIdp) -> openidconnect::core::CoreJsonWebKeySet {
    t.http
        .get(t.url("jwks"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("a key set")
}
