//! The portal audit trail: records arrive, verify, and tampering shows.

use aws_sdk_s3::primitives::ByteStream;
use coffer_server::audit::{Action, AuditEvent, AuditRecord, Outcome, key_for};
use futures::future::join_all;

use crate::support::{TestApp, browser, sign_in};

#[tokio::test]
async fn an_untouched_trail_verifies() {
    let app = TestApp::start().await;
    for username in ["alice", "carol"] {
        sign_in(&app, &browser(), username).await;
    }

    let report = app
        .running()
        .state
        .audit
        .verify()
        .await
        .expect("verify runs");
    assert!(report.intact, "{report:?}");
    assert_eq!(report.checked, 2);
    assert_eq!(report.head_seq, 2);
}

#[tokio::test]
async fn altering_one_stored_record_fails_verification_naming_it() {
    let app = TestApp::start().await;
    for username in ["alice", "bob", "carol"] {
        sign_in(&app, &browser(), username).await;
    }

    // Rewrite record 2 in the bucket as someone with write access could.
    let key = key_for(2);
    let stored = app
        .s3()
        .get_object()
        .bucket(app.bucket())
        .key(&key)
        .send()
        .await
        .expect("get");
    let bytes = stored.body.collect().await.expect("body").into_bytes();
    let mut record: AuditRecord = serde_json::from_slice(&bytes).expect("record parses");
    assert_eq!(record.event.actor, "bob");
    record.event.actor = "mallory".into();
    let forged = serde_json::to_vec(&record).expect("encode");
    app.s3()
        .put_object()
        .bucket(app.bucket())
        .key(&key)
        .body(ByteStream::from(forged))
        .send()
        .await
        .expect("overwrite");

    let report = app
        .running()
        .state
        .audit
        .verify()
        .await
        .expect("verify runs");
    assert!(!report.intact);
    let bad = report.first_bad.expect("names the record");
    assert_eq!(bad.seq, 2);
    assert_eq!(bad.key, key);
}

#[tokio::test]
async fn removing_a_record_fails_verification() {
    let app = TestApp::start().await;
    for username in ["alice", "bob", "carol"] {
        sign_in(&app, &browser(), username).await;
    }
    app.s3()
        .delete_object()
        .bucket(app.bucket())
        .key(key_for(2))
        .send()
        .await
        .expect("delete");

    let report = app
        .running()
        .state
        .audit
        .verify()
        .await
        .expect("verify runs");
    assert!(!report.intact);
    assert_eq!(report.first_bad.expect("names the gap").seq, 2);
}

#[tokio::test]
async fn concurrent_writers_get_distinct_numbers_and_a_single_chain() {
    let app = TestApp::start().await;

    // Two trails over the same bucket stand for two server instances.
    let state = &app.running().state;
    let other = coffer_server::audit::AuditTrail::new(state.storage.clone(), state.clock.clone());
    let writes = (0..40).map(|i| {
        let trail = if i % 2 == 0 {
            state.audit.clone()
        } else {
            other.clone()
        };
        async move {
            let event =
                AuditEvent::new(format!("user{i}"), Action::SignIn, Outcome::Success, "req");
            trail.record(event).await.expect("append")
        }
    });
    let records = join_all(writes).await;

    let mut numbers: Vec<u64> = records.iter().map(|record| record.seq).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=40).collect::<Vec<_>>());
    let report = state.audit.verify().await.expect("verify runs");
    assert!(report.intact, "{report:?}");
    assert_eq!(report.checked, 40);
}
