//! Completion is all-or-nothing: the parts S3 holds must be exactly the
//! plan, or nothing is completed, the version stays invisible, the upload
//! stays open for another try, and the refusal is audited. Limits are
//! enforced when an upload starts.

use aws_sdk_s3::primitives::ByteStream;
use coffer_app::upload::api::{CompleteUpload, FileDigest, UploadStatus, VersionState};
use coffer_server::audit::{Action, Outcome};
use reqwest::StatusCode;

use super::client::{Answer, Uploader, complete_request, start_request};
use super::{
    MIB, PART_SIZE, TWO_PARTS, audited, keys_under, on_both_backends, open_multipart_uploads,
    sha256_hex,
};
use crate::s3::{bytes_of, sha256_b64};
use crate::support::{Backend, TestApp};

on_both_backends!(
    completing_with_a_missing_part_is_refused_until_the_part_arrives,
    completing_with_parts_of_other_sizes_than_planned_is_refused,
    completing_with_more_parts_than_planned_is_refused,
    completing_with_a_digest_other_than_the_declared_one_is_refused,
    start_refuses_files_over_the_size_limits_and_versions_with_too_many_files,
    a_user_with_too_many_open_uploads_gets_429_until_one_is_finished,
);

/// Checks a refused completion and that it changed nothing: no version,
/// the upload still open with its multipart upload, no object completed,
/// and an `upload_failed` record saying why.
async fn assert_refused_and_still_open(
    app: &TestApp,
    alice: &Uploader,
    upload: &UploadStatus,
    refusal: &Answer,
    message: &str,
) {
    refusal.assert_error(StatusCode::CONFLICT, "incomplete", message);
    let version = alice.version(&upload.model, upload.version).await;
    version.assert_error(StatusCode::NOT_FOUND, "not_found", "");
    assert_eq!(alice.status(upload).await.status, StatusCode::OK);
    assert_eq!(alice.open_upload_ids().await, [upload.upload_id.as_str()]);
    let prefix = format!("artifacts/{}/{}/", upload.model, upload.version);
    assert_eq!(open_multipart_uploads(app, &prefix).await.len(), 1);
    assert!(keys_under(app, &prefix).await.is_empty());
    let failures = audited(app, Action::UploadFailed).await;
    let last = failures.last().expect("an upload_failed record");
    assert_eq!(last.actor, "alice");
    assert_eq!(last.outcome, Outcome::Failure);
    assert_eq!(last.model.as_deref(), Some(upload.model.as_str()));
    assert_eq!(last.version, Some(upload.version));
    assert!(
        last.detail
            .as_deref()
            .is_some_and(|detail| detail.contains(message)),
        "{last:?}"
    );
}

async fn completing_with_a_missing_part_is_refused_until_the_part_arrives(backend: Backend) {
    // Arrange: only the first of two parts sent.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(TWO_PARTS, 10);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    alice
        .send_parts(&upload, 0, &[(1, &data[..PART_SIZE])])
        .await;

    // Act
    let refusal = alice
        .try_complete(&upload, &complete_request(&[&data]))
        .await;

    // Assert: refused; sending the missing part then completes.
    assert_refused_and_still_open(&app, &alice, &upload, &refusal, "missing parts 2").await;
    alice
        .send_parts(&upload, 0, &[(2, &data[PART_SIZE..])])
        .await;
    let version = alice.complete(&upload, &[&data]).await;
    assert_eq!(version.state, VersionState::Available);
    assert_eq!(version.files[0].sha256, sha256_hex(&data));
}

async fn completing_with_parts_of_other_sizes_than_planned_is_refused(backend: Backend) {
    // Arrange: two parts declared, the first sent 1 MiB short.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(TWO_PARTS, 11);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    let short = &data[..PART_SIZE - MIB];
    alice
        .send_parts(&upload, 0, &[(1, short), (2, &data[PART_SIZE..])])
        .await;

    // Act
    let refusal = alice
        .try_complete(&upload, &complete_request(&[&data]))
        .await;

    // Assert: refused; a full first part then completes.
    let message = format!(
        "part 1 of file 'model.bin' has {} bytes; {PART_SIZE} were planned",
        PART_SIZE - MIB
    );
    assert_refused_and_still_open(&app, &alice, &upload, &refusal, &message).await;
    alice
        .send_parts(&upload, 0, &[(1, &data[..PART_SIZE])])
        .await;
    assert_eq!(
        alice.complete(&upload, &[&data]).await.files[0].size,
        data.len() as u64
    );
}

