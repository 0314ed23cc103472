//! Model cards: a version's `README.md`, read from the bucket (at most
//! 1 MiB) and rendered inert; and the previous available version the
//! version page compares against.

use coffer_app::upload::api::StartUpload;
use reqwest::StatusCode;

use crate::support::TestApp;
use crate::uploads::MIB;
use crate::uploads::client::{Uploader, complete_request};

/// A README trying every way to run script.
const HOSTILE: &str = "\
# Fraud detector

<script>alert(1)</script>

[click](javascript:alert(2)) and [docs](https://example.com/docs)

<img src=x onerror=alert(3)>

| metric | value |
| --- | --- |
| auc | 0.97 |
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_model_card_renders_inert_on_the_version_page() {
    // Arrange: version 1, a cancelled version 2, and version 3 with a
    // hostile README at its root.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice.publish("fraud", &[("weights.bin", b"v1")]).await;
    let cancelled = alice.start("fraud", &[("weights.bin", b"v2")]).await;
    assert_eq!(alice.abort(&cancelled).await.status, StatusCode::NO_CONTENT);
    alice
        .publish(
            "fraud",
            &[("weights.bin", b"v3"), ("ReadMe.md", HOSTILE.as_bytes())],
        )
        .await;

    // Act
    let page = app
        .running()
        .state
        .browse
        .version_page("fraud", 3)
        .await
        .expect("the page data reads")
        .expect("version 3 exists");

    // Assert: the card is there, rendered, with nothing that runs.
    let card = page.card_html.expect("a model card");
    assert!(card.contains("<h1>Fraud detector</h1>"), "{card}");
    assert!(card.contains("<td>0.97</td>"), "{card}");
    assert!(
        card.contains(r#"<a href="https://example.com/docs" rel="noopener noreferrer">docs</a>"#),
        "{card}"
    );
    let lowered = card.to_lowercase();
    for forbidden in ["<script", "javascript:", "<img", "onerror"] {
        assert!(!lowered.contains(forbidden), "{forbidden} in {card}");
    }

    // Assert: the previous available version skips the cancelled one.
    assert_eq!(page.version.version, 3);
    assert_eq!(page.previous.map(|previous| previous.version), Some(1));

    // Assert: the rendered page carries none of the README's script.
    let html = alice
        .request_without_token(reqwest::Method::GET, "/models/fraud/versions/3")
        .send()
        .await
        .expect("page answers")
        .text()
        .await
        .expect("page body");
    assert!(html.contains("Fraud detector"), "the card is on the page");
    assert!(
        !html.contains("<script>alert(1)"),
        "the README's script reached the page"
    );
    assert!(
        !html.contains("onerror=alert"),
        "the README's handler reached the page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readme_over_one_mib_is_cut_and_says_so_and_other_versions_have_no_card() {
    // Arrange: a README of 1 MiB and a bit, whose tail must not show; and
    // a version whose README is not at its root.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let mut readme = "# Big card\n\n".to_owned();
    while readme.len() < MIB {
        readme.push_str("filler line of the model card\n");
    }
    readme.push_str("\nTAIL-BEYOND-THE-LIMIT\n");
    alice
        .publish("big", &[("README.md", readme.as_bytes())])
        .await;
    let mut nested: StartUpload =
        crate::uploads::client::start_request(&[("docs/README.md", b"# no")]);
    nested.description = "nested".into();
    let upload = alice.try_start("big", &nested).await.json();
    alice.send_file(&upload, 0, b"# no").await;
    alice
        .try_complete(&upload, &complete_request(&[b"# no"]))
        .await;

    // Act
    let browse = &app.running().state.browse;
    let big = browse
        .version_page("big", 1)
        .await
        .expect("reads")
        .expect("exists");
    let nested = browse
        .version_page("big", 2)
        .await
        .expect("reads")
        .expect("exists");

    // Assert
    let card = big.card_html.expect("a card");
    assert!(card.contains("<h1>Big card</h1>"));
    assert!(!card.contains("TAIL-BEYOND-THE-LIMIT"));
    assert!(card.contains("longer than 1 MiB"), "the cut is said");
    assert_eq!(nested.card_html, None);
    assert_eq!(nested.previous.map(|previous| previous.version), Some(1));
}
