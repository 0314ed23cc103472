//! A model's aliases: `registry/models/<name>/aliases.json`, one record
//! mapping alias names to versions, changed only by compare-and-swap.
//!
//! A move is audited with where the alias pointed before, and the record
//! must be durable before the move is allowed. Compare-and-swap alone
//! cannot promise both: a writer that loses the swap after recording would
//! leave a record of a move that never happened. So a move first takes the
//! alias's lock (`registry/models/<name>/alias-locks/<alias>.json`, created
//! with `If-None-Match: *`), reads where the alias points, records, and
//! only then swaps, expecting the alias unchanged. Moves of one alias thus
//! happen one at a time and each record's `from` is the previous `to`.
//! A lock left by a crash is taken over once older than [`LOCK_TTL`].

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::storage::records::{self, Change, UpdateError};
use crate::storage::{CreateOutcome, ReplaceOutcome, Storage};

use super::{PREFIX, to_json};

/// How long a lock may be held before another move may take it over.
pub const LOCK_TTL: time::Duration = time::Duration::seconds(30);

/// How many times a move looks at a held lock before giving up.
const LOCK_ATTEMPTS: u32 = 400;

/// The alias record as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// Alias name to version number.
    #[serde(default)]
    pub aliases: BTreeMap<String, u64>,
}

/// The alias moved under a held lock: the lock was taken over by another
/// move after [`LOCK_TTL`]. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("alias {alias} changed while it was being moved; try again")]
pub struct AliasChanged {
    pub alias: String,
}

/// The alias could not be locked: another move holds it.
#[derive(Debug, thiserror::Error)]
#[error("alias {alias} is being moved by another request; try again")]
pub struct AliasBusy {
    pub alias: String,
}

/// A held alias lock; give it back with [`AliasLock::release`].
#[derive(Debug)]
pub struct AliasLock {
    key: String,
}

/// When a lock was taken.
#[derive(Serialize, Deserialize)]
struct LockBody {
    #[serde(with = "time::serde::rfc3339")]
    taken_at: OffsetDateTime,
}

/// The record's key.
pub fn aliases_key(model: &str) -> String {
    format!("{PREFIX}{model}/aliases.json")
}

fn lock_key(model: &str, alias: &str) -> String {
    format!("{PREFIX}{model}/alias-locks/{alias}.json")
}

/// The model's aliases; empty when it has none.
pub async fn read(storage: &Storage, model: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let Some(object) = storage.get(&aliases_key(model)).await? else {
        return Ok(BTreeMap::new());
    };
    let record: AliasRecord = serde_json::from_slice(&object.body)
        .map_err(|error| anyhow::anyhow!("alias record of {model} is not valid: {error}"))?;
    Ok(record.aliases)
}

/// Points `alias` at `to` (or removes it for `None`), provided it still
/// points at `from`.
pub async fn swap(
    storage: &Storage,
    model: &str,
    alias: &str,
    from: Option<u64>,
    to: Option<u64>,
) -> Result<(), UpdateError<AliasChanged>> {
    records::update(
        storage,
        &aliases_key(model),
        |current: Option<AliasRecord>| {
            let mut record = current.unwrap_or_default();
            if record.aliases.get(alias).copied() != from {
                return Err(AliasChanged {
                    alias: alias.to_owned(),
                });
            }
            match to {
                Some(version) => record.aliases.insert(alias.to_owned(), version),
                None => record.aliases.remove(alias),
            };
            Ok(Change::Write(record, ()))
        },
    )
    .await
}

impl AliasLock {
    /// Takes the alias's lock, waiting briefly while another move holds
    /// it, and taking over a lock older than [`LOCK_TTL`].
    pub async fn acquire(
        storage: &Storage,
        clock: &dyn Clock,
        model: &str,
        alias: &str,
    ) -> anyhow::Result<Result<AliasLock, AliasBusy>> {
        let key = lock_key(model, alias);
        for _ in 0..LOCK_ATTEMPTS {
            // Free: the create wins it.
            let now = clock.now();
            let body = to_json(&LockBody { taken_at: now })?;
            if storage
                .create(&key, body.clone(), "application/json")
                .await?
                == CreateOutcome::Created
            {
                return Ok(Ok(AliasLock { key }));
            }

            // Held since a crash: take it over, unless someone else does
            // first.
            if let Some(held) = storage.get(&key).await? {
                let taken_at = serde_json::from_slice::<LockBody>(&held.body)
                    .map(|lock| lock.taken_at)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                if now - taken_at > LOCK_TTL
                    && let Some(etag) = held.etag.as_deref()
                    && storage
                        .replace(&key, body, "application/json", etag)
                        .await?
                        == ReplaceOutcome::Replaced
                {
                    tracing::warn!(s3.key = %key, "took over an abandoned alias lock");
                    return Ok(Ok(AliasLock { key }));
                }
            }

            // Held: a move takes milliseconds, so wait a little.
            let millis = rand::thread_rng().gen_range(5..=25);
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        Ok(Err(AliasBusy {
            alias: alias.to_owned(),
        }))
    }

    /// Gives the lock back. A failure leaves it to expire.
    pub async fn release(self, storage: &Storage) {
        if let Err(error) = storage.delete(&self.key).await {
            tracing::warn!(s3.key = %self.key, error = %format!("{error:#}"), "could not release an alias lock; it expires on its own");
        }
    }
}
