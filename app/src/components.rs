//! Pieces every page shares: the navigation, the development banner and
//! the access gate.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::access::Access;
use crate::session::{PageContext, Viewer};
use crate::shares::recipient::is_recipient_path;

/// The signed-in user, if any, from the page context.
pub fn use_viewer() -> Option<Viewer> {
    use_context::<PageContext>().and_then(|context| context.viewer)
}

/// Says loudly that anyone may sign in with the demo passwords.
#[component]
pub fn DevIdpBanner() -> impl IntoView {
    view! {
        <div class="dev-banner" role="alert" data-testid="dev-idp-banner">
            "Development sign-in is on: demo accounts with a published password can sign in. "
            "Never use this mode for real artifacts."
        </div>
    }
}

/// The development banner and the top bar, on every page but a share
/// link's: its recipient has no account and sees nothing of the portal.
#[component]
pub fn PortalChrome(dev_idp: bool) -> impl IntoView {
    let pathname = use_location().pathname;
    let for_users = Memo::new(move |_| !is_recipient_path(&pathname.get()));
    move || {
        for_users.get().then(|| {
            view! {
                {dev_idp.then(|| view! { <DevIdpBanner /> })}
                <NavBar />
            }
        })
    }
}

/// The top bar: what the viewer's roles allow, who is signed in, and the
/// way out.
#[component]
pub fn NavBar() -> impl IntoView {
    let viewer = use_viewer();
    let links = viewer.clone().map(|viewer| {
        view! {
            {viewer.may_browse().then(|| view! { <a href="/models" data-testid="nav-models">"Models"</a> })}
            {viewer.may_upload().then(|| view! { <a href="/upload" data-testid="nav-upload">"Upload"</a> })}
            {viewer.may_upload().then(|| view! { <a href="/shares" data-testid="nav-shares">"Shares"</a> })}
            {viewer.may_audit().then(|| view! { <a href="/audit" data-testid="nav-audit">"Audit"</a> })}
        }
    });

    view! {
        <header class="topbar">
            <a class="brand" href="/" data-testid="nav-home">"Coffer"</a>
            <nav class="links" aria-label="Main">{links}</nav>
            <div class="account">
                {match viewer {
                    Some(viewer) => view! { <SignedIn viewer /> }.into_any(),
                    None => view! {
                        <a class="button" href="/login" rel="external" data-testid="sign-in">"Sign in"</a>
                    }.into_any(),
                }}
            </div>
        </header>
    }
}

/// The signed-in user's name, roles and sign-out form. The form works
/// without JavaScript and carries the CSRF token.
#[component]
fn SignedIn(viewer: Viewer) -> impl IntoView {
    let roles = viewer
        .roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <span class="user" data-testid="current-user">{viewer.username.clone()}</span>
        <span class="roles" data-testid="current-roles">{roles}</span>
        <form method="post" action="/logout" class="inline">
            <input type="hidden" name="csrf_token" value=viewer.csrf_token.clone() />
            <button type="submit" data-testid="sign-out">"Sign out"</button>
        </form>
    }
}

/// Shows its children only to visitors the access rule allows; the server
/// has already refused the others, so this only chooses the message.
#[component]
pub fn Gate(access: Access, children: ChildrenFn) -> impl IntoView {
    let viewer = use_viewer();
    let path = use_location().pathname;
    move || {
        if access.allows(viewer.as_ref()) {
            children().into_any()
        } else if viewer.is_none() {
            let next = path.get();
            view! { <SignInPrompt next /> }.into_any()
        } else {
            view! { <NoAccess /> }.into_any()
        }
    }
}

/// Asks a signed-out visitor to sign in, then return here.
#[component]
pub fn SignInPrompt(next: String) -> impl IntoView {
    let href = format!("/login?next={}", encode_query_value(&next));
    view! {
        <section class="panel">
            <h1>"Sign in to continue"</h1>
            <p>"This page is for Coffer users."</p>
            <a class="button" href=href rel="external">"Sign in"</a>
        </section>
    }
}

/// Tells a signed-in user their groups grant nothing here.
#[component]
pub fn NoAccess() -> impl IntoView {
    view! {
        <section class="panel denied" data-testid="no-access">
            <h1>"No access"</h1>
            <p>
                "You are signed in, but none of your groups gives you access to this page. "
                "Ask an administrator to add you to the data-scientists, compliance or admins "
                "group. This attempt has been recorded."
            </p>
        </section>
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
