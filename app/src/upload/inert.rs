//! The engine's stand-in on the server, which renders the page but never
//! runs its handlers: the same methods, doing nothing.

use leptos::ev::{DragEvent, Event as DomEvent};

use crate::upload::state::{StartForm, UploadUi};

/// See the browser's `engine::Controls`.
#[derive(Clone, Copy, Debug)]
pub struct Controls;

impl Controls {
    pub fn new(_ui: UploadUi, _csrf_token: String) -> Self {
        Self
    }

    pub fn mount(&self) {}

    pub fn pick_from_input(&self, _event: &DomEvent) {}

    pub fn drop_files(&self, _event: &DragEvent) {}

    pub fn remove_file(&self, _index: usize) {}

    pub fn clear_files(&self) {}

    pub fn start(&self, _form: StartForm) {}

    pub fn pause(&self) {}

    pub fn resume(&self) {}

    pub fn cancel(&self) {}

    pub fn discard(&self, _model: String, _upload_id: String) {}

    pub fn suggest(&self, _prefix: String) {}
}
