//! The registry's browsing types, as the JSON API answers them and the
//! pages render them: one shape for both, so the two can never disagree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::upload::api::{VersionState, VersionView};

/// How `/models` orders its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSort {
    /// Most recently updated first (a version published, the description
    /// edited, an alias moved).
    #[default]
    Updated,
    /// By name, A to Z.
    Name,
}

/// A page request for `/models` and `GET /api/v1/models`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelQuery {
    /// Words of a model name: a model matches when one of its name's words
    /// (split at `-`, `_` and `.`) or the whole name starts with it. Empty
    /// matches every model.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: ModelSort,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Rows per page (1 to 100, default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One model in a listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub name: String,
    pub description: String,
    /// The newest available version, if any.
    pub latest_version: Option<u64>,
    /// The newest version number ever reserved (available, failed or
    /// still uploading).
    pub versions: u64,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// A page of models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    pub models: Vec<ModelSummary>,
    /// Pass back as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// One version in a model's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: u64,
    pub state: VersionState,
    pub uploader: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub finished_at: String,
    /// Bytes over all files.
    pub size: u64,
    pub files: usize,
    /// Aliases pointing at this version, sorted.
    pub aliases: Vec<String>,
}

/// A model with its history, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelDetail {
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Alias name to version number.
    pub aliases: BTreeMap<String, u64>,
    pub versions: Vec<VersionSummary>,
    /// Pass back as `below` for older versions; `None` when none are left.
    pub next_below: Option<u64>,
}

/// `PUT /api/v1/models/{name}/description`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptionChange {
    pub description: String,
}

/// `PUT /api/v1/models/{name}/aliases/{alias}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasMove {
    pub version: u64,
}

/// An alias after a move, with where it pointed before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasMoved {
    pub alias: String,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

/// What the version page shows beyond the version itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionPageData {
    pub version: VersionView,
    /// The nearest older available version, to compare against.
    pub previous: Option<VersionView>,
    /// The version's `README.md` as sanitized HTML: raw HTML removed, only
    /// safe link schemes kept.
    pub card_html: Option<String>,
}
