//! The zero-copy line parser: a forward byte scanner that reads the fields
//! in their documented order, borrowing each from the line.

use std::borrow::Cow;
use std::fmt;

use memchr::{memchr, memchr2};
use time::OffsetDateTime;

use super::escape::{decode_key, redact_request_uri, unescape};
use super::request::{RequestLine, query_value};
use super::time_field;
use crate::Outcome;
use crate::outcome::is_denial_code;

/// One access log record, every field borrowed from its line.
///
/// Text fields hold the raw text as written (escapes intact, quotes
/// stripped); `None` is a `-` or a field the line ends before. Numbers that
/// are `-` are `None` too. The `*_unescaped` and `key_decoded` accessors give
/// the text a field stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogLine<'a> {
    /// 1: canonical user id of the bucket owner.
    pub bucket_owner: Option<&'a str>,
    /// 2: the bucket the request was for.
    pub bucket: Option<&'a str>,
    /// 3: when the request was received, in the offset the line gave.
    pub time: OffsetDateTime,
    /// 4: the requester's apparent IP address.
    pub remote_ip: Option<&'a str>,
    /// 5: canonical user id or IAM ARN of the requester; `None` when
    /// unauthenticated.
    pub requester: Option<&'a str>,
    /// 6: S3's id for the request.
    pub request_id: Option<&'a str>,
    /// 7: `REST.GET.OBJECT`, `REST.PUT.PART`, `S3.EXPIRE.OBJECT`, ...
    pub operation: Option<&'a str>,
    /// 8: the object key, URL-encoded; see [`AccessLogLine::key_decoded`].
    pub key: Option<&'a str>,
    /// 9: `METHOD target PROTOCOL`, raw; see [`AccessLogLine::request_line`].
    pub request_uri: Option<&'a str>,
    /// 10: the HTTP status of the response.
    pub http_status: Option<u16>,
    /// 11: S3's error code, such as `AccessDenied`.
    pub error_code: Option<&'a str>,
    /// 12: response bytes sent, without protocol overhead; S3 writes `-`
    /// for zero.
    pub bytes_sent: Option<u64>,
    /// 13: size of the object concerned, in bytes.
    pub object_size: Option<u64>,
    /// 14: milliseconds from receiving the request to sending the last byte.
    pub total_time_ms: Option<u64>,
    /// 15: milliseconds S3 spent before the first response byte.
    pub turn_around_time_ms: Option<u64>,
    /// 16: the Referer header, raw.
    pub referer: Option<&'a str>,
    /// 17: the User-Agent header, raw.
    pub user_agent: Option<&'a str>,
    /// 18: the object version the request concerned.
    pub version_id: Option<&'a str>,
    /// 19: `x-amz-id-2`, the extended request id.
    pub host_id: Option<&'a str>,
    /// 20: `SigV2` or `SigV4`; `None` when unauthenticated.
    pub signature_version: Option<&'a str>,
    /// 21: the TLS cipher suite of an HTTPS request.
    pub cipher_suite: Option<&'a str>,
    /// 22: `AuthHeader`, or `QueryString` for a presigned URL.
    pub authentication_type: Option<&'a str>,
    /// 23: the Host header the request was sent to.
    pub host_header: Option<&'a str>,
    /// 24: `TLSv1.2`, `TLSv1.3`, ... of an HTTPS request.
    pub tls_version: Option<&'a str>,
    /// 25: the access point the request came through.
    pub access_point_arn: Option<&'a str>,
    /// 26: `Yes` when an ACL was needed to authorize the request.
    pub acl_required: Option<&'a str>,
    /// 27: the region the request came from, on current lines.
    pub region: Option<&'a str>,
    /// Whatever follows field 27, unparsed: fields AWS added after this was
    /// written. [`AccessLogLine::extra_fields`] splits it.
    pub extra: Option<&'a str>,
}

