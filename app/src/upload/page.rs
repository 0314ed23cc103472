//! `/upload`: pick files or a folder, describe the version, and watch the
//! bytes go straight to storage. The server renders the form; the browser
//! makes it work.

use leptos::ev::{DragEvent, Event as DomEvent, MouseEvent};
use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::CustomAttribute;

use crate::access::Access;
use crate::components::{Gate, use_viewer};
use crate::names::validate_model_name;
use crate::upload::Controls;
use crate::upload::api::{UploadStatus, human_size};
use crate::upload::form::{build_metadata, check_paths, is_name_prefix, parse_metrics};
use crate::upload::plan::{human_duration, human_rate, human_time, percent};
use crate::upload::state::{FileState, ModelSuggestion, Phase, Progress, StartForm, UploadUi};

/// `/upload`: data scientists and admins.
#[component]
pub fn UploadPage() -> impl IntoView {
    view! {
        <Gate access=Access::Upload>
            <UploadWorkbench />
        </Gate>
    }
}

/// The form's free-text fields.
#[derive(Clone, Copy)]
struct Fields {
    description: RwSignal<String>,
    framework: RwSignal<String>,
    tags: RwSignal<String>,
    metrics: RwSignal<String>,
}

/// The whole page, for a user who may upload. Its sections erase their
/// view types, which would otherwise nest too deep for the compiler.
#[component]
fn UploadWorkbench() -> impl IntoView {
    let ui = UploadUi::new();
    let csrf_token = use_viewer()
        .map(|viewer| viewer.csrf_token)
        .unwrap_or_default();
    let controls = Controls::new(ui, csrf_token);
    let fields = Fields {
        description: RwSignal::new(String::new()),
        framework: RwSignal::new(String::new()),
        tags: RwSignal::new(String::new()),
        metrics: RwSignal::new(String::new()),
    };

    // Effects run in the browser only, once the page is live.
    Effect::new(move |_| controls.mount());

    view! {
        <section
            class="panel upload"
            data-testid="upload-page"
            data-ready=move || ui.hydrated.get().to_string()
        >
            <h1>"Upload a new version"</h1>
            <p class="notice" data-testid="needs-javascript" hidden=move || ui.hydrated.get()>
                "Uploading needs JavaScript: your browser sends the files straight to storage, "
                "in parts, and checks every byte. Turn JavaScript on to use this page."
            </p>
            <OpenUploads ui controls />
            <VersionForm ui fields controls />
            <DropZone ui controls />
            <FileList ui controls />
            <Actions ui fields controls />
            <ProgressPanel ui />
        </section>
    }
}

/// The caller's unfinished uploads, each resumable by selecting its files
/// again, or discardable.
#[component]
fn OpenUploads(ui: UploadUi, controls: Controls) -> impl IntoView {
    let listed = move || !ui.open_uploads.with(Vec::is_empty);
    view! {
        <Show when=move || listed() || ui.open_error.with(Option::is_some)>
            <div class="open-uploads" data-testid="open-uploads">
                <h2>"Unfinished uploads"</h2>
                <p class="hint">
                    "Select the same files again and press Start to resume one: parts already "
                    "stored are not sent again."
                </p>
                <p class="error" role="alert">{move || ui.open_error.get()}</p>
                <ul>
                    <For
                        each=move || ui.open_uploads.get()
                        key=|upload| upload.upload_id.clone()
                        children=move |upload| view! { <OpenUpload upload controls /> }
                    />
                </ul>
            </div>
        </Show>
    }
    .into_any()
}

#[component]
fn OpenUpload(upload: UploadStatus, controls: Controls) -> impl IntoView {
    let size: u64 = upload.files.iter().map(|file| file.size).sum();
    let files = upload
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "version {} · {} file(s), {} · started {}",
        upload.version,
        upload.files.len(),
        human_size(size),
        human_time(&upload.created_at)
    );
    let (model, id) = (upload.model.clone(), upload.upload_id.clone());
    view! {
        <li data-testid="open-upload">
            <strong>{upload.model.clone()}</strong>" "{summary}
            <span class="paths">{files}</span>
            <button
                data-testid="discard-upload"
                on:click=move |_| controls.discard(model.clone(), id.clone())
            >
                "Discard"
            </button>
        </li>
    }
    .into_any()
}

