//! Who may read the dashboard: compliance staff and admins, on every page,
//! API route and server function of it; data scientists and users without
//! a group are refused (and the refusal is audited); anonymous callers are
//! asked to sign in. Nothing in it accepts a change.

use coffer_server::audit::Action;
use reqwest::{Method, StatusCode};

use crate::support::{TestApp, bare_client};
use crate::uploads::audited;
use crate::uploads::client::{Uploader, answer};

/// Every dashboard API route.
const ROUTES: [&str; 7] = [
    "/api/v1/audit/events",
    "/api/v1/audit/events?source=cloudtrail",
    "/api/v1/audit/events?source=s3",
    "/api/v1/audit/events?source=all",
    "/api/v1/audit/events.csv",
    "/api/v1/audit/events.json?source=portal&actor=alice",
    "/api/v1/audit/verify",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_route_answers_each_role_as_the_matrix_says() {
    let app = TestApp::start_with(&["--cloudtrail", "off"]).await;
    let anonymous = bare_client();
    for path in ROUTES {
        let refused = answer(anonymous.get(app.at(path))).await;
        refused.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", "sign in");
    }
    let page = anonymous
        .get(app.at("/audit"))
        .send()
        .await
        .expect("GET /audit");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);

    for username in ["alice", "bob", "carol", "dave", "erin"] {
        let user = Uploader::sign_in(&app, username).await;
        let allowed = matches!(username, "carol" | "dave");
        for path in ROUTES {
            let response = user
                .request(Method::GET, path)
                .send()
                .await
                .expect("GET a dashboard route");
            let status = response.status();
            if allowed {
                assert_eq!(status, StatusCode::OK, "{username} {path}");
                let body = response.text().await.expect("a body");
                assert!(!body.is_empty(), "{username} {path}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{username} {path}");
            }
        }

        // The page: the dashboard for auditors, a refusal for the rest.
        let page = user
            .request(Method::GET, "/audit")
            .send()
            .await
            .expect("GET /audit");
        let status = page.status();
        let html = page.text().await.expect("a page");
        if allowed {
            assert_eq!(status, StatusCode::OK, "{username}");
            assert!(html.contains("data-testid=\"audit-page\""), "{username}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{username}");
            assert!(!html.contains("data-testid=\"audit-page\""), "{username}");
        }

        // The page's server function checks the role too.
        let function = user
            .request(Method::POST, "/_srv/load_audit_view")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("query[source]=portal")
            .send()
            .await
            .expect("POST the server function");
        let status = function.status();
        let text = function.text().await.expect("a body");
        if allowed {
            assert_eq!(status, StatusCode::OK, "{username}: {text}");
            assert!(text.contains("\"events\""), "{username}: {text}");
        } else {
            assert!(!status.is_success(), "{username}: {status} {text}");
            assert!(!text.contains("\"events\""), "{username}: {text}");
        }
    }

    // Every refusal of a signed-in user is on the trail, with its path.
    let denials = audited(&app, Action::AccessDenied).await;
    for username in ["alice", "bob", "erin"] {
        let paths: Vec<String> = denials
            .iter()
            .filter(|event| event.actor == username)
            .filter_map(|event| event.path.clone())
            .collect();
        for path in ROUTES {
            let path = path.split('?').next().unwrap_or(path);
            assert!(
                paths.iter().any(|seen| seen == path),
                "{username} {path}: {paths:?}"
            );
        }
        assert!(
            paths.iter().any(|seen| seen == "/audit"),
            "{username}: {paths:?}"
        );
    }
}

#[tokio::test]
async fn the_dashboard_accepts_no_change() {
    let app = TestApp::start().await;
    let dave = Uploader::sign_in(&app, "dave").await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        for path in ["/api/v1/audit/events", "/api/v1/audit/verify"] {
            let response = dave
                .request(method.clone(), path)
                .send()
                .await
                .expect("send");
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }
}
