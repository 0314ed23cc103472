//! Part URLs: each one signs its part's SHA-256, so S3 itself refuses any
//! other bytes, and the API signs only parts inside the plan.

use coffer_app::upload::api::{PartRequest, PartsRequest};
use reqwest::StatusCode;

use super::TWO_PARTS;
use super::client::{Uploader, parts_of, parts_request};
use crate::s3::{bytes_of, sha256_b64};
use crate::support::TestApp;

// moto verifies neither checksums nor signatures, so these run on the
// embedded endpoint only.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_whose_bytes_differ_from_the_signed_checksum_is_refused_by_the_endpoint() {
    // Arrange: a URL signed for the file's true bytes, and other bytes of
    // the same length.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(4096, 7);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    let url = alice.sign(&upload, 0, &[(1, &data)]).await.remove(0);
    let mut other = data.clone();
    other[100] ^= 0xff;

    // Act: send the other bytes with the signed headers, then with their
    // own checksum in place of the signed one.
    let (as_signed, as_signed_body) = alice.put_part(&url, &other).await;
    let mut reheadered = url.clone();
    reheadered
        .headers
        .insert("x-amz-checksum-sha256".into(), sha256_b64(&other));
    let (swapped, swapped_body) = alice.put_part(&reheadered, &other).await;

    // Assert: S3 refuses both and holds no part; the true bytes still go.
    assert_eq!(as_signed, StatusCode::BAD_REQUEST, "{as_signed_body}");
    assert!(as_signed_body.contains("BadDigest"), "{as_signed_body}");
    assert_eq!(swapped, StatusCode::FORBIDDEN, "{swapped_body}");
    assert!(
        swapped_body.contains("SignatureDoesNotMatch"),
        "{swapped_body}"
    );
    let status = alice.status(&upload).await;
    assert_eq!(status.body["files"][0].get("received"), None, "{status:?}");
    assert_eq!(alice.put_part(&url, &data).await.0, StatusCode::OK);
    let status = alice.status(&upload).await;
    assert_eq!(
        status.body["files"][0]["received"][0]["sha256"],
        sha256_b64(&data)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_requests_outside_the_plan_are_refused_with_a_clear_400() {
    // Arrange: a two-part file.
    let app = TestApp::start().await;
    let alice = Uploader::sign_in(&app, "alice").await;
    let data = bytes_of(TWO_PARTS, 8);
    let upload = alice.start("fraud", &[("model.bin", &data)]).await;
    let part = |number: u32, sha256: &str| PartRequest {
        number,
        sha256: sha256.to_owned(),
    };
    let good = sha256_b64(b"x");
    let too_many = PartsRequest {
        file: 0,
        parts: (0..101).map(|_| part(1, &good)).collect(),
    };
    let cases = [
        (parts_request(0, &[(0, b"x")]), "part 0 does not exist"),
        (parts_request(0, &[(3, b"x")]), "has parts 1 to 2; part 3"),
        (parts_request(1, &[(1, b"x")]), "has no file 1"),
        (too_many, "1 to 100 parts"),
        (
            PartsRequest {
                file: 0,
                parts: Vec::new(),
            },
            "1 to 100 parts",
        ),
        (
            PartsRequest {
                file: 0,
                parts: vec![part(1, "not base64!")],
            },
            "must be base64",
        ),
        (
            PartsRequest {
                file: 0,
                parts: vec![part(1, "AAAA")],
            },
            "32 bytes",
        ),
    ];

    for (request, message) in cases {
        // Act
        let answer = alice.try_sign(&upload, &request).await;

        // Assert
        answer.assert_error(StatusCode::BAD_REQUEST, "bad_request", message);
    }
    let in_plan = alice
        .sign(&upload, 0, &parts_of(&data, upload.files[0].part_size))
        .await;
    assert_eq!(in_plan.len(), 2);
    assert!(
        in_plan
            .iter()
            .all(|url| url.headers.contains_key("x-amz-checksum-sha256"))
    );
}
