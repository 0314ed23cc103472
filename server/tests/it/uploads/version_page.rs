//! The page a finished upload links to, `/models/{name}/versions/{n}`,
//! rendered on the server from the published manifest.

use coffer_app::upload::api::{StartUpload, UploadStatus};
use reqwest::StatusCode;

use super::client::{Uploader, complete_request, start_request};
use super::sha256_hex;
use crate::support::TestApp;

/// Publishes one small file under a hostile path, with a hostile
/// description.
async fn publish_hostile_version(alice: &Uploader) -> String {
    let data = b"weights".as_slice();
    let mut request: StartUpload = start_request(&[("weights/<b>bold</b>.bin", data)]);
    request.description = "<script>alert('card')</script> retrained".to_owned();
    let answer = alice.try_start("page-test", &request).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let upload: UploadStatus = answer.json();
    alice.send_file(&upload, 0, data).await;
    let completed = alice
        .try_complete(&upload, &complete_request(&[data]))
        .await;
    assert_eq!(completed.status, StatusCode::OK, "{completed:?}");
    sha256_hex(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_page_lists_files_with_their_sha256_and_escapes_what_users_wrote() {
    // Arrange
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let digest = publish_hostile_version(&alice).await;

    // Act
    let page = alice
        .request_without_token(reqwest::Method::GET, "/models/page-test/versions/1")
        .send()
        .await
        .expect("page answers");
    let status = page.status();
    let html = page.text().await.expect("page body");

    // Assert: the file and its digest are there; user text is inert.
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&digest), "the SHA-256 is shown");
    assert!(html.contains("page-test · version 1"));
    assert!(
        html.contains("&lt;script&gt;alert"),
        "the description is escaped"
    );
    assert!(
        !html.contains("<script>alert"),
        "no user script reaches the page"
    );
    assert!(
        html.contains("weights/&lt;b&gt;bold&lt;/b&gt;.bin"),
        "the path is escaped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_may_read_the_version_page_and_users_without_a_role_may_not() {
    // Arrange
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let digest = publish_hostile_version(&alice).await;
    let carol = Uploader::sign_in(&app, "carol").await;
    let erin = Uploader::sign_in(&app, "erin").await;

    // Act
    let get = |user: &Uploader, path: &'static str| {
        user.request_without_token(reqwest::Method::GET, path)
            .send()
    };
    let for_carol = get(&carol, "/models/page-test/versions/1")
        .await
        .expect("answer");
    let for_erin = get(&erin, "/models/page-test/versions/1")
        .await
        .expect("answer");
    let missing = get(&carol, "/models/page-test/versions/2")
        .await
        .expect("answer");

    // Assert
    assert_eq!(for_carol.status(), StatusCode::OK);
    assert!(for_carol.text().await.expect("body").contains(&digest));
    assert_eq!(for_erin.status(), StatusCode::FORBIDDEN);
    assert!(!for_erin.text().await.expect("body").contains(&digest));
    let missing = missing.text().await.expect("body");
    assert!(
        missing.contains("Version not available"),
        "an unknown version says so"
    );
}
