//! Coffer's own audit trail: a hash chain of records kept as objects in the
//! artifact bucket.
//!
//! Record `n` lives at `audit/portal/<20-digit u64::MAX - n>.json`, so the
//! bucket's ascending key order is newest-first: the head of the trail is
//! the first key of a one-key listing, and the dashboard pages newest-first
//! with `start-after` without ever listing the whole trail. A record is
//! written with `If-None-Match: *`, so two instances racing for the same
//! number cannot both win: the loser re-reads the head and tries the next
//! number. Each record carries the hash of its predecessor, so a verifier
//! walking the chain finds any record that was altered, removed or moved.
//!
//! Removing the newest records leaves a shorter chain that still verifies;
//! the verify report names the head (number and hash) so an auditor can
//! compare it with one noted earlier, and in AWS the bucket's Object Lock
//! keeps records from being deleted at all.

pub mod index;
pub mod query;
pub mod record;

use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use tokio::sync::Mutex;
use tracing::instrument;

use crate::clock::Clock;
use crate::storage::{CreateOutcome, Storage};
pub use coffer_app::audit::api::{BadRecord, VerifyReport};
pub use record::{Action, AuditEvent, AuditFile, AuditRecord, GENESIS_HASH, Outcome};

/// Where the portal trail's records live in the artifact bucket.
pub const PREFIX: &str = "audit/portal/";

/// How many times an append retries after losing a race for a number.
const MAX_APPEND_ATTEMPTS: u32 = 64;

/// How many records verification reads at once.
const VERIFY_CONCURRENCY: usize = 16;

/// The last record this instance knows of.
#[derive(Clone, Debug)]
struct Head {
    seq: u64,
    hash: String,
    time: time::OffsetDateTime,
}

/// Appends to and reads the portal audit trail.
#[derive(Clone, Debug)]
pub struct AuditTrail {
    storage: Storage,
    clock: Arc<dyn Clock>,
    // Serializes this instance's appends and caches the head, so the common
    // case costs one PUT; other instances are handled by the conditional
    // write.
    head: Arc<Mutex<Option<Head>>>,
}

/// The object key of record `seq`.
pub fn key_for(seq: u64) -> String {
    format!("{PREFIX}{:020}.json", u64::MAX - seq)
}

/// One object the trail writes to the artifact bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailObject {
    pub key: String,
    pub body: Bytes,
    pub content_type: &'static str,
}

/// A sealed record as the object [`AuditTrail::record`] stores.
pub fn record_object(record: &AuditRecord) -> anyhow::Result<TrailObject> {
    let body = serde_json::to_vec(record).context("failed to encode record")?;
    Ok(TrailObject {
        key: key_for(record.seq),
        body: Bytes::from(body),
        content_type: "application/json",
    })
}

/// Every object the trail writes for a sealed record, in the order it
/// writes them: the record, then its index markers with `all` last. Loading
/// these into a bucket, plus [`index::watermark_object`], gives the same
/// trail as recording the events one by one.
pub fn objects_of(record: &AuditRecord) -> anyhow::Result<Vec<TrailObject>> {
    let mut objects = vec![record_object(record)?];
    objects.extend(index::marker_objects(record));
    Ok(objects)
}

/// The record number a key names, if it is a trail key.
pub(crate) fn seq_from_key(key: &str) -> Option<u64> {
    let digits = key.strip_prefix(PREFIX)?.strip_suffix(".json")?;
    let inverted: u64 = digits.parse().ok()?;
    Some(u64::MAX - inverted)
}

impl AuditTrail {
    /// A trail over the given storage.
    pub fn new(storage: Storage, clock: Arc<dyn Clock>) -> AuditTrail {
        AuditTrail {
            storage,
            clock,
            head: Arc::new(Mutex::new(None)),
        }
    }

