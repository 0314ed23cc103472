//! The two indexes that let `/models` page without listing every model:
//! empty objects whose keys alone carry the order.
//!
//! - `registry/index/updated/<20 digits>/<name>`: the digits are
//!   `u64::MAX - milliseconds since the epoch` of the model's last update,
//!   so ascending key order is most recently updated first. A model has one
//!   live entry, the one its profile names; an entry the profile no longer
//!   names (a crash between writing the new entry and deleting the old one)
//!   is stale, and readers skip it.
//! - `registry/index/words/<word>/<name>`: one entry per word of the name
//!   (split at `-`, `_` and `.`) and one for the whole name, written when the
//!   model is created. Names never change, so these entries never go stale.
//!   Listing `registry/index/words/<query>` finds every model with a word
//!   that starts with the query, ordered by word, then name.

use std::collections::BTreeSet;

use coffer_app::names::validate_model_name;
use time::OffsetDateTime;

/// Where the "most recently updated" index starts.
pub const UPDATED_PREFIX: &str = "registry/index/updated/";

/// Where the name-word index starts.
pub const WORDS_PREFIX: &str = "registry/index/words/";

/// The characters that split a model name into words.
const SEPARATORS: [char; 3] = ['-', '_', '.'];

/// Milliseconds since the epoch, clamped to what a key can hold.
fn millis(time: OffsetDateTime) -> u64 {
    let millis = time.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(millis.max(0)).unwrap_or(u64::MAX)
}

/// The "updated" entry of a model touched at `at`.
pub fn updated_key(model: &str, at: OffsetDateTime) -> String {
    format!("{UPDATED_PREFIX}{:020}/{model}", u64::MAX - millis(at))
}

/// The model an "updated" entry names, if the key is one.
pub fn model_of_updated_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(UPDATED_PREFIX)?;
    let (digits, model) = rest.split_once('/')?;
    let well_formed = digits.len() == 20
        && digits.bytes().all(|b| b.is_ascii_digit())
        && validate_model_name(model).is_ok();
    well_formed.then_some(model)
}

/// The words a model is found by: each part of the name between
/// separators, and the whole name.
pub fn words_of(model: &str) -> BTreeSet<&str> {
    let mut words: BTreeSet<&str> = model
        .split(SEPARATORS)
        .filter(|word| !word.is_empty())
        .collect();
    words.insert(model);
    words
}

/// The word-index entry of one word of a model.
pub fn word_key(word: &str, model: &str) -> String {
    format!("{WORDS_PREFIX}{word}/{model}")
}

/// Every word-index entry of a model.
pub fn word_keys(model: &str) -> Vec<String> {
    words_of(model)
        .into_iter()
        .map(|word| word_key(word, model))
        .collect()
}

/// The word and model a word-index entry names, if the key is one.
pub fn parse_word_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(WORDS_PREFIX)?;
    let (word, model) = rest.split_once('/')?;
    let well_formed = validate_model_name(model).is_ok() && words_of(model).contains(word);
    well_formed.then_some((word, model))
}

/// A search query as the index compares it: trimmed and lowercased.
/// `None` when no name could match it (a character no name has), so the
/// listing prefix can never reach outside the word index.
pub fn normalize_query(query: &str) -> Option<String> {
    let query = query.trim().to_lowercase();
    let searchable = query.chars().count() <= coffer_app::names::MAX_MODEL_NAME
        && query
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || SEPARATORS.contains(&c));
    searchable.then_some(query)
}

/// Whether the word-index entry `key` is the one a search for `query`
/// shows for its model. A model with several matching words has several
/// entries; only the first in listing order counts, so each model appears
/// once across all pages.
pub fn is_first_match(key: &str, query: &str) -> bool {
    let Some((_, model)) = parse_word_key(key) else {
        return false;
    };
    let first = words_of(model)
        .into_iter()
        .filter(|word| word.starts_with(query))
        .map(|word| word_key(word, model))
        .min();
    first.as_deref() == Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_updates_sort_first_and_read_back() {
        let earlier = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(10);
        let later = earlier + time::Duration::milliseconds(1);
        let old = updated_key("fraud", earlier);
        let new = updated_key("fraud", later);
        assert!(new < old);
        assert_eq!(model_of_updated_key(&new), Some("fraud"));
        assert_eq!(model_of_updated_key("registry/index/updated/1/fraud"), None);
        assert_eq!(
            model_of_updated_key("registry/index/words/fraud/fraud"),
            None
        );
    }

    #[test]
    fn a_name_is_found_by_each_word_and_by_itself() {
        let words: Vec<&str> = words_of("fraud-detector_v2.onnx").into_iter().collect();
        assert_eq!(
            words,
            ["detector", "fraud", "fraud-detector_v2.onnx", "onnx", "v2"]
        );
        assert_eq!(words_of("fraud").len(), 1);
        assert_eq!(
            parse_word_key("registry/index/words/v2/fraud-v2"),
            Some(("v2", "fraud-v2"))
        );
        assert_eq!(parse_word_key("registry/index/words/other/fraud-v2"), None);
    }

    #[test]
    fn queries_are_lowercased_and_refused_when_no_name_could_match() {
        assert_eq!(normalize_query("  Fraud "), Some("fraud".to_owned()));
        assert_eq!(normalize_query(""), Some(String::new()));
        assert_eq!(normalize_query("a/b"), None);
        assert_eq!(normalize_query("a b"), None);
        assert_eq!(normalize_query(&"a".repeat(65)), None);
    }

    #[test]
    fn a_model_with_several_matching_words_counts_once() {
        // "fraud" and "fraud-detector" both start with "fraud"; the whole
        // name's key sorts first because '-' comes before '/'.
        let keys = word_keys("fraud-detector");
        let shown: Vec<&String> = keys
            .iter()
            .filter(|key| is_first_match(key, "fraud"))
            .collect();
        assert_eq!(
            shown,
            ["registry/index/words/fraud-detector/fraud-detector"]
        );
        assert!(is_first_match(
            "registry/index/words/detector/fraud-detector",
            "det"
        ));
    }
}
