//! What a download redirects to: a presigned GET that S3 honours without
//! any of Coffer's cookies, whose bytes are the recorded ones, which
//! forces an attachment of an opaque type under an RFC 6266 name, and
//! whose signed query names the request for the S3 access log.

use std::time::{Duration, Instant};

use coffer_app::upload::api::VersionView;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};

use super::{ask, assert_download_redirect, follow, query_of, request_id};
use crate::s3::bytes_of;
use crate::support::{Backend, TestApp, location};
use crate::uploads::client::Uploader;
use crate::uploads::{TWO_PARTS, on_both_backends, sha256_hex};

on_both_backends!(
    downloaded_bytes_match_the_recorded_sha256,
    an_html_file_downloads_as_an_attachment_and_never_renders,
    a_non_ascii_quoted_name_gets_an_rfc_6266_header,
);

/// The `Content-Disposition` a file named `modèle "v1".bin` gets.
const QUOTED_NON_ASCII: &str =
    "attachment; filename=\"mod_le _v1_.bin\"; filename*=UTF-8''mod%C3%A8le%20%22v1%22.bin";

async fn downloaded_bytes_match_the_recorded_sha256(backend: Backend) {
    // Arrange: a version with a multipart file and a small one.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let big = bytes_of(TWO_PARTS, 5);
    let small = bytes_of(3000, 6);
    let version: VersionView = alice
        .publish("fraud", &[("big.bin", &big), ("nested/small.bin", &small)])
        .await;

    for file in &version.files {
        // Act
        let redirect = ask(&alice, "fraud", 1, &file.path).await;
        assert_download_redirect(&app, &redirect, 300);
        let fetched = follow(&redirect).await;

        // Assert: S3 serves exactly the bytes the version recorded.
        assert_eq!(fetched.status, StatusCode::OK, "{}", file.path);
        assert_eq!(sha256_hex(&fetched.body), file.sha256, "{}", file.path);
    }
}

async fn an_html_file_downloads_as_an_attachment_and_never_renders(backend: Backend) {
    // Arrange: a page that would run a script if a browser rendered it.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let page = b"<!doctype html><script>alert(document.cookie)</script>".to_vec();
    alice.publish("fraud", &[("site/index.html", &page)]).await;

    // Act
    let redirect = ask(&alice, "fraud", 1, "site/index.html").await;
    let query = query_of(&redirect);
    let fetched = follow(&redirect).await;

    // Assert: the URL asks for an attachment of an opaque type...
    let expected = "attachment; filename=\"index.html\"; filename*=UTF-8''index.html";
    assert_eq!(
        query
            .get("response-content-disposition")
            .map(String::as_str),
        Some(expected)
    );
    assert_eq!(
        query.get("response-content-type").map(String::as_str),
        Some("application/octet-stream")
    );
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, page);

    // ...and the embedded endpoint answers with it. moto ignores
    // `response-*` overrides, so only the query can be checked there.
    if backend == Backend::Embedded {
        assert_eq!(header(&fetched.headers, CONTENT_DISPOSITION), expected);
        assert_eq!(
            header(&fetched.headers, CONTENT_TYPE),
            "application/octet-stream"
        );
    }
}

async fn a_non_ascii_quoted_name_gets_an_rfc_6266_header(backend: Backend) {
    // Arrange: a name with an accent and quotes, in a folder.
    let app = TestApp::start_on(backend, &[]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let path = "docs/modèle \"v1\".bin";
    let data = bytes_of(500, 7);
    alice.publish("fraud", &[(path, &data)]).await;

    // Act
    let redirect = ask(&alice, "fraud", 1, path).await;
    let query = query_of(&redirect);
    let fetched = follow(&redirect).await;

    // Assert: an ASCII fallback and the exact name in UTF-8.
    assert_eq!(
        query
            .get("response-content-disposition")
            .map(String::as_str),
        Some(QUOTED_NON_ASCII)
    );
    assert_eq!(fetched.body, data);
    if backend == Backend::Embedded {
        assert_eq!(
            header(&fetched.headers, CONTENT_DISPOSITION),
            QUOTED_NON_ASCII
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_signed_into_the_url() {
    // Arrange: a download URL.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 8))])
        .await;
    let redirect = ask(&alice, "fraud", 1, "a.bin").await;
    let genuine = location(&redirect).to_string();
    let tag = format!("x-coffer-request={}", request_id(&redirect));
    assert!(genuine.contains(&tag), "{genuine}");

    // Act: the same URL naming another request, and the URL as minted.
    let forged = genuine.replace(&tag, "x-coffer-request=someone-else");
    let forged_answer = reqwest::get(&forged).await.expect("GET the forged URL");
    let genuine_answer = reqwest::get(&genuine).await.expect("GET the URL");

    // Assert: the embedded endpoint, which checks signatures as S3 does,
    // refuses the forgery and serves the original.
    assert_eq!(forged_answer.status(), StatusCode::FORBIDDEN);
    assert_eq!(genuine_answer.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_reaches_the_s3_access_log() {
    // Arrange: an endpoint that flushes its access log every second.
    let app = TestApp::start_with(&["--access-log-flush-secs", "1"]).await;
    let alice = Uploader::sign_in(&app, "alice").await;
    alice
        .publish("fraud", &[("a.bin", &bytes_of(100, 9))])
        .await;

    // Act: a download, fetched from S3.
    let redirect = ask(&alice, "fraud", 1, "a.bin").await;
    let id = request_id(&redirect);
    assert_eq!(follow(&redirect).await.status, StatusCode::OK);

    // Assert: a GET line of the access log carries the request id.
    let needle = format!("x-coffer-request={id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = access_log_lines(&app).await;
        if let Some(line) = lines.iter().find(|line| line.contains(&needle)) {
            assert!(line.contains("REST.GET.OBJECT"), "{line}");
            assert!(line.contains(" 200 "), "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no access log line has {needle}:\n{}",
            lines.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every line of the embedded endpoint's access logs so far.
async fn access_log_lines(app: &TestApp) -> Vec<String> {
    let storage = &app.running().state.storage;
    let listed = app
        .s3()
        .list_objects_v2()
        .bucket(storage.log_bucket())
        .prefix("s3-access/")
        .send()
        .await
        .expect("list access logs");
    let mut lines = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap_or_default();
        let body = app
            .s3()
            .get_object()
            .bucket(storage.log_bucket())
            .key(key)
            .send()
            .await
            .expect("read an access log")
            .body
            .collect()
            .await
            .expect("log body")
            .into_bytes();
        lines.extend(String::from_utf8_lossy(&body).lines().map(str::to_owned));
    }
    lines
}

/// A response header as text.
fn header(headers: &reqwest::header::HeaderMap, name: reqwest::header::HeaderName) -> String {
    headers
        .get(&name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
