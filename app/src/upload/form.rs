//! The upload form's rules, applied in the browser before anything is sent:
//! reading the metadata fields, checking the files' paths, and recognising
//! an unfinished upload of the same files.

use std::collections::{BTreeMap, HashSet};

use crate::names::normalize_file_path;
use crate::upload::api::{Metadata, UploadStatus};

/// Tags from a comma-separated field: trimmed, without empties or repeats.
pub fn parse_tags(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    text.split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && seen.insert(*tag))
        .map(str::to_owned)
        .collect()
}

/// Metrics from `key=value` lines; blank lines are skipped. The error names
/// the line and says what to write instead.
pub fn parse_metrics(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut metrics = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = parse_metric_line(index + 1, line)?;
        if metrics.insert(key.clone(), value).is_some() {
            return Err(format!(
                "metrics line {}: '{key}' is given twice",
                index + 1
            ));
        }
    }
    Ok(metrics)
}

/// One `key=value` metrics line.
fn parse_metric_line(number: usize, line: &str) -> Result<(String, f64), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(format!(
            "metrics line {number}: write 'name=number', like 'accuracy=0.93', not '{line}'"
        ));
    };
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() {
        return Err(format!("metrics line {number}: the metric has no name"));
    }
    // `f64::from_str` also takes "inf" and "NaN", which JSON cannot carry.
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok((key.to_owned(), number)),
        _ => Err(format!(
            "metrics line {number}: '{value}' is not a number (metric '{key}')"
        )),
    }
}

/// Whether some model name could start with `prefix`; Coffer refuses to
/// look up any other prefix.
pub fn is_name_prefix(prefix: &str) -> bool {
    prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// The version's metadata from the form's three fields.
pub fn build_metadata(framework: &str, tags: &str, metrics: &str) -> Result<Metadata, String> {
    let framework = framework.trim();
    Ok(Metadata {
        framework: (!framework.is_empty()).then(|| framework.to_owned()),
        tags: parse_tags(tags),
        metrics: parse_metrics(metrics)?,
    })
}

/// Checks every path as the server will: each gets its normal form or the
/// reason it is refused. Two files with the same normal path are refused.
pub fn check_paths(paths: &[String]) -> Vec<Result<String, String>> {
    let mut seen = HashSet::new();
    paths
        .iter()
        .map(|path| {
            let normal = normalize_file_path(path)?;
            if !seen.insert(normal.clone()) {
                return Err(format!("two files would both be stored as '{normal}'"));
            }
            Ok(normal)
        })
        .collect()
}

/// Bytes hashed at the start of a file to recognise it after a reload.
pub const FINGERPRINT_HEAD: u64 = 8 * 1024 * 1024;

/// How the browser recognises the same local file after a reload without
/// reading it whole: name, size, modification time (milliseconds) and the
/// hex SHA-256 of its first [`FINGERPRINT_HEAD`] bytes.
pub fn fingerprint(name: &str, size: u64, last_modified_ms: f64, head_sha256: &str) -> String {
    format!("{name}:{size}:{}:{head_sha256}", last_modified_ms as i64)
}

/// An open upload whose files are exactly the selected ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Resumable {
    pub upload: UploadStatus,
    /// For each file of the upload, by index, the selected file it is.
    pub local: Vec<usize>,
}

/// Finds the open upload made of the same files (by fingerprint) for the
/// model, or for any model when none is named.
pub fn find_resumable(
    uploads: &[UploadStatus],
    model: &str,
    fingerprints: &[String],
) -> Option<Resumable> {
    uploads
        .iter()
        .filter(|upload| model.is_empty() || upload.model == model)
        .find_map(|upload| {
            let local = match_files(upload, fingerprints)?;
            Some(Resumable {
                upload: upload.clone(),
                local,
            })
        })
}