impl<'a> AccessLogLine<'a> {
    /// The object key, URL-decoded.
    pub fn key_decoded(&self) -> Option<Cow<'a, str>> {
        self.key.map(decode_key)
    }

    /// The request URI with its escapes undone.
    pub fn request_uri_unescaped(&self) -> Option<Cow<'a, str>> {
        self.request_uri.map(unescape)
    }

    /// The Referer header with its escapes undone.
    pub fn referer_unescaped(&self) -> Option<Cow<'a, str>> {
        self.referer.map(unescape)
    }

    /// The User-Agent header with its escapes undone.
    pub fn user_agent_unescaped(&self) -> Option<Cow<'a, str>> {
        self.user_agent.map(unescape)
    }

    /// The request URI with its escapes undone and presigned credentials
    /// (`X-Amz-Signature`, `Signature`, `X-Amz-Security-Token`) replaced by
    /// `REDACTED`: S3 logs them as received, and a presigned URL stays a
    /// bearer token until it expires, so this is the form to show.
    pub fn request_uri_redacted(&self) -> Option<Cow<'a, str>> {
        // Borrow from the line when there is neither an escape nor a
        // credential, which is nearly always.
        match self.request_uri_unescaped()? {
            Cow::Borrowed(uri) => Some(redact_request_uri(uri)),
            Cow::Owned(uri) => Some(Cow::Owned(redact_request_uri(&uri).into_owned())),
        }
    }

    /// The request URI split into method, target and protocol.
    pub fn request_line(&self) -> Option<RequestLine<'a>> {
        self.request_uri_unescaped().map(RequestLine::new)
    }

    /// The percent-decoded value of the first query parameter called `name`
    /// in the request URI, such as the `x-coffer-request` id a presigned
    /// Coffer URL carries. A parameter without `=` has the empty value.
    pub fn query_param(&self, name: &str) -> Option<Cow<'a, str>> {
        // Borrow from the line when the URI held no escapes, which is
        // nearly always.
        match self.request_uri_unescaped()? {
            Cow::Borrowed(uri) => query_value(RequestLine::target_of(uri), name),
            Cow::Owned(uri) => {
                let value = query_value(RequestLine::target_of(&uri), name)?;
                Some(Cow::Owned(value.into_owned()))
            }
        }
    }

    /// Whether the request came through a presigned URL.
    pub fn is_presigned(&self) -> bool {
        self.authentication_type == Some("QueryString")
    }

    /// How the request ended: denied on 401 or 403 or a permission error
    /// code, failed on any other error, a success otherwise (lifecycle
    /// actions have no status and count as successes).
    pub fn outcome(&self) -> Outcome {
        let status = self.http_status.unwrap_or(0);
        if matches!(status, 401 | 403) || self.error_code.is_some_and(is_denial_code) {
            Outcome::Denied
        } else if status >= 400 || self.error_code.is_some() {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    /// The unknown trailing fields, one by one, split as every field is.
    pub fn extra_fields(&self) -> SplitFields<'a> {
        split_fields(self.extra.unwrap_or(""))
    }
}

/// A field of an access log line, by its documented position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    BucketOwner,
    Bucket,
    Time,
    RemoteIp,
    Requester,
    RequestId,
    Operation,
    Key,
    RequestUri,
    HttpStatus,
    ErrorCode,
    BytesSent,
    ObjectSize,
    TotalTime,
    TurnAroundTime,
    Referer,
    UserAgent,
    VersionId,
    HostId,
    SignatureVersion,
    CipherSuite,
    AuthenticationType,
    HostHeader,
    TlsVersion,
    AccessPointArn,
    AclRequired,
    Region,
}

impl Field {
    /// The field's position on the line, counting from 1 as AWS does.
    pub fn number(self) -> usize {
        self as usize + 1
    }

