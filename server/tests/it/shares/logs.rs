//! The real binary, logging at debug, never prints a share token: not in
//! the request span's path, not in any message. The share id stands for
//! the link.

use std::time::Duration;

use coffer_app::upload::api::{PartUrls, UploadStatus};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::token_of;
use crate::downloads::encode_path;
use crate::process::{Launch, ServerProcess};
use crate::s3::bytes_of;
use crate::support::{Portal as _, browser, location, me, sign_in};
use crate::uploads::client::{complete_request, parts_request, start_request};
use crate::uploads::sha256_hex;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_share_token_never_reaches_the_logs() {
    // Arrange: the binary at debug, alice signed in with a version.
    let data = TempDir::new().expect("data folder");
    let mut server = Launch::new(data.path())
        .env("RUST_LOG", "debug")
        .start()
        .await;
    let client = browser();
    sign_in(&server, &client, "alice").await;
    let (_, me) = me(&server, &client).await;
    let csrf = me["csrf_token"].as_str().expect("CSRF token").to_owned();
    let data = bytes_of(1000, 1);
    publish(&server, &client, &csrf, "fraud", "a.bin", &data).await;

    // Act: a link is created, its page opened, a file fetched through it,
    // a wrong file asked for, the link revoked and tried again.
    let created: Value = client
        .post(server.at("/api/v1/shares"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "model": "fraud", "version": 1, "note": "for the log test" }))
        .send()
        .await
        .expect("POST a link")
        .json()
        .await
        .expect("created link");
    let token = token_of(created["url"].as_str().expect("url"));
    let id = created["id"].as_str().expect("id").to_owned();
    let recipient = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = recipient
        .get(server.at(&format!("/s/{token}")))
        .send()
        .await
        .expect("GET the page");
    assert!(!page.status().is_server_error());
    let file = format!("/s/{token}/files/{}", encode_path("a.bin"));
    let used = recipient
        .get(server.at(&file))
        .send()
        .await
        .expect("use the link");
    assert_eq!(used.status(), StatusCode::FOUND);
    let fetched = recipient.get(location(&used)).send().await.expect("fetch");
    assert_eq!(fetched.bytes().await.expect("bytes").as_ref(), data);
    let wrong = recipient
        .get(server.at(&format!("/s/{token}/files/b.bin")))
        .send()
        .await
        .expect("wrong file");
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let revoked = client
        .delete(server.at(&format!("/api/v1/shares/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);
    let gone = recipient
        .get(server.at(&file))
        .send()
        .await
        .expect("use again");
    assert_eq!(gone.status(), StatusCode::GONE);

    // Assert: after a clean stop, the output names the link by id and
    // holds neither the token nor its hash.
    let status = server.terminate(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|status| status.success()));
    let output = server.output();
    if let Some(line) = output.lines().find(|line| line.contains(&token)) {
        panic!("the share token is in the log:\n{line}");
    }

    // The hash opens nothing, but it appears only as the name of the
    // token's index object, which debug lines about storage name.
    let hash = sha256_hex(token.as_bytes());
    let index_key = format!("registry/shares/tokens/{hash}.json");
    for line in output.lines().filter(|line| line.contains(&hash)) {
        assert_eq!(
            line.matches(&hash).count(),
            line.matches(&index_key).count(),
            "the token's hash is in the log outside its index key:\n{line}"
        );
    }
    assert!(output.contains(&id), "the share id is logged");
    assert!(
        output.contains("/s/…/files/a.bin"),
        "the path is logged redacted"
    );
}

/// Publishes a one-file version through the API, as the upload page does.
async fn publish(
    server: &ServerProcess,
    client: &Client,
    csrf: &str,
    model: &str,
    path: &str,
    data: &[u8],
) {
    // Start, with one part for a small file.
    let started = client
        .post(server.at(&format!("/api/v1/models/{model}/uploads")))
        .header("x-csrf-token", csrf)
        .json(&start_request(&[(path, data)]))
        .send()
        .await
        .expect("start");
    assert_eq!(started.status(), StatusCode::CREATED);
    let upload: UploadStatus = started.json().await.expect("upload");
    let base = format!("/api/v1/models/{model}/uploads/{}", upload.upload_id);

    // Sign the part and send it straight to S3.
    let urls: PartUrls = client
        .post(server.at(&format!("{base}/parts")))
        .header("x-csrf-token", csrf)
        .json(&parts_request(0, &[(1, data)]))
        .send()
        .await
        .expect("sign")
        .json()
        .await
        .expect("part URLs");
    let part = &urls.parts[0];
    let mut put = Client::new().put(&part.url);
    for (name, value) in &part.headers {
        put = put.header(name, value);
    }
    let sent = put.body(data.to_vec()).send().await.expect("PUT part");
    assert_eq!(sent.status(), StatusCode::OK);

    // Complete with the file's SHA-256.
    let completed = client
        .post(server.at(&format!("{base}/complete")))
        .header("x-csrf-token", csrf)
        .json(&complete_request(&[data]))
        .send()
        .await
        .expect("complete");
    assert_eq!(completed.status(), StatusCode::OK);
}
