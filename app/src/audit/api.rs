//! The compliance dashboard's types, as the JSON API answers them and the
//! `/audit` page renders them: one shape for both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where dashboard events come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Coffer's own audit trail.
    #[default]
    Portal,
    /// AWS CloudTrail: management events through LookupEvents and S3 data
    /// events from the trail's log files.
    Cloudtrail,
    /// S3 server access logs from the log bucket.
    S3,
    /// Every source on one timeline.
    All,
}

impl Source {
    /// Every source, tabs first, the combined timeline last.
    pub const ALL: [Source; 4] = [Source::Portal, Source::Cloudtrail, Source::S3, Source::All];

    /// The name in addresses and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Portal => "portal",
            Source::Cloudtrail => "cloudtrail",
            Source::S3 => "s3",
            Source::All => "all",
        }
    }

    /// The source of that name.
    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|source| source.as_str() == name)
    }

    /// How the page's tab names it.
    pub fn label(self) -> &'static str {
        match self {
            Source::Portal => "Portal trail",
            Source::Cloudtrail => "CloudTrail",
            Source::S3 => "S3 access logs",
            Source::All => "Timeline",
        }
    }
}

/// A dashboard query: the filters of `GET /api/v1/audit/events`, as the
/// page's address carries them. Empty strings mean "no filter".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub source: Source,
    /// RFC 3339 (or a date, `2026-12-01`, meaning its start in UTC).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// RFC 3339 (or a date, meaning its end in UTC).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// `success`, `failure` or `denied`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    /// Events per page, 1 to 200 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page, unchanged.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cursor: String,
}

impl AuditQuery {
    /// The same filters on the first page.
    pub fn first_page(&self) -> AuditQuery {
        AuditQuery {
            cursor: String::new(),
            ..self.clone()
        }
    }
}

/// One event on the dashboard, whatever its source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEventRow {
    pub source: Source,
    /// RFC 3339, UTC.
    pub time: String,
    /// Who acted: a Coffer user, an AWS principal, or a log's requester.
    pub actor: String,
    /// A portal action, a CloudTrail event name or an S3 operation.
    pub action: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// A portal record's number in the trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// A short explanation (why a sign-in failed, an S3 error code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What the source says beyond the common fields: an S3 key, a remote
    /// address, a user agent, an event source. Values come from logs and
    /// are shown escaped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// For a presigned S3 request: the portal record of the person the URL
    /// was minted for, joined through `x-coffer-request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<PortalJoin>,
}

impl AuditEventRow {
    /// Whether the dashboard should make the row stand out.
    pub fn is_denial(&self) -> bool {
        self.outcome == "denied"
    }
}

/// The portal record a log line was joined to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalJoin {
    pub seq: u64,
    pub actor: String,
    pub action: String,
}

/// A page of events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEventPage {
    pub events: Vec<AuditEventRow>,
    /// Pass back as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
    /// Log lines that could not be parsed on the way to this page; they are
    /// counted, never fatal.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub malformed_lines: u64,
    /// Why a page may hold fewer events than asked for while more follow,
    /// or which source could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// What a verification of the portal trail found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Whether every record is present, unaltered and in order.
    pub intact: bool,
    /// How many records were checked.
    pub checked: u64,
    /// The earliest bad record, if any.
    pub first_bad: Option<BadRecord>,
    /// Number of the newest record, to compare with an earlier report.
    pub head_seq: u64,
    /// Hash of the newest record.
    pub head_hash: String,
}

/// A record that failed verification, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRecord {
    pub seq: u64,
    pub key: String,
    pub reason: String,
}

/// Which stretch of time a source covers, and what it lacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub source: Source,
    /// What the row describes ("management events", "S3 data events").
    pub label: String,
    /// RFC 3339; `None` when the source holds nothing yet.
    pub from: Option<String>,
    pub to: Option<String>,
    /// `complete`, `partial` or `missing`.
    pub state: String,
    /// What a reader must know: delivery lag, events that are off, the
    /// source's own limits.
    pub note: String,
}

/// Events per day for the current filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub count: u64,
    /// True when counting stopped at a bound: the day has at least `count`.
    pub at_least: bool,
}

/// Everything the `/audit` page shows for one query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditView {
    pub page: AuditEventPage,
    pub coverage: Vec<Coverage>,
    pub days: Vec<DayCount>,
}
