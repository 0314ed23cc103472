//! What the version page and the share pages do in the browser once they
//! are hydrated: copy text, create a link, revoke one. Each call hands its
//! outcome to a callback, so components stay the same on both sides; where
//! a page is only rendered, the calls do nothing, as no handler runs there.

use crate::shares::api::{CreateShare, CreatedShare};

/// Copies `text` to the clipboard, then calls `done` with whether it
/// worked (the browser may refuse, on an insecure origin say).
pub fn copy_text(text: String, done: impl FnOnce(bool) + 'static) {
    imp::copy_text(text, done);
}

/// `POST /api/v1/shares`, as the signed-in user; `done` gets the new link
/// or the API's message.
pub fn create_share(
    csrf_token: String,
    request: CreateShare,
    done: impl FnOnce(Result<CreatedShare, String>) + 'static,
) {
    imp::create_share(csrf_token, request, done);
}

/// `DELETE /api/v1/shares/{id}`; `done` gets the API's message on failure.
pub fn revoke_share(
    csrf_token: String,
    id: String,
    done: impl FnOnce(Result<(), String>) + 'static,
) {
    imp::revoke_share(csrf_token, id, done);
}

#[cfg(feature = "hydrate")]
mod imp {
    use js_sys::Reflect;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;

    use crate::shares::api::{CreateShare, CreatedShare};
    use crate::upload::client::Client;

    pub fn copy_text(text: String, done: impl FnOnce(bool) + 'static) {
        spawn_local(async move {
            done(write_clipboard(&text).await);
        });
    }

    /// `navigator.clipboard.writeText`, which exists only in secure
    /// contexts; calling it where it is missing would throw.
    async fn write_clipboard(text: &str) -> bool {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let navigator = window.navigator();
        let present = Reflect::get(&navigator, &JsValue::from_str("clipboard"))
            .is_ok_and(|clipboard| !clipboard.is_undefined() && !clipboard.is_null());
        if !present {
            return false;
        }
        let clipboard = navigator.clipboard();
        JsFuture::from(clipboard.write_text(text)).await.is_ok()
    }

    pub fn create_share(
        csrf_token: String,
        request: CreateShare,
        done: impl FnOnce(Result<CreatedShare, String>) + 'static,
    ) {
        spawn_local(async move {
            let client = Client::new(csrf_token);
            let answer = client.post("/api/v1/shares", &request).await;
            done(answer.map_err(|error| error.to_string()));
        });
    }

    pub fn revoke_share(
        csrf_token: String,
        id: String,
        done: impl FnOnce(Result<(), String>) + 'static,
    ) {
        spawn_local(async move {
            // Ids are server-minted, but they still go into a path.
            let id = String::from(js_sys::encode_uri_component(&id));
            let client = Client::new(csrf_token);
            let answer = client.delete(&format!("/api/v1/shares/{id}")).await;
            done(answer.map_err(|error| error.to_string()));
        });
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use crate::shares::api::{CreateShare, CreatedShare};

    pub fn copy_text(_text: String, _done: impl FnOnce(bool) + 'static) {}

    pub fn create_share(
        _csrf_token: String,
        _request: CreateShare,
        _done: impl FnOnce(Result<CreatedShare, String>) + 'static,
    ) {
    }

    pub fn revoke_share(
        _csrf_token: String,
        _id: String,
        _done: impl FnOnce(Result<(), String>) + 'static,
    ) {
    }
}
