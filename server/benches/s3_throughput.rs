//! Throughput of the embedded S3 endpoint against `dd` on the same disk.
//!
//! Writes and reads one object (1 GiB by default, `COFFER_BENCH_MIB` to
//! change) through `aws-sdk-s3`: a single streamed PutObject, a multipart
//! upload (8 MiB parts, 8 in flight), and a streamed GetObject; then `dd`
//! writes and reads a file of the same size with fsync. Run with
//! `make bench`; it prints one line per figure.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on standard output"
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use coffer_server::storage::embedded::{EmbeddedS3, EmbeddedS3Config};
use common::{MIB, env_number, s3_client, write_source};
use futures::{StreamExt, TryStreamExt, stream};
use secrecy::SecretString;

const PART_MIB: u64 = 8;
const PARTS_IN_FLIGHT: usize = 8;
const BUCKET: &str = "bench";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let size_mib = env_number("COFFER_BENCH_MIB", 1024);

    // Everything lives under target/, on the disk the data folder uses.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-s3");
    std::fs::create_dir_all(&root)?;
    let work = tempfile::TempDir::new_in(&root)?;
    let source = work.path().join("source.bin");
    write_source(&source, size_mib)?;

    // The endpoint, in this process, as Coffer runs it.
    let s3 = EmbeddedS3::start(EmbeddedS3Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: work.path().join("data"),
        access_key_id: "bench".into(),
        secret_access_key: SecretString::from("bench-secret-key"),
        buckets: vec![BUCKET.into(), "bench-logs".into()],
        log_bucket: "bench-logs".into(),
        access_log_flush: std::time::Duration::from_secs(60),
        cors_origins: Vec::new(),
    })
    .await?;
    let client = s3_client(&s3.endpoint_url(), "bench", "bench-secret-key");

    let put = timed(size_mib, put_single(&client, &source)).await?;
    let multipart = timed(size_mib, put_multipart(&client, size_mib)).await?;
    let get = timed(size_mib, get_streamed(&client, size_mib)).await?;
    s3.shutdown().await?;

    // dd writes with fsync, as the endpoint does, then reads it back.
    let dd_file = work.path().join("dd.bin");
    let dd_write = dd(&[
        "if=/dev/zero",
        &format!("of={}", dd_file.display()),
        "bs=8M",
        &format!("count={}", size_mib / PART_MIB),
        "conv=fsync",
    ])?;
    let dd_read = dd(&[
        &format!("if={}", dd_file.display()),
        "of=/dev/null",
        "bs=8M",
    ])?;

    println!("object size                    {size_mib} MiB");
    println!(
        "embedded PUT (single stream)   {put:8.1} MiB/s   {:.2}x dd write",
        put / dd_write
    );
    println!(
        "embedded PUT (multipart {PART_MIB} MiB x {PARTS_IN_FLIGHT})  {multipart:8.1} MiB/s   {:.2}x dd write",
        multipart / dd_write
    );
    println!(
        "embedded GET (single stream)   {get:8.1} MiB/s   {:.2}x dd read",
        get / dd_read
    );
    println!("dd write (bs=8M, fsync)        {dd_write:8.1} MiB/s");
    println!("dd read  (bs=8M, page cache)   {dd_read:8.1} MiB/s");
    Ok(())
}

/// MiB per second of a future that moves `size_mib`.
async fn timed(
    size_mib: u64,
    work: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    work.await?;
    Ok(size_mib as f64 / started.elapsed().as_secs_f64())
}

async fn put_single(client: &Client, source: &Path) -> anyhow::Result<()> {
    let body = ByteStream::from_path(source).await?;
    client
        .put_object()
        .bucket(BUCKET)
        .key("single")
        .body(body)
        .send()
        .await?;
    Ok(())
}

async fn put_multipart(client: &Client, size_mib: u64) -> anyhow::Result<()> {
    let upload = client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("multipart")
        .send()
        .await?;
    let upload_id = upload.upload_id().context("no upload id")?.to_owned();

    // Parts are generated, never read whole from disk, and sent in parallel.
    let parts = size_mib / PART_MIB;
    let completed: Vec<CompletedPart> = stream::iter(1..=parts as i32)
        .map(|number| {
            let upload_id = upload_id.clone();
            async move {
                let body = vec![number as u8; (PART_MIB * MIB) as usize];
                let part = client
                    .upload_part()
                    .bucket(BUCKET)
                    .key("multipart")
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(body))
                    .send()
                    .await?;
                anyhow::Ok(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                )
            }
        })
        .buffered(PARTS_IN_FLIGHT)
        .try_collect()
        .await?;

    client
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key("multipart")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

async fn get_streamed(client: &Client, size_mib: u64) -> anyhow::Result<()> {
    let object = client
        .get_object()
        .bucket(BUCKET)
        .key("single")
        .send()
        .await?;
    let mut body = object.body;
    let mut received: u64 = 0;
    while let Some(chunk) = body.try_next().await? {
        received += chunk.len() as u64;
    }
    if received != size_mib * MIB {
        bail!("GET returned {received} bytes, expected {}", size_mib * MIB);
    }
    Ok(())
}

/// Runs dd and returns its rate in MiB/s, measured here from its run time.
fn dd(args: &[&str]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let output = Command::new("dd")
        .args(args)
        .output()
        .context("dd is not installed")?;
    if !output.status.success() {
        bail!("dd failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let elapsed = started.elapsed().as_secs_f64();

    // dd reports "<n> bytes (...) copied, ..." on its last line.
    let report = String::from_utf8_lossy(&output.stderr);
    let copied = report
        .lines()
        .find(|line| line.contains(" bytes "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|bytes| bytes.parse::<f64>().ok())
        .with_context(|| format!("cannot read dd's byte count from {report:?}"))?;
    Ok(copied / MIB as f64 / elapsed)
}
