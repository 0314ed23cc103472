//! How server functions read the registry and share links: the server
//! provides a [`Catalog`] in each request's context, bound to that request's
//! caller, so this crate needs no storage code of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::audit::api::{AuditQuery, AuditView, VerifyReport};
use crate::models::api::{ModelDetail, ModelList, ModelQuery, VersionPageData};
use crate::server_fns::AppError;
use crate::session::{PageContext, Viewer};
use crate::shares::api::{ShareList, SharedItem};
use crate::upload::api::VersionView;

/// A boxed future, as trait objects return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a catalog read failed, as a page may show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogError {
    /// The request is malformed (a bad name, cursor or token).
    BadRequest(String),
    /// The caller's role does not allow the read.
    Forbidden,
    /// Storage failed; the cause went to the server's log.
    Unavailable,
}

/// Read access to models, versions, share links and the audit dashboard,
/// for one caller.
pub trait Catalog: Send + Sync {
    /// A page of models.
    fn models(&self, query: ModelQuery) -> BoxFuture<'_, Result<ModelList, CatalogError>>;

    /// A model with its newest versions (older ones below `below`).
    fn model(
        &self,
        model: String,
        below: Option<u64>,
    ) -> BoxFuture<'_, Result<Option<ModelDetail>, CatalogError>>;

    /// A finished version, with its aliases.
    fn version(
        &self,
        model: String,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<VersionView>, CatalogError>>;

    /// A version with the previous one and its rendered model card.
    fn version_page(
        &self,
        model: String,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<VersionPageData>, CatalogError>>;

    /// The caller's share links, or every link for an admin.
    fn shares(&self) -> BoxFuture<'_, Result<ShareList, CatalogError>>;

    /// What a share link's recipient sees; `None` for an unknown token.
    fn shared(&self, token: String) -> BoxFuture<'_, Result<Option<SharedItem>, CatalogError>>;

    /// A page of the compliance dashboard with its coverage and chart.
    fn audit_view(&self, query: AuditQuery) -> BoxFuture<'_, Result<AuditView, CatalogError>>;

    /// The portal trail's verification.
    fn verify_trail(&self) -> BoxFuture<'_, Result<VerifyReport, CatalogError>>;
}

/// The catalog as the request context carries it.
#[derive(Clone)]
pub struct CatalogHandle(pub Arc<dyn Catalog>);

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CatalogHandle")
    }
}

/// The signed-in caller of a server function, when `allowed` says their
/// roles may call it. A server function is reachable without its page, so
/// each checks the role itself even though the page's gate did.
pub fn caller(allowed: fn(&Viewer) -> bool) -> Result<Viewer, AppError> {
    let viewer = leptos::prelude::use_context::<PageContext>()
        .and_then(|context| context.viewer)
        .ok_or(AppError::SignInRequired)?;
    if !allowed(&viewer) {
        return Err(AppError::Forbidden);
    }
    Ok(viewer)
}

/// The request's catalog, which the server provides to every page.
pub fn catalog() -> Result<Arc<dyn Catalog>, AppError> {
    leptos::prelude::use_context::<CatalogHandle>()
        .map(|handle| handle.0)
        .ok_or_else(|| AppError::Transport("the registry is not available".into()))
}
