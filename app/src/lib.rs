//! Coffer's pages: Leptos components and routes shared by the server, which
//! renders them, and the browser bundle, which hydrates them.

pub mod access;
pub mod audit;
pub mod components;
pub mod models;
pub mod names;
pub mod pages;
pub mod server_fns;
pub mod session;
pub mod shares;
#[cfg(feature = "ssr")]
pub mod shell;
pub mod upload;

use leptos::prelude::*;
use leptos_meta::{Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::audit::page::AuditPage;
use crate::components::PortalChrome;
use crate::models::list::ModelsPage;
use crate::models::model::ModelPage;
use crate::pages::{HomePage, NotFoundPage, SignInFailedPage};
use crate::session::PageContext;
use crate::shares::page::SharesPage;
use crate::shares::recipient::SharedPage;
use crate::upload::page::UploadPage;

/// The id of the element whose `data-context` attribute carries the
/// [`PageContext`] from the server's render to the browser's hydration.
pub const ROOT_ID: &str = "coffer-root";

/// The whole portal. The server provides a [`PageContext`] per request; the
/// browser reads the same one back from the rendered page before hydrating.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let context = use_context::<PageContext>().unwrap_or_default();

    // The serialized context travels in an attribute, which Leptos escapes;
    // serde writes it identically on both sides, so hydration matches.
    let serialized = serde_json::to_string(&context).unwrap_or_default();
    let dev_idp = context.dev_idp;

    view! {
        <Title text="Coffer" />
        <div id=ROOT_ID data-context=serialized>
            <Router>
                <PortalChrome dev_idp />
                <main class="page">
                    <Routes fallback=NotFoundPage>
                        <Route path=path!("/") view=HomePage />
                        <Route path=path!("/upload") view=UploadPage />
                        <Route path=path!("/models") view=ModelsPage ssr=SsrMode::Async />
                        <Route
                            path=path!("/models/:name")
                            view=ModelPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/models/:name/versions/:version")
                            view=crate::models::version::VersionPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/shares") view=SharesPage ssr=SsrMode::Async />
                        <Route path=path!("/s/:token") view=SharedPage ssr=SsrMode::Async />
                        <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async />
                        <Route path=path!("/auth/failed") view=SignInFailedPage />
                    </Routes>
                </main>
            </Router>
        </div>
    }
}
