//! The audit trail and the compliance dashboard: records arrive and
//! verify; the dashboard pages, filters, exports and joins Coffer's trail,
//! CloudTrail and S3's access logs; nobody else may read it.

mod access;
mod access_logs;
mod cloudtrail;
mod events;
mod export;
mod lookup_stub;
mod trail;
mod verify;

use coffer_app::audit::api::{AuditEventPage, AuditEventRow};
use coffer_server::audit::{Action, AuditEvent, AuditRecord, Outcome};
use reqwest::StatusCode;

use crate::support::TestApp;
use crate::uploads::client::Uploader;

/// Appends a record straight to the trail, as a portal action would.
pub async fn record(app: &TestApp, event: AuditEvent) -> AuditRecord {
    app.running()
        .state
        .audit
        .record(event)
        .await
        .expect("the trail takes the record")
}

/// A plain record of `action` by `actor`.
pub fn event(actor: &str, action: Action, outcome: Outcome) -> AuditEvent {
    AuditEvent::new(actor, action, outcome, &format!("req-{actor}"))
}

/// One page of `GET /api/v1/audit/events` with the given query string.
pub async fn page(user: &Uploader, query: &str) -> AuditEventPage {
    let answer = user.get(&format!("/api/v1/audit/events?{query}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{query}: {answer:?}");
    answer.json()
}

/// Every row of a query, page after page, and how many pages it took.
pub async fn all_rows(user: &Uploader, query: &str) -> (Vec<AuditEventRow>, usize) {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for pages in 1..1000 {
        let query = match &cursor {
            Some(cursor) => format!("{query}&cursor={}", urlencode(cursor)),
            None => query.to_owned(),
        };
        let answer = page(user, &query).await;
        rows.extend(answer.events);
        match answer.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (rows, pages),
        }
    }
    panic!("paging did not end: {query}");
}

/// A query value, percent-encoded.
pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The seqs of portal rows, in order.
pub fn seqs(rows: &[AuditEventRow]) -> Vec<u64> {
    rows.iter()
        .map(|row| row.seq.expect("a portal row"))
        .collect()
}
