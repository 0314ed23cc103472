//! Behaviour only the embedded endpoint has, or where moto differs in kind:
//! CORS (moto's server answers every origin with `*`), access logs (moto
//! writes none), and what happens to the data folder across restarts.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::CompletedMultipartUpload;
use coffer_server::storage::embedded::split_log_line;

use super::{LOG_BUCKET, PORTAL_ORIGIN, Target, bytes_of};

async fn preflight(t: &Target, origin: &str, headers: &str) -> anyhow::Result<reqwest::Response> {
    let url = format!(
        "{}/coffer-artifacts/uploads/part?partNumber=1&uploadId=x",
        t.endpoint
    );
    Ok(t.http
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", headers)
        .send()
        .await?)
}

#[tokio::test]
async fn cors_preflight_allows_only_the_portal_origin() -> anyhow::Result<()> {
    // Arrange
    let t = Target::embedded().await?;

    // Act
    let portal = preflight(&t, PORTAL_ORIGIN, "content-type,x-amz-checksum-sha256").await?;
    let other = preflight(&t, "http://evil.example", "content-type").await?;
    let null = preflight(&t, "null", "content-type").await?;

    // Assert
    assert_eq!(portal.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&portal, "access-control-allow-origin").as_deref(),
        Some(PORTAL_ORIGIN)
    );
    assert!(header(&portal, "access-control-allow-methods").is_some_and(|m| m.contains("PUT")));
    assert!(
        header(&portal, "access-control-allow-headers")
            .is_some_and(|h| h.contains("x-amz-checksum-sha256"))
    );
    assert!(header(&portal, "access-control-expose-headers").is_some_and(|h| h.contains("ETag")));
    for refused in [other, null] {
        assert_eq!(refused.status(), 403);
        assert_eq!(header(&refused, "access-control-allow-origin"), None);
    }
    Ok(())
}

#[tokio::test]
async fn actual_responses_expose_etag_to_the_portal_only() -> anyhow::Result<()> {
    // Arrange
    let t = Target::embedded().await?;
    let put = t
        .client
        .put_object()
        .bucket("coffer-artifacts")
        .key("cors")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;

    // Act
    let ours = t
        .http
        .put(put.uri())
        .header("origin", PORTAL_ORIGIN)
        .body("x")
        .send()
        .await?;
    let theirs = t
        .http
        .put(put.uri())
        .header("origin", "http://evil.example")
        .body("x")
        .send()
        .await?;

    // Assert
    assert_eq!(ours.status(), 200);
    assert_eq!(
        ours.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(PORTAL_ORIGIN)
    );
    assert!(
        ours.headers()
            .get("access-control-expose-headers")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|h| h.contains("ETag"))
    );
    assert!(
        theirs
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    Ok(())
}

/// Every access log line written so far.
async fn log_lines(t: &Target) -> anyhow::Result<Vec<String>> {
    let listed = t
        .client
        .list_objects_v2()
        .bucket(LOG_BUCKET)
        .prefix("s3-access/")
        .send()
        .await?;
    let mut lines = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap_or_default();
        let name = key.trim_start_matches("s3-access/");
        assert_eq!(
            name.len(),
            "2019-02-06-00-00-38-".len() + 16,
            "log object name {key}"
        );
        let text = String::from_utf8(t.get_bytes(LOG_BUCKET, key).await?)?;
        lines.extend(text.lines().map(str::to_owned));
    }
    Ok(lines)
}

