//! Presigned URLs used over plain HTTP, as the browser and share links use
//! them, and uploads cut off halfway.

use std::time::Duration;

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use tokio::io::AsyncWriteExt as _;

use super::{Kind, Target, bytes_of, on_both_servers, sha256_b64};

on_both_servers!(
    presigned_put_and_get_work_over_plain_http,
    a_tampered_presigned_url_is_refused,
    a_presigned_part_url_binds_the_part_to_its_signed_checksum,
    an_interrupted_upload_leaves_nothing_visible,
);

fn five_minutes() -> anyhow::Result<PresigningConfig> {
    Ok(PresigningConfig::expires_in(Duration::from_secs(300))?)
}

/// Sends a presigned request with its signed headers and a body.
async fn send(
    t: &Target,
    presigned: &PresignedRequest,
    body: Vec<u8>,
) -> anyhow::Result<reqwest::Response> {
    let method = reqwest::Method::from_bytes(presigned.method().as_bytes())?;
    let mut request = t.http.request(method, presigned.uri());
    for (name, value) in presigned.headers() {
        request = request.header(name, value);
    }
    Ok(request.body(body).send().await?)
}

async fn presigned_put_and_get_work_over_plain_http(t: &mut Target) -> anyhow::Result<()> {
    // Arrange
    let bucket = t.bucket("presigned").await?;
    let body = bytes_of(50_000, 8);
    let put = t
        .client
        .put_object()
        .bucket(&bucket)
        .key("shared/file.bin")
        .presigned(five_minutes()?)
        .await?;
    let get = t
        .client
        .get_object()
        .bucket(&bucket)
        .key("shared/file.bin")
        .response_content_disposition("attachment; filename=\"file.bin\"")
        .presigned(five_minutes()?)
        .await?;

    // Act
    let stored = send(t, &put, body.clone()).await?;
    let fetched = send(t, &get, Vec::new()).await?;

    // Assert
    assert_eq!(stored.status(), 200);
    assert!(stored.headers().contains_key("etag"));
    assert_eq!(fetched.status(), 200);
    let disposition = fetched
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if t.kind == Kind::Embedded {
        // moto 5.1 ignores response-content-disposition; S3 honours it.
        assert_eq!(
            disposition.as_deref(),
            Some("attachment; filename=\"file.bin\"")
        );
    }
    assert_eq!(fetched.bytes().await?.to_vec(), body);
    Ok(())
}

async fn a_tampered_presigned_url_is_refused(t: &mut Target) -> anyhow::Result<()> {
    // Arrange: a valid URL for one key, then the same URL aimed elsewhere.
    let bucket = t.bucket("tamper").await?;
    t.put(&bucket, "a", b"secret a").send().await?;
    t.put(&bucket, "b", b"secret b").send().await?;
    let get = t
        .client
        .get_object()
        .bucket(&bucket)
        .key("a")
        .presigned(five_minutes()?)
        .await?;
    let other_key = get
        .uri()
        .replacen(&format!("/{bucket}/a?"), &format!("/{bucket}/b?"), 1);
    let longer = get
        .uri()
        .replacen("X-Amz-Expires=300", "X-Amz-Expires=600", 1);

    // Act
    let honest = t.http.get(get.uri()).send().await?;
    let swapped = t.http.get(&other_key).send().await?;
    let extended = t.http.get(&longer).send().await?;

    // Assert
    assert_eq!(honest.status(), 200);
    match t.kind {
        Kind::Embedded => {
            assert_eq!(swapped.status(), 403);
            assert_eq!(extended.status(), 403);
            let body = swapped.text().await?;
            assert!(body.contains("SignatureDoesNotMatch"), "{body}");
        }
        Kind::Moto => {
            // moto 5.1 does not verify SigV4 signatures, presigned or not:
            // a tampered URL is served. Only the embedded endpoint (and
            // real S3) refuse it.
            assert_eq!(swapped.status(), 200);
        }
    }
    Ok(())
}

