//! The embedded S3 endpoint: an S3-compatible server inside Coffer's
//! process, on its own port, storing objects under the data folder.
//!
//! It speaks the real protocol through s3s (routing, XML, SigV4 header and
//! presigned-URL authentication), so Coffer reaches it with `aws-sdk-s3`
//! exactly as it reaches AWS. It supports the operations Coffer uses: bucket
//! creation and listing, objects with ranges and additional checksums,
//! listing with delimiters and continuation, multipart uploads with
//! COMPOSITE checksums, conditional writes, CORS for the portal origin, and
//! AWS-format access logs written into the log bucket. `docs/embedded-s3.md`
//! describes the data layout and limits.

mod access_log;
mod checksum;
mod cloudtrail;
mod cors;
mod credentials;
mod listing;
mod server;
mod service;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::access_log::split_log_line;
pub use self::credentials::{credentials_path, load_or_create_credentials};
pub use self::store::FixtureObject;

use self::access_log::AccessLog;
use self::cloudtrail::Trail;
use self::cors::CorsPolicy;
use self::server::{RecordingAccess, Shared};
use self::service::EmbeddedService;
use self::store::Store;

/// The folder, inside the log bucket, that holds access log objects.
pub const ACCESS_LOG_PREFIX: &str = access_log::LOG_PREFIX;

/// How the embedded endpoint runs.
pub struct EmbeddedS3Config {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The data folder; objects are stored under `data_dir/s3/`.
    pub data_dir: PathBuf,
    /// The one access key the endpoint accepts.
    pub access_key_id: String,
    /// Its secret; it only ever leaves the process inside signatures.
    pub secret_access_key: SecretString,
    /// Buckets created on start when missing (the artifact and log buckets).
    pub buckets: Vec<String>,
    /// The bucket access logs are written to, under `s3-access/`.
    pub log_bucket: String,
    /// How often buffered access log lines are written out.
    pub access_log_flush: Duration,
    /// Origins allowed to call the endpoint from a browser, matched exactly
    /// (e.g. `http://127.0.0.1:3000`).
    pub cors_origins: Vec<String>,
}

impl std::fmt::Debug for EmbeddedS3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedS3Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("access_key_id", &self.access_key_id)
            .field("buckets", &self.buckets)
            .field("log_bucket", &self.log_bucket)
            .field("access_log_flush", &self.access_log_flush)
            .field("cors_origins", &self.cors_origins)
            .finish_non_exhaustive()
    }
}

/// A running embedded endpoint. Stop it with [`EmbeddedS3::shutdown`], which
/// drains requests and writes the last access log lines; dropping it stops
/// the endpoint abruptly.
#[derive(Debug)]
pub struct EmbeddedS3 {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    serve_task: Option<JoinHandle<()>>,
    flush_task: Option<JoinHandle<()>>,
    log: Arc<AccessLog>,
    trail: Arc<Trail>,
}

