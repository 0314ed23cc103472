use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use time::Duration;

use crate::support::{
    DEMO_PASSWORD, TestApp, begin_sign_in, browser, follow_callback, location, me, me_with_cookie,
    session_cookie, sign_in, submit_credentials,
};

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_stops_working() {
    let app = TestApp::start().await;
    let client = browser();

    // The anonymous session that carries the sign-in's state.
    let login = client
        .get(app.at("/login"))
        .send()
        .await
        .expect("GET /login");
    let before = session_cookie(&login).expect("a session cookie before sign-in");
    let authorize = location(&login);
    let answer = submit_credentials(&client, &authorize, "alice", DEMO_PASSWORD).await;
    let done = follow_callback(&client, location(&answer)).await;
    let after = session_cookie(&done).expect("a new cookie at sign-in");

    assert_ne!(before, after);
    assert_eq!(me_with_cookie(&app, &after).await, StatusCode::OK);
    assert_eq!(
        me_with_cookie(&app, &before).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn session_cookies_are_http_only_lax_and_carry_128_random_bits() {
    let app = TestApp::start().await;
    let client = browser();
    let login = client
        .get(app.at("/login"))
        .send()
        .await
        .expect("GET /login");
    let header = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("coffer="))
        .expect("session cookie")
        .to_owned();

    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    assert!(header.contains("Path=/"), "{header}");
    // Plain HTTP on loopback cannot use Secure cookies.
    assert!(!header.contains("Secure"), "{header}");

    // tower-sessions ids are 128-bit values, base64url without padding.
    let value = header
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .expect("pair")
        .1;
    assert_eq!(value.len(), 22, "{value}");
}

#[tokio::test]
async fn a_session_survives_a_server_restart() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "alice").await;

    let app = app.restart().await;
    let (status, body) = me(&app, &client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "alice");
}

#[tokio::test]
async fn sign_out_ends_the_session_server_side() {
    let app = TestApp::start().await;
    let client = browser();
    let authorize = begin_sign_in(&app, &client, "/").await;
    let answer = submit_credentials(&client, &authorize, "bob", DEMO_PASSWORD).await;
    let done = follow_callback(&client, location(&answer)).await;
    let cookie = session_cookie(&done).expect("session cookie");
    let csrf = me(&app, &client).await.1["csrf_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Sign-out sends the browser on to the provider's end-session endpoint.
    let out = client
        .post(app.at("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&out).path().ends_with("/dev-idp/logout"),
        "{}",
        location(&out)
    );

    // Replaying the old cookie finds nothing.
    assert_eq!(
        me_with_cookie(&app, &cookie).await,
        StatusCode::UNAUTHORIZED
    );
    let records = app.audit_records().await;
    assert!(
        records
            .iter()
            .any(|r| r.event.action == coffer_server::audit::Action::SignOut)
    );
}

#[tokio::test]
async fn sign_out_without_the_csrf_token_is_refused() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "bob").await;

    let forged = client
        .post(app.at("/logout"))
        .form(&[("csrf_token", "guess")])
        .send()
        .await
        .expect("POST /logout");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(me(&app, &client).await.0, StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn an_idle_session_ends_after_thirty_minutes() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "alice").await;

    app.clock.advance(Duration::minutes(29));
    assert_eq!(
        me(&app, &client).await.0,
        StatusCode::OK,
        "activity at 29 minutes"
    );
    app.clock.advance(Duration::minutes(29));
    assert_eq!(
        me(&app, &client).await.0,
        StatusCode::OK,
        "29 minutes after the last activity"
    );
    app.clock.advance(Duration::minutes(31));
    assert_eq!(
        me(&app, &client).await.0,
        StatusCode::UNAUTHORIZED,
        "31 idle minutes"
    );
}

#[tokio::test]
async fn an_active_session_still_ends_after_twelve_hours() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "alice").await;

    // Activity every 20 minutes for 11 hours 40 minutes keeps it alive.
    for _ in 0..35 {
        app.clock.advance(Duration::minutes(20));
        assert_eq!(me(&app, &client).await.0, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(21));
    assert_eq!(me(&app, &client).await.0, StatusCode::UNAUTHORIZED);
}
