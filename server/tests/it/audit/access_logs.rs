//! S3 server access logs on the dashboard: a presigned download's line is
//! joined to the person the URL was minted for; hostile values stay text
//! on the page; malformed lines are counted, never fatal; paging shows
//! every line once.

use aws_sdk_s3::primitives::ByteStream;
use coffer_app::audit::api::{AuditEventPage, AuditEventRow};
use coffer_logs::access_log::parse_line;
use reqwest::StatusCode;

use super::{all_rows, page};
use crate::downloads::{ask, request_id};
use crate::support::{TestApp, location};
use crate::uploads::client::Uploader;

/// A server whose endpoint delivers its logs only when told to.
async fn quiet_server() -> TestApp {
    TestApp::start_with(&["--access-log-flush-secs", "3600"]).await
}

/// Every line of every access log object, parsed.
async fn logged_lines(app: &TestApp) -> usize {
    let listing = app
        .s3()
        .list_objects_v2()
        .bucket(app.log_bucket())
        .prefix("s3-access/")
        .send()
        .await
        .expect("list logs");
    let mut count = 0;
    for object in listing.contents() {
        let key = object.key().unwrap_or_default();
        let body = app
            .s3()
            .get_object()
            .bucket(app.log_bucket())
            .key(key)
            .send()
            .await
            .expect("get a log")
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        let text = String::from_utf8_lossy(&body);
        count += text
            .lines()
            .filter(|line| !line.trim().is_empty() && parse_line(line).is_ok())
            .count();
    }
    count
}

/// The first page of `query` once a row `wanted` is there: the endpoint
/// writes a request's line when it has let go of the response body,
/// which may be just after the client read the last byte.
async fn logged_page(
    app: &TestApp,
    user: &Uploader,
    query: &str,
    wanted: impl Fn(&AuditEventRow) -> bool,
) -> AuditEventPage {
    for _ in 0..50 {
        app.flush_logs().await;
        let answer = page(user, query).await;
        if answer.events.iter().any(&wanted) {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    page(user, query).await
}

#[tokio::test]
async fn a_presigned_download_is_joined_to_the_person_it_was_minted_for() {
    let app = quiet_server().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let carol = Uploader::sign_in(&app, "carol").await;
    alice
        .publish("fraud", &[("model.bin", b"weights".as_slice())])
        .await;

    // Alice downloads; the bytes come from the endpoint, not the portal.
    let redirect = ask(&alice, "fraud", 1, "model.bin").await;
    let minted = request_id(&redirect);
    let fetched = reqwest::get(location(&redirect))
        .await
        .expect("GET the file");
    assert_eq!(fetched.status(), StatusCode::OK);
    fetched.bytes().await.expect("the file's bytes");

    let presigned = |row: &AuditEventRow| {
        row.fields.get("authentication").map(String::as_str) == Some("QueryString")
    };
    let answer = logged_page(
        &app,
        &carol,
        "source=s3&action=REST.GET.OBJECT&model=fraud",
        presigned,
    )
    .await;
    let row: &AuditEventRow = answer
        .events
        .iter()
        .find(|row| presigned(row))
        .expect("the presigned GET is logged");
    let join = row.portal.as_ref().expect("joined to the portal");
    assert_eq!(join.actor, "alice");
    assert_eq!(join.action, "download");
    assert_eq!(row.version, Some(1));
    assert_eq!(row.outcome, "success");
    assert!(row.fields["request"].contains(&format!("x-coffer-request={minted}")));
    assert!(
        !row.fields["request"].contains("X-Amz-Signature=")
            || row.fields["request"].contains("X-Amz-Signature=REDACTED")
    );

    // The signer is Coffer's key; filtering by the person finds it too.
    assert_ne!(row.actor, "alice");
    let by_person = page(&carol, "source=s3&actor=alice").await;
    assert!(by_person.events.iter().all(|row| {
        row.portal
            .as_ref()
            .is_some_and(|join| join.actor == "alice")
    }));
    assert!(!by_person.events.is_empty());
}

#[tokio::test]
async fn a_script_in_a_user_agent_stays_text_on_the_dashboard() {
    let app = quiet_server().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let carol = Uploader::sign_in(&app, "carol").await;
    alice
        .publish("fraud", &[("model.bin", b"weights".as_slice())])
        .await;
    let redirect = ask(&alice, "fraud", 1, "model.bin").await;
    let hostile = "<script>alert(\"owned\")</script> \"=HYPERLINK(1)";
    reqwest::Client::new()
        .get(location(&redirect))
        .header("user-agent", hostile)
        .send()
        .await
        .expect("GET with a hostile user agent")
        .bytes()
        .await
        .expect("the file's bytes");

    // The API gives the value back as it was sent.
    let sent_as_is =
        |row: &AuditEventRow| row.fields.get("user_agent").map(String::as_str) == Some(hostile);
    let answer = logged_page(&app, &carol, "source=s3&action=REST.GET.OBJECT", sent_as_is).await;
    assert!(answer.events.iter().any(sent_as_is), "{:?}", answer.events);

    // The page shows it as text, never as markup.
    let html = carol
        .request(
            reqwest::Method::GET,
            "/audit?source=s3&action=REST.GET.OBJECT",
        )
        .send()
        .await
        .expect("GET /audit")
        .text()
        .await
        .expect("a page");
    assert!(
        html.contains("&lt;script&gt;alert("),
        "the value is shown escaped"
    );
    assert!(
        !html.contains("<script>alert("),
        "the value never becomes markup"
    );
}

#[tokio::test]
async fn malformed_lines_are_counted_and_named_never_fatal() {
    let app = quiet_server().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let good = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 \
        [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - \
        \"GET /awsexamplebucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" - \
        s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 \
        ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 - -";
    let body = format!(
        "{good}\nthis is not a log line\n\n{good} trailing-field another\n\
         bucket owner [not a time] x\n79a59 b [06/Feb/2019:00:00:38 +0000] 1 - 2 OP - \"unterminated\n"
    );
    // S3 names a log object by its delivery, shortly after its lines.
    let key = "s3-access/2019-02-06-23-59-59-00000000DEADBEEF".to_owned();
    app.s3()
        .put_object()
        .bucket(app.log_bucket())
        .key(&key)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .expect("deliver a log object");

    let answer = page(&carol, "source=s3&from=2019-02-06&to=2019-02-06").await;
    assert_eq!(answer.events.len(), 2, "{answer:?}");
    assert!(
        answer
            .events
            .iter()
            .all(|row| row.action == "REST.GET.VERSIONING")
    );
    assert_eq!(answer.malformed_lines, 3);
    assert!(
        answer.notes.iter().any(|note| note.contains(&key)),
        "{:?}",
        answer.notes
    );
}

#[tokio::test]
async fn paging_through_access_logs_shows_every_line_once() {
    let app = quiet_server().await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("model.bin", b"weights".as_slice())])
        .await;
    app.flush_logs().await;
    alice
        .publish("churn", &[("model.bin", b"more".as_slice())])
        .await;
    app.flush_logs().await;
    let lines = logged_lines(&app).await;

    let (rows, pages) = all_rows(&carol, "source=s3&limit=7").await;
    assert_eq!(rows.len(), lines);
    assert!(pages > 2);
    let mut ids: Vec<&str> = rows
        .iter()
        .filter_map(|row| row.request_id.as_deref())
        .collect();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), total, "no line is shown twice");
}
