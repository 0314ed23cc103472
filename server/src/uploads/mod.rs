//! Uploads: a version's files travel from the client straight to S3
//! through presigned multipart URLs; the server plans, signs, checks and
//! publishes, and never carries an artifact byte.
//!
//! Order of writes, so that a crash at any point leaves nothing visible
//! that is half done:
//! 1. start: the version number is claimed, `upload_started` is recorded,
//!    the multipart uploads are opened, then the session is written;
//! 2. parts go to S3 directly, each bound to its signed SHA-256;
//! 3. complete: the parts are checked from S3's own list, each file is
//!    completed with `If-None-Match: *`, `version_published` is recorded,
//!    the manifest is written (the version becomes visible), and the
//!    session is removed.
//!
//! A retried completion after a crash finds the files already completed
//! and finishes the job; the janitor aborts what nobody finishes.

pub mod janitor;
pub mod plan;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Part,
};
use coffer_app::names::validate_model_name;
use coffer_app::upload::api::{
    CompleteUpload, PartUrl, PartUrls, PartsRequest, ReceivedPart, StartUpload, UploadStatus,
    VersionState, VersionView,
};
use futures::{StreamExt, TryStreamExt, stream};
use time::OffsetDateTime;
use tracing::instrument;

use crate::audit::{Action, AuditEvent, AuditFile, AuditTrail, Outcome};
use crate::auth::SessionUser;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::ApiError;
use crate::registry::manifest::rfc3339;
use crate::registry::{Manifest, ManifestFile, ModelRecord, Registry, to_json};
use crate::storage::{CreateOutcome, Storage, is_condition_failure, is_not_found};
use plan::{Limits, MAX_PARTS_PER_REQUEST, PlannedFile};
use session::{OWNER_PREFIX, Owner, SessionFile, UploadSession, is_upload_id, owner_folder};

/// How many files of one upload are opened, listed or completed at once.
const FILE_CONCURRENCY: usize = 8;

/// Opens, signs, checks and publishes uploads.
#[derive(Clone, Debug)]
pub struct Uploads {
    storage: Storage,
    registry: Registry,
    audit: AuditTrail,
    clock: Arc<dyn Clock>,
    limits: Limits,
    parallel_parts: u32,
    part_url_ttl: Duration,
    expiry: time::Duration,
}

/// Who is asking, and in which request.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub user: &'a SessionUser,
    pub request_id: &'a str,
}

impl Caller<'_> {
    fn event(&self, action: Action, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(&self.user.username, action, outcome, self.request_id)
    }

    /// An event about an upload's version, with an explanation.
    fn about(
        &self,
        session: &UploadSession,
        action: Action,
        outcome: Outcome,
        detail: &str,
    ) -> AuditEvent {
        self.event(action, outcome)
            .with_version(&session.model, session.version)
            .with_detail(detail)
    }
}

/// A part as S3 lists it.
#[derive(Clone, Debug)]
struct StoredPart {
    number: u32,
    size: u64,
    etag: String,
    sha256: Option<String>,
    /// Unix seconds.
    last_modified: Option<i64>,
}

/// What became of one file when its upload was checked for completion.
enum FileCheck {
    /// Every part is there: complete it with these.
    Ready(Vec<StoredPart>),
    /// An earlier completion already made the object.
    AlreadyComplete { s3_checksum: String },
    /// Something is missing or wrong; the message says what.
    Problem(String),
}

impl Uploads {
    pub fn new(
        settings: &Settings,
        storage: Storage,
        audit: AuditTrail,
        clock: Arc<dyn Clock>,
    ) -> Uploads {
        Uploads {
            registry: Registry::new(storage.clone()),
            storage,
            audit,
            clock,
            limits: Limits::from_settings(settings),
            parallel_parts: settings.upload_parallel_parts,
            part_url_ttl: Duration::from_secs(settings.part_url_ttl_secs),
            expiry: time::Duration::hours(
                i64::try_from(settings.upload_expiry_hours).unwrap_or(24),
            ),
        }
    }