    /// The field's name as AWS documents it.
    pub fn name(self) -> &'static str {
        match self {
            Field::BucketOwner => "bucket owner",
            Field::Bucket => "bucket",
            Field::Time => "time",
            Field::RemoteIp => "remote IP",
            Field::Requester => "requester",
            Field::RequestId => "request ID",
            Field::Operation => "operation",
            Field::Key => "key",
            Field::RequestUri => "request URI",
            Field::HttpStatus => "HTTP status",
            Field::ErrorCode => "error code",
            Field::BytesSent => "bytes sent",
            Field::ObjectSize => "object size",
            Field::TotalTime => "total time",
            Field::TurnAroundTime => "turn-around time",
            Field::Referer => "referer",
            Field::UserAgent => "user agent",
            Field::VersionId => "version ID",
            Field::HostId => "host ID",
            Field::SignatureVersion => "signature version",
            Field::CipherSuite => "cipher suite",
            Field::AuthenticationType => "authentication type",
            Field::HostHeader => "host header",
            Field::TlsVersion => "TLS version",
            Field::AccessPointArn => "access point ARN",
            Field::AclRequired => "ACL required",
            Field::Region => "region",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {} ({})", self.number(), self.name())
    }
}

/// Why a line is not an access log record: the field, and what is wrong
/// with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {kind}")]
pub struct ParseError {
    pub field: Field,
    pub kind: ParseErrorKind,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("is missing (a record has at least ten fields)")]
    Missing,
    #[error("is not a number")]
    NotANumber,
    #[error("is too large")]
    TooLarge,
    #[error("should be a time in brackets")]
    NotBracketed,
    #[error("has no closing bracket")]
    UnterminatedBracket,
    #[error("should be in double quotes or -")]
    NotQuoted,
    #[error("has no closing quote")]
    UnterminatedQuote,
    #[error("runs on after its closing quote or bracket")]
    NoSpaceAfter,
    #[error("{0}")]
    BadTime(&'static str),
}

/// Parses one access log line, with or without its line ending.
///
/// The first ten fields must be there; later ones may be missing (older
/// records are shorter) and anything after field 27 goes to
/// [`AccessLogLine::extra`]. Fields are separated by one or more spaces.
pub fn parse_line(line: &str) -> Result<AccessLogLine<'_>, ParseError> {
    // A line may arrive with its ending, and log objects may use CRLF.
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut scan = Scanner { line, pos: 0 };

    // Every record AWS has ever written starts with these ten.
    let bucket_owner = scan.required(Field::BucketOwner)?.bare();
    let bucket = scan.required(Field::Bucket)?.bare();
    let time = scan.required(Field::Time)?.time()?;
    let remote_ip = scan.required(Field::RemoteIp)?.bare();
    let requester = scan.required(Field::Requester)?.bare();
    let request_id = scan.required(Field::RequestId)?.bare();
    let operation = scan.required(Field::Operation)?.bare();
    let key = scan.required(Field::Key)?.bare();
    let request_uri = scan.required(Field::RequestUri)?.quoted()?;
    let http_status = scan.required(Field::HttpStatus)?.number()?;

    // Fields added over the years: a line that stops early leaves the rest
    // absent.
    let error_code = scan.optional(Field::ErrorCode).and_then(At::bare);
    let bytes_sent = scan.optional_number(Field::BytesSent)?;
    let object_size = scan.optional_number(Field::ObjectSize)?;
    let total_time_ms = scan.optional_number(Field::TotalTime)?;
    let turn_around_time_ms = scan.optional_number(Field::TurnAroundTime)?;
    let referer = scan.optional_quoted(Field::Referer)?;
    let user_agent = scan.optional_quoted(Field::UserAgent)?;
    let version_id = scan.optional(Field::VersionId).and_then(At::bare);
    let host_id = scan.optional(Field::HostId).and_then(At::bare);
    let signature_version = scan.optional(Field::SignatureVersion).and_then(At::bare);
    let cipher_suite = scan.optional(Field::CipherSuite).and_then(At::bare);
    let authentication_type = scan.optional(Field::AuthenticationType).and_then(At::bare);
    let host_header = scan.optional(Field::HostHeader).and_then(At::bare);
    let tls_version = scan.optional(Field::TlsVersion).and_then(At::bare);
    let access_point_arn = scan.optional(Field::AccessPointArn).and_then(At::bare);
    let acl_required = scan.optional(Field::AclRequired).and_then(At::bare);
    let region = scan.optional(Field::Region).and_then(At::bare);

    // Fields newer than this parser are kept as they are.
    let extra = scan.rest();

    Ok(AccessLogLine {
        bucket_owner,
        bucket,
        time,
        remote_ip,
        requester,
        request_id,
        operation,
        key,
        request_uri,
        http_status,
        error_code,
        bytes_sent,
        object_size,
        total_time_ms,
        turn_around_time_ms,
        referer,
        user_agent,
        version_id,
        host_id,
        signature_version,
        cipher_suite,
        authentication_type,
        host_header,
        tls_version,
        access_point_arn,
        acl_required,
        region,
        extra,
    })
}