async fn completing_with_more_parts_than_planned_is_refused(backend: Backend) {
    // Arrange: a one-part file whose part is sent; the API will not sign a
    // second part, so it goes straight to S3 as someone with bucket rights
    // could send it.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(4096, 12);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    alice.send_file(&upload, 0, &data).await;
    let unsigned = alice
        .try_sign(&upload, &super::client::parts_request(0, &[(2, &data)]))
        .await;
    unsigned.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "part 2 does not exist",
    );
    let (key, multipart_id) = open_multipart_uploads(&app, "artifacts/fraud/1/")
        .await
        .remove(0);
    app.s3()
        .upload_part()
        .bucket(app.bucket())
        .key(&key)
        .upload_id(&multipart_id)
        .part_number(2)
        .checksum_sha256(sha256_b64(&data))
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("a direct UploadPart");

    // Act
    let refusal = alice
        .try_complete(&upload, &complete_request(&[&data]))
        .await;

    // Assert
    assert_refused_and_still_open(
        &app,
        &alice,
        &upload,
        &refusal,
        "has more parts than its 1 planned",
    )
    .await;
}

async fn completing_with_a_digest_other_than_the_declared_one_is_refused(backend: Backend) {
    // Arrange: a file started with its SHA-256 declared, then sent.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(4096, 13);
    let mut request = start_request(&[("model.bin", &data)]);
    request.files[0].sha256 = Some(sha256_hex(&data));
    let upload: UploadStatus = alice.try_start("fraud", &request).await.json();
    alice.send_file(&upload, 0, &data).await;
    let digest = |sha256: String| CompleteUpload {
        files: vec![FileDigest { index: 0, sha256 }],
    };

    // Act: complete with another file's digest, a malformed one, none.
    let other = alice
        .try_complete(&upload, &digest(sha256_hex(b"other")))
        .await;
    let malformed = alice.try_complete(&upload, &digest("xyz".into())).await;
    let missing = alice
        .try_complete(&upload, &CompleteUpload { files: Vec::new() })
        .await;

    // Assert: each is a 400 that changes nothing and is audited.
    other.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "was declared with sha256",
    );
    malformed.assert_error(StatusCode::BAD_REQUEST, "bad_request", "64 hexadecimal");
    missing.assert_error(StatusCode::BAD_REQUEST, "bad_request", "no sha256 for file");
    alice
        .version("fraud", 1)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "");
    assert!(keys_under(&app, "artifacts/").await.is_empty());
    assert_eq!(audited(&app, Action::UploadFailed).await.len(), 3);
    assert_eq!(
        alice.complete(&upload, &[&data]).await.files[0].sha256,
        sha256_hex(&data)
    );
}

async fn start_refuses_files_over_the_size_limits_and_versions_with_too_many_files(
    backend: Backend,
) {
    // Arrange: small limits.
    let limits = [
        "--max-file-size",
        "4096",
        "--max-version-size",
        "6000",
        "--max-files-per-version",
        "2",
    ];
    let app = TestApp::start_on(backend, &limits).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let (at_limit, over) = (bytes_of(4096, 14), bytes_of(4097, 15));

    // Act
    let too_big = alice
        .try_start("fraud", &start_request(&[("big.bin", &over)]))
        .await;
    let too_much = alice
        .try_start(
            "fraud",
            &start_request(&[("a.bin", &at_limit), ("b.bin", &at_limit)]),
        )
        .await;
    let too_many = alice
        .try_start(
            "fraud",
            &start_request(&[("a", b"1"), ("b", b"2"), ("c", b"3")]),
        )
        .await;

    // Assert: clear 400s, no model, no claim, no multipart upload; a file
    // at the limit is fine.
    too_big.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "file 'big.bin' has 4097 bytes; the limit is 4096 bytes",
    );
    too_much.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "the files add up to 8192 bytes; a version holds at most 6000 bytes",
    );
    too_many.assert_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "a version holds at most 2 files; this upload has 3",
    );
    assert!(keys_under(&app, "registry/models/").await.is_empty());
    assert!(open_multipart_uploads(&app, "artifacts/").await.is_empty());
    assert!(audited(&app, Action::UploadStarted).await.is_empty());
    assert_eq!(
        alice
            .start("fraud", &[("big.bin", &at_limit)])
            .await
            .version,
        1
    );
}

async fn a_user_with_too_many_open_uploads_gets_429_until_one_is_finished(backend: Backend) {
    // Arrange: two uploads open, the limit.
    let app = TestApp::start_on(backend, &["--max-open-uploads", "2"]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let bob = Uploader::sign_in(&app, "bob").await;
    let data = bytes_of(100, 16);
    let first = alice.start("fraud", &[("a.bin", &data)]).await;
    alice.start("fraud", &[("a.bin", &data)]).await;

    // Act
    let third = alice
        .try_start("fraud", &start_request(&[("a.bin", &data)]))
        .await;

    // Assert: refused before any number is claimed; other users are not
    // affected, and cancelling one upload makes room.
    third.assert_error(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_uploads",
        "the limit is 2",
    );
    let claims = keys_under(&app, "registry/models/fraud/claims/").await;
    assert_eq!(claims.len(), 2, "{claims:?}");
    assert_eq!(open_multipart_uploads(&app, "artifacts/").await.len(), 2);
    assert_eq!(bob.start("fraud", &[("b.bin", &data)]).await.version, 3);
    assert_eq!(alice.abort(&first).await.status, StatusCode::NO_CONTENT);
    assert_eq!(alice.start("fraud", &[("a.bin", &data)]).await.version, 4);
}
