//! Share links: revocable, expiring, optionally counted Coffer URLs for one
//! version or one file, each use minting a fresh short-lived presigned URL.
//!
//! Layout, all under `registry/shares/` in the artifact bucket:
//! - `links/<id>.json`: the link's record ([`ShareRecord`]); ids sort
//!   newest first, so an admin's listing is one ascending listing;
//! - `tokens/<sha256 of the token>.json`: from a token to its link,
//!   written with `If-None-Match: *`;
//! - `by-owner/<owner>/<id>`: an empty marker per link, so listing one
//!   user's links never reads anyone else's. The owner folder is a hash of
//!   issuer and subject, as for uploads.
//!
//! Order of writes at creation: the token index and the owner's marker,
//! then `share_created` is recorded, then the record is written. The
//! record is the commit point: until it exists the token opens nothing and
//! listings skip the marker, and the token is shown only after all three.
//!
//! Every change to a record (a counted use, a revocation) goes through
//! [`records::update`], a compare-and-swap loop: twenty concurrent clicks
//! on a five-use link count five uses and refuse fifteen. A use is
//! counted, then recorded as `share_used`, then redirected; a failure in
//! between costs the recipient one use and never grants an unrecorded
//! download.
//!
//! Audit actors: the creator or revoker by username; a link's recipient,
//! who has no account, as `share:<id>`; a visitor with a well-formed token
//! that matches no link as `anonymous`, with no share id. Neither the
//! token nor its hash is ever recorded or logged.

pub mod record;
pub mod routes;
pub mod tokens;

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use coffer_app::names::validate_model_name;
use coffer_app::session::Role;
use coffer_app::shares::api::{
    CreateShare, ShareList, ShareState, ShareView, SharedFile, SharedItem,
};
use coffer_app::upload::api::VersionState;
use futures::{StreamExt, TryStreamExt, stream};
use serde::de::DeserializeOwned;
use tracing::instrument;

use crate::audit::{Action, AuditEvent, AuditTrail, Outcome};
use crate::auth::SessionUser;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::registry::{Manifest, ManifestFile, Registry, to_json};
use crate::storage::records::{self, Change, UpdateError};
use crate::storage::{CreateOutcome, Storage};
use crate::uploads::Caller;
use crate::uploads::session::{Owner, owner_folder};
pub use record::{ShareRecord, TokenIndex};
use tokens::Token;

/// Where every share record lives.
pub const PREFIX: &str = "registry/shares/";

/// Link records, by id.
const LINKS: &str = "registry/shares/links/";

/// Token index objects, by the token's SHA-256.
const TOKENS: &str = "registry/shares/tokens/";

/// Per-owner markers.
const BY_OWNER: &str = "registry/shares/by-owner/";

/// A link's life when the request names none: one day.
pub const DEFAULT_EXPIRES_IN: u64 = 86_400;

/// The longest life a link may have: seven days, as for a presigned URL.
pub const MAX_EXPIRES_IN: u64 = 604_800;

/// The highest download limit a link may have.
pub const MAX_DOWNLOADS: u32 = 10_000;

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Links one listing shows, newest first. S3 answers at most 1,000 keys
/// a listing; older links are not shown, and `docs/api.md` says so.
const MAX_LISTED: i32 = 1000;

/// Records a listing reads at once.
const READ_CONCURRENCY: usize = 16;

/// Creates, lists, opens and revokes share links.
#[derive(Clone, Debug)]
pub struct Shares {
    storage: Storage,
    registry: Registry,
    audit: AuditTrail,
    clock: Arc<dyn Clock>,
}

/// A link just created, with the token its URL carries.
#[derive(Debug)]
pub struct Created {
    pub record: ShareRecord,
    pub token: Token,
}

/// Why a recipient's download was refused.
#[derive(Debug)]
pub enum UseRefusal {
    /// No link has this token, or the link does not name this file:
    /// answered as `404`, which tells a guesser nothing.
    NotFound,
    /// The link exists but is no longer live: answered as `410`.
    Gone(ShareState),
    /// Storage or the audit trail failed.
    Failed(ApiError),
}

