//! An upload in progress, as kept in the bucket so that any server
//! instance can continue it.
//!
//! The session lives at `registry/uploads/<id>.json`; an empty marker at
//! `registry/uploads-by-owner/<owner>/<id>` lets a user's own uploads be
//! listed without reading everyone's.

use coffer_app::upload::api::{Metadata, UploadFile, UploadStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::auth::SessionUser;
use crate::registry::manifest::rfc3339;

/// Where upload sessions live.
pub const SESSION_PREFIX: &str = "registry/uploads/";

/// Where the per-owner markers live.
pub const OWNER_PREFIX: &str = "registry/uploads-by-owner/";

/// Who started an upload: users are keyed by issuer and subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub issuer: String,
    pub subject: String,
    pub username: String,
}

impl Owner {
    pub fn of(user: &SessionUser) -> Owner {
        Owner {
            issuer: user.issuer.clone(),
            subject: user.subject.clone(),
            username: user.username.clone(),
        }
    }

    /// Whether `user` is this owner.
    pub fn is(&self, user: &SessionUser) -> bool {
        self.issuer == user.issuer && self.subject == user.subject
    }

    /// A stable, opaque folder name for the owner's markers.
    pub fn folder(&self) -> String {
        owner_folder(&self.issuer, &self.subject)
    }
}

/// The marker folder of a user.
pub fn owner_folder(issuer: &str, subject: &str) -> String {
    let digest = Sha256::digest(format!("{issuer}\n{subject}").as_bytes());
    hex::encode(&digest[..16])
}

/// One file of an upload session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFile {
    pub index: usize,
    pub path: String,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    /// The artifact's key, minted by the server.
    pub key: String,
    /// The S3 multipart upload carrying the file.
    pub multipart_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// An upload session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadSession {
    pub upload_id: String,
    pub model: String,
    pub version: u64,
    pub owner: Owner,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub description: String,
    pub metadata: Metadata,
    pub files: Vec<SessionFile>,
}

impl UploadSession {
    pub fn key(upload_id: &str) -> String {
        format!("{SESSION_PREFIX}{upload_id}.json")
    }

    pub fn marker_key(&self) -> String {
        format!("{OWNER_PREFIX}{}/{}", self.owner.folder(), self.upload_id)
    }

    /// The session as its owner sees it, without storage keys.
    pub fn status(&self, parallel_parts: u32) -> UploadStatus {
        UploadStatus {
            upload_id: self.upload_id.clone(),
            model: self.model.clone(),
            version: self.version,
            description: self.description.clone(),
            metadata: self.metadata.clone(),
            created_at: rfc3339(self.created_at),
            files: self
                .files
                .iter()
                .map(|file| UploadFile {
                    index: file.index,
                    path: file.path.clone(),
                    size: file.size,
                    part_size: file.part_size,
                    part_count: file.part_count,
                    fingerprint: file.fingerprint.clone(),
                    received: Vec::new(),
                })
                .collect(),
            parallel_parts,
        }
    }
}

/// Whether a string can be an upload id (32 lowercase hex digits), so a
/// path parameter never reaches a key unchecked.
pub fn is_upload_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_are_checked_before_use() {
        assert!(is_upload_id(&uuid::Uuid::new_v4().simple().to_string()));
        assert!(!is_upload_id("../../sessions/x"));
        assert!(!is_upload_id(&"A".repeat(32)));
    }

    #[test]
    fn owner_folders_differ_by_issuer_and_subject() {
        assert_ne!(
            owner_folder("https://a", "1"),
            owner_folder("https://b", "1")
        );
        assert_ne!(
            owner_folder("https://a", "1"),
            owner_folder("https://a", "2")
        );
        assert_eq!(owner_folder("https://a", "1").len(), 32);
    }
}
