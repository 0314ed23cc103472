//! The upload API and the registry it publishes into, driven the way the
//! upload page drives them: JSON calls on a signed-in session, part bytes
//! PUT straight to presigned S3 URLs. Every test also looks at the bucket
//! itself, since "nothing changed" is a claim about storage, not about an
//! answer.
//!
//! Tests written as `async fn name(backend: Backend)` run twice through
//! [`on_both_backends!`]: on the embedded endpoint and with `--storage s3`
//! against moto. Where moto behaves differently by its own fault, the test
//! branches on `app.backend` and says what moto does.

mod abort;
mod access;
pub mod client;
mod completion;
mod crash;
mod instances;
mod janitor;
mod lease;
mod parts;
mod publish;
mod validation;
mod version_page;

use aws_sdk_s3::config::ResponseChecksumValidation;
use coffer_server::audit::{Action, AuditEvent};
use sha2::Digest as _;

use crate::support::TestApp;

/// One MiB.
pub const MIB: usize = 1 << 20;

/// The part size the server plans for files under 80 GiB.
pub const PART_SIZE: usize = 8 * MIB;

/// A file of two parts: a full one and a 4 KiB tail.
pub const TWO_PARTS: usize = PART_SIZE + 4096;

/// Hex SHA-256, as versions record it.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// `(key, upload id)` of every multipart upload open under `prefix`.
pub async fn open_multipart_uploads(app: &TestApp, prefix: &str) -> Vec<(String, String)> {
    let listed = app
        .s3()
        .list_multipart_uploads()
        .bucket(app.bucket())
        .prefix(prefix)
        .send()
        .await
        .expect("ListMultipartUploads");
    listed
        .uploads()
        .iter()
        .map(|upload| {
            (
                upload.key().unwrap_or_default().to_owned(),
                upload.upload_id().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every object key under `prefix`.
pub async fn keys_under(app: &TestApp, prefix: &str) -> Vec<String> {
    let listed = app
        .s3()
        .list_objects_v2()
        .bucket(app.bucket())
        .prefix(prefix)
        .send()
        .await
        .expect("ListObjectsV2");
    listed
        .contents()
        .iter()
        .filter_map(|object| object.key().map(str::to_owned))
        .collect()
}

/// The whole body of an object, read directly from the bucket.
pub async fn object_bytes(app: &TestApp, key: &str) -> Vec<u8> {
    // moto answers a multipart object's composite checksum without its
    // `-<parts>` suffix, so the SDK takes it for a whole-object checksum
    // and fails the read; the tests compare SHA-256s themselves.
    let config = app
        .s3()
        .config()
        .to_builder()
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    let object = aws_sdk_s3::Client::from_conf(config)
        .get_object()
        .bucket(app.bucket())
        .key(key)
        .send()
        .await
        .unwrap_or_else(|error| panic!("GetObject {key}: {error:?}"));
    let body = object.body.collect().await.expect("object body");
    body.into_bytes().to_vec()
}

/// The events of every audit record of one action, oldest first.
pub async fn audited(app: &TestApp, action: Action) -> Vec<AuditEvent> {
    app.audit_records()
        .await
        .into_iter()
        .filter(|record| record.event.action == action)
        .map(|record| record.event)
        .collect()
}

/// Defines `on_embedded::<name>` and `on_moto::<name>` for a test written
/// as `async fn name(backend: Backend)`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::Embedded).await;
                }
            )+
        }
        mod on_moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::Moto).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;
