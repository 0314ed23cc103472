//! Server functions: called from the browser, run on the server, and each
//! checks the caller's rights there.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::session::Role;

/// Errors a server function reports to the page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Your session has ended; sign in again.")]
    SignInRequired,
    #[error("Your role does not allow this.")]
    Forbidden,
    #[error("There is no such thing here.")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("The server could not answer: {0}")]
    Transport(String),
}

#[cfg(feature = "ssr")]
impl From<crate::models::catalog::CatalogError> for AppError {
    fn from(error: crate::models::catalog::CatalogError) -> Self {
        use crate::models::catalog::CatalogError;
        match error {
            CatalogError::BadRequest(message) => AppError::Invalid(message),
            CatalogError::Forbidden => AppError::Forbidden,
            CatalogError::Unavailable => {
                AppError::Transport("the registry could not be read".into())
            }
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

/// How the caller's session stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReport {
    pub username: String,
    pub roles: Vec<Role>,
    /// Minutes until the session ends without further activity.
    pub minutes_left: i64,
}

/// The caller's name, roles and remaining session time.
#[server(prefix = "/_srv", endpoint = "session_status")]
pub async fn session_status() -> Result<SessionReport, AppError> {
    use crate::models::catalog::caller;
    use crate::session::Viewer;

    // The server put the caller's verified session into the context; a
    // missing one means the request was not signed in.
    let viewer = caller(Viewer::may_browse)?;

    // Whole minutes, never negative.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default();
    Ok(SessionReport {
        username: viewer.username,
        roles: viewer.roles,
        minutes_left: ((viewer.session_expires_at - now) / 60).max(0),
    })
}
