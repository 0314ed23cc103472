//! Share links as the JSON API answers them and the pages render them.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/shares`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateShare {
    pub model: String,
    pub version: u64,
    /// One file of the version; `None` shares the whole version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Seconds until the link dies: default 86,400, at most 604,800.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Downloads the link allows over its life; `None` for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u32>,
    #[serde(default)]
    pub note: String,
}

/// The answer to a creation: the only time the token is ever shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedShare {
    pub id: String,
    /// `<public url>/s/<token>`.
    pub url: String,
    pub expires_at: String,
}

/// Where a link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareState {
    Live,
    Expired,
    Revoked,
    Exhausted,
}

impl ShareState {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareState::Live => "live",
            ShareState::Expired => "expired",
            ShareState::Revoked => "revoked",
            ShareState::Exhausted => "exhausted",
        }
    }
}

/// A link as its owner and admins see it (never with its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    pub id: String,
    /// The owner's username.
    pub owner: String,
    pub model: String,
    pub version: u64,
    pub file: Option<String>,
    pub note: String,
    pub created_at: String,
    pub expires_at: String,
    pub max_downloads: Option<u32>,
    pub uses: u32,
    pub state: ShareState,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

/// `GET /api/v1/shares`: the caller's links, or every link for an admin,
/// newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareList {
    pub shares: Vec<ShareView>,
}

/// A file a recipient may fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What `/s/{token}` shows its recipient, and nothing more of Coffer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedItem {
    pub model: String,
    pub version: u64,
    pub state: ShareState,
    pub expires_at: String,
    pub note: String,
    /// Downloads left, when the link has a limit.
    pub downloads_left: Option<u32>,
    /// Empty unless the link is live.
    pub files: Vec<SharedFile>,
}
