//! A share link as stored, and the state it is in at a given time.

use coffer_app::shares::api::{ShareState, ShareView};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::registry::manifest::rfc3339;
use crate::uploads::session::Owner;

/// A share link's record at `registry/shares/links/<id>.json`. Only
/// `uses`, `revoked_at` and `revoked_by` ever change, always by
/// compare-and-swap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub id: String,
    /// Hex SHA-256 of the token; the token itself is never stored.
    pub token_sha256: String,
    pub owner: Owner,
    pub model: String,
    pub version: u64,
    /// One file of the version, or `None` for the whole version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub note: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u32>,
    /// Downloads counted so far.
    pub uses: u32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Username of whoever revoked the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

impl ShareRecord {
    /// Where the link stands at `now`. A revocation outranks expiry, and
    /// expiry outranks a spent limit, so the recipient learns the most
    /// deliberate reason.
    pub fn state(&self, now: OffsetDateTime) -> ShareState {
        if self.revoked_at.is_some() {
            ShareState::Revoked
        } else if now >= self.expires_at {
            ShareState::Expired
        } else if self.max_downloads.is_some_and(|max| self.uses >= max) {
            ShareState::Exhausted
        } else {
            ShareState::Live
        }
    }

    /// Whether the link lets its recipient fetch `path` of its version.
    /// A version link names every file; the caller checks the path is
    /// one of the version's.
    pub fn names_file(&self, path: &str) -> bool {
        self.file.as_deref().is_none_or(|file| file == path)
    }

    /// Downloads left under the limit, if there is one.
    pub fn downloads_left(&self) -> Option<u32> {
        self.max_downloads.map(|max| max.saturating_sub(self.uses))
    }

    /// The link as its owner and admins see it.
    pub fn view(&self, now: OffsetDateTime) -> ShareView {
        ShareView {
            id: self.id.clone(),
            owner: self.owner.username.clone(),
            model: self.model.clone(),
            version: self.version,
            file: self.file.clone(),
            note: self.note.clone(),
            created_at: rfc3339(self.created_at),
            expires_at: rfc3339(self.expires_at),
            max_downloads: self.max_downloads,
            uses: self.uses,
            state: self.state(now),
            revoked_at: self.revoked_at.map(rfc3339),
            revoked_by: self.revoked_by.clone(),
        }
    }
}

/// The token index at `registry/shares/tokens/<sha256>.json`: from a
/// token's hash to its link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIndex {
    pub share_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(now: OffsetDateTime) -> ShareRecord {
        ShareRecord {
            id: "id".into(),
            token_sha256: "00".repeat(32),
            owner: Owner {
                issuer: "https://idp".into(),
                subject: "1".into(),
                username: "alice".into(),
            },
            model: "m".into(),
            version: 1,
            file: Some("a.bin".into()),
            note: String::new(),
            created_at: now,
            expires_at: now + time::Duration::hours(1),
            max_downloads: Some(2),
            uses: 0,
            revoked_at: None,
            revoked_by: None,
        }
    }

    #[test]
    fn revoked_outranks_expired_which_outranks_exhausted() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut link = record(now);
        assert_eq!(link.state(now), ShareState::Live);

        link.uses = 2;
        assert_eq!(link.state(now), ShareState::Exhausted);
        assert_eq!(link.downloads_left(), Some(0));

        let later = now + time::Duration::hours(1);
        assert_eq!(link.state(later), ShareState::Expired);

        link.revoked_at = Some(now);
        assert_eq!(link.state(later), ShareState::Revoked);
    }

    #[test]
    fn a_file_link_names_only_its_file_and_a_version_link_every_file() {
        let mut link = record(OffsetDateTime::UNIX_EPOCH);
        assert!(link.names_file("a.bin"));
        assert!(!link.names_file("b.bin"));
        link.file = None;
        assert!(link.names_file("b.bin"));
    }

    #[test]
    fn records_round_trip_through_json() {
        let mut link = record(OffsetDateTime::UNIX_EPOCH);
        link.revoked_at = Some(OffsetDateTime::UNIX_EPOCH);
        link.revoked_by = Some("dave".into());
        let json = serde_json::to_string(&link).expect("serializes");
        let back: ShareRecord = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, link);

        let live = record(OffsetDateTime::UNIX_EPOCH);
        let json = serde_json::to_string(&live).expect("serializes");
        let back: ShareRecord = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, live);
    }
}
