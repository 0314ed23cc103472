//! Server access logs in AWS's format, so the compliance dashboard parses the
//! embedded endpoint's logs and real S3's with one parser.
//!
//! Each request becomes one line of 27 space-separated fields (the 26 AWS
//! documents and the region code current lines end with). Lines are kept in
//! memory and written every flush interval as one object under `s3-access/`
//! in the log bucket, named as AWS names its log objects. The object is
//! written through the store directly, so writing logs is never itself
//! logged. Presigned signatures never reach a line: `X-Amz-Signature` (and
//! the SigV2 `Signature` and any security token) are replaced by `REDACTED`.

use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use base64::Engine as _;
use bytes::Bytes;
use coffer_logs::access_log::AccessLogEntry;
use http::Method;
use percent_encoding::percent_decode_str;
use rand::Rng as _;
use time::OffsetDateTime;
use time::macros::format_description;

use super::store::Store;

/// The folder, inside the log bucket, that holds access log objects.
pub(crate) const LOG_PREFIX: &str = "s3-access/";

/// The region every line reports.
const REGION: &str = "us-east-1";

/// How a request proved who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthType {
    Header,
    QueryString,
    Anonymous,
}

impl AuthType {
    fn as_field(self) -> &'static str {
        match self {
            AuthType::Header => "AuthHeader",
            AuthType::QueryString => "QueryString",
            AuthType::Anonymous => "-",
        }
    }
}

/// Everything one log line says about one request.
#[derive(Debug, Clone)]
pub(crate) struct LogRecord {
    pub(crate) bucket_owner: String,
    pub(crate) bucket: Option<String>,
    pub(crate) time: OffsetDateTime,
    pub(crate) remote_ip: String,
    pub(crate) requester: Option<String>,
    pub(crate) request_id: String,
    pub(crate) operation: String,
    pub(crate) key: Option<String>,
    /// Method, path and query as received; redacted when formatted.
    pub(crate) method: String,
    pub(crate) path_and_query: String,
    pub(crate) http_version: &'static str,
    pub(crate) status: u16,
    pub(crate) error_code: Option<String>,
    pub(crate) bytes_sent: u64,
    pub(crate) object_size: Option<u64>,
    pub(crate) total_ms: u128,
    pub(crate) turnaround_ms: u128,
    pub(crate) referer: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) host_id: String,
    pub(crate) auth_type: AuthType,
    pub(crate) host: Option<String>,
}

impl LogRecord {
    /// The AWS-format line, without a trailing newline, written by the
    /// same code that reads the dashboard's logs.
    pub(crate) fn to_line(&self) -> String {
        let owned = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        let signed = self.auth_type != AuthType::Anonymous;
        let millis = |ms: u128| Some(u64::try_from(ms).unwrap_or(u64::MAX));
        let mut entry = AccessLogEntry::new(self.time);
        entry.bucket_owner = owned(&self.bucket_owner);
        entry.bucket = self.bucket.clone();
        entry.remote_ip = owned(&self.remote_ip);
        entry.requester = self.requester.clone();
        entry.request_id = owned(&self.request_id);
        entry.operation = owned(&self.operation);
        entry.key = self.key.clone();
        entry.request_uri = Some(format!(
            "{} {} {}",
            self.method, self.path_and_query, self.http_version
        ));
        entry.http_status = Some(self.status);
        entry.error_code = self.error_code.clone();
        entry.bytes_sent = Some(self.bytes_sent);
        entry.object_size = self.object_size;
        entry.total_time_ms = millis(self.total_ms);
        entry.turn_around_time_ms = millis(self.turnaround_ms);
        entry.referer = self.referer.clone();
        entry.user_agent = self.user_agent.clone();
        entry.host_id = owned(&self.host_id);
        entry.signature_version = signed.then(|| "SigV4".to_owned());
        entry.authentication_type = Some(self.auth_type.as_field().to_owned());
        entry.host_header = self.host.clone();
        entry.region = Some(REGION.to_owned());
        entry.to_line()
    }
}

/// Bucket and key named by a path-style request path.
pub(crate) fn bucket_and_key(path: &str) -> (Option<String>, Option<String>) {
    let decoded = percent_decode_str(path).decode_utf8_lossy();
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = match trimmed.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key)),
        None => (trimmed, None),
    };
    let bucket = (!bucket.is_empty()).then(|| bucket.to_owned());
    let key = key.filter(|k| !k.is_empty()).map(str::to_owned);
    (bucket, key)
}

