//! How fast S3 server access logs are read, against the two yardsticks a
//! reader of logs has at hand.
//!
//! Writes a realistic log (`COFFER_BENCH_LINES` lines, 500,000 by default:
//! presigned downloads carrying `x-coffer-request`, multipart part uploads,
//! denials, listings, user agents with escaped quotes, a few malformed
//! lines) into a temporary folder, plain and gzipped, then measures on one
//! thread, best of three runs each:
//!
//! 1. this crate parsing the log from memory, in lines/s and MB/s;
//! 2. `benches/parse_access_log.py`, one Python regular expression over the
//!    same lines (goal: this crate 3x faster or better);
//! 3. this crate decompressing and parsing the gzipped log, against
//!    `gzip -dc` merely decompressing it (goal: 0.75x of its speed or
//!    better).
//!
//! Run with `make bench` or `cargo bench -p coffer-logs`; it prints one line
//! per figure.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on standard output"
)]

use std::fs::{self, File};
use std::hint::black_box;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use coffer_logs::access_log::{AccessLogEntry, lines, read_gzipped};
use flate2::Compression;
use flate2::write::GzEncoder;
use time::OffsetDateTime;

/// Runs of each measurement; the fastest counts, as the least disturbed.
const RUNS: usize = 3;

/// One malformed line in this many.
const MALFORMED_EVERY: usize = 5_000;

fn main() -> anyhow::Result<()> {
    let line_count = std::env::var("COFFER_BENCH_LINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500_000);

    // The same log, plain and gzipped, in a folder that goes away afterwards.
    let work = tempfile::TempDir::new().context("failed to create a temporary folder")?;
    let text = generate(line_count);
    let plain = work.path().join("access.log");
    let gzipped = work.path().join("access.log.gz");
    fs::write(&plain, &text).context("failed to write the log")?;
    fs::write(&gzipped, gzip(&text)?).context("failed to write the gzipped log")?;
    let megabytes = text.len() as f64 / 1e6;
    println!(
        "log: {line_count} lines, {megabytes:.1} MB, {:.1} MB gzipped",
        fs::metadata(&gzipped)?.len() as f64 / 1e6
    );

    // 1. Parsing from memory.
    let mut counts = (0, 0);
    let parse_time = fastest(|| {
        let (time, parsed, malformed) = parse_text(&text);
        counts = (parsed, malformed);
        Ok(time)
    })?;
    let (parsed, malformed) = counts;
    let rust_lines_per_sec = (parsed + malformed) as f64 / parse_time.as_secs_f64();
    println!(
        "coffer-logs parse: {:.2} M lines/s, {:.0} MB/s ({parsed} parsed, {malformed} malformed)",
        rust_lines_per_sec / 1e6,
        megabytes / parse_time.as_secs_f64()
    );

    // 2. The Python regular expression over the same file.
    let (python_lines_per_sec, python_counts) = python_parse(&plain)?;
    println!(
        "python re parse: {:.2} M lines/s ({python_counts})",
        python_lines_per_sec / 1e6
    );
    println!(
        "coffer-logs / python re: {:.1}x (goal 3x or better)",
        rust_lines_per_sec / python_lines_per_sec
    );

    // 3. Gzipped: decompress and parse, against decompressing alone.
    let gunzip_time = fastest(|| gunzip_with_gzip(&gzipped))?;
    let ours = fastest(|| parse_gzipped(&gzipped))?;
    println!(
        "gzip -dc alone: {:.0} MB/s; coffer-logs gunzip + parse: {:.0} MB/s",
        megabytes / gunzip_time.as_secs_f64(),
        megabytes / ours.as_secs_f64()
    );
    println!(
        "coffer-logs gunzip + parse / gzip -dc: {:.2}x (goal 0.75x or better)",
        gunzip_time.as_secs_f64() / ours.as_secs_f64()
    );
    Ok(())
}

/// The fastest of [`RUNS`] runs of `run`, which times itself: the least
/// disturbed by whatever else the machine is doing.
fn fastest(mut run: impl FnMut() -> anyhow::Result<Duration>) -> anyhow::Result<Duration> {
    let mut best = run()?;
    for _ in 1..RUNS {
        best = best.min(run()?);
    }
    Ok(best)
}

/// Parses every line, touching the fields a dashboard shows so that none
/// of the work can be optimised away.
fn parse_text(text: &str) -> (Duration, u64, u64) {
    let start = Instant::now();
    let (mut parsed, mut malformed) = (0, 0);
    for (_, result) in lines(text) {
        match result {
            Ok(line) => {
                black_box((line.time, line.http_status, line.key, line.user_agent));
                parsed += 1;
            }
            Err(err) => {
                black_box(err);
                malformed += 1;
            }
        }
    }
    (start.elapsed(), parsed, malformed)
}

fn parse_gzipped(path: &Path) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let file = File::open(path)?;
    let tally = read_gzipped(file, |_, line| {
        black_box((line.time, line.http_status, line.key, line.user_agent));
    })
    .context("failed to read the gzipped log")?;
    black_box(tally);
    Ok(start.elapsed())
}

