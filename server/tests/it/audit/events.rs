//! `GET /api/v1/audit/events?source=portal`: newest first, every record
//! exactly once across pages while new ones arrive, each filter, the
//! cursor's checks, and the sweep that indexes what a crash left out.

use coffer_server::audit::{Action, AuditRecord, Outcome};
use reqwest::StatusCode;
use time::Duration;

use super::{all_rows, event, page, record, seqs, urlencode};
use crate::support::TestApp;
use crate::uploads::client::Uploader;

#[tokio::test]
async fn paging_returns_every_record_once_newest_first_while_new_records_arrive() {
    let app = TestApp::start().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    for i in 0..90 {
        record(
            &app,
            event(&format!("user{i}"), Action::Download, Outcome::Success),
        )
        .await;
    }
    let head = page(&carol, "source=portal&limit=1").await.events[0]
        .seq
        .expect("a seq");

    // Page through while other records keep arriving.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("source=portal&limit=20&cursor={}", urlencode(cursor)),
            None => "source=portal&limit=20".to_owned(),
        };
        let answer = page(&carol, &query).await;
        assert!(answer.events.len() <= 20);
        seen.extend(seqs(&answer.events));
        for i in 0..3 {
            record(
                &app,
                event(&format!("late{i}"), Action::SignIn, Outcome::Success),
            )
            .await;
        }
        match answer.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    // Exactly the records that existed when paging began, newest first.
    let expected: Vec<u64> = (1..=head).rev().collect();
    assert_eq!(seen, expected);
}

/// Which records a filter should find.
type RecordTest = Box<dyn Fn(&AuditRecord) -> bool>;

#[tokio::test]
async fn each_filter_finds_exactly_the_records_it_names() {
    let app = TestApp::start().await;

    // Three days of varied records.
    let mut written: Vec<AuditRecord> = Vec::new();
    for day in 0..3 {
        for (actor, action, outcome, model) in [
            ("alice", Action::Download, Outcome::Success, Some("fraud")),
            ("bob", Action::Download, Outcome::Denied, Some("fraud")),
            (
                "alice",
                Action::UploadStarted,
                Outcome::Success,
                Some("churn"),
            ),
            ("erin", Action::AccessDenied, Outcome::Denied, None),
            ("bob", Action::SignInFailed, Outcome::Failure, None),
        ] {
            let mut event = event(actor, action, outcome);
            if let Some(model) = model {
                event = event.with_version(model, day + 1);
            }
            written.push(record(&app, event).await);
        }
        app.clock.advance(Duration::days(1));
    }
    // Carol signs in now: a session from three days ago has expired.
    let carol = Uploader::sign_in(&app, "carol").await;
    let all = app.audit_records().await;
    let day_two = written[5].time;

    let cases: Vec<(&str, RecordTest)> = vec![
        ("actor=alice", Box::new(|r| r.event.actor == "alice")),
        (
            "action=download",
            Box::new(|r| r.event.action == Action::Download),
        ),
        (
            "model=fraud",
            Box::new(|r| r.event.model.as_deref() == Some("fraud")),
        ),
        (
            "outcome=denied",
            Box::new(|r| r.event.outcome == Outcome::Denied),
        ),
        (
            "outcome=success",
            Box::new(|r| r.event.outcome == Outcome::Success),
        ),
        (
            "actor=bob&outcome=denied&model=fraud",
            Box::new(|r| {
                r.event.actor == "bob"
                    && r.event.outcome == Outcome::Denied
                    && r.event.model.as_deref() == Some("fraud")
            }),
        ),
        (
            "action=sign_in_failed&actor=bob",
            Box::new(|r| r.event.action == Action::SignInFailed && r.event.actor == "bob"),
        ),
    ];
    for (query, expected) in cases {
        let (rows, _) = all_rows(&carol, &format!("source=portal&limit=4&{query}")).await;
        let wanted: Vec<u64> = all
            .iter()
            .rev()
            .filter(|r| expected(r))
            .map(|r| r.seq)
            .collect();
        assert!(!wanted.is_empty(), "{query} must match something");
        assert_eq!(seqs(&rows), wanted, "{query}");
    }

    // A day's range, given as dates or as times.
    let day = day_two.date();
    let in_day = |r: &&AuditRecord| r.time.date() == day;
    let wanted: Vec<u64> = all.iter().rev().filter(in_day).map(|r| r.seq).collect();
    for query in [
        format!("from={day}&to={day}"),
        format!(
            "from={}&to={}",
            urlencode(&format!("{day}T00:00:00Z")),
            urlencode(&format!("{day}T23:59:59.999Z"))
        ),
    ] {
        let (rows, _) = all_rows(&carol, &format!("source=portal&limit=3&{query}")).await;
        assert_eq!(seqs(&rows), wanted, "{query}");
    }
    let (rows, _) = all_rows(
        &carol,
        &format!("source=portal&actor=alice&from={day}&to={day}"),
    )
    .await;
    assert!(
        rows.iter()
            .all(|row| row.actor == "alice" && row.time.starts_with(&day.to_string()))
    );
    assert_eq!(rows.len(), 2);

    // An action the portal does not record matches nothing.
    let answer = page(&carol, "source=portal&action=GetObject").await;
    assert!(answer.events.is_empty() && answer.next_cursor.is_none());
}

