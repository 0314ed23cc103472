//! Moving one upload's bytes: parts are read and hashed in file order,
//! signed in batches and PUT in parallel, with retries, pause and resume.
//!
//! Everything runs on the page's one thread. Small tasks (a read, a batch
//! of URLs, a PUT, a timer) report to one event loop, which alone owns the
//! state, so no state is ever shared between tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use js_sys::ArrayBuffer;
use leptos::prelude::*;
use leptos::task::spawn_local;
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{AbortController, File};

use crate::upload::api::{
    CompleteUpload, FileDigest, PartRequest, PartUrl, PartUrls, PartsRequest, ReceivedPart,
    UploadStatus,
};
use crate::upload::client::{ApiError, Client, is_online, now_ms, put_part, sleep};
use crate::upload::local::{self, Picked};
use crate::upload::plan::{MAX_ATTEMPTS, Throughput, backoff_ms, part_bounds};
use crate::upload::state::{FileState, Phase, Progress, UploadUi};

/// Most parts one signing request may name.
const MAX_SIGN_BATCH: usize = 100;

/// Parts read and hashed ahead of the one the whole-file hash needs next:
/// reading and the per-part digest of the next parts overlap with feeding
/// this one into the whole-file hash, which must see the bytes in order.
const READS_AHEAD: usize = 3;

/// A URL this close to expiring is asked for again rather than used.
const URL_MARGIN_MS: f64 = 30_000.0;

/// What the user asks of a running transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

/// What the transfer's loop hears about.
pub enum Event {
    Control(Control),
    /// The window's `online` / `offline` events.
    Network {
        online: bool,
    },
    Read {
        source: usize,
        number: u32,
        result: Result<ReadPart, String>,
    },
    Signed {
        source: usize,
        numbers: Vec<u32>,
        result: Result<PartUrls, ApiError>,
    },
    Put {
        id: u64,
        result: Result<(), ApiError>,
    },
    /// A retry's wait is over.
    Wake,
}

/// A part read and hashed, on its way to the loop.
pub struct ReadPart {
    data: ArrayBuffer,
    /// Base64 SHA-256, as the part URL will sign it.
    sha256: String,
}

/// How a transfer ended.
pub enum End {
    /// Every part is stored; the whole-file digests to complete with.
    Sent(CompleteUpload),
    Cancelled,
    Failed(String),
}

/// An upload ready to send: what Coffer planned and which selected file
/// each of its files is.
pub struct Prepared {
    pub status: UploadStatus,
    /// For each file of `status`, by position, the selected file's index.
    pub local: Vec<usize>,
}

/// One file of the upload and where its bytes stand.
struct Source {
    /// The file's index in the API.
    index: usize,
    /// Its row in the page's file list.
    row: usize,
    path: String,
    file: File,
    size: u64,
    part_size: u64,
    part_count: u32,
    /// Parts the storage already holds (after a reload), by number.
    received: HashMap<u32, ReceivedPart>,
    confirmed_parts: u32,
    done: u64,
}

/// A part read and hashed, waiting for a URL or for a free slot.
struct Job {
    source: usize,
    number: u32,
    start: u64,
    end: u64,
    sha256: String,
    url: Option<PartUrl>,
    expires_ms: f64,
    /// Failed tries so far.
    attempts: u32,
    /// Not tried again before this time (ms).
    not_before: f64,
}

impl Job {
    fn is_sendable(&self, now: f64) -> bool {
        self.url.is_some() && self.expires_ms - now >= URL_MARGIN_MS && self.not_before <= now
    }
}

/// A PUT on its way, and the switch that stops it.
struct Flight {
    job: Job,
    abort: AbortController,
}

