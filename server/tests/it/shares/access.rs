//! The role matrix over every share route: anonymous, alice and bob (data
//! scientists), carol (compliance), dave (admin), erin (no group), and a
//! link's recipient without any session.

use coffer_server::audit::{Action, Outcome};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{create, list, revoke, share_version, try_create, use_link};
use crate::s3::bytes_of;
use crate::support::{TestApp, bare_client};
use crate::uploads::client::{Uploader, answer};
use crate::uploads::{audited, keys_under};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_gets_exactly_its_share_rights() {
    // Arrange: a version, and one signed-in session per demo account.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 1))])
        .await;
    let bob = Uploader::sign_in(&app, "bob").await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let dave = Uploader::sign_in(&app, "dave").await;
    let erin = Uploader::sign_in(&app, "erin").await;
    let body = json!({ "model": "fraud", "version": 1, "file": "a.bin" });

    // Act + Assert: data scientists and admins create; compliance and
    // erin are refused, and nobody signed out gets past 401.
    // (The clock moves between creations: ids sort by creation time.)
    let alices = create(&alice, body.clone()).await;
    app.clock.advance(time::Duration::seconds(1));
    let bobs = create(&bob, body.clone()).await;
    app.clock.advance(time::Duration::seconds(1));
    let daves = create(&dave, body.clone()).await;
    for refused in [&carol, &erin] {
        try_create(refused, &body).await.assert_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "role does not allow",
        );
    }
    let anonymous_post = answer(bare_client().post(app.at("/api/v1/shares")).json(&body)).await;
    assert_eq!(anonymous_post.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        keys_under(&app, "registry/shares/links/").await.len(),
        3,
        "only the three accepted creations stored a link"
    );

    // Listing: own links for data scientists, all for the admin.
    let ids = |views: Vec<coffer_app::shares::api::ShareView>| -> Vec<String> {
        views.into_iter().map(|view| view.id).collect()
    };
    assert_eq!(ids(list(&alice).await), [alices.created.id.as_str()]);
    assert_eq!(ids(list(&bob).await), [bobs.created.id.as_str()]);
    assert_eq!(
        ids(list(&dave).await),
        [
            daves.created.id.as_str(),
            bobs.created.id.as_str(),
            alices.created.id.as_str()
        ],
        "an admin sees every link, newest first"
    );
    for refused in [&carol, &erin] {
        refused.get("/api/v1/shares").await.assert_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "role",
        );
    }
    let anonymous_get = answer(bare_client().get(app.at("/api/v1/shares"))).await;
    assert_eq!(anonymous_get.status, StatusCode::UNAUTHORIZED);

    // Revoking: compliance, erin, nobody and another data scientist are
    // refused; the owner and an admin may.
    let alices_path = format!("/api/v1/shares/{}", alices.created.id);
    for refused in [&carol, &erin] {
        revoke(refused, &alices.created.id).await.assert_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "role",
        );
    }
    let anonymous_delete = answer(bare_client().delete(app.at(&alices_path))).await;
    assert_eq!(anonymous_delete.status, StatusCode::UNAUTHORIZED);
    revoke(&bob, &alices.created.id).await.assert_error(
        StatusCode::FORBIDDEN,
        "forbidden",
        "owner or an admin",
    );

    // The recipient, without a session, downloads through every live
    // link; a session changes nothing for them.
    for link in [&alices, &bobs, &daves] {
        assert_eq!(
            use_link(&app, &link.token, "a.bin").await.status(),
            StatusCode::FOUND
        );
    }
    let with_session = erin
        .request(Method::GET, &format!("/s/{}/files/a.bin", alices.token))
        .send()
        .await
        .expect("GET with erin's session");
    assert_eq!(with_session.status(), StatusCode::FOUND);

    let revoked_by_owner = revoke(&alice, &alices.created.id).await;
    assert_eq!(
        revoked_by_owner.status,
        StatusCode::OK,
        "{revoked_by_owner:?}"
    );
    let revoked_by_admin = revoke(&dave, &bobs.created.id).await;
    assert_eq!(
        revoked_by_admin.status,
        StatusCode::OK,
        "{revoked_by_admin:?}"
    );
    assert_eq!(revoked_by_admin.body["revoked_by"], "dave");

    // Every refusal is on record: carol's and erin's by route, bob's
    // with the link's id.
    let denials = audited(&app, Action::AccessDenied).await;
    for name in ["carol", "erin"] {
        let paths: Vec<&str> = denials
            .iter()
            .filter(|event| event.actor == name)
            .filter_map(|event| event.path.as_deref())
            .collect();
        assert_eq!(
            paths,
            ["/api/v1/shares", "/api/v1/shares", alices_path.as_str()],
            "{name}"
        );
    }
    let bobs_denial: Vec<_> = denials
        .iter()
        .filter(|event| event.actor == "bob")
        .collect();
    assert_eq!(bobs_denial.len(), 1);
    assert_eq!(bobs_denial[0].outcome, Outcome::Denied);
    assert_eq!(
        bobs_denial[0].share_id.as_deref(),
        Some(alices.created.id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_link_is_recorded_and_stores_only_the_tokens_hash() {
    // Arrange
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 2))])
        .await;

    // Act
    let link = share_version(&alice, "fraud", 1).await;

    // Assert: a portal URL with a 43-character token, a day to live.
    assert_eq!(link.created.url, app.at(&format!("/s/{}", link.token)));
    assert_eq!(link.token.len(), 43);
    let views = list(&alice).await;
    assert_eq!(views.len(), 1);
    let view = &views[0];
    assert_eq!(view.expires_at, link.created.expires_at);
    let created = time::OffsetDateTime::parse(
        &view.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("created_at");
    let expires = time::OffsetDateTime::parse(
        &view.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("expires_at");
    assert_eq!(expires - created, time::Duration::days(1));
    assert_eq!(
        (view.owner.as_str(), view.uses, view.max_downloads),
        ("alice", 0, None)
    );

    // Assert: the record, the hash index and the owner's marker; no key
    // and no stored byte holds the token.
    let hash = crate::uploads::sha256_hex(link.token.as_bytes());
    let keys = keys_under(&app, "registry/shares/").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.contains(&format!("registry/shares/links/{}.json", link.created.id)));
    assert!(keys.contains(&format!("registry/shares/tokens/{hash}.json")));
    assert!(
        keys.iter()
            .any(|key| key.starts_with("registry/shares/by-owner/")
                && key.ends_with(&link.created.id))
    );
    for key in &keys {
        assert!(!key.contains(&link.token));
        let body = crate::uploads::object_bytes(&app, key).await;
        assert!(
            !String::from_utf8_lossy(&body).contains(&link.token),
            "{key} holds the token"
        );
    }

    // Assert: `share_created` names the link by id.
    let created = audited(&app, Action::ShareCreated).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor, "alice");
    assert_eq!(
        created[0].share_id.as_deref(),
        Some(link.created.id.as_str())
    );
    assert_eq!(
        (created[0].model.as_deref(), created[0].version),
        (Some("fraud"), Some(1))
    );
    assert_eq!(created[0].path, None, "a version link names no file");
}