    /// Records an event durably; returns only once the record is stored, so
    /// callers may then allow the action it records.
    #[instrument(skip_all, fields(audit.action = ?event.action, audit.outcome = ?event.outcome))]
    pub async fn record(&self, event: AuditEvent) -> anyhow::Result<AuditRecord> {
        let mut cached = self.head.lock().await;
        for _ in 0..MAX_APPEND_ATTEMPTS {
            // Start from the cached head, or read it after a lost race.
            let head = match cached.take() {
                Some(head) => Some(head),
                None => self.read_head().await?,
            };

            // Time never runs backwards along the chain, even across
            // instances whose clocks disagree slightly.
            let (seq, prev_hash, prev_time) = match &head {
                Some(head) => (head.seq + 1, head.hash.as_str(), Some(head.time)),
                None => (1, GENESIS_HASH, None),
            };
            let now = self.clock.now();
            let time = prev_time.map_or(now, |prev| prev.max(now));
            let record = AuditRecord::seal(seq, time, event.clone(), prev_hash);

            // The conditional write decides who owns this number.
            let object = record_object(&record)?;
            match self
                .storage
                .create(&object.key, object.body, object.content_type)
                .await?
            {
                CreateOutcome::Created => {
                    *cached = Some(Head {
                        seq,
                        hash: record.hash.clone(),
                        time,
                    });
                    drop(cached);
                    self.index(&record).await;
                    return Ok(record);
                }
                CreateOutcome::AlreadyExists => {
                    tracing::debug!(
                        audit.seq = seq,
                        "another writer took this number; re-reading the head"
                    );
                }
            }
        }
        bail!("could not append to the audit trail after {MAX_APPEND_ATTEMPTS} attempts")
    }

    /// Writes a stored record's index markers. The record is what counts:
    /// a failure here is logged, and the next sweep indexes the record.
    async fn index(&self, record: &AuditRecord) {
        if let Err(error) = index::write(&self.storage, record).await {
            tracing::warn!(audit.seq = record.seq, error = %format!("{error:#}"), "could not index an audit record; the next sweep will");
        }
    }

    /// Indexes records whose writer stopped before their markers were
    /// written (see [`index::sweep`]).
    pub async fn sweep_index(&self) -> anyhow::Result<index::Sweep> {
        index::sweep(&self.storage, self, self.clock.now()).await
    }

    /// The record numbered `seq`, if it is stored.
    pub async fn record_at(&self, seq: u64) -> anyhow::Result<Option<AuditRecord>> {
        self.read(&key_for(seq)).await
    }

    /// The storage the trail is kept in.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Reads the newest record's number and hash.
    async fn read_head(&self) -> anyhow::Result<Option<Head>> {
        let keys = self.storage.list_keys(PREFIX, None, 1).await?;
        let Some(key) = keys.first() else {
            return Ok(None);
        };
        let record = self
            .read(key)
            .await?
            .with_context(|| format!("audit head {key} vanished while being read"))?;
        Ok(Some(Head {
            seq: record.seq,
            hash: record.hash,
            time: record.time,
        }))
    }

    /// Reads and parses one record.
    async fn read(&self, key: &str) -> anyhow::Result<Option<AuditRecord>> {
        let Some(object) = self.storage.get(key).await? else {
            return Ok(None);
        };
        let record = serde_json::from_slice(&object.body)
            .with_context(|| format!("audit record {key} is not valid JSON"))?;
        Ok(Some(record))
    }

