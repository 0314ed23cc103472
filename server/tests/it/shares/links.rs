//! What a link opens and when it stops: only what it names, only while it
//! is live; unknown and tampered tokens open nothing; revocation is the
//! owner's or an admin's, once.

use coffer_app::shares::api::{ShareState, ShareView};
use coffer_server::audit::{Action, AuditEvent, Outcome};
use reqwest::StatusCode;
use serde_json::json;

use super::{create, list, revoke, share_version, status_and_code, tampered, try_create, use_link};
use crate::downloads::{assert_download_redirect, follow, request_id};
use crate::s3::bytes_of;
use crate::support::TestApp;
use crate::uploads::client::Uploader;
use crate::uploads::{audited, keys_under, sha256_hex};

/// The records of one action that name a link.
fn about<'a>(events: &'a [AuditEvent], share_id: &str) -> Vec<&'a AuditEvent> {
    events
        .iter()
        .filter(|event| event.share_id.as_deref() == Some(share_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_creation_requests_are_refused_and_store_nothing() {
    // Arrange: version 1 available, version 2 cancelled.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 1))])
        .await;
    let cancelled = alice.start("fraud", &[("a.bin", &bytes_of(100, 2))]).await;
    assert_eq!(alice.abort(&cancelled).await.status, StatusCode::NO_CONTENT);

    // Act + Assert
    let cases = [
        (
            json!({ "model": "fraud", "version": 1, "expires_in": 0 }),
            StatusCode::BAD_REQUEST,
            "expires_in",
        ),
        (
            json!({ "model": "fraud", "version": 1, "expires_in": 604_801 }),
            StatusCode::BAD_REQUEST,
            "expires_in",
        ),
        (
            json!({ "model": "fraud", "version": 1, "max_downloads": 0 }),
            StatusCode::BAD_REQUEST,
            "max_downloads",
        ),
        (
            json!({ "model": "fraud", "version": 1, "max_downloads": 10_001 }),
            StatusCode::BAD_REQUEST,
            "max_downloads",
        ),
        (
            json!({ "model": "fraud", "version": 1, "note": "x".repeat(501) }),
            StatusCode::BAD_REQUEST,
            "500",
        ),
        (
            json!({ "model": "fraud", "version": 1, "note": "a\u{7}b" }),
            StatusCode::BAD_REQUEST,
            "control",
        ),
        (
            json!({ "model": "fraud", "version": 1, "file": "b.bin" }),
            StatusCode::BAD_REQUEST,
            "no file 'b.bin'",
        ),
        (
            json!({ "model": "fraud", "version": 0 }),
            StatusCode::BAD_REQUEST,
            "positive",
        ),
        (
            json!({ "model": "Fraud Model", "version": 1 }),
            StatusCode::BAD_REQUEST,
            "not a valid name",
        ),
        (
            json!({ "model": "fraud", "version": -1 }),
            StatusCode::BAD_REQUEST,
            "invalid JSON",
        ),
        (
            json!({ "model": "fraud" }),
            StatusCode::BAD_REQUEST,
            "invalid JSON",
        ),
        (
            json!({ "model": "fraud", "version": 2 }),
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            json!({ "model": "fraud", "version": 3 }),
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            json!({ "model": "nothing", "version": 1 }),
            StatusCode::NOT_FOUND,
            "not found",
        ),
    ];
    for (body, status, message) in cases {
        let answer = try_create(&alice, &body).await;
        let code = if status == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "bad_request"
        };
        answer.assert_error(status, code, message);
    }

    // Assert: a body that is not JSON is refused too; nothing was stored
    // or recorded.
    let text = alice
        .request(reqwest::Method::POST, "/api/v1/shares")
        .body(r#"{"model":"fraud","version":1}"#)
        .send()
        .await
        .expect("POST text");
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(keys_under(&app, "registry/shares/").await.is_empty());
    assert!(audited(&app, Action::ShareCreated).await.is_empty());
    let edge = create(
        &alice,
        json!({ "model": "fraud", "version": 1, "expires_in": 604_800, "max_downloads": 10_000,
                "note": "é".repeat(500) }),
    )
    .await;
    assert!(!edge.created.id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_opens_only_the_version_and_files_it_names() {
    // Arrange: two versions whose `a.bin` differ; a version link and a
    // file link, both for version 1.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let v1_a = bytes_of(700, 1);
    let v1_b = bytes_of(800, 2);
    let v2_a = bytes_of(900, 3);
    alice
        .publish("fraud", &[("a.bin", &v1_a), ("dir/b.bin", &v1_b)])
        .await;
    alice
        .publish("fraud", &[("a.bin", &v2_a), ("c.bin", &bytes_of(10, 4))])
        .await;
    let version_link = share_version(&alice, "fraud", 1).await;
    let file_link = create(
        &alice,
        json!({ "model": "fraud", "version": 1, "file": "a.bin", "note": "weights only" }),
    )
    .await;

    // Act + Assert: the version link serves both files of version 1, with
    // the bytes of version 1, through a download redirect.
    for (path, data) in [("a.bin", &v1_a), ("dir/b.bin", &v1_b)] {
        let redirect = use_link(&app, &version_link.token, path).await;
        assert_download_redirect(&app, &redirect, 120);
        let fetched = follow(&redirect).await;
        assert_eq!(sha256_hex(&fetched.body), sha256_hex(data), "{path}");
        assert_ne!(sha256_hex(&fetched.body), sha256_hex(&v2_a));
    }

    // Act + Assert: neither link reaches version 2's own file, and the
    // file link reaches no other file.
    let refused = [
        (&version_link.token, "c.bin"),
        (&version_link.token, "dir"),
        (&version_link.token, "b.bin"),
        (&file_link.token, "dir/b.bin"),
        (&file_link.token, "c.bin"),
    ];
    for (token, path) in refused {
        let (status, code) = status_and_code(use_link(&app, token, path).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let ok = use_link(&app, &file_link.token, "a.bin").await;
    assert_eq!(ok.status(), StatusCode::FOUND);
    let used_request = request_id(&ok);

    // Assert: the recipient's page data lists exactly the named files.
    let shares = &app.running().state.shares;
    let whole = shares
        .shared(&version_link.token)
        .await
        .expect("shared")
        .expect("a known link");
    let paths: Vec<&str> = whole.files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(paths, ["a.bin", "dir/b.bin"]);
    let one = shares
        .shared(&file_link.token)
        .await
        .expect("shared")
        .expect("a known link");
    assert_eq!((one.state, one.files.len()), (ShareState::Live, 1));
    assert_eq!(one.note, "weights only");
    assert_eq!(one.files[0].sha256, sha256_hex(&v1_a));

    // Assert: each refusal and each use is recorded against its link.
    let refusals = audited(&app, Action::ShareRefused).await;
    assert_eq!(about(&refusals, &version_link.created.id).len(), 3);
    assert_eq!(about(&refusals, &file_link.created.id).len(), 2);
    let uses = audited(&app, Action::ShareUsed).await;
    let file_uses = about(&uses, &file_link.created.id);
    assert_eq!(file_uses.len(), 1);
    let used = file_uses[0];
    assert_eq!(used.actor, format!("share:{}", file_link.created.id));
    assert_eq!(used.outcome, Outcome::Success);
    assert_eq!(
        (used.model.as_deref(), used.version),
        (Some("fraud"), Some(1))
    );
    assert_eq!(used.path.as_deref(), Some("a.bin"));
    assert_eq!(used.request_id, used_request);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tampered_and_malformed_tokens_open_nothing() {
    // Arrange: a live link.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 5))])
        .await;
    let link = share_version(&alice, "fraud", 1).await;
    let unknown = "A".repeat(43);
    let changed = tampered(&link.token);
    assert_ne!(changed, link.token);

    // Act + Assert: every wrong token is a plain 404, and the page data
    // knows none of them.
    let shares = &app.running().state.shares;
    for token in [
        unknown.as_str(),
        changed.as_str(),
        "abc",
        "x.y",
        &link.token[..42],
    ] {
        let (status, code) = status_and_code(use_link(&app, token, "a.bin").await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{token}"
        );
        assert_eq!(shares.shared(token).await.expect("shared"), None, "{token}");
    }
    assert!(shares.shared(&link.token).await.expect("shared").is_some());

    // Assert: the two well-formed guesses are recorded without any link
    // id or token; the malformed ones are not; the link was not used.
    let refusals = audited(&app, Action::ShareRefused).await;
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    for event in &refusals {
        assert_eq!(event.actor, "anonymous");
        assert_eq!(event.share_id, None);
        assert_eq!(event.path.as_deref(), Some("a.bin"));
    }
    assert_eq!(list(&alice).await[0].uses, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_revoked_and_exhausted_links_answer_410_with_their_state() {
    // Arrange: a one-minute link, a link to revoke, a one-use link.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 6))])
        .await;
    let body = |extra: serde_json::Value| {
        let mut body = json!({ "model": "fraud", "version": 1 });
        body.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        body
    };
    let short = create(&alice, body(json!({ "expires_in": 60 }))).await;
    let to_revoke = create(&alice, body(json!({}))).await;
    let once = create(&alice, body(json!({ "max_downloads": 1 }))).await;
    assert_eq!(
        use_link(&app, &once.token, "a.bin").await.status(),
        StatusCode::FOUND
    );

    // Act: a minute passes; the second link is revoked.
    app.clock.advance(time::Duration::seconds(60));
    assert_eq!(
        revoke(&alice, &to_revoke.created.id).await.status,
        StatusCode::OK
    );

    // Assert: each answers 410 naming its state, and says so to its
    // recipient without listing files.
    let shares = &app.running().state.shares;
    let cases = [
        (&short, "share_expired", ShareState::Expired),
        (&to_revoke, "share_revoked", ShareState::Revoked),
        (&once, "share_exhausted", ShareState::Exhausted),
    ];
    for (link, expected, state) in cases {
        let (status, code) = status_and_code(use_link(&app, &link.token, "a.bin").await).await;
        assert_eq!((status, code.as_str()), (StatusCode::GONE, expected));
        let item = shares
            .shared(&link.token)
            .await
            .expect("shared")
            .expect("a known link");
        assert_eq!(item.state, state);
        assert!(item.files.is_empty());
    }

    // Assert: the owner's list shows the states and counts; every refusal
    // is recorded against its link, with why.
    let views: Vec<ShareView> = list(&alice).await;
    let state_of = |id: &str| {
        let view = views.iter().find(|view| view.id == id).expect("listed");
        (view.state, view.uses)
    };
    assert_eq!(state_of(&short.created.id), (ShareState::Expired, 0));
    assert_eq!(state_of(&to_revoke.created.id), (ShareState::Revoked, 0));
    assert_eq!(state_of(&once.created.id), (ShareState::Exhausted, 1));
    let refusals = audited(&app, Action::ShareRefused).await;
    for (link, detail) in [
        (&short, "expired"),
        (&to_revoke, "revoked"),
        (&once, "used up"),
    ] {
        let events = about(&refusals, &link.created.id);
        assert_eq!(events.len(), 1, "{detail}");
        assert_eq!(events[0].actor, format!("share:{}", link.created.id));
        assert!(
            events[0]
                .detail
                .as_deref()
                .is_some_and(|text| text.contains(detail)),
            "{:?}",
            events[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_or_an_admin_revokes_and_only_once() {
    // Arrange: a link of alice's and one of bob's.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 7))])
        .await;
    let bob = Uploader::sign_in(&app, "bob").await;
    let dave = Uploader::sign_in(&app, "dave").await;
    let alices = share_version(&alice, "fraud", 1).await;
    let bobs = share_version(&bob, "fraud", 1).await;

    // Act + Assert: bob cannot revoke alice's link; it stays live.
    revoke(&bob, &alices.created.id).await.assert_error(
        StatusCode::FORBIDDEN,
        "forbidden",
        "owner or an admin",
    );
    assert_eq!(
        use_link(&app, &alices.token, "a.bin").await.status(),
        StatusCode::FOUND
    );

    // Act + Assert: alice revokes hers, twice; dave revokes bob's.
    let first = revoke(&alice, &alices.created.id).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let view: ShareView = first.json();
    assert_eq!(view.state, ShareState::Revoked);
    assert_eq!(view.revoked_by.as_deref(), Some("alice"));
    let again = revoke(&alice, &alices.created.id).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json::<ShareView>().revoked_at, view.revoked_at);
    let by_admin = revoke(&dave, &bobs.created.id).await;
    assert_eq!(by_admin.status, StatusCode::OK);
    assert_eq!(
        by_admin.json::<ShareView>().revoked_by.as_deref(),
        Some("dave")
    );

    // Act + Assert: unknown and malformed ids are not found.
    let unknown = format!("{}-0123456789abcdef", "1".repeat(13));
    for id in [unknown.as_str(), "not-an-id", "..%2F..%2Fx"] {
        revoke(&dave, id)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", "not found");
    }

    // Assert: one `share_revoked` per link; bob's attempt is a denial.
    let revoked = audited(&app, Action::ShareRevoked).await;
    let pairs: Vec<(&str, Option<&str>)> = revoked
        .iter()
        .map(|event| (event.actor.as_str(), event.share_id.as_deref()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("alice", Some(alices.created.id.as_str())),
            ("dave", Some(bobs.created.id.as_str()))
        ]
    );
    let denials = audited(&app, Action::AccessDenied).await;
    assert_eq!(denials.len(), 1);
    assert_eq!(denials[0].actor, "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_the_audit_trail() {
    // Arrange + Act: a link created, used, refused, revoked and refused.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 8))])
        .await;
    let link = share_version(&alice, "fraud", 1).await;
    assert_eq!(
        use_link(&app, &link.token, "a.bin").await.status(),
        StatusCode::FOUND
    );
    let guess = tampered(&link.token);
    assert_eq!(
        use_link(&app, &guess, "a.bin").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        use_link(&app, &link.token, "x.bin").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(&alice, &link.created.id).await.status,
        StatusCode::OK
    );
    assert_eq!(
        use_link(&app, &link.token, "a.bin").await.status(),
        StatusCode::GONE
    );

    // Assert: neither the token, the guess nor their hashes are anywhere
    // in the trail, which names the link by id.
    let trail = serde_json::to_string(&app.audit_records().await).expect("serializes");
    for secret in [
        link.token.clone(),
        sha256_hex(link.token.as_bytes()),
        guess.clone(),
        sha256_hex(guess.as_bytes()),
    ] {
        assert!(!trail.contains(&secret), "the trail holds {secret}");
    }
    assert!(trail.contains(&link.created.id));
}
