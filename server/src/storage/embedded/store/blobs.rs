//! Blob files: where object bytes live. A blob is written under `tmp/`,
//! synced, renamed into `blobs/` and the folder synced, so a blob file in
//! `blobs/` is always complete. Whether it is part of any object is the
//! index's business: a blob the index does not name is an orphan and is
//! removed at the next start.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use anyhow::Context as _;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3s::stream::{ByteStream, RemainingLength};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::task::JoinHandle;

use super::StoreError;
use super::records::Segment;
use crate::storage::embedded::checksum::{Algorithm, BodyHasher, Digests};

/// How much of a blob one read returns to the HTTP layer.
const READ_CHUNK: u64 = 512 * 1024;

/// How much body is buffered before a write to the temporary file. Every
/// part in flight holds this twice (here and in the file's own buffer for
/// its background write), so it stays small: many parts arrive at once.
const WRITE_BUFFER: usize = 64 * 1024;

/// The two folders blobs pass through.
#[derive(Debug, Clone)]
pub(crate) struct BlobDirs {
    pub(crate) blobs: PathBuf,
    pub(crate) tmp: PathBuf,
}

impl BlobDirs {
    pub(crate) fn blob_path(&self, id: &str) -> PathBuf {
        self.blobs.join(id)
    }
}

/// Opens and syncs a folder so that a rename or create inside it survives a
/// power loss.
pub(crate) fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    let handle = File::open(dir).with_context(|| format!("failed to open {}", dir.display()))?;
    handle
        .sync_all()
        .with_context(|| format!("failed to sync {}", dir.display()))
}

/// A fresh random blob id; never derived from a key.
pub(crate) fn new_blob_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A complete, durable blob that no index record names yet. Dropping it
/// deletes the file, so a failed or refused write leaves nothing behind.
#[derive(Debug)]
pub(crate) struct StagedBlob {
    pub(crate) id: String,
    pub(crate) digests: Digests,
    path: PathBuf,
    committed: bool,
}

impl StagedBlob {
    /// Marks the blob as named by the index, so it is kept.
    pub(crate) fn commit(mut self) -> String {
        self.committed = true;
        std::mem::take(&mut self.id)
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes a temporary file unless disarmed; covers errors and requests
/// dropped mid-body alike.
struct TmpGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Streams a body into a new blob, hashing as it goes. The body is never
/// held in memory beyond one buffer.
pub(crate) async fn stage_blob<S, E>(
    dirs: &BlobDirs,
    mut body: S,
    algorithms: Vec<Algorithm>,
    max_size: u64,
) -> Result<StagedBlob, StoreError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    // Write into tmp/ first: a crash mid-body leaves only a temporary file,
    // which start-up clears.
    let id = new_blob_id();
    let tmp_path = dirs.tmp.join(&id);
    let mut guard = TmpGuard {
        path: tmp_path.clone(),
        armed: true,
    };
    let mut file = tokio::fs::File::create(&tmp_path)
        .await
        .with_context(|| format!("failed to create {}", tmp_path.display()))?;
    file.set_max_buf_size(WRITE_BUFFER);
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut hasher = BodyHasher::new(algorithms);

    // Copy and hash every chunk; a body error means the client never sent
    // the whole object, so nothing may become visible.
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| body_error(&err.to_string()))?;
        written += chunk.len() as u64;
        if written > max_size {
            return Err(StoreError::EntityTooLarge);
        }
        hasher.update(&chunk);
        writer
            .write_all(&chunk)
            .await
            .context("failed to write a temporary blob")?;
    }

    // Make the bytes durable before the file can be named by the index.
    writer
        .flush()
        .await
        .context("failed to flush a temporary blob")?;
    let file = writer.into_inner();
    file.sync_all()
        .await
        .context("failed to sync a temporary blob")?;
    drop(file);

    // Move the blob into place and make the rename itself durable.
    let final_path = dirs.blob_path(&id);
    let blobs_dir = dirs.blobs.clone();
    let from = tmp_path.clone();
    let to = final_path.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        std::fs::rename(&from, &to)
            .with_context(|| format!("failed to move {}", from.display()))?;
        sync_dir(&blobs_dir)
    })
    .await
    .context("blob rename task failed")??;
    guard.armed = false;
    Ok(StagedBlob {
        id,
        digests: hasher.finish(),
        path: final_path,
        committed: false,
    })
}

/// Maps a body stream failure to what the client did wrong. s3s keeps its
/// stream error types private, so the payload-hash case is told apart by
/// its message.
fn body_error(message: &str) -> StoreError {
    if message.contains("Sha256Mismatch") {
        StoreError::ContentSha256Mismatch
    } else {
        StoreError::IncompleteBody
    }
}

/// Blobs being read right now, and those to delete once their readers finish.
/// A blob replaced or deleted in the index while a GET streams it must stay on
/// disk until that GET is done.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    state: Mutex<PinState>,
}

#[derive(Debug, Default)]
struct PinState {
    readers: HashMap<String, usize>,
    doomed: HashSet<String>,
}

