//! Browsing the registry: listings with search, sort and paging over the
//! bucket's indexes; a model's history; descriptions; aliases and their
//! race; model cards. Models that need no real upload are written straight
//! into the registry through `coffer_server::registry`, the same code the
//! uploads use.

mod access;
mod aliases;
mod card;
mod descriptions;
mod listing;
mod scale;

use coffer_app::upload::api::VersionState;
use coffer_server::registry::{Manifest, ModelRecord, Registry};
use reqwest::Method;
use serde::Serialize;

use crate::support::TestApp;
use crate::uploads::client::{Answer, Uploader, answer};

/// The registry of the running app, over the app's own storage.
pub fn registry(app: &TestApp) -> Registry {
    Registry::new(app.running().state.storage.clone())
}

/// Creates a model as an upload's start would.
pub async fn seed_model(registry: &Registry, app: &TestApp, name: &str) {
    registry
        .ensure_model(&ModelRecord {
            name: name.to_owned(),
            created_by: "alice".to_owned(),
            created_at: app.clock_now(),
        })
        .await
        .expect("model created");
}

/// Claims and publishes an empty version of a model, as a finished upload
/// would; answers its number.
pub async fn seed_version(
    registry: &Registry,
    app: &TestApp,
    model: &str,
    state: VersionState,
) -> u64 {
    let now = app.clock_now();
    let version = registry
        .claim_next_version(model, "seeded", "alice", now)
        .await
        .expect("version claimed");
    let manifest = Manifest {
        model: model.to_owned(),
        version,
        state,
        uploader: "alice".to_owned(),
        upload_id: "seeded".to_owned(),
        created_at: now,
        finished_at: now,
        description: String::new(),
        metadata: Default::default(),
        files: Vec::new(),
        failure: (state == VersionState::Failed).then(|| "seeded as failed".to_owned()),
    };
    registry.publish(&manifest).await.expect("published");
    version
}

/// `PUT` with a JSON body on the user's session, with the CSRF token.
pub async fn put(user: &Uploader, path: &str, body: &impl Serialize) -> Answer {
    answer(user.request(Method::PUT, path).json(body)).await
}

/// The time the app's clock shows.
trait ClockNow {
    fn clock_now(&self) -> time::OffsetDateTime;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> time::OffsetDateTime {
        use coffer_server::clock::Clock as _;
        self.clock.now()
    }
}
