//! The model registry, kept as objects in the artifact bucket.
//!
//! Layout, all under `registry/models/<name>/`:
//! - `model.json`: the model's record, created by its first upload (see
//!   [`Registry::ensure_model`]);
//! - `claims/<20 digits>.json`: one per reserved version number, written with
//!   `If-None-Match: *`, so two uploads racing for a number cannot both win;
//! - `versions/<20 digits>.json`: a version's manifest, written once, last,
//!   with `If-None-Match: *`: a published version can never be replaced;
//! - `profile.json`: description, last update and newest versions, what a
//!   listing row shows (see [`profile`]);
//! - `aliases.json`: alias names to versions (see [`aliases`]).
//!
//! The digits are `u64::MAX - version`, so ascending key order is newest
//! first and the latest claim or manifest is a one-key listing. Artifact
//! objects live at `artifacts/<name>/<version>/<random id>`: the server
//! mints every key, and a user's file name is only metadata. Listings page
//! through the indexes under `registry/index/` (see [`index`]).

pub mod aliases;
pub mod index;
pub mod manifest;
pub mod profile;

use anyhow::Context;
use bytes::Bytes;
use coffer_app::upload::api::VersionState;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tracing::instrument;

use crate::storage::records::{self, Change, UpdateError};
use crate::storage::{CreateOutcome, Storage};
pub use manifest::{Claim, Manifest, ManifestFile, ModelRecord};
pub use profile::{Profile, Touch};

/// Where the registry's records start.
pub const PREFIX: &str = "registry/models/";

/// Prefix of every artifact object.
pub const ARTIFACT_PREFIX: &str = "artifacts/";

/// How many times a reservation retries after losing a race for a number.
const MAX_CLAIM_ATTEMPTS: u32 = 32;

/// Reads and writes models, version claims and manifests.
#[derive(Clone, Debug)]
pub struct Registry {
    storage: Storage,
}

/// The sortable digits of a version number: newest first.
fn inverted(version: u64) -> String {
    format!("{:020}", u64::MAX - version)
}

/// The version number a claim or manifest key names.
fn version_of_key(key: &str) -> Option<u64> {
    let digits = key.rsplit('/').next()?.strip_suffix(".json")?;
    digits
        .parse::<u64>()
        .ok()
        .map(|inverted| u64::MAX - inverted)
}

impl Registry {
    pub fn new(storage: Storage) -> Registry {
        Registry { storage }
    }

    fn model_key(model: &str) -> String {
        format!("{PREFIX}{model}/model.json")
    }

    fn claim_key(model: &str, version: u64) -> String {
        format!("{PREFIX}{model}/claims/{}.json", inverted(version))
    }

    fn manifest_key(model: &str, version: u64) -> String {
        format!("{PREFIX}{model}/versions/{}.json", inverted(version))
    }

    /// A fresh key for one artifact file of a version.
    pub fn artifact_key(model: &str, version: u64) -> String {
        format!(
            "{ARTIFACT_PREFIX}{model}/{version}/{}",
            uuid::Uuid::new_v4().simple()
        )
    }

    fn profile_key(model: &str) -> String {
        format!("{PREFIX}{model}/profile.json")
    }

    /// Creates the model unless it exists: its record, then its
    /// word-index entries and its profile with its "updated" entry. A crash
    /// after the record leaves a model like those from before profiles: it
    /// lists by name, and its first version's publication (or any other
    /// touch) writes the rest.
    pub async fn ensure_model(&self, record: &ModelRecord) -> anyhow::Result<()> {
        // Only the first upload of a model creates it.
        let name = record.name.as_str();
        let key = Registry::model_key(name);
        if self
            .storage
            .create(&key, to_json(record)?, "application/json")
            .await?
            == CreateOutcome::AlreadyExists
        {
            return Ok(());
        }

        // Searchable, and listed by update from now on.
        let at = record.created_at;
        let entry = index::updated_key(name, at);
        futures::try_join!(
            self.write_words(name),
            self.storage.put(&entry, Bytes::new(), "application/json"),
        )?;

        // The first profile is written only where none exists; a
        // concurrent first upload that lost takes the compare-and-swap
        // path instead.
        let fresh = Profile {
            description: String::new(),
            updated_at: at,
            latest_version: None,
            versions: 0,
            updated_key: entry,
        };
        let key = Registry::profile_key(name);
        if self
            .storage
            .create(&key, to_json(&fresh)?, "application/json")
            .await?
            == CreateOutcome::AlreadyExists
        {
            self.touch_profile(name, at, &Touch::Other, None, fresh)
                .await?;
        }
        Ok(())
    }

    /// Writes a model's word-index entries (empty objects; rewriting one
    /// changes nothing).
    async fn write_words(&self, model: &str) -> anyhow::Result<()> {
        let writes = index::word_keys(model).into_iter().map(|key| async move {
            self.storage
                .put(&key, Bytes::new(), "application/json")
                .await
        });
        futures::future::try_join_all(writes).await?;
        Ok(())
    }

