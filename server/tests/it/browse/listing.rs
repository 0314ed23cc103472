//! `GET /api/v1/models` and `GET /api/v1/models/{name}` over a handful of
//! models: search by name words, both sorts, cursors, stale index entries,
//! models from before profiles, and a model's history a page at a time.

use bytes::Bytes;
use coffer_app::models::api::{DescriptionChange, ModelDetail, ModelList};
use coffer_app::upload::api::VersionState;
use coffer_server::registry::index::updated_key;
use coffer_server::registry::{Manifest, ModelRecord};
use reqwest::StatusCode;

use super::{put, registry, seed_model, seed_version};
use crate::support::{Backend, TestApp};
use crate::uploads::client::Uploader;
use crate::uploads::{keys_under, on_both_backends};

/// The models, in creation order.
const MODELS: [&str; 5] = [
    "fraud",
    "fraud-detector",
    "image-classifier",
    "churn_model.v2",
    "detector-x",
];

/// Names on a page.
fn names(list: &ModelList) -> Vec<&str> {
    list.models
        .iter()
        .map(|model| model.name.as_str())
        .collect()
}

/// Every model a listing pages through, `limit` at a time, checking that
/// each page but the last is full.
async fn page_through(user: &Uploader, query: &str, limit: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/models?{query}&limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencoding(cursor)));
        }
        let answer = user.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        let page: ModelList = answer.json();
        seen.extend(page.models.iter().map(|model| model.name.clone()));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(
                    page.models.len(),
                    limit,
                    "{path}: a page before the last is full"
                );
                cursor = Some(next);
            }
            None => return seen,
        }
    }
}

/// Percent-encodes a cursor for a query string.
pub fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Creates the models a second apart, so "updated" has a known order.
async fn seed_models(app: &TestApp) {
    let registry = registry(app);
    for name in MODELS {
        app.clock.advance(time::Duration::seconds(1));
        seed_model(&registry, app, name).await;
    }
}

async fn search_sort_and_paging_follow_the_indexes(backend: Backend) {
    // Arrange
    let app = TestApp::start_on(backend, &[]).await;
    seed_models(&app).await;
    let carol = Uploader::sign_in(&app, "carol").await;

    // Act and assert: newest first by default, in full pages of two.
    let by_update = page_through(&carol, "sort=updated", 2).await;
    let mut newest_first: Vec<String> = MODELS.iter().rev().map(|name| name.to_string()).collect();
    assert_eq!(by_update, newest_first);
    let default: ModelList = carol.get("/api/v1/models").await.json();
    assert_eq!(names(&default), newest_first);
    assert_eq!(default.next_cursor, None);

    // Act and assert: by name, in key order (a folder name sorts with its
    // `/`, so `fraud-detector/` comes before `fraud/`).
    let by_name = page_through(&carol, "sort=name", 2).await;
    newest_first.sort_by_key(|name| format!("{name}/"));
    assert_eq!(by_name, newest_first);

    // Act and assert: a query matches the start of any word or of the whole
    // name, case aside, each model once, ordered by matching word.
    let search = |query: &'static str| {
        let carol = &carol;
        async move { page_through(carol, query, 1).await }
    };
    assert_eq!(search("q=fraud").await, ["fraud-detector", "fraud"]);
    assert_eq!(search("q=det").await, ["detector-x", "fraud-detector"]);
    assert_eq!(search("q=V2").await, ["churn_model.v2"]);
    assert_eq!(search("q=model.v").await, Vec::<String>::new());
    assert_eq!(search("q=churn_m").await, ["churn_model.v2"]);
    assert_eq!(search("q=a%2Fb").await, Vec::<String>::new());
    assert_eq!(search("q=x&sort=name").await, ["detector-x"]);

    // Assert: rows carry the profile's facts.
    let first: ModelList = carol.get("/api/v1/models?q=image").await.json();
    let row = &first.models[0];
    assert_eq!(row.name, "image-classifier");
    assert_eq!((row.latest_version, row.versions), (None, 0));
    assert_eq!(row.description, "");
}