/// The state of one upload's transfer, owned by its event loop.
pub struct Transfer {
    ui: UploadUi,
    client: Client,
    model: String,
    upload_id: String,
    sources: Vec<Source>,
    sender: UnboundedSender<Event>,
    /// PUTs in flight at most, as Coffer advises.
    parallel: usize,
    /// The next part to start reading, in file order; `None` once every
    /// read has started.
    next_read: Option<(usize, u32)>,
    /// Reads started and not yet answered.
    reading: usize,
    /// The next part the whole-file hash takes; `None` once all are fed.
    next_feed: Option<(usize, u32)>,
    /// Parts read ahead of `next_feed`, by file and number.
    read_ahead: BTreeMap<(usize, u32), ReadPart>,
    /// The whole-file hash of the file being fed.
    hasher: Sha256,
    digests: Vec<Option<String>>,
    /// Read parts not yet stored nor in flight, in file order.
    queue: VecDeque<Job>,
    signing: bool,
    in_flight: BTreeMap<u64, Flight>,
    next_id: u64,
    paused: bool,
    offline: bool,
    /// Bytes confirmed stored, including parts kept from before.
    done: u64,
    /// Bytes this page sent, for the speed.
    sent: u64,
    total: u64,
    throughput: Throughput,
    end: Option<End>,
}

impl Transfer {
    /// Pairs Coffer's plan with the selected files; refuses a file whose
    /// size is not the planned one.
    pub fn new(
        ui: UploadUi,
        client: Client,
        prepared: Prepared,
        picked: &[Picked],
        sender: UnboundedSender<Event>,
    ) -> Result<Self, String> {
        let Prepared { status, local } = prepared;
        let mut sources = Vec::with_capacity(status.files.len());
        for (file, &row) in status.files.iter().zip(&local) {
            let item = picked.get(row).ok_or("the selected files changed")?;
            if item.size() != file.size {
                return Err(format!(
                    "{} has {} bytes, but the upload expects {}; select the same file again",
                    item.path,
                    item.size(),
                    file.size
                ));
            }
            sources.push(Source {
                index: file.index,
                row,
                path: file.path.clone(),
                file: item.file.clone(),
                size: file.size,
                part_size: file.part_size.max(1),
                part_count: file.part_count.max(1),
                received: file
                    .received
                    .iter()
                    .map(|part| (part.number, part.clone()))
                    .collect(),
                confirmed_parts: 0,
                done: 0,
            });
        }

        let total = sources.iter().map(|source| source.size).sum();
        Ok(Self {
            ui,
            client,
            model: status.model,
            upload_id: status.upload_id,
            next_read: (!sources.is_empty()).then_some((0, 1)),
            next_feed: (!sources.is_empty()).then_some((0, 1)),
            read_ahead: BTreeMap::new(),
            digests: vec![None; sources.len()],
            sources,
            sender,
            parallel: status.parallel_parts.clamp(1, 32) as usize,
            reading: 0,
            hasher: Sha256::new(),
            queue: VecDeque::new(),
            signing: false,
            in_flight: BTreeMap::new(),
            next_id: 0,
            paused: false,
            offline: false,
            done: 0,
            sent: 0,
            total,
            throughput: Throughput::default(),
            end: None,
        })
    }