    /// The model's profile; `None` for a model created before profiles
    /// existed (it gets one when next touched), or one not created yet.
    pub async fn profile(&self, model: &str) -> anyhow::Result<Option<Profile>> {
        self.read(&Registry::profile_key(model)).await
    }

    /// Records that something happened to an existing model at `at`: its
    /// profile takes the news and a fresh "updated" entry, and the entry it
    /// named before is deleted. A model without a profile gets one, built
    /// from its versions, and its word-index entries.
    #[instrument(skip_all, fields(model.name = %model))]
    pub async fn touch(
        &self,
        model: &str,
        at: OffsetDateTime,
        touch: &Touch,
    ) -> anyhow::Result<Profile> {
        // A model from before profiles: build its first one from what is
        // stored, and make it searchable.
        let seed = match self.profile(model).await? {
            Some(profile) => profile,
            None => {
                self.write_words(model).await?;
                Profile {
                    description: String::new(),
                    updated_at: at,
                    latest_version: self.latest_available(model).await?,
                    versions: self.latest_claimed(model).await?.unwrap_or(0),
                    updated_key: String::new(),
                }
            }
        };

        // A new version may come with newer claims behind it.
        let claimed = match touch {
            Touch::Version { .. } => self.latest_claimed(model).await?,
            _ => None,
        };
        self.touch_profile(model, at, touch, claimed, seed).await
    }

    /// Writes the new "updated" entry, swaps the profile to name it
    /// (starting from `seed` when there is none), then deletes whichever
    /// entry is no longer named. A crash in between leaves only a stale
    /// entry, which readers skip.
    async fn touch_profile(
        &self,
        model: &str,
        at: OffsetDateTime,
        touch: &Touch,
        claimed: Option<u64>,
        seed: Profile,
    ) -> anyhow::Result<Profile> {
        let entry = index::updated_key(model, at);
        self.storage
            .put(&entry, Bytes::new(), "application/json")
            .await?;

        let key = Registry::profile_key(model);
        let touched = records::update(&self.storage, &key, |current: Option<Profile>| {
            let touched = current
                .unwrap_or_else(|| seed.clone())
                .apply(touch, claimed, at, &entry);
            Ok::<_, std::convert::Infallible>(Change::Write(touched.profile.clone(), touched))
        })
        .await
        .map_err(|error| match error {
            UpdateError::Storage(error) => error,
            UpdateError::Refused(never) => match never {},
        })?;

        // Readers skip unnamed entries; deleting one only tidies.
        if let Some(unreferenced) = &touched.unreferenced
            && let Err(error) = self.storage.delete(unreferenced).await
        {
            tracing::warn!(s3.key = %unreferenced, error = %format!("{error:#}"), "could not delete a stale index entry; listings skip it");
        }
        Ok(touched.profile)
    }

    /// The model's record, if the model exists.
    pub async fn model(&self, model: &str) -> anyhow::Result<Option<ModelRecord>> {
        self.read(&Registry::model_key(model)).await
    }

