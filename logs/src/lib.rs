//! Readers and writers for the two AWS log formats the compliance dashboard
//! shows next to Coffer's own audit trail.
//!
//! - [`access_log`]: S3 server access logs, one space-separated line per
//!   request, as real S3 and Coffer's embedded endpoint both write them.
//! - [`cloudtrail`]: CloudTrail log files, gzipped JSON documents holding a
//!   list of records, and the object keys CloudTrail files them under.
//!
//! Both sides classify what happened with the same [`Outcome`], so the
//! dashboard can highlight denials whichever source a row came from.

pub mod access_log;
pub mod cloudtrail;
mod decimal;
mod outcome;

pub use outcome::Outcome;