/// Splits a line into its raw fields: a bracketed or quoted field is one
/// field, delimiters and escapes included; any other runs to the next space.
///
/// Unlike [`parse_line`] this never fails: an unterminated quote or bracket
/// runs to the end of the line.
pub fn split_fields(line: &str) -> SplitFields<'_> {
    SplitFields { line, pos: 0 }
}

/// The iterator [`split_fields`] returns.
#[derive(Debug, Clone)]
pub struct SplitFields<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Iterator for SplitFields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Spaces only separate.
        let bytes = self.line.as_bytes();
        let start = self.pos
            + bytes
                .get(self.pos..)?
                .iter()
                .take_while(|&&b| b == b' ')
                .count();
        let first = *bytes.get(start)?;

        // A delimited field ends just after its closer, or at the end of the
        // line when it has none.
        let end = match first {
            b'"' => closing(bytes, start + 1, b'"').map_or(bytes.len(), |at| at + 1),
            b'[' => closing(bytes, start + 1, b']').map_or(bytes.len(), |at| at + 1),
            _ => memchr(b' ', &bytes[start..]).map_or(bytes.len(), |at| start + at),
        };
        self.pos = end;
        self.line.get(start..end)
    }
}

/// The index of the first unescaped `closer` at or after `from`.
fn closing(bytes: &[u8], from: usize, closer: u8) -> Option<usize> {
    let mut at = from;
    loop {
        let found = at + memchr2(closer, b'\\', bytes.get(at..)?)?;
        if bytes[found] == closer {
            return Some(found);
        }

        // A backslash hides the byte after it, whatever it is.
        at = found + 2;
    }
}

/// Reads fields in order from the front of a line.
struct Scanner<'a> {
    line: &'a str,
    pos: usize,
}

/// The start of one field, about to be read as the kind its position calls
/// for.
struct At<'s, 'a> {
    scan: &'s mut Scanner<'a>,
    field: Field,
}

impl<'a> Scanner<'a> {
    /// Moves to the next field, which must exist.
    fn required(&mut self, field: Field) -> Result<At<'_, 'a>, ParseError> {
        self.optional(field).ok_or(ParseError {
            field,
            kind: ParseErrorKind::Missing,
        })
    }

    /// Moves to the next field, if the line has one.
    fn optional(&mut self, field: Field) -> Option<At<'_, 'a>> {
        let bytes = self.line.as_bytes();
        while bytes.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        (self.pos < bytes.len()).then_some(At { scan: self, field })
    }

    fn optional_number(&mut self, field: Field) -> Result<Option<u64>, ParseError> {
        self.optional(field).map_or(Ok(None), At::number)
    }

