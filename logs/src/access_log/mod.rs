//! S3 server access logs.
//!
//! S3 delivers these best-effort, usually within hours, as plain-text objects
//! in a log bucket; records may be missing or duplicated. Each object holds
//! one record per line, and a record is a run of fields separated by single
//! spaces:
//!
//! ```text
//! owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 requester REQID
//! REST.GET.OBJECT models/a%20b.bin "GET /models/a%20b.bin HTTP/1.1" 200 -
//! 1024 1024 12 10 "-" "curl/8.5.0" - hostid SigV4 TLS_AES_128_GCM_SHA256
//! QueryString bucket.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1
//! ```
//!
//! (shown wrapped; a real record is one line). The 27 fields, in order, are
//! those of [`AccessLogLine`]. Three rules shape the parser:
//!
//! - `-` means absent, in any field, numbers and quoted fields included
//!   (a lifecycle expiry has no request URI, status or timings).
//! - The time is the only bracketed field; the request URI, referer and user
//!   agent are the only quoted ones. Inside quotes `\"` and `\\` stand for
//!   themselves and `\xHH` for a byte, so a hostile user agent cannot end its
//!   field or the line. The object key is URL-encoded instead.
//! - Lines grew over the years: old ones stop after the first ten or so
//!   fields, and AWS may append new fields at the end at any time. Missing
//!   trailing fields are `None`; unknown ones are kept, unparsed, in
//!   [`AccessLogLine::extra`].
//!
//! [`parse_line`] borrows every field from the line, so reading a log costs
//! no allocation per line; [`lines`] and [`read_lines`] walk a whole log
//! object, counting malformed lines instead of failing on them.
//! [`AccessLogEntry`] is the owned form, and writes lines byte for byte as
//! Coffer's embedded S3 endpoint does.

mod entry;
mod escape;
mod parse;
mod reader;
mod request;
mod time_field;

pub use entry::AccessLogEntry;
pub use escape::{decode_key, redact_query, unescape};
pub use parse::{
    AccessLogLine, Field, ParseError, ParseErrorKind, SplitFields, parse_line, split_fields,
};
pub use reader::{Entries, MAX_REPORTED_ERRORS, Tally, entries, lines, read_gzipped, read_lines};
pub use request::RequestLine;

#[cfg(test)]
mod tests;
