use coffer_server::audit::{Action, Outcome};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    DEMO_PASSWORD, TestApp, begin_sign_in, browser, follow_callback, location, me, sign_in,
    submit_credentials,
};

#[tokio::test]
async fn every_demo_account_signs_in_with_its_roles() {
    let app = TestApp::start().await;
    let expected = [
        ("alice", json!(["data-scientist"])),
        ("bob", json!(["data-scientist"])),
        ("carol", json!(["compliance"])),
        ("dave", json!(["admin"])),
        ("erin", json!([])),
    ];

    for (username, roles) in expected {
        let client = browser();
        sign_in(&app, &client, username).await;
        let (status, body) = me(&app, &client).await;
        assert_eq!(status, StatusCode::OK, "{username}");
        assert_eq!(body["username"], username);
        assert_eq!(body["roles"], roles, "{username}");
        assert_eq!(body["csrf_token"].as_str().map(str::len), Some(32));
    }

    // Each sign-in is on record, as is erin's lack of any group.
    let records = app.audit_records().await;
    let sign_ins = records
        .iter()
        .filter(|r| r.event.action == Action::SignIn)
        .count();
    assert_eq!(sign_ins, 5);
    assert!(
        records
            .iter()
            .any(|r| r.event.action == Action::AccessDenied && r.event.actor == "erin")
    );
}

#[tokio::test]
async fn erin_in_no_group_gets_a_no_access_page_and_is_refused_everywhere() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "erin").await;

    let home = client.get(app.at("/")).send().await.expect("GET /");
    assert_eq!(home.status(), StatusCode::OK);
    assert!(
        home.text()
            .await
            .expect("body")
            .contains("data-testid=\"no-access\"")
    );

    for page in ["/models", "/upload", "/audit", "/shares"] {
        let response = client.get(app.at(page)).send().await.expect("GET page");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{page}");
    }
    let denials = app
        .audit_records()
        .await
        .into_iter()
        .filter(|r| r.event.action == Action::AccessDenied && r.event.actor == "erin")
        .count();
    assert_eq!(denials, 5, "one at sign-in and one per refused page");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_audited() {
    let app = TestApp::start().await;
    let client = browser();
    let authorize = begin_sign_in(&app, &client, "/").await;

    let answer = submit_credentials(&client, &authorize, "alice", "not-the-password").await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(
        answer.headers().get("location").is_none(),
        "no code is issued"
    );
    assert_eq!(me(&app, &client).await.0, StatusCode::UNAUTHORIZED);

    let records = app.audit_records().await;
    let failure = records
        .iter()
        .find(|r| r.event.action == Action::SignInFailed)
        .expect("the failed attempt is recorded");
    assert_eq!(failure.event.actor, "alice");
    assert_eq!(failure.event.outcome, Outcome::Failure);
    assert!(
        !serde_json::to_string(&records)
            .expect("json")
            .contains("not-the-password")
    );
}

/// Runs a sign-in whose provider URL or callback a test tampers with, and
/// answers where Coffer sent the browser.
async fn tampered_sign_in(
    app: &TestApp,
    tamper_authorize: impl Fn(&mut url::Url),
    tamper_callback: impl Fn(&mut url::Url),
) -> url::Url {
    let client = browser();
    let mut authorize = begin_sign_in(app, &client, "/").await;
    tamper_authorize(&mut authorize);
    let answer = submit_credentials(&client, &authorize, "alice", DEMO_PASSWORD).await;
    assert!(
        answer.status().is_redirection(),
        "provider answered {}",
        answer.status()
    );
    let mut callback = location(&answer);
    tamper_callback(&mut callback);
    let done = follow_callback(&client, callback).await;
    assert_eq!(
        me(app, &client).await.0,
        StatusCode::UNAUTHORIZED,
        "nobody is signed in"
    );
    location(&done)
}

/// Replaces one query parameter's value.
fn replace_param(url: &mut url::Url, name: &str, value: &str) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == name {
                    value.to_owned()
                } else {
                    v.to_string()
                },
            )
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

#[tokio::test]
async fn a_tampered_state_is_refused_and_audited() {
    let app = TestApp::start().await;
    let landed = tampered_sign_in(
        &app,
        |_| {},
        |callback| replace_param(callback, "state", "forged"),
    )
    .await;
    assert_eq!(landed.path(), "/auth/failed");
    assert_eq!(landed.query(), Some("reason=state"));
    let page = browser().get(landed).send().await.expect("failure page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("did not match a sign-in started")
    );

    let records = app.audit_records().await;
    let failure = records
        .iter()
        .find(|r| r.event.action == Action::SignInFailed)
        .expect("recorded");
    assert!(
        failure
            .event
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("does not match")
    );
}

#[tokio::test]
async fn a_tampered_nonce_is_refused() {
    let app = TestApp::start().await;
    let landed = tampered_sign_in(
        &app,
        |authorize| replace_param(authorize, "nonce", "attacker-nonce"),
        |_| {},
    )
    .await;
    assert_eq!(landed.query(), Some("reason=token"));
}

#[tokio::test]
async fn a_tampered_pkce_challenge_makes_the_code_useless() {
    let app = TestApp::start().await;
    let forged_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let landed = tampered_sign_in(
        &app,
        |authorize| replace_param(authorize, "code_challenge", forged_challenge),
        |_| {},
    )
    .await;
    assert_eq!(landed.query(), Some("reason=exchange"));
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let app = TestApp::start().await;
    let client = browser();
    let authorize = begin_sign_in(&app, &client, "/").await;
    let answer = submit_credentials(&client, &authorize, "alice", DEMO_PASSWORD).await;
    let callback = location(&answer);
    follow_callback(&client, callback.clone()).await;

    // The same code and state a second time, in a fresh browser.
    let other = browser();
    let replay = follow_callback(&other, callback).await;
    assert_eq!(location(&replay).query(), Some("reason=no_pending"));
    assert_eq!(me(&app, &other).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_returns_only_to_local_paths() {
    let app = TestApp::start().await;
    let client = browser();
    let authorize = begin_sign_in(&app, &client, "https%3A%2F%2Fevil.example%2F").await;
    let answer = submit_credentials(&client, &authorize, "alice", DEMO_PASSWORD).await;
    let done = follow_callback(&client, location(&answer)).await;
    assert_eq!(location(&done).as_str(), app.at("/"));
}