/// The operation name AWS logs for a request: `REST.<METHOD>.<RESOURCE>`.
pub(crate) fn operation_name(
    method: &Method,
    bucket: bool,
    key: bool,
    query: Option<&str>,
) -> String {
    // Sub-resources named in the query decide what is being acted on.
    let params: Vec<String> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map_or(pair, |(name, _)| name)
                .to_ascii_lowercase()
        })
        .collect();
    let has = |name: &str| params.iter().any(|p| p == name);
    let method_name = method.as_str().to_ascii_uppercase();

    // Preflights are named for what they are, whatever they target.
    if *method == Method::OPTIONS {
        return "REST.OPTIONS.PREFLIGHT".to_owned();
    }
    let resource = if key {
        match (method, has("uploadid"), has("partnumber"), has("uploads")) {
            (&Method::PUT, true, true, _) => "PART",
            (&Method::POST, _, _, true) => "UPLOADS",
            (_, true, _, _) => "UPLOAD",
            _ => "OBJECT",
        }
    } else if bucket {
        const BUCKET_SUBRESOURCES: &[(&str, &str)] = &[
            ("uploads", "UPLOADS"),
            ("location", "LOCATION"),
            ("versioning", "VERSIONING"),
            ("versions", "BUCKETVERSIONS"),
            ("cors", "CORS"),
            ("policy", "BUCKETPOLICY"),
            ("lifecycle", "LIFECYCLE"),
            ("logging", "LOGGING_STATUS"),
            ("tagging", "TAGGING"),
            ("acl", "ACL"),
            ("delete", "MULTI_OBJECT_DELETE"),
        ];
        BUCKET_SUBRESOURCES
            .iter()
            .find(|(param, _)| has(param))
            .map_or("BUCKET", |(_, name)| name)
    } else {
        "SERVICE"
    };
    format!("REST.{method_name}.{resource}")
}

/// Splits an access log line into its fields as a log reader does: a
/// bracketed time or a quoted string is one field, escapes included. Lines
/// written by AWS split the same way.
pub fn split_log_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&first) = chars.peek() {
        // Fields are separated by spaces.
        if first == ' ' {
            chars.next();
            continue;
        }

        // A bracketed or quoted field runs to its closer, skipping escaped
        // characters; any other field runs to the next space.
        let mut field = String::new();
        let closer = match first {
            '"' => Some('"'),
            '[' => Some(']'),
            _ => None,
        };
        if let Some(closer) = closer {
            field.push(first);
            chars.next();
            while let Some(c) = chars.next() {
                field.push(c);
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        field.push(escaped);
                    }
                } else if c == closer {
                    break;
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ') {
                field.push(c);
            }
        }
        fields.push(field);
    }
    fields
}

