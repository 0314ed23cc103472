//! The development OpenID Connect provider.
//!
//! In embedded mode the portal mounts this provider under
//! `<public-url>/dev-idp`, so a laptop needs no identity service of its own.
//! The portal's sign-in code treats it exactly like Amazon Cognito or any
//! other standards-compliant provider: it discovers it, sends the browser to
//! its sign-in form, redeems the code with PKCE and verifies the RS256 ID
//! token against the published key set. Tokens look like Cognito's: the
//! groups travel in the configured claim (default `cognito:groups`), both
//! tokens carry `token_use`, and the access token has `client_id` and no
//! `aud`.
//!
//! Endpoints, relative to the issuer:
//!
//! | path | what it does |
//! | --- | --- |
//! | `/.well-known/openid-configuration` | discovery document |
//! | `/jwks` | the public signing key, with its `kid` |
//! | `/authorize` | sign-in form (GET) and password check (POST) |
//! | `/token` | `authorization_code` and `client_credentials` grants |
//! | `/userinfo` | claims of the user behind an access token |
//! | `/logout` | end-session endpoint (RP-initiated logout) |
//!
//! The provider keeps no single-sign-on session: every sign-in shows the
//! form again. Ending a session therefore has nothing to forget here; the
//! end-session endpoint only validates the request and sends the browser
//! back to a registered address.
//!
//! It is for development only. The signing key, the client secrets and the
//! authorization codes live on one machine and in one process, the demo
//! accounts share a published password, and nothing limits password
//! attempts. [`DevIdp::load_or_create`] therefore refuses an issuer outside
//! loopback unless [`DevIdpConfig::allow_non_loopback`] is set, and
//! [`DevIdp::check_listener`] lets the portal refuse a listener outside
//! loopback on the same terms. `docs/dev-idp.md` describes it for users.

mod authorize;
mod codes;
mod discovery;
mod files;
mod logout;
mod pages;
mod token;
mod tokens;
mod users;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use futures::future::BoxFuture;
use openidconnect::IssuerUrl;
use secrecy::SecretString;
use url::{Host, Url};

use self::codes::CodeStore;
use self::tokens::Signer;
use self::users::{Users, digest};

/// Client id of the portal, the browser-facing relying party.
pub const PORTAL_CLIENT_ID: &str = "coffer-portal";

/// Client id of the machine client that pipelines use for the
/// `client_credentials` grant.
pub const PIPELINE_CLIENT_ID: &str = "coffer-pipeline";

/// The scope of the pipeline client's access tokens.
pub const PIPELINE_SCOPE: &str = "coffer/api";

/// Claim carrying the groups unless configured otherwise, as Cognito names it.
pub const DEFAULT_GROUPS_CLAIM: &str = "cognito:groups";

/// Group whose rights the pipeline client gets unless configured otherwise.
pub const DEFAULT_PIPELINE_GROUP: &str = "data-scientists";

/// Settings of the development provider.
#[derive(Clone, Debug)]
pub struct DevIdpConfig {
    /// Issuer, `<public-url>/dev-idp`. A trailing slash is removed, so that
    /// the `iss` of every token equals the issuer in discovery.
    pub issuer: Url,
    /// Data folder; the signing key (PEM, mode 0600) and the client secrets
    /// are kept under `data_dir/dev-idp/` and reused on every start.
    pub data_dir: PathBuf,
    /// JSON file replacing the demo accounts, in the format described on
    /// [`DevIdp`].
    pub users_file: Option<PathBuf>,
    /// Redirect URIs the portal client may use, compared exactly.
    pub redirect_uris: Vec<Url>,
    /// Addresses the end-session endpoint may send the browser back to,
    /// compared exactly.
    pub post_logout_redirect_uris: Vec<Url>,
    /// Name of the claim carrying the groups, default `cognito:groups`.
    pub groups_claim: String,
    /// Groups of the pipeline client's tokens, default `data-scientists`.
    pub pipeline_groups: Vec<String>,
    /// Serve an issuer whose host is not a loopback address. A developer must
    /// ask for it: the demo accounts' password is public.
    pub allow_non_loopback: bool,
}