impl EmbeddedS3 {
    /// Opens the store, creates missing buckets, binds and starts serving.
    #[tracing::instrument(skip_all, fields(s3.listen = %config.listen))]
    pub async fn start(config: EmbeddedS3Config) -> anyhow::Result<EmbeddedS3> {
        // Open the store; start-up also clears what a crash left behind.
        if config.access_key_id.is_empty() || config.secret_access_key.expose_secret().is_empty() {
            anyhow::bail!("the embedded S3 endpoint needs a non-empty access key and secret");
        }
        let root = store::store_root(&config.data_dir);
        let store = tokio::task::spawn_blocking(move || Store::open(&root))
            .await
            .context("store opening task failed")??;

        // Create the buckets Coffer expects, the log bucket included.
        let mut buckets = config.buckets.clone();
        buckets.push(config.log_bucket.clone());
        for bucket in &buckets {
            store
                .ensure_bucket(bucket)
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))
                .with_context(|| format!("failed to create bucket {bucket}"))?;
        }

        // Build the S3 service: SigV4 with the one key, signed requests only.
        let owner_id = server::canonical_id(&config.access_key_id);
        let mut builder =
            S3ServiceBuilder::new(EmbeddedService::new(store.clone(), owner_id.clone()));
        builder.set_auth(SimpleAuth::from_single(
            config.access_key_id.clone(),
            config.secret_access_key.expose_secret(),
        ));
        builder.set_access(RecordingAccess);
        let log = Arc::new(AccessLog::new(store.clone(), config.log_bucket.clone()));
        let trail = Arc::new(Trail::new(
            store,
            config.log_bucket.clone(),
            config.access_key_id.clone(),
            config.secret_access_key.clone(),
        ));
        let shared = Arc::new(Shared {
            s3: builder.build(),
            cors: CorsPolicy::new(&config.cors_origins),
            log: Arc::clone(&log),
            trail: Arc::clone(&trail),
            owner_id,
        });

        // Bind, then serve and flush logs in the background.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("failed to listen on {}", config.listen))?;
        let local_addr = listener
            .local_addr()
            .context("failed to read the bound address")?;
        let (stop, stopped) = watch::channel(false);
        let serve_task = tokio::spawn(server::serve(listener, shared, stopped.clone()));
        let flush_task = tokio::spawn(flush_periodically(
            Arc::clone(&log),
            Arc::clone(&trail),
            config.access_log_flush,
            stopped,
        ));
        tracing::info!(s3.endpoint = %format!("http://{local_addr}"), "embedded S3 endpoint listening");
        Ok(EmbeddedS3 {
            local_addr,
            stop,
            serve_task: Some(serve_task),
            flush_task: Some(flush_task),
            log,
            trail,
        })
    }

    /// The endpoint URL for `aws-sdk-s3` (`http://127.0.0.1:<port>`).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Writes the access log lines and trail records buffered so far, now.
    pub async fn flush_access_log(&self) -> anyhow::Result<()> {
        self.log.flush().await?;
        self.trail.flush().await
    }

    /// Stops accepting, lets requests in flight finish, and writes the last
    /// access log lines. The data folder can be reopened once this returns.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        // Stop both tasks and wait for the connections to drain.
        let _ = self.stop.send(true);
        if let Some(task) = self.serve_task.take() {
            task.await.context("the embedded S3 serve task failed")?;
        }
        if let Some(task) = self.flush_task.take() {
            task.await.context("the embedded S3 log task failed")?;
        }

        // Lines of the last requests are written after they finished.
        self.log
            .flush()
            .await
            .context("failed to write the last access log lines")?;
        self.trail
            .flush()
            .await
            .context("failed to write the last trail records")?;
        tracing::info!("embedded S3 endpoint stopped");
        Ok(())
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in [self.serve_task.take(), self.flush_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

/// Writes objects straight into the data folder of an embedded endpoint
/// that is not running, many per index transaction: for loading benchmark
/// and test fixtures, which would take hours through the S3 API. The
/// endpoint then serves them like objects it received itself (see
/// `store/bulk.rs` for the two differences S3 cannot see). Each object
/// replaces any earlier one under its key, as an unconditional PutObject
/// does; the bucket is created when missing. Answers how many objects were
/// written. Blocking, and refused while an endpoint has the folder open.
pub fn bulk_load(
    data_dir: &Path,
    bucket: &str,
    objects: impl IntoIterator<Item = FixtureObject>,
) -> anyhow::Result<u64> {
    let root = store::store_root(data_dir);
    let store = Store::open(&root)?;
    store
        .bulk_put(bucket, objects)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("failed to load objects into bucket {bucket}"))
}

/// Writes buffered access log lines and trail records every `every` until
/// stopped. A failed write keeps its lines for the next round.
async fn flush_periodically(
    log: Arc<AccessLog>,
    trail: Arc<Trail>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(err) = log.flush().await {
                    tracing::warn!(error = format!("{err:#}"), "failed to write S3 access logs; will retry");
                }
                if let Err(err) = trail.flush().await {
                    tracing::warn!(error = format!("{err:#}"), "failed to write trail records; will retry");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
