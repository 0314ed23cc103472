//! Starting and stopping one Coffer instance: the embedded S3 endpoint and
//! identity provider when configured, storage checks, then the portal.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use leptos::config::LeptosOptions;
use openidconnect::IssuerUrl;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::audit::{Action, AuditEvent, AuditTrail, Outcome};
use crate::auth::oidc::{OidcSettings, RelyingParty};
use crate::browse::Browse;
use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, StorageMode, Switch};
use crate::dashboard::Dashboard;
use crate::dashboard::access_logs::AccessLogStream;
use crate::dashboard::cloudtrail::LookupStream;
use crate::dashboard::portal::PortalStream;
use crate::dashboard::trail_files::TrailFileStream;
use crate::dev_idp::{DevIdp, DevIdpConfig};
use crate::pages;
use crate::router;
use crate::shares::Shares;
use crate::state::AppState;
use crate::storage::embedded::{self, EmbeddedS3, EmbeddedS3Config};
use crate::storage::{Endpoint, Storage};
use crate::uploads::Uploads;

/// Choices that tests make differently from `main`.
#[derive(Debug)]
pub struct StartOptions {
    /// A listener bound in advance (port 0 in tests); `None` binds
    /// `--listen`.
    pub listener: Option<TcpListener>,
    pub clock: Arc<dyn Clock>,
    /// With `--storage s3`, an endpoint given here instead of the SDK's
    /// default chain, so one test process can run servers against
    /// different S3 servers.
    pub s3_endpoint: Option<Endpoint>,
    /// Where CloudTrail's `LookupEvents` is asked, instead of the embedded
    /// endpoint (embedded storage) or the SDK's default chain (`s3`).
    pub cloudtrail_endpoint: Option<Endpoint>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            listener: None,
            clock: Arc::new(SystemClock),
            s3_endpoint: None,
            cloudtrail_endpoint: None,
        }
    }
}

/// A running instance.
#[derive(Debug)]
pub struct Running {
    pub local_addr: SocketAddr,
    pub state: AppState,
    s3: Option<EmbeddedS3>,
    janitor: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, then stops the
    /// embedded endpoint (which flushes its access logs).
    pub async fn stop(self) -> anyhow::Result<()> {
        // The janitor's work is idempotent: a round cut short is redone by
        // the next start.
        self.janitor.abort();
        self.sweeper.abort();
        let _ = self.stop.send(());
        match tokio::time::timeout(router::SHUTDOWN_GRACE, self.server).await {
            Ok(joined) => joined.context("the server task failed")??,
            Err(_) => tracing::warn!("requests still running after the grace period were cut"),
        }
        if let Some(s3) = self.s3 {
            s3.shutdown().await?;
        }
        Ok(())
    }

    /// Writes the embedded endpoint's buffered access log lines and trail
    /// records now, rather than at the next delivery; nothing to do on S3.
    pub async fn flush_logs(&self) -> anyhow::Result<()> {
        match &self.s3 {
            Some(s3) => s3.flush_access_log().await,
            None => Ok(()),
        }
    }

