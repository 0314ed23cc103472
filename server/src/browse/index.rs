//! `/models` pages, read from the registry's indexes (see
//! [`crate::registry::index`]) so that a page costs a listing or two and
//! one profile read per row, however many models there are.
//!
//! - With a query, rows come from the word index: every model with a word
//!   of its name (or the whole name) starting with the query, ordered by
//!   the matching word, then by name; `sort` does not apply.
//! - Without one, `sort=updated` reads the "updated" index (most recently
//!   updated first, skipping stale entries) and `sort=name` lists the
//!   model folders in key order.
//!
//! A cursor is the last index key a page read; a cursor that is not a key
//! of the listing asked for is refused.

use std::future::Future;

use coffer_app::models::api::{ModelList, ModelQuery, ModelSort, ModelSummary};
use coffer_app::names::validate_model_name;

use super::Browse;
use crate::error::ApiError;
use crate::registry::index::{
    UPDATED_PREFIX, WORDS_PREFIX, is_first_match, model_of_updated_key, normalize_query,
    parse_word_key,
};
use crate::registry::manifest::rfc3339;
use crate::registry::{PREFIX, Profile};

/// Rows per page unless the query says otherwise.
pub const DEFAULT_LIMIT: u32 = 50;

/// The most rows a page may ask for.
pub const MAX_LIMIT: u32 = 100;

/// Which index a listing reads.
enum Listing {
    Updated,
    Name,
    Words(String),
}

impl Listing {
    /// The key prefix the listing covers.
    fn prefix(&self) -> String {
        match self {
            Listing::Updated => UPDATED_PREFIX.to_owned(),
            Listing::Name => PREFIX.to_owned(),
            Listing::Words(query) => format!("{WORDS_PREFIX}{query}"),
        }
    }

    /// Whether `cursor` is a key this listing could have handed out.
    fn accepts_cursor(&self, cursor: &str) -> bool {
        match self {
            Listing::Updated => model_of_updated_key(cursor).is_some(),
            Listing::Name => cursor
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.strip_suffix('/'))
                .is_some_and(|name| validate_model_name(name).is_ok()),
            Listing::Words(_) => {
                cursor.starts_with(&self.prefix()) && parse_word_key(cursor).is_some()
            }
        }
    }
}

impl Browse {
    /// A page of models.
    pub async fn models(&self, query: &ModelQuery) -> Result<ModelList, ApiError> {
        let limit = page_size(query.limit)?;

        // A query no name could match lists nothing, and never reaches
        // outside the word index.
        let listing = match normalize_query(&query.q) {
            None => {
                return Ok(ModelList {
                    models: Vec::new(),
                    next_cursor: None,
                });
            }
            Some(words) if !words.is_empty() => Listing::Words(words),
            Some(_) => match query.sort {
                ModelSort::Updated => Listing::Updated,
                ModelSort::Name => Listing::Name,
            },
        };
        if let Some(cursor) = &query.cursor
            && !listing.accepts_cursor(cursor)
        {
            return Err(ApiError::BadRequest(
                "the cursor does not belong to this listing; start again without it".into(),
            ));
        }

        let cursor = query.cursor.clone();
        let page = match &listing {
            Listing::Updated => {
                self.page_of_keys(&listing, cursor, limit, |key| self.updated_row(key))
                    .await?
            }
            Listing::Words(words) => {
                self.page_of_keys(&listing, cursor, limit, |key| self.word_row(key, words))
                    .await?
            }
            Listing::Name => self.page_of_folders(cursor, limit).await?,
        };
        Ok(page)
    }

