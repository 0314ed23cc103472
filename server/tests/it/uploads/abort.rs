//! Cancelling an upload: nothing is left open or stored, the version is
//! recorded as failed, and its number is never reused.

use coffer_server::audit::{Action, Outcome};
use reqwest::StatusCode;

use super::client::Uploader;
use super::{PART_SIZE, TWO_PARTS, audited, keys_under, on_both_backends, open_multipart_uploads};
use crate::s3::bytes_of;
use crate::support::{Backend, TestApp};

on_both_backends!(cancelling_an_upload_aborts_its_multipart_uploads_and_fails_the_version);

async fn cancelling_an_upload_aborts_its_multipart_uploads_and_fails_the_version(backend: Backend) {
    // Arrange: two files, one part of the first sent.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let (big, small) = (bytes_of(TWO_PARTS, 30), bytes_of(100, 31));
    let upload = alice
        .start("fraud", &[("model.bin", &big), ("config.json", &small)])
        .await;
    alice
        .send_parts(&upload, 0, &[(1, &big[..PART_SIZE])])
        .await;
    let opened = open_multipart_uploads(&app, "artifacts/fraud/1/").await;

    // Act
    let cancelled = alice.abort(&upload).await;

    // Assert: no multipart upload open, nothing stored, the version
    // failed and audited, the upload gone from every listing.
    assert_eq!(opened.len(), 2);
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT, "{cancelled:?}");
    assert!(open_multipart_uploads(&app, "artifacts/").await.is_empty());
    assert!(keys_under(&app, "artifacts/").await.is_empty());
    let version = alice.version("fraud", 1).await;
    assert_eq!(version.body["state"], "failed", "{version:?}");
    assert!(
        version.body["failure"]
            .as_str()
            .is_some_and(|failure| failure.contains("cancelled")),
        "{version:?}"
    );
    let aborted = audited(&app, Action::UploadAborted).await;
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert_eq!(aborted[0].actor, "alice");
    assert_eq!(aborted[0].outcome, Outcome::Success);
    assert_eq!(
        (aborted[0].model.as_deref(), aborted[0].version),
        (Some("fraud"), Some(1))
    );
    assert!(alice.open_upload_ids().await.is_empty());
    alice
        .status(&upload)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "");
    alice
        .abort(&upload)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "");
    let detail = alice.get("/api/v1/models/fraud").await;
    assert_eq!(detail.body["versions"][0]["state"], "failed");
    assert_eq!(alice.start("fraud", &[("a", &small)]).await.version, 2);
}
