//! Browsing the registry: the pages under `/models` and the server
//! functions behind them.

pub mod api;
#[cfg(feature = "ssr")]
pub mod catalog;
pub mod diff;
pub mod list;
pub mod model;
pub mod pickle;
pub mod version;
