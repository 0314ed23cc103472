//! One component per portal page.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::{NoAccess, use_viewer};
use crate::server_fns::{SessionReport, session_status};

/// `/`: a landing page for visitors, a start page for users.
#[component]
pub fn HomePage() -> impl IntoView {
    match use_viewer() {
        None => view! {
            <section class="hero">
                <h1>"Coffer"</h1>
                <p class="lead">
                    "A secure, auditable store for machine-learning models. Every version is "
                    "immutable, every download is recorded, and compliance can check it all."
                </p>
                <a class="button primary" href="/login" rel="external">"Sign in"</a>
            </section>
        }
        .into_any(),
        Some(viewer) if !viewer.may_browse() => view! { <NoAccess /> }.into_any(),
        Some(viewer) => view! {
            <section class="panel">
                <h1 data-testid="welcome">"Welcome, " {viewer.username.clone()}</h1>
                <ul class="cards">
                    {viewer.may_browse().then(|| view! {
                        <li><a href="/models">"Browse models"</a>" and their immutable versions."</li>
                    })}
                    {viewer.may_upload().then(|| view! {
                        <li><a href="/upload">"Upload a new version"</a>" straight to the bucket."</li>
                    })}
                    {viewer.may_audit().then(|| view! {
                        <li><a href="/audit">"Read the audit trail"</a>" of everything that happened."</li>
                    })}
                </ul>
            </section>
            <SessionPanel />
        }
        .into_any(),
    }
}

/// Asks the server how the session stands: an interaction that works only
/// once the page is hydrated.
#[component]
fn SessionPanel() -> impl IntoView {
    let check = Action::new(|_: &()| session_status());
    let pending = check.pending();
    let result = check.value();

    view! {
        <section class="panel">
            <h2>"Your session"</h2>
            <button
                data-testid="check-session"
                on:click=move |_| {
                    check.dispatch(());
                }
                disabled=move || pending.get()
            >
                "Check my session"
            </button>
            <p data-testid="session-status" aria-live="polite">
                {move || result.get().map(|outcome| match outcome {
                    Ok(status) => describe(&status),
                    Err(error) => error.to_string(),
                })}
            </p>
        </section>
    }
}

/// The session status as one sentence.
fn describe(status: &SessionReport) -> String {
    let roles = status
        .roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Signed in as {} ({roles}); the session ends in {} minutes unless you stay active.",
        status.username, status.minutes_left
    )
}

/// `/auth/failed?reason=…`: why a sign-in did not complete, in words the
/// user can act on. The reason is one of a fixed set; anything else reads
/// as a generic failure.
#[component]
pub fn SignInFailedPage() -> impl IntoView {
    let query = use_query_map();
    let message = move || match query.read().get("reason").as_deref() {
        Some("state") | Some("no_pending") => {
            "The sign-in answer did not match a sign-in started in this browser. \
             Start again from this browser."
        }
        Some("token") => "The identity provider's answer could not be verified.",
        Some("exchange") => "The identity provider did not confirm the sign-in.",
        Some("provider") => "The identity provider refused the sign-in.",
        Some("unavailable") => "The identity provider cannot be reached right now.",
        _ => "The sign-in did not complete.",
    };
    view! {
        <section class="panel denied" data-testid="sign-in-failed">
            <h1>"Sign-in failed"</h1>
            <p>{message}" The attempt has been recorded."</p>
            <a class="button" href="/login" rel="external">"Try again"</a>
        </section>
    }
}

/// Any path no route claims.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="panel">
            <h1>"Not found"</h1>
            <p>"Nothing lives at this address."</p>
        </section>
    }
}
