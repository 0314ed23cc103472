//! Coffer's integration tests: one binary, one folder per area, each
//! starting real servers on loopback.

mod audit;
mod auth;
mod browse;
mod dev_idp;
mod downloads;
mod oidc_mock;
mod portal;
mod process;
mod s3;
mod shares;
mod support;
mod uploads;
