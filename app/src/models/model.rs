//! `/models/{name}`: a model's description, its aliases and its version
//! history, newest first. Data scientists and admins edit the description
//! and move aliases from here, through the JSON API; the server decides
//! who may.

use std::collections::BTreeMap;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::access::Access;
use crate::components::{Gate, use_viewer};
use crate::models::api::{ModelDetail, VersionSummary};
use crate::server_fns::AppError;
use crate::upload::api::{VersionState, human_size};
use crate::upload::plan::human_time;

/// A model with its newest versions (or those below `below`), for anyone
/// who may browse.
#[server(prefix = "/_srv", endpoint = "model_details")]
pub async fn model_details(model: String, below: Option<u64>) -> Result<ModelDetail, AppError> {
    use crate::models::catalog::{caller, catalog};
    use crate::names::validate_model_name;
    use crate::session::Viewer;

    caller(Viewer::may_browse)?;

    // No model can have an invalid name, so there is nothing to read.
    validate_model_name(&model).map_err(|_| AppError::NotFound)?;
    catalog()?
        .model(model, below)
        .await
        .map_err(AppError::from)?
        .ok_or(AppError::NotFound)
}

/// The address of a model's version page.
fn version_href(model: &str, version: u64) -> String {
    format!("/models/{model}/versions/{version}")
}

/// A version's state as its label and style class.
fn state_name(state: VersionState) -> &'static str {
    match state {
        VersionState::Available => "available",
        VersionState::Failed => "failed",
        VersionState::Uploading => "uploading",
    }
}

/// The aliases pointing at `version`, in name order.
pub fn aliases_of(aliases: &BTreeMap<String, u64>, version: u64) -> Vec<String> {
    aliases
        .iter()
        .filter(|(_, target)| **target == version)
        .map(|(alias, _)| alias.clone())
        .collect()
}

/// The versions an alias may point at: available ones, newest first.
pub fn alias_targets(versions: &[VersionSummary]) -> Vec<u64> {
    versions
        .iter()
        .filter(|version| version.state == VersionState::Available)
        .map(|version| version.version)
        .collect()
}

/// `/models/{name}`: every role.
#[component]
pub fn ModelPage() -> impl IntoView {
    view! {
        <Gate access=Access::Browse>
            <ModelLoader />
        </Gate>
    }
}