/// The model name and the version's description and metadata.
#[component]
fn VersionForm(ui: UploadUi, fields: Fields, controls: Controls) -> impl IntoView {
    let busy = move || ui.phase.with(Phase::is_busy);
    let name_error = move || {
        let name = ui.model.get();
        let name = name.trim();
        (!name.is_empty())
            .then(|| validate_model_name(name).err())
            .flatten()
    };
    let metrics_error = move || parse_metrics(&fields.metrics.get()).err();
    let on_name = move |event: DomEvent| {
        let name = event_target_value(&event);
        let prefix = name.trim();
        if is_name_prefix(prefix) {
            controls.suggest(prefix.to_owned());
        }
        ui.model.set(name);
    };

    view! {
        <div class="fields">
            <label for="model-name">"Model"</label>
            <div>
                <input
                    id="model-name"
                    data-testid="model-name"
                    list="model-suggestions"
                    autocomplete="off"
                    placeholder="fraud-detector"
                    prop:value=move || ui.model.get()
                    on:input=on_name
                    disabled=busy
                />
                <datalist id="model-suggestions">
                    {move || ui.suggestions.get().into_iter().map(|model| {
                        view! { <option value=model.name.clone()></option> }
                    }).collect_view()}
                </datalist>
                <p class="hint" data-testid="model-hint">{move || model_hint(ui)}</p>
                <p class="error" data-testid="model-name-error" role="alert">{name_error}</p>
            </div>

            <label for="description">"Description"</label>
            <textarea
                id="description"
                data-testid="description"
                rows="2"
                prop:value=move || fields.description.get()
                on:input=move |event| fields.description.set(event_target_value(&event))
                disabled=busy
            ></textarea>

            <label for="framework">"Framework"</label>
            <input
                id="framework"
                data-testid="framework"
                placeholder="pytorch"
                prop:value=move || fields.framework.get()
                on:input=move |event| fields.framework.set(event_target_value(&event))
                disabled=busy
            />

            <label for="tags">"Tags"</label>
            <div>
                <input
                    id="tags"
                    data-testid="tags"
                    placeholder="gbm, november"
                    prop:value=move || fields.tags.get()
                    on:input=move |event| fields.tags.set(event_target_value(&event))
                    disabled=busy
                />
                <p class="hint">"Separated by commas."</p>
            </div>

            <label for="metrics">"Metrics"</label>
            <div>
                <textarea
                    id="metrics"
                    data-testid="metrics"
                    rows="3"
                    placeholder="accuracy=0.93\nauc=0.97"
                    prop:value=move || fields.metrics.get()
                    on:input=move |event| fields.metrics.set(event_target_value(&event))
                    disabled=busy
                ></textarea>
                <p class="hint">"One name=number a line."</p>
                <p class="error" data-testid="metrics-error" role="alert">{metrics_error}</p>
            </div>
        </div>
    }
    .into_any()
}

/// Says whether the name is a new model or the next version of one.
fn model_hint(ui: UploadUi) -> String {
    let name = ui.model.get();
    let name = name.trim();
    if name.is_empty() {
        return "A new model's name, or an existing one to add a version to. Leave it empty to \
                resume an unfinished upload by its files."
            .into();
    }
    let known = ui
        .suggestions
        .with(|models| models.iter().find(|model| model.name == name).cloned());
    match known {
        Some(ModelSuggestion {
            latest_version: Some(latest),
            ..
        }) => format!("An existing model: its latest version is {latest}."),
        Some(_) => "An existing model.".into(),
        None => "A new model.".into(),
    }
}

/// Where files and folders are dropped, with the file pickers as the
/// keyboard-friendly way in.
#[component]
fn DropZone(ui: UploadUi, controls: Controls) -> impl IntoView {
    let over = RwSignal::new(false);
    let busy = move || ui.phase.with(Phase::is_busy);
    let on_drag = move |event: DragEvent| {
        // Without this the browser opens the dropped file instead.
        event.prevent_default();
        over.set(!busy());
    };
    let on_drop = move |event: DragEvent| {
        event.prevent_default();
        over.set(false);
        if !busy() {
            controls.drop_files(&event);
        }
    };

    // `webkitdirectory` makes the picker choose a folder; the view macro
    // knows no such attribute, so it is added by name.
    let folder_input = view! {
        <input
            type="file"
            data-testid="folder-input"
            disabled=busy
            on:change=move |event| controls.pick_from_input(&event)
        />
    }
    .attr("webkitdirectory", "");

    view! {
        <div
            class="dropzone"
            class:over=move || over.get()
            data-testid="drop-zone"
            on:dragenter=on_drag
            on:dragover=on_drag
            on:dragleave=move |_| over.set(false)
            on:drop=on_drop
        >
            <p><strong>"Drop files or a folder here"</strong>", or choose them:"</p>
            <div class="pickers">
                <label>
                    "Files "
                    <input
                        type="file"
                        multiple
                        data-testid="file-input"
                        disabled=busy
                        on:change=move |event| controls.pick_from_input(&event)
                    />
                </label>
                <label>"A folder "{folder_input}</label>
            </div>
            <p class="error" role="alert">{move || ui.pick_error.get()}</p>
        </div>
    }
    .into_any()
}