#[tokio::test]
async fn access_logs_are_written_in_aws_format_without_signatures() -> anyhow::Result<()> {
    // Arrange: a presigned upload, a signed miss and a preflight.
    let t = Target::embedded().await?;
    let put = t
        .client
        .put_object()
        .bucket("coffer-artifacts")
        .key("models/a b.bin")
        .customize()
        .mutate_request(|request| {
            // An opaque x- parameter joins a log line to an audit record.
            let separator = if request.uri().contains('?') {
                '&'
            } else {
                '?'
            };
            let uri = format!("{}{separator}x-coffer-request=req-42", request.uri());
            let _ = request.set_uri(uri);
        })
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60))?)
        .await?;
    let signature = put
        .uri()
        .split('&')
        .find_map(|pair| {
            pair.split_once("X-Amz-Signature=")
                .map(|(_, v)| v.to_owned())
        })
        .unwrap_or_default();
    assert!(put.uri().contains("x-coffer-request=req-42"));
    assert_eq!(
        t.http.put(put.uri()).body("hello").send().await?.status(),
        200
    );
    let miss = t
        .client
        .get_object()
        .bucket("coffer-artifacts")
        .key("missing")
        .send()
        .await;
    assert!(miss.is_err());
    preflight(&t, PORTAL_ORIGIN, "content-type").await?;

    // Act: flush until the three lines are there (each is written when its
    // response has been sent).
    let server = t
        .embedded
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no server"))?;
    let mut lines = Vec::new();
    for _ in 0..50 {
        server.flush_access_log().await?;
        lines = log_lines(&t).await?;
        if lines.iter().any(|l| l.contains("REST.OPTIONS.PREFLIGHT"))
            && lines.iter().any(|l| l.contains("NoSuchKey"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert: the presigned PUT line.
    let all = lines.join("\n");
    assert!(
        !signature.is_empty() && !all.contains(&signature),
        "a signature reached the log"
    );
    let put_line = lines
        .iter()
        .map(|l| split_log_line(l))
        .find(|f| f.get(6).map(String::as_str) == Some("REST.PUT.OBJECT"));
    let put_line = put_line.ok_or_else(|| anyhow::anyhow!("no PUT line in {all}"))?;
    assert_eq!(put_line.len(), 27, "{put_line:?}");
    assert_eq!(put_line[1], "coffer-artifacts");
    assert!(put_line[2].starts_with('[') && put_line[2].ends_with(" +0000]"));
    assert_eq!(put_line[3], "127.0.0.1");
    assert_eq!(put_line[4].len(), 64, "requester is a canonical id");
    assert_eq!(put_line[7], "models/a%20b.bin");
    assert!(put_line[8].starts_with("\"PUT /coffer-artifacts/models/a%20b.bin?"));
    assert!(put_line[8].contains("X-Amz-Signature=REDACTED"));
    assert!(put_line[8].contains("x-coffer-request=req-42"));
    assert_eq!(put_line[9], "200");
    assert_eq!(put_line[10], "-");
    assert_eq!(put_line[12], "5");
    assert_eq!(put_line[19], "SigV4");
    assert_eq!(put_line[21], "QueryString");
    assert_eq!(put_line[26], "us-east-1");

    // The signed miss and the preflight.
    let miss_line = lines
        .iter()
        .map(|l| split_log_line(l))
        .find(|f| f.get(10).map(String::as_str) == Some("NoSuchKey"));
    let miss_line = miss_line.ok_or_else(|| anyhow::anyhow!("no NoSuchKey line in {all}"))?;
    assert_eq!(
        (
            miss_line[6].as_str(),
            miss_line[9].as_str(),
            miss_line[21].as_str()
        ),
        ("REST.GET.OBJECT", "404", "AuthHeader")
    );
    let preflight_line = lines
        .iter()
        .map(|l| split_log_line(l))
        .find(|f| f.get(6).map(String::as_str) == Some("REST.OPTIONS.PREFLIGHT"));
    let preflight_line =
        preflight_line.ok_or_else(|| anyhow::anyhow!("no preflight line in {all}"))?;
    assert_eq!(
        (preflight_line[4].as_str(), preflight_line[21].as_str()),
        ("-", "-")
    );
    Ok(())
}

#[tokio::test]
async fn shutdown_writes_the_last_log_lines() -> anyhow::Result<()> {
    // Arrange
    let mut t = Target::embedded().await?;
    t.put("coffer-artifacts", "k", b"x").send().await?;

    // Act
    t.restart_embedded().await?;

    // Assert
    let lines = log_lines(&t).await?;
    assert!(
        lines.iter().any(|l| l.contains("REST.PUT.OBJECT")),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test]
async fn objects_and_open_uploads_survive_a_restart() -> anyhow::Result<()> {
    // Arrange: an object and an upload with one part, then a restart.
    let mut t = Target::embedded().await?;
    let body = bytes_of(100_000, 6);
    t.put("coffer-artifacts", "kept", body.clone())
        .send()
        .await?;
    let upload_id = t
        .create_sha256_upload("coffer-artifacts", "resumed")
        .await?;
    let part = bytes_of(1000, 7);
    let uploaded = t
        .upload_sha256_part("coffer-artifacts", "resumed", &upload_id, 1, &part)
        .await?;

    // Act
    t.restart_embedded().await?;

    // Assert: the object reads back and the upload completes.
    assert_eq!(t.get_bytes("coffer-artifacts", "kept").await?, body);
    let completed = CompletedMultipartUpload::builder().parts(uploaded).build();
    t.client
        .complete_multipart_upload()
        .bucket("coffer-artifacts")
        .key("resumed")
        .upload_id(&upload_id)
        .multipart_upload(completed)
        .send()
        .await?;
    assert_eq!(t.get_bytes("coffer-artifacts", "resumed").await?, part);
    Ok(())
}

#[tokio::test]
async fn what_a_crash_leaves_behind_is_cleared_at_start() -> anyhow::Result<()> {
    // Arrange: a live object, then files a crash could leave: a temporary
    // body and a blob renamed into place whose index commit never happened.
    let mut t = Target::embedded().await?;
    t.put("coffer-artifacts", "live", b"live").send().await?;
    t.stop_embedded().await?;
    let root = t
        .data_dir
        .as_ref()
        .map(|d| d.path().join("s3"))
        .ok_or_else(|| anyhow::anyhow!("no data dir"))?;
    std::fs::write(
        root.join("tmp").join("0123456789abcdef0123456789abcdef"),
        b"half",
    )?;
    std::fs::write(
        root.join("blobs").join("fedcba9876543210fedcba9876543210"),
        b"orphan",
    )?;
    let blobs_before = std::fs::read_dir(root.join("blobs"))?.count();

    // Act
    t.restart_embedded().await?;

    // Assert: the leftovers are gone, the live object is intact.
    assert_eq!(std::fs::read_dir(root.join("tmp"))?.count(), 0);
    assert_eq!(
        std::fs::read_dir(root.join("blobs"))?.count(),
        blobs_before - 1
    );
    assert_eq!(t.get_bytes("coffer-artifacts", "live").await?, b"live");
    let listed = t
        .client
        .list_objects_v2()
        .bucket("coffer-artifacts")
        .send()
        .await?;
    assert_eq!(listed.contents().len(), 1);
    Ok(())
}

#[tokio::test]
async fn requests_without_a_valid_signature_are_refused() -> anyhow::Result<()> {
    // Arrange
    let t = Target::embedded().await?;
    let url = format!("{}/coffer-artifacts/anything", t.endpoint);

    // Act
    let anonymous = t.http.get(&url).send().await?;
    let forged = t
        .http
        .get(&url)
        .header("authorization", "AWS4-HMAC-SHA256 Credential=CFRTESTACCESSKEY0001/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
        .header("x-amz-date", "20240101T000000Z")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .send()
        .await?;

    // Assert
    assert_eq!(anonymous.status(), 403);
    assert_eq!(forged.status(), 403);
    Ok(())
}
