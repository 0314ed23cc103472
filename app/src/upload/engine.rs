//! The upload page's engine, in the browser only: it keeps the picked
//! files, recognises an unfinished upload of the same files, starts or
//! resumes it, hands the bytes to a [`Transfer`] and publishes the version.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use leptos::ev::{DragEvent, Event as DomEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

use crate::names::validate_model_name;
use crate::upload::api::{CompleteUpload, FileDeclaration, StartUpload, UploadStatus, VersionView};
use crate::upload::client::{ApiError, Client, sleep};
use crate::upload::form::find_resumable;
use crate::upload::local::{self, Picked};
use crate::upload::plan::{MAX_ATTEMPTS, backoff_ms};
use crate::upload::state::{FileRow, Phase, Progress, Published, StartForm, UploadUi};
use crate::upload::transfer::{Control, End, Event, Prepared, Transfer};

/// The page's handle on the engine: `Copy`, so every event handler can
/// hold one. The engine itself holds browser objects and stays on the
/// page's thread.
#[derive(Clone, Copy)]
pub struct Controls {
    engine: StoredValue<Engine, LocalStorage>,
}

impl Controls {
    pub fn new(ui: UploadUi, csrf_token: String) -> Self {
        let engine = Engine {
            ui,
            client: Client::new(csrf_token),
            inner: Rc::default(),
        };
        Self {
            engine: StoredValue::new_local(engine),
        }
    }

    fn engine(&self) -> Option<Engine> {
        self.engine.try_get_value()
    }

    /// Once the page is live: list unfinished uploads and known models.
    pub fn mount(&self) {
        let Some(engine) = self.engine() else {
            return;
        };
        engine.ui.hydrated.set(true);
        spawn_local(async move {
            engine.refresh_open_uploads().await;
            engine.suggest(String::new()).await;
        });
    }

    /// The files of an `<input type=file>` that just changed.
    pub fn pick_from_input(&self, event: &DomEvent) {
        let input = event
            .target()
            .and_then(|target| target.dyn_into::<HtmlInputElement>().ok());
        let (Some(engine), Some(input)) = (self.engine(), input) else {
            return;
        };
        engine.add(local::from_input(&input));
        // Emptied, the input reports the same file again if chosen again.
        input.set_value("");
    }

    /// Files and folders dropped on the drop zone.
    pub fn drop_files(&self, event: &DragEvent) {
        let Some(engine) = self.engine() else {
            return;
        };
        // Entries must be taken during the event; walking them can wait.
        let dropped = local::take_drop(event);
        spawn_local(async move {
            match local::expand(dropped).await {
                Ok(picked) => engine.add(picked),
                Err(error) => engine.ui.pick_error.set(Some(error)),
            }
        });
    }

    pub fn remove_file(&self, index: usize) {
        if let Some(engine) = self.engine() {
            engine.remove(Some(index));
        }
    }

    pub fn clear_files(&self) {
        if let Some(engine) = self.engine() {
            engine.remove(None);
        }
    }

    pub fn start(&self, form: StartForm) {
        if let Some(engine) = self.engine() {
            engine.start(form);
        }
    }

    pub fn pause(&self) {
        self.send(Control::Pause);
    }

    pub fn resume(&self) {
        self.send(Control::Resume);
    }

    /// Cancels the running upload, or discards the one a failure left open.
    pub fn cancel(&self) {
        let Some(engine) = self.engine() else {
            return;
        };
        if engine.inner.borrow().control.is_some() {
            return self.send(Control::Cancel);
        }
        let left_open = engine.inner.borrow_mut().left_open.take();
        if let Some((model, id)) = left_open {
            spawn_local(async move {
                let outcome = engine.abort(&model, &id).await;
                engine.finish(outcome);
                engine.refresh_open_uploads().await;
            });
        }
    }

