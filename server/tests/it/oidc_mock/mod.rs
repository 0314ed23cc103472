//! Sign-in against a third-party provider, `oauth2-mock-server` run by
//! `end2end/oidc-mock/server.mjs`, which can be told to issue ID tokens that
//! a relying party must refuse.
//!
//! The package verifies a PKCE `code_verifier` against the challenge sent to
//! its authorize endpoint whenever the token request carries one. It checks
//! neither the client secret nor the redirect URI, so nothing here relies on
//! those.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use coffer_server::audit::{Action, AuditRecord, Outcome};
use reqwest::{Client, StatusCode};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;

use crate::support::{TestApp, begin_sign_in, browser, follow_callback, location, me};

/// Coffer's registration at the mock provider.
const CLIENT_ID: &str = "coffer-test";
const CLIENT_SECRET: &str = "s3cret";

/// How long the provider may take to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The mock provider, running until dropped.
struct MockProvider {
    /// The issuer it announces, as Coffer is configured with it.
    issuer: String,
    http: Client,
    /// The provider exits when its stdin closes, even if this process dies
    /// before `kill_on_drop` can act.
    _stdin: ChildStdin,
    _child: Child,
}

impl MockProvider {
    /// Starts a provider whose issuer is a bare origin, as Google's is.
    async fn start() -> MockProvider {
        MockProvider::start_with(&[]).await
    }

    /// Starts `server.mjs` on a loopback port the system picks and waits for
    /// its ready line.
    async fn start_with(args: &[&str]) -> MockProvider {
        // The package comes from `end2end/package.json`.
        let end2end = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end");
        let package = end2end.join("node_modules/oauth2-mock-server");
        assert!(
            package.is_dir(),
            "{} is missing: run `make npm` to install end2end's packages",
            package.display()
        );

        // Port 0 leaves no gap between choosing a free port and binding it.
        let mut child = Command::new("node")
            .arg(end2end.join("oidc-mock/server.mjs"))
            .arg("0")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("`node` runs (is Node.js on PATH?)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");

        // The first line says where it listens; a provider that dies first
        // explains why on stderr.
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, lines.next_line())
            .await
            .expect("the mock provider is ready in time")
            .expect("read the mock provider's output");
        let Some(issuer) = ready
            .as_deref()
            .and_then(|l| l.strip_prefix("oidc-mock ready "))
        else {
            let mut why = String::new();
            let _ = stderr.read_to_string(&mut why).await;
            panic!("the mock provider did not start: {ready:?}\n{why}");
        };
        let issuer = issuer.to_owned();

        // Both pipes keep draining so the provider never blocks on them.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await });

        MockProvider {
            issuer,
            http: Client::new(),
            _stdin: stdin,
            _child: child,
        }
    }

    /// A URL on the provider.
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.trim_end_matches('/'))
    }

    /// Chooses how the ID tokens issued from now on are spoiled.
    async fn set_mode(&self, mode: &str) {
        let response = self
            .http
            .post(self.at("/__mode"))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .expect("POST /__mode");
        assert_eq!(response.status(), StatusCode::OK, "mode {mode} is known");
    }

    /// A portal that signs users in through this provider.
    async fn portal(&self) -> TestApp {
        TestApp::start_with(&[
            "--oidc-issuer",
            &self.issuer,
            "--oidc-client-id",
            CLIENT_ID,
            "--oidc-client-secret",
            CLIENT_SECRET,
        ])
        .await
    }
}

/// Runs a sign-in from `/login` through the provider, which signs the user
/// in at once, and answers where the callback sent the browser.
async fn sign_in_through(mock: &MockProvider, app: &TestApp, client: &Client) -> Url {
    // Coffer sends the browser to the provider's authorize endpoint.
    let authorize = begin_sign_in(app, client, "/models").await;
    assert!(
        authorize.as_str().starts_with(&mock.at("/authorize")),
        "sent to the mock provider: {authorize}"
    );

    // The provider answers at once with a code for the callback.
    let answer = client.get(authorize).send().await.expect("GET authorize");
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let callback = location(&answer);
    assert_eq!(callback.path(), "/auth/callback");

    // The callback decides.
    let done = follow_callback(client, callback).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    location(&done)
}

/// The `reason` a failure page was given.
fn reason(landed: &Url) -> Option<String> {
    landed
        .query_pairs()
        .find(|(name, _)| name == "reason")
        .map(|(_, value)| value.into_owned())
}

fn records_of(records: &[AuditRecord], action: Action) -> Vec<&AuditRecord> {
    records
        .iter()
        .filter(|r| r.event.action == action)
        .collect()
}

/// Signs in while the provider issues ID tokens in `mode`, and checks the
/// callback refused them for a reason mentioning `why`.
async fn assert_id_token_refused(mode: &str, why: &str) {
    let mock = MockProvider::start().await;
    mock.set_mode(mode).await;
    let app = mock.portal().await;
    let client = browser();

    // The callback sends the browser to the failure page.
    let landed = sign_in_through(&mock, &app, &client).await;
    assert_eq!(landed.path(), "/auth/failed", "{mode}");
    assert_eq!(reason(&landed).as_deref(), Some("token"), "{mode}");

    // Nobody is signed in.
    assert_eq!(
        me(&app, &client).await.0,
        StatusCode::UNAUTHORIZED,
        "{mode}"
    );

    // The refusal is on record, for the expected reason, and no sign-in is.
    let records = app.audit_records().await;
    let failures = records_of(&records, Action::SignInFailed);
    assert_eq!(failures.len(), 1, "{mode}: {records:?}");
    assert_eq!(failures[0].event.outcome, Outcome::Failure);
    let detail = failures[0].event.detail.as_deref().unwrap_or_default();
    assert!(detail.contains(why), "{mode}: {detail}");
    assert!(records_of(&records, Action::SignIn).is_empty(), "{mode}");
}

