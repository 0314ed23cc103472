//! The embedded endpoint's storage: blob files for bytes and a redb index
//! for everything else.
//!
//! Layout under `data_dir/s3/`: `index.redb` maps buckets, `(bucket, key)`
//! pairs, open uploads and their parts to JSON records; `blobs/` holds one
//! file per object (or per multipart part) named by a random id; `tmp/` holds
//! bodies still arriving. An object becomes visible only when the write
//! transaction that names its blobs commits, and redb commits durably, so a
//! crash at any point leaves either the old object or the new one. Keys are
//! never turned into paths.

mod blobs;
mod bulk;
mod multipart;
mod records;
mod trail;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use redb::{Database, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction};

use self::blobs::{BlobDirs, Pins, sync_dir};
pub(crate) use self::blobs::{ObjectReader, PinGuard, StagedBlob};
pub use self::bulk::FixtureObject;
pub(crate) use self::multipart::{CompletionClaims, RequestedPart};
pub(crate) use self::records::{
    BucketRecord, ObjectMeta, ObjectRecord, PartRecord, Segment, StoredChecksum, UploadRecord,
    now_us,
};
pub(crate) use self::trail::StoredEvent;
use super::checksum::Algorithm;
use super::listing::{Page, PageRequest, paginate};

const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
const UPLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("uploads");
const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");

/// The largest object a single PutObject may create (S3's limit).
pub(crate) const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Why a storage operation did not happen. Each variant but `Internal` is
/// the client's to fix and maps to one S3 error code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("The specified bucket does not exist.")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("The specified multipart upload does not exist.")]
    NoSuchUpload,
    #[error("The bucket you tried to create already exists, and you own it.")]
    BucketAlreadyOwned,
    #[error("The bucket you tried to delete is not empty.")]
    BucketNotEmpty,
    #[error("At least one of the pre-conditions you specified did not hold.")]
    PreconditionFailed,
    #[error("The {} you specified did not match the calculated checksum.", .0.header_name())]
    BadDigest(Algorithm),
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadContentMd5,
    #[error("{0}")]
    InvalidDigest(String),
    #[error("{0}")]
    InvalidPart(String),
    #[error("{0}")]
    InvalidPartOrder(String),
    #[error("Your proposed upload is smaller than the minimum allowed size.")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed size.")]
    EntityTooLarge,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("The XML you provided was not well-formed or did not validate.")]
    MalformedXml,
    #[error("You did not provide the number of bytes specified by the Content-Length header.")]
    IncompleteBody,
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Wraps redb's error types, which all say what failed but not where.
fn db_err<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |err| StoreError::Internal(anyhow::Error::new(err).context(what))
}

fn encode<T: serde::Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record)
        .context("failed to encode an index record")
        .map_err(StoreError::Internal)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .context("failed to decode an index record")
        .map_err(StoreError::Internal)
}

/// What a conditional write requires of the object it replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WriteCondition {
    /// `If-None-Match: *`: no object may exist.
    pub(crate) if_none_match_any: bool,
    /// `If-Match`: an object must exist; with a value, it must have this ETag.
    pub(crate) if_match: Option<IfMatch>,
}

/// The two forms of `If-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IfMatch {
    Any,
    ETag(String),
}

impl WriteCondition {
    /// Judges the object currently stored under the key against the
    /// condition. S3 answers 404 for `If-Match` on a missing key.
    pub(crate) fn check(&self, current: Option<&ObjectRecord>) -> Result<(), StoreError> {
        if self.if_none_match_any && current.is_some() {
            return Err(StoreError::PreconditionFailed);
        }
        match (&self.if_match, current) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(StoreError::NoSuchKey),
            (Some(IfMatch::Any), Some(_)) => Ok(()),
            (Some(IfMatch::ETag(etag)), Some(object)) if *etag == object.etag => Ok(()),
            (Some(IfMatch::ETag(_)), Some(_)) => Err(StoreError::PreconditionFailed),
        }
    }
}

/// A summary line of a listing.
#[derive(Debug, Clone)]
pub(crate) struct ObjectSummary {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) last_modified_us: i64,
    pub(crate) checksum_algorithm: Option<Algorithm>,
}

