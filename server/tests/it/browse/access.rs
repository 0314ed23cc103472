//! Who may browse and who may change: every role reads; data scientists
//! and admins edit descriptions and move aliases; compliance changes
//! nothing; a user without a group gets nothing; anonymous callers are
//! asked to sign in. Every refusal of a signed-in user is audited.

use coffer_app::upload::api::VersionState;
use coffer_server::audit::{Action, Outcome};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{registry, seed_model, seed_version};
use crate::support::{TestApp, bare_client};
use crate::uploads::audited;
use crate::uploads::client::{Answer, Uploader, answer};

/// Every browsing route, as method, path, body and whether it changes
/// anything; in an order where each change can succeed.
fn routes() -> Vec<(Method, &'static str, Option<Value>, bool)> {
    vec![
        (Method::GET, "/api/v1/models", None, false),
        (
            Method::GET,
            "/api/v1/models?q=fra&sort=name&limit=5",
            None,
            false,
        ),
        (Method::GET, "/api/v1/models/fraud", None, false),
        (Method::GET, "/api/v1/models/fraud/versions/1", None, false),
        (
            Method::PUT,
            "/api/v1/models/fraud/description",
            Some(json!({ "description": "edited" })),
            true,
        ),
        (
            Method::PUT,
            "/api/v1/models/fraud/aliases/production",
            Some(json!({ "version": 1 })),
            true,
        ),
        (
            Method::DELETE,
            "/api/v1/models/fraud/aliases/production",
            None,
            true,
        ),
    ]
}

async fn call(user: &Uploader, method: &Method, path: &str, body: &Option<Value>) -> Answer {
    let request = user.request(method.clone(), path);
    match body {
        Some(body) => answer(request.json(body)).await,
        None => answer(request).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_browsing_route_answers_each_role_as_the_matrix_says() {
    // Arrange: a model with one available version.
    let app = TestApp::start().await;
    let registry = registry(&app);
    seed_model(&registry, &app, "fraud").await;
    seed_version(&registry, &app, "fraud", VersionState::Available).await;
    let anonymous = bare_client();

    for route in routes() {
        // Act and assert: anonymous callers must sign in.
        let (method, path, body, _) = &route;
        let mut request = anonymous.request(method.clone(), app.at(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        let refused = answer(request).await;
        refused.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", "sign in");
    }

    for username in ["alice", "carol", "dave", "erin"] {
        let user = Uploader::sign_in(&app, username).await;
        for (method, path, body, changes) in routes() {
            // Act
            let answer = call(&user, &method, path, &body).await;

            // Assert
            let allowed = match username {
                "alice" | "dave" => true,
                "carol" => !changes,
                _ => false,
            };
            if allowed {
                assert_eq!(
                    answer.status,
                    StatusCode::OK,
                    "{username} {method} {path}: {answer:?}"
                );
            } else {
                answer.assert_error(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "your role does not allow this action",
                );
            }
        }
    }

    // Assert: each refusal of a signed-in user is on the trail with its
    // path; what was allowed left its own records.
    let denials = audited(&app, Action::AccessDenied).await;
    let denied = |username: &str| -> Vec<String> {
        denials
            .iter()
            .filter(|event| event.actor == username)
            .inspect(|event| assert_eq!(event.outcome, Outcome::Denied))
            .filter_map(|event| event.path.clone())
            .collect()
    };
    let changing: Vec<String> = routes()
        .into_iter()
        .filter(|route| route.3)
        .map(|route| route.1.to_owned())
        .collect();
    let every: Vec<String> = routes()
        .into_iter()
        .map(|route| route.1.split('?').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(denied("carol"), changing);
    assert_eq!(denied("erin"), every);
    assert!(denied("alice").is_empty() && denied("dave").is_empty());
    assert_eq!(audited(&app, Action::DescriptionChanged).await.len(), 2);
    assert_eq!(audited(&app, Action::AliasMoved).await.len(), 4);
}
