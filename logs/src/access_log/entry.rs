//! The owned access log record, and how it is written as a line.

use time::OffsetDateTime;

use super::escape::{
    decode_key, push_bare, push_key, push_quoted, push_unbroken, redact_request_uri, unescape,
};
use super::parse::AccessLogLine;
use super::time_field;
use crate::decimal::push_padded;

/// One access log record, owned: what a writer fills in, and what a parsed
/// line becomes when it must outlive its text.
///
/// Text holds what the field stands for (escapes undone, key decoded);
/// [`AccessLogEntry::to_line`] escapes it again. The fields are those of
/// [`AccessLogLine`], in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    pub bucket_owner: Option<String>,
    pub bucket: Option<String>,
    pub time: OffsetDateTime,
    pub remote_ip: Option<String>,
    pub requester: Option<String>,
    pub request_id: Option<String>,
    pub operation: Option<String>,
    /// The key itself, not URL-encoded.
    pub key: Option<String>,
    /// `METHOD target PROTOCOL`; credentials in the query are redacted when
    /// the line is written.
    pub request_uri: Option<String>,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    /// Written `-` when zero, as S3 writes it.
    pub bytes_sent: Option<u64>,
    pub object_size: Option<u64>,
    pub total_time_ms: Option<u64>,
    pub turn_around_time_ms: Option<u64>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub version_id: Option<String>,
    pub host_id: Option<String>,
    pub signature_version: Option<String>,
    pub cipher_suite: Option<String>,
    pub authentication_type: Option<String>,
    pub host_header: Option<String>,
    pub tls_version: Option<String>,
    pub access_point_arn: Option<String>,
    pub acl_required: Option<String>,
    pub region: Option<String>,
    /// Raw text after field 27, written as it is (control characters
    /// escaped, so it cannot end the line).
    pub extra: Option<String>,
}

impl AccessLogEntry {
    /// A record at `time` with every other field absent.
    pub fn new(time: OffsetDateTime) -> Self {
        Self {
            bucket_owner: None,
            bucket: None,
            time,
            remote_ip: None,
            requester: None,
            request_id: None,
            operation: None,
            key: None,
            request_uri: None,
            http_status: None,
            error_code: None,
            bytes_sent: None,
            object_size: None,
            total_time_ms: None,
            turn_around_time_ms: None,
            referer: None,
            user_agent: None,
            version_id: None,
            host_id: None,
            signature_version: None,
            cipher_suite: None,
            authentication_type: None,
            host_header: None,
            tls_version: None,
            access_point_arn: None,
            acl_required: None,
            region: None,
            extra: None,
        }
    }

    /// The record as one line of 27 fields, without a line ending.
    ///
    /// This is byte for byte what Coffer's embedded S3 endpoint writes: the
    /// time in UTC, bucket and key URL-encoded, other unquoted text with
    /// spaces, quotes, backslashes, brackets and control characters as
    /// `\xHH`, quoted text with `\"`, `\\` and `\xHH`, absent or empty
    /// values as `-`, and presigned signatures and security tokens in the
    /// request URI replaced by `REDACTED`.
    pub fn to_line(&self) -> String {
        let mut line = String::with_capacity(384);
        self.write_line(&mut line);
        line
    }

    /// Appends [`AccessLogEntry::to_line`]'s text to `out`, so many lines
    /// can share one buffer.
    pub fn write_line(&self, out: &mut String) {
        let text = Option::as_deref;
        let number = |out: &mut String, n: Option<u64>| match n {
            Some(n) => push_padded(out, n, 1),
            None => out.push('-'),
        };

        // Who, where and when.
        push_bare(out, text(&self.bucket_owner));
        out.push(' ');
        push_key(out, text(&self.bucket));
        out.push_str(" [");
        time_field::push(out, self.time);
        out.push_str("] ");
        push_bare(out, text(&self.remote_ip));
        out.push(' ');
        push_bare(out, text(&self.requester));
        out.push(' ');
        push_bare(out, text(&self.request_id));
        out.push(' ');

        // What was asked for: credentials never reach a line.
        push_bare(out, text(&self.operation));
        out.push(' ');
        push_key(out, text(&self.key));
        out.push(' ');
        let request_uri = self.request_uri.as_deref().map(redact_request_uri);
        push_quoted(out, request_uri.as_deref());
        out.push(' ');

        // How it went; zero bytes sent is `-` in S3's own lines.
        number(out, self.http_status.map(u64::from));
        out.push(' ');
        push_bare(out, text(&self.error_code));
        out.push(' ');
        number(out, self.bytes_sent.filter(|&n| n != 0));
        out.push(' ');
        number(out, self.object_size);
        out.push(' ');
        number(out, self.total_time_ms);
        out.push(' ');
        number(out, self.turn_around_time_ms);
        out.push(' ');
        push_quoted(out, text(&self.referer));
        out.push(' ');
        push_quoted(out, text(&self.user_agent));

        // The rest are plain tokens.
        for value in [
            &self.version_id,
            &self.host_id,
            &self.signature_version,
            &self.cipher_suite,
            &self.authentication_type,
            &self.host_header,
            &self.tls_version,
            &self.access_point_arn,
            &self.acl_required,
            &self.region,
        ] {
            out.push(' ');
            push_bare(out, text(value));
        }

        // Unknown trailing fields go back as they came, but a line stays one
        // line.
        if let Some(extra) = self.extra.as_deref().filter(|extra| !extra.is_empty()) {
            out.push(' ');
            push_unbroken(out, extra);
        }
    }
}

impl AccessLogLine<'_> {
    /// The owned record this line stands for: escapes undone, key and bucket
    /// decoded, so that writing it gives the line back.
    pub fn to_entry(&self) -> AccessLogEntry {
        let text = |raw: Option<&str>| raw.map(|raw| unescape(raw).into_owned());
        let key = |raw: Option<&str>| raw.map(|raw| decode_key(raw).into_owned());
        AccessLogEntry {
            bucket_owner: text(self.bucket_owner),
            bucket: key(self.bucket),
            time: self.time,
            remote_ip: text(self.remote_ip),
            requester: text(self.requester),
            request_id: text(self.request_id),
            operation: text(self.operation),
            key: key(self.key),
            request_uri: text(self.request_uri),
            http_status: self.http_status,
            error_code: text(self.error_code),
            bytes_sent: self.bytes_sent,
            object_size: self.object_size,
            total_time_ms: self.total_time_ms,
            turn_around_time_ms: self.turn_around_time_ms,
            referer: text(self.referer),
            user_agent: text(self.user_agent),
            version_id: text(self.version_id),
            host_id: text(self.host_id),
            signature_version: text(self.signature_version),
            cipher_suite: text(self.cipher_suite),
            authentication_type: text(self.authentication_type),
            host_header: text(self.host_header),
            tls_version: text(self.tls_version),
            access_point_arn: text(self.access_point_arn),
            acl_required: text(self.acl_required),
            region: text(self.region),
            extra: self.extra.map(str::to_owned),
        }
    }
}