impl From<ApiError> for UseRefusal {
    fn from(error: ApiError) -> Self {
        UseRefusal::Failed(error)
    }
}

impl From<anyhow::Error> for UseRefusal {
    fn from(error: anyhow::Error) -> Self {
        UseRefusal::Failed(ApiError::Internal(error))
    }
}

/// Why a revocation did not change the link.
#[derive(Debug)]
enum RevokeRefusal {
    /// The record went away between the read and the write.
    Missing,
}

impl Shares {
    pub fn new(storage: Storage, audit: AuditTrail, clock: Arc<dyn Clock>) -> Shares {
        Shares {
            registry: Registry::new(storage.clone()),
            storage,
            audit,
            clock,
        }
    }

    fn link_key(id: &str) -> String {
        format!("{LINKS}{id}.json")
    }

    fn token_key(token_sha256: &str) -> String {
        format!("{TOKENS}{token_sha256}.json")
    }

    fn owner_prefix(issuer: &str, subject: &str) -> String {
        format!("{BY_OWNER}{}/", owner_folder(issuer, subject))
    }

    /// Creates a link for a version, or one of its files, of an available
    /// version. The caller's role was checked by the route.
    #[instrument(skip_all, fields(model.name = %request.model, model.version = request.version))]
    pub async fn create(
        &self,
        caller: Caller<'_>,
        request: &CreateShare,
    ) -> Result<Created, ApiError> {
        // Bad input changes nothing.
        let expires_in = check_request(request)?;
        let manifest = self
            .available_version(&request.model, request.version)
            .await?
            .ok_or(ApiError::NotFound)?;
        if let Some(file) = &request.file
            && !manifest.files.iter().any(|stored| &stored.path == file)
        {
            return Err(ApiError::BadRequest(format!(
                "version {} of {} has no file '{file}'",
                request.version, request.model
            )));
        }

        // A fresh token, known from here on only by its hash.
        let now = self.clock.now();
        let token = Token::generate();
        let owner = Owner::of(caller.user);
        let record = ShareRecord {
            id: tokens::new_share_id(now),
            token_sha256: token.hash(),
            owner,
            model: request.model.clone(),
            version: request.version,
            file: request.file.clone(),
            note: request.note.clone(),
            created_at: now,
            expires_at: now + time::Duration::seconds(expires_in),
            max_downloads: request.max_downloads,
            uses: 0,
            revoked_at: None,
            revoked_by: None,
        };

        // The index and the marker first; neither opens anything alone.
        let index = TokenIndex {
            share_id: record.id.clone(),
        };
        let index_key = Shares::token_key(&record.token_sha256);
        if self
            .storage
            .create(&index_key, to_json(&index)?, "application/json")
            .await?
            != CreateOutcome::Created
        {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "a token index for link {} already exists",
                record.id
            )));
        }
        let marker = format!(
            "{}{}",
            Shares::owner_prefix(&caller.user.issuer, &caller.user.subject),
            record.id
        );
        self.storage
            .put(&marker, Bytes::new(), "application/octet-stream")
            .await?;

        // On record before the link can exist, then the commit point.
        let event = AuditEvent::new(
            &caller.user.username,
            Action::ShareCreated,
            Outcome::Success,
            caller.request_id,
        )
        .with_version(&record.model, record.version)
        .with_share(&record.id);
        let event = match &record.file {
            Some(file) => event.with_path(file),
            None => event,
        };
        self.audit.record(event).await?;
        if self
            .storage
            .create(
                &Shares::link_key(&record.id),
                to_json(&record)?,
                "application/json",
            )
            .await?
            != CreateOutcome::Created
        {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "share link {} already exists",
                record.id
            )));
        }

        tracing::info!(share.id = %record.id, "share link created");
        Ok(Created { record, token })
    }

    /// The user's links, or every link when `all` (admins), newest first.
    pub async fn list(&self, user: &SessionUser, all: bool) -> Result<ShareList, ApiError> {
        // Both listings are in id order, which is newest first.
        let ids: Vec<String> = if all {
            self.storage
                .list_keys(LINKS, None, MAX_LISTED)
                .await?
                .iter()
                .filter_map(|key| key.strip_prefix(LINKS)?.strip_suffix(".json"))
                .map(str::to_owned)
                .collect()
        } else {
            let prefix = Shares::owner_prefix(&user.issuer, &user.subject);
            self.storage
                .list_keys(&prefix, None, MAX_LISTED)
                .await?
                .iter()
                .filter_map(|key| key.strip_prefix(&prefix))
                .map(str::to_owned)
                .collect()
        };

        // A marker whose record was never committed is skipped.
        let now = self.clock.now();
        let records: Vec<Option<ShareRecord>> = stream::iter(ids)
            .map(|id| async move { self.read(&Shares::link_key(&id)).await })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let shares = records
            .into_iter()
            .flatten()
            .map(|record| record.view(now))
            .collect();
        Ok(ShareList { shares })
    }

    /// Revokes a link: its owner or an admin may. Revoking a revoked link
    /// changes nothing and records nothing.
    #[instrument(skip_all, fields(share.id = %id))]
    pub async fn revoke(&self, caller: Caller<'_>, id: &str) -> Result<ShareView, ApiError> {
        // Only a link that exists can be revoked, and only by its owner
        // or an admin; anyone else's refusal is on record.
        if !tokens::is_share_id(id) {
            return Err(ApiError::NotFound);
        }
        let key = Shares::link_key(id);
        let record: ShareRecord = self.read(&key).await?.ok_or(ApiError::NotFound)?;
        let is_admin = caller.user.roles.contains(&Role::Admin);
        if !record.owner.is(caller.user) && !is_admin {
            let event = self
                .event_about(&record, Action::AccessDenied, Outcome::Denied, caller)
                .with_detail("only the link's owner or an admin may revoke it");
            self.audit.record(event).await?;
            return Err(ApiError::Forbidden(
                "only the link's owner or an admin may revoke it".into(),
            ));
        }
        let now = self.clock.now();
        if record.revoked_at.is_some() {
            return Ok(record.view(now));
        }

        // On record first: a revocation that then fails to be written is
        // retried and recorded twice, never lost.
        let event = self.event_about(&record, Action::ShareRevoked, Outcome::Success, caller);
        self.audit.record(event).await?;
        let revoked_by = caller.user.username.clone();
        let updated = records::update(&self.storage, &key, |current: Option<ShareRecord>| {
            let Some(mut record) = current else {
                return Err(RevokeRefusal::Missing);
            };
            if record.revoked_at.is_some() {
                return Ok(Change::Keep(record));
            }
            record.revoked_at = Some(now);
            record.revoked_by = Some(revoked_by.clone());
            Ok(Change::Write(record.clone(), record))
        })
        .await
        .map_err(|error| match error {
            UpdateError::Refused(RevokeRefusal::Missing) => ApiError::NotFound,
            UpdateError::Storage(cause) => ApiError::Internal(cause),
        })?;

        tracing::info!("share link revoked");
        Ok(updated.view(now))
    }

    /// What a link's recipient sees; `None` for a malformed or unknown
    /// token.
    pub async fn shared(&self, token: &str) -> Result<Option<SharedItem>, ApiError> {
        let Some(record) = self.find(token).await? else {
            return Ok(None);
        };

        // Files only while the link is live, and only those it names.
        let state = record.state(self.clock.now());
        let files = if state == ShareState::Live {
            self.available_version(&record.model, record.version)
                .await?
                .map(|manifest| {
                    manifest
                        .files
                        .iter()
                        .filter(|file| record.names_file(&file.path))
                        .map(|file| SharedFile {
                            path: file.path.clone(),
                            size: file.size,
                            sha256: file.sha256.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(Some(SharedItem {
            model: record.model.clone(),
            version: record.version,
            state,
            expires_at: crate::registry::manifest::rfc3339(record.expires_at),
            note: record.note.clone(),
            downloads_left: record.downloads_left(),
            files,
        }))
    }

    /// Counts one download of `path` through the link `token` and answers
    /// the file to redirect to, or why not. Every refusal of a known link
    /// is recorded as `share_refused`, every use as `share_used`.
    pub async fn use_link(
        &self,
        token: &str,
        path: &str,
        request_id: &str,
    ) -> Result<ManifestFile, UseRefusal> {
        // A malformed token costs no storage read and is not recorded; a
        // well-formed one that opens nothing may be someone guessing.
        if !tokens::is_well_formed(token) {
            return Err(UseRefusal::NotFound);
        }
        let Some(record) = self.find(token).await? else {
            let event = AuditEvent::new(
                "anonymous",
                Action::ShareRefused,
                Outcome::Denied,
                request_id,
            )
            .with_path(path)
            .with_detail("no link has this token");
            self.audit.record(event).await?;
            return Err(UseRefusal::NotFound);
        };
        let refuse = |detail: &str| {
            AuditEvent::new(
                recipient(&record.id),
                Action::ShareRefused,
                Outcome::Denied,
                request_id,
            )
            .with_version(&record.model, record.version)
            .with_share(&record.id)
            .with_path(path)
            .with_detail(detail)
        };

        // A link that is no longer live opens nothing.
        let state = record.state(self.clock.now());
        if state != ShareState::Live {
            self.audit.record(refuse(gone_detail(state))).await?;
            return Err(UseRefusal::Gone(state));
        }

        // Only a file the link names, of the version it names.
        let file = match self
            .available_version(&record.model, record.version)
            .await?
        {
            Some(manifest) if record.names_file(path) => {
                manifest.files.into_iter().find(|file| file.path == path)
            }
            _ => None,
        };
        let Some(file) = file else {
            self.audit
                .record(refuse("the link does not name this file"))
                .await?;
            return Err(UseRefusal::NotFound);
        };

        // Count the use with compare-and-swap: the limit holds however
        // many recipients click at once.
        let key = Shares::link_key(&record.id);
        let now = self.clock.now();
        let counted = records::update(&self.storage, &key, |current: Option<ShareRecord>| {
            let Some(mut current) = current else {
                return Err(ShareState::Revoked);
            };
            match current.state(now) {
                ShareState::Live => {
                    current.uses += 1;
                    Ok(Change::Write(current.clone(), current))
                }
                other => Err(other),
            }
        })
        .await;
        let counted = match counted {
            Ok(counted) => counted,
            Err(UpdateError::Refused(state)) => {
                self.audit.record(refuse(gone_detail(state))).await?;
                return Err(UseRefusal::Gone(state));
            }
            Err(UpdateError::Storage(cause)) => return Err(cause.into()),
        };

        // On record before the URL exists.
        let event = AuditEvent::new(
            recipient(&record.id),
            Action::ShareUsed,
            Outcome::Success,
            request_id,
        )
        .with_version(&record.model, record.version)
        .with_share(&record.id)
        .with_path(path);
        self.audit.record(event).await?;
        tracing::info!(share.id = %record.id, share.uses = counted.uses, "share link used");
        Ok(file)
    }

    /// The link a token opens, if any. The record must carry the token's
    /// hash too, so a misplaced index entry opens nothing.
    async fn find(&self, token: &str) -> anyhow::Result<Option<ShareRecord>> {
        if !tokens::is_well_formed(token) {
            return Ok(None);
        }
        let hash = tokens::hash_token(token);
        let Some(index) = self.read::<TokenIndex>(&Shares::token_key(&hash)).await? else {
            return Ok(None);
        };
        if !tokens::is_share_id(&index.share_id) {
            return Ok(None);
        }
        let record: Option<ShareRecord> = self.read(&Shares::link_key(&index.share_id)).await?;
        Ok(record.filter(|record| record.token_sha256 == hash))
    }

    /// A version's manifest when it is available; `None` otherwise.
    async fn available_version(
        &self,
        model: &str,
        version: u64,
    ) -> anyhow::Result<Option<Manifest>> {
        Ok(self
            .registry
            .version(model, version)
            .await?
            .filter(|manifest| manifest.state == VersionState::Available))
    }

    /// An event by a signed-in caller about a link.
    fn event_about(
        &self,
        record: &ShareRecord,
        action: Action,
        outcome: Outcome,
        caller: Caller<'_>,
    ) -> AuditEvent {
        let event = AuditEvent::new(&caller.user.username, action, outcome, caller.request_id)
            .with_version(&record.model, record.version)
            .with_share(&record.id);
        match &record.file {
            Some(file) => event.with_path(file),
            None => event,
        }
    }

    /// Reads one of the links' JSON records.
    async fn read<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        let Some(object) = self.storage.get(key).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&object.body)
            .with_context(|| format!("share record {key} is not valid"))?;
        Ok(Some(value))
    }
}

/// The audit actor of a link's recipient, who has no account.
fn recipient(share_id: &str) -> String {
    format!("share:{share_id}")
}

/// Why a link that is not live was refused, for the audit record.
fn gone_detail(state: ShareState) -> &'static str {
    match state {
        ShareState::Revoked => "the link was revoked",
        ShareState::Expired => "the link has expired",
        ShareState::Exhausted => "the link's downloads are used up",
        ShareState::Live => "the link is live",
    }
}

/// Checks a creation request's own fields; answers the link's life in
/// seconds.
fn check_request(request: &CreateShare) -> Result<i64, ApiError> {
    validate_model_name(&request.model).map_err(ApiError::BadRequest)?;
    if request.version == 0 {
        return Err(ApiError::BadRequest(
            "a version is a positive whole number".into(),
        ));
    }
    let expires_in = request.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    if !(1..=MAX_EXPIRES_IN).contains(&expires_in) {
        return Err(ApiError::BadRequest(format!(
            "expires_in is 1 to {MAX_EXPIRES_IN} seconds (7 days)"
        )));
    }
    if request
        .max_downloads
        .is_some_and(|max| !(1..=MAX_DOWNLOADS).contains(&max))
    {
        return Err(ApiError::BadRequest(format!(
            "max_downloads is 1 to {MAX_DOWNLOADS}, or absent for no limit"
        )));
    }
    if request.note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::BadRequest(format!(
            "a note has at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if request.note.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a note may not contain control characters (such as line breaks)".into(),
        ));
    }
    // At most 604,800: the conversion cannot fail.
    Ok(i64::try_from(expires_in).unwrap_or(DEFAULT_EXPIRES_IN as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CreateShare {
        CreateShare {
            model: "fraud".into(),
            version: 1,
            file: None,
            expires_in: None,
            max_downloads: None,
            note: "for the auditors".into(),
        }
    }

    #[test]
    fn a_request_without_options_lives_a_day() {
        assert_eq!(check_request(&request()).ok(), Some(86_400));
    }

    #[test]
    fn out_of_range_requests_are_refused() {
        let cases = [
            CreateShare {
                expires_in: Some(0),
                ..request()
            },
            CreateShare {
                expires_in: Some(MAX_EXPIRES_IN + 1),
                ..request()
            },
            CreateShare {
                max_downloads: Some(0),
                ..request()
            },
            CreateShare {
                max_downloads: Some(MAX_DOWNLOADS + 1),
                ..request()
            },
            CreateShare {
                note: "x".repeat(MAX_NOTE_CHARS + 1),
                ..request()
            },
            CreateShare {
                note: "two\nlines".into(),
                ..request()
            },
            CreateShare {
                version: 0,
                ..request()
            },
            CreateShare {
                model: "Bad Name".into(),
                ..request()
            },
        ];
        for case in cases {
            assert!(
                matches!(check_request(&case), Err(ApiError::BadRequest(_))),
                "{case:?}"
            );
        }
        let edge = CreateShare {
            expires_in: Some(MAX_EXPIRES_IN),
            max_downloads: Some(MAX_DOWNLOADS),
            note: "é".repeat(MAX_NOTE_CHARS),
            ..request()
        };
        assert_eq!(check_request(&edge).ok(), Some(604_800));
    }
}
