//! Server-side rendering of the portal's pages, the access rule each page
//! path enforces before rendering, and the browser bundle's assets.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use coffer_app::App;
use coffer_app::access::{Access, access_for};
use coffer_app::audit::api::{AuditQuery, AuditView, VerifyReport};
use coffer_app::models::api::{ModelDetail, ModelList, ModelQuery, VersionPageData};
use coffer_app::models::catalog::{BoxFuture, Catalog, CatalogError, CatalogHandle};
use coffer_app::session::PageContext;
use coffer_app::session::Role;
use coffer_app::shares::api::{ShareList, SharedItem};
use coffer_app::shell::{AssetTags, LinkTag, shell};
use coffer_app::upload::api::VersionView;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use scraper::{Html, Selector};

use crate::api::audit::AUDITORS;
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::{CurrentUser, SessionUser};
use crate::dashboard;
use crate::error::ApiError;
use crate::http::headers::CspNonce;
use crate::http::request_id::request_id_of;
use crate::state::AppState;

/// Pages rendered by Leptos.
pub fn router(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(App);
    let assets = state.assets.clone();
    Router::new().leptos_routes_with_context(state, routes, provide_request_context, move || {
        shell(assets.clone())
    })
}

/// Hands the request's verified context and CSP nonce to the components.
pub fn provide_request_context() {
    let Some(parts) = use_context::<Parts>() else {
        return;
    };
    if let Some(context) = parts.extensions.get::<PageContext>() {
        provide_context(context.clone());
    }
    if let Some(catalog) = parts.extensions.get::<CatalogHandle>() {
        provide_context(catalog.clone());
    }

    // Inline scripts must carry the nonce the CSP header names.
    if let Some(nonce) = parts.extensions.get::<CspNonce>() {
        provide_context(Nonce::from_value(nonce.0.clone()));
    }
}

/// Builds the page context (who is signed in, whether the development
/// provider is on) for pages and server functions.
pub async fn page_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = request
        .extensions()
        .get::<CurrentUser>()
        .and_then(|current| current.0.clone());
    let viewer = user.as_ref().map(|user| user.viewer(&state));
    request.extensions_mut().insert(PageContext {
        viewer,
        dev_idp: state.dev_idp,
    });

    // Server functions read the registry and links through this handle,
    // bound to this request's caller.
    let catalog: Arc<dyn Catalog> = Arc::new(PortalCatalog { state, user });
    request.extensions_mut().insert(CatalogHandle(catalog));
    next.run(request).await
}

/// The catalog pages read, for one request's caller. Role checks happen in
/// the server functions, which know which page asks.
struct PortalCatalog {
    state: AppState,
    user: Option<SessionUser>,
}

impl Catalog for PortalCatalog {
    fn models(&self, query: ModelQuery) -> BoxFuture<'_, Result<ModelList, CatalogError>> {
        Box::pin(async move {
            self.state
                .browse
                .models(&query)
                .await
                .map_err(catalog_error)
        })
    }

    fn model(
        &self,
        model: String,
        below: Option<u64>,
    ) -> BoxFuture<'_, Result<Option<ModelDetail>, CatalogError>> {
        Box::pin(async move {
            self.state
                .browse
                .model(&model, below)
                .await
                .map_err(catalog_error)
        })
    }

    fn version(
        &self,
        model: String,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<VersionView>, CatalogError>> {
        Box::pin(async move {
            self.state
                .browse
                .version(&model, version)
                .await
                .map_err(catalog_error)
        })
    }

    fn version_page(
        &self,
        model: String,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<VersionPageData>, CatalogError>> {
        Box::pin(async move {
            self.state
                .browse
                .version_page(&model, version)
                .await
                .map_err(catalog_error)
        })
    }

    fn shares(&self) -> BoxFuture<'_, Result<ShareList, CatalogError>> {
        Box::pin(async move {
            let user = self.user.as_ref().ok_or(CatalogError::Forbidden)?;
            let all = user.roles.contains(&Role::Admin);
            self.state
                .shares
                .list(user, all)
                .await
                .map_err(catalog_error)
        })
    }

    fn shared(&self, token: String) -> BoxFuture<'_, Result<Option<SharedItem>, CatalogError>> {
        Box::pin(async move {
            self.state
                .shares
                .shared(&token)
                .await
                .map_err(catalog_error)
        })
    }

    fn audit_view(&self, query: AuditQuery) -> BoxFuture<'_, Result<AuditView, CatalogError>> {
        Box::pin(async move {
            self.require_auditor()?;
            let request = dashboard::parse_query(&query).map_err(catalog_error)?;
            self.state
                .dashboard
                .view(&request)
                .await
                .map_err(catalog_error)
        })
    }

    fn verify_trail(&self) -> BoxFuture<'_, Result<VerifyReport, CatalogError>> {
        Box::pin(async move {
            self.require_auditor()?;
            self.state
                .audit
                .verify()
                .await
                .map_err(|cause| catalog_error(ApiError::Internal(cause)))
        })
    }
}

