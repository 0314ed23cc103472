//! Reading the portal trail a page at a time, newest first, through its
//! indexes (see [`super::index`]).
//!
//! A query lists one index: the one for its model, else its actor, else
//! its action, else its outcome (failures and denials), else `all`. Other
//! filters are checked on the records read. The time range bounds the
//! listing itself: it starts after the stamp of `to` and stops at the first
//! marker older than `from`. The cursor is the last marker read, so a page
//! costs the same at the millionth record as at the first, and records
//! written while a reader pages sit before its cursor: every record is
//! listed once.
//!
//! When filters combine, a page reads at most [`SCAN_BUDGET`] markers; it
//! may then hold fewer records than asked for, with a cursor to go on.

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _, stream};
use time::OffsetDateTime;

use super::index::{self, Index};
use super::{Action, AuditRecord, AuditTrail, Outcome, key_for};

/// Markers one page reads at most when it must check filters one record
/// at a time.
pub const SCAN_BUDGET: usize = 2000;

/// Records read from the bucket at once.
const READ_CONCURRENCY: usize = 16;

/// Which records a page holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub actor: Option<String>,
    pub action: Option<Action>,
    pub model: Option<String>,
    pub outcome: Option<Outcome>,
}

impl Filters {
    /// The index a listing walks, and whether records must still be
    /// checked against the other filters.
    fn plan(&self) -> (Index, bool) {
        let facets = [
            self.model.is_some(),
            self.actor.is_some(),
            self.action.is_some(),
            self.outcome.is_some(),
        ];
        let others = facets.iter().filter(|set| **set).count() > 1;
        let index = if let Some(model) = &self.model {
            Index::Model(model.clone())
        } else if let Some(actor) = &self.actor {
            Index::Actor(actor.clone())
        } else if let Some(action) = self.action {
            Index::Action(action)
        } else {
            match self.outcome {
                Some(outcome @ (Outcome::Failure | Outcome::Denied)) => Index::Outcome(outcome),
                Some(Outcome::Success) => return (Index::All, true),
                None => Index::All,
            }
        };
        (index, others)
    }

    /// Whether a record passes every filter.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let event = &record.event;
        self.from.is_none_or(|from| record.time >= from)
            && self.to.is_none_or(|to| record.time <= to)
            && self
                .actor
                .as_ref()
                .is_none_or(|actor| &event.actor == actor)
            && self.action.is_none_or(|action| event.action == action)
            && self
                .model
                .as_ref()
                .is_none_or(|model| event.model.as_ref() == Some(model))
            && self.outcome.is_none_or(|outcome| event.outcome == outcome)
    }
}

/// One page of records, newest first.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Each record with the cursor that continues after it.
    pub records: Vec<(AuditRecord, String)>,
    /// Where the next page starts; `None` once the listing is over.
    pub next_cursor: Option<String>,
    /// The time of the last marker read: every matching record newer than
    /// this that follows the cursor it started from is on this page.
    pub scanned_to: Option<OffsetDateTime>,
}

/// Why a cursor was refused.
#[derive(Debug, thiserror::Error)]
#[error("the cursor does not belong to this listing; start again from the first page")]
pub struct ForeignCursor;

impl AuditTrail {
    /// Up to `limit` records matching `filters`, newest first, after
    /// `cursor` (a marker key from an earlier page of the same filters).
    pub async fn query(
        &self,
        filters: &Filters,
        cursor: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Result<Page, ForeignCursor>> {
        let (index, check) = filters.plan();
        let prefix = index.prefix();

        // Start after the cursor, or at the newest record no later than `to`.
        let mut after = match cursor {
            Some(cursor)
                if cursor.starts_with(&prefix) && index::parse_marker(cursor).is_some() =>
            {
                cursor.to_owned()
            }
            Some(_) => return Ok(Err(ForeignCursor)),
            None => match filters.to {
                Some(to) => format!("{prefix}{}", index::time_floor(to)),
                None => prefix.clone(),
            },
        };
        let floor_ms = filters.from.map(index::millis);

        // Read markers until the page is full, the listing ends, the range
        // is left or the budget is spent.
        let mut page = Page::default();
        let mut scanned = 0usize;
        let mut over = false;
        while page.records.len() < limit && !over && scanned < SCAN_BUDGET {
            let wanted = if check {
                200
            } else {
                limit - page.records.len()
            };
            let asked = i32::try_from(wanted.min(1000)).unwrap_or(1000);
            let keys = self
                .storage()
                .list_keys(&prefix, Some(&after), asked)
                .await?;
            over = keys.len() < wanted.min(1000);

            // Markers inside the time range, in order.
            let mut batch = Vec::with_capacity(keys.len());
            for key in keys {
                let Some((ms, seq)) = index::parse_marker(&key) else {
                    continue;
                };
                if floor_ms.is_some_and(|floor| ms < floor) {
                    over = true;
                    break;
                }
                batch.push((seq, key));
            }
            let Some((_, last)) = batch.last() else {
                break;
            };
            after = last.clone();
            scanned += batch.len();

            // Read the records, keep those that pass; a full page ends at
            // the record that filled it.
            let records: Vec<(Option<AuditRecord>, String)> = stream::iter(batch)
                .map(|(seq, key)| async move {
                    let record = self.record_at(seq).await?;
                    anyhow::Ok((record, key))
                })
                .buffered(READ_CONCURRENCY)
                .try_collect()
                .await
                .context("failed to read audit records for a page")?;
            for (record, key) in records {
                if let Some(record) = &record {
                    page.scanned_to = Some(record.time);
                }
                let Some(record) = record.filter(|record| filters.matches(record)) else {
                    continue;
                };
                page.records.push((record, key.clone()));
                if page.records.len() == limit {
                    after = key;
                    break;
                }
            }
        }

        // A full page, or one cut short by the budget, goes on from the
        // last marker it consumed.
        let full = page.records.len() == limit;
        page.next_cursor = (full || !over).then_some(after);
        Ok(Ok(page))
    }

    /// The records of one request that minted presigned URLs (downloads
    /// and share uses), oldest first.
    pub async fn records_of_request(&self, request_id: &str) -> anyhow::Result<Vec<AuditRecord>> {
        let prefix = Index::Request(request_id.to_owned()).prefix();
        let keys = self.storage().list_keys(&prefix, None, 100).await?;
        let mut records = Vec::new();
        for key in keys.iter().rev() {
            if let Some((_, seq)) = index::parse_marker(key)
                && let Some(record) = self.record_at(seq).await?
            {
                records.push(record);
            }
        }
        Ok(records)
    }

    /// How many records are no later than `time`: time runs with the
    /// record numbers, so that is the number of the newest such record,
    /// found with a one-key listing.
    pub async fn seq_at(&self, time: OffsetDateTime) -> anyhow::Result<u64> {
        let prefix = Index::All.prefix();
        let after = format!("{prefix}{}", index::time_floor(time));
        let keys = self.storage().list_keys(&prefix, Some(&after), 1).await?;
        Ok(keys
            .first()
            .and_then(|key| index::parse_marker(key))
            .map_or(0, |(_, seq)| seq))
    }

    /// The first record, which starts the trail's coverage.
    pub async fn first_record(&self) -> anyhow::Result<Option<AuditRecord>> {
        self.read(&key_for(1)).await
    }
}
