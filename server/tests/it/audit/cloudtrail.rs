//! CloudTrail on the dashboard: management events through the real SDK's
//! `LookupEvents` (answered by the embedded endpoint, or by a stub built
//! from real-format responses to test paging and throttling), and S3 data
//! events read from the trail's files in the log bucket.

use std::time::Duration;

use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use coffer_app::audit::api::AuditEventRow;
use coffer_logs::cloudtrail::{parse_trail_object_key, read_trail_file};
use reqwest::StatusCode;

use super::lookup_stub::LookupStub;
use super::{all_rows, page};
use crate::support::TestApp;
use crate::uploads::client::Uploader;

fn category(row: &AuditEventRow) -> &str {
    row.fields.get("category").map_or("", String::as_str)
}

#[tokio::test]
async fn the_embedded_endpoint_plays_cloudtrail_for_management_and_data_events() {
    let app = TestApp::start_with(&["--access-log-flush-secs", "3600"]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let carol = Uploader::sign_in(&app, "carol").await;
    alice
        .publish("fraud", &[("model.bin", b"weights".as_slice())])
        .await;
    app.flush_logs().await;

    // Management events come through LookupEvents, data events from files.
    let (rows, _) = all_rows(&carol, "source=cloudtrail&limit=100").await;
    let management: Vec<&AuditEventRow> = rows
        .iter()
        .filter(|row| category(row) == "management")
        .collect();
    let data: Vec<&AuditEventRow> = rows.iter().filter(|row| category(row) == "data").collect();
    assert!(
        management.iter().any(|row| row.action == "HeadBucket"),
        "{management:?}"
    );
    for name in [
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "PutObject",
    ] {
        assert!(
            data.iter().any(|row| row.action == name),
            "{name}: {data:?}"
        );
    }
    let part = data
        .iter()
        .find(|row| row.action == "UploadPart")
        .expect("a part upload");
    assert_eq!(part.model.as_deref(), Some("fraud"));
    assert_eq!(part.version, Some(1));
    assert_eq!(
        part.fields.get("authentication").map(String::as_str),
        Some("QueryString")
    );
    assert_eq!(part.actor, "coffer-embedded");

    // Newest first across both kinds.
    let times: Vec<&str> = rows.iter().map(|row| row.time.as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);

    // The files sit where CloudTrail puts them, and read back.
    let listing = app
        .s3()
        .list_objects_v2()
        .bucket(app.log_bucket())
        .prefix("AWSLogs/")
        .send()
        .await
        .expect("list trail files");
    let keys: Vec<String> = listing
        .contents()
        .iter()
        .filter_map(|object| object.key().map(str::to_owned))
        .collect();
    assert!(!keys.is_empty());
    for key in &keys {
        let parsed = parse_trail_object_key(key).expect("a trail file key");
        assert_eq!(parsed.region, "us-east-1");
        let object = app
            .s3()
            .get_object()
            .bucket(app.log_bucket())
            .key(key)
            .send()
            .await
            .expect("get a trail file");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        let records = read_trail_file(bytes.as_ref()).expect("a trail file");
        assert!(
            records
                .iter()
                .all(|record| record.event_source.ends_with(".amazonaws.com"))
        );
    }
}

#[tokio::test]
async fn the_embedded_lookup_refuses_a_call_signed_with_another_secret() {
    let app = TestApp::start().await;
    let (key_id, _secret) =
        coffer_server::storage::embedded::load_or_create_credentials(app.data_dir())
            .expect("the endpoint's credentials");
    let endpoint = app
        .running()
        .state
        .storage
        .presigned_origin()
        .await
        .expect("origin");
    let client = |secret: &str| {
        let config = aws_sdk_cloudtrail::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new(&key_id, secret, None, None, "test"))
            .build();
        aws_sdk_cloudtrail::Client::from_conf(config)
    };

    let refused = client("not-the-secret")
        .lookup_events()
        .send()
        .await
        .expect_err("a wrong signature is refused");
    assert_eq!(
        aws_sdk_cloudtrail::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidSignatureException")
    );

    // Two lookup attributes at once is CloudTrail's own refusal.
    let (_, secret) = coffer_server::storage::embedded::load_or_create_credentials(app.data_dir())
        .expect("credentials");
    use secrecy::ExposeSecret as _;
    let attribute = |key, value: &str| {
        aws_sdk_cloudtrail::types::LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(value)
            .build()
            .expect("an attribute")
    };
    let invalid = client(secret.expose_secret())
        .lookup_events()
        .lookup_attributes(attribute(
            aws_sdk_cloudtrail::types::LookupAttributeKey::Username,
            "a",
        ))
        .lookup_attributes(attribute(
            aws_sdk_cloudtrail::types::LookupAttributeKey::EventName,
            "b",
        ))
        .send()
        .await
        .expect_err("two attributes are refused");
    assert_eq!(
        aws_sdk_cloudtrail::error::ProvideErrorMetadata::code(&invalid),
        Some("InvalidLookupAttributesException")
    );
}

