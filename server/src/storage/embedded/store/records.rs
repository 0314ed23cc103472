//! What the index keeps for buckets, objects, uploads and parts. Records are
//! JSON inside redb values: readable when debugging, and new optional fields
//! can be added without a migration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::storage::embedded::checksum::{Algorithm, Checksums, Digests};

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BucketRecord {
    /// Creation time, microseconds since the Unix epoch.
    pub(crate) created_us: i64,
}

/// Headers stored with an object and returned on GET and HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectMeta {
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_language: Option<String>,
    pub(crate) cache_control: Option<String>,
    /// `x-amz-meta-*` values, by name without the prefix.
    pub(crate) user: BTreeMap<String, String>,
}

/// The checksum an object answers with when asked (`ChecksumMode=ENABLED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredChecksum {
    pub(crate) algorithm: Algorithm,
    /// Base64; a composite value carries its `-N` suffix.
    pub(crate) value: String,
    /// True for a multipart object's checksum of part checksums.
    pub(crate) composite: bool,
}

/// A run of bytes of an object kept in one blob file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Segment {
    pub(crate) blob: String,
    pub(crate) size: u64,
}

/// A visible object: its bytes are the concatenation of its segments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ObjectRecord {
    pub(crate) size: u64,
    /// Without the surrounding quotes.
    pub(crate) etag: String,
    pub(crate) last_modified_us: i64,
    pub(crate) meta: ObjectMeta,
    pub(crate) checksum: Option<StoredChecksum>,
    /// Set for objects made by CompleteMultipartUpload.
    pub(crate) parts_count: Option<u32>,
    pub(crate) segments: Vec<Segment>,
}

impl ObjectRecord {
    /// The record of an object written whole in one request, before its
    /// blob is named: its ETag is the hex MD5 of its bytes.
    pub(crate) fn whole(
        digests: &Digests,
        content_type: &str,
        checksum: Option<StoredChecksum>,
    ) -> ObjectRecord {
        ObjectRecord {
            size: digests.size,
            etag: hex::encode(digests.md5),
            last_modified_us: now_us(),
            meta: ObjectMeta {
                content_type: Some(content_type.to_owned()),
                ..ObjectMeta::default()
            },
            checksum,
            parts_count: None,
            segments: Vec::new(),
        }
    }
}

/// An open multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) initiated_us: i64,
    /// Chosen at creation; every part is hashed with it.
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) meta: ObjectMeta,
}

/// One uploaded part of an open multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub(crate) size: u64,
    /// Hex MD5 of the part, the part's ETag without quotes.
    pub(crate) md5: String,
    pub(crate) checksums: Checksums,
    pub(crate) blob: String,
    pub(crate) last_modified_us: i64,
}

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_us() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}
