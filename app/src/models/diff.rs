//! What changed between two versions of a model: their metadata and their
//! files. Both versions are immutable, so the answer never goes stale.

use std::collections::{BTreeMap, BTreeSet};

use crate::upload::api::{VersionFile, VersionView};

/// A metric present in both versions with different values.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricChange {
    pub name: String,
    pub old: f64,
    pub new: f64,
}

/// A file at the same path in both versions with other bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub old_size: u64,
    pub new_size: u64,
    pub old_sha256: String,
    pub new_sha256: String,
}

/// Everything that differs from an older version to a newer one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VersionDiff {
    /// The framework before and after, when it changed.
    pub framework: Option<(Option<String>, Option<String>)>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
    /// Metrics only the newer version has, by name.
    pub metrics_added: Vec<(String, f64)>,
    /// Metrics only the older version had, by name.
    pub metrics_removed: Vec<(String, f64)>,
    pub metrics_changed: Vec<MetricChange>,
    pub description_changed: bool,
    /// Files only the newer version has, by path.
    pub files_added: Vec<VersionFile>,
    /// Files only the older version had, by path.
    pub files_removed: Vec<VersionFile>,
    /// Files at the same path whose SHA-256 or size differ, by path.
    pub files_changed: Vec<FileChange>,
    /// Files with the same path, size and SHA-256 in both.
    pub files_unchanged: usize,
}

impl VersionDiff {
    /// What changed from `old` to `new`.
    pub fn between(old: &VersionView, new: &VersionView) -> VersionDiff {
        let mut diff = VersionDiff::default();

        // Metadata: the framework, tags as sets, metrics by name.
        let (old_meta, new_meta) = (&old.metadata, &new.metadata);
        if old_meta.framework != new_meta.framework {
            diff.framework = Some((old_meta.framework.clone(), new_meta.framework.clone()));
        }
        let old_tags: BTreeSet<&String> = old_meta.tags.iter().collect();
        let new_tags: BTreeSet<&String> = new_meta.tags.iter().collect();
        diff.tags_added = new_tags
            .difference(&old_tags)
            .map(|tag| (*tag).clone())
            .collect();
        diff.tags_removed = old_tags
            .difference(&new_tags)
            .map(|tag| (*tag).clone())
            .collect();
        diff_metrics(&old_meta.metrics, &new_meta.metrics, &mut diff);
        diff.description_changed = old.description != new.description;

        // Files, matched by path.
        diff_files(&old.files, &new.files, &mut diff);
        diff
    }

    /// Whether the metadata or the description differ.
    pub fn metadata_changed(&self) -> bool {
        self.framework.is_some()
            || !self.tags_added.is_empty()
            || !self.tags_removed.is_empty()
            || !self.metrics_added.is_empty()
            || !self.metrics_removed.is_empty()
            || !self.metrics_changed.is_empty()
            || self.description_changed
    }

    /// Whether any file was added, removed or changed.
    pub fn files_changed_at_all(&self) -> bool {
        !self.files_added.is_empty()
            || !self.files_removed.is_empty()
            || !self.files_changed.is_empty()
    }

    /// Whether the two versions hold the same metadata and files.
    pub fn is_empty(&self) -> bool {
        !self.metadata_changed() && !self.files_changed_at_all()
    }
}

/// Metrics added, removed and changed, each sorted by name.
fn diff_metrics(old: &BTreeMap<String, f64>, new: &BTreeMap<String, f64>, diff: &mut VersionDiff) {
    for (name, &value) in new {
        match old.get(name) {
            None => diff.metrics_added.push((name.clone(), value)),
            // JSON carries no NaN, so plain comparison is exact here.
            Some(&before) if before != value => diff.metrics_changed.push(MetricChange {
                name: name.clone(),
                old: before,
                new: value,
            }),
            Some(_) => {}
        }
    }
    diff.metrics_removed = old
        .iter()
        .filter(|(name, _)| !new.contains_key(*name))
        .map(|(name, &value)| (name.clone(), value))
        .collect();
}

