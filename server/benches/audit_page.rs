//! Latency of the compliance dashboard's portal trail with 1,000 and with
//! 1,000,000 audit records. The trail is paged through its indexes so that a
//! page costs the same at any size; this measures whether it does.
//!
//! For each size, loads a valid hash chain of sealed records, with their
//! index markers and the index watermark, straight into an embedded
//! endpoint's data folder (under `/dev/shm` when there is one), starts a
//! portal on it, signs carol (compliance) in and times requests one at a
//! time, cycling through the dashboard's usual views: `/audit` rendered on
//! the server, and the events API newest first, deep in the trail, by
//! actor, by model, denials only and a week in the middle of the year.
//!
//! Run with `make bench`. `COFFER_BENCH_RECORDS` sets the large size
//! (1,000,000) and `COFFER_BENCH_REQUESTS` the timed requests per size
//! (300). It prints the seeding time and p50 and p99 per size, then the
//! ratio of the p99s, whose goal is 2 or less.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on standard output"
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Parser as _;
use coffer_server::audit::{
    self, Action, AuditEvent, AuditFile, AuditRecord, GENESIS_HASH, Outcome, index,
};
use coffer_server::clock::SystemClock;
use coffer_server::config::Settings;
use coffer_server::startup::{self, StartOptions};
use coffer_server::storage::embedded::{self, FixtureObject};
use common::{Session, env_number, percentile};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;

/// The small trail, the baseline the large one is compared with.
const SMALL: u64 = 1_000;

/// People acting in the trail; a few of them do most of the work.
const ACTORS: u64 = 300;

/// Models the trail names.
const MODELS: u64 = 100;

/// Untimed passes over every view, so that caches and connections are warm.
const WARM_UP_PASSES: usize = 2;

/// How long the trail reaches back from now.
const TRAIL_DAYS: i64 = 365;

/// Actions with their weight in a hundred records; about one in twenty
/// fails or is denied.
const ACTION_MIX: [(Action, u64); 15] = [
    (Action::Download, 40),
    (Action::SignIn, 17),
    (Action::SignOut, 8),
    (Action::ShareUsed, 8),
    (Action::UploadStarted, 6),
    (Action::VersionPublished, 5),
    (Action::ShareCreated, 3),
    (Action::AliasMoved, 3),
    (Action::DescriptionChanged, 2),
    (Action::SignInFailed, 2),
    (Action::AccessDenied, 2),
    (Action::UploadAborted, 1),
    (Action::ShareRevoked, 1),
    (Action::UploadFailed, 1),
    (Action::ShareRefused, 1),
];