async fn bad_sorts_limits_and_cursors_are_refused(backend: Backend) {
    // Arrange
    let app = TestApp::start_on(backend, &[]).await;
    seed_models(&app).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let by_update: ModelList = alice.get("/api/v1/models?limit=1").await.json();
    let updated_cursor = urlencoding(&by_update.next_cursor.expect("more than one model"));

    // Act and assert
    for (query, message) in [
        ("sort=size", "sort must be"),
        ("limit=0", "limit must be between 1 and 100"),
        ("limit=101", "limit must be between 1 and 100"),
        ("limit=many", "limit must be a whole number"),
        (
            "cursor=registry/models/fraud/model.json",
            "the cursor does not belong",
        ),
        (
            "cursor=registry/index/updated/1/fraud",
            "the cursor does not belong",
        ),
        (
            "cursor=..%2F..%2Fsessions%2Fx",
            "the cursor does not belong",
        ),
        (
            &format!("sort=name&cursor={updated_cursor}"),
            "the cursor does not belong",
        ),
        (
            &format!("q=fraud&cursor={updated_cursor}"),
            "the cursor does not belong",
        ),
    ] {
        alice
            .get(&format!("/api/v1/models?{query}"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request", message);
    }
    alice
        .get("/api/v1/models/fraud?below=x")
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "positive whole number",
        );
    let missing = alice.get("/api/v1/models/ghost").await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found", "not found");
}

async fn stale_entries_and_models_from_before_profiles_list_once(backend: Backend) {
    // Arrange: a stale "updated" entry for fraud, as a crash between
    // writing a new entry and swapping the profile leaves it.
    let app = TestApp::start_on(backend, &[]).await;
    seed_models(&app).await;
    let storage = &app.running().state.storage;
    let later = app.clock_later(time::Duration::hours(1));
    storage
        .put(
            &updated_key("fraud", later),
            Bytes::new(),
            "application/json",
        )
        .await
        .expect("stale entry written");

    // Arrange: a model written before profiles existed: its record and
    // one available version, and nothing else.
    let record = ModelRecord {
        name: "legacy".into(),
        created_by: "bob".into(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    storage
        .put(
            "registry/models/legacy/model.json",
            Bytes::from(serde_json::to_vec(&record).expect("record")),
            "application/json",
        )
        .await
        .expect("legacy record");
    let manifest = legacy_manifest();
    storage
        .put(
            &format!("registry/models/legacy/versions/{:020}.json", u64::MAX - 1),
            Bytes::from(serde_json::to_vec(&manifest).expect("manifest")),
            "application/json",
        )
        .await
        .expect("legacy manifest");
    let alice = Uploader::sign_in(&app, "alice").await;

    // Act
    let by_update = page_through(&alice, "sort=updated", 2).await;
    let by_name = page_through(&alice, "sort=name", 100).await;
    let found_before = page_through(&alice, "q=legacy", 10).await;

    // Assert: fraud once, at its real place; the old model lists by name
    // with its facts, but not by update or search until it is touched.
    let expected: Vec<&str> = MODELS.iter().rev().copied().collect();
    assert_eq!(by_update, expected);
    assert_eq!(by_name.len(), 6);
    assert!(by_name.contains(&"legacy".to_owned()));
    assert!(found_before.is_empty());
    let page: ModelList = alice.get("/api/v1/models?sort=name&limit=100").await.json();
    let legacy = page
        .models
        .iter()
        .find(|model| model.name == "legacy")
        .expect("legacy listed");
    assert_eq!((legacy.latest_version, legacy.versions), (Some(1), 0));
    assert_eq!(legacy.updated_at, "1970-01-01T00:00:00Z");

    // Act: a description edit touches it.
    app.clock.advance(time::Duration::seconds(1));
    let edited = put(
        &alice,
        "/api/v1/models/legacy/description",
        &DescriptionChange {
            description: "from before".into(),
        },
    )
    .await;

    // Assert: it has a profile now, first by update and found by search.
    assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
    let by_update = page_through(&alice, "sort=updated", 3).await;
    assert_eq!(by_update[0], "legacy");
    assert_eq!(by_update.len(), 6);
    assert_eq!(page_through(&alice, "q=leg", 10).await, ["legacy"]);
    let row: ModelList = alice.get("/api/v1/models?q=legacy").await.json();
    assert_eq!(row.models[0].latest_version, Some(1));
    assert_eq!(row.models[0].description, "from before");
    assert_eq!(
        keys_under(&app, "registry/index/updated/").await.len(),
        7,
        "six live entries and the stale one"
    );
}

on_both_backends!(
    search_sort_and_paging_follow_the_indexes,
    bad_sorts_limits_and_cursors_are_refused,
    stale_entries_and_models_from_before_profiles_list_once,
);

/// The manifest of the legacy model's only version.
fn legacy_manifest() -> Manifest {
    Manifest {
        model: "legacy".into(),
        version: 1,
        state: VersionState::Available,
        uploader: "bob".into(),
        upload_id: "old".into(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        finished_at: time::OffsetDateTime::UNIX_EPOCH,
        description: String::new(),
        metadata: Default::default(),
        files: Vec::new(),
        failure: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_history_pages_newest_first_fifty_at_a_time() {
    // Arrange: 55 versions, the 3rd failed.
    let app = TestApp::start().await;
    let registry = registry(&app);
    seed_model(&registry, &app, "deep").await;
    for version in 1..=55u64 {
        let state = if version == 3 {
            VersionState::Failed
        } else {
            VersionState::Available
        };
        seed_version(&registry, &app, "deep", state).await;
    }
    let carol = Uploader::sign_in(&app, "carol").await;

    // Act
    let first: ModelDetail = carol.get("/api/v1/models/deep").await.json();
    let second: ModelDetail = carol.get("/api/v1/models/deep?below=6").await.json();

    // Assert
    let numbers = |detail: &ModelDetail| -> Vec<u64> {
        detail
            .versions
            .iter()
            .map(|version| version.version)
            .collect()
    };
    assert_eq!(numbers(&first), (6..=55).rev().collect::<Vec<_>>());
    assert_eq!(first.next_below, Some(6));
    assert_eq!(numbers(&second), [5, 4, 3, 2, 1]);
    assert_eq!(second.next_below, None);
    assert_eq!(second.versions[2].state, VersionState::Failed);
    assert_eq!(first.created_by, "alice");

    // Assert: the listing row counts every version, the failed one aside
    // for the latest.
    let list: ModelList = carol.get("/api/v1/models?q=deep").await.json();
    assert_eq!(list.models[0].latest_version, Some(55));
    assert_eq!(list.models[0].versions, 55);
}

/// A later time on the app's clock, without moving it.
trait ClockLater {
    fn clock_later(&self, by: time::Duration) -> time::OffsetDateTime;
}

impl ClockLater for TestApp {
    fn clock_later(&self, by: time::Duration) -> time::OffsetDateTime {
        use coffer_server::clock::Clock as _;
        self.clock.now() + by
    }
}