    fn optional_quoted(&mut self, field: Field) -> Result<Option<&'a str>, ParseError> {
        self.optional(field).map_or(Ok(None), At::quoted)
    }

    /// Everything after the last field read, if anything but spaces.
    fn rest(&mut self) -> Option<&'a str> {
        let bytes = self.line.as_bytes();
        let start = self.pos
            + bytes
                .get(self.pos..)?
                .iter()
                .take_while(|&&b| b == b' ')
                .count();
        self.line.get(start..).filter(|rest| !rest.is_empty())
    }

    /// Takes the text up to `end` and moves past it.
    fn take(&mut self, start: usize, end: usize) -> &'a str {
        self.pos = end;

        // Fields start and end next to ASCII delimiters, so the slice is
        // always on character boundaries; `get` keeps that from ever
        // panicking regardless.
        self.line.get(start..end).unwrap_or("")
    }
}

impl<'a> At<'_, 'a> {
    /// An unquoted field: up to the next space.
    fn bare(self) -> Option<&'a str> {
        let token = self.token();
        (token != "-").then_some(token)
    }

    /// A number, or `-`.
    fn number<N: TryFrom<u64>>(self) -> Result<Option<N>, ParseError> {
        let field = self.field;
        let token = self.token();
        if token == "-" {
            return Ok(None);
        }
        let error = |kind| ParseError { field, kind };

        // Digits only: no sign, no spaces, no `+`.
        let mut value: u64 = 0;
        for &byte in token.as_bytes() {
            if !byte.is_ascii_digit() {
                return Err(error(ParseErrorKind::NotANumber));
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(byte - b'0')))
                .ok_or(error(ParseErrorKind::TooLarge))?;
        }
        N::try_from(value)
            .map(Some)
            .map_err(|_| error(ParseErrorKind::TooLarge))
    }

    /// A quoted field's inner text, escapes intact; a bare `-` is absent.
    fn quoted(self) -> Result<Option<&'a str>, ParseError> {
        let field = self.field;
        let error = |kind| ParseError { field, kind };
        let bytes = self.scan.line.as_bytes();
        let start = self.scan.pos;

        // Some writers leave an absent quoted field unquoted.
        if bytes.get(start) != Some(&b'"') {
            return match self.token() {
                "-" => Ok(None),
                _ => Err(error(ParseErrorKind::NotQuoted)),
            };
        }

        // The field ends at the first quote no backslash hides, and the next
        // field cannot start right after it.
        let close =
            closing(bytes, start + 1, b'"').ok_or(error(ParseErrorKind::UnterminatedQuote))?;
        if bytes.get(close + 1).is_some_and(|&b| b != b' ') {
            return Err(error(ParseErrorKind::NoSpaceAfter));
        }
        let inner = self.scan.take(start + 1, close);
        self.scan.pos = close + 1;
        Ok((inner != "-").then_some(inner))
    }

    /// The bracketed time.
    fn time(self) -> Result<OffsetDateTime, ParseError> {
        let field = self.field;
        let error = |kind| ParseError { field, kind };
        let bytes = self.scan.line.as_bytes();
        let start = self.scan.pos;
        if bytes.get(start) != Some(&b'[') {
            return Err(error(ParseErrorKind::NotBracketed));
        }

        // Times hold no escapes: the first closing bracket ends the field.
        let close = bytes
            .get(start + 1..)
            .and_then(|rest| memchr(b']', rest))
            .map(|at| start + 1 + at)
            .ok_or(error(ParseErrorKind::UnterminatedBracket))?;
        if bytes.get(close + 1).is_some_and(|&b| b != b' ') {
            return Err(error(ParseErrorKind::NoSpaceAfter));
        }
        let inner = self.scan.take(start + 1, close);
        self.scan.pos = close + 1;
        time_field::parse(inner).map_err(|why| error(ParseErrorKind::BadTime(why)))
    }

    /// The raw text up to the next space.
    fn token(self) -> &'a str {
        let start = self.scan.pos;
        let bytes = self.scan.line.as_bytes();
        let end = bytes
            .get(start..)
            .and_then(|rest| memchr(b' ', rest))
            .map_or(bytes.len(), |at| start + at);
        self.scan.take(start, end)
    }
}
