//! What one audit record says, and how its hash is computed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The portal actions the trail records; the names are part of Coffer's
/// public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    AccessDenied,
    UploadStarted,
    UploadAborted,
    VersionPublished,
    UploadFailed,
    Download,
    AliasMoved,
    DescriptionChanged,
    ShareCreated,
    ShareUsed,
    ShareRefused,
    ShareRevoked,
}

impl Action {
    /// Every action, in the order the contract lists them.
    pub const ALL: [Action; 15] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::SignOut,
        Action::AccessDenied,
        Action::UploadStarted,
        Action::UploadAborted,
        Action::VersionPublished,
        Action::UploadFailed,
        Action::Download,
        Action::AliasMoved,
        Action::DescriptionChanged,
        Action::ShareCreated,
        Action::ShareUsed,
        Action::ShareRefused,
        Action::ShareRevoked,
    ];

    /// The action's name in records, filters and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignOut => "sign_out",
            Action::AccessDenied => "access_denied",
            Action::UploadStarted => "upload_started",
            Action::UploadAborted => "upload_aborted",
            Action::VersionPublished => "version_published",
            Action::UploadFailed => "upload_failed",
            Action::Download => "download",
            Action::AliasMoved => "alias_moved",
            Action::DescriptionChanged => "description_changed",
            Action::ShareCreated => "share_created",
            Action::ShareUsed => "share_used",
            Action::ShareRefused => "share_refused",
            Action::ShareRevoked => "share_revoked",
        }
    }

    /// The action of that name.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
    }
}

/// How the recorded attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action happened.
    Success,
    /// The action was attempted and failed (a bad password, a bad token).
    Failure,
    /// The action was refused for lack of rights.
    Denied,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Denied];

    /// The outcome's name in records, filters and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    /// The outcome of that name.
    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == name)
    }
}

/// What a caller asks the trail to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The person or client acting: a username, or `anonymous`.
    pub actor: String,
    pub action: Action,
    pub outcome: Outcome,
    /// The id of the HTTP request that caused the event.
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_id: Option<String>,
    /// The alias an `alias_moved` record concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The version the alias named before the move; absent when it was new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_version: Option<u64>,
    /// The version the alias names after the move; absent when it was
    /// removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_version: Option<u64>,
    /// A short, non-secret explanation (why a sign-in failed, which route
    /// was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The files an upload concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<AuditFile>,
}

/// A file named by an upload record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFile {
    pub path: String,
    pub size: u64,
    /// Whole-file SHA-256 in hex, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl AuditEvent {
    /// An event with only the fields every record carries.
    pub fn new(
        actor: impl Into<String>,
        action: Action,
        outcome: Outcome,
        request_id: &str,
    ) -> Self {
        AuditEvent {
            actor: actor.into(),
            action,
            outcome,
            request_id: request_id.to_owned(),
            model: None,
            version: None,
            path: None,
            share_id: None,
            alias: None,
            from_version: None,
            to_version: None,
            detail: None,
            files: Vec::new(),
        }
    }

    /// Names the model and version the event concerns.
    pub fn with_version(mut self, model: impl Into<String>, version: u64) -> Self {
        self.model = Some(model.into());
        self.version = Some(version);
        self
    }

    /// Names the model the event concerns, without a version.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Names an alias and where a move took it: `to` is also the record's
    /// version, so filters by version find the move.
    pub fn with_alias(
        mut self,
        alias: impl Into<String>,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Self {
        self.alias = Some(alias.into());
        self.from_version = from;
        self.to_version = to;
        self.version = to;
        self
    }

    /// Lists the files the event concerns.
    pub fn with_files(mut self, files: Vec<AuditFile>) -> Self {
        self.files = files;
        self
    }

    /// Adds an explanation.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Names the share link the event concerns, by id (never by token).
    pub fn with_share(mut self, share_id: impl Into<String>) -> Self {
        self.share_id = Some(share_id.into());
        self
    }

    /// Names the portal path the event concerns.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// The hash that precedes the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A stored record: the event, its place in the chain, and the hashes that
/// tie it to its predecessor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the trail, from 1, without gaps.
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    #[serde(flatten)]
    pub event: AuditEvent,
    /// `hash` of the record before this one, or [`GENESIS_HASH`].
    pub prev_hash: String,
    /// SHA-256 over this record's canonical form, `prev_hash` included.
    pub hash: String,
}

/// The fields a record's hash covers, in a fixed order.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    event: &'a AuditEvent,
    prev_hash: &'a str,
}