    /// Pages through a key listing, turning each key into a row or
    /// nothing, until the page is full or the listing ends.
    async fn page_of_keys<F, Fut>(
        &self,
        listing: &Listing,
        cursor: Option<String>,
        limit: usize,
        row: F,
    ) -> anyhow::Result<ModelList>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = anyhow::Result<Option<ModelSummary>>>,
    {
        let prefix = listing.prefix();
        let mut models = Vec::with_capacity(limit);
        let mut after = cursor;
        loop {
            // One key beyond the page tells whether another page follows.
            let wanted = limit - models.len() + 1;
            let keys = self
                .storage
                .list_keys(&prefix, after.as_deref(), i32::try_from(wanted)?)
                .await?;
            let ended = keys.len() < wanted;

            // Rows are one profile read each, all at once.
            let rows = futures::future::try_join_all(keys.iter().cloned().map(&row)).await?;
            for (key, row) in keys.into_iter().zip(rows) {
                if models.len() == limit {
                    return Ok(ModelList {
                        models,
                        next_cursor: after,
                    });
                }
                after = Some(key);
                models.extend(row);
            }
            if ended {
                return Ok(ModelList {
                    models,
                    next_cursor: None,
                });
            }
        }
    }

    /// Pages through the model folders in key order.
    async fn page_of_folders(
        &self,
        cursor: Option<String>,
        limit: usize,
    ) -> anyhow::Result<ModelList> {
        let mut models = Vec::with_capacity(limit);
        let mut after = cursor;
        loop {
            // Starting after `<folder>~` skips every key inside the folder.
            let wanted = limit - models.len() + 1;
            let start_after = after.as_ref().map(|folder| format!("{folder}~"));
            let (folders, more) = self
                .storage
                .list_folders(PREFIX, start_after.as_deref(), i32::try_from(wanted)?)
                .await?;

            let reads = folders.iter().map(|folder| async move {
                match folder
                    .strip_prefix(PREFIX)
                    .and_then(|rest| rest.strip_suffix('/'))
                {
                    Some(name) => self.summary_of(name).await,
                    None => Ok(None),
                }
            });
            let rows = futures::future::try_join_all(reads).await?;
            let listed = folders.len();
            for (folder, row) in folders.into_iter().zip(rows) {
                if models.len() == limit {
                    return Ok(ModelList {
                        models,
                        next_cursor: after,
                    });
                }
                after = Some(folder);
                models.extend(row);
            }
            if !more || listed == 0 {
                return Ok(ModelList {
                    models,
                    next_cursor: None,
                });
            }
        }
    }

    /// The row of an "updated" entry, unless the entry is stale.
    async fn updated_row(&self, key: String) -> anyhow::Result<Option<ModelSummary>> {
        let Some(name) = model_of_updated_key(&key) else {
            return Ok(None);
        };
        let profile = self.registry.profile(name).await?;
        Ok(profile
            .filter(|profile| profile.updated_key == key)
            .map(|profile| summary(name, &profile)))
    }

    /// The row of a word-index entry, unless the model shows at another
    /// of its words.
    async fn word_row(&self, key: String, query: &str) -> anyhow::Result<Option<ModelSummary>> {
        if !is_first_match(&key, query) {
            return Ok(None);
        }
        match parse_word_key(&key) {
            Some((_, name)) => self.summary_of(name).await,
            None => Ok(None),
        }
    }

    /// A model's row from its profile; for a model from before profiles,
    /// from its record and versions; `None` while it is being created.
    async fn summary_of(&self, name: &str) -> anyhow::Result<Option<ModelSummary>> {
        if let Some(profile) = self.registry.profile(name).await? {
            return Ok(Some(summary(name, &profile)));
        }
        let Some(record) = self.registry.model(name).await? else {
            return Ok(None);
        };
        let (latest_version, claimed) = futures::try_join!(
            self.registry.latest_available(name),
            self.registry.latest_claimed(name),
        )?;
        Ok(Some(ModelSummary {
            name: name.to_owned(),
            description: String::new(),
            latest_version,
            versions: claimed.unwrap_or(0),
            updated_at: rfc3339(record.created_at),
        }))
    }
}

/// A listing row from a profile.
fn summary(name: &str, profile: &Profile) -> ModelSummary {
    ModelSummary {
        name: name.to_owned(),
        description: profile.description.clone(),
        latest_version: profile.latest_version,
        versions: profile.versions,
        updated_at: rfc3339(profile.updated_at),
    }
}

/// The page size a query asks for, within bounds.
fn page_size(limit: Option<u32>) -> Result<usize, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit as usize),
        _ => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}