#[tokio::test]
async fn a_user_signs_in_through_a_third_party_provider_with_the_groups_claim() {
    let mock = MockProvider::start().await;
    let app = mock.portal().await;
    let client = browser();

    // The sign-in lands where it was asked to go.
    let landed = sign_in_through(&mock, &app, &client).await;
    assert_eq!(landed.path(), "/models");

    // The session carries the role the provider's group maps to.
    let (status, body) = me(&app, &client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "grace");
    assert_eq!(body["roles"], json!(["data-scientist"]));

    // The sign-in is on record under the provider's issuer and subject.
    let records = app.audit_records().await;
    let sign_ins = records_of(&records, Action::SignIn);
    assert_eq!(sign_ins.len(), 1, "{records:?}");
    assert_eq!(sign_ins[0].event.actor, "grace");
    assert_eq!(sign_ins[0].event.outcome, Outcome::Success);
    let detail = sign_ins[0].event.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains(&format!("johndoe at {}", mock.issuer)),
        "{detail}"
    );
    assert!(records_of(&records, Action::SignInFailed).is_empty());
}

#[tokio::test]
async fn an_issuer_written_with_a_trailing_slash_signs_in_too() {
    let mock = MockProvider::start_with(&["--trailing-slash"]).await;
    assert!(mock.issuer.ends_with('/'), "{}", mock.issuer);
    let app = mock.portal().await;
    let client = browser();

    // The whole flow works against the other spelling of an issuer.
    let landed = sign_in_through(&mock, &app, &client).await;
    assert_eq!(landed.path(), "/models");
    assert_eq!(me(&app, &client).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_code_redeemed_with_a_verifier_that_does_not_match_its_challenge_signs_nobody_in() {
    let mock = MockProvider::start().await;
    let app = mock.portal().await;
    let client = browser();

    // Coffer asks for S256; an attacker swaps the challenge on the way.
    let mut authorize = begin_sign_in(&app, &client, "/").await;
    let query: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    assert!(query.contains(&("code_challenge_method".into(), "S256".into())));
    let swapped = query.into_iter().map(|(name, value)| match name.as_str() {
        "code_challenge" => (
            name,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        ),
        _ => (name, value),
    });
    authorize.query_pairs_mut().clear().extend_pairs(swapped);

    // The provider refuses to redeem the code for Coffer's true verifier.
    let answer = client.get(authorize).send().await.expect("GET authorize");
    let done = follow_callback(&client, location(&answer)).await;
    let landed = location(&done);
    assert_eq!(landed.path(), "/auth/failed");
    assert_eq!(reason(&landed).as_deref(), Some("exchange"));

    // Nobody is signed in, and the failure is on record.
    assert_eq!(me(&app, &client).await.0, StatusCode::UNAUTHORIZED);
    let records = app.audit_records().await;
    let failures = records_of(&records, Action::SignInFailed);
    assert_eq!(failures.len(), 1, "{records:?}");
    let detail = failures[0].event.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("code_verifier"), "{detail}");
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    assert_id_token_refused("wrong_iss", "Invalid issuer").await;
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() {
    assert_id_token_refused("wrong_aud", "Invalid audiences").await;
}

#[tokio::test]
async fn an_id_token_without_an_audience_is_refused() {
    assert_id_token_refused("missing_aud", "Invalid audiences").await;
}

#[tokio::test]
async fn an_unsigned_id_token_is_refused() {
    assert_id_token_refused("alg_none", "Signature verification failed").await;
}

#[tokio::test]
async fn an_id_token_signed_by_a_key_missing_from_the_jwks_is_refused() {
    assert_id_token_refused("unknown_key", "Signature verification failed").await;
}

#[tokio::test]
async fn an_id_token_signed_by_another_key_under_the_providers_kid_is_refused() {
    assert_id_token_refused("forged_kid", "Signature verification failed").await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    assert_id_token_refused("expired", "Expired").await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    assert_id_token_refused("wrong_nonce", "Invalid nonce").await;
}

#[tokio::test]
async fn an_access_token_presented_as_an_id_token_is_refused() {
    assert_id_token_refused("token_use_access", "token_use").await;
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_makes_the_provider_unavailable() {
    let mock = MockProvider::start().await;
    mock.set_mode("discovery_issuer").await;
    let app = mock.portal().await;
    let client = browser();

    // The document is sound apart from its issuer: its keys can be fetched.
    let document: serde_json::Value = client
        .get(mock.at("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("GET discovery")
        .json()
        .await
        .expect("discovery JSON");
    assert_ne!(document["issuer"], mock.issuer.as_str());
    let jwks_uri = document["jwks_uri"].as_str().expect("jwks_uri");
    let keys = client.get(jwks_uri).send().await.expect("GET jwks");
    assert_eq!(keys.status(), StatusCode::OK);

    // Sign-in stops at Coffer's failure page, before the provider.
    let login = client
        .get(app.at("/login"))
        .send()
        .await
        .expect("GET /login");
    let landed = location(&login);
    assert_eq!(landed.path(), "/auth/failed");
    assert_eq!(reason(&landed).as_deref(), Some("unavailable"));

    // Readiness says the identity provider is unreachable.
    let ready = client
        .get(app.at("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().await.expect("readyz JSON");
    assert_eq!(body["checks"]["identity"], "unreachable");
    assert_eq!(body["checks"]["storage"], "ok");

    // Once discovery names the configured issuer, the same portal is ready
    // and sends the browser on to the provider.
    mock.set_mode("normal").await;
    let ready = client
        .get(app.at("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let authorize = begin_sign_in(&app, &client, "/").await;
    assert!(authorize.as_str().starts_with(&mock.at("/authorize")));
}
