//! A model's profile: the mutable facts a listing shows (description, last
//! update, newest versions), kept in one record so that a row of `/models`
//! costs one read. It changes only by compare-and-swap, and it names the
//! model's live entry in the "updated" index.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `registry/models/<name>/profile.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The newest available version.
    #[serde(default)]
    pub latest_version: Option<u64>,
    /// The newest version number reserved.
    #[serde(default)]
    pub versions: u64,
    /// The model's live entry in the "updated" index.
    pub updated_key: String,
}

/// What happened to a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touch {
    /// A version was published (`available`) or recorded as failed.
    Version { version: u64, available: bool },
    /// The description was replaced.
    Description(String),
    /// Something else about the model changed (an alias moved).
    Other,
}

/// What a touch did to the profile: the profile as written, and the
/// "updated" entry nobody names any more.
#[derive(Clone, Debug)]
pub struct Touched {
    pub profile: Profile,
    pub unreferenced: Option<String>,
}

impl Profile {
    /// Applies a touch at `at` whose new index entry is `entry`. Version
    /// numbers only grow, and the update time never goes back, whatever
    /// order concurrent touches land in; then the new entry is the one left
    /// unnamed.
    pub fn apply(
        mut self,
        touch: &Touch,
        claimed: Option<u64>,
        at: OffsetDateTime,
        entry: &str,
    ) -> Touched {
        // The facts the touch brings.
        match touch {
            Touch::Version { version, available } => {
                if *available {
                    self.latest_version = self.latest_version.max(Some(*version));
                }
                self.versions = self.versions.max(*version);
            }
            Touch::Description(description) => self.description = description.clone(),
            Touch::Other => {}
        }
        self.versions = self.versions.max(claimed.unwrap_or(0));

        // Move the index entry forward, never back.
        let unreferenced = if at >= self.updated_at || self.updated_key.is_empty() {
            self.updated_at = at;
            let old = std::mem::replace(&mut self.updated_key, entry.to_owned());
            (old != entry && !old.is_empty()).then_some(old)
        } else {
            (self.updated_key != entry).then(|| entry.to_owned())
        };
        Touched {
            profile: self,
            unreferenced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(at: OffsetDateTime) -> Profile {
        Profile {
            description: String::new(),
            updated_at: at,
            latest_version: Some(2),
            versions: 3,
            updated_key: "old".into(),
        }
    }

    #[test]
    fn a_newer_touch_moves_the_entry_and_frees_the_old_one() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let later = at + time::Duration::seconds(1);
        let touched = profile(at).apply(
            &Touch::Version {
                version: 4,
                available: true,
            },
            Some(5),
            later,
            "new",
        );
        assert_eq!(touched.profile.updated_key, "new");
        assert_eq!(touched.profile.updated_at, later);
        assert_eq!(touched.profile.latest_version, Some(4));
        assert_eq!(touched.profile.versions, 5);
        assert_eq!(touched.unreferenced.as_deref(), Some("old"));
    }

    #[test]
    fn a_late_touch_keeps_the_newer_entry_and_versions() {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(5);
        let earlier = at - time::Duration::seconds(1);
        let touched = profile(at).apply(
            &Touch::Version {
                version: 1,
                available: true,
            },
            Some(1),
            earlier,
            "stale",
        );
        assert_eq!(touched.profile.updated_key, "old");
        assert_eq!(touched.profile.latest_version, Some(2));
        assert_eq!(touched.profile.versions, 3);
        assert_eq!(touched.unreferenced.as_deref(), Some("stale"));
    }

    #[test]
    fn a_failed_version_counts_but_is_not_the_latest() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let touched = profile(at).apply(
            &Touch::Version {
                version: 4,
                available: false,
            },
            None,
            at,
            "old",
        );
        assert_eq!(touched.profile.latest_version, Some(2));
        assert_eq!(touched.profile.versions, 4);
        assert_eq!(touched.unreferenced, None);
    }
}
