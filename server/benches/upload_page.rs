//! Uploading through the `/upload` page in Chromium against `aws-sdk-s3`
//! sending the same file to the same embedded endpoint, and the server's
//! memory while four pages upload at once.
//!
//! Starts the release `coffer-server` with its data folder on tmpfs
//! (`/dev/shm`), so the disk does not set the pace, and writes a 1 GiB
//! source file there (`COFFER_BENCH_MIB` to change). Then, in one run:
//! 1. `aws-sdk-s3` uploads the file multipart, 8 MiB parts, 10 in flight,
//!    each part carrying its SHA-256 for the endpoint to check, as the page
//!    does;
//! 2. Playwright drives Debian's Chromium through the real page (sign-in,
//!    file input, start, wait for the link to the version) and checks the
//!    SHA-256 the version records;
//! 3. four pages upload the file at once while the server's resident
//!    memory is sampled every 20 ms, against its resident memory at rest,
//!    both fresh (before any upload) and after the first uploads.
//!
//! Needs the built site (`make site`) and the npm packages of `end2end/`;
//! `make bench` provides both. Prints one line per figure.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on standard output"
)]

mod common;

use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_s3::Client as S3Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{MIB, env_number, s3_client, write_source};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use sha2::{Digest as _, Sha256};

const SDK_PART_MIB: u64 = 8;
const SDK_PARTS_IN_FLIGHT: usize = 10;
const ACCESS_KEY_ID: &str = "bench";
const SECRET: &str = "bench-secret-access-key";
const BUCKET: &str = "coffer-artifacts";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let size_mib = env_number("COFFER_BENCH_MIB", 1024);
    let concurrent = env_number("COFFER_BENCH_CONCURRENT", 4);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let site = repo.join("target/site");
    if !site.join("index.html").exists() {
        bail!(
            "{} has no built site; run `make site` first",
            site.display()
        );
    }

    // Data and source on tmpfs where the machine has it.
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        repo.join("target")
    };
    let work = tempfile::TempDir::with_prefix_in("coffer-bench-upload-", &root)?;
    let source = work.path().join("model.bin");
    let sha256 = write_source(&source, size_mib)?;

    // The server as users run it, on ports of its own.
    let server = Server::start(&site, work.path())?;
    server.wait_ready().await?;
    let idle = server.rss_bytes()?;

    // The SDK, then one page, one after the other.
    let sdk = s3_client(&server.s3_url, ACCESS_KEY_ID, SECRET);
    let sdk_secs = sdk_upload(&sdk, &source, size_mib).await?;
    let page = playwright(&repo, &server, &source, &sha256, 1, work.path())?;
    let page_secs = page.iter().copied().fold(0.0, f64::max);

    // At rest again, with the pools and buffers of a server that has
    // worked: the state a long-running server spends most of its time in.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let warm = server.rss_bytes()?;

    // Several pages at once, with the server's memory sampled throughout.
    let sampler = RssSampler::start(server.pid());
    let wall = Instant::now();
    let pages = playwright(&repo, &server, &source, &sha256, concurrent, work.path())?;
    let wall_secs = wall.elapsed().as_secs_f64();
    let peak = sampler.stop();
    let slowest = pages.iter().copied().fold(0.0, f64::max);
    drop(server);

    let size = size_mib as f64;
    let sdk_rate = size / sdk_secs;
    let page_rate = size / page_secs;
    println!(
        "upload size                            {size_mib} MiB, data on {}",
        root.display()
    );
    println!(
        "aws-sdk-s3 multipart ({SDK_PART_MIB} MiB x {SDK_PARTS_IN_FLIGHT})        {sdk_rate:8.1} MiB/s  ({sdk_secs:.1} s)"
    );
    println!("/upload page in Chromium               {page_rate:8.1} MiB/s  ({page_secs:.1} s)");
    println!(
        "ratio page / SDK                       {:8.2}x (goal 0.9x or better)",
        page_rate / sdk_rate
    );
    println!(
        "{concurrent} pages at once                        {:8.1} MiB/s in all  (slowest {slowest:.1} s, run {wall_secs:.1} s)",
        size * concurrent as f64 / slowest
    );
    let mib = |bytes: u64| bytes as f64 / MIB as f64;
    println!(
        "server memory at rest, fresh           {:8.1} MiB resident",
        mib(idle)
    );
    println!(
        "server memory at rest, after uploads   {:8.1} MiB resident",
        mib(warm)
    );
    println!(
        "server memory, {concurrent} uploads at once       {:8.1} MiB resident at peak",
        mib(peak)
    );
    println!(
        "peak / rest                            {:8.2}x fresh, {:.2}x after uploads (goal 1.5x or less)",
        peak as f64 / idle as f64,
        peak as f64 / warm as f64
    );
    Ok(())
}