struct Inner {
    db: Database,
    dirs: BlobDirs,
    pins: Arc<Pins>,
}

/// The store; cheap to clone, shared by every request.
#[derive(Clone)]
pub(crate) struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dirs", &self.inner.dirs)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store under `root` and removes what a crash may
    /// have left: temporary bodies and blobs no record names. Blocking.
    pub(crate) fn open(root: &Path) -> anyhow::Result<Store> {
        // Create the folders and make their existence durable.
        let dirs = BlobDirs {
            blobs: root.join("blobs"),
            tmp: root.join("tmp"),
        };
        for dir in [root, dirs.blobs.as_path(), dirs.tmp.as_path()] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        sync_dir(root)?;

        // Open the index and make sure every table exists, so readers never
        // meet a missing table.
        let db_path = root.join("index.redb");
        let db = Database::create(&db_path)
            .with_context(|| format!("failed to open the index {}", db_path.display()))?;
        let txn = db.begin_write().context("failed to begin an index write")?;
        txn.open_table(BUCKETS)
            .context("failed to open the buckets table")?;
        txn.open_table(OBJECTS)
            .context("failed to open the objects table")?;
        txn.open_table(UPLOADS)
            .context("failed to open the uploads table")?;
        txn.open_table(PARTS)
            .context("failed to open the parts table")?;
        txn.open_table(trail::TRAIL_EVENTS)
            .context("failed to open the trail events table")?;
        txn.commit().context("failed to commit the index tables")?;

        // Clear what an interrupted run left behind.
        let store = Store {
            inner: Arc::new(Inner {
                db,
                dirs,
                pins: Arc::default(),
            }),
        };
        store.remove_leftovers()?;
        Ok(store)
    }

    /// Empties `tmp/` and deletes blobs that no object or part names: a crash
    /// between a blob's rename and its index commit leaves such files.
    fn remove_leftovers(&self) -> anyhow::Result<()> {
        // Temporary files are bodies that never finished arriving.
        let dirs = &self.inner.dirs;
        for entry in std::fs::read_dir(&dirs.tmp).context("failed to list tmp/")? {
            let entry = entry.context("failed to list tmp/")?;
            std::fs::remove_file(entry.path())
                .with_context(|| format!("failed to remove {}", entry.path().display()))?;
        }

        // Every blob the index names is live; the rest are orphans.
        let live = self.live_blobs().map_err(|err| anyhow::anyhow!("{err}"))?;
        let mut removed = 0usize;
        for entry in std::fs::read_dir(&dirs.blobs).context("failed to list blobs/")? {
            let entry = entry.context("failed to list blobs/")?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !live.contains(&name) {
                std::fs::remove_file(entry.path())
                    .with_context(|| format!("failed to remove {}", entry.path().display()))?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(
                s3.orphans = removed,
                "removed blobs left by an interrupted write"
            );
        }
        Ok(())
    }

    fn live_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let txn = self.read_txn()?;
        let mut live = HashSet::new();
        let objects = txn
            .open_table(OBJECTS)
            .map_err(db_err("failed to open objects"))?;
        for item in objects.iter().map_err(db_err("failed to scan objects"))? {
            let (_, value) = item.map_err(db_err("failed to scan objects"))?;
            let record: ObjectRecord = decode(value.value())?;
            live.extend(record.segments.into_iter().map(|s| s.blob));
        }
        let parts = txn
            .open_table(PARTS)
            .map_err(db_err("failed to open parts"))?;
        for item in parts.iter().map_err(db_err("failed to scan parts"))? {
            let (_, value) = item.map_err(db_err("failed to scan parts"))?;
            let record: PartRecord = decode(value.value())?;
            live.insert(record.blob);
        }
        Ok(live)
    }

    /// Runs blocking index work on the blocking pool. The closure runs to
    /// completion even if the request that asked for it goes away, so a
    /// commit and its clean-up are never split.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .context("index task failed")?
    }

    fn read_txn(&self) -> Result<ReadTransaction, StoreError> {
        self.inner
            .db
            .begin_read()
            .map_err(db_err("failed to begin an index read"))
    }

    fn write_txn(&self) -> Result<WriteTransaction, StoreError> {
        self.inner
            .db
            .begin_write()
            .map_err(db_err("failed to begin an index write"))
    }

    /// A read of what `bucket` holds; `NoSuchBucket` unless it exists.
    fn read_in_bucket(&self, bucket: &str) -> Result<ReadTransaction, StoreError> {
        let txn = self.read_txn()?;
        bucket_in(
            &txn.open_table(BUCKETS)
                .map_err(db_err("failed to open buckets"))?,
            bucket,
        )?;
        Ok(txn)
    }

    /// A write to what `bucket` holds; `NoSuchBucket` unless it exists. The
    /// check is part of the write, so the bucket cannot go before the commit.
    fn write_in_bucket(&self, bucket: &str) -> Result<WriteTransaction, StoreError> {
        let txn = self.write_txn()?;
        bucket_in(
            &txn.open_table(BUCKETS)
                .map_err(db_err("failed to open buckets"))?,
            bucket,
        )?;
        Ok(txn)
    }

    /// Streams a body into a staged blob (see [`StagedBlob`]).
    pub(crate) async fn stage<S, E>(
        &self,
        body: S,
        algorithms: Vec<Algorithm>,
        max_size: u64,
    ) -> Result<StagedBlob, StoreError>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        blobs::stage_blob(&self.inner.dirs, body, algorithms, max_size).await
    }

    // ----- buckets -----

    /// Creates a bucket; `BucketAlreadyOwned` if it exists.
    pub(crate) async fn create_bucket(&self, name: String) -> Result<(), StoreError> {
        self.blocking(move |store| {
            let txn = store.write_txn()?;
            insert_bucket(&txn, &name)?;
            txn.commit().map_err(db_err("failed to commit a bucket"))
        })
        .await
    }

    /// Creates a bucket unless it exists.
    pub(crate) async fn ensure_bucket(&self, name: &str) -> Result<(), StoreError> {
        match self.create_bucket(name.to_owned()).await {
            Ok(()) | Err(StoreError::BucketAlreadyOwned) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// `NoSuchBucket` unless the bucket exists.
    pub(crate) async fn head_bucket(&self, name: String) -> Result<BucketRecord, StoreError> {
        self.blocking(move |store| {
            let txn = store.read_txn()?;
            bucket_in(
                &txn.open_table(BUCKETS)
                    .map_err(db_err("failed to open buckets"))?,
                &name,
            )
        })
        .await
    }

    /// Every bucket, by name.
    pub(crate) async fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>, StoreError> {
        self.blocking(|store| {
            let txn = store.read_txn()?;
            let buckets = txn
                .open_table(BUCKETS)
                .map_err(db_err("failed to open buckets"))?;
            let mut all = Vec::new();
            for item in buckets.iter().map_err(db_err("failed to scan buckets"))? {
                let (name, value) = item.map_err(db_err("failed to scan buckets"))?;
                all.push((name.value().to_owned(), decode(value.value())?));
            }
            Ok(all)
        })
        .await
    }

    /// Deletes an empty bucket with no open uploads.
    pub(crate) async fn delete_bucket(&self, name: String) -> Result<(), StoreError> {
        self.blocking(move |store| {
            let txn = store.write_txn()?;
            {
                let mut buckets = txn
                    .open_table(BUCKETS)
                    .map_err(db_err("failed to open buckets"))?;
                bucket_in(&buckets, &name)?;
                let objects = txn
                    .open_table(OBJECTS)
                    .map_err(db_err("failed to open objects"))?;
                let mut in_bucket = objects
                    .range((name.as_str(), "")..)
                    .map_err(db_err("failed to scan objects"))?;
                if let Some(item) = in_bucket.next() {
                    let (key, _) = item.map_err(db_err("failed to scan objects"))?;
                    if key.value().0 == name {
                        return Err(StoreError::BucketNotEmpty);
                    }
                }
                let uploads = txn
                    .open_table(UPLOADS)
                    .map_err(db_err("failed to open uploads"))?;
                for item in uploads.iter().map_err(db_err("failed to scan uploads"))? {
                    let (_, value) = item.map_err(db_err("failed to scan uploads"))?;
                    let upload: UploadRecord = decode(value.value())?;
                    if upload.bucket == name {
                        return Err(StoreError::BucketNotEmpty);
                    }
                }
                buckets
                    .remove(name.as_str())
                    .map_err(db_err("failed to remove a bucket"))?;
            }
            txn.commit()
                .map_err(db_err("failed to commit a bucket removal"))
        })
        .await
    }

    // ----- objects -----

    /// The object's record, if any; for pre-checks that need no pin.
    pub(crate) async fn object(
        &self,
        bucket: String,
        key: String,
    ) -> Result<Option<ObjectRecord>, StoreError> {
        self.blocking(move |store| store.read_object(&bucket, &key))
            .await
    }

    fn read_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError> {
        let txn = self.read_in_bucket(bucket)?;
        let objects = txn
            .open_table(OBJECTS)
            .map_err(db_err("failed to open objects"))?;
        object_in(&objects, bucket, key)
    }

    /// The object's record with its blobs pinned for reading.
    pub(crate) async fn open_object(
        &self,
        bucket: String,
        key: String,
    ) -> Result<(ObjectRecord, PinGuard), StoreError> {
        self.blocking(move |store| {
            store.inner.pins.read_and_pin(
                &store.inner.dirs,
                || {
                    store
                        .read_object(&bucket, &key)?
                        .ok_or(StoreError::NoSuchKey)
                },
                |record| record.segments.iter().map(|s| s.blob.clone()).collect(),
            )
        })
        .await
    }

    /// A reader over `range` of a pinned object.
    pub(crate) fn reader(
        &self,
        record: &ObjectRecord,
        range: std::ops::Range<u64>,
        pin: PinGuard,
    ) -> ObjectReader {
        ObjectReader::new(&self.inner.dirs, &record.segments, range, pin)
    }

    /// Makes a staged blob the object under `key`, if the condition holds at
    /// the moment of the write. The check and the write share one write
    /// transaction, and redb runs one at a time, so two conditional writers
    /// can never both succeed.
    pub(crate) async fn put_object(
        &self,
        bucket: String,
        key: String,
        mut record: ObjectRecord,
        staged: StagedBlob,
        condition: WriteCondition,
    ) -> Result<ObjectRecord, StoreError> {
        self.blocking(move |store| {
            // Check and write under one transaction.
            let txn = store.write_in_bucket(&bucket)?;
            let replaced = {
                let mut objects = txn
                    .open_table(OBJECTS)
                    .map_err(db_err("failed to open objects"))?;
                let current = object_in(&objects, &bucket, &key)?;
                condition.check(current.as_ref())?;
                record.segments = vec![Segment {
                    blob: staged.id.clone(),
                    size: staged.digests.size,
                }];
                insert_object(&mut objects, &bucket, &key, &record)?
            };
            txn.commit().map_err(db_err("failed to commit an object"))?;

            // Now the new blob is named; the old one is garbage.
            staged.commit();
            if let Some(old) = replaced {
                store.release(old.segments.into_iter().map(|s| s.blob));
            }
            Ok(record)
        })
        .await
    }

    /// Deletes the object under `key`; deleting a missing key succeeds, as
    /// in S3.
    pub(crate) async fn delete_object(
        &self,
        bucket: String,
        key: String,
    ) -> Result<(), StoreError> {
        self.blocking(move |store| {
            let txn = store.write_in_bucket(&bucket)?;
            let removed: Option<ObjectRecord> = {
                let mut objects = txn
                    .open_table(OBJECTS)
                    .map_err(db_err("failed to open objects"))?;
                let removed = objects
                    .remove((bucket.as_str(), key.as_str()))
                    .map_err(db_err("failed to remove an object"))?;
                removed.map(|value| decode(value.value())).transpose()?
            };
            txn.commit()
                .map_err(db_err("failed to commit an object removal"))?;
            if let Some(old) = removed {
                store.release(old.segments.into_iter().map(|s| s.blob));
            }
            Ok(())
        })
        .await
    }

    /// One page of a bucket's keys, in byte order, as one range scan.
    pub(crate) async fn list_objects(
        &self,
        bucket: String,
        request: PageRequest,
    ) -> Result<Page<ObjectSummary>, StoreError> {
        self.blocking(move |store| {
            let txn = store.read_in_bucket(&bucket)?;
            let objects = txn
                .open_table(OBJECTS)
                .map_err(db_err("failed to open objects"))?;
            let start = request.scan_start().to_owned();
            let scan = objects
                .range((bucket.as_str(), start.as_str())..)
                .map_err(db_err("failed to scan objects"))?;
            let keys = scan
                .map(
                    |item| -> Result<Option<(String, ObjectSummary)>, StoreError> {
                        let (key, value) = item.map_err(db_err("failed to scan objects"))?;
                        let (in_bucket, name) = key.value();
                        if in_bucket != bucket {
                            return Ok(None);
                        }
                        let record: ObjectRecord = decode(value.value())?;
                        Ok(Some((
                            name.to_owned(),
                            ObjectSummary {
                                size: record.size,
                                etag: record.etag,
                                last_modified_us: record.last_modified_us,
                                checksum_algorithm: record.checksum.map(|c| c.algorithm),
                            },
                        )))
                    },
                )
                .map_while(|item| item.transpose());
            paginate(keys, &request)
        })
        .await
    }

    /// Writes a whole small object the endpoint makes itself (its logs),
    /// outside any request, so that writing it is never itself logged.
    pub(crate) async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        body: bytes::Bytes,
        content_type: &str,
    ) -> anyhow::Result<()> {
        let chunks = futures::stream::iter([Ok::<bytes::Bytes, std::convert::Infallible>(body)]);
        let staged = self
            .stage(chunks, Vec::new(), u64::MAX)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("failed to stage {key}"))?;
        let record = ObjectRecord::whole(&staged.digests, content_type, None);
        self.put_object(
            bucket.to_owned(),
            key.to_owned(),
            record,
            staged,
            WriteCondition::default(),
        )
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))
        .with_context(|| format!("failed to write {key}"))?;
        Ok(())
    }

    /// Deletes blobs that are no longer named, or leaves them to readers.
    fn release(&self, ids: impl IntoIterator<Item = String>) {
        self.inner.pins.release(&self.inner.dirs, ids);
    }
}