impl DevIdpConfig {
    /// Settings with the defaults for everything but the issuer and the data
    /// folder. No redirect URI is registered yet: the portal adds its own.
    pub fn new(issuer: Url, data_dir: PathBuf) -> Self {
        Self {
            issuer,
            data_dir,
            users_file: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            groups_claim: DEFAULT_GROUPS_CLAIM.to_owned(),
            pipeline_groups: vec![DEFAULT_PIPELINE_GROUP.to_owned()],
            allow_non_loopback: false,
        }
    }
}

/// The development OpenID Connect provider; cheap to clone.
///
/// # Users file
///
/// `users_file` replaces the demo accounts with a JSON list of accounts:
///
/// ```json
/// [
///   { "username": "alice", "password": "…", "groups": ["data-scientists"],
///     "email": "alice@example.com" },
///   { "username": "ci-reviewer", "password": "…", "groups": [] }
/// ]
/// ```
///
/// `username`, `password` and `groups` are required and `email` is optional;
/// any other field is refused, so a typo cannot pass unnoticed. Usernames are
/// unique, 1 to 64 characters among ASCII letters, digits and `.-_@+`.
#[derive(Clone)]
pub struct DevIdp {
    inner: Arc<Inner>,
}

/// The one grant each client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientKind {
    /// Signs users in through a browser: `authorization_code`.
    Browser,
    /// Acts on its own behalf: `client_credentials`.
    Machine,
}

/// Everything a request handler needs; immutable but for the code store.
struct Inner {
    issuer: IssuerUrl,
    signer: Signer,
    portal: Client,
    pipeline: Client,
    users: Users,
    groups_claim: String,
    codes: Mutex<CodeStore>,
    allow_non_loopback: bool,
    /// Content-Security-Policy of the sign-in form, which must allow the
    /// form to be sent on to the registered redirect URIs.
    sign_in_csp: HeaderValue,
    /// Told of every refused password; see [`DevIdp::on_refused_sign_in`].
    refusal_hook: OnceLock<RefusalHook>,
}

/// Records a refused password: called with the account name (only when the
/// account exists; what was typed may be a password) and the request id,
/// and awaited before the form is shown again. An error fails the request.
pub type RefusalHook =
    Arc<dyn Fn(Option<String>, String) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// A registered client of the provider.
struct Client {
    id: &'static str,
    kind: ClientKind,
    secret: SecretString,
    /// SHA-256 of the secret, so that checks compare digests (see
    /// [`users::digest`]).
    secret_digest: [u8; 32],
    /// Empty for the pipeline client, which never sees a browser.
    redirect_uris: Vec<Url>,
    post_logout_redirect_uris: Vec<Url>,
    /// Groups of `client_credentials` tokens; empty for the portal.
    groups: Vec<String>,
}

impl DevIdp {
    /// Starts the provider from `config`, creating the signing key and the
    /// client secrets on first use and reading them back afterwards.
    pub fn load_or_create(config: DevIdpConfig) -> anyhow::Result<DevIdp> {
        // Refuse a configuration that would serve strangers or mint odd
        // tokens before touching the disk.
        let issuer = check_config(&config)?;

        // Keep key and secrets with the rest of the data, so tokens and the
        // portal's configuration survive a restart.
        let dir = config.data_dir.join("dev-idp");
        files::ensure_private_dir(&dir)?;
        let signer = Signer::load_or_create(&dir)?;
        let portal_secret = files::load_or_create_secret(&dir, "portal-client-secret")?;
        let pipeline_secret = files::load_or_create_secret(&dir, "pipeline-client-secret")?;

        // Accounts come from the users file when there is one.
        let users = match &config.users_file {
            Some(path) => Users::load(path)?,
            None => Users::demo(),
        };

        // Register the two clients.
        let portal = Client {
            id: PORTAL_CLIENT_ID,
            kind: ClientKind::Browser,
            secret_digest: digest(&portal_secret),
            secret: portal_secret,
            redirect_uris: config.redirect_uris,
            post_logout_redirect_uris: config.post_logout_redirect_uris,
            groups: Vec::new(),
        };
        let pipeline = Client {
            id: PIPELINE_CLIENT_ID,
            kind: ClientKind::Machine,
            secret_digest: digest(&pipeline_secret),
            secret: pipeline_secret,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            groups: config.pipeline_groups,
        };
        let sign_in_csp = pages::sign_in_csp(&portal.redirect_uris)?;

        tracing::info!(
            oidc.issuer = %issuer,
            oidc.kid = %signer.key_id(),
            users.demo = users.is_demo(),
            "development identity provider ready"
        );
        Ok(DevIdp {
            inner: Arc::new(Inner {
                issuer: IssuerUrl::new(issuer.to_string())?,
                signer,
                portal,
                pipeline,
                users,
                groups_claim: config.groups_claim,
                codes: Mutex::new(CodeStore::default()),
                allow_non_loopback: config.allow_non_loopback,
                sign_in_csp,
                refusal_hook: OnceLock::new(),
            }),
        })
    }