    /// Aborts an unfinished upload from the list.
    pub fn discard(&self, model: String, upload_id: String) {
        let Some(engine) = self.engine() else {
            return;
        };
        // The upload a failure left open may be the one discarded here.
        let mut inner = engine.inner.borrow_mut();
        if inner
            .left_open
            .as_ref()
            .is_some_and(|(_, id)| *id == upload_id)
        {
            inner.left_open = None;
        }
        drop(inner);
        spawn_local(async move {
            if let Err(error) = engine.client.abort(&model, &upload_id).await {
                let message = format!("Could not discard the upload of {model}: {error}");
                engine.ui.open_error.set(Some(message));
            }
            engine.refresh_open_uploads().await;
        });
    }

    /// Offers model names starting with what was typed.
    pub fn suggest(&self, prefix: String) {
        if let Some(engine) = self.engine() {
            spawn_local(async move { engine.suggest(prefix).await });
        }
    }

    fn send(&self, control: Control) {
        let Some(engine) = self.engine() else {
            return;
        };
        if let Some(sender) = &engine.inner.borrow().control {
            let _ = sender.unbounded_send(Event::Control(control));
        }
    }
}

/// The engine's state behind the page's handle.
#[derive(Clone)]
struct Engine {
    ui: UploadUi,
    client: Client,
    inner: Rc<RefCell<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// The selected files, in the order the page lists them.
    picked: Vec<Picked>,
    /// Reaches the running transfer, while one runs.
    control: Option<UnboundedSender<Event>>,
    /// An upload a failure left open, which Cancel discards.
    left_open: Option<(String, String)>,
    /// Only the answer to the latest suggestion request is shown.
    suggestion_seq: u64,
}

/// How an upload attempt ended.
enum Outcome {
    Published(Box<VersionView>),
    Cancelled,
    /// `open` names the upload left open for a later resume.
    Failed {
        message: String,
        open: Option<(String, String)>,
    },
}

impl Engine {
    /// Adds picked files; a file with the same path replaces the old one.
    fn add(&self, picked: Vec<Picked>) {
        if self.ui.phase.get_untracked().is_busy() || picked.is_empty() {
            return;
        }
        {
            let mut inner = self.inner.borrow_mut();
            for item in picked {
                match inner.picked.iter_mut().find(|old| old.path == item.path) {
                    Some(old) => *old = item,
                    None => inner.picked.push(item),
                }
            }
        }
        self.ui.pick_error.set(None);
        self.reset();
    }

    /// Removes one file, or all of them.
    fn remove(&self, index: Option<usize>) {
        if self.ui.phase.get_untracked().is_busy() {
            return;
        }
        {
            let mut inner = self.inner.borrow_mut();
            match index {
                Some(index) if index < inner.picked.len() => {
                    inner.picked.remove(index);
                }
                Some(_) => {}
                None => inner.picked.clear(),
            }
        }
        self.reset();
    }

    /// A fresh list of files and no upload under way.
    fn reset(&self) {
        let rows = self
            .inner
            .borrow()
            .picked
            .iter()
            .map(|item| FileRow::new(item.path.clone(), item.size()))
            .collect();
        self.ui.files.set(rows);
        self.ui.progress.set(Progress::default());
        self.ui.target.set(None);
        self.ui.phase.set(Phase::Idle);
    }

    fn start(&self, form: StartForm) {
        if self.ui.phase.get_untracked().is_busy() {
            return;
        }
        let picked = self.inner.borrow().picked.clone();
        if picked.is_empty() || picked.len() != form.paths.len() {
            return;
        }
        self.reset();
        let total = picked.iter().map(Picked::size).sum();
        self.ui.progress.set(Progress {
            total,
            ..Progress::default()
        });
        self.ui
            .phase
            .set(Phase::Preparing("Recognising the files…".into()));

        let (sender, receiver) = unbounded();
        {
            let mut inner = self.inner.borrow_mut();
            inner.control = Some(sender.clone());
            inner.left_open = None;
        }
        let engine = self.clone();
        spawn_local(async move {
            let outcome = engine.run(form, picked, sender, receiver).await;
            engine.inner.borrow_mut().control = None;
            engine.finish(outcome);
            engine.refresh_open_uploads().await;
            // The model may be new, or have a new latest version.
            let model = engine.ui.model.get_untracked().trim().to_owned();
            engine.suggest(model).await;
        });
    }