    /// Reserves the next version number of a model for an upload.
    #[instrument(skip_all, fields(model.name = %model))]
    pub async fn claim_next_version(
        &self,
        model: &str,
        upload_id: &str,
        claimed_by: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<u64> {
        for _ in 0..MAX_CLAIM_ATTEMPTS {
            // The newest claim is the first key; the next number follows it.
            let next = self.latest_claimed(model).await?.unwrap_or(0) + 1;
            let claim = Claim {
                version: next,
                upload_id: upload_id.to_owned(),
                claimed_by: claimed_by.to_owned(),
                claimed_at: now,
            };
            let key = Registry::claim_key(model, next);

            // Losing means another upload took this number: look again.
            match self
                .storage
                .create(&key, to_json(&claim)?, "application/json")
                .await?
            {
                CreateOutcome::Created => return Ok(next),
                CreateOutcome::AlreadyExists => continue,
            }
        }
        anyhow::bail!("could not reserve a version of {model}: too many concurrent uploads")
    }

    /// The claim that reserved a version number, if any.
    pub async fn claim(&self, model: &str, version: u64) -> anyhow::Result<Option<Claim>> {
        self.read(&Registry::claim_key(model, version)).await
    }

    /// The highest version number reserved for a model.
    pub async fn latest_claimed(&self, model: &str) -> anyhow::Result<Option<u64>> {
        let prefix = format!("{PREFIX}{model}/claims/");
        let keys = self.storage.list_keys(&prefix, None, 1).await?;
        Ok(keys.first().and_then(|key| version_of_key(key)))
    }

    /// Writes a version's manifest once and brings the model's profile up
    /// to date. `AlreadyExists` means the version was published (or
    /// failed) before, and nothing was changed.
    #[instrument(skip_all, fields(model.name = %manifest.model, model.version = manifest.version))]
    pub async fn publish(&self, manifest: &Manifest) -> anyhow::Result<CreateOutcome> {
        let key = Registry::manifest_key(&manifest.model, manifest.version);
        let outcome = self
            .storage
            .create(&key, to_json(manifest)?, "application/json")
            .await?;

        // The version is visible whatever happens next; a profile that
        // missed it catches up at the model's next touch.
        if outcome == CreateOutcome::Created {
            let touch = Touch::Version {
                version: manifest.version,
                available: manifest.state == VersionState::Available,
            };
            if let Err(error) = self
                .touch(&manifest.model, manifest.finished_at, &touch)
                .await
            {
                tracing::warn!(error = %format!("{error:#}"), "could not update the model's profile after a new version");
            }
        }
        Ok(outcome)
    }

    /// A published or failed version.
    pub async fn version(&self, model: &str, version: u64) -> anyhow::Result<Option<Manifest>> {
        self.read(&Registry::manifest_key(model, version)).await
    }

    /// Up to `limit` manifests of a model, newest first, starting below
    /// version `below` when given.
    pub async fn versions(
        &self,
        model: &str,
        below: Option<u64>,
        limit: i32,
    ) -> anyhow::Result<Vec<Manifest>> {
        let prefix = format!("{PREFIX}{model}/versions/");
        let after = below.map(|version| Registry::manifest_key(model, version));
        let keys = self
            .storage
            .list_keys(&prefix, after.as_deref(), limit)
            .await?;

        // Manifests are small; reading a page of them at once is cheap.
        let reads = keys.iter().map(|key| self.read::<Manifest>(key));
        let manifests = futures::future::try_join_all(reads).await?;
        Ok(manifests.into_iter().flatten().collect())
    }

    /// Up to `limit` manifests of a model, newest first, below version
    /// `below` when given, and whether older ones follow.
    pub async fn version_page(
        &self,
        model: &str,
        below: Option<u64>,
        limit: usize,
    ) -> anyhow::Result<(Vec<Manifest>, bool)> {
        // One key more than the page says whether another page follows.
        let prefix = format!("{PREFIX}{model}/versions/");
        let after = below.map(|version| Registry::manifest_key(model, version));
        let asked = i32::try_from(limit + 1).unwrap_or(i32::MAX);
        let mut keys = self
            .storage
            .list_keys(&prefix, after.as_deref(), asked)
            .await?;
        let more = keys.len() > limit;
        keys.truncate(limit);

        let reads = keys.iter().map(|key| self.read::<Manifest>(key));
        let manifests = futures::future::try_join_all(reads).await?;
        Ok((manifests.into_iter().flatten().collect(), more))
    }

    /// The newest available version of a model below `below` (or of all
    /// its versions).
    pub async fn latest_available_below(
        &self,
        model: &str,
        mut below: Option<u64>,
    ) -> anyhow::Result<Option<u64>> {
        loop {
            let page = self.versions(model, below, 20).await?;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            if let Some(found) = page
                .iter()
                .find(|manifest| manifest.state == VersionState::Available)
            {
                return Ok(Some(found.version));
            }
            below = Some(last.version);
        }
    }

    /// The newest available version of a model.
    pub async fn latest_available(&self, model: &str) -> anyhow::Result<Option<u64>> {
        self.latest_available_below(model, None).await
    }

    /// Reads one of the registry's JSON records.
    async fn read<T: DeserializeOwned>(&self, key: &str) -> anyhow::Result<Option<T>> {
        let Some(object) = self.storage.get(key).await? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&object.body)
            .with_context(|| format!("registry record {key} is not valid"))?;
        Ok(Some(value))
    }
}

/// Serializes a record for the bucket.
pub fn to_json<T: Serialize>(value: &T) -> anyhow::Result<Bytes> {
    Ok(Bytes::from(serde_json::to_vec(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_newest_first_and_read_back() {
        let v1 = Registry::manifest_key("m", 1);
        let v2 = Registry::manifest_key("m", 2);
        let v10 = Registry::manifest_key("m", 10);
        assert!(v10 < v2 && v2 < v1);
        assert_eq!(version_of_key(&v10), Some(10));
        assert_eq!(version_of_key(&Registry::claim_key("m", 7)), Some(7));
        assert_eq!(version_of_key("registry/models/m/versions/x.json"), None);
    }

    #[test]
    fn artifact_keys_are_fresh_and_scoped_to_the_version() {
        let a = Registry::artifact_key("fraud", 3);
        let b = Registry::artifact_key("fraud", 3);
        assert!(a.starts_with("artifacts/fraud/3/"));
        assert_ne!(a, b);
    }
}
