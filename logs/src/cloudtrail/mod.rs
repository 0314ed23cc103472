//! CloudTrail log files.
//!
//! A trail delivers its events, S3 data events included when they are
//! turned on, as gzipped JSON objects `{"Records":[...]}` under
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, several files a
//! day, each named after the account, region and delivery minute plus a
//! random suffix. [`TrailRecord`] is one record; unknown fields are kept, so
//! a record read and written again keeps everything CloudTrail said.
//! [`trail_day_prefix`] lets a reader list one day's files at a time.

mod file;
mod key;
mod record;

pub use file::{TrailFileError, read_trail_file, write_trail_file};
pub use key::{
    TrailKey, TrailKeyError, parse_trail_object_key, trail_day_prefix, trail_object_key,
};
pub use record::{TrailRecord, TrailResource, UserIdentity};

#[cfg(test)]
mod tests;
