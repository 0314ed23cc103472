//! Aliases: moves are compare-and-swapped under a per-alias lock, so two
//! concurrent moves both land, in some order, and their `alias_moved`
//! records chain: the second's `from` is the first's `to`.

use coffer_app::models::api::{AliasMove, AliasMoved, ModelDetail};
use coffer_app::upload::api::{VersionState, VersionView};
use coffer_server::audit::{Action, Outcome};
use reqwest::StatusCode;

use super::{put, registry, seed_model, seed_version};
use crate::support::{Backend, TestApp};
use crate::uploads::client::Uploader;
use crate::uploads::{audited, keys_under, on_both_backends, sha256_hex};

/// The alias record as stored, read straight from the bucket.
async fn stored_aliases(app: &TestApp, model: &str) -> serde_json::Value {
    let object = app
        .running()
        .state
        .storage
        .get(&format!("registry/models/{model}/aliases.json"))
        .await
        .expect("read the alias record")
        .expect("the alias record exists");
    serde_json::from_slice(&object.body).expect("the alias record is JSON")
}

async fn two_concurrent_moves_of_one_alias_both_land_and_chain_in_the_audit(backend: Backend) {
    // Arrange: a model with three available versions.
    let app = TestApp::start_on(backend, &[]).await;
    let registry = registry(&app);
    seed_model(&registry, &app, "fraud").await;
    for _ in 1..=3 {
        seed_version(&registry, &app, "fraud", VersionState::Available).await;
    }
    let alice = Uploader::sign_in(&app, "alice").await;
    let dave = Uploader::sign_in(&app, "dave").await;

    for round in 0..4 {
        // Arrange: from round 1 on, production starts on version 3, so
        // neither racing move is a no-op.
        if round > 0 {
            let reset = put(
                &alice,
                "/api/v1/models/fraud/aliases/production",
                &AliasMove { version: 3 },
            )
            .await;
            assert_eq!(reset.status, StatusCode::OK, "{reset:?}");
        }

        // Act: alice moves production to 1 while dave moves it to 2.
        let before = audited(&app, Action::AliasMoved).await.len();
        let (to_one, to_two) = tokio::join!(
            put(
                &alice,
                "/api/v1/models/fraud/aliases/production",
                &AliasMove { version: 1 }
            ),
            put(
                &dave,
                "/api/v1/models/fraud/aliases/production",
                &AliasMove { version: 2 }
            ),
        );

        // Assert: both succeeded.
        assert_eq!(to_one.status, StatusCode::OK, "round {round}: {to_one:?}");
        assert_eq!(to_two.status, StatusCode::OK, "round {round}: {to_two:?}");
        let to_one: AliasMoved = to_one.json();
        let to_two: AliasMoved = to_two.json();
        assert_eq!(to_one.to, Some(1));
        assert_eq!(to_two.to, Some(2));

        // Assert: the trail has exactly two new moves, chained, and the
        // answers agree with it.
        let moves = audited(&app, Action::AliasMoved).await;
        let new = &moves[before..];
        assert_eq!(new.len(), 2, "round {round}: {new:?}");
        let (first, second) = (&new[0], &new[1]);
        assert_eq!(second.from_version, first.to_version, "round {round}");
        assert_ne!(first.to_version, second.to_version);
        for event in new {
            assert_eq!(event.outcome, Outcome::Success);
            assert_eq!(event.model.as_deref(), Some("fraud"));
            assert_eq!(event.alias.as_deref(), Some("production"));
            assert_eq!(event.version, event.to_version);
        }
        let answered_first = if first.actor == "alice" {
            &to_one
        } else {
            &to_two
        };
        assert_eq!(answered_first.from, first.from_version);
        if round > 0 {
            let reset = &moves[before - 1];
            assert_eq!(reset.to_version, Some(3));
            assert_eq!(first.from_version, Some(3), "round {round}");
        } else {
            assert_eq!(first.from_version, None);
        }

        // Assert: the record names the last audited target.
        let stored = stored_aliases(&app, "fraud").await;
        assert_eq!(
            stored["aliases"]["production"].as_u64(),
            second.to_version,
            "round {round}"
        );
    }

    // Assert: no lock is left behind.
    assert!(
        keys_under(&app, "registry/models/fraud/alias-locks/")
            .await
            .is_empty()
    );
}

