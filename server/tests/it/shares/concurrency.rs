//! A link's download limit under concurrent clicks: each use is counted by
//! compare-and-swap, so twenty recipients clicking a five-use link at once
//! get exactly five downloads.

use coffer_server::audit::Action;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use super::{create, list, status_and_code, use_link};
use crate::s3::bytes_of;
use crate::support::{Backend, TestApp};
use crate::uploads::client::Uploader;
use crate::uploads::{audited, on_both_backends};

on_both_backends!(twenty_concurrent_uses_of_a_five_use_link_succeed_exactly_five_times);

async fn twenty_concurrent_uses_of_a_five_use_link_succeed_exactly_five_times(backend: Backend) {
    // Arrange: a five-use link.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 1))])
        .await;
    let link = create(
        &alice,
        json!({ "model": "fraud", "version": 1, "max_downloads": 5 }),
    )
    .await;

    // Act: twenty clicks at once.
    let clicks = (0..20)
        .map(|_| async { status_and_code(use_link(&app, &link.token, "a.bin").await).await });
    let answers = join_all(clicks).await;

    // Assert: five redirects, fifteen "exhausted".
    let redirected = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::FOUND)
        .count();
    let exhausted = answers
        .iter()
        .filter(|(status, code)| *status == StatusCode::GONE && code == "share_exhausted")
        .count();
    assert_eq!((redirected, exhausted), (5, 15), "{answers:?}");

    // Assert: five uses stored and five recorded; fifteen refusals.
    let views = list(&alice).await;
    assert_eq!(views[0].uses, 5);
    let used = audited(&app, Action::ShareUsed).await;
    assert_eq!(used.len(), 5);
    assert!(
        used.iter()
            .all(|event| event.share_id.as_deref() == Some(link.created.id.as_str()))
    );
    assert_eq!(audited(&app, Action::ShareRefused).await.len(), 15);
}
