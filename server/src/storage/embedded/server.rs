//! The HTTP side of the endpoint: accepts connections, answers CORS
//! preflights, hands everything else to s3s, decorates responses with CORS
//! and request-id headers, and writes one access-log line per request once
//! its response body has been sent.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HOST, REFERER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use s3s::access::{S3Access, S3AccessContext};
use s3s::service::S3Service;
use s3s::{S3Result, s3_error};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::access_log::{self, AccessLog, AuthType, LogRecord};
use super::cloudtrail::{self, Call, Trail};
use super::cors::{CorsPolicy, Preflight};

/// How long shutdown waits for requests in flight before cutting them off.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a connection buffers from its socket. Bodies stream through
/// in pieces this size at most, so many parts arriving at once cost little
/// memory.
const READ_BUFFER: usize = 64 * 1024;

/// The canonical user id S3 would show for an access key: stable, and
/// revealing nothing about the key beyond equality.
pub(crate) fn canonical_id(access_key_id: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "coffer-embedded-s3:{access_key_id}"
    )))
}

/// Who s3s authenticated for a request, filled in by [`RecordingAccess`].
#[derive(Debug, Clone, Default)]
struct Requester(Arc<Mutex<Option<String>>>);

impl Requester {
    fn set(&self, access_key_id: &str) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(access_key_id.to_owned());
    }

    fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The access check: signed requests only (as s3s's default), and it notes
/// the access key for the access log.
#[derive(Debug)]
pub(crate) struct RecordingAccess;

#[async_trait::async_trait]
impl S3Access for RecordingAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(access_key) = cx.credentials().map(|c| c.access_key.clone()) else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        if let Some(requester) = cx.extensions_mut().get::<Requester>() {
            requester.set(&access_key);
        }
        Ok(())
    }
}

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) s3: S3Service,
    pub(crate) cors: CorsPolicy,
    pub(crate) log: Arc<AccessLog>,
    pub(crate) trail: Arc<Trail>,
    pub(crate) owner_id: String,
}

/// Accepts connections until `stop` fires, then lets requests in flight
/// finish (up to [`DRAIN_TIMEOUT`]) before returning.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(READ_BUFFER);

    // Accept until told to stop, reaping finished connections as we go.
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(error = %err, "embedded S3 endpoint failed to accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };

                // Small answers (a listing, an empty marker's PUT) go out at
                // once instead of waiting on the peer's delayed ACK.
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(error = %err, "could not turn off Nagle's algorithm");
                }
                let shared = Arc::clone(&shared);
                let service = hyper::service::service_fn(move |req| handle(Arc::clone(&shared), remote, req));
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                connections.spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "embedded S3 connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }

    // Stop accepting, then drain.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("embedded S3 endpoint cut off requests still running at shutdown");
        }
    }
    connections.shutdown().await;
}

/// What the log needs to know about a request, taken before s3s consumes it.
struct RequestFacts {
    started: Instant,
    received_at: time::OffsetDateTime,
    request_id: String,
    host_id: String,
    method: Method,
    path_and_query: String,
    http_version: &'static str,
    bucket: Option<String>,
    key: Option<String>,
    operation: String,
    auth_type: AuthType,
    headers: HeaderMap,
    remote: SocketAddr,
    upload_size: Option<u64>,
}