/// What one size measured, each list of samples sorted.
struct Figures {
    records: u64,
    seed_secs: f64,
    all_ms: Vec<f64>,
    page_ms: Vec<f64>,
    /// Each view's own samples, by name.
    by_view: Vec<(&'static str, Vec<f64>)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let large = env_number("COFFER_BENCH_RECORDS", 1_000_000);
    let requests = env_number("COFFER_BENCH_REQUESTS", 300) as usize;

    // The baseline first, then the large trail, each on its own portal.
    let now = OffsetDateTime::now_utc();
    let mut measured = Vec::new();
    for records in [SMALL, large] {
        let figures = measure(records, requests, now).await?;
        report(&figures);
        measured.push(figures);
    }

    // The figure the goal is about, and the same for the page alone.
    let (small, large) = (&measured[0], &measured[1]);
    let ratio = |large: &[f64], small: &[f64]| percentile(large, 99.0) / percentile(small, 99.0);
    println!(
        "p99 ratio {} / {} records, all views    {:6.2}x (goal: 2 or less)",
        large.records,
        small.records,
        ratio(&large.all_ms, &small.all_ms)
    );
    println!(
        "p99 ratio {} / {} records, /audit alone {:6.2}x",
        large.records,
        small.records,
        ratio(&large.page_ms, &small.page_ms)
    );
    Ok(())
}

/// Prints one size's figures.
fn report(figures: &Figures) {
    let line = |label: &str, samples: &[f64]| {
        println!(
            "  {label:<28} p50 {:8.2} ms   p99 {:8.2} ms   ({} requests)",
            percentile(samples, 50.0),
            percentile(samples, 99.0),
            samples.len()
        );
    };
    println!("records                        {}", figures.records);
    println!("  seeding                      {:.2} s", figures.seed_secs);
    line("all views", &figures.all_ms);
    line("GET /audit (SSR) alone", &figures.page_ms);
    for (name, samples) in &figures.by_view {
        line(&format!("  {name}"), samples);
    }
}

/// Seeds a trail of `records`, serves it and times `requests` requests.
async fn measure(records: u64, requests: usize, now: OffsetDateTime) -> anyhow::Result<Figures> {
    // A data folder in memory when the machine has one, so the figures
    // are about Coffer rather than the disk.
    let shm = Path::new("/dev/shm");
    let folder = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("coffer-audit-bench-")
            .tempdir_in(shm)?
    } else {
        tempfile::TempDir::new()?
    };
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
        &folder.path().to_string_lossy(),
        "--site-dir",
        &folder.path().join("site").to_string_lossy(),
    ])?;

    // The trail goes in before the portal starts, as a stopped one's would.
    let started = Instant::now();
    let trail = Trail::new(records, now);
    let data_dir: PathBuf = folder.path().to_owned();
    let bucket = settings.bucket.clone();
    let objects = tokio::task::spawn_blocking(move || {
        embedded::bulk_load(&data_dir, &bucket, trail.objects())
    })
    .await
    .context("the seeding task failed")??;
    let seed_secs = started.elapsed().as_secs_f64();
    println!("seeded {records} records as {objects} objects in {seed_secs:.2} s");

    // Carol reads the dashboard the way a browser does.
    let starting = Instant::now();
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
    println!(
        "portal started on them in {:.2} s",
        starting.elapsed().as_secs_f64()
    );
    let carol = Session::sign_in(&url, "carol").await?;
    let views = views(&carol, &url, now).await?;

    // Warm up, then time each request on its own.
    for view in views.iter().cycle().take(WARM_UP_PASSES * views.len()) {
        view.load(&carol).await?;
    }
    let mut by_view: Vec<(&'static str, Vec<f64>)> =
        views.iter().map(|view| (view.name, Vec::new())).collect();
    for index in (0..views.len()).cycle().take(requests) {
        let started = Instant::now();
        views[index].load(&carol).await?;
        by_view[index]
            .1
            .push(started.elapsed().as_secs_f64() * 1000.0);
    }
    running.stop().await?;
    drop(folder);

    // Every sample together, and the page's own.
    for (_, samples) in &mut by_view {
        samples.sort_by(f64::total_cmp);
    }
    let mut all_ms: Vec<f64> = by_view
        .iter()
        .flat_map(|(_, samples)| samples)
        .copied()
        .collect();
    all_ms.sort_by(f64::total_cmp);
    let page_ms = views
        .iter()
        .zip(&by_view)
        .filter(|(view, _)| view.page)
        .flat_map(|(_, (_, samples))| samples)
        .copied()
        .collect();
    Ok(Figures {
        records,
        seed_secs,
        all_ms,
        page_ms,
        by_view,
    })
}

/// One view of the dashboard and what its answer must hold.
struct View {
    name: &'static str,
    url: String,
    /// The server-rendered page rather than the JSON API.
    page: bool,
}

impl View {
    /// Loads the view; fails unless it answers 200 with events in it.
    async fn load(&self, session: &Session) -> anyhow::Result<()> {
        let body = session.get_text(&self.url).await?;
        let shows_events = if self.page {
            body.contains("data-testid=\"audit-row\"")
                && !body.contains("data-testid=\"audit-error\"")
        } else {
            let page: serde_json::Value =
                serde_json::from_str(&body).with_context(|| format!("{} is not JSON", self.url))?;
            page["events"]
                .as_array()
                .is_some_and(|events| !events.is_empty())
        };
        if !shows_events {
            bail!("{} answered without events", self.url);
        }
        Ok(())
    }
}

/// The views a compliance officer cycles through.
async fn views(session: &Session, url: &str, now: OffsetDateTime) -> anyhow::Result<Vec<View>> {
    let api = format!("{url}/api/v1/audit/events?source=portal&limit=50");
    let day = |days_ago: i64| (now - Duration::days(days_ago)).date().to_string();

    // A cursor eleven months back: the page of the events up to then leads
    // on from there, through the index every unfiltered page walks.
    let deep_page = session
        .get_text(&format!("{api}&to={}", day(TRAIL_DAYS - 30)))
        .await?;
    let deep: serde_json::Value = serde_json::from_str(&deep_page)?;
    let cursor = deep["next_cursor"]
        .as_str()
        .context("the page deep in the trail has no next cursor")?;

    let json = |name, query: String| View {
        name,
        url: format!("{api}{query}"),
        page: false,
    };
    Ok(vec![
        View {
            name: "GET /audit",
            url: format!("{url}/audit"),
            page: true,
        },
        json("API newest", String::new()),
        json("API deep cursor", format!("&cursor={cursor}")),
        json("API by actor", format!("&actor={}", actor(3))),
        json("API by model", format!("&model={}", model(5))),
        json("API denied", "&outcome=denied".into()),
        json(
            "API one week",
            format!("&from={}&to={}", day(190), day(183)),
        ),
    ])
}

/// The name of actor `index`.
fn actor(index: u64) -> String {
    format!("user-{index:03}")
}