impl PortalCatalog {
    /// The dashboard reads are for compliance staff and admins, whichever
    /// page or function asks.
    fn require_auditor(&self) -> Result<(), CatalogError> {
        let user = self.user.as_ref().ok_or(CatalogError::Forbidden)?;
        if user.roles.iter().any(|role| AUDITORS.contains(role)) {
            Ok(())
        } else {
            Err(CatalogError::Forbidden)
        }
    }
}

/// What a page may learn of a failure; storage causes go to the log once,
/// here at the edge.
fn catalog_error(error: ApiError) -> CatalogError {
    match error {
        ApiError::BadRequest(message) => CatalogError::BadRequest(message),
        ApiError::Forbidden(_) | ApiError::Unauthorized => CatalogError::Forbidden,
        ApiError::Internal(cause) => {
            tracing::error!(error = %format!("{cause:#}"), "a page could not read the registry");
            CatalogError::Unavailable
        }
        other => CatalogError::BadRequest(other.to_string()),
    }
}

/// Enforces each page's access rule before it renders: signed-out
/// visitors go to sign-in, users without the role get the page's "no
/// access" view with 403, and the refusal is recorded first.
pub async fn page_access(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let access = access_for(&path);
    if access == Access::Public {
        return next.run(request).await;
    }

    // Signed-out visitors are sent to sign in and brought back.
    let user = request
        .extensions()
        .get::<CurrentUser>()
        .and_then(|current| current.0.clone());
    let Some(user) = user else {
        let next_path = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let target = format!("/login?next={}", urlencode(next_path));
        return Redirect::to(&target).into_response();
    };

    let context = request.extensions().get::<PageContext>();
    let allowed = access.allows(context.and_then(|context| context.viewer.as_ref()));
    if allowed {
        return next.run(request).await;
    }

    // The refusal is durable before the page says so.
    let request_id = request_id_of(request.extensions());
    let event = AuditEvent::new(
        &user.username,
        Action::AccessDenied,
        Outcome::Denied,
        &request_id,
    )
    .with_path(path)
    .with_detail("role does not allow this page");
    if let Err(error) = state.audit.record(event).await {
        return ApiError::Internal(error).into_response();
    }
    let mut response = next.run(request).await;
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// Renders the app's "not found" page for paths no route claims.
pub async fn not_found(State(state): State<AppState>, uri: Uri, request: Request) -> Response {
    // API paths answer in JSON; everything else is a page.
    if uri.path().starts_with("/api/") {
        return ApiError::NotFound.into_response();
    }
    let assets = state.assets.clone();
    let handler =
        leptos_axum::render_app_to_stream_with_context(provide_request_context, move || {
            shell(assets.clone())
        });
    let mut response = handler(request).await.into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Reads the tags trunk wrote into its `index.html`, which load the
/// bundle; without a built bundle pages still render, without scripts.
pub fn load_assets(site_dir: &Path) -> anyhow::Result<AssetTags> {
    let index = site_dir.join("index.html");
    let html = match std::fs::read_to_string(&index) {
        Ok(html) => html,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                site.index = %index.display(),
                "no browser bundle found; pages will render without interactivity (run `make build`)"
            );
            return Ok(AssetTags::default());
        }
        Err(error) => {
            return Err(
                anyhow::Error::new(error).context(format!("failed to read {}", index.display()))
            );
        }
    };
    Ok(parse_assets(&html))
}

/// The module script and `<link>` tags of trunk's output.
fn parse_assets(html: &str) -> AssetTags {
    let document = Html::parse_document(html);

    // These selectors are constant and valid.
    let script = Selector::parse(r#"head script[type="module"]"#).ok();
    let link = Selector::parse("head link").ok();

    let module_script = script.and_then(|selector| {
        document
            .select(&selector)
            .next()
            .map(|element| element.text().collect::<String>())
    });
    let links = link
        .map(|selector| {
            document
                .select(&selector)
                .filter_map(|element| {
                    let attr = |name: &str| element.value().attr(name).map(str::to_owned);
                    Some(LinkTag {
                        rel: attr("rel")?,
                        href: attr("href")?,
                        integrity: attr("integrity"),
                        crossorigin: attr("crossorigin"),
                        as_: attr("as"),
                        type_: attr("type"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    AssetTags {
        module_script,
        links,
    }
}

/// Percent-encodes a value for a query string.
fn urlencode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_output_yields_the_module_script_and_links() {
        let html = r#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="/pkg/main-1.css" integrity="sha384-a">
            <link rel="modulepreload" href="/pkg/app-2.js" crossorigin="anonymous" integrity="sha384-b">
            <link rel="preload" href="/pkg/app-2_bg.wasm" crossorigin="anonymous" integrity="sha384-c" as="fetch" type="application/wasm">
            <script type="module">import init from '/pkg/app-2.js'; await init();</script>
            </head><body></body></html>"#;
        let assets = parse_assets(html);
        assert_eq!(assets.links.len(), 3);
        assert_eq!(assets.links[2].as_.as_deref(), Some("fetch"));
        assert_eq!(assets.links[1].integrity.as_deref(), Some("sha384-b"));
        assert!(
            assets
                .module_script
                .expect("script")
                .contains("await init()")
        );
    }
}
