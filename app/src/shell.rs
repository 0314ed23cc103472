//! The HTML document around the app, rendered on the server only. It loads
//! the browser bundle through the tags trunk wrote, carrying the request's
//! CSP nonce.

use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_meta::MetaTags;

use crate::App;

/// A `<link>` trunk emitted (stylesheet, module preload, wasm preload).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkTag {
    pub rel: String,
    pub href: String,
    pub integrity: Option<String>,
    pub crossorigin: Option<String>,
    pub as_: Option<String>,
    pub type_: Option<String>,
}

/// The tags that load the browser bundle, as found in trunk's output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetTags {
    /// The inline module script that starts the bundle.
    pub module_script: Option<String>,
    pub links: Vec<LinkTag>,
}

/// The full document for one page.
pub fn shell(assets: AssetTags) -> impl IntoView {
    let nonce = use_nonce();
    let links = assets
        .links
        .into_iter()
        .map(|link| {
            view! {
                <link
                    rel=link.rel
                    href=link.href
                    integrity=link.integrity
                    crossorigin=link.crossorigin
                    r#as=link.as_
                    r#type=link.type_
                />
            }
        })
        .collect_view();
    let script = assets.module_script.map(|code| {
        view! { <script type="module" nonce=nonce inner_html=code></script> }
    });

    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/pkg/favicon.svg" />
                {links}
                {script}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}
