//! `/shares`: the caller's share links (every link, for an admin), newest
//! first, with their uses and state, each live one revocable in a click.

use leptos::prelude::*;

use crate::access::Access;
use crate::components::{Gate, use_viewer};
use crate::server_fns::AppError;
use crate::session::Role;
use crate::shares::api::{ShareList, ShareState, ShareView};
use crate::shares::browser::revoke_share;
use crate::upload::plan::human_time;

/// The caller's links, or every link for an admin.
#[server(prefix = "/_srv", endpoint = "my_shares")]
pub async fn my_shares() -> Result<ShareList, AppError> {
    use crate::models::catalog::{caller, catalog};
    use crate::session::Viewer;

    // Compliance may not share, so it has no links to list either.
    caller(Viewer::may_upload)?;
    catalog()?.shares().await.map_err(AppError::from)
}

/// `/shares`: data scientists and admins.
#[component]
pub fn SharesPage() -> impl IntoView {
    view! {
        <Gate access=Access::Upload>
            <ShareLinks />
        </Gate>
    }
    .into_any()
}

/// The list, loaded on the server and hydrated.
#[component]
fn ShareLinks() -> impl IntoView {
    let viewer = use_viewer();
    let admin = viewer
        .as_ref()
        .is_some_and(|viewer| viewer.roles.contains(&Role::Admin));
    let csrf_token = viewer.map(|viewer| viewer.csrf_token).unwrap_or_default();
    let links = Resource::new(|| (), |_| my_shares());

    // Revoking needs the browser; the page says when it can.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));

    view! {
        <section
            class="panel shares"
            data-testid="shares-page"
            data-ready=move || ready.get().to_string()
        >
            <h1>"Share links"</h1>
            <p class="hint">
                {if admin {
                    "Every user's links, newest first. As an admin you may revoke any of them."
                } else {
                    "Your links, newest first. Create one from a version's page."
                }}
            </p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    links
                        .get()
                        .map(|answer| match answer {
                            Ok(list) if list.shares.is_empty() => {
                                view! {
                                    <p data-testid="shares-empty">
                                        "No share links yet. Open a version and use Share to "
                                        "create one."
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(list) => {
                                let csrf_token = csrf_token.clone();
                                view! {
                                    <ShareTable
                                        shares=list.shares
                                        admin
                                        csrf_token
                                        ready=ready.into()
                                    />
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="error" data-testid="shares-error">
                                        {error.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
    .into_any()
}

/// The links as a table; admins see an owner column.
#[component]
fn ShareTable(
    shares: Vec<ShareView>,
    admin: bool,
    csrf_token: String,
    ready: Signal<bool>,
) -> impl IntoView {
    let rows = shares
        .into_iter()
        .map(|share| {
            let csrf_token = csrf_token.clone();
            view! { <ShareRow share admin csrf_token ready /> }
        })
        .collect_view();

    view! {
        <table class="files share-links">
            <thead>
                <tr>
                    {admin.then(|| view! { <th>"Owner"</th> })}
                    <th>"Shared"</th>
                    <th>"Note"</th>
                    <th>"Created"</th>
                    <th>"Expires"</th>
                    <th>"Uses"</th>
                    <th>"State"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// One link. Revoking changes its state in place; the list is not
/// reloaded, so rows never jump under the pointer.
#[component]
fn ShareRow(
    share: ShareView,
    admin: bool,
    csrf_token: String,
    ready: Signal<bool>,
) -> impl IntoView {
    let state = RwSignal::new(share.state);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let id = share.id.clone();
    let on_revoke = move |_| {
        busy.set(true);
        error.set(None);
        revoke_share(csrf_token.clone(), id.clone(), move |answer| {
            _ = busy.try_set(false);
            match answer {
                Ok(()) => _ = state.try_set(ShareState::Revoked),
                Err(message) => _ = error.try_set(Some(message)),
            }
        });
    };
    let version_href = format!(
        "/models/{}/versions/{}",
        crate::shares::links::encode_segment(&share.model),
        share.version
    );
    let what = match share.file.clone() {
        Some(path) => view! { <span class="path shared-what">{path}</span> }.into_any(),
        None => view! { <span class="shared-what">"whole version"</span> }.into_any(),
    };
    let uses = match share.max_downloads {
        Some(max) => format!("{} / {max}", share.uses),
        None => share.uses.to_string(),
    };

    view! {
        <tr data-testid="share-row" data-share-id=share.id.clone()>
            {admin.then(|| view! { <td data-testid="share-owner">{share.owner.clone()}</td> })}
            <td>
                <a href=version_href>
                    {format!("{} · version {}", share.model, share.version)}
                </a>
                {what}
            </td>
            <td class="note">{share.note.clone()}</td>
            <td class="time">{human_time(&share.created_at)}</td>
            <td class="time">{human_time(&share.expires_at)}</td>
            <td class="uses" data-testid="share-uses">{uses}</td>
            <td>
                <span
                    class=move || format!("state {}", state.get().as_str())
                    data-testid="share-state"
                >
                    {move || state.get().as_str()}
                </span>
            </td>
            <td>
                {move || {
                    let on_revoke = on_revoke.clone();
                    (state.get() == ShareState::Live)
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="danger"
                                    data-testid="revoke-share"
                                    disabled=move || busy.get() || !ready.get()
                                    on:click=on_revoke
                                >
                                    "Revoke"
                                </button>
                            }
                        })
                }}
                <span class="error" role="alert">{move || error.get()}</span>
            </td>
        </tr>
    }
    .into_any()
}