    /// Up to `limit` records, newest first, after the record at `after_key`.
    pub async fn page(
        &self,
        after_key: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<AuditRecord>> {
        let keys = self
            .storage
            .list_keys(PREFIX, after_key, i32::try_from(limit).unwrap_or(1000))
            .await?;
        let records: Vec<Option<AuditRecord>> = stream::iter(keys)
            .map(|key| async move { self.read(&key).await })
            .buffered(VERIFY_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(records.into_iter().flatten().collect())
    }

    /// Walks the whole chain and reports the earliest record that is
    /// missing, altered or out of place.
    #[instrument(skip_all)]
    pub async fn verify(&self) -> anyhow::Result<VerifyReport> {
        let mut walk = ChainWalk::default();
        let mut start_after: Option<String> = None;

        // Listing runs newest to oldest; each page's records are read
        // concurrently but checked in order.
        loop {
            let keys = self
                .storage
                .list_keys(PREFIX, start_after.as_deref(), 1000)
                .await?;
            let Some(last) = keys.last().cloned() else {
                break;
            };
            let fetched: Vec<(String, anyhow::Result<Option<AuditRecord>>)> = stream::iter(keys)
                .map(|key| async move {
                    let record = self.read(&key).await;
                    (key, record)
                })
                .buffered(VERIFY_CONCURRENCY)
                .collect()
                .await;
            for (key, record) in fetched {
                walk.visit(&key, record);
            }
            start_after = Some(last);
        }

        Ok(walk.finish())
    }
}

/// Verification state while walking the chain from newest to oldest.
#[derive(Default)]
struct ChainWalk {
    checked: u64,
    head: Option<(u64, String)>,
    // The record seen just before (one number higher), whose `prev_hash`
    // the current record's hash must equal.
    newer: Option<(u64, String)>,
    // The walk goes backwards, so the last bad record found is the earliest.
    earliest_bad: Option<BadRecord>,
}

impl ChainWalk {
    /// Checks one record against itself and its newer neighbour.
    fn visit(&mut self, key: &str, fetched: anyhow::Result<Option<AuditRecord>>) {
        self.checked += 1;
        let key_seq = seq_from_key(key);

        // A record that cannot be read or parsed is bad in itself.
        let record = match (fetched, key_seq) {
            (Ok(Some(record)), Some(_)) => record,
            (Ok(Some(record)), None) => {
                return self.mark(record.seq, key, "object key is not a trail key".into());
            }
            (Ok(None), seq) => {
                return self.mark(
                    seq.unwrap_or(0),
                    key,
                    "record vanished while being read".into(),
                );
            }
            (Err(error), seq) => return self.mark(seq.unwrap_or(0), key, format!("{error:#}")),
        };
        let key_seq = key_seq.unwrap_or(record.seq);
        if self.head.is_none() {
            self.head = Some((record.seq, record.hash.clone()));
        }

        // Records missing between this one and the newer one.
        if let Some((newer_seq, _)) = self.newer.clone()
            && key_seq + 1 < newer_seq
        {
            let reason = format!("records {} to {} are missing", key_seq + 1, newer_seq - 1);
            self.mark(key_seq + 1, &key_for(key_seq + 1), reason);
        }

        // The record's content must match its place and its own hash, and
        // the newer record must point at it.
        let newer = self.newer.replace((key_seq, record.prev_hash.clone()));
        if record.seq != key_seq {
            let reason = format!("stored as number {key_seq} but says it is {}", record.seq);
            self.mark(key_seq, key, reason);
        } else if !record.hash_is_valid() {
            self.mark(
                key_seq,
                key,
                "record content does not match its hash".into(),
            );
        } else if let Some((newer_seq, newer_prev)) = newer
            && newer_seq == key_seq + 1
            && newer_prev != record.hash
        {
            let reason = "record does not carry its predecessor's hash".into();
            self.mark(newer_seq, &key_for(newer_seq), reason);
        }
    }

    /// Notes a bad record, keeping the earliest one found.
    fn mark(&mut self, seq: u64, key: &str, reason: String) {
        if self.earliest_bad.as_ref().is_none_or(|bad| seq <= bad.seq) {
            self.earliest_bad = Some(BadRecord {
                seq,
                key: key.to_owned(),
                reason,
            });
        }
    }

    /// The verdict once every record was visited.
    fn finish(mut self) -> VerifyReport {
        // The oldest record must be number 1 and point at the genesis hash.
        if let Some((oldest_seq, oldest_prev)) = self.newer.clone() {
            if oldest_seq > 1 {
                let reason = format!("records 1 to {} are missing", oldest_seq - 1);
                self.mark(1, &key_for(1), reason);
            } else if oldest_prev != GENESIS_HASH {
                self.mark(
                    1,
                    &key_for(1),
                    "the first record does not start the chain".into(),
                );
            }
        }

        let (head_seq, head_hash) = self.head.unwrap_or((0, GENESIS_HASH.to_owned()));
        VerifyReport {
            intact: self.earliest_bad.is_none(),
            checked: self.checked,
            first_bad: self.earliest_bad,
            head_seq,
            head_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn chain(length: u64) -> Vec<AuditRecord> {
        let mut records = Vec::new();
        let mut prev = GENESIS_HASH.to_owned();
        for seq in 1..=length {
            let event = AuditEvent::new("alice", Action::SignIn, Outcome::Success, "req");
            let record = AuditRecord::seal(seq, OffsetDateTime::UNIX_EPOCH, event, &prev);
            prev = record.hash.clone();
            records.push(record);
        }
        records
    }

    /// Walks records newest first, as the bucket lists them.
    fn walk(records: &[AuditRecord]) -> VerifyReport {
        let mut walk = ChainWalk::default();
        let mut ordered: Vec<_> = records
            .iter()
            .map(|r| (key_for(r.seq), r.clone()))
            .collect();
        ordered.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, record) in ordered {
            walk.visit(&key, Ok(Some(record)));
        }
        walk.finish()
    }

    #[test]
    fn keys_list_newest_first_and_round_trip() {
        assert!(key_for(2) < key_for(1));
        assert!(key_for(1_000_000) < key_for(999_999));
        assert_eq!(seq_from_key(&key_for(42)), Some(42));
        assert_eq!(seq_from_key("audit/portal/x.json"), None);
    }

    #[test]
    fn a_record_is_stored_as_its_object_then_its_markers_with_all_last() {
        let record = chain(1).remove(0);
        let objects = objects_of(&record).expect("a record encodes");

        // The record itself comes first, under its number.
        assert_eq!(objects[0].key, key_for(1));
        let stored: AuditRecord = serde_json::from_slice(&objects[0].body).expect("JSON");
        assert_eq!(stored, record);

        // Then one empty marker per index, `all` last.
        let markers = &objects[1..];
        assert_eq!(markers.len(), index::indexes_of(&record).len());
        assert!(markers.iter().all(|marker| marker.body.is_empty()));
        let last = markers.last().expect("markers");
        assert!(last.key.starts_with(&index::Index::All.prefix()));
    }

    #[test]
    fn an_untouched_chain_is_intact() {
        let report = walk(&chain(5));
        assert!(report.intact, "{report:?}");
        assert_eq!(report.checked, 5);
        assert_eq!(report.head_seq, 5);
    }

    #[test]
    fn an_altered_record_is_named() {
        let mut records = chain(5);
        records[2].event.actor = "mallory".into();
        let bad = walk(&records).first_bad.expect("must find it");
        assert_eq!(bad.seq, 3);
        assert!(bad.reason.contains("hash"), "{}", bad.reason);
    }

    #[test]
    fn an_altered_and_rehashed_record_breaks_the_link_after_it() {
        let mut records = chain(5);
        let forged = AuditRecord::seal(
            3,
            records[2].time,
            AuditEvent::new("mallory", Action::SignIn, Outcome::Success, "req"),
            &records[1].hash,
        );
        records[2] = forged;
        let bad = walk(&records).first_bad.expect("must find it");
        assert_eq!(bad.seq, 4);
    }

    #[test]
    fn a_removed_record_is_named() {
        let mut records = chain(5);
        records.remove(1);
        let bad = walk(&records).first_bad.expect("must find it");
        assert_eq!(bad.seq, 2);
        assert!(bad.reason.contains("missing"), "{}", bad.reason);
    }

    #[test]
    fn removing_the_first_record_is_found() {
        let mut records = chain(3);
        records.remove(0);
        assert_eq!(walk(&records).first_bad.expect("must find it").seq, 1);
    }

    #[test]
    fn swapped_records_are_found() {
        let mut records = chain(5);
        let (a, b) = (records[1].clone(), records[2].clone());
        records[1] = AuditRecord { seq: 2, ..b };
        records[2] = AuditRecord { seq: 3, ..a };
        let bad = walk(&records).first_bad.expect("must find it");
        assert_eq!(bad.seq, 2);
    }
}