#[tokio::test]
async fn rows_carry_the_contract_fields_and_denials_are_marked() {
    let app = TestApp::start().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let written = record(
        &app,
        event("bob", Action::Download, Outcome::Denied)
            .with_version("fraud", 3)
            .with_path("weights/model.bin")
            .with_share("123-abc"),
    )
    .await;

    let answer = page(&carol, "source=portal&actor=bob").await;
    let row = &answer.events[0];
    assert_eq!(row.seq, Some(written.seq));
    assert_eq!(row.action, "download");
    assert_eq!(row.outcome, "denied");
    assert!(row.is_denial());
    assert_eq!(row.model.as_deref(), Some("fraud"));
    assert_eq!(row.version, Some(3));
    assert_eq!(row.path.as_deref(), Some("weights/model.bin"));
    assert_eq!(row.share_id.as_deref(), Some("123-abc"));
    assert_eq!(row.request_id.as_deref(), Some("req-bob"));
    assert!(row.time.ends_with('Z'), "{}", row.time);
}

#[tokio::test]
async fn bad_queries_and_foreign_cursors_are_refused_with_a_clear_400() {
    let app = TestApp::start().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    for i in 0..5 {
        record(
            &app,
            event(&format!("u{i}"), Action::SignIn, Outcome::Success),
        )
        .await;
    }
    let s3_cursor = page(&carol, "source=s3").await.next_cursor;
    let portal = page(&carol, "source=portal&limit=2").await;
    let portal_cursor = portal.next_cursor.expect("more follow");

    let mut bad = vec![
        "source=mainframe".to_owned(),
        "outcome=maybe".to_owned(),
        "from=yesterday".to_owned(),
        "from=2026-12-02&to=2026-12-01".to_owned(),
        "limit=0".to_owned(),
        "limit=100000".to_owned(),
        "cursor=not-a-cursor".to_owned(),
        // A portal cursor for another index, and one for another source.
        format!("actor=alice&cursor={}", urlencode(&portal_cursor)),
        format!("source=s3&cursor={}", urlencode(&portal_cursor)),
    ];
    if let Some(cursor) = s3_cursor {
        bad.push(format!("source=portal&cursor={}", urlencode(&cursor)));
    }
    for query in bad {
        let answer = carol.get(&format!("/api/v1/audit/events?{query}")).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {answer:?}"
        );
        assert_eq!(answer.code(), "bad_request");
        assert!(!answer.message().is_empty());
    }
}

#[tokio::test]
async fn a_record_a_crash_left_unindexed_is_listed_after_the_sweep() {
    let app = TestApp::start().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let lost = record(&app, event("mallory", Action::Download, Outcome::Success)).await;

    // Remove its markers, as a crash between the record and them would
    // leave it.
    let s3 = app.s3();
    let markers = s3
        .list_objects_v2()
        .bucket(app.bucket())
        .prefix("audit/index/")
        .send()
        .await
        .expect("list markers");
    let stamp_suffix = format!("{:020}", u64::MAX - lost.seq);
    for object in markers.contents() {
        let key = object.key().unwrap_or_default();
        if key.ends_with(&stamp_suffix) {
            s3.delete_object()
                .bucket(app.bucket())
                .key(key)
                .send()
                .await
                .expect("delete a marker");
        }
    }
    let missing = page(&carol, "source=portal&actor=mallory").await;
    assert!(missing.events.is_empty());

    // A sweep leaves young records to their writers, then indexes it.
    let audit = &app.running().state.audit;
    assert_eq!(audit.sweep_index().await.expect("sweep").repaired, 0);
    app.clock.advance(Duration::minutes(5));
    let sweep = audit.sweep_index().await.expect("sweep");
    assert_eq!(sweep.repaired, 1);
    let found = page(&carol, "source=portal&actor=mallory").await;
    assert_eq!(seqs(&found.events), vec![lost.seq]);
    let everything = page(&carol, "source=portal&limit=200").await;
    assert!(seqs(&everything.events).contains(&lost.seq));

    // The watermark moved past it: a later sweep has nothing to do.
    assert!(sweep.watermark >= lost.seq);
    assert_eq!(audit.sweep_index().await.expect("sweep").repaired, 0);
}
