//! Editing a model's description: bounded, free of control characters,
//! audited, and shown on the model and in listings.

use coffer_app::models::api::{DescriptionChange, ModelDetail, ModelList};
use coffer_server::audit::{Action, Outcome};
use reqwest::StatusCode;

use super::{put, registry, seed_model};
use crate::support::TestApp;
use crate::uploads::audited;
use crate::uploads::client::Uploader;

fn change(description: &str) -> DescriptionChange {
    DescriptionChange {
        description: description.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_description_edit_is_stored_audited_and_listed() {
    // Arrange
    let app = TestApp::start().await;
    seed_model(&registry(&app), &app, "fraud").await;
    let dave = Uploader::sign_in(&app, "dave").await;
    app.clock.advance(time::Duration::minutes(5));
    let text = "Detects fraud.\r\n\tTrained on <b>2024</b> data.";

    // Act
    let answer = put(&dave, "/api/v1/models/fraud/description", &change(text)).await;

    // Assert: the answer, the model and the listing carry the new text
    // (line breaks stored as `\n`), and the model counts as updated now.
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let stored = "Detects fraud.\n\tTrained on <b>2024</b> data.";
    let detail: ModelDetail = answer.json();
    assert_eq!(detail.description, stored);
    assert_ne!(detail.updated_at, detail.created_at);
    let again: ModelDetail = dave.get("/api/v1/models/fraud").await.json();
    assert_eq!(again, detail);
    let list: ModelList = dave.get("/api/v1/models").await.json();
    assert_eq!(list.models[0].description, stored);
    assert_eq!(list.models[0].updated_at, detail.updated_at);

    // Assert: one record, naming the model.
    let changes = audited(&app, Action::DescriptionChanged).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].actor, "dave");
    assert_eq!(changes[0].outcome, Outcome::Success);
    assert_eq!(changes[0].model.as_deref(), Some("fraud"));
    let raw = app.audit_records().await;
    let record = serde_json::to_value(raw.last().expect("a record")).expect("serializes");
    assert_eq!(record["action"], "description_changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_or_control_character_descriptions_and_unknown_models_are_refused() {
    // Arrange
    let app = TestApp::start().await;
    seed_model(&registry(&app), &app, "fraud").await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let path = "/api/v1/models/fraud/description";

    // Act and assert
    put(&alice, path, &change(&"x".repeat(4001)))
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "at most 4000 characters",
        );
    put(&alice, path, &change("escape \u{1b}[31m"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request", "control characters");
    put(&alice, path, &serde_json::json!({ "text": "x" }))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request", "invalid JSON body");
    put(&alice, "/api/v1/models/ghost/description", &change("x"))
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no model named ghost",
        );
    let fits = put(&alice, path, &change(&"é".repeat(4000))).await;

    // Assert: only the last change happened.
    assert_eq!(fits.status, StatusCode::OK, "{fits:?}");
    assert_eq!(audited(&app, Action::DescriptionChanged).await.len(), 1);
    let detail: ModelDetail = alice.get("/api/v1/models/fraud").await.json();
    assert_eq!(detail.description.chars().count(), 4000);
}