    /// Sets the hook told of refused passwords, so the portal's audit trail
    /// records failed sign-ins that never reach the portal. Set once; a
    /// second call is ignored.
    pub fn on_refused_sign_in(&self, hook: RefusalHook) {
        let _ = self.inner.refusal_hook.set(hook);
    }

    /// The issuer, exactly as it appears in discovery and in `iss`.
    pub fn issuer(&self) -> &str {
        self.inner.issuer.as_str()
    }

    /// Client id of the portal.
    pub fn client_id(&self) -> &str {
        self.inner.portal.id
    }

    /// Secret of the portal client, generated once and kept in the data
    /// folder.
    pub fn client_secret(&self) -> &SecretString {
        &self.inner.portal.secret
    }

    /// Id and secret of the machine client for the `client_credentials`
    /// grant.
    pub fn pipeline_client(&self) -> (&str, &SecretString) {
        (self.inner.pipeline.id, &self.inner.pipeline.secret)
    }

    /// Whether the accounts are the built-in demo accounts rather than a
    /// users file, so the portal can say so.
    pub fn uses_demo_accounts(&self) -> bool {
        self.inner.users.is_demo()
    }

    /// Refuses a listener that other machines can reach, unless the
    /// configuration forced a non-loopback provider. The portal calls it
    /// with the address it serves on.
    pub fn check_listener(&self, listen: SocketAddr) -> anyhow::Result<()> {
        if listen.ip().is_loopback() || self.inner.allow_non_loopback {
            return Ok(());
        }
        bail!(
            "the development identity provider serves only loopback \
             addresses, and {listen} is not one"
        )
    }

    /// The provider's routes, with their state applied. The portal mounts
    /// them at the issuer's path, `/dev-idp`: `Router::nest` on a router
    /// without state, or `Router::nest_service` on one with state. Every
    /// absolute URL the provider hands out is built from the issuer, never
    /// from the request.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(discovery::configuration),
            )
            .route("/jwks", get(discovery::jwks))
            .route("/style.css", get(pages::style))
            .route(
                "/authorize",
                get(authorize::show_form).post(authorize::sign_in),
            )
            .route("/token", post(token::exchange))
            .route(
                "/userinfo",
                get(discovery::userinfo).post(discovery::userinfo),
            )
            .route(
                "/logout",
                get(logout::end_session_query).post(logout::end_session_form),
            )
            .with_state(self.clone())
    }

    /// Absolute URL of one of the provider's endpoints.
    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.inner.issuer.as_str())
    }

    /// The client registered under `id`, if any.
    fn client(&self, id: &str) -> Option<&Client> {
        [&self.inner.portal, &self.inner.pipeline]
            .into_iter()
            .find(|client| client.id == id)
    }
}