#[tokio::test]
async fn lookups_page_with_next_token_and_every_event_arrives_once() {
    let stub = LookupStub::start(130).await;
    let app = TestApp::start_with_cloudtrail(&stub.url).await;
    let carol = Uploader::sign_in(&app, "carol").await;

    let (rows, pages) = all_rows(&carol, "source=cloudtrail&limit=40").await;
    let management: Vec<&AuditEventRow> = rows
        .iter()
        .filter(|row| category(row) == "management")
        .collect();
    let ids: Vec<&str> = management
        .iter()
        .map(|row| row.fields["event_id"].as_str())
        .collect();
    let expected: Vec<String> = (0..130)
        .map(|index| format!("00000000-0000-4000-8000-{index:012}"))
        .collect();
    assert_eq!(ids, expected);
    assert!(pages >= 4);

    // Every page after the first passed the token CloudTrail gave.
    let lookups: Vec<_> = stub
        .calls()
        .into_iter()
        .filter(|call| call.body.get("MaxResults").is_some())
        .collect();
    assert!(
        lookups
            .iter()
            .any(|call| call.body.get("NextToken").is_some())
    );

    // Filters map to the one lookup attribute CloudTrail allows.
    let (rows, _) = all_rows(&carol, "source=cloudtrail&actor=user1&limit=50").await;
    let users: Vec<&str> = rows
        .iter()
        .filter(|row| category(row) == "management")
        .map(|row| row.actor.as_str())
        .collect();
    assert_eq!(users.len(), 43);
    assert!(users.iter().all(|user| *user == "user1"));
    let last = stub.calls().last().cloned().expect("a call");
    assert_eq!(last.body["LookupAttributes"][0]["AttributeKey"], "Username");
    assert_eq!(last.body["LookupAttributes"][0]["AttributeValue"], "user1");

    // The fixture's record fields reach the row.
    let first = management.first().expect("a row");
    assert_eq!(first.action, "PutBucketPolicy");
    assert_eq!(first.fields["source_ip"], "198.51.100.24");
    assert_eq!(first.fields["event_source"], "s3.amazonaws.com");
}

#[tokio::test]
async fn a_throttled_lookup_is_retried_with_backoff_and_calls_stay_at_two_a_second() {
    let stub = LookupStub::start(200).await;
    let app = TestApp::start_with_cloudtrail(&stub.url).await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let before = stub.calls().len();

    // Two refusals, then the lookup goes through.
    stub.throttle(2);
    let answer = page(&carol, "source=cloudtrail&limit=150").await;
    assert_eq!(
        answer
            .events
            .iter()
            .filter(|row| category(row) == "management")
            .count(),
        150
    );
    let calls: Vec<_> = stub.calls().into_iter().skip(before).collect();
    assert_eq!(calls.iter().filter(|call| call.throttled).count(), 2);
    assert!(calls.len() >= 5, "{} calls", calls.len());

    // No two calls were closer than the limit allows.
    for pair in calls.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(450), "{gap:?} between calls");
    }
}

#[tokio::test]
async fn cloudtrail_that_stays_throttled_is_an_error_on_its_tab_and_a_note_on_the_timeline() {
    let stub = LookupStub::start(10).await;
    let app = TestApp::start_with_cloudtrail(&stub.url).await;
    let carol = Uploader::sign_in(&app, "carol").await;

    stub.throttle(1000);
    let refused = carol.get("/api/v1/audit/events?source=cloudtrail").await;
    refused.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        "ThrottlingException",
    );
    let timeline = page(&carol, "source=all").await;
    assert!(
        timeline
            .notes
            .iter()
            .any(|note| note.contains("cloudtrail")),
        "{:?}",
        timeline.notes
    );
    assert!(timeline.events.iter().any(|row| row.action == "sign_in"));
}

#[tokio::test]
async fn views_of_the_page_share_one_coverage_lookup_a_minute() {
    let stub = LookupStub::start(3).await;
    let app = TestApp::start_with_cloudtrail(&stub.url).await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let probes = || {
        stub.calls()
            .into_iter()
            .filter(|call| call.body.get("MaxResults") == Some(&serde_json::json!(1)))
            .count()
    };

    // Three views in a row: the coverage strip asks CloudTrail once.
    for _ in 0..3 {
        let answer = carol
            .request(reqwest::Method::GET, "/audit")
            .send()
            .await
            .expect("GET /audit");
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
    }
    assert_eq!(probes(), 1, "{:?}", stub.calls());
}