/// The selected files, their paths' problems and each one's progress.
#[component]
fn FileList(ui: UploadUi, controls: Controls) -> impl IntoView {
    let busy = move || ui.phase.with(Phase::is_busy);
    let problems = Memo::new(move |_| {
        let paths: Vec<String> = ui
            .files
            .with(|rows| rows.iter().map(|row| row.path.clone()).collect());
        check_paths(&paths)
            .into_iter()
            .map(Result::err)
            .collect::<Vec<_>>()
    });
    let summary = move || {
        ui.files.with(|rows| {
            let size = rows.iter().map(|row| row.size).sum();
            format!("{} file(s), {}", rows.len(), human_size(size))
        })
    };
    // Keyed by position and path: a row's progress changes in place.
    let rows = move || {
        ui.files.with(|rows| {
            rows.iter()
                .enumerate()
                .map(|(index, row)| (index, row.path.clone()))
                .collect::<Vec<_>>()
        })
    };

    view! {
        <Show when=move || !ui.files.with(Vec::is_empty)>
            <div class="files">
                <p class="summary" data-testid="files-summary">
                    {summary}" "
                    <button class="link" on:click=move |_| controls.clear_files() disabled=busy>
                        "Clear"
                    </button>
                </p>
                <table>
                    <thead>
                        <tr><th>"Path"</th><th>"Size"</th><th>"Progress"</th><th></th></tr>
                    </thead>
                    <tbody>
                        <For
                            each=rows
                            key=|row| row.clone()
                            children=move |(index, _)| {
                                view! { <FileRowView index ui controls problems /> }
                            }
                        />
                    </tbody>
                </table>
            </div>
        </Show>
    }
    .into_any()
}

#[component]
fn FileRowView(
    index: usize,
    ui: UploadUi,
    controls: Controls,
    problems: Memo<Vec<Option<String>>>,
) -> impl IntoView {
    let row = move || ui.files.with(|rows| rows.get(index).cloned());
    let path = move || row().map(|row| row.path).unwrap_or_default();
    let size = move || row().map(|row| human_size(row.size)).unwrap_or_default();
    let share = move || row().map(|row| row.percent()).unwrap_or_default();
    let state = move || match row().map(|row| row.state) {
        Some(FileState::Sent) => "stored".to_owned(),
        Some(FileState::Sending) => format!("{}%", share()),
        _ => String::new(),
    };
    let problem = move || problems.with(|problems| problems.get(index).cloned().flatten());
    let busy = move || ui.phase.with(Phase::is_busy);

    view! {
        <tr data-testid="file-row">
            <td>
                <span class="path" data-testid="file-path">{path}</span>
                <span class="error" role="alert">{problem}</span>
            </td>
            <td class="size">{size}</td>
            <td>
                <progress
                    max="100"
                    value=share
                    aria-label=move || format!("{} progress", path())
                ></progress>
                " "<span class="state">{state}</span>
            </td>
            <td>
                <button class="link" on:click=move |_| controls.remove_file(index) disabled=busy>
                    "Remove"
                </button>
            </td>
        </tr>
    }
    .into_any()
}

