//! Bad model names, file paths and upload ids get a clear answer and write
//! nothing: no model, no version claim, no multipart upload.

use coffer_app::upload::api::StartUpload;
use coffer_server::audit::Action;
use reqwest::StatusCode;

use super::client::{Uploader, start_request, upload_path};
use super::{audited, keys_under, open_multipart_uploads};
use crate::s3::bytes_of;
use crate::support::TestApp;

/// A start request whose first file has this path.
fn with_path(path: &str) -> StartUpload {
    start_request(&[(path, b"bytes")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_paths_get_a_clear_400_and_write_nothing() {
    // Arrange
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let long_name = "x".repeat(256);
    let mut bad_digest = with_path("a.bin");
    bad_digest.files[0].sha256 = Some("not-a-digest".into());
    let mut bad_description = with_path("a.bin");
    bad_description.description = "hidden\u{202e}\u{1b}[2Jtext".into();
    let cases: Vec<(&str, StartUpload, &str)> = vec![
        (
            "Bad%20Name",
            with_path("a.bin"),
            "'Bad Name' is not a valid name",
        ),
        ("-lead", with_path("a.bin"), "is not a valid name"),
        ("fraud", with_path("../x"), "file path '../x' contains '..'"),
        ("fraud", with_path("a/../../x"), "contains '..'"),
        ("fraud", with_path("/abs"), "file path '/abs' is absolute"),
        ("fraud", with_path("a\u{7}b"), "contains control characters"),
        (
            "fraud",
            with_path("line\nbreak"),
            "contains control characters",
        ),
        ("fraud", with_path("a\\b"), "separate folders with '/'"),
        ("fraud", with_path("folder/"), "names a folder"),
        ("fraud", with_path("./"), "must name a file"),
        ("fraud", with_path(&long_name), "longer than 255 bytes"),
        (
            "fraud",
            start_request(&[("a.bin", b"1"), ("./a.bin", b"2")]),
            "file path 'a.bin' appears twice",
        ),
        ("fraud", start_request(&[]), "at least one file"),
        ("fraud", bad_digest, "64 hexadecimal characters"),
        ("fraud", bad_description, "contains control characters"),
    ];

    for (model, request, message) in &cases {
        // Act
        let answer = alice.try_start(model, request).await;

        // Assert
        answer.assert_error(StatusCode::BAD_REQUEST, "bad_request", message);
    }

    // Assert: nothing of any of them reached the bucket or the trail.
    assert!(keys_under(&app, "registry/models/").await.is_empty());
    assert!(keys_under(&app, "registry/uploads").await.is_empty());
    assert!(keys_under(&app, "artifacts/").await.is_empty());
    assert!(open_multipart_uploads(&app, "").await.is_empty());
    assert!(audited(&app, Action::UploadStarted).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_normalised_and_never_become_storage_keys() {
    // Arrange
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(10, 1);

    // Act
    let version = alice
        .publish("fraud", &[("./weights//données/model.bin", &data)])
        .await;

    // Assert
    assert_eq!(version.files[0].path, "weights/données/model.bin");
    let keys = keys_under(&app, "artifacts/").await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("artifacts/fraud/1/"), "{keys:?}");
    assert!(!keys[0].contains("weights") && !keys[0].contains("model.bin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_misplaced_upload_ids_are_not_found() {
    // Arrange: a real upload of model `fraud`.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let upload = alice.start("fraud", &[("x.bin", &bytes_of(10, 1))]).await;
    let elsewhere = upload_path(&upload).replace("/models/fraud/", "/models/other/");

    // Act
    let answers = [
        alice
            .get("/api/v1/models/fraud/uploads/..%2F..%2Fuploads")
            .await,
        alice.get("/api/v1/models/fraud/uploads/ABCDEF").await,
        alice
            .get(&format!("/api/v1/models/fraud/uploads/{}", "0".repeat(32)))
            .await,
        alice.get(&elsewhere).await,
        alice.delete(&elsewhere).await,
        alice
            .get(&upload_path(&upload).replace("/fraud/", "/Bad%20Name/"))
            .await,
    ];

    // Assert: not found (a bad model name says so), and the upload is
    // untouched.
    for answer in &answers[..5] {
        answer.assert_error(StatusCode::NOT_FOUND, "not_found", "");
    }
    answers[5].assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "is not a valid name",
    );
    assert_eq!(alice.status(&upload).await.status, StatusCode::OK);
}
