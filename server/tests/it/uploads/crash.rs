//! Crash safety: the server restarts at the awkward moments of an upload,
//! and nothing half-published is ever visible; every upload either
//! completes on retry or is cancelled cleanly.

use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};
use coffer_app::upload::api::{UploadStatus, VersionState};
use coffer_server::audit::Action;
use reqwest::StatusCode;

use super::client::Uploader;
use super::{
    PART_SIZE, TWO_PARTS, audited, keys_under, object_bytes, on_both_backends,
    open_multipart_uploads, sha256_hex,
};
use crate::s3::bytes_of;
use crate::support::{Backend, TestApp};

on_both_backends!(
    an_upload_continues_after_a_restart_between_its_parts,
    a_crash_before_the_manifest_shows_nothing_until_completion_is_retried,
    a_crash_before_the_manifest_can_be_cancelled_leaving_no_object,
    a_crash_after_the_manifest_leaves_the_version_intact,
);

async fn an_upload_continues_after_a_restart_between_its_parts(backend: Backend) {
    // Arrange: part 1 of 2 sent, then the server restarts.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(TWO_PARTS, 20);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    alice
        .send_parts(&upload, 0, &[(1, &data[..PART_SIZE])])
        .await;
    let app = app.restart().await;

    // Act: the same session finds the upload, sends part 2 and completes.
    let status = alice.status(&upload).await;
    alice
        .send_parts(&upload, 0, &[(2, &data[PART_SIZE..])])
        .await;
    let version = alice.complete(&upload, &[&data]).await;

    // Assert: the part sent before the restart counts, and the stored
    // bytes are the whole file.
    assert_eq!(status.status, StatusCode::OK, "{status:?}");
    assert_eq!(status.body["files"][0]["received"][0]["number"], 1);
    assert_eq!(version.state, VersionState::Available);
    assert_eq!(version.files[0].sha256, sha256_hex(&data));
    let keys = keys_under(&app, "artifacts/fraud/1/").await;
    assert_eq!(
        sha256_hex(&object_bytes(&app, &keys[0]).await),
        sha256_hex(&data)
    );
    assert!(open_multipart_uploads(&app, "artifacts/").await.is_empty());
}

