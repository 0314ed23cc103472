//! The registry's records as they are stored.

use coffer_app::upload::api::{Metadata, VersionFile, VersionState, VersionView};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A model, created by its first upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub name: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A version number reserved for an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub version: u64,
    pub upload_id: String,
    pub claimed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub claimed_at: OffsetDateTime,
}

/// One stored file of a version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    /// Whole-file SHA-256, hex, as the uploader computed it.
    pub sha256: String,
    /// S3's checksum of the object: for a multipart upload, the SHA-256 of
    /// the part checksums with a `-<parts>` suffix. Empty when the storage
    /// keeps none.
    pub s3_checksum: String,
    /// The object's key in the artifact bucket.
    pub key: String,
}

/// A version's manifest: written once, when the version becomes available
/// or fails, and never again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub model: String,
    pub version: u64,
    pub state: VersionState,
    pub uploader: String,
    pub upload_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub description: String,
    pub metadata: Metadata,
    pub files: Vec<ManifestFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Manifest {
    /// The version's page.
    pub fn url(&self) -> String {
        format!("/models/{}/versions/{}", self.model, self.version)
    }

    /// Bytes in all files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }

    /// The version as the API shows it: no storage keys.
    pub fn view(&self) -> VersionView {
        VersionView {
            model: self.model.clone(),
            version: self.version,
            state: self.state,
            uploader: self.uploader.clone(),
            created_at: rfc3339(self.created_at),
            finished_at: rfc3339(self.finished_at),
            description: self.description.clone(),
            metadata: self.metadata.clone(),
            files: self
                .files
                .iter()
                .map(|file| VersionFile {
                    path: file.path.clone(),
                    size: file.size,
                    sha256: file.sha256.clone(),
                    s3_checksum: file.s3_checksum.clone(),
                })
                .collect(),
            failure: self.failure.clone(),
            url: self.url(),
            aliases: Vec::new(),
        }
    }
}

/// A timestamp as the API writes it.
pub fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_default()
}
