//! The compliance dashboard through the API: events of each source with
//! filters and cursor paging, streamed exports, and the trail's
//! verification. Compliance staff and admins only; nothing here writes.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use coffer_app::audit::api::{AuditEventPage, AuditQuery, VerifyReport};
use coffer_app::session::Role;

use crate::api::Requester;
use crate::dashboard::export::{self, Format};
use crate::dashboard::{self, Request};
use crate::error::ApiError;
use crate::state::AppState;

/// Who may read the dashboard.
pub const AUDITORS: &[Role] = &[Role::Compliance, Role::Admin];

/// `GET /api/v1/audit/events?source=&from=&to=&actor=&action=&model=&outcome=&limit=&cursor=`
pub async fn events(
    State(state): State<AppState>,
    requester: Requester,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditEventPage>, ApiError> {
    requester.require(&state, AUDITORS).await?;
    let request = request_of(raw.as_deref())?;
    Ok(Json(state.dashboard.page(&request).await?))
}

/// `GET /api/v1/audit/events.csv?…`: the view's every row, streamed.
pub async fn events_csv(
    state: State<AppState>,
    requester: Requester,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    export_as(state, requester, raw, Format::Csv).await
}

/// `GET /api/v1/audit/events.json?…`: the view's every row as one JSON
/// array, streamed.
pub async fn events_json(
    state: State<AppState>,
    requester: Requester,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    export_as(state, requester, raw, Format::Json).await
}

async fn export_as(
    State(state): State<AppState>,
    requester: Requester,
    RawQuery(raw): RawQuery,
    format: Format,
) -> Result<Response, ApiError> {
    requester.require(&state, AUDITORS).await?;
    let request = request_of(raw.as_deref())?;
    tracing::info!(dashboard.source = request.source.as_str(), user.name = %requester.user.username, "audit export");

    // A download named for its source and day.
    let name = format!(
        "coffer-audit-{}-{}.{}",
        request.source.as_str(),
        time::OffsetDateTime::now_utc().date(),
        format.extension()
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("an export name is not a header")))?;
    let body = Body::from_stream(export::stream(state.dashboard.clone(), request, format));
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, body).into_response())
}

/// `GET /api/v1/audit/verify`
pub async fn verify(
    State(state): State<AppState>,
    requester: Requester,
) -> Result<Json<VerifyReport>, ApiError> {
    requester.require(&state, AUDITORS).await?;
    Ok(Json(state.audit.verify().await?))
}

/// A query string as a checked dashboard request.
fn request_of(raw: Option<&str>) -> Result<Request, ApiError> {
    let query: AuditQuery = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|error| ApiError::BadRequest(format!("bad query: {error}")))?;
    dashboard::parse_query(&query)
}