fn gunzip_with_gzip(path: &Path) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .context("failed to run gzip")?;
    if !status.success() {
        bail!("gzip -dc exited with {status}");
    }
    Ok(start.elapsed())
}

/// Runs the Python parser, best of [`RUNS`]: its lines/s and what it
/// counted.
fn python_parse(log: &Path) -> anyhow::Result<(f64, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/parse_access_log.py");
    let mut best = (0.0, String::new());
    for _ in 0..RUNS {
        let output = Command::new("python3")
            .arg(&script)
            .arg(log)
            .output()
            .context("failed to run python3")?;
        if !output.status.success() {
            bail!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }

        // `lines_per_sec=N parsed=N malformed=N`
        let stdout = String::from_utf8_lossy(&output.stdout);
        let figure = stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix("lines_per_sec="))
            .and_then(|n| n.parse::<f64>().ok())
            .with_context(|| format!("no lines_per_sec= in the Python output {stdout:?}"))?;
        if figure > best.0 {
            let counts = stdout
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(", ");
            best = (figure, counts.replace('=', " "));
        }
    }
    Ok(best)
}

fn gzip(text: &str) -> anyhow::Result<Vec<u8>> {
    // gzip's own default level, so both sides read the same kind of file.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
    encoder.write_all(text.as_bytes())?;
    Ok(encoder.finish()?)
}

/// A small deterministic generator: the same log on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, len: usize, upper: bool) -> String {
        let digits = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        (0..len)
            .map(|_| char::from(digits[self.below(16) as usize]))
            .collect()
    }

    fn base64(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        (0..len)
            .map(|_| char::from(ALPHABET[self.below(64) as usize]))
            .collect()
    }
}

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) Gecko/20100101 Firefox/123.0",
    "aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0",
    "coffer-cli/0.1.0",
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.7",
    "curl/8.5.0",
];

const MODELS: &[&str] = &[
    "resnet50",
    "llama-3-8b",
    "whisper-small",
    "bert base",
    "fraud-detector",
];

/// A log of `count` lines as S3 writes them.
fn generate(count: usize) -> String {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let owner = rng.hex(64, false);
    let start = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_741_939_200);
    let mut text = String::with_capacity(count * 450);
    for index in 0..count {
        // A few lines that are not records at all.
        if index % MALFORMED_EVERY == MALFORMED_EVERY - 1 {
            text.push_str(match rng.below(3) {
                0 => "<html><body>503 Service Unavailable</body></html>",
                1 => "4f3c2b1a [14/Mar/2025:09:26:53 +0000] 203.0.113.9 - 7Q2K REST.GET.OBJECT",
                _ => "o b [14/Mar/2025:99:99:99 +0000] - - id op key \"GET / HTTP/1.1\" 200",
            });
            text.push('\n');
            continue;
        }

        let entry = record(
            &mut rng,
            &owner,
            start + Duration::from_millis(index as u64 * 170),
        );
        let mark = text.len();
        entry.write_line(&mut text);

        // S3 keeps presigned signatures in its lines; Coffer's writer
        // redacts them, so put back a signature's worth of bytes.
        if let Some(at) = text[mark..].find("X-Amz-Signature=REDACTED") {
            let at = mark + at + "X-Amz-Signature=".len();
            text.replace_range(at..at + "REDACTED".len(), &rng.hex(64, false));
        }
        text.push('\n');
    }
    text
}

