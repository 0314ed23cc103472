//! How server functions read the registry: the server provides a
//! [`Catalog`] in each request's context, so this crate needs no storage
//! code of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::upload::api::VersionView;

/// A boxed future, as trait objects return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Read access to models and versions.
pub trait Catalog: Send + Sync {
    /// A finished version, or `None`; `Err` carries a message for the log.
    fn version(
        &self,
        model: String,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<VersionView>, String>>;
}

/// The catalog as the request context carries it.
#[derive(Clone)]
pub struct CatalogHandle(pub Arc<dyn Catalog>);

impl std::fmt::Debug for CatalogHandle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CatalogHandle")
    }
}
