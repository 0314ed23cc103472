//! Requests per second of `/models` rendered on the server against the same
//! page of data as JSON from `GET /api/v1/models`.
//!
//! Starts a portal on loopback with the embedded S3 endpoint and the
//! development provider, publishes one small version of each of 1,000
//! models through the upload API (`COFFER_BENCH_MODELS` to change), signs
//! alice in, then loads each route from several clients at once for a few
//! seconds (`COFFER_BENCH_SECS`). Run with `make bench`; it prints one line
//! per figure and the ratio, whose goal is 0.5x or better.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on standard output"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Parser;
use coffer_app::upload::api::{
    CompleteUpload, FileDeclaration, FileDigest, PartRequest, PartUrls, PartsRequest, StartUpload,
    UploadStatus,
};
use coffer_server::clock::SystemClock;
use coffer_server::config::Settings;
use coffer_server::startup::{self, StartOptions};
use common::{Session, env_number};
use futures::{StreamExt, TryStreamExt, stream};
use scraper::{Html, Selector};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// Clients loading a route at once.
const CLIENTS: usize = 4;

/// Uploads in flight while seeding.
const SEEDERS: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let models = env_number("COFFER_BENCH_MODELS", 1000);
    let seconds = env_number("COFFER_BENCH_SECS", 10);

    // A portal of its own, on a folder that goes away afterwards.
    let work = tempfile::TempDir::new()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let settings = Settings::try_parse_from([
        "coffer-server",
        "--listen",
        &listener.local_addr()?.to_string(),
        "--public-url",
        &url,
        "--s3-listen",
        "127.0.0.1:0",
        "--data-dir",
        &work.path().to_string_lossy(),
        "--site-dir",
        &work.path().join("site").to_string_lossy(),
        "--max-open-uploads",
        "64",
    ])?;
    let running = startup::start(
        settings,
        StartOptions {
            listener: Some(listener),
            clock: Arc::new(SystemClock),
            s3_endpoint: None,
            cloudtrail_endpoint: None,
        },
    )
    .await?;

    // Alice signs in the way a browser does, then publishes the models.
    let alice = Session::sign_in(&url, "alice").await?;
    let started = Instant::now();
    stream::iter(0..models)
        .map(|index| publish(&alice, format!("bench-model-{index:05}")))
        .buffer_unordered(SEEDERS)
        .try_collect::<Vec<()>>()
        .await?;
    println!(
        "seeded {models} models in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The same first page both ways, checked before it is timed.
    let page = format!("{url}/models");
    let json = format!("{url}/api/v1/models");
    let html = alice.get_text(&page).await?;
    let rows = Html::parse_document(&html)
        .select(&Selector::parse("[data-testid=model-row]").expect("selector"))
        .count();
    let listed =
        serde_json::from_str::<serde_json::Value>(&alice.get_text(&json).await?)?["models"]
            .as_array()
            .map_or(0, Vec::len);
    if rows == 0 || rows != listed {
        bail!("the page shows {rows} rows and the API lists {listed} models");
    }

    let window = Duration::from_secs(seconds);
    let ssr = requests_per_second(&alice, &page, window).await?;
    let api = requests_per_second(&alice, &json, window).await?;
    running.stop().await?;

    println!("models                      {models}");
    println!("rows per page               {rows}");
    println!("GET /models (SSR)           {ssr:8.1} requests/s");
    println!("GET /api/v1/models (JSON)   {api:8.1} requests/s");
    println!(
        "ratio SSR / JSON            {:8.2}x (goal 0.5x or better)",
        ssr / api
    );
    Ok(())
}

/// Loads `url` from `CLIENTS` loops for `window`; answers completed
/// requests per second.
async fn requests_per_second(
    session: &Session,
    url: &str,
    window: Duration,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let loops = (0..CLIENTS).map(|_| async {
        let mut done = 0u64;
        while started.elapsed() < window {
            session.get_text(url).await?;
            done += 1;
        }
        anyhow::Ok(done)
    });
    let total: u64 = futures::future::try_join_all(loops)
        .await?
        .into_iter()
        .sum();
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Publishes one version of `model` holding a small file.
async fn publish(session: &Session, model: String) -> anyhow::Result<()> {
    let bytes = format!("weights of {model}").into_bytes();
    let digest = Sha256::digest(&bytes);

    // Start, sign the one part, send it straight to storage, complete.
    let start = StartUpload {
        description: format!("Benchmark model {model}"),
        metadata: Default::default(),
        files: vec![FileDeclaration {
            path: "model.bin".into(),
            size: bytes.len() as u64,
            sha256: None,
            fingerprint: None,
        }],
    };
    let upload: UploadStatus = session
        .post(&format!("/api/v1/models/{model}/uploads"), &start)
        .await?;
    let base = format!("/api/v1/models/{model}/uploads/{}", upload.upload_id);
    let parts = PartsRequest {
        file: 0,
        parts: vec![PartRequest {
            number: 1,
            sha256: base64::engine::general_purpose::STANDARD.encode(digest),
        }],
    };
    let urls: PartUrls = session.post(&format!("{base}/parts"), &parts).await?;
    let part = urls.parts.first().context("no part URL")?;
    let mut put = session.client.put(&part.url).body(bytes);
    for (name, value) in &part.headers {
        put = put.header(name, value);
    }
    put.send().await?.error_for_status()?;
    let complete = CompleteUpload {
        files: vec![FileDigest {
            index: 0,
            sha256: hex::encode(digest),
        }],
    };
    let _: serde_json::Value = session.post(&format!("{base}/complete"), &complete).await?;
    Ok(())
}
