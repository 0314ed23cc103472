//! Reading the registry: models and their finished versions. Any role may
//! read.

use axum::Json;
use axum::extract::{Path, Query, State};
use coffer_app::names::validate_model_name;
use coffer_app::session::Role;
use coffer_app::upload::api::VersionView;
use serde::{Deserialize, Serialize};

use crate::api::Requester;
use crate::error::ApiError;
use crate::registry::manifest::rfc3339;
use crate::state::AppState;

/// Who may read the registry.
const READERS: &[Role] = &[Role::DataScientist, Role::Compliance, Role::Admin];

/// Models a page lists.
const MODELS_PER_PAGE: i32 = 100;

/// Versions a model's answer lists.
const VERSIONS_PER_PAGE: i32 = 100;

#[derive(Debug, Deserialize)]
pub struct ModelQuery {
    #[serde(default)]
    prefix: String,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ModelSummary {
    name: String,
    latest_version: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ModelList {
    models: Vec<ModelSummary>,
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VersionSummary {
    version: u64,
    state: coffer_app::upload::api::VersionState,
    uploader: String,
    created_at: String,
    finished_at: String,
    size: u64,
    files: usize,
}

#[derive(Debug, Serialize)]
pub struct ModelDetail {
    name: String,
    versions: Vec<VersionSummary>,
}

/// `GET /api/v1/models`
pub async fn list(
    State(state): State<AppState>,
    requester: Requester,
    Query(query): Query<ModelQuery>,
) -> Result<Json<ModelList>, ApiError> {
    requester.require(&state, READERS).await?;

    // A prefix or cursor that no valid name starts with matches nothing.
    let valid_prefix = query.prefix.is_empty()
        || query
            .prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !valid_prefix
        || query
            .cursor
            .as_deref()
            .is_some_and(|cursor| validate_model_name(cursor).is_err())
    {
        return Err(ApiError::BadRequest(
            "prefix and cursor must be parts of model names".into(),
        ));
    }

    let registry = state.uploads.registry();
    let page = registry
        .model_names(&query.prefix, query.cursor.as_deref(), MODELS_PER_PAGE)
        .await?;
    let latest = futures::future::try_join_all(
        page.names
            .iter()
            .map(|name| registry.latest_available(name)),
    )
    .await?;
    let models = page
        .names
        .into_iter()
        .zip(latest)
        .map(|(name, latest_version)| ModelSummary {
            name,
            latest_version,
        })
        .collect();
    Ok(Json(ModelList {
        models,
        next_cursor: page.next_cursor,
    }))
}

/// `GET /api/v1/models/{name}`
pub async fn detail(
    State(state): State<AppState>,
    requester: Requester,
    Path(model): Path<String>,
) -> Result<Json<ModelDetail>, ApiError> {
    requester.require(&state, READERS).await?;
    validate_model_name(&model).map_err(ApiError::BadRequest)?;
    let registry = state.uploads.registry();
    if registry.model(&model).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let versions = registry
        .versions(&model, None, VERSIONS_PER_PAGE)
        .await?
        .iter()
        .map(|manifest| VersionSummary {
            version: manifest.version,
            state: manifest.state,
            uploader: manifest.uploader.clone(),
            created_at: rfc3339(manifest.created_at),
            finished_at: rfc3339(manifest.finished_at),
            size: manifest.size(),
            files: manifest.files.len(),
        })
        .collect();
    Ok(Json(ModelDetail {
        name: model,
        versions,
    }))
}

/// `GET /api/v1/models/{name}/versions/{n}`
pub async fn version(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<VersionView>, ApiError> {
    requester.require(&state, READERS).await?;
    validate_model_name(&model).map_err(ApiError::BadRequest)?;
    let version: u64 = version
        .parse()
        .map_err(|_| ApiError::BadRequest("a version is a positive whole number".into()))?;
    let manifest = state
        .uploads
        .registry()
        .version(&model, version)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(manifest.view()))
}