/// Files added, removed and changed, each sorted by path.
fn diff_files(old: &[VersionFile], new: &[VersionFile], diff: &mut VersionDiff) {
    let old_by_path: BTreeMap<&str, &VersionFile> =
        old.iter().map(|file| (file.path.as_str(), file)).collect();
    let new_by_path: BTreeMap<&str, &VersionFile> =
        new.iter().map(|file| (file.path.as_str(), file)).collect();

    for (path, file) in &new_by_path {
        match old_by_path.get(path) {
            None => diff.files_added.push((*file).clone()),
            Some(before) if before.sha256 != file.sha256 || before.size != file.size => {
                diff.files_changed.push(FileChange {
                    path: (*path).to_owned(),
                    old_size: before.size,
                    new_size: file.size,
                    old_sha256: before.sha256.clone(),
                    new_sha256: file.sha256.clone(),
                });
            }
            Some(_) => diff.files_unchanged += 1,
        }
    }
    diff.files_removed = old_by_path
        .iter()
        .filter(|(path, _)| !new_by_path.contains_key(*path))
        .map(|(_, file)| (*file).clone())
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::api::{Metadata, VersionState};

    fn file(path: &str, size: u64, sha256: &str) -> VersionFile {
        VersionFile {
            path: path.into(),
            size,
            sha256: sha256.into(),
            s3_checksum: String::new(),
        }
    }

    fn version(number: u64, metadata: Metadata, files: Vec<VersionFile>) -> VersionView {
        VersionView {
            model: "fraud".into(),
            version: number,
            state: VersionState::Available,
            uploader: "alice".into(),
            created_at: "2025-01-01T00:00:00Z".into(),
            finished_at: "2025-01-01T00:01:00Z".into(),
            description: "first".into(),
            metadata,
            files,
            failure: None,
            url: format!("/models/fraud/versions/{number}"),
            aliases: Vec::new(),
        }
    }

    fn metadata(framework: Option<&str>, tags: &[&str], metrics: &[(&str, f64)]) -> Metadata {
        Metadata {
            framework: framework.map(str::to_owned),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            metrics: metrics
                .iter()
                .map(|(name, value)| ((*name).to_owned(), *value))
                .collect(),
        }
    }

    #[test]
    fn identical_versions_differ_in_nothing() {
        let files = vec![file("a.bin", 3, "aa"), file("b.bin", 4, "bb")];
        let meta = metadata(Some("pytorch"), &["x"], &[("auc", 0.9)]);
        let old = version(1, meta.clone(), files.clone());
        let new = version(2, meta, files);

        let diff = VersionDiff::between(&old, &new);

        assert!(diff.is_empty());
        assert_eq!(diff.files_unchanged, 2);
    }

    #[test]
    fn metadata_changes_are_told_with_old_and_new_values() {
        let old = version(
            1,
            metadata(
                Some("pytorch"),
                &["gbm", "nov"],
                &[("auc", 0.9), ("loss", 0.3)],
            ),
            vec![],
        );
        let mut new = version(
            2,
            metadata(
                Some("xgboost"),
                &["nov", "dec"],
                &[("auc", 0.95), ("f1", 0.8)],
            ),
            vec![],
        );
        new.description = "retrained".into();

        let diff = VersionDiff::between(&old, &new);

        assert_eq!(
            diff.framework,
            Some((Some("pytorch".into()), Some("xgboost".into())))
        );
        assert_eq!(diff.tags_added, ["dec"]);
        assert_eq!(diff.tags_removed, ["gbm"]);
        assert_eq!(diff.metrics_added, [("f1".to_owned(), 0.8)]);
        assert_eq!(diff.metrics_removed, [("loss".to_owned(), 0.3)]);
        assert_eq!(
            diff.metrics_changed,
            [MetricChange {
                name: "auc".into(),
                old: 0.9,
                new: 0.95
            }]
        );
        assert!(diff.description_changed);
        assert!(diff.metadata_changed());
        assert!(!diff.files_changed_at_all());
    }

    #[test]
    fn a_framework_set_for_the_first_time_is_a_change() {
        let old = version(1, metadata(None, &[], &[]), vec![]);
        let new = version(2, metadata(Some("onnx"), &[], &[]), vec![]);

        let diff = VersionDiff::between(&old, &new);

        assert_eq!(diff.framework, Some((None, Some("onnx".into()))));
    }

    #[test]
    fn files_are_matched_by_path_and_compared_by_digest_and_size() {
        let old = version(
            1,
            Metadata::default(),
            vec![
                file("same.bin", 1, "s"),
                file("digest.bin", 5, "old"),
                file("size.bin", 5, "x"),
                file("gone.bin", 9, "g"),
            ],
        );
        let new = version(
            2,
            Metadata::default(),
            vec![
                file("new.bin", 7, "n"),
                file("size.bin", 6, "x"),
                file("digest.bin", 5, "new"),
                file("same.bin", 1, "s"),
            ],
        );

        let diff = VersionDiff::between(&old, &new);

        assert_eq!(diff.files_added, [file("new.bin", 7, "n")]);
        assert_eq!(diff.files_removed, [file("gone.bin", 9, "g")]);
        let changed: Vec<&str> = diff.files_changed.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(changed, ["digest.bin", "size.bin"]);
        assert_eq!(diff.files_changed[0].old_sha256, "old");
        assert_eq!(diff.files_changed[0].new_sha256, "new");
        assert_eq!(
            (
                diff.files_changed[1].old_size,
                diff.files_changed[1].new_size
            ),
            (5, 6)
        );
        assert_eq!(diff.files_unchanged, 1);
        assert!(!diff.metadata_changed());
        assert!(!diff.is_empty());
    }

    #[test]
    fn tag_order_alone_is_no_change() {
        let old = version(1, metadata(None, &["a", "b"], &[]), vec![]);
        let new = version(2, metadata(None, &["b", "a"], &[]), vec![]);

        assert!(VersionDiff::between(&old, &new).is_empty());
    }
}