/// Start, pause, resume and cancel.
#[component]
fn Actions(ui: UploadUi, fields: Fields, controls: Controls) -> impl IntoView {
    let phase = move || ui.phase.get();
    let can_start = move || {
        let ready = ui.hydrated.get() && !ui.phase.with(Phase::is_busy);
        let has_files = !ui.files.with(Vec::is_empty);
        ready && has_files && start_form(ui, fields).is_ok()
    };
    let on_start = move |_: MouseEvent| {
        if let Ok(form) = start_form(ui, fields) {
            controls.start(form);
        }
    };
    let can_cancel = move || match phase() {
        Phase::Preparing(_) | Phase::Running | Phase::Paused | Phase::Offline => true,
        Phase::Failed(_) => ui.target.with(Option::is_some),
        _ => false,
    };

    view! {
        <div class="actions">
            <button
                class="primary"
                data-testid="start-upload"
                disabled=move || !can_start()
                on:click=on_start
            >
                "Start upload"
            </button>
            <Show when=move || phase() == Phase::Running>
                <button data-testid="pause-upload" on:click=move |_| controls.pause()>
                    "Pause"
                </button>
            </Show>
            <Show when=move || matches!(phase(), Phase::Paused | Phase::Offline)>
                <button data-testid="resume-upload" on:click=move |_| controls.resume()>
                    "Resume"
                </button>
            </Show>
            <Show when=can_cancel>
                <button
                    data-testid="cancel-upload"
                    class="danger"
                    on:click=move |_| controls.cancel()
                >
                    "Cancel upload"
                </button>
            </Show>
        </div>
    }
    .into_any()
}

/// The form as Start sends it, or the first thing to fix.
fn start_form(ui: UploadUi, fields: Fields) -> Result<StartForm, String> {
    let model = ui.model.with(|name| name.trim().to_owned());
    if !model.is_empty() {
        validate_model_name(&model)?;
    }
    let metadata = fields.framework.with(|framework| {
        fields.tags.with(|tags| {
            fields
                .metrics
                .with(|metrics| build_metadata(framework, tags, metrics))
        })
    })?;
    let paths: Vec<String> = ui
        .files
        .with(|rows| rows.iter().map(|row| row.path.clone()).collect());
    let paths = check_paths(&paths)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StartForm {
        model,
        description: fields.description.get(),
        metadata,
        paths,
    })
}

/// The whole upload's progress, its state in words, and how it ended.
#[component]
fn ProgressPanel(ui: UploadUi) -> impl IntoView {
    let share = move || {
        if matches!(ui.phase.get(), Phase::Done(_)) {
            return 100;
        }
        ui.progress
            .with(|progress| percent(progress.done, progress.total))
    };
    let published = move || match ui.phase.get() {
        Phase::Done(published) => Some(published),
        _ => None,
    };
    let failure = move || match ui.phase.get() {
        Phase::Failed(message) => Some(message),
        _ => None,
    };

    view! {
        <Show when=move || ui.phase.get() != Phase::Idle>
            <div class="progress-panel">
                <p class="target" data-testid="upload-target">{move || ui.target.get()}</p>
                <div
                    class="bar"
                    data-testid="upload-progress"
                    role="progressbar"
                    aria-label="Upload progress"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || share().to_string()
                >
                    <div class="fill" style:width=move || format!("{}%", share())></div>
                </div>
                <p class="figures" data-testid="upload-figures">
                    {move || figures(&ui.progress.get(), share())}
                </p>
                <p class="status" role="status" data-testid="upload-status">
                    {move || status_text(&ui.phase.get())}
                </p>
                {move || published().map(|published| view! {
                    <div class="done" data-testid="upload-done">
                        "Published "
                        <a href=published.url.clone()>
                            {published.model.clone()}" version "{published.version}
                        </a>
                        "."
                    </div>
                })}
                {move || failure().map(|message| view! {
                    <div class="error" role="alert" data-testid="upload-error">{message}</div>
                })}
            </div>
        </Show>
    }
    .into_any()
}

/// `42% · 84.0 MiB of 200.0 MiB · 12.0 MiB/s · 10 s left`.
fn figures(progress: &Progress, share: u8) -> String {
    let mut text = format!(
        "{share}% · {} of {}",
        human_size(progress.done),
        human_size(progress.total)
    );
    if let Some(rate) = progress.rate {
        text.push_str(&format!(" · {}", human_rate(rate)));
    }
    if let Some(eta) = progress.eta {
        text.push_str(&format!(" · {} left", human_duration(eta)));
    }
    text
}

/// The phase in words.
fn status_text(phase: &Phase) -> String {
    match phase {
        Phase::Idle => String::new(),
        Phase::Preparing(what) => what.clone(),
        Phase::Running => "Uploading…".into(),
        Phase::Paused => "Paused. Nothing is sent until you resume.".into(),
        Phase::Offline => "The network is gone; the upload goes on when it is back.".into(),
        Phase::Completing => "Every part is stored; Coffer is checking and publishing…".into(),
        Phase::Done(_) => "Done.".into(),
        Phase::Failed(_) => "Stopped.".into(),
        Phase::Cancelling => "Cancelling…".into(),
        Phase::Cancelled => "Cancelled: nothing of this upload is kept.".into(),
    }
}
