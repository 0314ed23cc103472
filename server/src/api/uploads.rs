//! The upload routes: start, list, inspect, sign parts, complete, abort.
//! Only data scientists and admins may upload; the service checks that an
//! upload belongs to its caller.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coffer_app::session::Role;
use coffer_app::upload::api::{
    CompleteUpload, PartUrls, PartsRequest, StartUpload, UploadList, UploadStatus, VersionView,
};

use crate::api::{JsonBody, Requester};
use crate::error::ApiError;
use crate::state::AppState;

/// Who may upload.
const UPLOADERS: &[Role] = &[Role::DataScientist, Role::Admin];

/// `POST /api/v1/models/{name}/uploads`
pub async fn start(
    State(state): State<AppState>,
    requester: Requester,
    Path(model): Path<String>,
    JsonBody(request): JsonBody<StartUpload>,
) -> Result<Response, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    let status = state
        .uploads
        .start(requester.caller(), &model, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(status)).into_response())
}

/// `GET /api/v1/uploads`
pub async fn list_all(
    State(state): State<AppState>,
    requester: Requester,
) -> Result<Json<UploadList>, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    let uploads = state.uploads.list(&requester.user, None).await?;
    Ok(Json(UploadList { uploads }))
}

/// `GET /api/v1/models/{name}/uploads`
pub async fn list_for_model(
    State(state): State<AppState>,
    requester: Requester,
    Path(model): Path<String>,
) -> Result<Json<UploadList>, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    let uploads = state.uploads.list(&requester.user, Some(&model)).await?;
    Ok(Json(UploadList { uploads }))
}

/// `GET /api/v1/models/{name}/uploads/{id}`
pub async fn status(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, upload_id)): Path<(String, String)>,
) -> Result<Json<UploadStatus>, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    let status = state
        .uploads
        .status(requester.caller(), &model, &upload_id)
        .await?;
    Ok(Json(status))
}

/// `POST /api/v1/models/{name}/uploads/{id}/parts`
pub async fn sign_parts(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, upload_id)): Path<(String, String)>,
    JsonBody(request): JsonBody<PartsRequest>,
) -> Result<Json<PartUrls>, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    let urls = state
        .uploads
        .sign_parts(requester.caller(), &model, &upload_id, &request)
        .await?;
    Ok(Json(urls))
}

/// `POST /api/v1/models/{name}/uploads/{id}/complete`
pub async fn complete(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, upload_id)): Path<(String, String)>,
    JsonBody(request): JsonBody<CompleteUpload>,
) -> Result<Json<VersionView>, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    let version = state
        .uploads
        .complete(requester.caller(), &model, &upload_id, &request)
        .await?;
    Ok(Json(version))
}

/// `DELETE /api/v1/models/{name}/uploads/{id}`
pub async fn abort(
    State(state): State<AppState>,
    requester: Requester,
    Path((model, upload_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    requester.require(&state, UPLOADERS).await?;
    state
        .uploads
        .abort(requester.caller(), &model, &upload_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
