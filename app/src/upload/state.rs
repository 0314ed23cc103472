//! What the upload page shows, as signals the transfer engine writes and the
//! page reads. Plain data only, so the server renders the same initial page
//! the browser hydrates.

use leptos::prelude::*;

use crate::upload::api::{Metadata, UploadStatus};
use crate::upload::plan::percent;

/// Where the upload as a whole stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Phase {
    /// Nothing started yet; files and fields may change.
    #[default]
    Idle,
    /// Recognising the files and talking to Coffer before bytes flow; the
    /// text says what is happening.
    Preparing(String),
    Running,
    /// Stopped by the user; nothing is sent until resumed.
    Paused,
    /// The network is gone; the upload goes on by itself when it is back.
    Offline,
    /// Every part is stored; Coffer is checking and publishing.
    Completing,
    /// Published.
    Done(Published),
    /// Stopped for a reason the user should read; the upload stays open
    /// and starting again with the same files resumes it.
    Failed(String),
    Cancelling,
    Cancelled,
}

impl Phase {
    /// Whether an upload is under way (and the form is locked).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Phase::Preparing(_)
                | Phase::Running
                | Phase::Paused
                | Phase::Offline
                | Phase::Completing
                | Phase::Cancelling
        )
    }
}

/// The version an upload published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub model: String,
    pub version: u64,
    /// The version's page.
    pub url: String,
}

/// How far one selected file has come.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileState {
    #[default]
    Waiting,
    Sending,
    /// Every part is stored.
    Sent,
}

/// One selected file, as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    /// The path inside the version, as picked (normalised when sent).
    pub path: String,
    pub size: u64,
    /// Bytes confirmed stored.
    pub done: u64,
    pub state: FileState,
}

impl FileRow {
    pub fn new(path: String, size: u64) -> Self {
        Self {
            path,
            size,
            done: 0,
            state: FileState::Waiting,
        }
    }

    /// Whole percent stored; an empty file is whole once sent.
    pub fn percent(&self) -> u8 {
        match (self.state, self.size) {
            (FileState::Sent, _) => 100,
            (_, size) => percent(self.done, size),
        }
    }
}

/// The whole upload's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Bytes confirmed stored, including parts kept from before a reload.
    pub done: u64,
    pub total: u64,
    /// Bytes per second lately, when known.
    pub rate: Option<f64>,
    /// Seconds left at that rate.
    pub eta: Option<f64>,
}

/// A model name offered while typing, with what it already holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSuggestion {
    pub name: String,
    pub latest_version: Option<u64>,
}

/// What Start hands the engine, already checked by the form's rules.
#[derive(Clone, Debug, PartialEq)]
pub struct StartForm {
    /// The model to add a version to; empty when resuming by files alone.
    pub model: String,
    pub description: String,
    pub metadata: Metadata,
    /// Normalised paths, in the order of the selected files.
    pub paths: Vec<String>,
}

/// The page's shared state; `Copy`, so every handler can hold it.
#[derive(Clone, Copy, Debug)]
pub struct UploadUi {
    pub model: RwSignal<String>,
    pub files: RwSignal<Vec<FileRow>>,
    pub phase: RwSignal<Phase>,
    pub progress: RwSignal<Progress>,
    /// The caller's unfinished uploads, as Coffer lists them.
    pub open_uploads: RwSignal<Vec<UploadStatus>>,
    /// Why the unfinished uploads could not be listed or discarded.
    pub open_error: RwSignal<Option<String>>,
    pub suggestions: RwSignal<Vec<ModelSuggestion>>,
    /// A remark about the files (a folder that could not be read, say).
    pub pick_error: RwSignal<Option<String>>,
    /// Which upload this is, once Coffer has one: "resnet version 4".
    pub target: RwSignal<Option<String>>,
    /// Set once the browser has taken over the page.
    pub hydrated: RwSignal<bool>,
}

impl UploadUi {
    pub fn new() -> Self {
        Self {
            model: RwSignal::new(String::new()),
            files: RwSignal::new(Vec::new()),
            phase: RwSignal::new(Phase::Idle),
            progress: RwSignal::new(Progress::default()),
            open_uploads: RwSignal::new(Vec::new()),
            open_error: RwSignal::new(None),
            suggestions: RwSignal::new(Vec::new()),
            pick_error: RwSignal::new(None),
            target: RwSignal::new(None),
            hydrated: RwSignal::new(false),
        }
    }
}

impl Default for UploadUi {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_whole_once_sent() {
        let mut row = FileRow::new("empty".into(), 0);
        assert_eq!(row.percent(), 0);
        row.state = FileState::Sent;
        assert_eq!(row.percent(), 100);
    }

    #[test]
    fn only_unfinished_phases_lock_the_form() {
        assert!(Phase::Paused.is_busy());
        assert!(!Phase::Failed("x".into()).is_busy());
        assert!(!Phase::Idle.is_busy());
    }
}