impl AuditRecord {
    /// Seals an event as the record after `prev_hash`.
    pub fn seal(seq: u64, time: OffsetDateTime, event: AuditEvent, prev_hash: &str) -> Self {
        let hash = compute_hash(seq, time, &event, prev_hash);
        AuditRecord {
            seq,
            time,
            event,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// Whether the stored hash matches the record's contents.
    pub fn hash_is_valid(&self) -> bool {
        compute_hash(self.seq, self.time, &self.event, &self.prev_hash) == self.hash
    }
}

/// SHA-256 over the canonical JSON of the hashed fields. Serde writes
/// struct fields in declaration order, so the form is stable however the
/// stored JSON was laid out.
fn compute_hash(seq: u64, time: OffsetDateTime, event: &AuditEvent, prev_hash: &str) -> String {
    let hashed = Hashed {
        seq,
        time,
        event,
        prev_hash,
    };

    // Serializing plain structs and strings to a Vec cannot fail.
    let canonical = serde_json::to_vec(&hashed).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        AuditEvent::new("alice", Action::SignIn, Outcome::Success, "req-1")
    }

    #[test]
    fn a_sealed_record_verifies_and_any_change_breaks_it() {
        let time = OffsetDateTime::UNIX_EPOCH;
        let record = AuditRecord::seal(1, time, event(), GENESIS_HASH);
        assert!(record.hash_is_valid());

        let mut renamed = record.clone();
        renamed.event.actor = "mallory".into();
        assert!(!renamed.hash_is_valid());

        let mut relinked = record.clone();
        relinked.prev_hash = "ab".repeat(32);
        assert!(!relinked.hash_is_valid());
    }

    #[test]
    fn the_hash_ignores_how_the_stored_json_orders_its_fields() {
        let record = AuditRecord::seal(7, OffsetDateTime::UNIX_EPOCH, event(), GENESIS_HASH);
        let mut value = serde_json::to_value(&record).expect("serializes");
        let object = value.as_object_mut().expect("an object");

        // Rebuild the object with its keys reversed.
        let reversed: serde_json::Map<_, _> = object.clone().into_iter().rev().collect();
        let reparsed: AuditRecord =
            serde_json::from_value(serde_json::Value::Object(reversed)).expect("parses");
        assert!(reparsed.hash_is_valid());
        assert_eq!(reparsed, record);
    }

    #[test]
    fn an_alias_move_names_both_ends_and_older_records_keep_their_hash() {
        let moved = AuditEvent::new("alice", Action::AliasMoved, Outcome::Success, "req-2")
            .with_model("fraud")
            .with_alias("production", Some(1), Some(2));
        let json = serde_json::to_value(&moved).expect("serializes");
        assert_eq!(json["action"], "alias_moved");
        assert_eq!(json["alias"], "production");
        assert_eq!(json["from_version"], 1);
        assert_eq!(json["to_version"], 2);
        assert_eq!(json["version"], 2);

        // Fields a record does not use are left out, so records written
        // before they existed hash as they did.
        let plain = serde_json::to_value(event()).expect("serializes");
        assert!(plain.get("alias").is_none() && plain.get("from_version").is_none());
        let changed = AuditEvent::new("dave", Action::DescriptionChanged, Outcome::Success, "r");
        let json = serde_json::to_value(changed).expect("serializes");
        assert_eq!(json["action"], "description_changed");
    }

    #[test]
    fn names_agree_with_the_stored_form() {
        for action in Action::ALL {
            let stored = serde_json::to_string(&action).expect("serializes");
            assert_eq!(stored, format!("\"{}\"", action.as_str()));
            assert_eq!(Action::from_name(action.as_str()), Some(action));
        }
        for outcome in Outcome::ALL {
            let stored = serde_json::to_string(&outcome).expect("serializes");
            assert_eq!(stored, format!("\"{}\"", outcome.as_str()));
        }
        assert_eq!(Action::from_name("sign-in"), None);
    }

    #[test]
    fn actions_use_the_contract_vocabulary() {
        let names: Vec<String> = [
            Action::SignInFailed,
            Action::AccessDenied,
            Action::ShareUsed,
        ]
        .iter()
        .map(|action| serde_json::to_string(action).expect("serializes"))
        .collect();
        assert_eq!(
            names,
            [
                r#""sign_in_failed""#,
                r#""access_denied""#,
                r#""share_used""#
            ]
        );
    }
}