async fn a_presigned_part_url_binds_the_part_to_its_signed_checksum(
    t: &mut Target,
) -> anyhow::Result<()> {
    // Arrange: a part URL that signs the SHA-256 of the intended body.
    let bucket = t.bucket("presigned-part").await?;
    let upload_id = t.create_sha256_upload(&bucket, "big.bin").await?;
    let intended = bytes_of(70_000, 1);
    let part = t
        .client
        .upload_part()
        .bucket(&bucket)
        .key("big.bin")
        .upload_id(&upload_id)
        .part_number(1)
        .checksum_sha256(sha256_b64(&intended))
        .presigned(five_minutes()?)
        .await?;
    let signs_checksum = part
        .uri()
        .to_ascii_lowercase()
        .contains("x-amz-checksum-sha256")
        || part
            .headers()
            .any(|(name, _)| name.eq_ignore_ascii_case("x-amz-checksum-sha256"));

    // Act: send a different body first, then the intended one.
    let swapped = send(t, &part, bytes_of(70_000, 2)).await?;
    let swapped_status = swapped.status();
    let swapped_body = swapped.text().await?;
    let honest = send(t, &part, intended.clone()).await?;
    let honest_status = honest.status();
    let honest_etag = honest
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    // Assert: only the intended body becomes the part.
    assert!(
        signs_checksum,
        "the SDK should carry the checksum into the presigned request"
    );
    assert_eq!(honest_status, 200);
    assert!(honest_etag.is_some());
    match t.kind {
        Kind::Embedded => {
            assert_eq!(swapped_status, 400, "{swapped_body}");
            assert!(swapped_body.contains("BadDigest"), "{swapped_body}");
            let parts = t
                .client
                .list_parts()
                .bucket(&bucket)
                .key("big.bin")
                .upload_id(&upload_id)
                .send()
                .await?;
            assert_eq!(parts.parts().len(), 1);
            assert_eq!(parts.parts()[0].size(), Some(70_000));
        }
        Kind::Moto => {
            // moto 5.1 checks neither the signature nor the checksum, so
            // the swapped body is stored as the part (then replaced by the
            // honest one). Real S3 refuses it: this is the embedded
            // endpoint's behaviour, and what Coffer relies on.
            assert_eq!(swapped_status, 200, "{swapped_body}");
        }
    }
    Ok(())
}

async fn an_interrupted_upload_leaves_nothing_visible(t: &mut Target) -> anyhow::Result<()> {
    // Arrange: a presigned PUT promising 1 MiB.
    let bucket = t.bucket("interrupted").await?;
    let put = t
        .client
        .put_object()
        .bucket(&bucket)
        .key("half.bin")
        .presigned(five_minutes()?)
        .await?;
    let url = reqwest::Url::parse(put.uri())?;
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(80)
    );
    let target = format!("{}?{}", url.path(), url.query().unwrap_or(""));

    // Act: send half the body and hang up.
    let mut stream = tokio::net::TcpStream::connect(&host).await?;
    let head = format!("PUT {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1048576\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&bytes_of(512 * 1024, 3)).await?;
    stream.flush().await?;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Assert: no object, no listing entry; and for the embedded endpoint no
    // leftover temporary file either.
    let head = t
        .client
        .head_object()
        .bucket(&bucket)
        .key("half.bin")
        .send()
        .await;
    assert!(head.is_err(), "a half-sent object is visible: {head:?}");
    let listed = t.client.list_objects_v2().bucket(&bucket).send().await?;
    assert!(listed.contents().is_empty());
    if let Some(dir) = &t.data_dir {
        let tmp = dir.path().join("s3").join("tmp");
        let mut leftovers = 1;
        for _ in 0..50 {
            leftovers = std::fs::read_dir(&tmp)?.count();
            if leftovers == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(leftovers, 0, "a temporary body was left behind");
    }

    // A complete upload through the same URL still works.
    let done = send(t, &put, b"whole".to_vec()).await?;
    assert_eq!(done.status(), 200);
    assert_eq!(t.get_bytes(&bucket, "half.bin").await?, b"whole");
    Ok(())
}
