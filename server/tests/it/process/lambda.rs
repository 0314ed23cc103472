//! The binary as a Lambda function: started with the runtime's variables,
//! it asks a local stand-in of the Lambda runtime API for events, answers
//! API Gateway (HTTP API, payload 2.0) events through the portal's routes,
//! and posts the answers back, as it would in AWS.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use super::s3_storage::{BUCKET, LOG_BUCKET, exit_status, s3_mode};
use super::{Launch, ServerProcess};
use crate::s3::Target;
use crate::support::lambda_runtime::{Runtime, api_gateway_event};

/// How long one invocation may take, start-up included, on a slow build.
const ANSWER_WITHIN: Duration = Duration::from_secs(90);

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

/// One invocation; a missing answer fails the test with what the
/// function printed.
async fn invoke(runtime: &mut Runtime, server: &ServerProcess, id: &str, event: Value) -> Value {
    runtime
        .invoke(id, event, ANSWER_WITHIN)
        .await
        .unwrap_or_else(|error| panic!("{error}; output:\n{}", server.output()))
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
    let health = invoke(
        &mut runtime,
        &server,
        "inv-1",
        api_gateway_event("GET", "/healthz", "", json!({})),
    )
    .await;
    assert_eq!(health["statusCode"], 200, "{health}");

    // The API answers JSON, with its request id and security headers.
    let me = invoke(
        &mut runtime,
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
    let missing = invoke(
        &mut runtime,
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
