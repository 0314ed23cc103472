//! What every handler shares.

use std::sync::Arc;

use axum::extract::FromRef;
use coffer_app::shell::AssetTags;
use leptos::config::LeptosOptions;

use crate::audit::AuditTrail;
use crate::auth::oidc::RelyingParty;
use crate::auth::roles::GroupMap;
use crate::browse::Browse;
use crate::clock::Clock;
use crate::config::Settings;
use crate::dashboard::Dashboard;
use crate::shares::Shares;
use crate::storage::Storage;
use crate::uploads::Uploads;

/// Shared, cheaply cloned state of one server instance.
#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub storage: Storage,
    pub audit: AuditTrail,
    pub uploads: Uploads,
    pub browse: Browse,
    pub shares: Shares,
    /// The compliance dashboard's sources.
    pub dashboard: Dashboard,
    /// Where browsers send upload parts (the bucket's origin), for the
    /// pages' `connect-src`.
    pub storage_origin: String,
    pub oidc: Arc<RelyingParty>,
    pub groups: GroupMap,
    pub clock: Arc<dyn Clock>,
    /// Whether the embedded development provider signs users in.
    pub dev_idp: bool,
    /// The tags that load the browser bundle.
    pub assets: AssetTags,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos.clone()
    }
}
