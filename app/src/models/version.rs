//! `/models/{name}/versions/{n}`: one version's files with their SHA-256,
//! its metadata and who published it.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::server_fns::AppError;
use crate::upload::api::{VersionState, VersionView, human_size};

/// A version's details, for anyone who may browse.
#[server(prefix = "/_srv", endpoint = "version_details")]
pub async fn version_details(model: String, version: u64) -> Result<VersionView, AppError> {
    use crate::models::catalog::CatalogHandle;
    use crate::names::validate_model_name;
    use crate::session::PageContext;

    // The server checked the session; the role is checked here too, since
    // a server function is reachable without the page.
    let viewer = use_context::<PageContext>()
        .and_then(|context| context.viewer)
        .ok_or(AppError::SignInRequired)?;
    if !viewer.may_browse() {
        return Err(AppError::Forbidden);
    }
    validate_model_name(&model).map_err(|_| AppError::NotFound)?;

    let catalog = use_context::<CatalogHandle>()
        .ok_or_else(|| AppError::Transport("the registry is not available".into()))?;
    catalog
        .0
        .version(model, version)
        .await
        .map_err(|_| AppError::Transport("the registry could not be read".into()))?
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
            Some(version) => version_details(name, version).await,
            None => Err(AppError::NotFound),
        }
    });

    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                details
                    .get()
                    .map(|result| match result {
                        Ok(version) => view! { <VersionDetails version /> }.into_any(),
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
}

/// A loaded version.
#[component]
fn VersionDetails(version: VersionView) -> impl IntoView {
    let state = match version.state {
        VersionState::Available => "available",
        VersionState::Failed => "failed",
        VersionState::Uploading => "uploading",
    };
    let total: u64 = version.files.iter().map(|file| file.size).sum();
    let files = version
        .files
        .iter()
        .map(|file| {
            view! {
                <tr data-testid="version-file">
                    <td class="path">{file.path.clone()}</td>
                    <td class="size">{human_size(file.size)}</td>
                    <td><code class="digest" data-testid="file-sha256">{file.sha256.clone()}</code></td>
                </tr>
            }
        })
        .collect_view();
    let metadata = &version.metadata;
    let tags = metadata.tags.join(", ");
    let metrics = metadata
        .metrics
        .iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect::<Vec<_>>()
        .join(", ");

    view! {
        <section class="panel">
            <h1 data-testid="version-title">{format!("{} · version {}", version.model, version.version)}</h1>
            <p>
                <span class=format!("state {state}") data-testid="version-state">{state}</span>
                " · uploaded by " {version.uploader.clone()} " · finished " {version.finished_at.clone()}
                " · " {human_size(total)}
            </p>
            {version.failure.clone().map(|failure| view! { <p class="error">{failure}</p> })}
            {(!version.description.is_empty()).then(|| view! { <p class="description">{version.description.clone()}</p> })}
            <dl class="metadata">
                {metadata.framework.clone().map(|framework| view! { <dt>"Framework"</dt><dd>{framework}</dd> })}
                {(!tags.is_empty()).then(|| view! { <dt>"Tags"</dt><dd>{tags}</dd> })}
                {(!metrics.is_empty()).then(|| view! { <dt>"Metrics"</dt><dd>{metrics}</dd> })}
            </dl>
            <table class="files">
                <thead><tr><th>"File"</th><th>"Size"</th><th>"SHA-256"</th></tr></thead>
                <tbody>{files}</tbody>
            </table>
        </section>
    }
}