/// One request, of the mix a model store sees.
fn record(rng: &mut Rng, owner: &str, time: OffsetDateTime) -> AccessLogEntry {
    let model = rng.pick(MODELS);
    let version = 1 + rng.below(40);
    let file = rng.pick(&[
        "model.safetensors",
        "config.json",
        "README.md",
        "weights/part-00001.bin",
    ]);
    let key = format!("models/{model}/{version}/{file}");
    let encoded = key.replace(' ', "%20");
    let size = if file.ends_with(".md") || file.ends_with(".json") {
        200 + rng.below(50_000)
    } else {
        1_000_000 + rng.below(4_000_000_000)
    };
    let request_id = rng.hex(16, true);
    let presign = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=ASIA{}%2F20250314%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20250314T092650Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host",
        rng.hex(16, true)
    );

    // What the request was and how it went.
    let mut entry = AccessLogEntry::new(time);
    let (operation, uri, status, error, sent, auth) = match rng.below(100) {
        0..45 => (
            "REST.GET.OBJECT",
            format!(
                "GET /{encoded}?{presign}&response-content-disposition=attachment\
                 &x-coffer-request={}&X-Amz-Signature=REDACTED HTTP/1.1",
                rng.hex(26, true)
            ),
            200,
            None,
            Some(size),
            "QueryString",
        ),
        45..65 => (
            "REST.PUT.PART",
            format!(
                "PUT /{encoded}?partNumber={}&uploadId={}&{presign}&x-amz-checksum-sha256={}%3D\
                 &X-Amz-Signature=REDACTED HTTP/1.1",
                1 + rng.below(500),
                rng.base64(64).replace('+', "-").replace('/', "_"),
                rng.base64(43).replace('+', "%2B").replace('/', "%2F")
            ),
            200,
            None,
            None,
            "QueryString",
        ),
        65..70 => (
            rng.pick(&["REST.POST.UPLOADS", "REST.POST.UPLOAD"]),
            format!("POST /{encoded}?uploads HTTP/1.1"),
            200,
            None,
            Some(400 + rng.below(200)),
            "AuthHeader",
        ),
        70..82 => (
            "REST.HEAD.OBJECT",
            format!("HEAD /{encoded} HTTP/1.1"),
            200,
            None,
            None,
            "AuthHeader",
        ),
        82..90 => (
            "REST.GET.BUCKET",
            format!("GET /?list-type=2&prefix=models%2F{model}%2F&delimiter=%2F HTTP/1.1"),
            200,
            None,
            Some(2_000 + rng.below(30_000)),
            "AuthHeader",
        ),
        90..96 => (
            "REST.GET.OBJECT",
            format!("GET /{encoded} HTTP/1.1"),
            403,
            Some("AccessDenied"),
            Some(243),
            "-",
        ),
        _ => (
            "REST.GET.OBJECT",
            format!("GET /{encoded}.missing HTTP/1.1"),
            404,
            Some("NoSuchKey"),
            Some(312),
            "AuthHeader",
        ),
    };
    let signed = auth != "-";

    // Who asked, and with what.
    entry.bucket_owner = Some(owner.to_owned());
    entry.bucket = Some("coffer-artifacts".to_owned());
    entry.remote_ip = Some(format!("203.0.{}.{}", rng.below(256), rng.below(256)));
    entry.requester = signed
        .then(|| "arn:aws:sts::111122223333:assumed-role/coffer-server/coffer-prod".to_owned());
    entry.request_id = Some(request_id);
    entry.operation = Some(operation.to_owned());
    entry.key = (operation != "REST.GET.BUCKET").then_some(key);
    entry.request_uri = Some(uri);
    entry.http_status = Some(status);
    entry.error_code = error.map(str::to_owned);
    entry.bytes_sent = sent;
    entry.object_size = (status == 200 && operation != "REST.GET.BUCKET").then_some(size);
    entry.total_time_ms = Some(rng.below(20_000));
    entry.turn_around_time_ms = Some(rng.below(200));
    entry.referer =
        (rng.below(3) == 0).then(|| format!("https://coffer.example.com/models/{model}"));

    // One agent in ten is hostile: quotes, markup and a control character.
    entry.user_agent = Some(if rng.below(10) == 0 {
        format!(
            "{} \"><script>alert({})</script>\t",
            rng.pick(AGENTS),
            rng.below(100)
        )
    } else {
        rng.pick(AGENTS).to_owned()
    });
    entry.host_id = Some(rng.base64(76));
    entry.signature_version = signed.then(|| "SigV4".to_owned());
    entry.cipher_suite = Some("TLS_AES_128_GCM_SHA256".to_owned());
    entry.authentication_type = signed.then(|| auth.to_owned());
    entry.host_header = Some("coffer-artifacts.s3.us-east-1.amazonaws.com".to_owned());
    entry.tls_version = Some("TLSv1.3".to_owned());
    entry.region = Some("us-east-1".to_owned());
    entry
}
