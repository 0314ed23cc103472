//! `/models/{name}/versions/{n}`: one version's files with their SHA-256
//! and download links, its metadata, its model card, what changed since
//! the version before, a warning on pickle-based files, and, for those who
//! may share, a form that creates a share link.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::components::use_viewer;
use crate::models::api::VersionPageData;
use crate::models::diff::VersionDiff;
use crate::models::pickle::is_pickle_based;
use crate::server_fns::AppError;
use crate::shares::copy::CopyButton;
use crate::shares::form::ShareForm;
use crate::shares::links::{encode_segment, version_file_href};
use crate::upload::api::{VersionFile, VersionState, VersionView, human_size};
use crate::upload::plan::human_time;

/// A version with the one before it and its model card, for anyone who
/// may browse.
#[server(prefix = "/_srv", endpoint = "version_page")]
pub async fn load_version_page(model: String, version: u64) -> Result<VersionPageData, AppError> {
    use crate::models::catalog::{caller, catalog};
    use crate::names::validate_model_name;
    use crate::session::Viewer;

    caller(Viewer::may_browse)?;

    // No version can have an invalid model name, so there is nothing to read.
    validate_model_name(&model).map_err(|_| AppError::NotFound)?;
    catalog()?
        .version_page(model, version)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)
}

/// The page: loads the version on the server, renders it, and hydrates.
#[component]
pub fn VersionPage() -> impl IntoView {
    let params = use_params_map();
    let wanted = move || {
        params.with(|params| {
            let name = params.get("name").unwrap_or_default();
            let version = params
                .get("version")
                .and_then(|text| text.parse::<u64>().ok());
            (name, version)
        })
    };
    let details = Resource::new(wanted, |(name, version)| async move {
        match version {
            Some(version) => load_version_page(name, version).await,
            None => Err(AppError::NotFound),
        }
    });

    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                details
                    .get()
                    .map(|result| match result {
                        Ok(data) => view! { <VersionDetails data /> }.into_any(),
                        Err(error) => {
                            view! {
                                <section class="panel">
                                    <h1>"Version not available"</h1>
                                    <p data-testid="version-error">{error.to_string()}</p>
                                </section>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
    .into_any()
}

/// A loaded version, section by section. Each section erases its view
/// type, which would otherwise nest too deep for the compiler.
#[component]
fn VersionDetails(data: VersionPageData) -> impl IntoView {
    let VersionPageData {
        version,
        previous,
        card_html,
    } = data;
    let viewer = use_viewer();

    // Buttons work only once the browser runs the page; tests wait for
    // this too.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));

    // Compliance reads but never shares; a failed version has nothing to
    // share.
    let share = viewer
        .filter(|viewer| viewer.may_upload())
        .filter(|_| version.state == VersionState::Available)
        .map(|viewer| {
            let files = version.files.iter().map(|file| file.path.clone()).collect();
            view! {
                <ShareForm
                    model=version.model.clone()
                    version=version.version
                    files
                    csrf_token=viewer.csrf_token
                    ready=ready.into()
                />
            }
        });
    let changes = view! { <Changes version=version.clone() previous /> };

    view! {
        <div class="version-page" data-testid="version-page" data-ready=move || ready.get().to_string()>
            <Summary version=version.clone() />
            <PickleWarning files=version.files.clone() />
            <Files version=version.clone() />
            {share}
            {card_html.map(|html| view! { <ModelCard html /> })}
            {changes}
        </div>
    }
    .into_any()
}

/// Title, who and when, aliases, description and metadata.
#[component]
fn Summary(version: VersionView) -> impl IntoView {
    let state = match version.state {
        VersionState::Available => "available",
        VersionState::Failed => "failed",
        VersionState::Uploading => "uploading",
    };
    let total: u64 = version.files.iter().map(|file| file.size).sum();
    let model_href = format!("/models/{}", encode_segment(&version.model));
    let aliases = version
        .aliases
        .iter()
        .map(|alias| view! { <span class="alias" data-testid="version-alias">{alias.clone()}</span> })
        .collect_view();
    let metadata = &version.metadata;
    let tags = metadata.tags.join(", ");
    let metrics = metadata
        .metrics
        .iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect::<Vec<_>>()
        .join(", ");
    let files = match version.files.len() {
        1 => "1 file".to_owned(),
        count => format!("{count} files"),
    };

    view! {
        <section class="panel">
            <p class="crumbs">
                <a href="/models">"Models"</a> " / "
                <a href=model_href data-testid="model-link">{version.model.clone()}</a>
            </p>
            <h1 data-testid="version-title">
                {format!("{} · version {}", version.model, version.version)}
            </h1>
            <p>
                <span class=format!("state {state}") data-testid="version-state">{state}</span>
                " · uploaded by " {version.uploader.clone()}
                " · started " {human_time(&version.created_at)}
                " · finished " {human_time(&version.finished_at)}
                " · " {files} ", " {human_size(total)}
            </p>
            {(!version.aliases.is_empty()).then(|| view! {
                <p class="aliases">"Aliases pointing here: " {aliases}</p>
            })}
            {version.failure.clone().map(|failure| view! { <p class="error">{failure}</p> })}
            {(!version.description.is_empty()).then(|| view! {
                <p class="description">{version.description.clone()}</p>
            })}
            <dl class="metadata">
                {metadata.framework.clone().map(|framework| view! {
                    <dt>"Framework"</dt><dd>{framework}</dd>
                })}
                {(!tags.is_empty()).then(|| view! { <dt>"Tags"</dt><dd>{tags}</dd> })}
                {(!metrics.is_empty()).then(|| view! { <dt>"Metrics"</dt><dd>{metrics}</dd> })}
            </dl>
        </section>
    }
    .into_any()
}

/// Says which files run code when loaded, before anyone downloads them.
#[component]
fn PickleWarning(files: Vec<VersionFile>) -> impl IntoView {
    let pickles: Vec<String> = files
        .into_iter()
        .map(|file| file.path)
        .filter(|path| is_pickle_based(path))
        .collect();
    (!pickles.is_empty())
        .then(|| {
            let items = pickles
                .into_iter()
                .map(|path| view! { <li class="path">{path}</li> })
                .collect_view();
            view! {
                <section class="panel warning" role="note" data-testid="pickle-warning">
                    <h2>"Pickle-based files"</h2>
                    <p>
                        "These files run code when loaded: load them only from sources you "
                        "trust, or prefer safetensors."
                    </p>
                    <ul>{items}</ul>
                </section>
            }
        })
        .into_any()
}

/// The files with size, SHA-256 (copyable) and a download link each.
#[component]
fn Files(version: VersionView) -> impl IntoView {
    let rows = version
        .files
        .iter()
        .map(|file| {
            let href = version_file_href(&version.model, version.version, &file.path);
            view! { <FileRow file=file.clone() href /> }
        })
        .collect_view();
    view! {
        <section class="panel">
            <h2>"Files"</h2>
            <table class="files">
                <thead>
                    <tr><th>"File"</th><th>"Size"</th><th>"SHA-256"</th><th></th></tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn FileRow(file: VersionFile, href: String) -> impl IntoView {
    let label = format!("Copy the SHA-256 of {}", file.path);
    // `rel="external"` keeps the router from handling the click, so the
    // browser follows the redirect and saves the file.
    view! {
        <tr data-testid="version-file">
            <td class="path">{file.path.clone()}</td>
            <td class="size">{human_size(file.size)}</td>
            <td>
                <div class="digest-line">
                    <code class="digest" data-testid="file-sha256">{file.sha256.clone()}</code>
                    <CopyButton text=file.sha256.clone() label test_id="copy-sha256" />
                </div>
            </td>
            <td>
                <a class="button" href=href rel="external" data-testid="download-file">
                    "Download"
                </a>
            </td>
        </tr>
    }
    .into_any()
}

/// The version's `README.md`, rendered.
#[component]
fn ModelCard(html: String) -> impl IntoView {
    // The one place the portal injects HTML: the server rendered the
    // Markdown and removed every raw HTML element and unsafe link scheme
    // before it left the catalog, so the string is inert markup.
    view! {
        <section class="panel">
            <h2>"Model card"</h2>
            <article class="model-card" data-testid="model-card" inner_html=html></article>
        </section>
    }
    .into_any()
}

/// What changed since the previous version, or that there is none.
#[component]
fn Changes(version: VersionView, previous: Option<VersionView>) -> impl IntoView {
    let Some(previous) = previous else {
        return view! {
            <section class="panel changes" data-testid="version-diff">
                <h2>"Changes"</h2>
                <p>"This is the first version of " {version.model.clone()} "."</p>
            </section>
        }
        .into_any();
    };
    let diff = VersionDiff::between(&previous, &version);
    let previous_href = format!(
        "/models/{}/versions/{}",
        encode_segment(&previous.model),
        previous.version
    );

    view! {
        <section class="panel changes" data-testid="version-diff">
            <h2>
                "Changes since " <a href=previous_href>{format!("version {}", previous.version)}</a>
            </h2>
            {diff.is_empty().then(|| view! {
                <p data-testid="diff-none">"Same metadata and files as the previous version."</p>
            })}
            <MetadataChanges diff=diff.clone() />
            <FileChanges diff />
        </section>
    }
    .into_any()
}

/// One line per metadata change, with old and new values.
#[component]
fn MetadataChanges(diff: VersionDiff) -> impl IntoView {
    let mut lines: Vec<(Change, String)> = Vec::new();
    if let Some((old, new)) = &diff.framework {
        let show = |value: &Option<String>| value.clone().unwrap_or_else(|| "none".into());
        lines.push((
            Change::Changed,
            format!("framework: {} → {}", show(old), show(new)),
        ));
    }
    for tag in &diff.tags_added {
        lines.push((Change::Added, format!("tag {tag}")));
    }
    for tag in &diff.tags_removed {
        lines.push((Change::Removed, format!("tag {tag}")));
    }
    for (name, value) in &diff.metrics_added {
        lines.push((Change::Added, format!("metric {name} = {value}")));
    }
    for (name, value) in &diff.metrics_removed {
        lines.push((Change::Removed, format!("metric {name} (was {value})")));
    }
    for change in &diff.metrics_changed {
        lines.push((
            Change::Changed,
            format!("metric {}: {} → {}", change.name, change.old, change.new),
        ));
    }
    if diff.description_changed {
        lines.push((Change::Changed, "description".to_owned()));
    }
    change_list("Metadata", "diff-metadata", lines)
}

/// One line per added, removed or changed file, and how many stayed.
#[component]
fn FileChanges(diff: VersionDiff) -> impl IntoView {
    let mut lines: Vec<(Change, String)> = Vec::new();
    for file in &diff.files_added {
        lines.push((
            Change::Added,
            format!("{} ({})", file.path, human_size(file.size)),
        ));
    }
    for file in &diff.files_removed {
        lines.push((
            Change::Removed,
            format!("{} ({})", file.path, human_size(file.size)),
        ));
    }
    for change in &diff.files_changed {
        lines.push((
            Change::Changed,
            format!(
                "{}: {} → {}, SHA-256 {} → {}",
                change.path,
                human_size(change.old_size),
                human_size(change.new_size),
                short_digest(&change.old_sha256),
                short_digest(&change.new_sha256)
            ),
        ));
    }
    let unchanged = match diff.files_unchanged {
        0 => None,
        1 => Some("1 file unchanged.".to_owned()),
        count => Some(format!("{count} files unchanged.")),
    };
    view! {
        {change_list("Files", "diff-files", lines)}
        {unchanged.map(|text| view! { <p class="hint" data-testid="diff-unchanged">{text}</p> })}
    }
    .into_any()
}

/// How a line of the changes differs.
#[derive(Clone, Copy)]
enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Change::Added => "+",
            Change::Removed => "−",
            Change::Changed => "~",
        }
    }
}

/// A titled list of changes, each marked added, removed or changed; no
/// markup at all when empty.
fn change_list(
    title: &'static str,
    test_id: &'static str,
    lines: Vec<(Change, String)>,
) -> AnyView {
    if lines.is_empty() {
        return ().into_any();
    }
    let items = lines
        .into_iter()
        .map(|(change, text)| {
            let kind = change.as_str();
            view! {
                <li class=format!("diff-{kind}") data-change=kind>
                    <span class="mark" aria-label=kind>{change.mark()}</span> " " {text}
                </li>
            }
        })
        .collect_view();
    view! {
        <h3>{title}</h3>
        <ul class="diff" data-testid=test_id>{items}</ul>
    }
    .into_any()
}

/// The first twelve hex digits: enough to tell two digests apart by eye.
fn short_digest(digest: &str) -> String {
    match digest.get(..12) {
        Some(start) if digest.len() > 12 => format!("{start}…"),
        _ => digest.to_owned(),
    }
}