/// Sends every part, then completes the file's multipart upload straight
/// in S3, as the server would have just before dying without writing the
/// manifest; answers the checksum S3 keeps for the object.
async fn complete_behind_the_servers_back(
    app: &TestApp,
    alice: &Uploader,
    upload: &UploadStatus,
    data: &[u8],
) -> String {
    alice.send_file(upload, 0, data).await;
    let (key, multipart_id) = open_multipart_uploads(app, "artifacts/")
        .await
        .pop()
        .expect("the file's multipart upload");
    let listed = app
        .s3()
        .list_parts()
        .bucket(app.bucket())
        .key(&key)
        .upload_id(&multipart_id)
        .send()
        .await
        .expect("ListParts");
    let parts = listed
        .parts()
        .iter()
        .map(|part| {
            CompletedPart::builder()
                .set_part_number(part.part_number())
                .set_e_tag(part.e_tag().map(str::to_owned))
                .set_checksum_sha256(part.checksum_sha256().map(str::to_owned))
                .build()
        })
        .collect();
    app.s3()
        .complete_multipart_upload()
        .bucket(app.bucket())
        .key(&key)
        .upload_id(&multipart_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("CompleteMultipartUpload");

    // moto's completion answer carries no checksum; HEAD reports the one
    // kept on both servers.
    let head = app
        .s3()
        .head_object()
        .bucket(app.bucket())
        .key(&key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("HeadObject");
    head.checksum_sha256().unwrap_or_default().to_owned()
}

async fn a_crash_before_the_manifest_shows_nothing_until_completion_is_retried(backend: Backend) {
    // Arrange: the object is complete in S3, the manifest never written,
    // and the server restarted.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(TWO_PARTS, 21);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    let s3_checksum = complete_behind_the_servers_back(&app, &alice, &upload, &data).await;
    let app = app.restart().await;

    // Act: look, then retry the completion.
    let hidden = alice.version("fraud", 1).await;
    let listed = alice.get("/api/v1/models/fraud").await;
    let retried = alice
        .try_complete(&upload, &super::client::complete_request(&[&data]))
        .await;

    // Assert: invisible until the retry, then available with the right
    // digest and bytes.
    hidden.assert_error(StatusCode::NOT_FOUND, "not_found", "");
    assert_eq!(listed.body["versions"], serde_json::json!([]), "{listed:?}");
    assert_eq!(retried.status, StatusCode::OK, "{retried:?}");
    let version = alice.version("fraud", 1).await;
    assert_eq!(version.body["state"], "available");
    assert_eq!(version.body["files"][0]["sha256"], sha256_hex(&data));
    assert_eq!(version.body["files"][0]["s3_checksum"], s3_checksum);
    let keys = keys_under(&app, "artifacts/fraud/1/").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        sha256_hex(&object_bytes(&app, &keys[0]).await),
        sha256_hex(&data)
    );
    assert!(alice.open_upload_ids().await.is_empty());
}

async fn a_crash_before_the_manifest_can_be_cancelled_leaving_no_object(backend: Backend) {
    // Arrange: as above, the object complete and no manifest.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(TWO_PARTS, 22);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    complete_behind_the_servers_back(&app, &alice, &upload, &data).await;
    let app = app.restart().await;

    // Act
    let cancelled = alice.abort(&upload).await;

    // Assert: the version failed, and nothing is left stored or open.
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT, "{cancelled:?}");
    let version = alice.version("fraud", 1).await;
    assert_eq!(version.body["state"], "failed", "{version:?}");
    assert_eq!(version.body["files"], serde_json::json!([]));
    assert!(keys_under(&app, "artifacts/fraud/1/").await.is_empty());
    assert!(open_multipart_uploads(&app, "artifacts/").await.is_empty());
    assert_eq!(audited(&app, Action::UploadAborted).await.len(), 1);
}

async fn a_crash_after_the_manifest_leaves_the_version_intact(backend: Backend) {
    // Arrange: a published version whose session is put back, as if the
    // server died after writing the manifest but before removing it.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(4096, 23);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    let leftovers = keys_under(&app, "registry/uploads").await;
    let mut saved = Vec::new();
    for key in &leftovers {
        saved.push((key.clone(), object_bytes(&app, key).await));
    }
    alice.send_file(&upload, 0, &data).await;
    let published = alice.complete(&upload, &[&data]).await;
    for (key, body) in saved {
        app.s3()
            .put_object()
            .bucket(app.bucket())
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("put the session back");
    }
    let app = app.restart().await;

    // Act: the client retries the completion, then tries to cancel.
    let retried = alice
        .try_complete(&upload, &super::client::complete_request(&[&data]))
        .await;
    let cancelled = alice.abort(&upload).await;

    // Assert: the retry says the version is published and tidies the
    // leftover; the version and its bytes are untouched.
    assert_eq!(
        leftovers.len(),
        2,
        "a session and its owner marker: {leftovers:?}"
    );
    retried.assert_error(StatusCode::CONFLICT, "conflict", "already published");
    cancelled.assert_error(StatusCode::NOT_FOUND, "not_found", "");
    assert!(alice.open_upload_ids().await.is_empty());
    assert!(keys_under(&app, "registry/uploads").await.is_empty());
    let version = alice.version("fraud", 1).await;
    assert_eq!(
        version.json::<coffer_app::upload::api::VersionView>(),
        published
    );
    let keys = keys_under(&app, "artifacts/fraud/1/").await;
    assert_eq!(
        sha256_hex(&object_bytes(&app, &keys[0]).await),
        sha256_hex(&data)
    );
}
