//! Who may upload: data scientists and admins, each only into their own
//! uploads; every refusal is audited. Cookie requests that change state
//! need the CSRF token and a JSON body.

use coffer_app::upload::api::UploadStatus;
use coffer_server::audit::{Action, Outcome};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{
    Uploader, answer, complete_request, parts_request, start_request, upload_path,
};
use super::{audited, keys_under, open_multipart_uploads};
use crate::s3::bytes_of;
use crate::support::{TestApp, bare_client};

/// Every upload endpoint, as method, path and JSON body, aimed at
/// `upload`.
fn endpoints(upload: &UploadStatus) -> Vec<(Method, String, Option<serde_json::Value>)> {
    let path = upload_path(upload);
    let data = bytes_of(10, 1);
    vec![
        (
            Method::POST,
            "/api/v1/models/fraud/uploads".to_owned(),
            Some(json_of(&start_request(&[("x.bin", &data)]))),
        ),
        (Method::GET, "/api/v1/uploads".to_owned(), None),
        (Method::GET, "/api/v1/models/fraud/uploads".to_owned(), None),
        (Method::GET, path.clone(), None),
        (
            Method::POST,
            format!("{path}/parts"),
            Some(json_of(&parts_request(0, &[(1, &data)]))),
        ),
        (
            Method::POST,
            format!("{path}/complete"),
            Some(json_of(&complete_request(&[&data]))),
        ),
        (Method::DELETE, path, None),
    ]
}

fn json_of(body: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(body).expect("request body serializes")
}

