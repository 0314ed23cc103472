//! Indexes over the portal trail, so that the dashboard pages through a
//! filtered view, or jumps to a time, without listing the whole trail.
//!
//! Each record gets empty marker objects under `audit/index/`, one per
//! index it belongs to:
//! - `all/<stamp>`: every record;
//! - `actor/<actor>/<stamp>`, `action/<action>/<stamp>`: every record;
//! - `model/<model>/<stamp>`: records that name a model;
//! - `outcome/<outcome>/<stamp>`: failures and denials (successes are most
//!   records: they are found through `all` and checked one by one);
//! - `request/<request id>/<stamp>`: downloads and share uses, whose
//!   request id S3's access log repeats in `x-coffer-request`.
//!
//! `<stamp>` is `<20 digits u64::MAX − time in ms>-<20 digits u64::MAX −
//! seq>`. Time never runs backwards along the chain, so ascending key order
//! is newest first in every index, a listing that starts after the stamp
//! of a time begins at that time, and the seq is read off the key.
//!
//! Markers are written after their record: the facets first, `all` last,
//! so a record listed in `all` is in every index it belongs to. A crash in
//! between leaves a record without markers; [`sweep`] finds such records
//! by comparing the trail with `all` below a watermark, and indexes them.

use std::collections::BTreeSet;

use anyhow::Context as _;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Action, AuditRecord, Outcome, TrailObject};
use crate::storage::Storage;
use crate::storage::records::{self, Change, UpdateError};

/// Where the indexes live in the artifact bucket.
pub const PREFIX: &str = "audit/index/";

/// The watermark: every record up to its seq is indexed.
const WATERMARK_KEY: &str = "audit/index/watermark.json";

/// The content type of a marker object.
const MARKER_CONTENT_TYPE: &str = "application/octet-stream";

/// Records younger than this may still be getting their markers from the
/// instance that wrote them; a sweep leaves them to a later sweep.
const SETTLE_MS: i128 = 60_000;

/// Characters an actor keeps in a key; everything else is percent-encoded,
/// so an actor can never add a folder level.
const KEY_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b':');

/// An index of the trail: the folder its markers live in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Index {
    All,
    Actor(String),
    Action(Action),
    Model(String),
    /// Only failures and denials have markers.
    Outcome(Outcome),
    Request(String),
}

impl Index {
    /// The folder of this index's markers, ending in `/`.
    pub fn prefix(&self) -> String {
        match self {
            Index::All => format!("{PREFIX}all/"),
            Index::Actor(actor) => format!("{PREFIX}actor/{}/", encode(actor)),
            Index::Action(action) => format!("{PREFIX}action/{}/", action.as_str()),
            Index::Model(model) => format!("{PREFIX}model/{}/", encode(model)),
            Index::Outcome(outcome) => format!("{PREFIX}outcome/{}/", outcome.as_str()),
            Index::Request(id) => format!("{PREFIX}request/{}/", encode(id)),
        }
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, KEY_SAFE).to_string()
}

