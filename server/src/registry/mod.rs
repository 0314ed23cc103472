//! The model registry, kept as objects in the artifact bucket.
//!
//! Layout, all under `registry/models/<name>/`:
//! - `model.json`: the model's record, created by its first upload;
//! - `claims/<20 digits>.json`: one per reserved version number, written with
//!   `If-None-Match: *`, so two uploads racing for a number cannot both win;
//! - `versions/<20 digits>.json`: a version's manifest, written once, last,
//!   with `If-None-Match: *`: a published version can never be replaced.
//!
//! The digits are `u64::MAX - version`, so ascending key order is newest
//! first and the latest claim or manifest is a one-key listing. Artifact
//! objects live at `artifacts/<name>/<version>/<random id>`: the server
//! mints every key, and a user's file name is only metadata.

pub mod manifest;

use anyhow::Context;
use bytes::Bytes;
use coffer_app::models::catalog::{BoxFuture, Catalog};
use coffer_app::upload::api::{VersionState, VersionView};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tracing::instrument;

use crate::storage::{CreateOutcome, Storage};
pub use manifest::{Claim, Manifest, ManifestFile, ModelRecord};

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

/// A page of model names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPage {
    pub names: Vec<String>,
    /// Pass back to continue after this page.
    pub next_cursor: Option<String>,
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

    /// Creates the model's record unless it exists.
    pub async fn ensure_model(&self, record: &ModelRecord) -> anyhow::Result<()> {
        let key = Registry::model_key(&record.name);
        self.storage
            .create(&key, to_json(record)?, "application/json")
            .await?;
        Ok(())
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

    /// Writes a version's manifest once. `AlreadyExists` means the version
    /// was published (or failed) before, and nothing was changed.
    #[instrument(skip_all, fields(model.name = %manifest.model, model.version = manifest.version))]
    pub async fn publish(&self, manifest: &Manifest) -> anyhow::Result<CreateOutcome> {
        let key = Registry::manifest_key(&manifest.model, manifest.version);
        self.storage
            .create(&key, to_json(manifest)?, "application/json")
            .await
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

    /// The newest available version of a model.
    pub async fn latest_available(&self, model: &str) -> anyhow::Result<Option<u64>> {
        let mut below = None;
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

    /// Model names in order, a page at a time, optionally narrowed to a
    /// prefix of the name.
    pub async fn model_names(
        &self,
        name_prefix: &str,
        cursor: Option<&str>,
        limit: i32,
    ) -> anyhow::Result<ModelPage> {
        let prefix = format!("{PREFIX}{name_prefix}");
        let start_after = cursor.map(|name| format!("{PREFIX}{name}/~"));
        let (prefixes, more) = self
            .storage
            .list_folders(&prefix, start_after.as_deref(), limit)
            .await?;
        let names: Vec<String> = prefixes
            .iter()
            .filter_map(|folder| folder.strip_prefix(PREFIX)?.strip_suffix('/'))
            .map(str::to_owned)
            .collect();
        let next_cursor = if more { names.last().cloned() } else { None };
        Ok(ModelPage { names, next_cursor })
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

impl Catalog for Registry {
    fn version(
        &self,
        model: String,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<VersionView>, String>> {
        Box::pin(async move {
            // The cause goes to the log here; the page gets a plain message.
            match Registry::version(self, &model, version).await {
                Ok(manifest) => Ok(manifest.map(|manifest| manifest.view())),
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "could not read a version");
                    Err("the registry could not be read".to_owned())
                }
            }
        })
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