/// Calls an endpoint on the user's session, with the CSRF token.
async fn call(
    user: &Uploader,
    (method, path, body): &(Method, String, Option<serde_json::Value>),
) -> super::client::Answer {
    let request = user.request(method.clone(), path);
    match body {
        Some(body) => answer(request.json(body)).await,
        None => answer(request).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_and_users_without_a_group_get_403_on_every_upload_endpoint() {
    // Arrange: an upload of alice's to aim at, and the two refused users.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(10, 1);
    let upload = alice.start("fraud", &[("x.bin", &data)]).await;
    let refused = [
        Uploader::sign_in(&app, "carol").await,
        Uploader::sign_in(&app, "erin").await,
    ];

    for user in &refused {
        for endpoint in endpoints(&upload) {
            // Act
            let answer = call(user, &endpoint).await;

            // Assert
            let (method, path, _) = &endpoint;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{} {method} {path}: {answer:?}",
                user.username
            );
            assert_eq!(answer.code(), "forbidden");
            assert_eq!(answer.message(), "your role does not allow this action");
        }
    }

    // Assert: one denial per call, naming the route; alice's upload is as
    // it was and no other was started.
    let denials = audited(&app, Action::AccessDenied).await;
    for user in &refused {
        let paths: Vec<String> = denials
            .iter()
            .filter(|event| event.actor == user.username)
            .inspect(|event| assert_eq!(event.outcome, Outcome::Denied))
            .filter_map(|event| event.path.clone())
            .collect();
        let expected: Vec<String> = endpoints(&upload)
            .into_iter()
            .map(|(_, path, _)| path)
            .collect();
        assert_eq!(paths, expected, "{}", user.username);
    }
    assert_eq!(alice.open_upload_ids().await, [upload.upload_id.as_str()]);
    assert_eq!(
        keys_under(&app, "registry/models/fraud/claims/")
            .await
            .len(),
        1
    );
    assert_eq!(open_multipart_uploads(&app, "artifacts/").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_data_scientist_cannot_inspect_sign_complete_or_abort_an_upload() {
    // Arrange: alice's upload with its part sent; bob, a data scientist
    // too, knows its id.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let bob = Uploader::sign_in(&app, "bob").await;
    let data = bytes_of(4096, 2);
    let upload = alice.start("fraud", &[("x.bin", &data)]).await;
    alice.send_file(&upload, 0, &data).await;

    // Act
    let answers = [
        bob.status(&upload).await,
        bob.try_sign(&upload, &parts_request(0, &[(1, &data)]))
            .await,
        bob.try_complete(&upload, &complete_request(&[&data])).await,
        bob.abort(&upload).await,
    ];

    // Assert: each refused and audited with the version it aimed at; bob
    // lists nothing; alice's upload is intact and still completes.
    for answer in &answers {
        answer.assert_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this upload belongs to another user",
        );
    }
    let denials: Vec<_> = audited(&app, Action::AccessDenied)
        .await
        .into_iter()
        .filter(|event| event.actor == "bob")
        .collect();
    assert_eq!(denials.len(), 4, "{denials:?}");
    for denial in &denials {
        assert_eq!(denial.outcome, Outcome::Denied);
        assert_eq!(denial.model.as_deref(), Some("fraud"));
        assert_eq!(denial.version, Some(1));
    }
    assert!(bob.open_upload_ids().await.is_empty());
    let for_model = bob.get("/api/v1/models/fraud/uploads").await;
    assert_eq!(for_model.body, json!({ "uploads": [] }));
    alice
        .version("fraud", 1)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "");
    assert_eq!(alice.complete(&upload, &[&data]).await.uploader, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_may_upload() {
    // Arrange
    let app = TestApp::start().await;
    let dave = Uploader::sign_in(&app, "dave").await;
    let data = bytes_of(100, 3);

    // Act
    let version = dave.publish("fraud", &[("x.bin", &data)]).await;

    // Assert
    assert_eq!((version.version, version.uploader.as_str()), (1, "dave"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_get_401_on_every_upload_endpoint() {
    // Arrange: an upload to aim at, and a client with no session.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let upload = alice.start("fraud", &[("x.bin", &bytes_of(10, 1))]).await;
    let anonymous = bare_client();

    for (method, path, body) in endpoints(&upload) {
        // Act
        let mut request = anonymous.request(method.clone(), app.at(&path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = answer(request).await;

        // Assert
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(answer.code(), "unauthorized", "{method} {path}");
    }
    assert_eq!(alice.open_upload_ids().await, [upload.upload_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_request_without_the_csrf_token_changes_nothing() {
    // Arrange: alice's session, used without its token or with another.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let body = start_request(&[("x.bin", &bytes_of(10, 1))]);
    let path = "/api/v1/models/fraud/uploads";

    // Act: start without a token, with a wrong one; then abort a real
    // upload without one.
    let untokened = answer(alice.request_without_token(Method::POST, path).json(&body)).await;
    let wrong = answer(
        alice
            .request_without_token(Method::POST, path)
            .header("x-csrf-token", "0".repeat(64))
            .json(&body),
    )
    .await;
    let nothing_claimed = keys_under(&app, "registry/models/").await;
    let upload = alice.start("fraud", &[("x.bin", &bytes_of(10, 1))]).await;
    let abort = answer(alice.request_without_token(Method::DELETE, &upload_path(&upload))).await;

    // Assert
    for refused in [&untokened, &wrong, &abort] {
        refused.assert_error(StatusCode::FORBIDDEN, "forbidden", "X-CSRF-Token");
    }
    assert!(nothing_claimed.is_empty(), "{nothing_claimed:?}");
    assert_eq!(alice.open_upload_ids().await, [upload.upload_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_plain_body_is_refused_with_415() {
    // Arrange: a valid start request sent as text, as a cross-site form
    // could send it.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let body =
        serde_json::to_string(&start_request(&[("x.bin", &bytes_of(10, 1))])).expect("JSON text");

    // Act
    let refused = answer(
        alice
            .request(Method::POST, "/api/v1/models/fraud/uploads")
            .header("content-type", "text/plain")
            .body(body),
    )
    .await;

    // Assert
    refused.assert_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "application/json",
    );
    assert!(keys_under(&app, "registry/models/").await.is_empty());
}
