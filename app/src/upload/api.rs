//! The upload API's request and response bodies, shared by the server that
//! answers them and the browser that sends them. `docs/api.md` describes
//! the routes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Free-form facts about a version, chosen by its uploader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// The training framework (`pytorch`, `xgboost`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Named numbers (`accuracy` = 0.93).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

/// One file the uploader announces when starting an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDeclaration {
    /// The file's path inside the version, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Whole-file SHA-256 in hex, when the uploader knows it beforehand;
    /// completion must then report the same value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// An opaque string the browser uses to recognise the same local file
    /// after a reload (name, size, modification time, hash of the first
    /// part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// `POST /api/v1/models/{name}/uploads`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StartUpload {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub metadata: Metadata,
    pub files: Vec<FileDeclaration>,
}

/// A part the storage has received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedPart {
    pub number: u32,
    pub size: u64,
    /// The part's SHA-256 in base64, as S3 verified it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One file of an upload, as the server planned it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadFile {
    /// The file's position in the upload; part requests name files by it.
    pub index: usize,
    /// The normalised path inside the version.
    pub path: String,
    pub size: u64,
    /// Every part but the last has exactly this many bytes.
    pub part_size: u64,
    pub part_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Parts already stored; filled by the status route only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub received: Vec<ReceivedPart>,
}

/// An upload in progress: the answer to starting one and to asking about
/// one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub upload_id: String,
    pub model: String,
    /// The version this upload will publish; reserved at start.
    pub version: u64,
    pub description: String,
    pub metadata: Metadata,
    /// RFC 3339.
    pub created_at: String,
    pub files: Vec<UploadFile>,
    /// How many parts the browser should keep in flight.
    pub parallel_parts: u32,
}

/// `GET /api/v1/models/{name}/uploads`: the caller's open uploads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadList {
    pub uploads: Vec<UploadStatus>,
}

/// A part the browser is about to send, with its checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRequest {
    pub number: u32,
    /// The part's SHA-256 in base64; the URL signs it, so S3 refuses any
    /// other bytes.
    pub sha256: String,
}

/// `POST /api/v1/models/{name}/uploads/{id}/parts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsRequest {
    /// The file's index in the upload.
    pub file: usize,
    pub parts: Vec<PartRequest>,
}

/// A presigned part URL and the headers the PUT must carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartUrl {
    pub number: u32,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    /// RFC 3339; after it, ask again.
    pub expires_at: String,
}

/// The answer to a parts request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartUrls {
    pub parts: Vec<PartUrl>,
}

/// The whole-file checksum the browser computed while uploading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub index: usize,
    /// Hex.
    pub sha256: String,
}

/// `POST /api/v1/models/{name}/uploads/{id}/complete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompleteUpload {
    pub files: Vec<FileDigest>,
}

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    Uploading,
    Available,
    Failed,
}

/// A stored file of a version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFile {
    pub path: String,
    pub size: u64,
    /// Whole-file SHA-256 in hex.
    pub sha256: String,
    /// The checksum S3 keeps for the object (for multipart uploads, the
    /// SHA-256 of the part checksums, suffixed `-<parts>`).
    pub s3_checksum: String,
}

/// A version as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    pub model: String,
    pub version: u64,
    pub state: VersionState,
    pub uploader: String,
    /// RFC 3339: when the upload started.
    pub created_at: String,
    /// RFC 3339: when the version became available or failed.
    pub finished_at: String,
    pub description: String,
    pub metadata: Metadata,
    pub files: Vec<VersionFile>,
    /// Why a failed version failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The version's page.
    pub url: String,
    /// Aliases pointing at this version, sorted.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Bytes as people read them: `1.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(200 * 1024 * 1024), "200.0 MiB");
    }
}
