//! A local stand-in for the Lambda runtime API (`/2018-06-01/runtime/…`):
//! it hands out queued events one at a time, with the headers Lambda
//! sends, and keeps what the function posts back. Shared by the Lambda
//! process test and the cold-start benchmark.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The runtime API's stand-in: hands out queued events one at a time and
/// keeps what the function posts back.
#[derive(Clone)]
struct RuntimeApi {
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
    init_errors: Arc<Mutex<Vec<Value>>>,
}

/// A running stand-in, with the ends a test uses.
pub struct Runtime {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub addr: String,
    events: mpsc::UnboundedSender<(String, Value)>,
    answers: mpsc::UnboundedReceiver<(String, Value)>,
    init_errors: Arc<Mutex<Vec<Value>>>,
}

impl Runtime {
    pub async fn start() -> Runtime {
        let (events_in, events_out) = mpsc::unbounded_channel();
        let (answers_in, answers_out) = mpsc::unbounded_channel();
        let api = RuntimeApi {
            events: Arc::new(tokio::sync::Mutex::new(events_out)),
            answers: answers_in,
            init_errors: Arc::default(),
        };
        let init_errors = api.init_errors.clone();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_event))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Runtime {
            addr,
            events: events_in,
            answers: answers_out,
            init_errors,
        }
    }

    /// Queues one event and waits up to `within` for the function's
    /// answer; the error says what the function reported instead.
    pub async fn invoke(
        &mut self,
        id: &str,
        event: Value,
        within: Duration,
    ) -> Result<Value, String> {
        self.events
            .send((id.to_owned(), event))
            .map_err(|_| "the stand-in stopped".to_owned())?;
        match tokio::time::timeout(within, self.answers.recv()).await {
            Ok(Some((answered, body))) if answered == id => Ok(body),
            Ok(Some((answered, _))) => Err(format!("{answered} was answered instead of {id}")),
            _ => Err(format!(
                "no answer to {id}; initialisation errors: {:?}",
                self.init_errors.lock().expect("lock")
            )),
        }
    }
}

/// `GET /runtime/invocation/next`: the next event, with the headers the
/// runtime API sends; waits while none is queued.
async fn next_event(State(api): State<RuntimeApi>) -> Response {
    let Some((id, event)) = api.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let mut headers = HeaderMap::new();
    let deadline_ms = deadline.unix_timestamp_nanos() / 1_000_000;
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:coffer".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-67891233-abcdef012345678912345678;Sampled=0".to_owned(),
        ),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    (headers, Json(event)).into_response()
}

async fn invocation_response(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = api.answers.send((id, as_json(&body)));
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = api
        .answers
        .send((id, json!({ "invocation_error": as_json(&body) })));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<RuntimeApi>, body: Bytes) -> StatusCode {
    api.init_errors.lock().expect("lock").push(as_json(&body));
    StatusCode::ACCEPTED
}

/// A posted body as JSON; the runtime client sends no content type.
fn as_json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// An API Gateway HTTP API event (payload format 2.0) as AWS sends it for
/// the `$default` route and stage.
pub fn api_gateway_event(method: &str, path: &str, query: &str, headers: Value) -> Value {
    let domain = "k3x9v2abcd.execute-api.us-east-1.amazonaws.com";
    let mut all_headers = json!({
        "host": domain,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
        "x-forwarded-for": "192.0.2.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    if let (Some(all), Some(extra)) = (all_headers.as_object_mut(), headers.as_object()) {
        all.extend(extra.clone());
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "k3x9v2abcd",
            "domainName": domain,
            "domainPrefix": "k3x9v2abcd",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Dec/2026:17:00:00 +0000",
            "timeEpoch": 1_796_403_600_000_u64
        },
        "isBase64Encoded": false
    })
}
