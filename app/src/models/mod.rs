//! Browsing the registry: the pages under `/models` and the server
//! functions behind them.

#[cfg(feature = "ssr")]
pub mod catalog;
pub mod version;
