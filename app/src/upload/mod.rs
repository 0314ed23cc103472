//! Uploading a new version: the API's wire types, the `/upload` page and,
//! in the browser, the engine that moves the bytes straight to storage.

pub mod api;
pub mod form;
pub mod page;
pub mod plan;
pub mod state;

#[cfg(feature = "hydrate")]
pub mod client;
#[cfg(feature = "hydrate")]
mod engine;
#[cfg(feature = "hydrate")]
mod local;
#[cfg(feature = "hydrate")]
mod transfer;

#[cfg(not(feature = "hydrate"))]
mod inert;

/// What the page's handlers call: the engine in the browser, a stand-in
/// that does nothing where the page is only rendered.
#[cfg(feature = "hydrate")]
pub use engine::Controls;
#[cfg(not(feature = "hydrate"))]
pub use inert::Controls;
