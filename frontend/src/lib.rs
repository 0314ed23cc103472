//! The browser entry point: hydrates the page the server rendered, with the
//! same root component and the same page context.

use coffer_app::session::PageContext;
use coffer_app::{App, ROOT_ID};
use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

/// Runs when the bundle loads.
#[wasm_bindgen(start)]
pub fn hydrate() {
    console_error_panic_hook::set_once();

    // The server wrote the context it rendered with into the root element;
    // hydrating with anything else would not match the HTML.
    let context = read_page_context();
    leptos::mount::hydrate_body(move || {
        provide_context(context);
        view! { <App /> }
    });
}

/// The page context from the root element's `data-context` attribute.
fn read_page_context() -> PageContext {
    document()
        .get_element_by_id(ROOT_ID)
        .and_then(|root| root.get_attribute("data-context"))
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}
