//! A link recipient's download, `GET /s/{token}/files/{*path}`: no session
//! needed, the token is the right. The route is in the portal router, next
//! to the recipient's page at `/s/{token}`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use coffer_app::shares::api::ShareState;

use crate::api::downloads::redirect_to_file;
use crate::error::{ApiError, json_error};
use crate::http::request_id::request_id_of;
use crate::shares::UseRefusal;
use crate::state::AppState;

/// How long a recipient's presigned URL lives: a fresh one is minted at
/// each use, so it can be short.
pub const SHARE_URL_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// `GET /s/{token}/files/{*path}`: counts a use of a live link and
/// redirects to the file, exactly as a signed-in download does.
pub async fn download(
    State(state): State<AppState>,
    Path((token, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    let request_id = request_id_of(request.extensions());
    let file = match state.shares.use_link(&token, &path, &request_id).await {
        Ok(file) => file,
        Err(refusal) => return refusal_response(refusal),
    };
    redirect_to_file(&state, &file, &request_id, SHARE_URL_TTL)
        .await
        .into_response()
}

/// The answer to a refused use: `404` says nothing of whether a link
/// exists; `410` names why a known link no longer works.
fn refusal_response(refusal: UseRefusal) -> Response {
    match refusal {
        UseRefusal::NotFound => ApiError::NotFound.into_response(),
        UseRefusal::Gone(state) => {
            let (code, message) = match state {
                ShareState::Revoked => ("share_revoked", "this link was revoked by its owner"),
                ShareState::Expired => ("share_expired", "this link has expired"),
                ShareState::Exhausted => (
                    "share_exhausted",
                    "this link's downloads have all been used",
                ),
                // A live link is never refused as gone.
                ShareState::Live => ("not_found", "not found"),
            };
            json_error(StatusCode::GONE, code, message)
        }
        UseRefusal::Failed(error) => error.into_response(),
    }
}
