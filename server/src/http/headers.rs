//! Security headers on every response, and the CSP nonce pages use.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::state::AppState;

/// A per-request nonce that inline scripts must carry to run.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

impl CspNonce {
    fn random() -> CspNonce {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        CspNonce(URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// Adds the headers every response carries, and gives the request a nonce
/// for its page's scripts.
pub async fn security_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::random();
    request.extensions_mut().insert(nonce.clone());
    let is_asset = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();

    // Scripts run only from this origin or with this request's nonce; the
    // bundle needs WebAssembly compilation; pages talk to the portal and
    // send upload parts to the bucket; nothing may frame the portal.
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self' {}; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self' {}",
        nonce.0,
        state.storage_origin,
        form_targets(&state)
    );
    // A handler that set its own, stricter policy (the development
    // provider's sign-in form) keeps it.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(value) = HeaderValue::from_str(&csp)
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );

    // Pages and JSON may show a user's data, so no cache keeps them; the
    // bundle's file names carry content hashes, so caches may keep those.
    let cache = if is_asset {
        "public, max-age=31536000, immutable"
    } else {
        "no-store"
    };
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    if state.settings.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

/// Origins a form may post to: the portal, and the identity provider's
/// origin, which sign-out redirects to.
fn form_targets(state: &AppState) -> String {
    state.oidc.issuer().origin().ascii_serialization()
}
