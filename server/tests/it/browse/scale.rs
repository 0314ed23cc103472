//! Search and paging over 10,000 models: every model appears exactly once
//! whichever way the listing pages, a word finds exactly the models that
//! have it, and touching a model moves it to the front of "updated". The
//! models are written straight through the registry (as an upload's start
//! writes them), many at once; the test prints how long that took and how
//! long one page of the API takes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use coffer_app::models::api::{DescriptionChange, ModelList};
use futures::{StreamExt, stream};
use reqwest::StatusCode;

use super::listing::urlencoding;
use super::{put, registry, seed_model};
use crate::support::TestApp;
use crate::uploads::client::Uploader;

/// How many models the test creates.
const MODELS: usize = 10_000;

/// Registry writes in flight while seeding.
const SEEDERS: usize = 32;

/// Model `index`'s name: one in a hundred has the word `gamma` too.
fn name_of(index: usize) -> String {
    if index % 100 == 7 {
        format!("m{index:05}-gamma")
    } else {
        format!("m{index:05}")
    }
}

/// Pages through a listing 100 at a time; answers the names in order.
async fn every_page(user: &Uploader, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/models?{query}&limit=100");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencoding(cursor)));
        }
        let answer = user.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        let page: ModelList = answer.json();
        names.extend(page.models.into_iter().map(|model| model.name));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return names,
        }
    }
}

/// Checks that `names` holds each of `expected` exactly once.
fn assert_each_once(names: &[String], expected: &BTreeSet<String>, what: &str) {
    let distinct: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        names.len(),
        "{what}: a model appeared twice"
    );
    assert!(distinct == *expected, "{what}: the set of models differs");
}

/// How long one request for `path` takes, best of three.
async fn page_time(user: &Uploader, path: &str) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let answer = user.get(path).await;
        best = best.min(started.elapsed());
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_models_page_search_and_sort_without_a_full_listing() {
    // Arrange: 10,000 models, created at the same instant.
    let app = TestApp::start().await;
    let registry = registry(&app);
    let names: Vec<String> = (0..MODELS).map(name_of).collect();
    let started = Instant::now();
    stream::iter(&names)
        .map(|name| seed_model(&registry, &app, name))
        .buffer_unordered(SEEDERS)
        .collect::<()>()
        .await;
    let seeding = started.elapsed();
    let alice = Uploader::sign_in(&app, "alice").await;
    let all: BTreeSet<String> = names.iter().cloned().collect();

    // Act and assert: both sorts page through every model exactly once;
    // with equal update times, "updated" falls back to name order.
    let by_name = every_page(&alice, "sort=name").await;
    assert_each_once(&by_name, &all, "sort=name");
    let by_update = every_page(&alice, "sort=updated").await;
    assert_each_once(&by_update, &all, "sort=updated");
    let mut in_name_order = names.clone();
    in_name_order.sort();
    assert_eq!(by_update, in_name_order);

    // Act and assert: a word finds exactly the models that have it, and a
    // prefix of a word every model has finds exactly those it starts.
    let gamma = every_page(&alice, "q=gamma").await;
    let with_gamma: BTreeSet<String> = names
        .iter()
        .filter(|name| name.ends_with("-gamma"))
        .cloned()
        .collect();
    assert_eq!(with_gamma.len(), 100);
    assert_each_once(&gamma, &with_gamma, "q=gamma");
    let tens = every_page(&alice, "q=M0001").await;
    let expected: BTreeSet<String> = (10..20).map(name_of).collect();
    assert_each_once(&tens, &expected, "q=M0001");

    // Act: touch two models, a second apart.
    for name in ["m04242", "m00007-gamma"] {
        app.clock.advance(time::Duration::seconds(1));
        let path = format!("/api/v1/models/{name}/description");
        let change = DescriptionChange {
            description: format!("{name} was touched"),
        };
        let answer = put(&alice, &path, &change).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }

    // Assert: the most recently touched come first, and the listing still
    // holds every model once.
    let front: ModelList = alice.get("/api/v1/models?limit=3").await.json();
    let front: Vec<&str> = front
        .models
        .iter()
        .map(|model| model.name.as_str())
        .collect();
    assert_eq!(front, ["m00007-gamma", "m04242", "m00000"]);
    let by_update = every_page(&alice, "sort=updated").await;
    assert_each_once(&by_update, &all, "sort=updated after touches");

    // The figures the issue asks for.
    let updated_page = page_time(&alice, "/api/v1/models").await;
    let name_page = page_time(&alice, "/api/v1/models?sort=name&limit=100").await;
    let search_page = page_time(&alice, "/api/v1/models?q=gamma&limit=100").await;
    eprintln!(
        "10,000 models: seeded in {:.1} s; one /api/v1/models page: {} ms \
         (sort=updated, 50 rows), {} ms (sort=name, 100 rows), {} ms (q=gamma, 100 rows)",
        seeding.as_secs_f64(),
        updated_page.as_millis(),
        name_page.as_millis(),
        search_page.as_millis(),
    );
    assert!(
        updated_page < Duration::from_secs(2),
        "a page took {updated_page:?}"
    );
}
