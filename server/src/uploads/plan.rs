//! Checking what an uploader announces, and cutting files into parts.

use std::collections::HashSet;

use coffer_app::names::{normalize_file_path, validate_model_name};
use coffer_app::upload::api::{Metadata, StartUpload};

use crate::config::Settings;
use crate::error::ApiError;

/// The smallest part Coffer plans (S3's own minimum is 5 MiB).
pub const MIN_PART_SIZE: u64 = 8 << 20;

/// S3 numbers parts from 1 to 10,000.
pub const MAX_PARTS: u64 = 10_000;

/// S3's largest object.
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;

/// Most parts one request may ask URLs for.
pub const MAX_PARTS_PER_REQUEST: usize = 100;

const MAX_DESCRIPTION: usize = 10_000;
const MAX_FINGERPRINT: usize = 512;
const MAX_TAGS: usize = 50;
const MAX_METRICS: usize = 100;
const MAX_LABEL: usize = 64;
const MAX_FRAMEWORK: usize = 100;

/// The limits an upload must respect.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_size: u64,
    pub max_version_size: u64,
    pub max_files: usize,
    pub max_open_uploads: usize,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Limits {
        Limits {
            max_file_size: settings.max_file_size.min(MAX_OBJECT_SIZE),
            max_version_size: settings.max_version_size,
            max_files: settings.max_files_per_version,
            max_open_uploads: settings.max_open_uploads,
        }
    }
}

/// A file as the server planned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFile {
    pub path: String,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    pub declared_sha256: Option<String>,
    pub fingerprint: Option<String>,
}

/// The part size for a file: at least 8 MiB, whole MiB, and large enough
/// that no file needs more than 10,000 parts.
pub fn part_size_for(size: u64) -> u64 {
    let needed = size.div_ceil(MAX_PARTS);
    let whole_mib = needed.div_ceil(1 << 20) << 20;
    whole_mib.max(MIN_PART_SIZE)
}

/// How many parts a file of `size` bytes has; an empty file has one empty
/// part.
pub fn part_count_for(size: u64, part_size: u64) -> u32 {
    let count = size.div_ceil(part_size).max(1);
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The size part `number` (from 1) must have.
pub fn expected_part_size(size: u64, part_size: u64, number: u32) -> u64 {
    let start = u64::from(number - 1) * part_size;
    (size - start.min(size)).min(part_size)
}

/// Checks a start request against the rules and limits and plans its
/// parts. Every problem is a clear 400 and nothing is written.
pub fn plan(
    model: &str,
    request: &StartUpload,
    limits: &Limits,
) -> Result<Vec<PlannedFile>, ApiError> {
    validate_model_name(model).map_err(ApiError::BadRequest)?;
    check_text("description", &request.description, MAX_DESCRIPTION)?;
    check_metadata(&request.metadata)?;

    // The version must hold something, and not too much.
    if request.files.is_empty() {
        return Err(ApiError::BadRequest(
            "an upload needs at least one file".into(),
        ));
    }
    if request.files.len() > limits.max_files {
        return Err(ApiError::BadRequest(format!(
            "a version holds at most {} files; this upload has {}",
            limits.max_files,
            request.files.len()
        )));
    }

    let mut seen = HashSet::new();
    let mut total: u64 = 0;
    let mut planned = Vec::with_capacity(request.files.len());
    for file in &request.files {
        let path = normalize_file_path(&file.path).map_err(ApiError::BadRequest)?;

        // Two files at one path would make the version ambiguous.
        if !seen.insert(path.clone()) {
            return Err(ApiError::BadRequest(format!(
                "file path '{path}' appears twice"
            )));
        }
        if file.size > limits.max_file_size {
            return Err(ApiError::BadRequest(format!(
                "file '{path}' has {} bytes; the limit is {} bytes",
                file.size, limits.max_file_size
            )));
        }
        total = total.saturating_add(file.size);

        let declared_sha256 = file
            .sha256
            .as_deref()
            .map(|digest| parse_hex_sha256(digest).map_err(ApiError::BadRequest))
            .transpose()?;
        if let Some(fingerprint) = &file.fingerprint {
            check_text("fingerprint", fingerprint, MAX_FINGERPRINT)?;
        }

        let part_size = part_size_for(file.size);
        planned.push(PlannedFile {
            part_count: part_count_for(file.size, part_size),
            path,
            size: file.size,
            part_size,
            declared_sha256,
            fingerprint: file.fingerprint.clone(),
        });
    }

    if total > limits.max_version_size {
        return Err(ApiError::BadRequest(format!(
            "the files add up to {total} bytes; a version holds at most {} bytes",
            limits.max_version_size
        )));
    }
    Ok(planned)
}

/// A whole-file SHA-256 in lowercase hex.
pub fn parse_hex_sha256(digest: &str) -> Result<String, String> {
    let valid = digest.len() == 64 && digest.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !valid {
        return Err("a SHA-256 is 64 hexadecimal characters".to_owned());
    }
    Ok(digest.to_ascii_lowercase())
}

/// A part's SHA-256 in base64, as S3's checksum header carries it.
pub fn check_base64_sha256(digest: &str) -> Result<(), String> {
    use base64::Engine;

    let decoded = base64::engine::general_purpose::STANDARD
        .decode(digest)
        .map_err(|_| "a part's sha256 must be base64".to_owned())?;
    if decoded.len() != 32 {
        return Err("a part's sha256 must be 32 bytes in base64".to_owned());
    }
    Ok(())
}

fn check_metadata(metadata: &Metadata) -> Result<(), ApiError> {
    if let Some(framework) = &metadata.framework {
        check_text("framework", framework, MAX_FRAMEWORK)?;
    }
    if metadata.tags.len() > MAX_TAGS {
        return Err(ApiError::BadRequest(format!("at most {MAX_TAGS} tags")));
    }
    for tag in &metadata.tags {
        check_label("tag", tag)?;
    }
    if metadata.metrics.len() > MAX_METRICS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_METRICS} metrics"
        )));
    }
    for (name, value) in &metadata.metrics {
        check_label("metric name", name)?;

        // JSON cannot carry NaN or infinities, but be explicit about it.
        if !value.is_finite() {
            return Err(ApiError::BadRequest(format!(
                "metric '{name}' must be a finite number"
            )));
        }
    }
    Ok(())
}