/// `NoSuchBucket` unless `name` is in the buckets table.
fn bucket_in(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<BucketRecord, StoreError> {
    let found = buckets
        .get(name)
        .map_err(db_err("failed to read a bucket"))?;
    match found {
        Some(value) => decode(value.value()),
        None => Err(StoreError::NoSuchBucket),
    }
}

/// Creates bucket `name` within `txn`; `BucketAlreadyOwned` if it exists.
fn insert_bucket(txn: &WriteTransaction, name: &str) -> Result<(), StoreError> {
    let mut buckets = txn
        .open_table(BUCKETS)
        .map_err(db_err("failed to open buckets"))?;
    if buckets
        .get(name)
        .map_err(db_err("failed to read a bucket"))?
        .is_some()
    {
        return Err(StoreError::BucketAlreadyOwned);
    }
    let record = encode(&BucketRecord {
        created_us: now_us(),
    })?;
    buckets
        .insert(name, record.as_slice())
        .map_err(db_err("failed to insert a bucket"))?;
    Ok(())
}

/// Stores `record` under `bucket`/`key` and answers the record it
/// replaced, whose blobs the caller releases once the write commits.
fn insert_object(
    objects: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    bucket: &str,
    key: &str,
    record: &ObjectRecord,
) -> Result<Option<ObjectRecord>, StoreError> {
    let bytes = encode(record)?;
    let replaced = objects
        .insert((bucket, key), bytes.as_slice())
        .map_err(db_err("failed to insert an object"))?;
    replaced.map(|value| decode(value.value())).transpose()
}

/// The object stored under `bucket`/`key`, if any.
fn object_in(
    objects: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectRecord>, StoreError> {
    let found = objects
        .get((bucket, key))
        .map_err(db_err("failed to read an object"))?;
    found.map(|value| decode(value.value())).transpose()
}

/// Where the store lives inside the data folder.
pub(crate) fn store_root(data_dir: &Path) -> PathBuf {
    data_dir.join("s3")
}