    /// The registry the uploads publish into.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Starts an upload: reserves the next version and opens one multipart
    /// upload per file.
    #[instrument(skip_all, fields(model.name = %model))]
    pub async fn start(
        &self,
        caller: Caller<'_>,
        model: &str,
        request: &StartUpload,
    ) -> Result<UploadStatus, ApiError> {
        let planned = plan::plan(model, request, &self.limits)?;

        self.check_open_uploads(caller.user).await?;

        // The model exists from its first upload on; the number is claimed
        // race-free.
        let now = self.clock.now();
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let version = self.reserve_version(caller, model, &upload_id, now).await?;

        // The record is durable before anything is opened in S3.
        let files = planned
            .iter()
            .map(|file| audit_file(&file.path, file.size, file.declared_sha256.as_deref()))
            .collect();
        self.audit
            .record(
                caller
                    .event(Action::UploadStarted, Outcome::Success)
                    .with_version(model, version)
                    .with_files(files),
            )
            .await?;

        let session = match self.open_files(model, version, &planned).await {
            Ok(files) => UploadSession {
                upload_id,
                model: model.to_owned(),
                version,
                owner: Owner::of(caller.user),
                created_at: now,
                description: request.description.clone(),
                metadata: request.metadata.clone(),
                files,
            },
            Err(error) => {
                self.fail_version(
                    caller,
                    model,
                    version,
                    &upload_id,
                    now,
                    "the storage refused to open the upload",
                )
                .await;
                return Err(error.into());
            }
        };

        self.save(&session).await?;
        tracing::info!(upload.id = %session.upload_id, model.version = version, upload.files = planned.len(), "upload started");
        Ok(session.status(self.parallel_parts))
    }

    /// Refuses a start beyond the per-user bound on open uploads, which
    /// keeps one account from opening multipart uploads without end.
    async fn check_open_uploads(&self, user: &SessionUser) -> Result<(), ApiError> {
        let open = self.list(user, None).await?;
        if open.len() >= self.limits.max_open_uploads {
            return Err(ApiError::TooManyUploads(format!(
                "you have {} uploads open; finish or cancel one first (the limit is {})",
                open.len(),
                self.limits.max_open_uploads
            )));
        }
        Ok(())
    }