fn check_label(what: &str, label: &str) -> Result<(), ApiError> {
    if label.trim().is_empty() {
        return Err(ApiError::BadRequest(format!("a {what} cannot be empty")));
    }
    check_text(what, label, MAX_LABEL)
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "the {what} is longer than {max} characters"
        )));
    }

    // Line breaks and tabs are fine in a description; other control
    // characters only hide things from readers.
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::BadRequest(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_app::upload::api::FileDeclaration;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn limits() -> Limits {
        Limits {
            max_file_size: 100 * GIB,
            max_version_size: 200 * GIB,
            max_files: 3,
            max_open_uploads: 4,
        }
    }

    fn request(files: &[(&str, u64)]) -> StartUpload {
        StartUpload {
            files: files
                .iter()
                .map(|(path, size)| FileDeclaration {
                    path: (*path).to_owned(),
                    size: *size,
                    sha256: None,
                    fingerprint: None,
                })
                .collect(),
            ..StartUpload::default()
        }
    }

    #[test]
    fn parts_are_at_least_8_mib_and_at_most_10000() {
        assert_eq!(part_size_for(0), 8 * MIB);
        assert_eq!(part_count_for(0, 8 * MIB), 1);
        assert_eq!(part_count_for(8 * MIB, 8 * MIB), 1);
        assert_eq!(part_count_for(8 * MIB + 1, 8 * MIB), 2);

        // 100 GiB needs 10.24 MiB parts: rounded up to 11 MiB.
        let size = 100 * GIB;
        let part = part_size_for(size);
        assert_eq!(part, 11 * MIB);
        assert!(u64::from(part_count_for(size, part)) <= MAX_PARTS);

        for size in [1, 80 * GIB, 5 << 40] {
            let part = part_size_for(size);
            assert!(part >= MIN_PART_SIZE && part.is_multiple_of(MIB));
            assert!(u64::from(part_count_for(size, part)) <= MAX_PARTS, "{size}");
        }
    }

    #[test]
    fn the_last_part_holds_the_remainder() {
        let size = 20 * MIB + 5;
        assert_eq!(expected_part_size(size, 8 * MIB, 1), 8 * MIB);
        assert_eq!(expected_part_size(size, 8 * MIB, 3), 4 * MIB + 5);
        assert_eq!(expected_part_size(0, 8 * MIB, 1), 0);
    }

    #[test]
    fn a_valid_request_is_planned_with_normal_paths() {
        let planned = plan("fraud", &request(&[("./a//b.bin", 9 * MIB)]), &limits()).expect("plan");
        assert_eq!(planned[0].path, "a/b.bin");
        assert_eq!(planned[0].part_count, 2);
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let cases: Vec<(StartUpload, &str, &str)> = vec![
            (request(&[]), "fraud", "at least one file"),
            (
                request(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]),
                "fraud",
                "at most 3 files",
            ),
            (request(&[("a", 1), ("./a", 1)]), "fraud", "appears twice"),
            (request(&[("../a", 1)]), "fraud", "'..'"),
            (request(&[("a", 101 * GIB)]), "fraud", "the limit is"),
            (
                request(&[("a", 90 * GIB), ("b", 90 * GIB), ("c", 90 * GIB)]),
                "fraud",
                "at most 214748364800 bytes",
            ),
            (request(&[("a", 1)]), "Bad Name", "lowercase"),
        ];
        for (request, model, expected) in cases {
            let error = plan(model, &request, &limits()).expect_err(expected);
            assert!(error.to_string().contains(expected), "{error} / {expected}");
        }

        let mut bad_digest = request(&[("a", 1)]);
        bad_digest.files[0].sha256 = Some("xyz".into());
        assert!(plan("m", &bad_digest, &limits()).is_err());

        let mut bad_metric = request(&[("a", 1)]);
        bad_metric.metadata.metrics.insert(String::new(), 1.0);
        assert!(plan("m", &bad_metric, &limits()).is_err());
    }

    #[test]
    fn part_checksums_must_be_32_bytes_of_base64() {
        assert!(check_base64_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_ok());
        assert!(check_base64_sha256("not base64!").is_err());
        assert!(check_base64_sha256("AAAA").is_err());
    }
}