impl RequestFacts {
    fn of<B>(req: &Request<B>, remote: SocketAddr) -> Self {
        let uri = req.uri();
        let (bucket, key) = access_log::bucket_and_key(uri.path());
        let query = uri.query();
        let has_param = |name: &str| {
            query.is_some_and(|q| {
                q.split('&').any(|pair| {
                    pair.split('=')
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
        };
        let auth_type = if req.headers().contains_key(http::header::AUTHORIZATION) {
            AuthType::Header
        } else if has_param("X-Amz-Signature") || has_param("Signature") {
            AuthType::QueryString
        } else {
            AuthType::Anonymous
        };
        let upload_size = header_u64(req.headers(), "x-amz-decoded-content-length")
            .or_else(|| header_u64(req.headers(), CONTENT_LENGTH.as_str()));
        Self {
            started: Instant::now(),
            received_at: time::OffsetDateTime::now_utc(),
            request_id: access_log::new_hex_id(),
            host_id: access_log::new_host_id(),
            method: req.method().clone(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            http_version: match req.version() {
                Version::HTTP_10 => "HTTP/1.0",
                Version::HTTP_2 => "HTTP/2.0",
                _ => "HTTP/1.1",
            },
            operation: access_log::operation_name(
                req.method(),
                bucket.is_some(),
                key.is_some(),
                query,
            ),
            bucket,
            key,
            auth_type,
            headers: req.headers().clone(),
            remote,
            upload_size,
        }
    }

    /// The log record, complete but for what the body has yet to tell.
    fn record(
        &self,
        status: StatusCode,
        error_code: Option<String>,
        response: &HeaderMap,
        owner: &str,
        requester: Option<String>,
    ) -> LogRecord {
        let text = |name: http::header::HeaderName| {
            self.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let object_size = match self.operation.as_str() {
            "REST.PUT.OBJECT" | "REST.PUT.PART" => self.upload_size,
            "REST.GET.OBJECT" | "REST.HEAD.OBJECT" => response
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit('/').next())
                .and_then(|total| total.parse().ok())
                .or_else(|| header_u64(response, CONTENT_LENGTH.as_str())),
            _ => None,
        };
        LogRecord {
            bucket_owner: owner.to_owned(),
            bucket: self.bucket.clone(),
            time: self.received_at,
            remote_ip: self.remote.ip().to_string(),
            requester,
            request_id: self.request_id.clone(),
            operation: self.operation.clone(),
            key: self.key.clone(),
            method: self.method.as_str().to_owned(),
            path_and_query: self.path_and_query.clone(),
            http_version: self.http_version,
            status: status.as_u16(),
            error_code,
            bytes_sent: 0,
            object_size,
            total_ms: 0,
            turnaround_ms: self.started.elapsed().as_millis(),
            referer: text(REFERER),
            user_agent: text(USER_AGENT),
            host_id: self.host_id.clone(),
            auth_type: self.auth_type,
            host: text(HOST),
        }
    }
}

impl RequestFacts {
    /// The call as CloudTrail records it.
    fn call(
        &self,
        status: StatusCode,
        error_code: Option<String>,
        access_key_id: Option<String>,
    ) -> Call {
        let list_v2 = self
            .path_and_query
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|pair| pair == "list-type=2"));
        Call {
            time: self.received_at,
            operation: self.operation.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            access_key_id,
            presigned: self.auth_type == AuthType::QueryString,
            source_ip: self.remote.ip().to_string(),
            user_agent: self
                .headers
                .get(USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            request_id: self.request_id.clone(),
            host_id: self.host_id.clone(),
            status: status.as_u16(),
            error_code,
            copy: self.headers.contains_key("x-amz-copy-source"),
            list_v2,
        }
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Handles one request.
async fn handle(
    shared: Arc<Shared>,
    remote: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<LoggedBody>, s3s::HttpError> {
    // CloudTrail's API shares the port; it is not an S3 call to log.
    if cloudtrail::is_cloudtrail_call(&req) {
        let response = shared.trail.answer(req, remote.ip().to_string()).await;
        return Ok(response.map(|body| LoggedBody {
            inner: body,
            sent: 0,
            pending: None,
        }));
    }
    let facts = RequestFacts::of(&req, remote);

    // One span per request; the query (which may hold a signature) stays
    // out of it.
    let span = tracing::info_span!(
        "s3.request",
        s3.request_id = %facts.request_id,
        http.method = %facts.method,
        s3.operation = %facts.operation,
        s3.bucket = facts.bucket.as_deref().unwrap_or("-"),
    );

    // Preflights never reach s3s: they carry no signature.
    let requester = Requester::default();
    let result = if req.method() == Method::OPTIONS {
        Ok(preflight_response(&shared.cors, req.headers()))
    } else {
        req.extensions_mut().insert(requester.clone());
        shared
            .s3
            .call(req.map(s3s::Body::from))
            .instrument(span)
            .await
    };

    // A failure s3s cannot answer aborts the connection; log it first.
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            let record = facts.record(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("InternalError".to_owned()),
                &HeaderMap::new(),
                &shared.owner_id,
                None,
            );
            shared.log.record(&LogRecord {
                total_ms: facts.started.elapsed().as_millis(),
                ..record
            });
            return Err(err);
        }
    };

    // Every response names its request, and CORS headers go to our origin.
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&facts.request_id) {
        headers.insert("x-amz-request-id", value);
    }
    if let Ok(value) = HeaderValue::from_str(&facts.host_id) {
        headers.insert("x-amz-id-2", value);
    }
    if facts.method != Method::OPTIONS {
        shared.cors.decorate(&facts.headers, headers);
    }

    // The log line waits for the body, which knows the bytes sent.
    let status = response.status();
    let error_code = if status.is_client_error() || status.is_server_error() {
        response
            .body()
            .bytes()
            .and_then(|body| error_code_of(&body))
    } else {
        None
    };
    let access_key_id = requester.get();
    shared
        .trail
        .record_call(&facts.call(status, error_code.clone(), access_key_id.clone()));
    let requester = access_key_id.map(|key| canonical_id(&key));
    let record = facts.record(
        status,
        error_code,
        response.headers(),
        &shared.owner_id,
        requester,
    );
    let log = Arc::clone(&shared.log);
    let started = facts.started;
    Ok(response.map(|body| LoggedBody {
        inner: body,
        sent: 0,
        pending: Some((record, started, log)),
    }))
}

/// Answers a preflight with S3's status codes and headers.
fn preflight_response(cors: &CorsPolicy, headers: &HeaderMap) -> Response<s3s::Body> {
    let verdict = cors.preflight(headers);
    let mut response = Response::new(s3s::Body::empty());
    *response.status_mut() = verdict.status();
    match verdict {
        Preflight::Allowed(allowed) => response.headers_mut().extend(allowed),
        refused => {
            let code = refused.error_code().unwrap_or("AccessForbidden");
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>",
                refused.message()
            );
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            *response.body_mut() = s3s::Body::from(body);
        }
    }
    response
}

/// The `<Code>` of an S3 error body.
fn error_code_of(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let code = &text[start..end];
    code.chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then(|| code.to_owned())
}

/// A response body that counts what it sends and writes the request's log
/// line when it is done, whether it finished or the client went away.
pub(crate) struct LoggedBody {
    inner: s3s::Body,
    sent: u64,
    pending: Option<(LogRecord, Instant, Arc<AccessLog>)>,
}

impl HttpBody for LoggedBody {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.sent += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some((record, started, log)) = self.pending.take() {
            log.record(&LogRecord {
                bytes_sent: self.sent,
                total_ms: started.elapsed().as_millis(),
                ..record
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_code_is_read_from_an_s3_error_body() {
        let body =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>x</Message></Error>";
        assert_eq!(error_code_of(body), Some("NoSuchKey".to_owned()));
        assert_eq!(error_code_of(b"<Error><Code>a b</Code></Error>"), None);
        assert_eq!(error_code_of(b"not xml"), None);
    }

    #[test]
    fn canonical_ids_are_stable_hex_and_hide_the_key() {
        let id = canonical_id("CFRKEY");
        assert_eq!(id, canonical_id("CFRKEY"));
        assert_eq!(id.len(), 64);
        assert!(!id.contains("CFRKEY"));
        assert_ne!(id, canonical_id("OTHER"));
    }
}
