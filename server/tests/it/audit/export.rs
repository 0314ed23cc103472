//! Exports match the view: the CSV and JSON of a filtered view hold
//! exactly the rows its pages show, in order, however many pages.

use coffer_app::audit::api::AuditEventRow;
use coffer_server::audit::{Action, Outcome};
use reqwest::{Method, StatusCode};

use super::{all_rows, event, record};
use crate::support::TestApp;
use crate::uploads::client::Uploader;

async fn download(user: &Uploader, path: &str) -> (String, String, String) {
    let response = user
        .request(Method::GET, path)
        .send()
        .await
        .expect("GET an export");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    (kind, disposition, response.text().await.expect("a body"))
}

#[tokio::test]
async fn csv_and_json_exports_hold_exactly_the_rows_of_the_view() {
    let app = TestApp::start().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    for i in 0..230 {
        let outcome = if i % 7 == 0 {
            Outcome::Denied
        } else {
            Outcome::Success
        };
        let actor = if i % 2 == 0 {
            "alice"
        } else {
            "=cmd|' /C calc'!A0"
        };
        record(
            &app,
            event(actor, Action::Download, outcome).with_version("fraud", 1),
        )
        .await;
    }

    for filters in [
        "source=portal",
        "source=portal&outcome=denied",
        "source=portal&model=fraud&actor=alice",
    ] {
        let (rows, _) = all_rows(&carol, &format!("{filters}&limit=50")).await;
        assert!(!rows.is_empty());

        // JSON: the same rows, in the same order.
        let (kind, disposition, body) =
            download(&carol, &format!("/api/v1/audit/events.json?{filters}")).await;
        assert_eq!(kind, "application/json");
        assert!(disposition.starts_with("attachment; filename=\"coffer-audit-portal-"));
        let exported: Vec<AuditEventRow> = serde_json::from_str(&body).expect("a JSON array");
        assert_eq!(exported, rows, "{filters}");

        // CSV: a header, then one record per row.
        let (kind, _, body) =
            download(&carol, &format!("/api/v1/audit/events.csv?{filters}")).await;
        assert!(kind.starts_with("text/csv"));
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("a header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            &header[..5],
            ["source", "time", "actor", "action", "outcome"]
        );
        let records: Vec<csv::StringRecord> =
            reader.records().map(|r| r.expect("a record")).collect();
        assert_eq!(records.len(), rows.len(), "{filters}");
        for (record, row) in records.iter().zip(&rows) {
            assert_eq!(&record[1], row.time);
            assert_eq!(&record[10], row.seq.expect("a seq").to_string());
            // A formula-looking value is exported as text.
            let expected_actor = if row.actor.starts_with('=') {
                format!("'{}", row.actor)
            } else {
                row.actor.clone()
            };
            assert_eq!(&record[2], expected_actor);
        }
    }
}