/// The name of model `index`.
fn model(index: u64) -> String {
    format!("model-{index:02}")
}

/// A year of portal activity ending now, as the objects the trail keeps.
struct Trail {
    records: u64,
    start: OffsetDateTime,
    /// Milliseconds between two records' time slots.
    slot_ms: i64,
}

impl Trail {
    fn new(records: u64, now: OffsetDateTime) -> Trail {
        let span_ms = Duration::days(TRAIL_DAYS).whole_milliseconds() as i64;
        Trail {
            records,
            start: now - Duration::days(TRAIL_DAYS),
            slot_ms: (span_ms / records.max(1) as i64).max(1),
        }
    }

    /// Every record with its markers, oldest first, then the watermark
    /// that tells the start-up sweep all of them are indexed.
    fn objects(self) -> impl Iterator<Item = FixtureObject> {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        let mut prev_hash = GENESIS_HASH.to_owned();
        let records = self.records;
        let chain = (1..=records).flat_map(move |seq| {
            // Each record at a random moment of its own slot, so time
            // never runs backwards along the chain.
            let slot = (seq - 1) as i64 * self.slot_ms;
            let offset = random.below(self.slot_ms as u64) as i64;
            let time = self.start + Duration::milliseconds(slot + offset);
            let record = AuditRecord::seal(seq, time, event(&mut random), &prev_hash);
            prev_hash.clone_from(&record.hash);
            audit::objects_of(&record).expect("a record always encodes as JSON")
        });
        let watermark = index::watermark_object(records).expect("a watermark encodes as JSON");
        chain.chain([watermark]).map(|object| FixtureObject {
            key: object.key,
            body: object.body,
            content_type: object.content_type.to_owned(),
        })
    }
}

/// A plausible event, drawn from the action mix.
fn event(random: &mut Random) -> AuditEvent {
    let actor = actor(random.skewed(ACTORS));
    let model = model(random.skewed(MODELS));
    let version = 1 + random.below(20);
    let request = format!("{:016x}{:016x}", random.next(), random.next());
    let share = format!("{:012x}", random.next() >> 16);
    let file = "model.safetensors";
    let size = 1_000_000 + random.below(4_000_000_000);

    // The action, by weight.
    let mut pick = random.below(ACTION_MIX.iter().map(|(_, weight)| weight).sum());
    let action = ACTION_MIX
        .iter()
        .find(|(_, weight)| {
            let here = pick < *weight;
            pick = pick.saturating_sub(*weight);
            here
        })
        .map_or(Action::Download, |(action, _)| *action);

    // The fields a record of that action carries.
    let new = |who: String, outcome| AuditEvent::new(who, action, outcome, &request);
    match action {
        Action::SignIn | Action::SignOut => new(actor, Outcome::Success),
        Action::SignInFailed => new(actor, Outcome::Failure).with_detail("invalid credentials"),
        Action::AccessDenied => new(actor, Outcome::Denied)
            .with_path("/admin")
            .with_detail("the route needs the admin role"),
        Action::UploadStarted => new(actor, Outcome::Success)
            .with_version(model, version)
            .with_files(vec![AuditFile {
                path: file.into(),
                size,
                sha256: None,
            }]),
        Action::VersionPublished => new(actor, Outcome::Success)
            .with_version(model, version)
            .with_files(vec![AuditFile {
                path: file.into(),
                size,
                sha256: Some(format!("{request}{request}")),
            }]),
        Action::UploadAborted => new(actor, Outcome::Success).with_version(model, version),
        Action::UploadFailed => new(actor, Outcome::Failure)
            .with_version(model, version)
            .with_detail("a part did not match its checksum"),
        Action::Download => new(actor, Outcome::Success)
            .with_version(model, version)
            .with_path(file),
        Action::AliasMoved => new(actor, Outcome::Success).with_model(model).with_alias(
            "production",
            version.checked_sub(1),
            Some(version),
        ),
        Action::DescriptionChanged => new(actor, Outcome::Success).with_model(model),
        Action::ShareCreated | Action::ShareRevoked => new(actor, Outcome::Success)
            .with_version(model, version)
            .with_share(share),
        Action::ShareUsed => new(format!("share:{share}"), Outcome::Success)
            .with_version(model, version)
            .with_share(share)
            .with_path(file),
        Action::ShareRefused => new("anonymous".into(), Outcome::Denied)
            .with_share(share)
            .with_detail("the link has expired"),
    }
}

/// xorshift64: the same trail every run, with no dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..bound`, near enough.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// In `0..bound`, low numbers far more often: index `k` has about
    /// `sqrt((k + 1) / bound) - sqrt(k / bound)` of the draws.
    fn skewed(&mut self, bound: u64) -> u64 {
        let uniform = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((uniform * uniform * bound as f64) as u64).min(bound - 1)
    }
}