/// Loads the model the address names, on the server first.
#[component]
fn ModelLoader() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let wanted = move || {
        let name = params.with(|params| params.get("name").unwrap_or_default());
        let below = query.with(|query| query.get("below").and_then(|text| text.parse().ok()));
        (name, below)
    };

    // Each answer keeps the `below` it answers, for the paging links.
    let details = Resource::new(wanted, |(name, below)| async move {
        (below, model_details(name, below).await)
    });

    view! {
        <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || {
                details
                    .get()
                    .map(|(below, answer)| match answer {
                        Ok(detail) => view! { <ModelView detail below /> }.into_any(),
                        Err(error) => view! { <ModelMissing error /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// Why the model cannot be shown. A missing model answers 404.
#[component]
fn ModelMissing(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    answer_status(&error);

    let message = match error {
        AppError::NotFound => "There is no model of this name.".to_owned(),
        other => other.to_string(),
    };
    view! {
        <section class="panel">
            <h1>"Model not available"</h1>
            <p data-testid="model-error">{message}</p>
            <a href="/models">"Every model"</a>
        </section>
    }
}

/// Sets the rendered page's status to match the error it shows. The page
/// renders whole before its head is sent, so the status still applies.
#[cfg(feature = "ssr")]
fn answer_status(error: &AppError) {
    use http::StatusCode;

    let status = match error {
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        AppError::SignInRequired => StatusCode::UNAUTHORIZED,
        AppError::Transport(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// What the model page's parts share: the model, whether the viewer may
/// change it, and the state those changes update in place.
#[derive(Clone, Copy)]
struct Model {
    name: StoredValue<String>,
    /// The session's CSRF token, sent with every change.
    csrf_token: StoredValue<String>,
    /// Data scientists and admins see the controls; the API enforces it.
    editable: bool,
    /// Whether the page is live in the browser, so its controls work.
    ready: RwSignal<bool>,
    description: RwSignal<String>,
    aliases: RwSignal<BTreeMap<String, u64>>,
}

/// A loaded model.
#[component]
fn ModelView(detail: ModelDetail, below: Option<u64>) -> impl IntoView {
    let viewer = use_viewer();
    let model = Model {
        name: StoredValue::new(detail.name.clone()),
        csrf_token: StoredValue::new(
            viewer
                .as_ref()
                .map(|viewer| viewer.csrf_token.clone())
                .unwrap_or_default(),
        ),
        editable: viewer.is_some_and(|viewer| viewer.may_upload()),
        ready: RwSignal::new(false),
        description: RwSignal::new(detail.description.clone()),
        aliases: RwSignal::new(detail.aliases.clone()),
    };
    let targets = alias_targets(&detail.versions);
    let byline = format!(
        "Created by {} · {}",
        detail.created_by,
        human_time(&detail.created_at)
    );

    // Effects run in the browser only, once the controls can work.
    Effect::new(move |_| model.ready.set(true));

    view! {
        <section
            class="panel model-page"
            data-testid="model-page"
            data-ready=move || model.ready.get().to_string()
        >
            <h1 data-testid="model-title">{detail.name.clone()}</h1>
            <p class="byline">{byline}</p>
            <Description model />
            <Aliases model targets />
        </section>
        <History
            model
            versions=detail.versions
            below
            next_below=detail.next_below
        />
    }
}

/// The description as written, line breaks kept, and its editor.
#[component]
fn Description(model: Model) -> impl IntoView {
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let saving = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let description = model.description;
    let ready = model.ready;

    let start = move |_| {
        draft.set(description.get_untracked());
        error.set(None);
        editing.set(true);
    };
    let save = move |_| {
        let text = draft.get_untracked();
        saving.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let token = model.csrf_token.get_value();
            match changes::describe(&token, &model.name.get_value(), text).await {
                Ok(saved) => {
                    description.set(saved);
                    editing.set(false);
                }
                Err(message) => error.set(Some(message)),
            }
            saving.set(false);
        });
    };

    let shown = move || {
        view! {
            <p class="description" data-testid="model-description">{move || description.get()}</p>
            <p class="hint" hidden=move || !description.with(String::is_empty)>
                "No description yet."
            </p>
            {model.editable.then(|| view! {
                <button
                    data-testid="edit-description"
                    disabled=move || !ready.get()
                    on:click=start
                >
                    "Edit description"
                </button>
            })}
        }
    };
    view! {
        <div class="model-description">
            <Show when=move || editing.get() fallback=shown>
                <textarea
                    data-testid="description-input"
                    aria-label="Description"
                    rows="5"
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                    disabled=move || saving.get()
                ></textarea>
                <div class="actions">
                    <button
                        class="primary"
                        data-testid="save-description"
                        disabled=move || saving.get()
                        on:click=save
                    >
                        "Save"
                    </button>
                    <button
                        data-testid="cancel-description"
                        disabled=move || saving.get()
                        on:click=move |_| editing.set(false)
                    >
                        "Cancel"
                    </button>
                </div>
            </Show>
            <p class="error" role="alert" data-testid="description-error">
                {move || error.get()}
            </p>
        </div>
    }
    .into_any()
}

/// The aliases as chips, and for editors the form that moves one.
#[component]
fn Aliases(model: Model, targets: Vec<u64>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let aliases = model.aliases;
    let chips = move || aliases.get().into_iter().collect::<Vec<_>>();

    view! {
        <div class="aliases">
            <h2>"Aliases"</h2>
            <ul class="chips" data-testid="alias-list">
                <For
                    each=chips
                    key=|entry| entry.clone()
                    children=move |(alias, version)| {
                        view! { <AliasChip model alias version error /> }
                    }
                />
            </ul>
            <p class="hint" hidden=move || !aliases.with(BTreeMap::is_empty)>
                "No aliases point at a version of this model yet."
            </p>
            {model.editable.then(|| view! { <MoveAlias model targets error /> })}
            <p class="error" role="alert" data-testid="alias-error">{move || error.get()}</p>
        </div>
    }
    .into_any()
}

/// `production → version 3`, linking to the version, with × to remove it
/// for editors.
#[component]
fn AliasChip(
    model: Model,
    alias: String,
    version: u64,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let href = version_href(&model.name.get_value(), version);
    let label = format!("{alias} → version {version}");
    let ready = model.ready;
    let busy = RwSignal::new(false);
    let remove = {
        let alias = alias.clone();
        move |_| {
            let alias = alias.clone();
            busy.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                let token = model.csrf_token.get_value();
                let name = model.name.get_value();
                match changes::remove_alias(&token, &name, &alias).await {
                    Ok(()) => model.aliases.update(|aliases| {
                        aliases.remove(&alias);
                    }),
                    Err(message) => error.set(Some(message)),
                }
                busy.set(false);
            });
        }
    };
    let remove_button = model.editable.then(|| {
        view! {
            <button
                class="chip-remove"
                data-testid="remove-alias"
                aria-label=format!("Remove the alias {alias}")
                title="Remove this alias"
                disabled=move || !ready.get() || busy.get()
                on:click=remove
            >
                "×"
            </button>
        }
    });

    view! {
        <li class="chip" data-testid="alias-chip" data-alias=alias.clone()>
            <a href=href>{label}</a>
            {remove_button}
        </li>
    }
}

/// Points an alias (new or existing) at an available version.
#[component]
fn MoveAlias(model: Model, targets: Vec<u64>, error: RwSignal<Option<String>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let chosen = RwSignal::new(targets.first().copied());
    let busy = RwSignal::new(false);
    let ready = model.ready;
    let aliases = model.aliases;
    if targets.is_empty() {
        return view! {
            <p class="hint">"Aliases can point only at available versions; none is listed here."</p>
        }
        .into_any();
    }

    let submit = move |event: SubmitEvent| {
        // The page moves the alias itself; the form never navigates.
        event.prevent_default();
        let alias = name.get_untracked().trim().to_owned();
        let Some(version) = chosen.get_untracked() else {
            return;
        };
        if alias.is_empty() {
            error.set(Some("Name the alias to move, such as production.".into()));
            return;
        }

        // Send the move; the answer says where the alias now points.
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let token = model.csrf_token.get_value();
            let model_name = model.name.get_value();
            match changes::move_alias(&token, &model_name, &alias, version).await {
                Ok(moved) => model.aliases.update(|aliases| match moved.to {
                    Some(target) => {
                        aliases.insert(moved.alias, target);
                    }
                    None => {
                        aliases.remove(&moved.alias);
                    }
                }),
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    let options = targets
        .iter()
        .map(|version| {
            let version = *version;
            view! { <option value=version.to_string()>"version "{version}</option> }
        })
        .collect_view();

    view! {
        <form class="move-alias" on:submit=submit>
            <label>
                "Alias "
                <input
                    data-testid="alias-name"
                    list="alias-names"
                    autocomplete="off"
                    placeholder="production"
                    prop:value=move || name.get()
                    on:input=move |event| name.set(event_target_value(&event))
                />
            </label>
            <datalist id="alias-names">
                {move || {
                    aliases
                        .with(|aliases| aliases.keys().cloned().collect::<Vec<_>>())
                        .into_iter()
                        .map(|alias| view! { <option value=alias></option> })
                        .collect_view()
                }}
            </datalist>
            <label>
                "points at "
                <select
                    data-testid="alias-version"
                    on:change=move |event| chosen.set(event_target_value(&event).parse().ok())
                >
                    {options}
                </select>
            </label>
            <button
                type="submit"
                data-testid="move-alias"
                disabled=move || !ready.get() || busy.get()
            >
                "Move alias"
            </button>
        </form>
    }
    .into_any()
}

/// The versions on this page, newest first, with links to older ones.
#[component]
fn History(
    model: Model,
    versions: Vec<VersionSummary>,
    below: Option<u64>,
    next_below: Option<u64>,
) -> impl IntoView {
    let name = model.name.get_value();
    let rows = versions
        .into_iter()
        .map(|version| view! { <VersionRow model version /> })
        .collect_view();
    let older = next_below.map(|next| {
        let href = format!("/models/{name}?below={next}");
        view! { <a class="button" data-testid="older-versions" href=href>"Older versions"</a> }
    });
    let newest = below.map(|_| {
        let href = format!("/models/{name}");
        view! { <a class="button" data-testid="newest-versions" href=href>"Newest versions"</a> }
    });

    view! {
        <section class="panel">
            <h2>"Versions"</h2>
            <table class="listing history">
                <thead>
                    <tr>
                        <th>"Version"</th>
                        <th>"State"</th>
                        <th>"Uploaded by"</th>
                        <th>"Finished"</th>
                        <th class="size">"Size"</th>
                        <th class="count">"Files"</th>
                        <th>"Aliases"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <nav class="pager" aria-label="Versions">{newest}{older}</nav>
        </section>
    }
    .into_any()
}

/// One version in the history; its alias chips follow moves made here.
#[component]
fn VersionRow(model: Model, version: VersionSummary) -> impl IntoView {
    let number = version.version;
    let href = version_href(&model.name.get_value(), number);
    let state = state_name(version.state);
    let finished = if version.finished_at.is_empty() {
        "—".to_owned()
    } else {
        human_time(&version.finished_at)
    };
    let aliases = model.aliases;
    let chips = move || {
        aliases
            .with(|aliases| aliases_of(aliases, number))
            .into_iter()
            .map(|alias| view! { <span class="chip" data-testid="version-alias">{alias}</span> })
            .collect_view()
    };

    view! {
        <tr data-testid="version-row" data-version=number>
            <td><a href=href>"version "{number}</a></td>
            <td><span class=format!("state {state}")>{state}</span></td>
            <td>{version.uploader.clone()}</td>
            <td class="time">{finished}</td>
            <td class="size">{human_size(version.size)}</td>
            <td class="count">{version.files}</td>
            <td><span class="chips">{chips}</span></td>
        </tr>
    }
}

/// Changes to a model through the JSON API, from the browser. Errors come
/// back as the API's message, ready to show.
#[cfg(feature = "hydrate")]
mod changes {
    use serde::Deserialize;

    use crate::models::api::{AliasMove, AliasMoved, DescriptionChange};
    use crate::upload::client::Client;

    /// Whatever the description change answers; only the description is
    /// read back.
    #[derive(Deserialize)]
    struct Described {
        description: String,
    }

    /// A path segment, percent-encoded.
    fn segment(text: &str) -> String {
        String::from(js_sys::encode_uri_component(text))
    }

    /// `PUT /api/v1/models/{name}/description`: the description as stored.
    pub async fn describe(csrf_token: &str, model: &str, text: String) -> Result<String, String> {
        let client = Client::new(csrf_token.to_owned());
        let path = format!("/api/v1/models/{}/description", segment(model));
        let body = DescriptionChange { description: text };
        let answer: Described = client
            .put(&path, &body)
            .await
            .map_err(|error| error.to_string())?;
        Ok(answer.description)
    }

    /// `PUT /api/v1/models/{name}/aliases/{alias}`.
    pub async fn move_alias(
        csrf_token: &str,
        model: &str,
        alias: &str,
        version: u64,
    ) -> Result<AliasMoved, String> {
        let client = Client::new(csrf_token.to_owned());
        client
            .put(&alias_path(model, alias), &AliasMove { version })
            .await
            .map_err(|error| error.to_string())
    }

    /// `DELETE /api/v1/models/{name}/aliases/{alias}`.
    pub async fn remove_alias(csrf_token: &str, model: &str, alias: &str) -> Result<(), String> {
        let client = Client::new(csrf_token.to_owned());
        client
            .delete(&alias_path(model, alias))
            .await
            .map_err(|error| error.to_string())
    }

    /// `/api/v1/models/{name}/aliases/{alias}`, both segments encoded.
    fn alias_path(model: &str, alias: &str) -> String {
        format!(
            "/api/v1/models/{}/aliases/{}",
            segment(model),
            segment(alias)
        )
    }
}

/// Where the page is only rendered, changes cannot be sent; the controls
/// are disabled until the browser takes over, so these never run.
#[cfg(not(feature = "hydrate"))]
mod changes {
    use crate::models::api::AliasMoved;

    const NOT_LIVE: &str = "This page is not live yet; reload it and try again.";

    pub async fn describe(_: &str, _: &str, _: String) -> Result<String, String> {
        Err(NOT_LIVE.into())
    }

    pub async fn move_alias(_: &str, _: &str, _: &str, _: u64) -> Result<AliasMoved, String> {
        Err(NOT_LIVE.into())
    }

    pub async fn remove_alias(_: &str, _: &str, _: &str) -> Result<(), String> {
        Err(NOT_LIVE.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(number: u64, state: VersionState) -> VersionSummary {
        VersionSummary {
            version: number,
            state,
            uploader: "alice".into(),
            created_at: "2026-12-03T10:00:00Z".into(),
            finished_at: "2026-12-03T10:01:00Z".into(),
            size: 3,
            files: 1,
            aliases: Vec::new(),
        }
    }

    #[test]
    fn a_version_shows_the_aliases_pointing_at_it_in_order() {
        let aliases = BTreeMap::from([
            ("staging".to_owned(), 2),
            ("production".to_owned(), 1),
            ("canary".to_owned(), 2),
        ]);
        assert_eq!(aliases_of(&aliases, 2), ["canary", "staging"]);
        assert_eq!(aliases_of(&aliases, 1), ["production"]);
        assert!(aliases_of(&aliases, 3).is_empty());
    }

    #[test]
    fn aliases_may_point_only_at_available_versions() {
        let versions = [
            version(3, VersionState::Uploading),
            version(2, VersionState::Available),
            version(1, VersionState::Failed),
            version(0, VersionState::Available),
        ];
        assert_eq!(alias_targets(&versions), [2, 0]);
    }
}
