//! The registry through the API: model listings with search and paging, a
//! model's history, a version with its aliases (any role may read), and
//! the changes data scientists and admins may make: descriptions and
//! aliases.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use coffer_app::models::api::{
    AliasMove, AliasMoved, DescriptionChange, ModelDetail, ModelList, ModelQuery, ModelSort,
};
use coffer_app::names::validate_model_name;
use coffer_app::session::Role;
use coffer_app::upload::api::VersionView;

use crate::api::{JsonBody, Requester};
use crate::browse::ChangeError;
use crate::error::ApiError;
use crate::state::AppState;

/// Who may read the registry.
const READERS: &[Role] = &[Role::DataScientist, Role::Compliance, Role::Admin];

/// Who may edit descriptions and move aliases.
const EDITORS: &[Role] = &[Role::DataScientist, Role::Admin];

/// `GET /api/v1/models?q=&sort=updated|name&cursor=&limit=`
pub async fn list(
    State(state): State<AppState>,
    requester: Requester,
    RawQuery(raw): RawQuery,
) -> Result<Json<ModelList>, ApiError> {
    requester.require(&state, READERS).await?;
    let query = model_query(raw.as_deref().unwrap_or_default())?;
    Ok(Json(state.browse.models(&query).await?))
}

/// `GET /api/v1/models/{name}?below=`
pub async fn detail(
    State(state): State<AppState>,
    requester: Requester,
    Path(model): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ModelDetail>, ApiError> {
    requester.require(&state, READERS).await?;
    let below = match query_pairs(raw.as_deref().unwrap_or_default()).get("below") {
        Some(below) => Some(parse_version(below)?),
        None => None,
    };
    let detail = state.browse.model(&model, below).await?;
    Ok(Json(detail.ok_or(ApiError::NotFound)?))
}

/// `GET /api/v1/models/{name}/versions/{n}`
pub async fn version(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, version)): Path<(String, String)>,
) -> Result<Json<VersionView>, ApiError> {
    requester.require(&state, READERS).await?;
    validate_model_name(&model).map_err(ApiError::BadRequest)?;
    let version = parse_version(&version)?;
    let view = state.browse.version(&model, version).await?;
    Ok(Json(view.ok_or(ApiError::NotFound)?))
}

/// `PUT /api/v1/models/{name}/description`
pub async fn set_description(
    State(state): State<AppState>,
    requester: Requester,
    Path(model): Path<String>,
    body: Result<JsonBody<DescriptionChange>, Response>,
) -> Result<Json<ModelDetail>, Response> {
    // The role first: a caller who may not edit learns nothing more.
    requester.require(&state, EDITORS).await.map_err(reply)?;
    let JsonBody(change) = body?;
    let detail = state
        .browse
        .set_description(requester.caller(), &model, &change)
        .await
        .map_err(reply)?;
    Ok(Json(detail))
}

/// `PUT /api/v1/models/{name}/aliases/{alias}`
pub async fn move_alias(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, alias)): Path<(String, String)>,
    body: Result<JsonBody<AliasMove>, Response>,
) -> Result<Json<AliasMoved>, Response> {
    requester.require(&state, EDITORS).await.map_err(reply)?;
    let JsonBody(change) = body?;
    let moved = state
        .browse
        .move_alias(requester.caller(), &model, &alias, change.version)
        .await
        .map_err(reply)?;
    Ok(Json(moved))
}

/// `DELETE /api/v1/models/{name}/aliases/{alias}`
pub async fn remove_alias(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, alias)): Path<(String, String)>,
) -> Result<Json<AliasMoved>, Response> {
    requester.require(&state, EDITORS).await.map_err(reply)?;
    let moved = state
        .browse
        .remove_alias(requester.caller(), &model, &alias)
        .await
        .map_err(reply)?;
    Ok(Json(moved))
}

/// An error as the response it becomes.
fn reply(error: impl Into<ChangeError>) -> Response {
    axum::response::IntoResponse::into_response(error.into())
}

/// The query string's parameters; the last of a repeated one wins.
fn query_pairs(raw: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// The listing a query string asks for; a bad `sort` or `limit` is refused
/// here, a bad cursor by the listing itself.
fn model_query(raw: &str) -> Result<ModelQuery, ApiError> {
    let mut pairs = query_pairs(raw);
    let sort = match pairs.get("sort").map(String::as_str) {
        None | Some("" | "updated") => ModelSort::Updated,
        Some("name") => ModelSort::Name,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "sort must be `updated` or `name`".into(),
            ));
        }
    };
    let limit = match pairs.get("limit") {
        None => None,
        Some(limit) => Some(limit.parse::<u32>().map_err(|_| {
            ApiError::BadRequest("limit must be a whole number from 1 to 100".into())
        })?),
    };
    Ok(ModelQuery {
        q: pairs.remove("q").unwrap_or_default(),
        sort,
        cursor: pairs.remove("cursor").filter(|cursor| !cursor.is_empty()),
        limit,
    })
}

/// A version number from a path or query.
fn parse_version(version: &str) -> Result<u64, ApiError> {
    version
        .parse()
        .map_err(|_| ApiError::BadRequest("a version is a positive whole number".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_with_defaults_and_refuse_bad_values() {
        let query = model_query("q=Fraud%20&cursor=abc").expect("parses");
        assert_eq!(query.q, "Fraud ");
        assert_eq!(query.sort, ModelSort::Updated);
        assert_eq!(query.cursor.as_deref(), Some("abc"));
        assert_eq!(query.limit, None);

        let query = model_query("sort=name&limit=7").expect("parses");
        assert_eq!(query.sort, ModelSort::Name);
        assert_eq!(query.limit, Some(7));

        assert!(model_query("sort=size").is_err());
        assert!(model_query("limit=-1").is_err());
        assert!(model_query("limit=ten").is_err());
    }
}
