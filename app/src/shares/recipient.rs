//! `/s/{token}`: what a share link's recipient sees. It needs no account
//! and shows only what the link names (model, version, files, the owner's
//! note, until when), or why the link no longer works; nothing else of the
//! portal, so the app hides its navigation on these pages.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::server_fns::AppError;
use crate::shares::api::{ShareState, SharedFile, SharedItem};
use crate::shares::links::shared_file_href;
use crate::upload::api::human_size;
use crate::upload::plan::human_time;

/// What a link shows its recipient; `None` for an unknown token.
#[server(prefix = "/_srv", endpoint = "shared_item")]
pub async fn open_shared_link(token: String) -> Result<Option<SharedItem>, AppError> {
    use crate::models::catalog::catalog;

    /// Tokens are far shorter; anything longer is not worth a lookup.
    const MAX_TOKEN_LEN: usize = 256;

    // No session is needed: the token is the recipient's only credential,
    // and the catalog checks it against the stored hashes.
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    catalog()?.shared(token).await.map_err(AppError::from)
}

/// Whether `path` is a recipient's page, which shows nothing else of the
/// portal.
pub fn is_recipient_path(path: &str) -> bool {
    path == "/s" || path.starts_with("/s/")
}

/// The page: loads the link on the server, renders it, and hydrates.
#[component]
pub fn SharedPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|params| params.get("token").unwrap_or_default());
    let item = Resource::new(token, open_shared_link);

    // The title names neither the portal nor the model: a browser tab or
    // history entry should not tell more than the link itself.
    view! {
        <Title text="Shared files" />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                item.get()
                    .map(|answer| match answer {
                        Ok(Some(item)) => {
                            let token = token();
                            view! { <SharedView item token /> }.into_any()
                        }
                        Ok(None) | Err(AppError::Invalid(_) | AppError::NotFound) => {
                            view! { <Unavailable message="This link does not exist." /> }
                                .into_any()
                        }
                        Err(_) => {
                            view! {
                                <Unavailable message="This link cannot be opened right now. \
                                                      Try again in a moment." />
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
    .into_any()
}

/// Why a link shows no files, in the recipient's words.
pub fn state_message(state: ShareState) -> &'static str {
    match state {
        ShareState::Live => "Ready to download.",
        ShareState::Revoked => "This link was revoked by its owner.",
        ShareState::Expired => "This link has expired.",
        ShareState::Exhausted => "This link has been used as many times as its owner allowed.",
    }
}

/// A link that cannot be used, or does not exist.
#[component]
fn Unavailable(message: &'static str) -> impl IntoView {
    view! {
        <section class="panel shared denied" data-testid="shared-page">
            <h1>"Shared files"</h1>
            <p class="shared-state" data-testid="shared-state" data-state="unknown">
                {message}
            </p>
            <p class="hint">"Ask the person who sent it for a new link."</p>
        </section>
    }
    .into_any()
}

/// A known link: its files when live, otherwise why not.
#[component]
fn SharedView(item: SharedItem, token: String) -> impl IntoView {
    let live = item.state == ShareState::Live;
    let title = format!("{} · version {}", item.model, item.version);
    let files = item
        .files
        .into_iter()
        .map(|file| {
            let href = shared_file_href(&token, &file.path);
            view! { <SharedFileRow file href /> }
        })
        .collect_view();
    let left = item.downloads_left.map(|left| match left {
        1 => "1 download left.".to_owned(),
        left => format!("{left} downloads left."),
    });

    view! {
        <section class=if live { "panel shared" } else { "panel shared denied" } data-testid="shared-page">
            <h1 data-testid="shared-title">{title}</h1>
            <p
                class="shared-state"
                data-testid="shared-state"
                data-state=item.state.as_str()
            >
                {state_message(item.state)}
            </p>
            {(!item.note.is_empty()).then(|| view! {
                <blockquote class="note" data-testid="shared-note">{item.note.clone()}</blockquote>
            })}
            {live.then(|| view! {
                <p data-testid="shared-expires">
                    "Available until " {human_time(&item.expires_at)} "." {left.map(|left| format!(" {left}"))}
                </p>
                <table class="files">
                    <thead>
                        <tr><th>"File"</th><th>"Size"</th><th>"SHA-256"</th><th></th></tr>
                    </thead>
                    <tbody>{files}</tbody>
                </table>
                <p class="hint">
                    "Each download is recorded. Compare a downloaded file's SHA-256 with the one "
                    "above before you use it."
                </p>
            })}
        </section>
    }
    .into_any()
}

/// One file the recipient may download.
#[component]
fn SharedFileRow(file: SharedFile, href: String) -> impl IntoView {
    // `rel="external"` keeps the router from handling the click, so the
    // browser follows the redirect and saves the file.
    view! {
        <tr data-testid="shared-file">
            <td class="path">{file.path.clone()}</td>
            <td class="size">{human_size(file.size)}</td>
            <td><code class="digest" data-testid="shared-sha256">{file.sha256.clone()}</code></td>
            <td>
                <a class="button" href=href rel="external" data-testid="shared-download">
                    "Download"
                </a>
            </td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_share_link_paths_are_recipient_pages() {
        assert!(is_recipient_path("/s/abc"));
        assert!(is_recipient_path("/s"));
        assert!(!is_recipient_path("/shares"));
        assert!(!is_recipient_path("/models/s/versions/1"));
    }

    #[test]
    fn every_dead_state_tells_the_recipient_why() {
        assert_eq!(
            state_message(ShareState::Revoked),
            "This link was revoked by its owner."
        );
        assert!(state_message(ShareState::Expired).contains("expired"));
        assert!(state_message(ShareState::Exhausted).contains("used as many times"));
    }
}