/// A fresh 16-character upper-case hex id, the shape of AWS request ids and
/// of the suffix of log object names.
pub(crate) fn new_hex_id() -> String {
    format!("{:016X}", rand::thread_rng().r#gen::<u64>())
}

/// A fresh extended request id (`x-amz-id-2`, the log's host id).
pub(crate) fn new_host_id() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The name AWS gives a log object delivered at `at`.
pub(crate) fn log_object_key(at: OffsetDateTime, suffix: &str) -> String {
    let stamp = at
        .format(format_description!(
            "[year]-[month]-[day]-[hour]-[minute]-[second]"
        ))
        .unwrap_or_else(|_| "1970-01-01-00-00-00".to_owned());
    format!("{LOG_PREFIX}{stamp}-{suffix}")
}

/// Log lines waiting to be written.
pub(crate) struct AccessLog {
    lines: Mutex<Vec<String>>,
    store: Store,
    bucket: String,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

impl AccessLog {
    pub(crate) fn new(store: Store, bucket: String) -> Self {
        Self {
            lines: Mutex::new(Vec::new()),
            store,
            bucket,
        }
    }

    pub(crate) fn record(&self, record: &LogRecord) {
        let line = record.to_line();
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    /// Writes every waiting line as one object. On failure the lines go back
    /// in front of any newer ones, to be tried again next time.
    pub(crate) async fn flush(&self) -> anyhow::Result<()> {
        // Take the lines out so requests keep logging while this writes.
        let lines = std::mem::take(&mut *self.lines.lock().unwrap_or_else(PoisonError::into_inner));
        if lines.is_empty() {
            return Ok(());
        }

        // Write them; put them back if that failed.
        let count = lines.len();
        match self.write(&lines).await {
            Ok(key) => {
                tracing::debug!(s3.bucket = %self.bucket, s3.key = %key, s3.lines = count, "wrote access log object");
                Ok(())
            }
            Err(err) => {
                let mut waiting = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
                let newer = std::mem::replace(&mut *waiting, lines);
                waiting.extend(newer);
                Err(err)
            }
        }
    }

    async fn write(&self, lines: &[String]) -> anyhow::Result<String> {
        let mut body = lines.join("\n");
        body.push('\n');
        let key = log_object_key(OffsetDateTime::now_utc(), &new_hex_id());
        self.store
            .put_bytes(&self.bucket, &key, Bytes::from(body), "text/plain")
            .await
            .context("failed to write an access log object")?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogRecord {
        LogRecord {
            bucket_owner: "owner".to_owned(),
            bucket: Some("coffer-artifacts".to_owned()),
            time: OffsetDateTime::UNIX_EPOCH,
            remote_ip: "127.0.0.1".to_owned(),
            requester: Some("requester".to_owned()),
            request_id: "0123456789ABCDEF".to_owned(),
            operation: "REST.PUT.OBJECT".to_owned(),
            key: Some("models/a b.bin".to_owned()),
            method: "PUT".to_owned(),
            path_and_query:
                "/coffer-artifacts/models/a%20b.bin?X-Amz-Signature=abc123&x-coffer-request=r1"
                    .to_owned(),
            http_version: "HTTP/1.1",
            status: 200,
            error_code: None,
            bytes_sent: 0,
            object_size: Some(5),
            total_ms: 3,
            turnaround_ms: 1,
            referer: None,
            user_agent: Some("agent \"quoted\"\nnext".to_owned()),
            host_id: "hostid".to_owned(),
            auth_type: AuthType::QueryString,
            host: Some("127.0.0.1:9000".to_owned()),
        }
    }

    #[test]
    fn a_line_has_twenty_seven_fields_in_aws_order() {
        let fields = split_log_line(&sample().to_line());
        assert_eq!(fields.len(), 27);
        assert_eq!(fields[2], "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(fields[6], "REST.PUT.OBJECT");
        assert_eq!(fields[7], "models/a%20b.bin");
        assert_eq!(fields[9], "200");
        assert_eq!(fields[11], "-");
        assert_eq!(fields[21], "QueryString");
        assert_eq!(fields[26], "us-east-1");
    }

    #[test]
    fn signatures_are_redacted_and_other_parameters_kept() {
        let line = sample().to_line();
        assert!(!line.contains("abc123"));
        assert!(line.contains("X-Amz-Signature=REDACTED"));
        assert!(line.contains("x-coffer-request=r1"));
    }

    #[test]
    fn quotes_and_control_characters_in_a_user_agent_cannot_break_the_line() {
        let line = sample().to_line();
        assert!(!line.contains('\n'));
        assert!(line.contains(r#""agent \"quoted\"\x0Anext""#));
    }

    #[test]
    fn operations_are_named_as_aws_names_them() {
        let op = |m: Method, b, k, q: &str| operation_name(&m, b, k, Some(q));
        assert_eq!(op(Method::PUT, true, true, ""), "REST.PUT.OBJECT");
        assert_eq!(
            op(Method::PUT, true, true, "partNumber=1&uploadId=u"),
            "REST.PUT.PART"
        );
        assert_eq!(op(Method::POST, true, true, "uploads"), "REST.POST.UPLOADS");
        assert_eq!(
            op(Method::POST, true, true, "uploadId=u"),
            "REST.POST.UPLOAD"
        );
        assert_eq!(
            op(Method::DELETE, true, true, "uploadId=u"),
            "REST.DELETE.UPLOAD"
        );
        assert_eq!(op(Method::GET, true, true, "uploadId=u"), "REST.GET.UPLOAD");
        assert_eq!(
            op(Method::GET, true, false, "list-type=2&prefix=a"),
            "REST.GET.BUCKET"
        );
        assert_eq!(op(Method::GET, true, false, "uploads"), "REST.GET.UPLOADS");
        assert_eq!(op(Method::GET, false, false, ""), "REST.GET.SERVICE");
        assert_eq!(
            op(Method::OPTIONS, true, true, ""),
            "REST.OPTIONS.PREFLIGHT"
        );
    }

    #[test]
    fn log_objects_are_named_by_time_and_a_hex_suffix() {
        let key = log_object_key(OffsetDateTime::UNIX_EPOCH, &new_hex_id());
        assert!(key.starts_with("s3-access/1970-01-01-00-00-00-"));
        let suffix = key.rsplit('-').next().unwrap_or_default();
        assert_eq!(suffix.len(), 16);
        assert!(
            suffix
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
    }

    #[test]
    fn the_path_gives_bucket_and_decoded_key() {
        assert_eq!(
            bucket_and_key("/b/models/a%20b"),
            (Some("b".to_owned()), Some("models/a b".to_owned()))
        );
        assert_eq!(bucket_and_key("/b"), (Some("b".to_owned()), None));
        assert_eq!(bucket_and_key("/"), (None, None));
    }

    #[test]
    fn an_absent_value_is_a_dash() {
        let mut record = sample();
        record.requester = None;
        record.auth_type = AuthType::Anonymous;
        let fields = split_log_line(&record.to_line());
        assert_eq!(fields[4], "-");
        assert_eq!(fields[15], "\"-\"");
        assert_eq!(fields[19], "-");
        assert_eq!(fields[21], "-");
    }
}
