//! Loading many objects into a store that no endpoint serves, for benchmark
//! and test fixtures: a million small objects take hours through the S3
//! API and minutes here.
//!
//! Each object gets the record an unconditional PutObject through the AWS
//! SDK leaves (size, ETag, CRC32 checksum, content type), so the endpoint
//! later serves it like any object it received. Two things differ, neither
//! visible through S3. An empty object names no blob file: it has no bytes
//! to keep, and reading zero bytes opens no file, so a million empty index
//! markers cost only their records. And blob files are not synced one by
//! one, so a power loss soon after a load can lose bytes of the objects it
//! wrote; a fixture is rebuilt, not recovered.

use anyhow::Context as _;
use bytes::Bytes;

use super::blobs::{new_blob_id, sync_dir};
use super::{
    OBJECTS, ObjectRecord, Segment, Store, StoreError, StoredChecksum, db_err, insert_bucket,
    insert_object,
};
use crate::storage::embedded::checksum::{Algorithm, BodyHasher};

/// Objects written per write transaction: enough that commits cost little,
/// few enough that a batch's bodies and records stay small in memory.
const BATCH: usize = 20_000;

/// The checksum the AWS SDK sends with a PutObject unless told otherwise,
/// and so the one the endpoint stores with the objects Coffer writes.
const SDK_CHECKSUM: Algorithm = Algorithm::Crc32;

/// One object to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureObject {
    pub key: String,
    pub body: Bytes,
    pub content_type: String,
}

impl Store {
    /// Writes `objects` into `bucket`, which is created when missing, many
    /// per write transaction; answers how many were written. An object
    /// replaces any earlier one under its key, as an unconditional
    /// PutObject does, later ones in the same load included. Blocking, and
    /// only for a store no endpoint is serving: readers are not pinned
    /// against.
    pub(crate) fn bulk_put(
        &self,
        bucket: &str,
        objects: impl IntoIterator<Item = FixtureObject>,
    ) -> Result<u64, StoreError> {
        // The bucket, unless an endpoint made it already.
        let txn = self.write_txn()?;
        match insert_bucket(&txn, bucket) {
            Ok(()) => txn.commit().map_err(db_err("failed to commit a bucket"))?,
            Err(StoreError::BucketAlreadyOwned) => txn
                .abort()
                .map_err(db_err("failed to end a bucket check"))?,
            Err(err) => return Err(err),
        }

        // One transaction per batch keeps memory flat however many come.
        let mut objects = objects.into_iter();
        let mut written = 0u64;
        loop {
            let batch: Vec<FixtureObject> = objects.by_ref().take(BATCH).collect();
            if batch.is_empty() {
                return Ok(written);
            }
            written += self.put_batch(bucket, batch)?;
        }
    }

    /// Writes one batch: its blobs, then its records in one transaction.
    fn put_batch(&self, bucket: &str, batch: Vec<FixtureObject>) -> Result<u64, StoreError> {
        // Bytes first, straight into `blobs/`: nothing serves the store, so
        // no reader can meet a file being written, and the blobs of a batch
        // that never commits are orphans the next open removes.
        let mut records = Vec::with_capacity(batch.len());
        for object in batch {
            if object.key.is_empty() || object.key.len() > 1024 {
                return Err(StoreError::InvalidArgument(format!(
                    "an object key is 1 to 1024 bytes, not {}",
                    object.key.len()
                )));
            }
            let record = self.write_blob(&object)?;
            records.push((object.key, record));
        }
        sync_dir(&self.inner.dirs.blobs)?;

        // Then every record at once; what they replace goes after the
        // commit, as in a single write.
        let txn = self.write_in_bucket(bucket)?;
        let mut replaced = Vec::new();
        {
            let mut table = txn
                .open_table(OBJECTS)
                .map_err(db_err("failed to open objects"))?;
            for (key, record) in &records {
                if let Some(old) = insert_object(&mut table, bucket, key, record)? {
                    replaced.extend(old.segments.into_iter().map(|segment| segment.blob));
                }
            }
        }
        txn.commit()
            .map_err(db_err("failed to commit a batch of objects"))?;
        self.release(replaced);
        Ok(records.len() as u64)
    }

