//! Several server instances share one bucket: an upload started on one can
//! be continued and completed on another, since its session lives in the
//! bucket, not in a process.

use reqwest::StatusCode;

use super::client::{Uploader, complete_request, parts_of};
use super::{PART_SIZE, TWO_PARTS, sha256_hex};
use crate::s3::bytes_of;
use crate::support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_started_on_one_instance_finishes_on_another() {
    // Arrange: two instances on the same moto buckets; alice signs in on
    // the first and sends part 1 there.
    let first = TestApp::start_on(Backend::Moto, &[]).await;
    let second = first.another_instance().await;
    let alice = Uploader::sign_in(&first, "alice").await;
    let data = bytes_of(TWO_PARTS, 7);
    let upload = alice.start("shared", &[("model.bin", &data[..])]).await;
    let parts = parts_of(&data, PART_SIZE as u64);
    alice.send_parts(&upload, 0, &parts[..1]).await;

    // Act: the rest happens on the second instance.
    let elsewhere = alice.at_instance(&second);
    let status = elsewhere.status(&upload).await;
    elsewhere.send_parts(&upload, 0, &parts[1..]).await;
    let done = elsewhere
        .try_complete(&upload, &complete_request(&[&data]))
        .await;

    // Assert: the second instance saw part 1 and published the version,
    // which the first instance now serves too.
    assert_eq!(status.status, StatusCode::OK, "{status:?}");
    assert_eq!(status.body["files"][0]["received"][0]["number"], 1);
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    let version = alice.version("shared", 1).await;
    assert_eq!(version.status, StatusCode::OK);
    assert_eq!(version.body["files"][0]["sha256"], sha256_hex(&data));
}
