use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};

use crate::support::{TestApp, browser, sign_in};

#[tokio::test]
async fn pages_carry_a_strict_csp_and_security_headers() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "alice").await;
    let response = client.get(app.at("/")).send().await.expect("GET /");
    let headers = response.headers().clone();

    let csp = headers[CONTENT_SECURITY_POLICY].to_str().expect("ASCII");
    for directive in [
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "'nonce-",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // Pages may send upload parts to the bucket's origin, and nowhere else.
    let endpoint = url::Url::parse(&app.running().state.storage_origin).expect("origin");
    let connect = csp
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("connect-src"))
        .expect("connect-src");
    assert_eq!(
        connect,
        format!(
            "connect-src 'self' {}",
            endpoint.origin().ascii_serialization()
        )
    );
    assert_eq!(
        endpoint.host_str(),
        Some("127.0.0.1"),
        "the embedded endpoint"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    assert!(headers.get("server").is_none(), "no version banner");

    // Every inline script carries this response's nonce.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("nonce");
    let html = response.text().await.expect("body");
    for script in html.split("<script").skip(1) {
        assert!(
            script.starts_with(&format!(" nonce=\"{nonce}\""))
                || script.contains(&format!("nonce=\"{nonce}\"")),
            "script without the nonce: {script:.80}"
        );
    }
}

#[tokio::test]
async fn the_page_shows_the_development_banner_and_renders_without_javascript() {
    let app = TestApp::start().await;
    let html = browser()
        .get(app.at("/"))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("body");
    assert!(html.contains("data-testid=\"dev-idp-banner\""));
    assert!(html.contains("data-testid=\"sign-in\""));
}

#[tokio::test]
async fn health_and_readiness_answer_json() {
    let app = TestApp::start().await;
    let client = browser();

    let health: serde_json::Value = client
        .get(app.at("/healthz"))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok");
    let ready: serde_json::Value = client
        .get(app.at("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["storage"], "ok");
    assert_eq!(ready["checks"]["identity"], "ok");
}