/// A release `coffer-server` in a process of its own, stopped on drop.
struct Server {
    child: Child,
    url: String,
    s3_url: String,
}

impl Server {
    fn start(site: &Path, work: &Path) -> anyhow::Result<Server> {
        let (port, s3_port) = (free_port()?, free_port()?);
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(work.join("server.log"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_coffer-server"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--public-url", &url])
            .args(["--s3-listen", &format!("127.0.0.1:{s3_port}")])
            .args(["--s3-access-key-id", ACCESS_KEY_ID])
            .args(["--s3-secret-access-key", SECRET])
            .arg("--data-dir")
            .arg(work.join("data"))
            .arg("--site-dir")
            .arg(site)
            .args(["--max-open-uploads", "16"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("failed to start coffer-server")?;
        Ok(Server {
            child,
            url,
            s3_url: format!("http://127.0.0.1:{s3_port}"),
        })
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ready = client.get(format!("{}/readyz", self.url)).send().await;
            if ready.is_ok_and(|answer| answer.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("coffer-server was not ready within a minute")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_of(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The resident memory of a process, from `/proc`.
fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc status")?;
    Ok(kib * 1024)
}

/// Samples a process's resident memory on a thread until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(rss) = rss_of(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        RssSampler { stop, peak, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Seconds for `aws-sdk-s3` to upload `source` multipart, from the
/// creation of the upload to its completion.
async fn sdk_upload(client: &S3Client, source: &Path, size_mib: u64) -> anyhow::Result<f64> {
    let key = "bench/sdk-upload.bin";
    let started = Instant::now();
    let upload = client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await?;
    let upload_id = upload.upload_id().context("no upload id")?.to_owned();

    // Each part is read from the file and hashed off the runtime's
    // threads, then sent; ten are in flight at once.
    let file = Arc::new(std::fs::File::open(source)?);
    let parts = size_mib.div_ceil(SDK_PART_MIB);
    let completed: Vec<CompletedPart> = stream::iter(1..=parts)
        .map(|number| {
            let (file, upload_id) = (file.clone(), upload_id.clone());
            async move {
                let (body, checksum) =
                    tokio::task::spawn_blocking(move || read_part(&file, number, size_mib * MIB))
                        .await??;
                let part = client
                    .upload_part()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(i32::try_from(number)?)
                    .checksum_sha256(&checksum)
                    .body(ByteStream::from(body))
                    .send()
                    .await?;
                anyhow::Ok(
                    CompletedPart::builder()
                        .part_number(i32::try_from(number)?)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .checksum_sha256(checksum)
                        .build(),
                )
            }
        })
        .buffered(SDK_PARTS_IN_FLIGHT)
        .try_collect()
        .await?;

    client
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Part `number` of a file of `size` bytes, with its base64 SHA-256.
fn read_part(file: &std::fs::File, number: u64, size: u64) -> anyhow::Result<(Vec<u8>, String)> {
    let start = (number - 1) * SDK_PART_MIB * MIB;
    let end = (start + SDK_PART_MIB * MIB).min(size);
    let mut body = vec![0; usize::try_from(end - start)?];
    file.read_exact_at(&mut body, start)?;
    let checksum = BASE64.encode(Sha256::digest(&body));
    Ok((body, checksum))
}

/// Runs the Playwright benchmark with `uploads` pages at once; answers
/// each page's seconds from its click on "start" to its link to the
/// version.
fn playwright(
    repo: &Path,
    server: &Server,
    source: &Path,
    sha256: &str,
    uploads: u64,
    work: &Path,
) -> anyhow::Result<Vec<f64>> {
    let result = work.join(format!("page-{uploads}.json"));
    let status = Command::new("npx")
        .args([
            "playwright",
            "test",
            "--config",
            "playwright.bench.config.ts",
        ])
        .current_dir(repo.join("end2end"))
        .env("COFFER_BENCH_URL", &server.url)
        .env("COFFER_BENCH_FILE", source)
        .env("COFFER_BENCH_SHA256", sha256)
        .env("COFFER_BENCH_UPLOADS", uploads.to_string())
        .env("COFFER_BENCH_RESULT", &result)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .context("failed to run Playwright (is `npx` on PATH?)")?;
    if !status.success() {
        bail!("the page benchmark failed ({status})");
    }
    let seconds: Vec<f64> = serde_json::from_slice(&std::fs::read(&result)?)
        .with_context(|| format!("{} is not a list of seconds", result.display()))?;
    if seconds.len() as u64 != uploads {
        bail!("{} uploads were timed, not {uploads}", seconds.len());
    }
    Ok(seconds)
}