/// Milliseconds since the epoch, as stamps count them.
pub fn millis(time: OffsetDateTime) -> u64 {
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// The stamp of a record.
pub fn stamp(time: OffsetDateTime, seq: u64) -> String {
    format!("{:020}-{:020}", u64::MAX - millis(time), u64::MAX - seq)
}

/// The part of a stamp that every record at or before `time` sorts after:
/// a listing that starts after it begins with the newest record no later
/// than `time`.
pub fn time_floor(time: OffsetDateTime) -> String {
    format!("{:020}", u64::MAX - millis(time))
}

/// The time (ms) and seq a marker key names, if it is a marker key.
pub fn parse_marker(key: &str) -> Option<(u64, u64)> {
    let stamp = key.rsplit('/').next()?;
    let (time, seq) = stamp.split_once('-')?;
    if time.len() != 20 || seq.len() != 20 {
        return None;
    }
    let time: u64 = time.parse().ok()?;
    let seq: u64 = seq.parse().ok()?;
    Some((u64::MAX - time, u64::MAX - seq))
}

/// The indexes a record belongs to, `All` last.
pub fn indexes_of(record: &AuditRecord) -> Vec<Index> {
    let event = &record.event;
    let mut indexes = vec![
        Index::Actor(event.actor.clone()),
        Index::Action(event.action),
    ];
    if let Some(model) = &event.model {
        indexes.push(Index::Model(model.clone()));
    }
    if event.outcome != Outcome::Success {
        indexes.push(Index::Outcome(event.outcome));
    }
    if matches!(event.action, Action::Download | Action::ShareUsed) && !event.request_id.is_empty()
    {
        indexes.push(Index::Request(event.request_id.clone()));
    }
    indexes.push(Index::All);
    indexes
}

/// A record's markers: one empty object per index it belongs to, `all`
/// last.
pub fn marker_objects(record: &AuditRecord) -> Vec<TrailObject> {
    let stamp = stamp(record.time, record.seq);
    indexes_of(record)
        .iter()
        .map(|index| TrailObject {
            key: format!("{}{stamp}", index.prefix()),
            body: Bytes::new(),
            content_type: MARKER_CONTENT_TYPE,
        })
        .collect()
}

/// Writes a record's markers: the facets at once, then `all`, so that a
/// record in `all` is in every index it belongs to.
pub async fn write(storage: &Storage, record: &AuditRecord) -> anyhow::Result<()> {
    let mut markers = marker_objects(record);
    let all = markers.pop().context("every record is in `all`")?;

    // Facets first; rewriting a marker changes nothing.
    let facets = markers
        .iter()
        .map(|marker| storage.put(&marker.key, marker.body.clone(), marker.content_type));
    futures::future::try_join_all(facets).await?;
    storage.put(&all.key, all.body, all.content_type).await
}

/// How far the indexes are known to be complete.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct Watermark {
    seq: u64,
}

/// The watermark object saying every record up to `seq` is indexed, as a
/// sweep stores it. With it in place, a sweep lists only newer records; a
/// loaded trail needs it, or the first sweep lists the whole trail.
pub fn watermark_object(seq: u64) -> anyhow::Result<TrailObject> {
    let body = serde_json::to_vec(&Watermark { seq }).context("failed to encode a watermark")?;
    Ok(TrailObject {
        key: WATERMARK_KEY.to_owned(),
        body: Bytes::from(body),
        content_type: "application/json",
    })
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Records that had no markers and were indexed now.
    pub repaired: u64,
    /// Every record up to this one is indexed.
    pub watermark: u64,
}

/// Indexes every settled record above the watermark that `all` lacks,
/// then raises the watermark. Costs two key listings of the records since
/// the last sweep, and one read per record it repairs.
pub async fn sweep(
    storage: &Storage,
    trail: &super::AuditTrail,
    now: OffsetDateTime,
) -> anyhow::Result<Sweep> {
    let mark: Watermark = match storage.get(WATERMARK_KEY).await? {
        Some(object) => serde_json::from_slice(&object.body).context("bad index watermark")?,
        None => Watermark::default(),
    };

    // Trail keys above the watermark, newest first: seq is in the key.
    let mut trail_seqs = Vec::new();
    let mut after: Option<String> = None;
    'listing: loop {
        let keys = storage
            .list_keys(super::PREFIX, after.as_deref(), 1000)
            .await?;
        let Some(last) = keys.last().cloned() else {
            break;
        };
        for key in &keys {
            match super::seq_from_key(key) {
                Some(seq) if seq <= mark.seq => break 'listing,
                Some(seq) => trail_seqs.push(seq),
                None => {}
            }
        }
        after = Some(last);
    }

    // What `all` holds of them.
    let indexed = indexed_above(storage, mark.seq).await?;

    // Index what is missing; the newest records may still be getting their
    // markers, and the watermark stops below the first of them.
    let settled_before = now.unix_timestamp_nanos() / 1_000_000 - SETTLE_MS;
    let mut sweep = Sweep {
        repaired: 0,
        watermark: mark.seq,
    };
    let mut unsettled = None;
    for &seq in trail_seqs.iter().rev() {
        if indexed.contains(&seq) {
            continue;
        }
        let record = trail
            .record_at(seq)
            .await?
            .with_context(|| format!("audit record {seq} vanished during a sweep"))?;
        if record.time.unix_timestamp_nanos() / 1_000_000 > settled_before {
            unsettled.get_or_insert(seq);
            continue;
        }
        write(storage, &record).await?;
        sweep.repaired += 1;
    }
    let highest = trail_seqs.first().copied().unwrap_or(mark.seq);
    sweep.watermark = unsettled.map_or(highest, |seq| seq - 1).max(mark.seq);

    // Raise the watermark unless another sweep raised it further.
    let target = sweep.watermark;
    let raised = records::update(storage, WATERMARK_KEY, |current: Option<Watermark>| {
        let current = current.unwrap_or_default();
        if current.seq >= target {
            return Ok::<_, std::convert::Infallible>(Change::Keep(current.seq));
        }
        Ok(Change::Write(Watermark { seq: target }, target))
    })
    .await
    .map_err(|error| match error {
        UpdateError::Storage(error) => error,
        UpdateError::Refused(never) => match never {},
    })?;
    sweep.watermark = raised;
    Ok(sweep)
}