    async fn run(
        &self,
        form: StartForm,
        picked: Vec<Picked>,
        sender: UnboundedSender<Event>,
        mut events: UnboundedReceiver<Event>,
    ) -> Outcome {
        // Start a new upload or find the one these files belong to.
        let prepared = match self.prepare(&form, &picked, &mut events).await {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return Outcome::Cancelled,
            Err(message) => {
                return Outcome::Failed {
                    message,
                    open: None,
                };
            }
        };
        let model = prepared.status.model.clone();
        let id = prepared.status.upload_id.clone();
        let open = Some((model.clone(), id.clone()));
        if cancel_requested(&mut events) {
            return self.abort(&model, &id).await;
        }

        // Move the bytes, then publish.
        let transfer = match Transfer::new(self.ui, self.client.clone(), prepared, &picked, sender)
        {
            Ok(transfer) => transfer,
            Err(message) => return Outcome::Failed { message, open },
        };
        match transfer.run(&mut events).await {
            End::Sent(complete) => self.publish(&model, &id, &complete).await,
            End::Cancelled => self.abort(&model, &id).await,
            End::Failed(message) => Outcome::Failed { message, open },
        }
    }

    /// Fingerprints the files; resumes the open upload made of them, or
    /// starts a new one. `None` when the user cancelled meanwhile.
    async fn prepare(
        &self,
        form: &StartForm,
        picked: &[Picked],
        events: &mut UnboundedReceiver<Event>,
    ) -> Result<Option<Prepared>, String> {
        let mut fingerprints = Vec::with_capacity(picked.len());
        for item in picked {
            let fingerprint = local::fingerprint(&item.file)
                .await
                .map_err(|error| format!("Could not read {}: {error}", item.path))?;
            fingerprints.push(fingerprint);
            if cancel_requested(events) {
                return Ok(None);
            }
        }

        // The same files, of the same model or of any when none is named,
        // continue where they stopped.
        self.ui.phase.set(Phase::Preparing(
            "Looking for an unfinished upload of these files…".into(),
        ));
        let open = with_retries(|| self.client.open_uploads())
            .await
            .map_err(|error| format!("Could not list your unfinished uploads: {error}"))?;
        if let Some(found) = find_resumable(&open, &form.model, &fingerprints) {
            return self.resume(found.upload, found.local).await.map(Some);
        }
        self.start_new(form, picked, fingerprints).await.map(Some)
    }

    /// Asks which parts of an open upload are stored already.
    async fn resume(&self, upload: UploadStatus, local: Vec<usize>) -> Result<Prepared, String> {
        self.ui.model.set(upload.model.clone());
        self.ui.phase.set(Phase::Preparing(
            "Checking which parts are stored already…".into(),
        ));
        let status = with_retries(|| self.client.status(&upload.model, &upload.upload_id))
            .await
            .map_err(|error| format!("Could not resume the upload: {error}"))?;
        self.ui.target.set(Some(format!(
            "Resuming {} version {}: parts stored before are checked and not sent again.",
            status.model, status.version
        )));
        Ok(Prepared { status, local })
    }

    /// Announces the files; Coffer reserves the next version.
    async fn start_new(
        &self,
        form: &StartForm,
        picked: &[Picked],
        fingerprints: Vec<String>,
    ) -> Result<Prepared, String> {
        if form.model.is_empty() {
            return Err(
                "Enter a model name: a new one, or an existing model to add a version to.".into(),
            );
        }
        validate_model_name(&form.model)?;
        let files = picked
            .iter()
            .zip(&form.paths)
            .zip(fingerprints)
            .map(|((item, path), fingerprint)| FileDeclaration {
                path: path.clone(),
                size: item.size(),
                sha256: None,
                fingerprint: Some(fingerprint),
            })
            .collect();
        let body = StartUpload {
            description: form.description.clone(),
            metadata: form.metadata.clone(),
            files,
        };

        // Not retried: a lost answer may hide a started upload, which the
        // next Start finds by fingerprint.
        self.ui
            .phase
            .set(Phase::Preparing("Reserving the next version…".into()));
        let status = self
            .client
            .start(&form.model, &body)
            .await
            .map_err(|error| format!("Coffer did not start the upload: {error}"))?;
        let local = match_paths(&status, &form.paths)?;
        self.ui.target.set(Some(format!(
            "Uploading {} version {}.",
            status.model, status.version
        )));
        Ok(Prepared { status, local })
    }

