//! The completion lease: while one request completes or cancels an upload,
//! another gets 409 and changes nothing; a lease left by a crash expires.

use coffer_server::clock::Clock as _;
use reqwest::StatusCode;
use time::format_description::well_known::Rfc3339;

use super::client::{Uploader, complete_request};
use super::{audited, open_multipart_uploads};
use crate::support::TestApp;
use coffer_server::audit::Action;

/// Writes the lease another instance would hold for the upload.
async fn hold_lease(app: &TestApp, upload_id: &str) {
    let taken_at = app.clock.now().format(&Rfc3339).expect("RFC 3339");
    app.s3()
        .put_object()
        .bucket(app.bucket())
        .key(format!("registry/upload-leases/{upload_id}"))
        .body(
            format!(r#"{{"taken_at":"{taken_at}"}}"#)
                .into_bytes()
                .into(),
        )
        .send()
        .await
        .expect("lease written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_turns_completion_and_cancellation_away_until_it_expires() {
    // Arrange: a fully sent upload whose lease another request holds.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = b"leased".as_slice();
    let upload = alice.start("leased", &[("a.bin", data)]).await;
    alice.send_file(&upload, 0, data).await;
    hold_lease(&app, &upload.upload_id).await;

    // Act: both are refused while the lease is fresh.
    let completed = alice
        .try_complete(&upload, &complete_request(&[data]))
        .await;
    let cancelled = alice.abort(&upload).await;

    // Assert: nothing changed; the upload is still open and unpublished.
    completed.assert_error(StatusCode::CONFLICT, "conflict", "being completed");
    cancelled.assert_error(StatusCode::CONFLICT, "conflict", "being completed");
    assert_eq!(
        alice.version("leased", 1).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        open_multipart_uploads(&app, "artifacts/leased/")
            .await
            .len(),
        1
    );
    assert!(audited(&app, Action::VersionPublished).await.is_empty());
    assert!(audited(&app, Action::UploadAborted).await.is_empty());

    // Act: past its lifetime the lease is taken over, as after a crash.
    app.clock.advance(time::Duration::minutes(3));
    let completed = alice
        .try_complete(&upload, &complete_request(&[data]))
        .await;

    // Assert
    assert_eq!(completed.status, StatusCode::OK, "{completed:?}");
    assert_eq!(audited(&app, Action::VersionPublished).await.len(), 1);
}
