//! `--storage s3`: the binary against moto, an S3 server outside the
//! process, configured the way an operator configures AWS (the SDK's
//! default chain and `AWS_ENDPOINT_URL_S3`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, HOST, IF_NONE_MATCH, TRANSFER_ENCODING};
use axum::http::{HeaderMap, Response, StatusCode};
use coffer_server::audit::{Action, AuditRecord, Outcome};
use reqwest::StatusCode as HttpStatus;
use serde_json::json;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{Launch, ServerProcess};
use crate::s3::Target;
use crate::support::{browser, me, sign_in};

pub const BUCKET: &str = "coffer-it-artifacts";
pub const LOG_BUCKET: &str = "coffer-it-logs";

/// How long a server that must refuse to start may take to do so.
const REFUSAL_WITHIN: Duration = Duration::from_secs(60);

/// A server in s3 mode against `endpoint`, with credentials from the
/// environment as the SDK's default chain reads them.
pub fn s3_mode(data: &TempDir, endpoint: &str) -> Launch {
    Launch::new(data.path())
        .args(&[
            "--storage",
            "s3",
            "--bucket",
            BUCKET,
            "--log-bucket",
            LOG_BUCKET,
            "--s3-force-path-style",
            "true",
        ])
        .env("AWS_ENDPOINT_URL_S3", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_mode_against_moto_keeps_sessions_and_the_audit_trail_in_the_bucket() {
    // moto with both buckets, as an operator would have created them.
    let moto = Target::moto().await.expect("moto starts");
    moto.bucket(BUCKET).await.expect("artifact bucket");
    moto.bucket(LOG_BUCKET).await.expect("log bucket");

    // The binary starts in s3 mode and becomes ready.
    let data = TempDir::new().expect("data folder");
    let server = s3_mode(&data, &moto.endpoint).start().await;

    // alice signs in through the development provider and has her role.
    let client = browser();
    sign_in(&server, &client, "alice").await;
    let (status, body) = me(&server, &client).await;
    assert_eq!(status, HttpStatus::OK);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["roles"], json!(["data-scientist"]));

    // Her sign-in is an audit record in moto's bucket.
    let records = read_audit_records(&moto).await;
    assert!(
        records.iter().any(|record| record.event.actor == "alice"
            && record.event.action == Action::SignIn
            && record.event.outcome == Outcome::Success),
        "no sign_in record of alice among {records:?}"
    );

    // Her session is an object there too, and the start-up probe left
    // nothing behind.
    assert!(
        !keys_under(&moto, "sessions/").await.is_empty(),
        "no session object in the bucket"
    );
    assert_eq!(
        keys_under(&moto, "_coffer/probe/").await,
        Vec::<String>::new()
    );
    assert!(
        !server.output().contains("ERROR"),
        "errors while serving:\n{}",
        server.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_ignores_conditional_writes_is_refused_at_start() {
    // moto behind a proxy that forgets `If-None-Match`, like an
    // S3-compatible server without conditional writes.
    let moto = Target::moto().await.expect("moto starts");
    moto.bucket(BUCKET).await.expect("artifact bucket");
    moto.bucket(LOG_BUCKET).await.expect("log bucket");
    let proxy = ForgetfulProxy::start(&moto.endpoint).await;

    // The binary exits with a failure instead of serving.
    let data = TempDir::new().expect("data folder");
    let mut server = s3_mode(&data, &proxy.url).spawn();
    let status = exit_status(&mut server).await;
    assert!(!status.success(), "exit status {status}");

    // It says what is wrong and why it matters.
    let output = server.output();
    let refusal = format!("bucket {BUCKET} does not honour conditional writes");
    for needle in [
        refusal.as_str(),
        "If-None-Match",
        "Coffer needs them for race-free version numbers and an append-only audit trail",
    ] {
        assert!(
            output.contains(needle),
            "{needle:?} missing from:\n{output}"
        );
    }

    // The refusal came from the dropped header, not from another fault.
    assert!(
        proxy.dropped() >= 2,
        "the proxy dropped If-None-Match {} times",
        proxy.dropped()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_buckets_stop_the_server_with_a_clear_message() {
    // moto without the buckets Coffer is told to use.
    let moto = Target::moto().await.expect("moto starts");

    // The binary exits with a failure instead of serving.
    let data = TempDir::new().expect("data folder");
    let mut server = s3_mode(&data, &moto.endpoint).spawn();
    let status = exit_status(&mut server).await;
    assert!(!status.success(), "exit status {status}");

    // It names the bucket and what to do about it.
    let output = server.output();
    let unreachable = format!("bucket {BUCKET} is not reachable");
    for needle in [
        "Coffer could not start",
        "the buckets are not reachable; create them or check the credentials",
        unreachable.as_str(),
    ] {
        assert!(
            output.contains(needle),
            "{needle:?} missing from:\n{output}"
        );
    }
}

/// Waits for a server that should refuse to start to exit.
pub async fn exit_status(server: &mut ServerProcess) -> std::process::ExitStatus {
    match server.wait_for_exit(REFUSAL_WITHIN).await {
        Some(status) => status,
        None => panic!(
            "coffer-server still runs after {REFUSAL_WITHIN:?}:\n{}",
            server.output()
        ),
    }
}

/// Every key under `prefix` in the artifact bucket.
async fn keys_under(moto: &Target, prefix: &str) -> Vec<String> {
    let listing = moto
        .client
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .expect("list objects");
    listing
        .contents()
        .iter()
        .filter_map(|object| object.key().map(str::to_owned))
        .collect()
}

/// The audit records stored in moto, read as any S3 client would.
async fn read_audit_records(moto: &Target) -> Vec<AuditRecord> {
    let mut records = Vec::new();
    for key in keys_under(moto, "audit/portal/").await {
        let object = moto
            .client
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .expect("get audit record");
        let bytes = object.body.collect().await.expect("body").into_bytes();
        let record = serde_json::from_slice(&bytes)
            .unwrap_or_else(|error| panic!("{key} is not an audit record: {error}"));
        records.push(record);
    }
    records
}

/// A loopback HTTP proxy to an S3 server that drops `If-None-Match` from
/// every request. moto checks no signatures, so removing a signed header
/// is invisible to it.
struct ForgetfulProxy {
    url: String,
    dropped: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
    dropped: Arc<AtomicUsize>,
}

impl ForgetfulProxy {
    async fn start(upstream: &str) -> ForgetfulProxy {
        let dropped = Arc::new(AtomicUsize::new(0));
        let state = Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            dropped: Arc::clone(&dropped),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ForgetfulProxy { url, dropped, task }
    }

    /// How many requests carried `If-None-Match` and lost it.
    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for ForgetfulProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends one request on to the upstream server, buffered (the requests
/// Coffer makes at start-up are small), without `If-None-Match`.
async fn forward(State(upstream): State<Upstream>, request: Request) -> Response<Body> {
    // Hop-by-hop and length headers are the client's own business.
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    if headers.remove(IF_NONE_MATCH).is_some() {
        upstream.dropped.fetch_add(1, Ordering::SeqCst);
    }
    for name in [HOST, CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION] {
        headers.remove(name);
    }
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .expect("request body");

    // The same method, path and query, to the upstream server.
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let answer = upstream
        .http
        .request(parts.method, format!("{}{path}", upstream.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => {
            let mut response = Response::new(Body::from(error.to_string()));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return response;
        }
    };

    // Its answer back, as it came.
    let status = answer.status();
    let mut headers: HeaderMap = answer.headers().clone();
    headers.remove(TRANSFER_ENCODING);
    headers.remove(CONNECTION);
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