    /// Runs until every part is stored, the user cancels, or a failure
    /// needs the user.
    pub async fn run(mut self, events: &mut UnboundedReceiver<Event>) -> End {
        let _watch = NetworkWatch::new(&self.sender);
        self.ui.phase.set(Phase::Running);
        self.throughput.restart(now_ms(), 0);
        self.publish_progress();
        if !is_online() {
            self.go_offline();
        }

        self.pump();
        while self.end.is_none() {
            // The loop holds a sender itself, so the stream never ends.
            let Some(event) = events.next().await else {
                break;
            };
            self.handle(event);
            self.pump();
        }
        self.end
            .take()
            .unwrap_or_else(|| End::Failed("the upload stopped unexpectedly".into()))
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Control(Control::Pause) => self.pause(),
            Event::Control(Control::Resume) => self.resume(),
            Event::Control(Control::Cancel) => {
                self.abort_in_flight();
                self.end = Some(End::Cancelled);
            }
            Event::Network { online: false } => self.go_offline(),
            Event::Network { online: true } => self.back_online(),
            Event::Read {
                source,
                number,
                result,
            } => self.on_read(source, number, result),
            Event::Signed {
                source,
                numbers,
                result,
            } => self.on_signed(source, &numbers, result),
            Event::Put { id, result } => self.on_put(id, result),
            Event::Wake => {}
        }
    }

    /// Starts whatever may start now, and notices the end.
    fn pump(&mut self) {
        if self.end.is_some() {
            return;
        }
        if !self.paused && !self.offline {
            self.start_puts();
            self.start_signing();
            self.start_reading();
        }
        let idle = self.reading == 0 && self.queue.is_empty() && self.in_flight.is_empty();
        if self.next_feed.is_none() && idle {
            self.end = Some(self.digests());
        }
    }

    /// The completion request, once every file was hashed whole.
    fn digests(&self) -> End {
        let files: Option<Vec<FileDigest>> = self
            .sources
            .iter()
            .zip(&self.digests)
            .map(|(source, digest)| {
                Some(FileDigest {
                    index: source.index,
                    sha256: digest.clone()?,
                })
            })
            .collect();
        match files {
            Some(files) => End::Sent(CompleteUpload { files }),
            None => End::Failed("a file was not read to its end".into()),
        }
    }

    fn pause(&mut self) {
        self.paused = true;
        self.abort_in_flight();
        self.ui.phase.set(Phase::Paused);
        self.publish_progress();
    }

    /// Resuming also retries the network at once, whatever the browser
    /// believes about it.
    fn resume(&mut self) {
        self.paused = false;
        self.offline = false;
        self.throughput.restart(now_ms(), self.sent);
        self.ui.phase.set(Phase::Running);
    }

    fn go_offline(&mut self) {
        if self.offline {
            return;
        }
        self.offline = true;
        self.abort_in_flight();
        if !self.paused {
            self.ui.phase.set(Phase::Offline);
        }
        self.publish_progress();
    }

    fn back_online(&mut self) {
        if !self.offline {
            return;
        }
        self.offline = false;
        if !self.paused {
            self.throughput.restart(now_ms(), self.sent);
            self.ui.phase.set(Phase::Running);
        }
    }

    /// Stops every PUT; their parts go back in the queue to be sent again.
    fn abort_in_flight(&mut self) {
        for (_, flight) in std::mem::take(&mut self.in_flight) {
            flight.abort.abort();
            self.requeue(flight.job);
        }
    }

    /// Puts a part back in the queue at its place in file order.
    fn requeue(&mut self, job: Job) {
        let key = (job.source, job.number);
        let position = self
            .queue
            .iter()
            .position(|queued| (queued.source, queued.number) > key)
            .unwrap_or(self.queue.len());
        self.queue.insert(position, job);
    }

    fn fail(&mut self, message: String) {
        self.abort_in_flight();
        self.end = Some(End::Failed(message));
    }

    /// Starts reading the next parts, a few ahead of the whole-file hash;
    /// at most `parallel` parts wait, read, to be sent.
    fn start_reading(&mut self) {
        loop {
            let waiting = self.queue.len() + self.read_ahead.len() + self.reading;
            if self.reading >= READS_AHEAD || waiting >= self.parallel {
                return;
            }
            let Some((source, number)) = self.next_read else {
                return;
            };
            let item = &self.sources[source];
            let (start, end) = part_bounds(item.size, item.part_size, number);
            self.reading += 1;
            self.next_read = self.part_after(source, number);

            let file = item.file.clone();
            let sender = self.sender.clone();
            spawn_local(async move {
                let result = read_part(&file, start, end)
                    .await
                    .map(|(data, sha256)| ReadPart { data, sha256 });
                let _ = sender.unbounded_send(Event::Read {
                    source,
                    number,
                    result,
                });
            });
        }
    }

    /// Keeps a part read, then feeds every part that is next in order.
    fn on_read(&mut self, source: usize, number: u32, result: Result<ReadPart, String>) {
        self.reading -= 1;
        match result {
            Ok(part) => {
                self.read_ahead.insert((source, number), part);
            }
            Err(error) => {
                let path = self.sources[source].path.clone();
                return self.fail(format!("Could not read {path}: {error}"));
            }
        }
        while let Some(next) = self.next_feed {
            let Some(part) = self.read_ahead.remove(&next) else {
                break;
            };
            self.next_feed = self.part_after(next.0, next.1);
            self.on_fed(next.0, next.1, part);
        }
    }

    /// Feeds a part into its file's whole-file hash, in order, then keeps
    /// it to send, or counts it as stored when the storage already holds
    /// the same bytes.
    fn on_fed(&mut self, source: usize, number: u32, part: ReadPart) {
        // Feed the whole-file hash, then let the bytes go.
        if number == 1 {
            self.hasher = Sha256::new();
        }
        local::feed(&mut self.hasher, &part.data);
        let item = &self.sources[source];
        if number >= item.part_count {
            let digest = std::mem::take(&mut self.hasher).finalize();
            self.digests[source] = Some(hex::encode(digest));
        }

        // A part the storage already holds with the same bytes is kept.
        let (start, end) = part_bounds(item.size, item.part_size, number);
        let kept = item.received.get(&number).is_some_and(|received| {
            received.size == end - start && received.sha256.as_deref() == Some(&part.sha256)
        });
        if kept {
            return self.confirm(source, end - start, false);
        }
        self.queue.push_back(Job {
            source,
            number,
            start,
            end,
            sha256: part.sha256,
            url: None,
            expires_ms: 0.0,
            attempts: 0,
            not_before: 0.0,
        });
    }

    /// The part after `number` of file `source`, across files.
    fn part_after(&self, source: usize, number: u32) -> Option<(usize, u32)> {
        if number < self.sources[source].part_count {
            Some((source, number + 1))
        } else if source + 1 < self.sources.len() {
            Some((source + 1, 1))
        } else {
            None
        }
    }

    /// Asks for URLs ahead of need, in batches: when few signed parts are
    /// left, when reading has to wait, or when a file's reading is over.
    fn start_signing(&mut self) {
        if self.signing {
            return;
        }
        let now = now_ms();
        for job in self.queue.iter_mut() {
            if job.url.is_some() && job.expires_ms - now < URL_MARGIN_MS {
                job.url = None;
            }
        }
        let ready = self.queue.iter().filter(|job| job.url.is_some()).count();
        let Some(first) = self
            .queue
            .iter()
            .find(|job| job.url.is_none() && job.not_before <= now)
        else {
            return;
        };
        let source = first.source;
        let reading_elsewhere = self.next_feed.is_none_or(|(next, _)| next != source);
        if ready > self.parallel / 2 && self.queue.len() < self.parallel && !reading_elsewhere {
            return;
        }

        let parts: Vec<PartRequest> = self
            .queue
            .iter()
            .filter(|job| job.source == source && job.url.is_none() && job.not_before <= now)
            .take(MAX_SIGN_BATCH)
            .map(|job| PartRequest {
                number: job.number,
                sha256: job.sha256.clone(),
            })
            .collect();
        self.sign(source, parts);
    }

    fn sign(&mut self, source: usize, parts: Vec<PartRequest>) {
        self.signing = true;
        let numbers = parts.iter().map(|part| part.number).collect();
        let request = PartsRequest {
            file: self.sources[source].index,
            parts,
        };
        let (client, sender) = (self.client.clone(), self.sender.clone());
        let (model, id) = (self.model.clone(), self.upload_id.clone());
        spawn_local(async move {
            let result = client.sign(&model, &id, &request).await;
            let _ = sender.unbounded_send(Event::Signed {
                source,
                numbers,
                result,
            });
        });
    }

    fn on_signed(&mut self, source: usize, numbers: &[u32], result: Result<PartUrls, ApiError>) {
        self.signing = false;
        let error = match result {
            Ok(urls) => return self.attach_urls(source, urls),
            Err(error) => error,
        };
        if error.is_offline() {
            return self.go_offline();
        }
        let path = self.sources[source].path.clone();
        if !error.is_retryable() {
            return self.fail(format!("Coffer refused to sign parts of {path}: {error}"));
        }

        // Wait before asking again for the same parts.
        let mut wait = 0.0;
        for job in self.queue.iter_mut() {
            if job.source == source && numbers.contains(&job.number) && job.url.is_none() {
                job.attempts += 1;
                wait = backoff_ms(job.attempts);
                job.not_before = now_ms() + wait;
                if job.attempts >= MAX_ATTEMPTS {
                    let message = format!("Coffer could not sign parts of {path}: {error}");
                    return self.fail(message);
                }
            }
        }
        self.wake_after(wait);
    }

    fn attach_urls(&mut self, source: usize, urls: PartUrls) {
        for url in urls.parts {
            let waiting = self
                .queue
                .iter_mut()
                .find(|job| job.source == source && job.number == url.number && job.url.is_none());
            if let Some(job) = waiting {
                job.expires_ms = expiry_ms(&url.expires_at);
                job.url = Some(url);
            }
        }
    }

    /// Keeps `parallel` PUTs in flight.
    fn start_puts(&mut self) {
        let now = now_ms();
        while self.in_flight.len() < self.parallel {
            let Some(position) = self.queue.iter().position(|job| job.is_sendable(now)) else {
                break;
            };
            let Some(job) = self.queue.remove(position) else {
                break;
            };
            self.launch(job);
        }
    }

    fn launch(&mut self, job: Job) {
        let item = &self.sources[job.source];
        let (Some(url), Ok(body), Ok(abort)) = (
            job.url.clone(),
            local::slice(&item.file, job.start, job.end),
            AbortController::new(),
        ) else {
            return self.fail(format!(
                "Could not prepare part {} of {}",
                job.number, item.path
            ));
        };
        let row = item.row;
        self.ui.files.update(|rows| {
            if let Some(row) = rows
                .get_mut(row)
                .filter(|row| row.state == FileState::Waiting)
            {
                row.state = FileState::Sending;
            }
        });

        let id = self.next_id;
        self.next_id += 1;
        let signal = abort.signal();
        self.in_flight.insert(id, Flight { job, abort });
        let sender = self.sender.clone();
        spawn_local(async move {
            let result = put_part(&url, &body, &signal).await;
            let _ = sender.unbounded_send(Event::Put { id, result });
        });
    }

    fn on_put(&mut self, id: u64, result: Result<(), ApiError>) {
        // A PUT stopped by pause or cancel was already put back.
        let Some(Flight { job, .. }) = self.in_flight.remove(&id) else {
            return;
        };
        let error = match result {
            Ok(()) => return self.confirm(job.source, job.end - job.start, true),
            Err(error) => error,
        };
        match error {
            ApiError::Aborted => self.requeue(job),
            // An expired or refused URL: ask for a new one and try again.
            ApiError::Status { status: 403, .. } => {
                let wait = if job.attempts == 0 {
                    0.0
                } else {
                    backoff_ms(job.attempts)
                };
                self.retry_later(job, wait, &error);
            }
            _ if error.is_offline() => {
                self.requeue(job);
                self.go_offline();
            }
            _ if error.is_retryable() => {
                let wait = backoff_ms(job.attempts + 1);
                self.retry_later(job, wait, &error);
            }
            _ => {
                let path = &self.sources[job.source].path;
                let message = format!("Part {} of {path} was refused: {error}", job.number);
                self.fail(message);
            }
        }
    }

    fn retry_later(&mut self, mut job: Job, wait: f64, error: &ApiError) {
        job.attempts += 1;
        if job.attempts >= MAX_ATTEMPTS {
            let path = &self.sources[job.source].path;
            let message = format!(
                "Part {} of {path} failed {MAX_ATTEMPTS} times (last: {error}). \
                 Start again with the same files to resume.",
                job.number
            );
            return self.fail(message);
        }
        if matches!(error, ApiError::Status { status: 403, .. }) {
            job.url = None;
        }
        job.not_before = now_ms() + wait;
        self.requeue(job);
        self.wake_after(wait);
    }

    /// Makes the loop look again once a retry's wait is over.
    fn wake_after(&self, wait: f64) {
        if wait <= 0.0 {
            return;
        }
        let sender = self.sender.clone();
        spawn_local(async move {
            sleep(wait).await;
            let _ = sender.unbounded_send(Event::Wake);
        });
    }

    /// Counts a part as stored: sent now, or kept from before a reload.
    fn confirm(&mut self, source: usize, bytes: u64, sent_now: bool) {
        self.done += bytes;
        if sent_now {
            self.sent += bytes;
            self.throughput.record(now_ms(), self.sent);
        }
        let item = &mut self.sources[source];
        item.done += bytes;
        item.confirmed_parts += 1;
        let (row, done) = (item.row, item.done);
        let state = if item.confirmed_parts >= item.part_count {
            FileState::Sent
        } else {
            FileState::Sending
        };
        self.ui.files.update(|rows| {
            if let Some(row) = rows.get_mut(row) {
                row.done = done;
                row.state = state;
            }
        });
        self.publish_progress();
    }

    fn publish_progress(&self) {
        let active = !self.paused && !self.offline;
        let rate = self.throughput.rate(now_ms()).filter(|_| active);
        let left = self.total.saturating_sub(self.done) as f64;
        self.ui.progress.set(Progress {
            done: self.done,
            total: self.total,
            rate,
            eta: rate.map(|rate| left / rate),
        });
    }
}

