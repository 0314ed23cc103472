//! Multipart uploads: the browser's path for every artifact.

use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use sha2::Digest as _;

use super::{Kind, Target, bytes_of, failure, md5_hex, on_both_servers, sha256_b64};

/// S3's minimum size of every part but the last.
const MIB5: usize = 5 * 1024 * 1024;

on_both_servers!(
    a_sha256_multipart_upload_completes_with_composite_checksum_and_etag,
    parts_and_uploads_are_listed_and_aborting_removes_the_upload,
    completion_enforces_part_order_etags_and_minimum_size,
    a_wrong_part_checksum_is_refused_with_bad_digest,
    complete_if_none_match_refuses_to_replace_an_existing_object,
);

fn completed(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build()
}

/// Completes an upload.
async fn complete(
    t: &Target,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: Vec<CompletedPart>,
) -> anyhow::Result<CompleteMultipartUploadOutput> {
    Ok(t.client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(completed(parts))
        .send()
        .await?)
}

/// Number, size and ETag of each part ListParts reports.
async fn part_numbers(
    t: &Target,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> anyhow::Result<Vec<(i32, i64, String)>> {
    let parts = t
        .client
        .list_parts()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await?;
    Ok(parts
        .parts()
        .iter()
        .map(|p| {
            (
                p.part_number().unwrap_or_default(),
                p.size().unwrap_or_default(),
                p.e_tag().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

async fn a_sha256_multipart_upload_completes_with_composite_checksum_and_etag(
    t: &mut Target,
) -> anyhow::Result<()> {
    // Arrange
    let bucket = t.bucket("multipart").await?;
    let key = "models/m/versions/1/model.bin";
    let first = bytes_of(MIB5, 1);
    let second = bytes_of(1234, 2);
    let upload_id = t.create_sha256_upload(&bucket, key).await?;

    // Act
    let parts = vec![
        t.upload_sha256_part(&bucket, key, &upload_id, 1, &first)
            .await?,
        t.upload_sha256_part(&bucket, key, &upload_id, 2, &second)
            .await?,
    ];
    let done = complete(t, &bucket, key, &upload_id, parts).await?;
    let head = t
        .client
        .head_object()
        .bucket(&bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await?;
    let body = t.get_bytes(&bucket, key).await?;

    // Assert: ETag = MD5 of part MD5s, checksum = SHA-256 of part SHA-256s.
    let mut md5s = Vec::new();
    let mut shas = Vec::new();
    for part in [&first, &second] {
        md5s.extend(hex::decode(md5_hex(part))?);
        shas.extend(sha2::Sha256::digest(part));
    }
    let etag = format!("\"{}-2\"", md5_hex(&md5s));
    let composite = format!(
        "{}-2",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&shas))
    );
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_length(), Some((MIB5 + 1234) as i64));
    match t.kind {
        Kind::Embedded => assert_eq!(head.checksum_sha256(), Some(composite.as_str())),
        // moto 5.1 drops the `-N` part count that S3 appends to a
        // composite checksum.
        Kind::Moto => assert_eq!(head.checksum_sha256(), composite.strip_suffix("-2")),
    }
    assert_eq!(head.content_type(), Some("application/x-model"));
    assert_eq!(done.e_tag(), Some(etag.as_str()));
    match t.kind {
        Kind::Embedded => assert_eq!(done.checksum_sha256(), Some(composite.as_str())),
        // moto 5.1 answers CompleteMultipartUpload without the checksum.
        Kind::Moto => assert_eq!(done.checksum_sha256(), None),
    }
    assert_eq!(body.len(), MIB5 + 1234);
    assert!(body[..MIB5] == first[..] && body[MIB5..] == second[..]);
    Ok(())
}

async fn parts_and_uploads_are_listed_and_aborting_removes_the_upload(
    t: &mut Target,
) -> anyhow::Result<()> {
    // Arrange
    let bucket = t.bucket("listing-uploads").await?;
    let upload_id = t.create_sha256_upload(&bucket, "a/file").await?;
    let other_id = t.create_sha256_upload(&bucket, "b/file").await?;
    let part = bytes_of(100, 5);
    t.upload_sha256_part(&bucket, "a/file", &upload_id, 1, &part)
        .await?;
    t.upload_sha256_part(&bucket, "a/file", &upload_id, 2, &part)
        .await?;

    // Act
    let parts = part_numbers(t, &bucket, "a/file", &upload_id).await?;
    let uploads = t
        .client
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await?;
    let prefixed = t
        .client
        .list_multipart_uploads()
        .bucket(&bucket)
        .prefix("b/")
        .send()
        .await?;
    t.client
        .abort_multipart_upload()
        .bucket(&bucket)
        .key("a/file")
        .upload_id(&upload_id)
        .send()
        .await?;
    let after_abort = t
        .client
        .list_parts()
        .bucket(&bucket)
        .key("a/file")
        .upload_id(&upload_id)
        .send()
        .await;

    // Assert
    let etag = format!("\"{}\"", md5_hex(&part));
    assert_eq!(parts, [(1, 100, etag.clone()), (2, 100, etag)]);
    let ids: Vec<&str> = uploads
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id())
        .collect();
    assert!(ids.contains(&upload_id.as_str()) && ids.contains(&other_id.as_str()));
    let prefixed: Vec<&str> = prefixed.uploads().iter().filter_map(|u| u.key()).collect();
    assert_eq!(prefixed, ["b/file"]);
    assert_eq!(failure(after_abort), (404, "NoSuchUpload".to_owned()));
    Ok(())
}

async fn completion_enforces_part_order_etags_and_minimum_size(
    t: &mut Target,
) -> anyhow::Result<()> {
    // Arrange: a small first part and a full-size second part, so each
    // request below breaks exactly one rule.
    let bucket = t.bucket("rules").await?;
    let key = "k";
    let upload_id = t.create_sha256_upload(&bucket, key).await?;
    let small = t
        .upload_sha256_part(&bucket, key, &upload_id, 1, &bytes_of(10, 1))
        .await?;
    let last = t
        .upload_sha256_part(&bucket, key, &upload_id, 2, &bytes_of(MIB5, 2))
        .await?;
    let complete = |parts: Vec<CompletedPart>| {
        t.client
            .complete_multipart_upload()
            .bucket(&bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(completed(parts))
            .send()
    };

    // Act
    let wrong_etag = complete(vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag("\"00000000000000000000000000000000\"")
            .build(),
        last.clone(),
    ])
    .await;
    let too_small = complete(vec![small.clone(), last.clone()]).await;
    let reversed = complete(vec![last.clone(), small.clone()]).await;

    // Assert
    assert_eq!(failure(wrong_etag), (400, "InvalidPart".to_owned()));
    assert_eq!(failure(too_small), (400, "EntityTooSmall".to_owned()));
    match t.kind {
        Kind::Embedded => {
            assert_eq!(failure(reversed), (400, "InvalidPartOrder".to_owned()));
            assert_eq!(
                failure(t.client.head_object().bucket(&bucket).key(key).send().await).0,
                404
            );
        }
        Kind::Moto => {
            // moto 5.1 accepts parts listed out of order and completes the
            // upload; S3 answers 400 InvalidPartOrder.
            assert!(reversed.is_ok(), "{reversed:?}");
        }
    }
    Ok(())
}

async fn a_wrong_part_checksum_is_refused_with_bad_digest(t: &mut Target) -> anyhow::Result<()> {
    // Arrange
    let bucket = t.bucket("part-digest").await?;
    let upload_id = t.create_sha256_upload(&bucket, "k").await?;

    // Act
    let result = t
        .client
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id(&upload_id)
        .part_number(1)
        .checksum_sha256(sha256_b64(b"not the body"))
        .body(bytes_of(1000, 1).into())
        .send()
        .await;

    // Assert: refused, and no part was recorded.
    match t.kind {
        Kind::Embedded => {
            assert_eq!(failure(result), (400, "BadDigest".to_owned()));
            assert_eq!(part_numbers(t, &bucket, "k", &upload_id).await?, Vec::new());
        }
        Kind::Moto => {
            // moto 5.1 does not verify part checksums: the part is stored.
            assert!(result.is_ok(), "{result:?}");
        }
    }
    Ok(())
}

async fn complete_if_none_match_refuses_to_replace_an_existing_object(
    t: &mut Target,
) -> anyhow::Result<()> {
    // Arrange: the key already exists when the upload completes.
    let bucket = t.bucket("complete-conditional").await?;
    let key = "models/m/versions/7/manifest.json";
    let upload_id = t.create_sha256_upload(&bucket, key).await?;
    let part = t
        .upload_sha256_part(&bucket, key, &upload_id, 1, &bytes_of(64, 7))
        .await?;
    t.put(&bucket, key, b"first").send().await?;

    // Act
    let result = t
        .client
        .complete_multipart_upload()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .if_none_match("*")
        .multipart_upload(completed(vec![part]))
        .send()
        .await;

    // Assert: the existing object is untouched.
    assert_eq!(failure(result), (412, "PreconditionFailed".to_owned()));
    assert_eq!(t.get_bytes(&bucket, key).await?, b"first");
    Ok(())
}