    /// Creates the model's record if needed and claims its next version.
    async fn reserve_version(
        &self,
        caller: Caller<'_>,
        model: &str,
        upload_id: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<u64> {
        self.registry
            .ensure_model(&ModelRecord {
                name: model.to_owned(),
                created_by: caller.user.username.clone(),
                created_at: now,
            })
            .await?;
        self.registry
            .claim_next_version(model, upload_id, &caller.user.username, now)
            .await
    }

    /// Stores a new session and its owner's marker.
    async fn save(&self, session: &UploadSession) -> anyhow::Result<()> {
        // The marker first: a session without one could not be listed.
        self.storage
            .put(
                &session.marker_key(),
                bytes::Bytes::new(),
                "application/octet-stream",
            )
            .await?;
        self.storage
            .create(
                &UploadSession::key(&session.upload_id),
                to_json(session)?,
                "application/json",
            )
            .await?;
        Ok(())
    }

    /// Opens one multipart upload per file, with SHA-256 part checksums.
    async fn open_files(
        &self,
        model: &str,
        version: u64,
        planned: &[PlannedFile],
    ) -> anyhow::Result<Vec<SessionFile>> {
        let opening: Vec<_> = planned
            .iter()
            .enumerate()
            .map(|(index, file)| async move {
                let key = Registry::artifact_key(model, version);
                let output = self
                    .storage
                    .client()
                    .create_multipart_upload()
                    .bucket(self.storage.bucket())
                    .key(&key)
                    .content_type("application/octet-stream")
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .send()
                    .await
                    .with_context(|| format!("could not open a multipart upload for {key}"))?;
                let multipart_id = output
                    .upload_id()
                    .context("the storage answered no upload id")?
                    .to_owned();
                Ok::<_, anyhow::Error>(SessionFile {
                    index,
                    path: file.path.clone(),
                    size: file.size,
                    part_size: file.part_size,
                    part_count: file.part_count,
                    key,
                    multipart_id,
                    declared_sha256: file.declared_sha256.clone(),
                    fingerprint: file.fingerprint.clone(),
                })
            })
            .collect();
        let opened = stream::iter(opening)
            .buffered(FILE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;

        // Whatever did open must not linger if another file failed.
        let (files, errors): (Vec<_>, Vec<_>) = opened.into_iter().partition(Result::is_ok);
        let files: Vec<SessionFile> = files.into_iter().filter_map(Result::ok).collect();
        if let Some(Err(error)) = errors.into_iter().next() {
            self.abort_files(&files).await;
            return Err(error);
        }
        Ok(files)
    }

    /// The caller's open uploads, for one model or all.
    pub async fn list(
        &self,
        user: &SessionUser,
        model: Option<&str>,
    ) -> Result<Vec<UploadStatus>, ApiError> {
        let ids = self.owned_ids(user).await?;
        let loading: Vec<_> = ids.iter().map(|id| self.load(id)).collect();
        let sessions = in_parallel(loading).await?;
        Ok(sessions
            .into_iter()
            .flatten()
            .filter(|session| model.is_none_or(|model| session.model == model))
            .map(|session| session.status(self.parallel_parts))
            .collect())
    }

    /// An upload with the parts S3 has received for each file.
    pub async fn status(
        &self,
        caller: Caller<'_>,
        model: &str,
        upload_id: &str,
    ) -> Result<UploadStatus, ApiError> {
        let session = self.load_owned(caller, model, upload_id).await?;
        let mut status = session.status(self.parallel_parts);

        let listing: Vec<_> = session
            .files
            .iter()
            .map(|file| self.list_parts(file))
            .collect();
        let listed = in_parallel(listing).await?;
        for (file, parts) in status.files.iter_mut().zip(listed) {
            file.received = parts
                .unwrap_or_default()
                .into_iter()
                .map(|part| ReceivedPart {
                    number: part.number,
                    size: part.size,
                    sha256: part.sha256,
                })
                .collect();
        }
        Ok(status)
    }

    /// Presigned `UploadPart` URLs, each signing the part's SHA-256.
    pub async fn sign_parts(
        &self,
        caller: Caller<'_>,
        model: &str,
        upload_id: &str,
        request: &PartsRequest,
    ) -> Result<PartUrls, ApiError> {
        let session = self.load_owned(caller, model, upload_id).await?;
        let file = session.files.get(request.file).ok_or_else(|| {
            ApiError::BadRequest(format!("this upload has no file {}", request.file))
        })?;

        // Bounded batches; numbers inside the plan; well-formed checksums.
        if request.parts.is_empty() || request.parts.len() > MAX_PARTS_PER_REQUEST {
            return Err(ApiError::BadRequest(format!(
                "ask for 1 to {MAX_PARTS_PER_REQUEST} parts at a time"
            )));
        }
        for part in &request.parts {
            if part.number == 0 || part.number > file.part_count {
                return Err(ApiError::BadRequest(format!(
                    "file '{}' has parts 1 to {}; part {} does not exist",
                    file.path, file.part_count, part.number
                )));
            }
            plan::check_base64_sha256(&part.sha256).map_err(ApiError::BadRequest)?;
        }

        let presigning =
            PresigningConfig::expires_in(self.part_url_ttl).context("invalid part URL lifetime")?;
        let expires_at = rfc3339(self.clock.now() + self.part_url_ttl);
        let mut parts = Vec::with_capacity(request.parts.len());
        for part in &request.parts {
            let presigned = self
                .storage
                .client()
                .upload_part()
                .bucket(self.storage.bucket())
                .key(&file.key)
                .upload_id(&file.multipart_id)
                .part_number(part.number as i32)
                .checksum_sha256(&part.sha256)
                .presigned(presigning.clone())
                .await
                .context("could not sign a part URL")?;

            // The browser sets what the signature covers; it cannot set
            // `host` and needs no length, which it computes itself.
            let headers = presigned
                .headers()
                .filter(|(name, _)| {
                    !name.eq_ignore_ascii_case("host")
                        && !name.eq_ignore_ascii_case("content-length")
                })
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
                .collect();
            parts.push(PartUrl {
                number: part.number,
                url: presigned.uri().to_owned(),
                headers,
                expires_at: expires_at.clone(),
            });
        }
        tracing::debug!(upload.id = %upload_id, upload.file = request.file, upload.parts = parts.len(), "part URLs signed");
        Ok(PartUrls { parts })
    }

    /// Checks every part against the plan, completes every file and
    /// publishes the version.
    #[instrument(skip_all, fields(model.name = %model, upload.id = %upload_id))]
    pub async fn complete(
        &self,
        caller: Caller<'_>,
        model: &str,
        upload_id: &str,
        request: &CompleteUpload,
    ) -> Result<VersionView, ApiError> {
        let session = self.load_owned(caller, model, upload_id).await?;

        // One completion at a time per upload, so a double click cannot
        // record the publication twice.
        self.take_lease(&session).await?;
        let result = self.complete_leased(caller, session.clone(), request).await;
        self.release_lease(&session).await;
        result
    }

    /// Completion, once this request holds the upload's lease.
    async fn complete_leased(
        &self,
        caller: Caller<'_>,
        session: UploadSession,
        request: &CompleteUpload,
    ) -> Result<VersionView, ApiError> {
        let model = session.model.as_str();

        // A session that outlived its manifest (a crash after publishing)
        // is only tidied away.
        if let Some(existing) = self.registry.version(model, session.version).await? {
            self.forget(&session).await?;
            return Err(ApiError::Conflict(format!(
                "version {} of {model} is already {}",
                session.version,
                state_name(existing.state)
            )));
        }

        let digests = match self.check_digests(&session, request) {
            Ok(digests) => digests,
            Err(problem) => {
                self.record_refusal(caller, &session, &problem).await?;
                return Err(ApiError::BadRequest(problem));
            }
        };

        // Every file is checked from S3's own part list before any is
        // completed, so a refusal leaves everything as it was.
        let checking: Vec<_> = session
            .files
            .iter()
            .map(|file| self.check_file(file))
            .collect();
        let checks = in_parallel(checking).await?;
        let problems: Vec<&str> = checks
            .iter()
            .filter_map(|check| match check {
                FileCheck::Problem(problem) => Some(problem.as_str()),
                _ => None,
            })
            .collect();
        if !problems.is_empty() {
            let problem = problems.join("; ");
            self.record_refusal(caller, &session, &problem).await?;
            return Err(ApiError::Incomplete(problem));
        }

        let completing: Vec<_> = session
            .files
            .iter()
            .zip(checks)
            .map(|(file, check)| self.complete_file(file, check))
            .collect();
        let completed = in_parallel(completing).await?;

        let manifest = available_manifest(&session, completed, digests, self.clock.now());

        // The record is durable before the version becomes visible.
        let files = manifest
            .files
            .iter()
            .map(|file| audit_file(&file.path, file.size, Some(&file.sha256)))
            .collect();
        self.audit
            .record(
                caller
                    .event(Action::VersionPublished, Outcome::Success)
                    .with_version(model, session.version)
                    .with_files(files),
            )
            .await?;
        if self.registry.publish(&manifest).await? == CreateOutcome::AlreadyExists {
            return Err(ApiError::Conflict(format!(
                "version {} of {model} was published by a concurrent request",
                session.version
            )));
        }
        self.forget(&session).await?;
        tracing::info!(
            model.version = session.version,
            version.bytes = manifest.size(),
            "version published"
        );
        Ok(manifest.view())
    }

    /// Cancels an upload: aborts its multipart uploads, removes what was
    /// stored and records the version as failed.
    #[instrument(skip_all, fields(model.name = %model, upload.id = %upload_id))]
    pub async fn abort(
        &self,
        caller: Caller<'_>,
        model: &str,
        upload_id: &str,
    ) -> Result<(), ApiError> {
        let session = self.load_owned(caller, model, upload_id).await?;

        // Cancelling while a completion runs could delete what it is about
        // to publish: both take the same lease.
        self.take_lease(&session).await?;
        let result = self.abort_leased(caller, &session).await;
        self.release_lease(&session).await;
        result
    }

    /// Cancelling, once this request holds the upload's lease.
    async fn abort_leased(
        &self,
        caller: Caller<'_>,
        session: &UploadSession,
    ) -> Result<(), ApiError> {
        let model = session.model.as_str();
        if self
            .registry
            .version(model, session.version)
            .await?
            .is_some()
        {
            self.forget(session).await?;
            return Err(ApiError::Conflict(format!(
                "version {} of {model} is already finished",
                session.version
            )));
        }
        let reason = "cancelled by the uploader";
        self.audit
            .record(caller.about(session, Action::UploadAborted, Outcome::Success, reason))
            .await?;
        self.discard(session, reason).await?;
        Ok(())
    }

    /// Aborts the session's uploads, deletes completed objects, writes the
    /// failed manifest and removes the session.
    async fn discard(&self, session: &UploadSession, reason: &str) -> anyhow::Result<()> {
        self.abort_files(&session.files).await;
        for file in &session.files {
            self.storage.delete(&file.key).await?;
        }
        let manifest = failed_manifest(session, self.clock.now(), reason);
        self.registry.publish(&manifest).await?;
        self.forget(session).await
    }

    /// Aborts multipart uploads, ignoring those already gone.
    async fn abort_files(&self, files: &[SessionFile]) {
        for file in files {
            let result = self
                .storage
                .client()
                .abort_multipart_upload()
                .bucket(self.storage.bucket())
                .key(&file.key)
                .upload_id(&file.multipart_id)
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => {}
                Err(error) => {
                    tracing::warn!(s3.key = %file.key, error = %error, "could not abort a multipart upload; the janitor will retry");
                }
            }
        }
    }

    /// Records a version that could not even start as failed.
    async fn fail_version(
        &self,
        caller: Caller<'_>,
        model: &str,
        version: u64,
        upload_id: &str,
        now: OffsetDateTime,
        reason: &str,
    ) {
        let session = UploadSession {
            upload_id: upload_id.to_owned(),
            model: model.to_owned(),
            version,
            owner: Owner::of(caller.user),
            created_at: now,
            description: String::new(),
            metadata: Default::default(),
            files: Vec::new(),
        };
        let event = caller.about(&session, Action::UploadFailed, Outcome::Failure, reason);
        if let Err(error) = self.audit.record(event).await {
            tracing::error!(error = %format!("{error:#}"), "could not record a failed upload");
        }
        if let Err(error) = self
            .registry
            .publish(&failed_manifest(&session, now, reason))
            .await
        {
            tracing::error!(error = %format!("{error:#}"), "could not record a failed version");
        }
    }

    /// Takes the upload's completion lease. A lease older than
    /// [`LEASE_TTL`] was left by a crash and is taken over.
    async fn take_lease(&self, session: &UploadSession) -> Result<(), ApiError> {
        let key = lease_key(&session.upload_id);
        let now = self.clock.now();
        let body = to_json(&Lease { taken_at: now })?;
        if self
            .storage
            .create(&key, body.clone(), "application/json")
            .await?
            == CreateOutcome::Created
        {
            return Ok(());
        }

        // Someone holds it: a live completion, or the remains of a crash.
        let held = self.storage.get(&key).await?;
        let taken_at = held
            .and_then(|object| serde_json::from_slice::<Lease>(&object.body).ok())
            .map(|lease| lease.taken_at);
        match taken_at {
            Some(taken_at) if now - taken_at < LEASE_TTL => Err(ApiError::Conflict(
                "this upload is being completed by another request; try again shortly".into(),
            )),
            _ => {
                self.storage.put(&key, body, "application/json").await?;
                Ok(())
            }
        }
    }

    /// Gives the lease back; a lease left behind expires by itself.
    async fn release_lease(&self, session: &UploadSession) {
        if let Err(error) = self.storage.delete(&lease_key(&session.upload_id)).await {
            tracing::warn!(error = %format!("{error:#}"), "could not release a completion lease");
        }
    }

    /// Checks the whole-file digests the client sent: one per file, well
    /// formed, equal to any declared at start.
    fn check_digests(
        &self,
        session: &UploadSession,
        request: &CompleteUpload,
    ) -> Result<Vec<String>, String> {
        let mut digests = vec![None; session.files.len()];
        for digest in &request.files {
            let slot = digests
                .get_mut(digest.index)
                .ok_or_else(|| format!("this upload has no file {}", digest.index))?;
            *slot = Some(parse_digest(&digest.sha256)?);
        }
        session
            .files
            .iter()
            .zip(digests)
            .map(|(file, digest)| {
                let digest = digest.ok_or_else(|| format!("no sha256 for file '{}'", file.path))?;
                match &file.declared_sha256 {
                    Some(declared) if *declared != digest => Err(format!(
                        "file '{}' was declared with sha256 {declared} but completed with {digest}",
                        file.path
                    )),
                    _ => Ok(digest),
                }
            })
            .collect()
    }

    /// Compares a file's stored parts with its plan.
    async fn check_file(&self, file: &SessionFile) -> anyhow::Result<FileCheck> {
        let Some(parts) = self.list_parts(file).await? else {
            return self.check_completed_object(file).await;
        };
        Ok(match plan_problem(file, &parts) {
            Some(problem) => FileCheck::Problem(problem),
            None => FileCheck::Ready(parts),
        })
    }

    /// The multipart upload is gone: either an earlier completion made the
    /// object (a retry after a crash), or it was aborted.
    async fn check_completed_object(&self, file: &SessionFile) -> anyhow::Result<FileCheck> {
        let head = self
            .storage
            .client()
            .head_object()
            .bucket(self.storage.bucket())
            .key(&file.key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        match head {
            Ok(head) if head.content_length() == Some(file.size as i64) => {
                Ok(FileCheck::AlreadyComplete {
                    s3_checksum: head.checksum_sha256().unwrap_or_default().to_owned(),
                })
            }
            Ok(_) => Ok(FileCheck::Problem(format!(
                "file '{}' was stored with the wrong size",
                file.path
            ))),
            Err(error) if is_not_found(&error) => Ok(FileCheck::Problem(format!(
                "the storage no longer holds the upload of file '{}'; cancel and start again",
                file.path
            ))),
            Err(error) => {
                Err(anyhow::Error::new(error).context("could not read an uploaded object"))
            }
        }
    }

    /// Completes one file's multipart upload without replacing anything,
    /// and answers its S3 checksum.
    async fn complete_file(
        &self,
        file: &SessionFile,
        check: FileCheck,
    ) -> Result<String, ApiError> {
        let parts = match check {
            FileCheck::Ready(parts) => parts,
            FileCheck::AlreadyComplete { s3_checksum } => return Ok(s3_checksum),
            FileCheck::Problem(problem) => return Err(ApiError::Incomplete(problem)),
        };
        let completed = parts
            .iter()
            .map(|part| {
                CompletedPart::builder()
                    .part_number(part.number as i32)
                    .e_tag(&part.etag)
                    .set_checksum_sha256(part.sha256.clone())
                    .build()
            })
            .collect();
        let result = self
            .storage
            .client()
            .complete_multipart_upload()
            .bucket(self.storage.bucket())
            .key(&file.key)
            .upload_id(&file.multipart_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await;

        match result {
            Ok(output) => Ok(output.checksum_sha256().unwrap_or_default().to_owned()),
            // A concurrent completion got there first: what it made counts
            // only if it is this file.
            Err(error) if is_condition_failure(&error) || is_not_found(&error) => {
                match self.check_completed_object(file).await? {
                    FileCheck::AlreadyComplete { s3_checksum } => Ok(s3_checksum),
                    FileCheck::Problem(problem) => Err(ApiError::Conflict(problem)),
                    FileCheck::Ready(_) => Err(ApiError::Conflict(
                        "the upload changed while completing".into(),
                    )),
                }
            }
            Err(error) => Err(anyhow::Error::new(error)
                .context(format!("could not complete {}", file.key))
                .into()),
        }
    }

    /// Every part S3 holds for a file; `None` when the multipart upload no
    /// longer exists.
    async fn list_parts(&self, file: &SessionFile) -> anyhow::Result<Option<Vec<StoredPart>>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let result = self
                .storage
                .client()
                .list_parts()
                .bucket(self.storage.bucket())
                .key(&file.key)
                .upload_id(&file.multipart_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await;
            let output = match result {
                Ok(output) => output,
                Err(error) if is_not_found(&error) => return Ok(None),
                Err(error) => return Err(anyhow::Error::new(error).context("could not list parts")),
            };
            parts.extend(output.parts().iter().filter_map(stored_part));

            // Pages continue from the last part number seen.
            match (output.is_truncated(), output.next_part_number_marker()) {
                (Some(true), Some(next)) if marker.as_deref() != Some(next) => {
                    marker = Some(next.to_owned());
                }
                _ => return Ok(Some(parts)),
            }
        }
    }

    /// Reads a session and checks that it belongs to the caller and the
    /// model in the path.
    async fn load_owned(
        &self,
        caller: Caller<'_>,
        model: &str,
        upload_id: &str,
    ) -> Result<UploadSession, ApiError> {
        validate_model_name(model).map_err(ApiError::BadRequest)?;
        if !is_upload_id(upload_id) {
            return Err(ApiError::NotFound);
        }
        let session = self.load(upload_id).await?.ok_or(ApiError::NotFound)?;
        if session.model != model {
            return Err(ApiError::NotFound);
        }

        // Only the uploader may see, sign, complete or cancel; the attempt
        // by anyone else is recorded.
        if !session.owner.is(caller.user) {
            let detail = "upload belongs to another user";
            self.audit
                .record(caller.about(&session, Action::AccessDenied, Outcome::Denied, detail))
                .await?;
            return Err(ApiError::Forbidden(
                "this upload belongs to another user".into(),
            ));
        }
        Ok(session)
    }

    async fn load(&self, upload_id: &str) -> anyhow::Result<Option<UploadSession>> {
        let Some(object) = self.storage.get(&UploadSession::key(upload_id)).await? else {
            return Ok(None);
        };
        let session = serde_json::from_slice(&object.body)
            .with_context(|| format!("upload session {upload_id} is not valid"))?;
        Ok(Some(session))
    }

    /// Ids of the user's open uploads, from their markers.
    async fn owned_ids(&self, user: &SessionUser) -> anyhow::Result<Vec<String>> {
        let folder = format!(
            "{OWNER_PREFIX}{}/",
            owner_folder(&user.issuer, &user.subject)
        );
        let keys = self.storage.list_keys(&folder, None, 1000).await?;
        Ok(keys
            .iter()
            .filter_map(|key| key.strip_prefix(&folder))
            .map(str::to_owned)
            .collect())
    }

    /// Removes a finished session and its marker.
    async fn forget(&self, session: &UploadSession) -> anyhow::Result<()> {
        self.storage
            .delete(&UploadSession::key(&session.upload_id))
            .await?;
        self.storage.delete(&session.marker_key()).await
    }

    /// Records a refused completion; the upload stays open.
    async fn record_refusal(
        &self,
        caller: Caller<'_>,
        session: &UploadSession,
        problem: &str,
    ) -> anyhow::Result<()> {
        self.audit
            .record(caller.about(session, Action::UploadFailed, Outcome::Failure, problem))
            .await?;
        tracing::info!(upload.problem = %problem, "completion refused");
        Ok(())
    }
}

/// Runs futures at most [`FILE_CONCURRENCY`] at a time and collects
/// their results in order, stopping at the first error.
async fn in_parallel<T, E>(
    futures: Vec<impl std::future::Future<Output = Result<T, E>>>,
) -> Result<Vec<T>, E> {
    stream::iter(futures)
        .buffered(FILE_CONCURRENCY)
        .try_collect()
        .await
}

/// Where an upload's completion lease lives.
const LEASE_PREFIX: &str = "registry/upload-leases/";

/// How long a completion lease holds off other completions.
const LEASE_TTL: time::Duration = time::Duration::minutes(2);

/// Who holds an upload's completion, since when.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Lease {
    #[serde(with = "time::serde::rfc3339")]
    taken_at: OffsetDateTime,
}

fn lease_key(upload_id: &str) -> String {
    format!("{LEASE_PREFIX}{upload_id}")
}

/// A part from ListParts, when it carries what completion needs.
fn stored_part(part: &Part) -> Option<StoredPart> {
    Some(StoredPart {
        number: u32::try_from(part.part_number()?).ok()?,
        size: u64::try_from(part.size()?).ok()?,
        etag: part.e_tag()?.to_owned(),
        sha256: part.checksum_sha256().map(str::to_owned),
        last_modified: part.last_modified().map(|time| time.secs()),
    })
}

/// What is wrong with a file's parts, measured against its plan.
fn plan_problem(file: &SessionFile, parts: &[StoredPart]) -> Option<String> {
    let path = &file.path;
    let numbers: Vec<u32> = parts.iter().map(|part| part.number).collect();
    let expected: Vec<u32> = (1..=file.part_count).collect();
    if numbers != expected {
        let missing: Vec<String> = expected
            .iter()
            .filter(|number| !numbers.contains(number))
            .take(10)
            .map(u32::to_string)
            .collect();
        let extra = numbers.iter().any(|number| *number > file.part_count);
        return Some(if extra {
            format!(
                "file '{path}' has more parts than its {} planned",
                file.part_count
            )
        } else {
            format!("file '{path}' is missing parts {}", missing.join(", "))
        });
    }

    // Sizes come from S3, not from the client: each part exactly as planned.
    for part in parts {
        let expected = plan::expected_part_size(file.size, file.part_size, part.number);
        if part.size != expected {
            return Some(format!(
                "part {} of file '{path}' has {} bytes; {expected} were planned",
                part.number, part.size
            ));
        }
    }
    let total: u64 = parts.iter().map(|part| part.size).sum();
    if total != file.size {
        return Some(format!(
            "file '{path}' has {total} bytes; {} were declared",
            file.size
        ));
    }

    // S3 verified each part against its signed SHA-256; a storage that
    // reports checksums must report one for every part.
    let with_checksum = parts.iter().filter(|part| part.sha256.is_some()).count();
    if with_checksum != 0 && with_checksum != parts.len() {
        return Some(format!(
            "some parts of file '{path}' carry no SHA-256 checksum"
        ));
    }
    None
}

fn parse_digest(digest: &str) -> Result<String, String> {
    plan::parse_hex_sha256(digest)
}

fn state_name(state: VersionState) -> &'static str {
    match state {
        VersionState::Uploading => "uploading",
        VersionState::Available => "published",
        VersionState::Failed => "failed",
    }
}

