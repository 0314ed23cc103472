//! Browsing the registry: model listings with search and sort, a model's
//! history with its aliases, a version with the previous one and its model
//! card; and the two changes browsing allows, descriptions and aliases.
//! The JSON API and the pages both answer from here. Role checks are the
//! callers' (the API handlers and the pages' server functions).

mod aliases;
pub mod card;
mod description;
mod index;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coffer_app::models::api::{ModelDetail, VersionPageData, VersionSummary};
use coffer_app::names::validate_model_name;
use coffer_app::upload::api::VersionView;

use crate::audit::AuditTrail;
use crate::clock::Clock;
use crate::error::{ApiError, json_error};
use crate::registry::manifest::rfc3339;
use crate::registry::{self, Manifest, Registry};
use crate::storage::Storage;

pub use description::{MAX_DESCRIPTION_CHARS, check_description};
pub use index::{DEFAULT_LIMIT, MAX_LIMIT};

/// Versions a page of a model's history shows.
pub const VERSIONS_PER_PAGE: usize = 50;

/// Reads (and, for descriptions and aliases, changes) the registry for
/// browsing.
#[derive(Clone, Debug)]
pub struct Browse {
    storage: Storage,
    registry: Registry,
    audit: AuditTrail,
    clock: Arc<dyn Clock>,
}

/// Why a change was refused: an API error, or something named that does
/// not exist, with a message saying what.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<anyhow::Error> for ChangeError {
    fn from(error: anyhow::Error) -> Self {
        ChangeError::Api(ApiError::Internal(error))
    }
}

impl IntoResponse for ChangeError {
    fn into_response(self) -> Response {
        match self {
            ChangeError::NotFound(message) => {
                json_error(StatusCode::NOT_FOUND, "not_found", &message)
            }
            ChangeError::Api(error) => error.into_response(),
        }
    }
}

impl Browse {
    pub fn new(storage: Storage, audit: AuditTrail, clock: Arc<dyn Clock>) -> Browse {
        Browse {
            registry: Registry::new(storage.clone()),
            storage,
            audit,
            clock,
        }
    }

    /// A model with its newest versions, older ones below `below`.
    pub async fn model(
        &self,
        name: &str,
        below: Option<u64>,
    ) -> Result<Option<ModelDetail>, ApiError> {
        validate_model_name(name).map_err(ApiError::BadRequest)?;
        let Some(record) = self.registry.model(name).await? else {
            return Ok(None);
        };

        // Profile, aliases and a page of history, read at once.
        let (profile, aliases, (manifests, more)) = futures::try_join!(
            self.registry.profile(name),
            registry::aliases::read(&self.storage, name),
            self.registry.version_page(name, below, VERSIONS_PER_PAGE),
        )?;

        let versions = manifests
            .iter()
            .map(|manifest| VersionSummary {
                version: manifest.version,
                state: manifest.state,
                uploader: manifest.uploader.clone(),
                created_at: rfc3339(manifest.created_at),
                finished_at: rfc3339(manifest.finished_at),
                size: manifest.size(),
                files: manifest.files.len(),
                aliases: aliases_of(&aliases, manifest.version),
            })
            .collect();
        let next_below = if more {
            manifests.last().map(|manifest| manifest.version)
        } else {
            None
        };
        let updated_at = profile
            .as_ref()
            .map_or(record.created_at, |profile| profile.updated_at);
        Ok(Some(ModelDetail {
            name: record.name,
            description: profile
                .map(|profile| profile.description)
                .unwrap_or_default(),
            created_by: record.created_by,
            created_at: rfc3339(record.created_at),
            updated_at: rfc3339(updated_at),
            aliases,
            versions,
            next_below,
        }))
    }

    /// A finished version, with its aliases.
    pub async fn version(&self, name: &str, version: u64) -> Result<Option<VersionView>, ApiError> {
        Ok(self.manifest(name, version).await?.map(|(_, view)| view))
    }

    /// A version with the previous available one and its model card.
    pub async fn version_page(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<VersionPageData>, ApiError> {
        let Some((manifest, view)) = self.manifest(name, version).await? else {
            return Ok(None);
        };

        // The nearest older available version is what "changed since"
        // compares against.
        let previous = match self
            .registry
            .latest_available_below(name, Some(version))
            .await?
        {
            Some(older) => self.version(name, older).await?,
            None => None,
        };

        let card_html = card::for_version(&self.storage, &manifest).await;
        Ok(Some(VersionPageData {
            version: view,
            previous,
            card_html,
        }))
    }

    /// A version's manifest and its view with aliases.
    async fn manifest(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<(Manifest, VersionView)>, ApiError> {
        validate_model_name(name).map_err(ApiError::BadRequest)?;
        let (manifest, aliases) = futures::try_join!(
            self.registry.version(name, version),
            registry::aliases::read(&self.storage, name),
        )?;
        Ok(manifest.map(|manifest| {
            let mut view = manifest.view();
            view.aliases = aliases_of(&aliases, version);
            (manifest, view)
        }))
    }

    /// Refuses a change to a model that does not exist.
    async fn require_model(&self, name: &str) -> Result<(), ChangeError> {
        validate_model_name(name).map_err(ApiError::BadRequest)?;
        if self.registry.model(name).await?.is_none() {
            return Err(ChangeError::NotFound(format!(
                "there is no model named {name}"
            )));
        }
        Ok(())
    }
}

/// The aliases naming one version, sorted.
fn aliases_of(aliases: &BTreeMap<String, u64>, version: u64) -> Vec<String> {
    aliases
        .iter()
        .filter(|(_, named)| **named == version)
        .map(|(alias, _)| alias.clone())
        .collect()
}
