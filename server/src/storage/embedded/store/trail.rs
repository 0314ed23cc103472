//! The management events the endpoint answers `LookupEvents` with, kept in
//! the index next to the objects: newest first by key, so a lookup is one
//! range scan from the end of its time range.

use redb::TableDefinition;

use super::{Store, StoreError, db_err};

/// `(u64::MAX − time in µs, event id)` to the event's CloudTrail JSON.
pub(super) const TRAIL_EVENTS: TableDefinition<(u64, &str), &[u8]> =
    TableDefinition::new("trail_events");

/// A stored event: its time in µs since the epoch, its id and its JSON.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub(crate) time_us: i64,
    pub(crate) id: String,
    pub(crate) json: Vec<u8>,
}

fn sort_key(time_us: i64) -> u64 {
    u64::MAX - u64::try_from(time_us).unwrap_or(0)
}

impl Store {
    /// Keeps management events for later lookups, in one transaction.
    pub(crate) async fn add_trail_events(
        &self,
        events: Vec<StoredEvent>,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.blocking(move |store| {
            let txn = store.write_txn()?;
            {
                let mut table = txn
                    .open_table(TRAIL_EVENTS)
                    .map_err(db_err("failed to open trail events"))?;
                for event in &events {
                    table
                        .insert(
                            (sort_key(event.time_us), event.id.as_str()),
                            event.json.as_slice(),
                        )
                        .map_err(db_err("failed to insert a trail event"))?;
                }
            }
            txn.commit()
                .map_err(db_err("failed to commit trail events"))
        })
        .await
    }

    /// Up to `max` events, newest first, no later than `until_us` and,
    /// when `after` is given, older than that (time, id).
    pub(crate) async fn trail_events(
        &self,
        until_us: i64,
        after: Option<(i64, String)>,
        max: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.blocking(move |store| {
            let txn = store.read_txn()?;
            let table = txn
                .open_table(TRAIL_EVENTS)
                .map_err(db_err("failed to open trail events"))?;

            // Resume after the last event given out, or at `until`.
            let range = match &after {
                Some((time_us, id)) => table.range((sort_key(*time_us), id.as_str())..),
                None => table.range((sort_key(until_us), "")..),
            }
            .map_err(db_err("failed to scan trail events"))?;
            let mut events = Vec::new();
            for item in range {
                let (key, value) = item.map_err(db_err("failed to scan trail events"))?;
                let (inverted, id) = key.value();
                if after.as_ref().is_some_and(|(time_us, after_id)| {
                    sort_key(*time_us) == inverted && after_id == id
                }) {
                    continue;
                }
                events.push(StoredEvent {
                    time_us: i64::try_from(u64::MAX - inverted).unwrap_or(i64::MAX),
                    id: id.to_owned(),
                    json: value.value().to_vec(),
                });
                if events.len() == max {
                    break;
                }
            }
            Ok(events)
        })
        .await
    }
}
