//! How long the server takes to answer its first request as a Lambda
//! function: from the start of the process (`bootstrap`, with the Lambda
//! runtime's variables) to the answer of its first API Gateway event.
//!
//! Starts the embedded S3 endpoint in this process to stand for the
//! artifact and log buckets, and a stand-in of the Lambda runtime API on
//! loopback. Each run spawns a fresh release `coffer-server`, queues one
//! `GET /healthz` and then one server-rendered `GET /` event, and times
//! the process's first poll for an event (its initialisation) and both
//! answers. `COFFER_BENCH_RUNS` sets the number of runs (default 15).
//! Run with `make bench`; it prints one line per figure.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on standard output"
)]

#[path = "../tests/it/support/lambda_runtime.rs"]
#[allow(dead_code, reason = "the test suite uses more of the stand-in")]
mod lambda_runtime;

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use coffer_server::storage::embedded::{EmbeddedS3, EmbeddedS3Config};
use common::{env_number, percentile};
use lambda_runtime::{Runtime, api_gateway_event};
use secrecy::SecretString;
use serde_json::json;

const BUCKET: &str = "coffer-bench";
const LOG_BUCKET: &str = "coffer-bench-logs";
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs = env_number("COFFER_BENCH_RUNS", 15);
    let work = tempfile::tempdir()?;

    // The buckets, on an endpoint in this process.
    let s3 = EmbeddedS3::start(EmbeddedS3Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: work.path().join("s3"),
        access_key_id: "bench".into(),
        secret_access_key: SecretString::from("bench-secret-key"),
        buckets: vec![BUCKET.into(), LOG_BUCKET.into()],
        log_bucket: LOG_BUCKET.into(),
        access_log_flush: Duration::from_secs(3600),
        cors_origins: Vec::new(),
    })
    .await?;

    // Cold starts, one fresh process each.
    let mut first_answer = Vec::new();
    let mut first_page = Vec::new();
    for run in 0..runs {
        let mut runtime = Runtime::start().await;
        let started = Instant::now();
        let mut child = spawn(work.path(), &s3.endpoint_url(), &runtime.addr)?;
        let health = runtime
            .invoke(
                &format!("{run}-health"),
                api_gateway_event("GET", "/healthz", "", json!({})),
                ANSWER_WITHIN,
            )
            .await;
        let health_at = started.elapsed();
        let page = runtime
            .invoke(
                &format!("{run}-page"),
                api_gateway_event("GET", "/", "", json!({ "accept": "text/html" })),
                ANSWER_WITHIN,
            )
            .await;
        let page_at = started.elapsed();
        let _ = child.kill();
        let _ = child.wait();
        let (health, page) = match (health, page) {
            (Ok(health), Ok(page)) => (health, page),
            (Err(error), _) | (_, Err(error)) => bail!("run {run}: {error}"),
        };
        if health["statusCode"] != 200 || page["statusCode"] != 200 {
            bail!(
                "run {run}: answered {} and {}",
                health["statusCode"],
                page["statusCode"]
            );
        }
        first_answer.push(health_at.as_secs_f64() * 1000.0);
        first_page.push((page_at - health_at).as_secs_f64() * 1000.0);
    }

    // Figures: the cold start, and the first page rendered after it.
    first_answer.sort_by(f64::total_cmp);
    first_page.sort_by(f64::total_cmp);
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_coffer-server"))?.len();
    println!(
        "lambda cold start: binary {:.1} MiB, {runs} runs",
        binary as f64 / 1_048_576.0
    );
    for (name, values) in [
        ("start to first answer (GET /healthz)", &first_answer),
        ("then first page rendered (GET /)", &first_page),
    ] {
        println!(
            "  {name}: p50 {:.1} ms, min {:.1} ms, max {:.1} ms",
            percentile(values, 50.0),
            values.first().copied().unwrap_or_default(),
            values.last().copied().unwrap_or_default()
        );
    }
    s3.shutdown().await
}

/// The release server, started as Lambda starts `bootstrap`: its
/// settings in the environment, the buckets on the endpoint at `s3`.
fn spawn(work: &Path, s3: &str, runtime: &str) -> anyhow::Result<Child> {
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    Command::new(env!("CARGO_BIN_EXE_coffer-server"))
        .args(["--s3-force-path-style", "true"])
        .env_clear()
        .env("HOME", work)
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "coffer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ENDPOINT_URL_S3", s3)
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret-key")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("COFFER_STORAGE", "s3")
        .env("COFFER_BUCKET", BUCKET)
        .env("COFFER_LOG_BUCKET", LOG_BUCKET)
        .env(
            "COFFER_OIDC_ISSUER",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench",
        )
        .env("COFFER_OIDC_CLIENT_ID", "coffer-portal")
        .env("COFFER_PUBLIC_URL", "https://coffer.example.com")
        .env("COFFER_SITE_DIR", site)
        .env("COFFER_DATA_DIR", work.join("server"))
        .env("COFFER_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start coffer-server")
}
