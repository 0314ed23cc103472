use reqwest::{Client, StatusCode};

use crate::support::{TestApp, browser, location, sign_in};

/// Who asks, in the order of the matrix columns.
const ACTORS: [&str; 5] = ["anonymous", "alice", "carol", "dave", "erin"];

/// What each actor gets from each route: 200, 403, or a redirect to sign
/// in (303) for pages, 401 for the API.
const MATRIX: [(&str, [u16; 5]); 8] = [
    ("/", [200, 200, 200, 200, 200]),
    ("/models", [303, 200, 200, 200, 403]),
    ("/upload", [303, 200, 403, 200, 403]),
    ("/shares", [303, 200, 403, 200, 403]),
    ("/audit", [303, 403, 200, 200, 403]),
    ("/api/v1/me", [401, 200, 200, 200, 200]),
    ("/healthz", [200, 200, 200, 200, 200]),
    ("/readyz", [200, 200, 200, 200, 200]),
];

async fn client_for(app: &TestApp, actor: &str) -> Client {
    let client = browser();
    if actor != "anonymous" {
        sign_in(app, &client, actor).await;
    }
    client
}

#[tokio::test]
async fn every_role_gets_exactly_what_the_matrix_says() {
    let app = TestApp::start().await;
    for (column, actor) in ACTORS.iter().enumerate() {
        let client = client_for(&app, actor).await;
        for (route, expected) in MATRIX {
            let response = client.get(app.at(route)).send().await.expect("request");
            assert_eq!(
                response.status().as_u16(),
                expected[column],
                "{actor} on {route}"
            );
            if response.status() == StatusCode::SEE_OTHER {
                let target = location(&response);
                assert_eq!(
                    target.path(),
                    "/login",
                    "{actor} on {route} is sent to sign in"
                );
                assert_eq!(
                    target.query(),
                    Some(&*format!("next={}", route.replace('/', "%2F")))
                );
            }
        }
    }
}

#[tokio::test]
async fn unknown_pages_and_api_routes_answer_404() {
    let app = TestApp::start().await;
    let client = browser();

    let page = client
        .get(app.at("/no/such/page"))
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.expect("body").contains("Not found"));

    let api = client
        .get(app.at("/api/v1/nothing"))
        .send()
        .await
        .expect("request");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn an_unexpected_method_gets_405_with_a_json_body() {
    let app = TestApp::start().await;
    for path in ["/api/v1/me", "/healthz", "/"] {
        let response = browser()
            .delete(app.at(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert!(response.headers().contains_key("allow"), "{path}");
        let body: serde_json::Value = response.json().await.expect("JSON body");
        assert_eq!(body["error"]["code"], "method_not_allowed", "{path}");
    }
}

#[tokio::test]
async fn a_foreign_origin_cannot_change_state() {
    let app = TestApp::start().await;
    let client = browser();
    sign_in(&app, &client, "alice").await;
    let csrf = crate::support::me(&app, &client).await.1["csrf_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let attempts = [
        ("https://evil.example", "cross-site"),
        ("null", "cross-site"),
        ("null", "same-site"),
        (app.url.as_str(), "cross-site"),
    ];
    for (origin, fetch_site) in attempts {
        let response = client
            .post(app.at("/logout"))
            .header("origin", origin)
            .header("sec-fetch-site", fetch_site)
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{origin} {fetch_site}"
        );
    }
    assert_eq!(crate::support::me(&app, &client).await.0, StatusCode::OK);
}