    /// Waits until the server stops by itself (it does not, short of an
    /// error), or until `signal` resolves, then stops cleanly.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

/// Starts everything the settings ask for and serves the portal.
pub async fn start(settings: Settings, options: StartOptions) -> anyhow::Result<Running> {
    settings.validate()?;
    let settings = Arc::new(settings);
    let StartOptions {
        listener,
        clock,
        s3_endpoint,
        cloudtrail_endpoint,
    } = options;

    // The listener first: with port 0 the public URL is known only now.
    let listener = match listener {
        Some(listener) => listener,
        None => TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?,
    };
    let local_addr = listener.local_addr()?;

    // Everything the routes need, then the routes.
    let portal = assemble(settings.clone(), clock, s3_endpoint, cloudtrail_endpoint).await?;

    // Serve until told to stop, letting requests in flight finish.
    let (stop, stopped) = oneshot::channel::<()>();
    let app = portal.app;
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    tracing::info!(portal.addr = %local_addr, portal.url = %settings.public_url, "Coffer is listening");

    Ok(Running {
        local_addr,
        state: portal.state,
        s3: portal.s3,
        janitor: portal.janitor,
        sweeper: portal.sweeper,
        stop,
        server,
    })
}

/// Serves API Gateway (HTTP API) events for as long as the Lambda runtime
/// keeps the process: the same routes as [`start`], without a listener.
pub async fn serve_lambda(settings: Settings) -> anyhow::Result<()> {
    settings.validate()?;
    crate::lambda::check_settings(&settings)?;

    // Background sweeps run while invocations keep the environment thawed.
    let portal = assemble(Arc::new(settings), Arc::new(SystemClock), None, None).await?;
    tracing::info!("Coffer is serving Lambda invocations");
    crate::lambda::serve(portal.app).await
}

/// One instance's routes and what runs beside them, before it serves.
struct Portal {
    state: AppState,
    app: axum::Router,
    s3: Option<EmbeddedS3>,
    janitor: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

/// Storage, identity, the services over them and the routes.
async fn assemble(
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
    s3_endpoint: Option<Endpoint>,
    cloudtrail_endpoint: Option<Endpoint>,
) -> anyhow::Result<Portal> {
    // Storage: the embedded endpoint, or AWS through the default chain.
    let (s3, endpoint) = start_storage_endpoint(&settings, s3_endpoint).await?;
    let storage = Storage::connect(&settings, endpoint.clone()).await;
    storage
        .check_ready()
        .await
        .context("the buckets are not reachable; create them or check the credentials")?;
    storage.probe_conditional_writes().await?;

    // Identity: the development provider unless an issuer is configured.
    let dev_idp = start_dev_idp(&settings)?;
    let oidc = relying_party(&settings, dev_idp.as_ref())?;
    if dev_idp.is_some() {
        tracing::warn!(
            "DEVELOPMENT SIGN-IN IS ON: demo accounts with published passwords can sign in at {}",
            settings.public_url
        );
    }

    // The shared state, then the routes over it.
    let assets = pages::load_assets(&settings.site_dir)?;
    let leptos = LeptosOptions::builder()
        .output_name("coffer")
        .site_root(settings.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .build();
    let audit = AuditTrail::new(storage.clone(), clock.clone());
    if let Some(provider) = &dev_idp {
        record_refused_passwords(provider, &audit);
    }
    let uploads = Uploads::new(&settings, storage.clone(), audit.clone(), clock.clone());
    let janitor = uploads
        .clone()
        .spawn_janitor(std::time::Duration::from_secs(
            settings.janitor_interval_secs,
        ));
    let storage_origin = storage.presigned_origin().await?;
    let browse = Browse::new(storage.clone(), audit.clone(), clock.clone());
    let shares = Shares::new(storage.clone(), audit.clone(), clock.clone());
    let dashboard = dashboard(&settings, &storage, &audit, &endpoint, cloudtrail_endpoint).await;
    let sweeper = spawn_index_sweep(audit.clone());
    let state = AppState {
        settings: settings.clone(),
        uploads,
        browse,
        shares,
        dashboard,
        storage_origin,
        audit,
        storage,
        oidc: Arc::new(oidc),
        groups: settings.group_roles.clone(),
        clock,
        dev_idp: dev_idp.is_some(),
        assets,
        leptos,
    };
    let app = router::build(state.clone(), dev_idp.as_ref());
    Ok(Portal {
        state,
        app,
        s3,
        janitor,
        sweeper,
    })
}

/// The compliance dashboard's sources: the trail, CloudTrail (the embedded
/// endpoint plays its part in embedded mode) and the log bucket.
async fn dashboard(
    settings: &Settings,
    storage: &Storage,
    audit: &AuditTrail,
    storage_endpoint: &Endpoint,
    given: Option<Endpoint>,
) -> Dashboard {
    let embedded = settings.storage == StorageMode::Embedded;
    let lookup = match settings.cloudtrail {
        Switch::Off => None,
        Switch::On => {
            let endpoint = given.unwrap_or_else(|| {
                if embedded {
                    storage_endpoint.clone()
                } else {
                    Endpoint::Aws
                }
            });
            Some(LookupStream::connect(&endpoint).await)
        }
    };
    let logs = storage.log_storage();
    Dashboard::new(
        PortalStream::new(audit.clone()),
        lookup,
        TrailFileStream::new(logs.clone()),
        AccessLogStream::new(logs, audit.clone(), settings.bucket.clone()),
        embedded.then_some(settings.access_log_flush_secs),
    )
}

/// How often the audit index is checked for records a crash left out.
const INDEX_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Indexes audit records whose writer stopped before indexing them: once at
/// start, then every few minutes. A sweep cut short is redone by the next.
fn spawn_index_sweep(audit: AuditTrail) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match audit.sweep_index().await {
                Ok(sweep) if sweep.repaired > 0 => {
                    tracing::warn!(
                        audit.repaired = sweep.repaired,
                        audit.watermark = sweep.watermark,
                        "indexed audit records a crash had left out"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "could not sweep the audit index");
                }
            }
            tokio::time::sleep(INDEX_SWEEP_INTERVAL).await;
        }
    })
}