/// Checks the configuration and answers the issuer as tokens will name it.
fn check_config(config: &DevIdpConfig) -> anyhow::Result<Url> {
    // Tokens must name the issuer exactly as discovery does.
    let issuer = normalise_issuer(&config.issuer)?;

    // The demo password is public, so only this machine may be served.
    if !is_loopback_url(&issuer) {
        ensure!(
            config.allow_non_loopback,
            "the development identity provider serves only loopback \
             addresses, and the issuer {issuer} is not one; force it only \
             for a test environment nobody else can reach"
        );
        tracing::warn!(
            oidc.issuer = %issuer,
            "development identity provider forced onto a non-loopback issuer"
        );
    }

    // Names and addresses the provider will compare or emit.
    ensure_groups_claim_is_free(&config.groups_claim)?;
    for uri in &config.redirect_uris {
        ensure_exact_uri(uri, "redirect URI")?;
    }
    for uri in &config.post_logout_redirect_uris {
        ensure_exact_uri(uri, "post-logout redirect URI")?;
    }
    Ok(issuer)
}

/// Checks that the issuer is an absolute http(s) URL without query or
/// fragment, and drops a trailing slash.
fn normalise_issuer(issuer: &Url) -> anyhow::Result<Url> {
    ensure!(
        matches!(issuer.scheme(), "http" | "https"),
        "the issuer {issuer} must be an http or https URL"
    );
    ensure!(
        issuer.query().is_none() && issuer.fragment().is_none(),
        "the issuer {issuer} must have no query and no fragment"
    );
    let text = issuer.as_str().trim_end_matches('/');
    Url::parse(text).with_context(|| format!("invalid issuer {issuer}"))
}

/// Whether a URL points at this machine's loopback interface.
fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Registered URIs are compared exactly, so one with a fragment could never
/// match a valid request (RFC 6749, section 3.1.2).
fn ensure_exact_uri(uri: &Url, what: &str) -> anyhow::Result<()> {
    ensure!(
        matches!(uri.scheme(), "http" | "https"),
        "the {what} {uri} must be an http or https URL"
    );
    ensure!(
        uri.fragment().is_none(),
        "the {what} {uri} must have no fragment"
    );
    Ok(())
}

/// The groups claim sits beside the claims the provider emits itself, so it
/// may not reuse one of their names.
fn ensure_groups_claim_is_free(name: &str) -> anyhow::Result<()> {
    const TAKEN: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "auth_time",
        "nonce",
        "at_hash",
        "c_hash",
        "azp",
        "acr",
        "amr",
        "email",
        "email_verified",
        "preferred_username",
        "name",
        "token_use",
        "client_id",
        "scope",
        "username",
    ];
    ensure!(
        !name.is_empty() && name.len() <= 128,
        "the groups claim name must have 1 to 128 characters"
    );
    ensure!(
        !name.chars().any(char::is_control),
        "the groups claim name must not contain control characters"
    );
    ensure!(
        !TAKEN.contains(&name),
        "the groups claim cannot be named {name:?}: the provider already \
         emits a claim of that name"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_is_removed_from_the_issuer() {
        let issuer = Url::parse("http://127.0.0.1:3000/dev-idp/").expect("url");

        let normalised = normalise_issuer(&issuer).expect("valid issuer");

        assert_eq!(normalised.as_str(), "http://127.0.0.1:3000/dev-idp");
    }

    #[test]
    fn loopback_hosts_are_recognised_and_others_are_not() {
        let url = |text: &str| Url::parse(text).expect("url");

        assert!(is_loopback_url(&url("http://127.0.0.1:3000/dev-idp")));
        assert!(is_loopback_url(&url("http://127.8.9.10/dev-idp")));
        assert!(is_loopback_url(&url("http://[::1]:3000/dev-idp")));
        assert!(is_loopback_url(&url("http://localhost:3000/dev-idp")));
        assert!(!is_loopback_url(&url("http://192.168.1.2/dev-idp")));
        assert!(!is_loopback_url(&url("https://coffer.example/dev-idp")));
    }

    #[test]
    fn a_groups_claim_cannot_shadow_a_claim_the_provider_emits() {
        assert!(ensure_groups_claim_is_free("cognito:groups").is_ok());
        assert!(ensure_groups_claim_is_free("groups").is_ok());
        assert!(ensure_groups_claim_is_free("email").is_err());
        assert!(ensure_groups_claim_is_free("").is_err());
    }
}