/// The seqs `all` lists above `floor`.
async fn indexed_above(storage: &Storage, floor: u64) -> anyhow::Result<BTreeSet<u64>> {
    let prefix = Index::All.prefix();
    let mut seqs = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let keys = storage.list_keys(&prefix, after.as_deref(), 1000).await?;
        let Some(last) = keys.last().cloned() else {
            return Ok(seqs);
        };
        for key in &keys {
            match parse_marker(key) {
                Some((_, seq)) if seq <= floor => return Ok(seqs),
                Some((_, seq)) => {
                    seqs.insert(seq);
                }
                None => {}
            }
        }
        after = Some(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, GENESIS_HASH};
    use time::macros::datetime;

    fn record(seq: u64, event: AuditEvent) -> AuditRecord {
        AuditRecord::seal(seq, datetime!(2026-12-01 10:00 UTC), event, GENESIS_HASH)
    }

    #[test]
    fn stamps_list_newest_first_and_name_their_record() {
        let early = stamp(datetime!(2026-12-01 10:00 UTC), 7);
        let late = stamp(datetime!(2026-12-01 10:00:00.001 UTC), 8);
        let same_time_later = stamp(datetime!(2026-12-01 10:00 UTC), 9);
        assert!(late < early);
        assert!(same_time_later < early);
        assert_eq!(
            parse_marker(&format!("audit/index/all/{early}")),
            Some((millis(datetime!(2026-12-01 10:00 UTC)), 7))
        );
        assert_eq!(parse_marker("audit/index/all/garbage"), None);
    }

    #[test]
    fn a_time_floor_sorts_before_every_record_at_that_time_and_after_later_ones() {
        let at = datetime!(2026-12-01 10:00 UTC);
        let floor = time_floor(at);
        assert!(floor < stamp(at, 3));
        assert!(floor > stamp(datetime!(2026-12-01 10:00:00.001 UTC), 4));
        assert!(floor < stamp(datetime!(2026-12-01 09:59 UTC), 2));
    }

    #[test]
    fn a_record_is_in_the_indexes_its_fields_name_with_all_last() {
        let denied = AuditEvent::new("bob", Action::Download, Outcome::Denied, "req-9")
            .with_version("fraud", 2);
        let indexes = indexes_of(&record(3, denied));
        assert_eq!(
            indexes,
            vec![
                Index::Actor("bob".into()),
                Index::Action(Action::Download),
                Index::Model("fraud".into()),
                Index::Outcome(Outcome::Denied),
                Index::Request("req-9".into()),
                Index::All,
            ]
        );

        // A plain success names neither an outcome nor a request.
        let signed_in = AuditEvent::new("alice", Action::SignIn, Outcome::Success, "req-1");
        assert_eq!(indexes_of(&record(1, signed_in)).len(), 3);
    }

    #[test]
    fn actors_cannot_add_folders_to_a_key() {
        let prefix = Index::Actor("a/../b c".into()).prefix();
        assert_eq!(prefix, "audit/index/actor/a%2F..%2Fb%20c/");
        assert_eq!(
            Index::Actor("share:123-ab".into()).prefix(),
            "audit/index/actor/share:123-ab/"
        );
    }
}
