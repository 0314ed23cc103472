//! Mutable JSON records kept race-free with conditional writes: read the
//! record and its entity tag, decide its next state, and write it back only
//! if nobody wrote it in between; otherwise read again and decide again.

use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::storage::{CreateOutcome, ReplaceOutcome, Storage};

/// How many times an update re-reads after losing a race.
const MAX_ATTEMPTS: u32 = 64;

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    /// The change itself refused (the record's state forbids it).
    #[error(transparent)]
    Refused(E),
    /// Storage failed, or too many writers kept winning.
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

/// What a change decides for a record.
pub enum Change<T, R> {
    /// Write `T` and answer `R`.
    Write(T, R),
    /// Leave the record as it is and answer `R`.
    Keep(R),
}

/// Applies `change` to the record at `key` with compare-and-swap, retrying
/// on conflicts. `change` sees `None` when the record does not exist yet,
/// and must be safe to call more than once.
pub async fn update<T, R, E>(
    storage: &Storage,
    key: &str,
    mut change: impl FnMut(Option<T>) -> Result<Change<T, R>, E>,
) -> Result<R, UpdateError<E>>
where
    T: Serialize + DeserializeOwned,
{
    for attempt in 0..MAX_ATTEMPTS {
        // Read the record as it stands, with the tag to compare against.
        let current = storage.get(key).await?;
        let (record, etag) = match current {
            Some(object) => {
                let record = serde_json::from_slice::<T>(&object.body)
                    .map_err(|error| anyhow::anyhow!("record {key} is not valid: {error}"))?;
                (Some(record), object.etag)
            }
            None => (None, None),
        };

        // Decide; a refusal or a no-op ends here without writing.
        let (next, answer) = match change(record).map_err(UpdateError::Refused)? {
            Change::Keep(answer) => return Ok(answer),
            Change::Write(next, answer) => (next, answer),
        };
        let body = bytes::Bytes::from(serde_json::to_vec(&next).map_err(anyhow::Error::new)?);

        // Write only over what was read; a lost race tries again.
        let won = match etag {
            Some(etag) => {
                storage
                    .replace(key, body, "application/json", &etag)
                    .await?
                    == ReplaceOutcome::Replaced
            }
            None => storage.create(key, body, "application/json").await? == CreateOutcome::Created,
        };
        if won {
            return Ok(answer);
        }
        backoff(attempt).await;
    }
    Err(UpdateError::Storage(anyhow::anyhow!(
        "record {key} kept changing: gave up after {MAX_ATTEMPTS} attempts"
    )))
}

/// A short, jittered pause so racing writers spread out.
async fn backoff(attempt: u32) {
    let ceiling = 5u64 << attempt.min(5);
    let millis = rand::thread_rng().gen_range(1..=ceiling);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}