impl Pins {
    /// Runs `read` with the pin table locked, then pins the blobs it names.
    /// Writers release blobs only after their commit and under this lock, so
    /// a blob the read saw cannot be deleted before it is pinned.
    pub(crate) fn read_and_pin<T>(
        self: &Arc<Self>,
        dirs: &BlobDirs,
        read: impl FnOnce() -> Result<T, StoreError>,
        blobs_of: impl Fn(&T) -> Vec<String>,
    ) -> Result<(T, PinGuard), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let value = read()?;
        let ids = blobs_of(&value);
        for id in &ids {
            *state.readers.entry(id.clone()).or_default() += 1;
        }
        drop(state);
        Ok((
            value,
            PinGuard {
                pins: Arc::clone(self),
                dirs: dirs.clone(),
                ids,
            },
        ))
    }

    /// Deletes blobs no record names any more, or defers them to their last
    /// reader.
    pub(crate) fn release(&self, dirs: &BlobDirs, ids: impl IntoIterator<Item = String>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for id in ids {
            if state.readers.contains_key(&id) {
                state.doomed.insert(id);
            } else {
                remove_blob(dirs, &id);
            }
        }
    }
}

fn remove_blob(dirs: &BlobDirs, id: &str) {
    let path = dirs.blob_path(id);
    if let Err(err) = std::fs::remove_file(&path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(s3.blob = %id, error = %err, "failed to remove a blob; it is removed at next start");
    }
}

/// Keeps blobs on disk while a reader streams them.
#[derive(Debug)]
pub(crate) struct PinGuard {
    pins: Arc<Pins>,
    dirs: BlobDirs,
    ids: Vec<String>,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut state = self
            .pins
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for id in &self.ids {
            let last = match state.readers.get_mut(id) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                _ => true,
            };
            if last {
                state.readers.remove(id);
                if state.doomed.remove(id) {
                    remove_blob(&self.dirs, id);
                }
            }
        }
    }
}

/// A byte range of one blob.
#[derive(Debug, Clone)]
struct Span {
    path: PathBuf,
    offset: u64,
    len: u64,
}

type ReadResult = std::io::Result<(File, Bytes)>;

/// Streams a byte range of an object across its segments, reading each blob
/// on the blocking pool one chunk at a time.
pub(crate) struct ObjectReader {
    spans: Vec<Span>,
    current: usize,
    file: Option<File>,
    remaining: u64,
    pending: Option<JoinHandle<ReadResult>>,
    _pin: PinGuard,
}

impl ObjectReader {
    /// Reads bytes `range` of the object made of `segments`.
    pub(crate) fn new(
        dirs: &BlobDirs,
        segments: &[Segment],
        range: std::ops::Range<u64>,
        pin: PinGuard,
    ) -> Self {
        let mut spans = Vec::new();
        let mut segment_start = 0u64;
        for segment in segments {
            let segment_end = segment_start + segment.size;
            let from = range.start.max(segment_start);
            let to = range.end.min(segment_end);
            if from < to {
                spans.push(Span {
                    path: dirs.blob_path(&segment.blob),
                    offset: from - segment_start,
                    len: to - from,
                });
            }
            segment_start = segment_end;
        }
        Self {
            spans,
            current: 0,
            file: None,
            remaining: range.end.saturating_sub(range.start),
            pending: None,
            _pin: pin,
        }
    }

    /// Starts reading the next chunk, or says there is nothing left.
    fn start_next_read(&mut self) -> bool {
        while let Some(span) = self.spans.get_mut(self.current) {
            if span.len == 0 {
                self.current += 1;
                self.file = None;
                continue;
            }
            let len = span.len.min(READ_CHUNK);
            let file = self.file.take();
            let path = span.path.clone();
            let offset = span.offset;
            span.offset += len;
            span.len -= len;
            self.pending = Some(tokio::task::spawn_blocking(move || {
                read_chunk(file, &path, offset, len)
            }));
            return true;
        }
        false
    }
}

fn read_chunk(file: Option<File>, path: &Path, offset: u64, len: u64) -> ReadResult {
    let mut file = match file {
        Some(file) => file,
        None => {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::Start(offset))?;
            file
        }
    };
    let size = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut buf = vec![0u8; size];
    file.read_exact(&mut buf)?;
    Ok((file, Bytes::from(buf)))
}

impl Stream for ObjectReader {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(pending) = self.pending.as_mut() {
                let result = ready!(Pin::new(pending).poll(cx));
                self.pending = None;
                let (file, bytes) = match result {
                    Ok(Ok(read)) => read,
                    Ok(Err(err)) => return Poll::Ready(Some(Err(Box::new(err)))),
                    Err(err) => return Poll::Ready(Some(Err(Box::new(err)))),
                };
                let done_with_span = self
                    .spans
                    .get(self.current)
                    .is_none_or(|span| span.len == 0);
                if done_with_span {
                    self.current += 1;
                } else {
                    self.file = Some(file);
                }
                self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
                return Poll::Ready(Some(Ok(bytes)));
            }
            if !self.start_next_read() {
                return Poll::Ready(None);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

impl ByteStream for ObjectReader {
    fn remaining_length(&self) -> RemainingLength {
        match usize::try_from(self.remaining) {
            Ok(remaining) => RemainingLength::new_exact(remaining),
            Err(_) => RemainingLength::unknown(),
        }
    }
}
