//! Coffer's server: the portal, its JSON API, sign-in, the audit trail, and
//! in embedded mode an S3 endpoint and a development identity provider.
//!
//! Start at [`startup::start`]; [`router::build`] shows every route.

pub mod api;
pub mod audit;
pub mod auth;
pub mod browse;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod dev_idp;
pub mod error;
pub mod http;
pub mod lambda;
pub mod pages;
pub mod registry;
pub mod router;
pub mod shares;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod uploads;