/// Reads a part and hashes it for its URL.
async fn read_part(file: &File, start: u64, end: u64) -> Result<(ArrayBuffer, String), String> {
    let data = local::read(file, start, end).await?;
    let digest = local::sha256(&data).await?;
    Ok((data, BASE64.encode(digest)))
}

/// A URL's expiry in ms; an unreadable one is treated as five minutes.
fn expiry_ms(expires_at: &str) -> f64 {
    let parsed = js_sys::Date::parse(expires_at);
    if parsed.is_nan() {
        now_ms() + 300_000.0
    } else {
        parsed
    }
}

/// Listens to the window's `online` and `offline` events while a transfer
/// runs; dropping it stops listening.
struct NetworkWatch {
    online: Closure<dyn FnMut()>,
    offline: Closure<dyn FnMut()>,
}

impl NetworkWatch {
    fn new(sender: &UnboundedSender<Event>) -> Self {
        let watch = Self {
            online: notifier(sender, true),
            offline: notifier(sender, false),
        };
        if let Some(window) = web_sys::window() {
            let online = watch.online.as_ref().unchecked_ref();
            let offline = watch.offline.as_ref().unchecked_ref();
            let _ = window.add_event_listener_with_callback("online", online);
            let _ = window.add_event_listener_with_callback("offline", offline);
        }
        watch
    }
}

impl Drop for NetworkWatch {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            let online = self.online.as_ref().unchecked_ref();
            let offline = self.offline.as_ref().unchecked_ref();
            let _ = window.remove_event_listener_with_callback("online", online);
            let _ = window.remove_event_listener_with_callback("offline", offline);
        }
    }
}

/// A listener that tells the loop the network came or went.
fn notifier(sender: &UnboundedSender<Event>, online: bool) -> Closure<dyn FnMut()> {
    let sender = sender.clone();
    Closure::new(move || {
        let _ = sender.unbounded_send(Event::Network { online });
    })
}
