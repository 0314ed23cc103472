//! The janitor: an upload nobody finishes, and a multipart upload no
//! session knows, are aborted once they are older than the expiry (24
//! hours by default), so nothing stays open and billed forever.

use coffer_server::audit::{Action, Outcome};
use coffer_server::uploads::janitor::{JANITOR, SweepReport};
use reqwest::StatusCode;

use super::client::Uploader;
use super::{audited, on_both_backends, open_multipart_uploads};
use crate::s3::bytes_of;
use crate::support::{Backend, TestApp};

on_both_backends!(
    the_janitor_aborts_an_upload_left_without_parts_for_a_day,
    the_janitor_aborts_an_orphaned_multipart_upload_once_it_is_old,
);

/// A day and an hour: past the default expiry.
fn past_the_expiry() -> time::Duration {
    time::Duration::hours(25)
}

async fn the_janitor_aborts_an_upload_left_without_parts_for_a_day(backend: Backend) {
    // Arrange: an upload started and left alone.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let upload = alice
        .start("fraud", &[("model.bin", &bytes_of(100, 40))])
        .await;
    let uploads = &app.running().state.uploads;

    // Act: a round while it is young, and one a day later.
    let early = uploads.sweep().await.expect("an early round");
    let still_open = open_multipart_uploads(&app, "artifacts/").await;
    app.clock.advance(past_the_expiry());
    let late = uploads.sweep().await.expect("a round past the expiry");
    let again = uploads.sweep().await.expect("one more round");

    // A day later alice's session has ended: she signs in again to look.
    let alice = Uploader::sign_in(&app, "alice").await;

    // Assert: kept while young; then aborted once, in S3 too, recorded
    // as the janitor's act, and the version failed.
    assert_eq!(early, SweepReport::default());
    assert_eq!(still_open.len(), 1);
    assert_eq!(
        late,
        SweepReport {
            sessions_aborted: 1,
            orphans_aborted: 0
        }
    );
    assert_eq!(again, SweepReport::default());
    assert!(open_multipart_uploads(&app, "artifacts/").await.is_empty());
    let aborted = audited(&app, Action::UploadAborted).await;
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert_eq!(aborted[0].actor, "coffer-janitor");
    assert_eq!(aborted[0].outcome, Outcome::Success);
    assert_eq!(
        (aborted[0].model.as_deref(), aborted[0].version),
        (Some("fraud"), Some(upload.version))
    );
    assert!(
        aborted[0]
            .detail
            .as_deref()
            .is_some_and(|detail| detail.contains("abandoned") && detail.contains("alice")),
        "{aborted:?}"
    );
    let version = alice.version("fraud", upload.version).await;
    assert_eq!(version.body["state"], "failed", "{version:?}");
    assert!(alice.open_upload_ids().await.is_empty());
    alice
        .status(&upload)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "");
}

async fn the_janitor_aborts_an_orphaned_multipart_upload_once_it_is_old(backend: Backend) {
    // Arrange: a multipart upload under `artifacts/` without a session, as
    // a crash between opening it and writing the session leaves one.
    let app = TestApp::start_on(backend, &[]).await;
    app.s3()
        .create_multipart_upload()
        .bucket(app.bucket())
        .key("artifacts/x/1/orphan")
        .send()
        .await
        .expect("CreateMultipartUpload");
    let uploads = &app.running().state.uploads;

    // Act: a round now, and one past the expiry. Its age comes from S3's
    // `Initiated`, measured against the server's (manual) clock, which
    // started at the real time.
    let early = uploads.sweep().await.expect("an early round");
    let still_open = open_multipart_uploads(&app, "artifacts/").await;
    app.clock.advance(past_the_expiry());
    let late = uploads.sweep().await.expect("a round past the expiry");

    // Assert: aborted once it is old, and recorded by the janitor.
    let aborted = audited(&app, Action::UploadAborted).await;
    match app.backend {
        Backend::Embedded => {
            assert_eq!(early, SweepReport::default());
            assert_eq!(still_open.len(), 1);
            assert_eq!(
                late,
                SweepReport {
                    sessions_aborted: 0,
                    orphans_aborted: 1
                }
            );
            assert_eq!(aborted.len(), 1, "{aborted:?}");
        }
        Backend::Moto => {
            // moto 5.0 lists every multipart upload as initiated on
            // 2010-11-10, so an orphan is old from birth: the round the
            // server runs at boot may abort it too, racing ours, and each
            // round that saw it records it.
            assert!(still_open.is_empty());
            assert!(!aborted.is_empty());
        }
    }
    assert!(open_multipart_uploads(&app, "artifacts/").await.is_empty());
    for event in &aborted {
        assert_eq!(event.actor, JANITOR);
        assert_eq!(event.outcome, Outcome::Success);
        assert_eq!(
            (event.model.as_deref(), event.version),
            (Some("x"), Some(1))
        );
        assert!(
            event
                .detail
                .as_deref()
                .is_some_and(|detail| detail.contains("orphaned")),
            "{event:?}"
        );
    }
}