    async fn publish(&self, model: &str, id: &str, complete: &CompleteUpload) -> Outcome {
        self.ui.phase.set(Phase::Completing);
        match with_retries(|| self.client.complete(model, id, complete)).await {
            Ok(version) => Outcome::Published(Box::new(version)),
            Err(error) => Outcome::Failed {
                message: format!(
                    "Coffer did not publish the version: {error}. The upload stays open: \
                     start again with the same files to finish it."
                ),
                open: Some((model.to_owned(), id.to_owned())),
            },
        }
    }

    async fn abort(&self, model: &str, id: &str) -> Outcome {
        self.ui.phase.set(Phase::Cancelling);
        match with_retries(|| self.client.abort(model, id)).await {
            Ok(()) => Outcome::Cancelled,
            Err(error) => Outcome::Failed {
                message: format!("Could not cancel the upload: {error}"),
                open: Some((model.to_owned(), id.to_owned())),
            },
        }
    }

    /// Shows how the attempt ended.
    fn finish(&self, outcome: Outcome) {
        let left_open = match outcome {
            Outcome::Published(version) => {
                self.ui.progress.update(|progress| {
                    progress.done = progress.total;
                    progress.eta = None;
                });
                self.ui.phase.set(Phase::Done(Published {
                    model: version.model,
                    version: version.version,
                    url: version.url,
                }));
                None
            }
            Outcome::Cancelled => {
                self.ui.phase.set(Phase::Cancelled);
                None
            }
            Outcome::Failed { message, open } => {
                self.ui.phase.set(Phase::Failed(message));
                open
            }
        };
        self.inner.borrow_mut().left_open = left_open;
    }

    async fn refresh_open_uploads(&self) {
        match self.client.open_uploads().await {
            Ok(uploads) => {
                self.ui.open_uploads.set(uploads);
                self.ui.open_error.set(None);
            }
            Err(error) => {
                let message = format!("Could not list your unfinished uploads: {error}");
                self.ui.open_error.set(Some(message));
            }
        }
    }

    /// Suggestions are a convenience: a failure shows none.
    async fn suggest(&self, prefix: String) {
        let seq = {
            let mut inner = self.inner.borrow_mut();
            inner.suggestion_seq += 1;
            inner.suggestion_seq
        };
        let models = self.client.models(&prefix).await.unwrap_or_default();
        if self.inner.borrow().suggestion_seq == seq {
            self.ui.suggestions.set(models);
        }
    }
}

/// For each file Coffer planned, the selected file with its path.
fn match_paths(status: &UploadStatus, paths: &[String]) -> Result<Vec<usize>, String> {
    status
        .files
        .iter()
        .map(|file| {
            paths
                .iter()
                .position(|path| *path == file.path)
                .ok_or_else(|| {
                    format!("Coffer planned a file the page did not send: {}", file.path)
                })
        })
        .collect()
}

/// Whether Cancel was pressed; other controls mean nothing before bytes
/// flow.
fn cancel_requested(events: &mut UnboundedReceiver<Event>) -> bool {
    let mut cancelled = false;
    while let Ok(event) = events.try_recv() {
        cancelled |= matches!(event, Event::Control(Control::Cancel));
    }
    cancelled
}

/// Calls again, after a growing wait, while the failure may pass.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(error) if error.is_retryable() && attempt + 1 < MAX_ATTEMPTS => {
                attempt += 1;
                sleep(backoff_ms(attempt)).await;
            }
            other => return other,
        }
    }
}