    /// Stores an object's bytes in a new blob, unless it has none, and
    /// answers the record that names them.
    fn write_blob(&self, object: &FixtureObject) -> Result<ObjectRecord, StoreError> {
        // The same digests a PutObject computes while the body arrives.
        let mut hasher = BodyHasher::new([SDK_CHECKSUM]);
        hasher.update(&object.body);
        let digests = hasher.finish();
        let checksum = digests
            .checksums
            .get(SDK_CHECKSUM)
            .map(|value| StoredChecksum {
                algorithm: SDK_CHECKSUM,
                value: value.to_owned(),
                composite: false,
            });
        let mut record = ObjectRecord::whole(&digests, &object.content_type, checksum);
        if object.body.is_empty() {
            return Ok(record);
        }

        // A random name, as for every blob: keys never become paths.
        let blob = new_blob_id();
        let path = self.inner.dirs.blob_path(&blob);
        std::fs::write(&path, &object.body)
            .with_context(|| format!("failed to write {}", path.display()))?;
        record.segments = vec![Segment {
            blob,
            size: digests.size,
        }];
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser as _;
    use futures::TryStreamExt as _;

    use super::*;
    use crate::config::Settings;
    use crate::storage::embedded::listing::{Entry, PageRequest};
    use crate::storage::embedded::store::store_root;
    use crate::storage::embedded::{self, EmbeddedS3, EmbeddedS3Config};
    use crate::storage::{Endpoint, Storage};

    const BUCKET: &str = "fixtures";

    fn object(key: &str, body: &str, content_type: &str) -> FixtureObject {
        FixtureObject {
            key: key.to_owned(),
            body: Bytes::from(body.to_owned()),
            content_type: content_type.to_owned(),
        }
    }

    /// An object's whole body, read the way GetObject reads it.
    async fn read(store: &Store, key: &str) -> anyhow::Result<Vec<u8>> {
        let (record, pin) = store.open_object(BUCKET.into(), key.into()).await?;
        let chunks: Vec<Bytes> = store
            .reader(&record, 0..record.size, pin)
            .try_collect()
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(chunks.concat())
    }

    /// Every key of the bucket, in listing order.
    async fn keys(store: &Store) -> anyhow::Result<Vec<String>> {
        let request = PageRequest {
            prefix: String::new(),
            delimiter: None,
            max_keys: 1000,
            resume: None,
        };
        let page = store.list_objects(BUCKET.into(), request).await?;
        Ok(page
            .entries
            .into_iter()
            .filter_map(|entry| match entry {
                Entry::Object(key, _) => Some(key),
                Entry::CommonPrefix(_) => None,
            })
            .collect())
    }

    #[tokio::test]
    async fn loaded_objects_read_back_in_key_order_and_replace_earlier_ones() -> anyhow::Result<()>
    {
        // Arrange: three objects, one of them empty, then a second load
        // over one of their keys.
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path())?;
        let first = [
            object("k/2", "two", "text/plain"),
            object("k/1", "one", "text/plain"),
            object("k/3", "", "application/octet-stream"),
        ];
        assert_eq!(store.bulk_put(BUCKET, first)?, 3);

        // Act
        let again = [object("k/2", "second two", "text/plain")];
        assert_eq!(store.bulk_put(BUCKET, again)?, 1);

        // Assert: the newest bodies, listed in key order, and no blob left
        // behind by the replaced object or made for the empty one.
        assert_eq!(keys(&store).await?, ["k/1", "k/2", "k/3"]);
        assert_eq!(read(&store, "k/1").await?, b"one");
        assert_eq!(read(&store, "k/2").await?, b"second two");
        assert_eq!(read(&store, "k/3").await?, b"");
        assert_eq!(std::fs::read_dir(dir.path().join("blobs"))?.count(), 2);
        Ok(())
    }

    #[tokio::test]
    async fn a_loaded_object_has_the_record_a_put_through_the_sdk_leaves() -> anyhow::Result<()> {
        // Arrange: an endpoint on a fresh folder, and the client Coffer
        // uses, writing one object with and one without a body.
        let dir = tempfile::tempdir()?;
        let secret = "bulk-load-test-secret-key";
        let s3 = EmbeddedS3::start(EmbeddedS3Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().to_owned(),
            access_key_id: "bulkloadtest".into(),
            secret_access_key: secret.to_owned().into(),
            buckets: vec![BUCKET.into()],
            log_bucket: "fixture-logs".into(),
            access_log_flush: Duration::from_secs(3600),
            cors_origins: Vec::new(),
        })
        .await?;
        let settings = Settings::try_parse_from(["coffer-server", "--bucket", BUCKET])?;
        let endpoint = Endpoint::Static {
            url: s3.endpoint_url(),
            access_key_id: "bulkloadtest".into(),
            secret_access_key: secret.to_owned().into(),
        };
        let storage = Storage::connect(&settings, endpoint).await;
        let body = Bytes::from_static(b"{\"seq\":1}");
        storage
            .put("put/full", body.clone(), "application/json")
            .await?;
        storage
            .put("put/empty", Bytes::new(), "application/octet-stream")
            .await?;

        // A running endpoint keeps loads out of its folder.
        let refused = embedded::bulk_load(dir.path(), BUCKET, Vec::new());
        assert!(
            refused.is_err(),
            "a load must wait for the endpoint to stop"
        );
        s3.shutdown().await?;

        // Act
        let loaded = [
            object("load/full", "{\"seq\":1}", "application/json"),
            object("load/empty", "", "application/octet-stream"),
        ];
        embedded::bulk_load(dir.path(), BUCKET, loaded)?;

        // Assert: the same records but for their times and blob names.
        let store = Store::open(&store_root(dir.path()))?;
        for name in ["full", "empty"] {
            let put = store.object(BUCKET.into(), format!("put/{name}")).await?;
            let load = store.object(BUCKET.into(), format!("load/{name}")).await?;
            let (Some(put), Some(load)) = (put, load) else {
                panic!("both {name} objects must exist");
            };
            assert_eq!(
                (&load.etag, load.size, &load.meta, &load.checksum),
                (&put.etag, put.size, &put.meta, &put.checksum),
                "{name}"
            );
            assert_eq!(load.parts_count, put.parts_count);
        }
        assert_eq!(read(&store, "load/full").await?, body);
        Ok(())
    }
}
