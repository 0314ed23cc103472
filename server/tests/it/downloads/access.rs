//! Who may download: data scientists, admins and (unless an admin setting
//! forbids it) compliance staff; every download and every refusal is on
//! record before the answer.

use coffer_server::audit::{Action, Outcome};
use reqwest::StatusCode;

use super::{ask, download_path, request_id};
use crate::s3::bytes_of;
use crate::support::{TestApp, bare_client};
use crate::uploads::audited;
use crate::uploads::client::{Answer, Uploader, answer};

const MODEL: &str = "fraud";
const PATH: &str = "weights/model.bin";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_scientists_admins_and_compliance_download_and_others_are_refused() {
    // Arrange: a version of alice's, and every kind of caller.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice.publish(MODEL, &[(PATH, &bytes_of(1000, 1))]).await;
    let mut users = vec![alice];
    for name in ["bob", "carol", "dave", "erin"] {
        users.push(Uploader::sign_in(&app, name).await);
    }

    // Act
    let mut answers = Vec::new();
    for user in &users {
        let response = ask(user, MODEL, 1, PATH).await;
        answers.push((user.username.clone(), response));
    }
    let anonymous = answer(bare_client().get(app.at(&download_path(MODEL, 1, PATH)))).await;

    // Assert: the four roles are redirected, erin and nobody refused.
    for (name, response) in &answers {
        let expected = if name == "erin" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::FOUND
        };
        assert_eq!(response.status(), expected, "{name}");
    }
    anonymous.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", "sign in");

    // Assert: one `download` per redirect, naming who, what and which
    // request; erin's refusal names the route.
    let downloads = audited(&app, Action::Download).await;
    let actors: Vec<&str> = downloads.iter().map(|event| event.actor.as_str()).collect();
    assert_eq!(actors, ["alice", "bob", "carol", "dave"]);
    for (event, (_, response)) in downloads.iter().zip(&answers) {
        assert_eq!(event.outcome, Outcome::Success);
        assert_eq!(event.model.as_deref(), Some(MODEL));
        assert_eq!(event.version, Some(1));
        assert_eq!(event.path.as_deref(), Some(PATH));
        assert_eq!(event.request_id, request_id(response));
    }
    // (erin's sign-in itself is recorded as a denial too, without a path.)
    let denials: Vec<_> = audited(&app, Action::AccessDenied)
        .await
        .into_iter()
        .filter(|event| event.path.is_some())
        .collect();
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0].actor, "erin");
    assert_eq!(
        denials[0].path.as_deref(),
        Some(download_path(MODEL, 1, PATH).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_setting_keeps_compliance_from_downloading() {
    // Arrange: a server that forbids compliance downloads.
    let app = TestApp::start_with(&["--compliance-downloads", "deny"]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice.publish(MODEL, &[(PATH, &bytes_of(1000, 2))]).await;
    let carol = Uploader::sign_in(&app, "carol").await;

    // Act
    let refused = answer(carol.request(reqwest::Method::GET, &download_path(MODEL, 1, PATH))).await;
    let allowed = ask(&alice, MODEL, 1, PATH).await;

    // Assert: carol is refused and recorded; she may still browse.
    refused.assert_error(StatusCode::FORBIDDEN, "forbidden", "role does not allow");
    assert_eq!(allowed.status(), StatusCode::FOUND);
    assert_eq!(carol.version(MODEL, 1).await.status, StatusCode::OK);
    let denials = audited(&app, Action::AccessDenied).await;
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0].actor, "carol");
    let downloads = audited(&app, Action::Download).await;
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].actor, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_exact_file_of_an_available_version_downloads() {
    // Arrange: version 1 with a file in a folder; version 2 cancelled, so
    // it exists as `failed`.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice.publish(MODEL, &[(PATH, &bytes_of(1000, 3))]).await;
    let cancelled = alice.start(MODEL, &[(PATH, &bytes_of(1000, 4))]).await;
    assert_eq!(alice.abort(&cancelled).await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.version(MODEL, 2).await.body["state"], "failed");

    // Act
    let get = |path: String| {
        let request = alice.request(reqwest::Method::GET, &path);
        async move { answer(request).await }
    };
    let base = format!("/api/v1/models/{MODEL}/versions");
    let cases: Vec<(String, StatusCode)> = vec![
        (format!("{base}/abc/files/{PATH}"), StatusCode::BAD_REQUEST),
        (format!("{base}/0/files/{PATH}"), StatusCode::BAD_REQUEST),
        (
            format!("/api/v1/models/Not%20A%20Model/versions/1/files/{PATH}"),
            StatusCode::BAD_REQUEST,
        ),
        (download_path(MODEL, 2, PATH), StatusCode::NOT_FOUND),
        (download_path(MODEL, 3, PATH), StatusCode::NOT_FOUND),
        (download_path("nothing", 1, PATH), StatusCode::NOT_FOUND),
        (download_path(MODEL, 1, "weights"), StatusCode::NOT_FOUND),
        (download_path(MODEL, 1, "model.bin"), StatusCode::NOT_FOUND),
        (
            download_path(MODEL, 1, "weights/other.bin"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("{base}/1/files/weights//model.bin"),
            StatusCode::NOT_FOUND,
        ),
    ];
    let mut answers: Vec<(String, StatusCode, Answer)> = Vec::new();
    for (path, expected) in cases {
        answers.push((path.clone(), expected, get(path).await));
    }

    // Assert: each is refused with its JSON error, and nothing was
    // recorded as downloaded.
    for (path, expected, answer) in &answers {
        assert_eq!(answer.status, *expected, "{path}: {answer:?}");
        let code = if *expected == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "bad_request"
        };
        assert_eq!(answer.code(), code, "{path}");
    }
    assert!(audited(&app, Action::Download).await.is_empty());
}