/// Starts the embedded S3 endpoint when storage is embedded.
async fn start_storage_endpoint(
    settings: &Settings,
    given: Option<Endpoint>,
) -> anyhow::Result<(Option<EmbeddedS3>, Endpoint)> {
    if settings.storage == StorageMode::S3 {
        return Ok((None, given.unwrap_or(Endpoint::Aws)));
    }

    // Credentials from the settings, else generated once and kept.
    let (access_key_id, secret_access_key) =
        match (&settings.s3_access_key_id, &settings.s3_secret_access_key) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            (None, None) => embedded::load_or_create_credentials(&settings.data_dir)?,
            _ => bail!("set both --s3-access-key-id and --s3-secret-access-key, or neither"),
        };

    // Browsers upload parts straight to the endpoint from the portal's
    // origin, and from nowhere else.
    let s3 = EmbeddedS3::start(EmbeddedS3Config {
        listen: settings.s3_listen,
        data_dir: settings.data_dir.clone(),
        access_key_id: access_key_id.clone(),
        secret_access_key: secret_access_key.clone(),
        buckets: vec![settings.bucket.clone(), settings.log_bucket.clone()],
        log_bucket: settings.log_bucket.clone(),
        access_log_flush: std::time::Duration::from_secs(settings.access_log_flush_secs),
        cors_origins: vec![settings.public_origin()],
    })
    .await
    .context("failed to start the embedded S3 endpoint")?;
    let endpoint = Endpoint::Static {
        url: s3.endpoint_url(),
        access_key_id,
        secret_access_key,
    };
    Ok((Some(s3), endpoint))
}

/// Loads the development provider when no issuer is configured.
fn start_dev_idp(settings: &Settings) -> anyhow::Result<Option<DevIdp>> {
    if settings.oidc_issuer.is_some() {
        return Ok(None);
    }
    let provider = DevIdp::load_or_create(DevIdpConfig {
        issuer: settings.public_url_for("/dev-idp")?,
        data_dir: settings.data_dir.clone(),
        users_file: settings.dev_idp_users.clone(),
        redirect_uris: vec![settings.public_url_for("/auth/callback")?],
        post_logout_redirect_uris: vec![settings.public_url_for("/")?],
        groups_claim: settings.groups_claim.clone(),
        pipeline_groups: vec!["data-scientists".to_owned()],
        allow_non_loopback: settings.dev_idp_force,
    })
    .context("failed to start the development identity provider")?;
    Ok(Some(provider))
}

/// Passwords the development provider refuses never reach the portal's
/// callback, so the provider reports them to the audit trail directly.
fn record_refused_passwords(provider: &DevIdp, audit: &AuditTrail) {
    let audit = audit.clone();
    provider.on_refused_sign_in(Arc::new(move |username, request_id| {
        let audit = audit.clone();
        Box::pin(async move {
            let actor = username.unwrap_or_else(|| "anonymous".to_owned());
            let event = AuditEvent::new(actor, Action::SignInFailed, Outcome::Failure, &request_id)
                .with_detail("wrong username or password at the development provider");
            audit.record(event).await.map(|_| ())
        })
    }));
}

/// The relying party for the configured provider.
fn relying_party(settings: &Settings, dev_idp: Option<&DevIdp>) -> anyhow::Result<RelyingParty> {
    let (issuer, client_id, client_secret) = match (dev_idp, &settings.oidc_issuer) {
        (Some(provider), _) => (
            IssuerUrl::from_url(settings.public_url_for("/dev-idp")?),
            provider.client_id().to_owned(),
            Some(provider.client_secret().clone()),
        ),
        (None, Some(issuer)) => (
            issuer.clone(),
            settings
                .oidc_client_id
                .clone()
                .context("--oidc-issuer needs --oidc-client-id")?,
            settings.oidc_client_secret.clone(),
        ),
        (None, None) => bail!("no identity provider is configured"),
    };
    RelyingParty::new(OidcSettings {
        issuer,
        client_id,
        client_secret,
        redirect_url: settings.public_url_for("/auth/callback")?,
        post_logout_url: settings.public_url_for("/")?,
        logout_url: settings.oidc_logout_url.clone(),
        groups_claim: settings.groups_claim.clone(),
    })
}