/// The manifest of a version whose files all completed: `completed` and
/// `digests` hold each file's S3 checksum and whole-file SHA-256, in the
/// session's order.
fn available_manifest(
    session: &UploadSession,
    completed: Vec<String>,
    digests: Vec<String>,
    now: OffsetDateTime,
) -> Manifest {
    let files = session
        .files
        .iter()
        .zip(completed)
        .zip(digests)
        .map(|((file, s3_checksum), sha256)| ManifestFile {
            path: file.path.clone(),
            size: file.size,
            sha256,
            s3_checksum,
            key: file.key.clone(),
        })
        .collect();
    finished_manifest(session, now, VersionState::Available, files, None)
}

/// A file as audit records name it.
fn audit_file(path: &str, size: u64, sha256: Option<&str>) -> AuditFile {
    AuditFile {
        path: path.to_owned(),
        size,
        sha256: sha256.map(str::to_owned),
    }
}

/// The manifest of a version that will never be available.
fn failed_manifest(session: &UploadSession, now: OffsetDateTime, reason: &str) -> Manifest {
    finished_manifest(session, now, VersionState::Failed, Vec::new(), Some(reason))
}

/// What every finished version records about its upload.
fn finished_manifest(
    session: &UploadSession,
    now: OffsetDateTime,
    state: VersionState,
    files: Vec<ManifestFile>,
    failure: Option<&str>,
) -> Manifest {
    Manifest {
        model: session.model.clone(),
        version: session.version,
        state,
        uploader: session.owner.username.clone(),
        upload_id: session.upload_id.clone(),
        created_at: session.created_at,
        finished_at: now,
        description: session.description.clone(),
        metadata: session.metadata.clone(),
        files,
        failure: failure.map(str::to_owned),
    }
}
