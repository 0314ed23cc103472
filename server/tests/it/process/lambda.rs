//! The binary as a Lambda function: started with the runtime's variables,
//! it asks a local stand-in of the Lambda runtime API for events, answers
//! API Gateway (HTTP API, payload 2.0) events through the portal's routes,
//! and posts the answers back, as it would in AWS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::s3_storage::{BUCKET, LOG_BUCKET, exit_status, s3_mode};
use super::{Launch, ServerProcess};
use crate::s3::Target;

/// How long one invocation may take, start-up included, on a slow build.
const ANSWER_WITHIN: Duration = Duration::from_secs(90);

/// The runtime API's stand-in: hands out queued events one at a time and
/// keeps what the function posts back.
#[derive(Clone)]
struct RuntimeApi {
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
    init_errors: Arc<Mutex<Vec<Value>>>,
}

/// A running stand-in, with the ends a test uses.
struct Runtime {
    addr: String,
    events: mpsc::UnboundedSender<(String, Value)>,
    answers: mpsc::UnboundedReceiver<(String, Value)>,
    init_errors: Arc<Mutex<Vec<Value>>>,
}

impl Runtime {
    async fn start() -> Runtime {
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

    /// Queues one API Gateway event and waits for the function's answer.
    async fn invoke(&mut self, server: &ServerProcess, id: &str, event: Value) -> Value {
        self.events
            .send((id.to_owned(), event))
            .expect("the stand-in runs");
        match tokio::time::timeout(ANSWER_WITHIN, self.answers.recv()).await {
            Ok(Some((answered, body))) => {
                assert_eq!(answered, id, "answered another invocation");
                body
            }
            _ => panic!(
                "no answer to {id}; init errors {:?}; output:\n{}",
                self.init_errors.lock().expect("lock"),
                server.output()
            ),
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
fn api_gateway_event(method: &str, path: &str, query: &str, headers: Value) -> Value {
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

/// The server in s3 mode, started as the Lambda runtime starts a function.
fn as_lambda(data: &TempDir, endpoint: &str, runtime: &str) -> Launch {
    s3_mode(data, endpoint)
        .args(&[
            "--oidc-issuer",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
            "--oidc-client-id",
            "coffer-portal",
        ])
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "coffer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coffer")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/04/[$LATEST]0123456789abcdef",
        )
}

/// A response header, whether the adapter put it in `headers` or
/// `multiValueHeaders`.
fn header(answer: &Value, name: &str) -> Option<String> {
    answer["headers"][name]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            answer["multiValueHeaders"][name][0]
                .as_str()
                .map(str::to_owned)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_answers_api_gateway_events_in_the_lambda_runtime() {
    let moto = Target::moto().await.expect("moto starts");
    moto.bucket(BUCKET).await.expect("artifact bucket");
    moto.bucket(LOG_BUCKET).await.expect("log bucket");
    let mut runtime = Runtime::start().await;
    let data = TempDir::new().expect("data folder");
    let server = as_lambda(&data, &moto.endpoint, &runtime.addr).spawn();

    // The health route answers through the same router as a listener.
    let health = runtime
        .invoke(
            &server,
            "inv-1",
            api_gateway_event("GET", "/healthz", "", json!({})),
        )
        .await;
    assert_eq!(health["statusCode"], 200, "{health}");

    // The API answers JSON, with its request id and security headers.
    let me = runtime
        .invoke(
            &server,
            "inv-2",
            api_gateway_event(
                "GET",
                "/api/v1/me",
                "",
                json!({ "accept": "application/json" }),
            ),
        )
        .await;
    assert_eq!(me["statusCode"], 401, "{me}");
    let body: Value =
        serde_json::from_str(me["body"].as_str().expect("a text body")).expect("JSON");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        header(&me, "x-request-id").is_some_and(|id| !id.is_empty()),
        "{me}"
    );
    assert_eq!(
        header(&me, "x-content-type-options").as_deref(),
        Some("nosniff")
    );

    // An unknown page is the portal's own 404, rendered on the server.
    let missing = runtime
        .invoke(
            &server,
            "inv-3",
            api_gateway_event(
                "GET",
                "/no/such/page",
                "a=1",
                json!({ "accept": "text/html" }),
            ),
        )
        .await;
    assert_eq!(missing["statusCode"], 404, "{missing}");

    // No listener was opened: the process serves the runtime alone.
    assert!(
        !server.output().contains("Coffer is listening"),
        "{}",
        server.output()
    );
    assert!(server.output().contains("serving Lambda invocations"));
}

#[tokio::test]
async fn in_the_lambda_runtime_embedded_storage_is_refused() {
    let runtime = Runtime::start().await;
    let data = TempDir::new().expect("data folder");
    let mut server = Launch::new(data.path())
        .args(&[
            "--oidc-issuer",
            "https://idp.example",
            "--oidc-client-id",
            "c",
        ])
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "coffer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .spawn();
    let status = exit_status(&mut server).await;
    assert!(!status.success());
    assert!(
        server.output().contains("--storage s3"),
        "{}",
        server.output()
    );
}
