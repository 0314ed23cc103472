//! `GET /api/v1/audit/verify`: an intact trail says so; an altered, a
//! removed and a reordered record are each named.

use aws_sdk_s3::primitives::ByteStream;
use coffer_app::audit::api::VerifyReport;
use coffer_server::audit::{Action, AuditRecord, Outcome, key_for};
use reqwest::StatusCode;

use super::{event, record};
use crate::support::TestApp;
use crate::uploads::client::Uploader;

/// A trail of a few records and an auditor to verify it.
async fn trail_of_five() -> (TestApp, Uploader) {
    let app = TestApp::start().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    for actor in ["alice", "bob", "dave", "erin"] {
        record(&app, event(actor, Action::Download, Outcome::Success)).await;
    }
    (app, carol)
}

async fn verify(user: &Uploader) -> VerifyReport {
    let answer = user.get("/api/v1/audit/verify").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.json()
}

async fn read(app: &TestApp, seq: u64) -> AuditRecord {
    let object = app
        .s3()
        .get_object()
        .bucket(app.bucket())
        .key(key_for(seq))
        .send()
        .await
        .expect("get a record");
    let bytes = object.body.collect().await.expect("body").into_bytes();
    serde_json::from_slice(&bytes).expect("a record")
}

async fn write(app: &TestApp, seq: u64, record: &AuditRecord) {
    app.s3()
        .put_object()
        .bucket(app.bucket())
        .key(key_for(seq))
        .body(ByteStream::from(
            serde_json::to_vec(record).expect("encodes"),
        ))
        .send()
        .await
        .expect("overwrite a record");
}

#[tokio::test]
async fn an_intact_trail_verifies_with_its_head() {
    let (_app, carol) = trail_of_five().await;
    let report = verify(&carol).await;
    assert!(report.intact, "{report:?}");
    assert!(report.first_bad.is_none());
    assert!(report.checked >= 5);
    assert_eq!(report.checked, report.head_seq);
    assert_eq!(report.head_hash.len(), 64);
}

#[tokio::test]
async fn an_altered_record_is_named() {
    let (app, carol) = trail_of_five().await;
    let mut altered = read(&app, 3).await;
    altered.event.actor = "mallory".into();
    write(&app, 3, &altered).await;

    let report = verify(&carol).await;
    assert!(!report.intact);
    let bad = report.first_bad.expect("a bad record");
    assert_eq!(bad.seq, 3);
    assert_eq!(bad.key, key_for(3));
    assert!(bad.reason.contains("hash"), "{}", bad.reason);
}

#[tokio::test]
async fn a_removed_record_is_named() {
    let (app, carol) = trail_of_five().await;
    app.s3()
        .delete_object()
        .bucket(app.bucket())
        .key(key_for(2))
        .send()
        .await
        .expect("delete a record");

    let report = verify(&carol).await;
    assert!(!report.intact);
    let bad = report.first_bad.expect("a bad record");
    assert_eq!(bad.seq, 2);
    assert!(bad.reason.contains("missing"), "{}", bad.reason);
}

#[tokio::test]
async fn reordered_records_are_named() {
    let (app, carol) = trail_of_five().await;

    // Swap records 2 and 3 in the bucket, each renumbered to fit its new
    // place, as someone hiding the order of events would.
    let (second, third) = (read(&app, 2).await, read(&app, 3).await);
    write(&app, 2, &AuditRecord { seq: 2, ..third }).await;
    write(&app, 3, &AuditRecord { seq: 3, ..second }).await;

    let report = verify(&carol).await;
    assert!(!report.intact);
    assert_eq!(report.first_bad.expect("a bad record").seq, 2);
}