/// Pairs each file of an upload with a distinct selected file of the same
/// fingerprint; `None` unless every file on both sides is paired.
fn match_files(upload: &UploadStatus, fingerprints: &[String]) -> Option<Vec<usize>> {
    if upload.files.len() != fingerprints.len() {
        return None;
    }
    let mut used = vec![false; fingerprints.len()];
    let mut files = upload.files.clone();
    files.sort_by_key(|file| file.index);
    files
        .iter()
        .map(|file| {
            let wanted = file.fingerprint.as_deref()?;
            let found = (0..fingerprints.len())
                .find(|&local| !used[local] && fingerprints[local] == wanted)?;
            used[found] = true;
            Some(found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::api::UploadFile;

    fn upload(model: &str, fingerprints: &[&str]) -> UploadStatus {
        let files = fingerprints
            .iter()
            .enumerate()
            .map(|(index, fingerprint)| UploadFile {
                index,
                path: format!("f{index}"),
                size: 1,
                part_size: 8 << 20,
                part_count: 1,
                fingerprint: Some((*fingerprint).to_owned()),
                received: Vec::new(),
            })
            .collect();
        UploadStatus {
            upload_id: format!("{model}-id"),
            model: model.to_owned(),
            version: 1,
            description: String::new(),
            metadata: Metadata::default(),
            created_at: String::new(),
            files,
            parallel_parts: 6,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        assert_eq!(
            parse_tags(" gbm, fraud ,,gbm, "),
            strings(&["gbm", "fraud"])
        );
        assert!(parse_tags("  ").is_empty());
    }

    #[test]
    fn metrics_parse_to_numbers() {
        let metrics = parse_metrics("accuracy = 0.93\n\n auc=0.97 \nloss=-1e-3").expect("valid");
        assert_eq!(metrics.get("accuracy"), Some(&0.93));
        assert_eq!(metrics.get("auc"), Some(&0.97));
        assert_eq!(metrics.get("loss"), Some(&-0.001));
    }

    #[test]
    fn bad_metrics_name_the_line_and_the_fix() {
        let cases = [
            ("accuracy", "line 1: write 'name=number'"),
            ("a=1\nauc=high", "line 2: 'high' is not a number"),
            ("=3", "has no name"),
            ("a=NaN", "'NaN' is not a number"),
            ("a=1\na=2", "'a' is given twice"),
        ];
        for (text, expected) in cases {
            let error = parse_metrics(text).expect_err(text);
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn only_name_characters_make_a_prefix() {
        assert!(is_name_prefix(""));
        assert!(is_name_prefix("fraud-det"));
        assert!(!is_name_prefix("Fraud"));
        assert!(!is_name_prefix("a b"));
    }

    #[test]
    fn metadata_leaves_out_empty_fields() {
        let metadata = build_metadata("  ", "", "").expect("valid");
        assert_eq!(metadata, Metadata::default());
        let metadata = build_metadata("pytorch", "a", "x=1").expect("valid");
        assert_eq!(metadata.framework.as_deref(), Some("pytorch"));
    }

    #[test]
    fn paths_are_normalised_and_duplicates_refused() {
        let checked = check_paths(&strings(&["a/./b.bin", "a/b.bin", "../x", "c"]));
        assert_eq!(checked[0], Ok("a/b.bin".to_owned()));
        assert!(
            checked[1]
                .as_ref()
                .is_err_and(|e| e.contains("both be stored"))
        );
        assert!(checked[2].is_err());
        assert_eq!(checked[3], Ok("c".to_owned()));
    }

    #[test]
    fn fingerprints_use_whole_milliseconds() {
        assert_eq!(
            fingerprint("m.bin", 10, 1700000000123.0, "ab"),
            "m.bin:10:1700000000123:ab"
        );
    }

    #[test]
    fn an_upload_of_the_same_files_is_found_in_any_order() {
        let uploads = [upload("other", &["x"]), upload("resnet", &["a", "b"])];
        let found = find_resumable(&uploads, "", &strings(&["b", "a"])).expect("match");
        assert_eq!(found.upload.model, "resnet");
        assert_eq!(found.local, vec![1, 0]);
        assert!(find_resumable(&uploads, "resnet", &strings(&["b", "a"])).is_some());
    }

    #[test]
    fn different_files_or_models_do_not_match() {
        let uploads = [upload("resnet", &["a", "b"])];
        assert!(find_resumable(&uploads, "", &strings(&["a"])).is_none());
        assert!(find_resumable(&uploads, "", &strings(&["a", "a"])).is_none());
        assert!(find_resumable(&uploads, "bert", &strings(&["a", "b"])).is_none());
    }
}
