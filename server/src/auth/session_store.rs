//! Sessions kept as objects in the artifact bucket, so they survive a
//! restart and every server instance sees the same ones without another
//! database.

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::storage::{CreateOutcome, Storage};

/// Where session records live.
pub const PREFIX: &str = "sessions/";

/// A `tower-sessions` store over the bucket.
#[derive(Clone, Debug)]
pub struct BucketSessionStore {
    storage: Storage,
}

impl BucketSessionStore {
    /// A store writing under [`PREFIX`] in the artifact bucket.
    pub fn new(storage: Storage) -> BucketSessionStore {
        BucketSessionStore { storage }
    }
}

/// The object key of a session. The key is a hash of the id, so whoever can
/// list the bucket still cannot present a live session cookie.
pub fn key_for(id: &Id) -> String {
    let digest = Sha256::digest(id.to_string().as_bytes());
    format!("{PREFIX}{}.json", hex::encode(digest))
}

fn encode(record: &Record) -> session_store::Result<Bytes> {
    serde_json::to_vec(record)
        .map(Bytes::from)
        .map_err(|error| session_store::Error::Encode(error.to_string()))
}

fn backend(error: anyhow::Error) -> session_store::Error {
    session_store::Error::Backend(format!("{error:#}"))
}

#[async_trait]
impl SessionStore for BucketSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A collision of 128-bit random ids is not expected, but the
        // conditional write makes it harmless: draw again.
        loop {
            let key = key_for(&record.id);
            match self
                .storage
                .create(&key, encode(record)?, "application/json")
                .await
                .map_err(backend)?
            {
                CreateOutcome::Created => return Ok(()),
                CreateOutcome::AlreadyExists => record.id = Id::default(),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.storage
            .put(&key_for(&record.id), encode(record)?, "application/json")
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(object) = self.storage.get(&key_for(id)).await.map_err(backend)? else {
            return Ok(None);
        };
        let record: Record = serde_json::from_slice(&object.body)
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;

        // An expired record is as good as absent; the bucket's lifecycle
        // rule (or the next sign-out) removes it.
        if record.expiry_date <= OffsetDateTime::now_utc() {
            return Ok(None);
        }
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.storage.delete(&key_for(id)).await.map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_hide_the_id_and_differ_per_session() {
        let (a, b) = (Id::default(), Id::default());
        let key = key_for(&a);
        assert!(key.starts_with(PREFIX));
        assert!(!key.contains(&a.to_string()));
        assert_ne!(key, key_for(&b));
        assert_eq!(key, key_for(&a));
    }
}