async fn moves_and_removals_show_on_the_model_and_its_versions(backend: Backend) {
    // Arrange: two real versions.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice.publish("ranker", &[("a.bin", b"one")]).await;
    alice.publish("ranker", &[("a.bin", b"two")]).await;

    // Act: production and staging on 2, then production back to 1 and
    // staging removed.
    for (alias, version) in [("staging", 2), ("production", 2), ("production", 1)] {
        let moved = put(
            &alice,
            &format!("/api/v1/models/ranker/aliases/{alias}"),
            &AliasMove { version },
        )
        .await;
        assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
    }
    let between = alice.version("ranker", 2).await.json::<VersionView>();
    let removed = alice.delete("/api/v1/models/ranker/aliases/staging").await;
    let again = alice.delete("/api/v1/models/ranker/aliases/staging").await;

    // Assert: the answers, the versions and the model agree.
    assert_eq!(between.aliases, ["staging"]);
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    assert_eq!(
        removed.json::<AliasMoved>(),
        AliasMoved {
            alias: "staging".into(),
            from: Some(2),
            to: None
        }
    );
    again.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "ranker has no alias staging",
    );
    let one = alice.version("ranker", 1).await.json::<VersionView>();
    let two = alice.version("ranker", 2).await.json::<VersionView>();
    assert_eq!(one.aliases, ["production"]);
    assert!(two.aliases.is_empty(), "{two:?}");
    assert_eq!(one.files[0].sha256, sha256_hex(b"one"));
    let detail: ModelDetail = alice.get("/api/v1/models/ranker").await.json();
    assert_eq!(
        detail.aliases.into_iter().collect::<Vec<_>>(),
        [("production".to_owned(), 1)]
    );
    assert_eq!(detail.versions[0].version, 2);
    assert!(detail.versions[0].aliases.is_empty());
    assert_eq!(detail.versions[1].aliases, ["production"]);

    // Assert: four moves audited (the removal has no `to`).
    let moves = audited(&app, Action::AliasMoved).await;
    let chain: Vec<(Option<u64>, Option<u64>)> = moves
        .iter()
        .map(|event| (event.from_version, event.to_version))
        .collect();
    assert_eq!(
        chain,
        [
            (None, Some(2)),
            (None, Some(2)),
            (Some(2), Some(1)),
            (Some(2), None)
        ]
    );
}

on_both_backends!(
    two_concurrent_moves_of_one_alias_both_land_and_chain_in_the_audit,
    moves_and_removals_show_on_the_model_and_its_versions,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_to_where_the_alias_already_points_changes_and_records_nothing() {
    // Arrange
    let app = TestApp::start().await;
    let registry = registry(&app);
    seed_model(&registry, &app, "fraud").await;
    seed_version(&registry, &app, "fraud", VersionState::Available).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let path = "/api/v1/models/fraud/aliases/production";
    let first = put(&alice, path, &AliasMove { version: 1 }).await;

    // Act
    let again = put(&alice, path, &AliasMove { version: 1 }).await;

    // Assert
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    assert_eq!(
        again.json::<AliasMoved>(),
        AliasMoved {
            alias: "production".into(),
            from: Some(1),
            to: Some(1)
        }
    );
    assert_eq!(audited(&app, Action::AliasMoved).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_aliases_missing_or_failed_versions_and_unknown_models_are_refused() {
    // Arrange: version 1 available, version 2 failed.
    let app = TestApp::start().await;
    let registry = registry(&app);
    seed_model(&registry, &app, "fraud").await;
    seed_version(&registry, &app, "fraud", VersionState::Available).await;
    seed_version(&registry, &app, "fraud", VersionState::Failed).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let one = AliasMove { version: 1 };

    // Act and assert, one refusal at a time.
    for alias in ["Production", "-prod", "prod%2Fx", "a%20b", &"a".repeat(65)] {
        let answer = put(
            &alice,
            &format!("/api/v1/models/fraud/aliases/{alias}"),
            &one,
        )
        .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "bad_request", "invalid alias");
    }
    put(
        &alice,
        "/api/v1/models/fraud/aliases/prod",
        &AliasMove { version: 3 },
    )
    .await
    .assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "fraud has no finished version 3",
    );
    put(
        &alice,
        "/api/v1/models/fraud/aliases/prod",
        &AliasMove { version: 2 },
    )
    .await
    .assert_error(
        StatusCode::CONFLICT,
        "conflict",
        "version 2 of fraud failed",
    );
    put(&alice, "/api/v1/models/nope/aliases/prod", &one)
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no model named nope",
        );
    put(&alice, "/api/v1/models/Bad!/aliases/prod", &one)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request", "not a valid name");
    put(
        &alice,
        "/api/v1/models/fraud/aliases/prod",
        &serde_json::json!({ "version": "one" }),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "bad_request", "invalid JSON body");
    alice
        .delete("/api/v1/models/fraud/aliases/prod")
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "fraud has no alias prod",
        );

    // Assert: nothing was stored or audited.
    assert!(
        keys_under(&app, "registry/models/fraud/aliases")
            .await
            .is_empty()
    );
    assert!(keys_under(&app, "registry/models/nope/").await.is_empty());
    assert!(audited(&app, Action::AliasMoved).await.is_empty());
}
