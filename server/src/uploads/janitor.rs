//! The janitor: aborts uploads nobody finishes, so no multipart upload
//! stays open (and billed) forever.
//!
//! An upload is abandoned when it started more than `--upload-expiry-hours`
//! ago and no part arrived within that time. A multipart upload under
//! `artifacts/` that no session knows (a crash between opening it and
//! writing the session) is aborted once it is as old.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use time::OffsetDateTime;

use super::Uploads;
use super::session::{SESSION_PREFIX, UploadSession};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::registry::ARTIFACT_PREFIX;

/// The actor the janitor's records name.
pub const JANITOR: &str = "coffer-janitor";

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Upload sessions aborted as abandoned.
    pub sessions_aborted: usize,
    /// Multipart uploads aborted that no session knew.
    pub orphans_aborted: usize,
}

impl Uploads {
    /// One janitor round.
    pub async fn sweep(&self) -> anyhow::Result<SweepReport> {
        let now = self.clock.now();
        let cutoff = now - self.expiry;
        let mut report = SweepReport::default();

        // Sessions first: an expired one is aborted as a whole.
        let sessions = self.all_sessions().await?;
        let mut known: HashSet<String> = HashSet::new();
        for session in &sessions {
            known.extend(session.files.iter().map(|file| file.multipart_id.clone()));
            if session.created_at < cutoff && !self.active_since(session, cutoff).await? {
                // A completion that holds the lease wins; the next round
                // looks again.
                if self.take_lease(session).await.is_err() {
                    continue;
                }
                let abandoned = self.abandon(session).await;
                self.release_lease(session).await;
                abandoned?;
                report.sessions_aborted += 1;
            }
        }

        // Then multipart uploads without a session.
        report.orphans_aborted = self.abort_orphans(&known, cutoff).await?;
        if report != SweepReport::default() {
            tracing::info!(
                janitor.sessions = report.sessions_aborted,
                janitor.orphans = report.orphans_aborted,
                "janitor aborted abandoned uploads"
            );
        }
        Ok(report)
    }

    /// Runs a round every `interval` until the process ends.
    pub fn spawn_janitor(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = self.sweep().await {
                    tracing::error!(error = %format!("{error:#}"), "janitor round failed");
                }
            }
        })
    }

    /// Every open upload session.
    async fn all_sessions(&self) -> anyhow::Result<Vec<UploadSession>> {
        let mut sessions = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let keys = self
                .storage
                .list_keys(SESSION_PREFIX, after.as_deref(), 1000)
                .await?;
            let Some(last) = keys.last().cloned() else {
                return Ok(sessions);
            };
            for key in &keys {
                let id = key
                    .strip_prefix(SESSION_PREFIX)
                    .and_then(|name| name.strip_suffix(".json"))
                    .unwrap_or_default();
                if let Some(session) = self.load(id).await? {
                    sessions.push(session);
                }
            }
            after = Some(last);
        }
    }

    /// Whether any part of the session arrived after `cutoff`.
    async fn active_since(
        &self,
        session: &UploadSession,
        cutoff: OffsetDateTime,
    ) -> anyhow::Result<bool> {
        let cutoff = cutoff.unix_timestamp();
        for file in &session.files {
            let parts = self.list_parts(file).await?.unwrap_or_default();
            if parts
                .iter()
                .any(|part| part.last_modified.is_some_and(|time| time > cutoff))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records and discards an abandoned upload.
    async fn abandon(&self, session: &UploadSession) -> anyhow::Result<()> {
        // A crash after publishing leaves a session behind: only tidy it.
        if self
            .registry
            .version(&session.model, session.version)
            .await?
            .is_some()
        {
            return self.forget(session).await;
        }
        let reason = format!(
            "abandoned: no part arrived for {} hours",
            self.expiry.whole_hours()
        );
        let event = AuditEvent::new(JANITOR, Action::UploadAborted, Outcome::Success, "janitor")
            .with_version(&session.model, session.version)
            .with_detail(format!("{reason} (uploader {})", session.owner.username));
        self.audit.record(event).await?;
        self.discard(session, &reason).await
    }

    /// Aborts multipart uploads under `artifacts/` that no session knows
    /// and that started before `cutoff`.
    async fn abort_orphans(
        &self,
        known: &HashSet<String>,
        cutoff: OffsetDateTime,
    ) -> anyhow::Result<usize> {
        let mut aborted = 0;
        let mut key_marker: Option<String> = None;
        let mut id_marker: Option<String> = None;
        loop {
            let output = self
                .storage
                .client()
                .list_multipart_uploads()
                .bucket(self.storage.bucket())
                .prefix(ARTIFACT_PREFIX)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
                .await
                .context("could not list multipart uploads")?;

            let orphans = output.uploads().iter().filter(|upload| {
                let old = upload
                    .initiated()
                    .is_some_and(|time| time.secs() < cutoff.unix_timestamp());
                let unknown = upload.upload_id().is_some_and(|id| !known.contains(id));
                old && unknown
            });
            for upload in orphans {
                let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                if self.claimed_since(key, cutoff).await? {
                    continue;
                }
                self.abort_orphan(key, id).await?;
                aborted += 1;
            }

            if output.is_truncated() != Some(true) {
                return Ok(aborted);
            }
            key_marker = output.next_key_marker().map(str::to_owned);
            id_marker = output.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                return Ok(aborted);
            }
        }
    }

    /// Whether the version an artifact key belongs to was claimed after
    /// `cutoff`: its upload may still be starting. The claim's time is
    /// Coffer's own, so a storage that reports odd start times (moto dates
    /// every upload 2010) cannot make a fresh upload look abandoned.
    async fn claimed_since(&self, key: &str, cutoff: OffsetDateTime) -> anyhow::Result<bool> {
        let (model, version) = model_and_version(key);
        let Some(version) = version else {
            return Ok(false);
        };
        let claim = self.registry.claim(&model, version).await?;
        Ok(claim.is_some_and(|claim| claim.claimed_at > cutoff))
    }

    /// Records and aborts one orphaned multipart upload.
    async fn abort_orphan(&self, key: &str, multipart_id: &str) -> anyhow::Result<()> {
        let (model, version) = model_and_version(key);

        let mut event =
            AuditEvent::new(JANITOR, Action::UploadAborted, Outcome::Success, "janitor")
                .with_detail("orphaned multipart upload without a session");
        if let Some(version) = version {
            event = event.with_version(model, version);
        }
        self.audit.record(event).await?;

        let result = self
            .storage
            .client()
            .abort_multipart_upload()
            .bucket(self.storage.bucket())
            .key(key)
            .upload_id(multipart_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if crate::storage::is_not_found(&error) => Ok(()),
            Err(error) => {
                Err(anyhow::Error::new(error).context("could not abort an orphaned upload"))
            }
        }
    }
}

/// The model and version an artifact key names:
/// `artifacts/<model>/<version>/<id>`.
fn model_and_version(key: &str) -> (String, Option<u64>) {
    let mut segments = key.trim_start_matches(ARTIFACT_PREFIX).split('/');
    let model = segments.next().unwrap_or_default().to_owned();
    let version = segments.next().and_then(|text| text.parse::<u64>().ok());
    (model, version)
}
