//! `TestApp`: a real Coffer server on loopback port 0 with a temporary data
//! folder, the embedded S3 endpoint and the development provider, plus
//! helpers that sign in the way a browser does.

pub mod lambda_runtime;

use std::sync::Arc;

use clap::Parser;
use coffer_server::audit::AuditRecord;
use coffer_server::clock::ManualClock;
use coffer_server::config::Settings;
use coffer_server::startup::{self, Running, StartOptions};
use coffer_server::storage::Endpoint;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use scraper::{Html, Selector};
use tempfile::TempDir;
use tokio::net::TcpListener;
use url::Url;

/// Buckets of a server on moto.
const MOTO_BUCKET: &str = "coffer-it-artifacts";
const MOTO_LOG_BUCKET: &str = "coffer-it-logs";

/// The demo accounts' password.
pub const DEMO_PASSWORD: &str = "coffer-demo";

/// Where a test server keeps its buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded S3 endpoint (the default).
    Embedded,
    /// `--storage s3` against a moto server started for the test.
    Moto,
}

/// One running server and what it needs.
pub struct TestApp {
    pub url: String,
    pub clock: Arc<ManualClock>,
    pub backend: Backend,
    running: Option<Running>,
    data: Arc<TempDir>,
    port: u16,
    extra_args: Vec<String>,
    moto: Option<Arc<crate::s3::Target>>,
    cloudtrail: Option<String>,
}

impl TestApp {
    /// A fresh server with an empty data folder.
    pub async fn start() -> TestApp {
        TestApp::start_with(&[]).await
    }

    /// A fresh server with extra command-line settings.
    pub async fn start_with(extra_args: &[&str]) -> TestApp {
        TestApp::start_on(Backend::Embedded, extra_args).await
    }

    /// A fresh server on the given storage, with extra settings. On moto,
    /// both buckets are created first, as an operator would.
    pub async fn start_on(backend: Backend, extra_args: &[&str]) -> TestApp {
        let data = Arc::new(TempDir::new().expect("temporary data folder"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        let mut extra_args: Vec<String> = extra_args.iter().map(|arg| arg.to_string()).collect();
        let clock = Arc::new(ManualClock::new());

        let moto = match backend {
            Backend::Embedded => None,
            Backend::Moto => {
                let moto = crate::s3::Target::moto().await.expect("moto starts");
                moto.bucket(MOTO_BUCKET).await.expect("artifact bucket");
                moto.bucket(MOTO_LOG_BUCKET).await.expect("log bucket");
                extra_args.extend(
                    [
                        "--storage",
                        "s3",
                        "--bucket",
                        MOTO_BUCKET,
                        "--log-bucket",
                        MOTO_LOG_BUCKET,
                        "--s3-force-path-style",
                        "true",
                    ]
                    .map(str::to_owned),
                );
                Some(Arc::new(moto))
            }
        };
        boot(listener, port, data, clock, extra_args, moto, None).await
    }

    /// A fresh embedded server that asks the CloudTrail API at `url` (a
    /// stub) instead of its own endpoint.
    pub async fn start_with_cloudtrail(url: &str) -> TestApp {
        let data = Arc::new(TempDir::new().expect("temporary data folder"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        let clock = Arc::new(ManualClock::new());
        boot(
            listener,
            port,
            data,
            clock,
            Vec::new(),
            None,
            Some(url.to_owned()),
        )
        .await
    }

    /// A second server on the same moto buckets, with its own port and
    /// data folder: another instance behind the same load balancer.
    pub async fn another_instance(&self) -> TestApp {
        let moto = self
            .moto
            .clone()
            .expect("instances share buckets only on moto");
        let data = Arc::new(TempDir::new().expect("temporary data folder"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        boot(
            listener,
            port,
            data,
            self.clock.clone(),
            self.extra_args.clone(),
            Some(moto),
            None,
        )
        .await
    }

    /// Stops the server and starts it again on the same port and data
    /// folder, as an operator's restart would.
    pub async fn restart(mut self) -> TestApp {
        let running = self.running.take().expect("server is running");
        running.stop().await.expect("clean stop");
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind the same port");
        boot(
            listener,
            self.port,
            self.data.clone(),
            self.clock.clone(),
            self.extra_args.clone(),
            self.moto.clone(),
            self.cloudtrail.clone(),
        )
        .await
    }

    /// The running instance, for in-process checks (audit verification).
    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server is running")
    }

    /// A URL on the portal.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Every audit record, oldest first.
    pub async fn audit_records(&self) -> Vec<AuditRecord> {
        let audit = &self.running().state.audit;
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = audit
                .page(after.as_deref(), 1000)
                .await
                .expect("audit page");
            let Some(last) = page.last() else { break };
            after = Some(coffer_server::audit::key_for(last.seq));
            records.extend(page);
        }
        records.reverse();
        records
    }

    /// Direct S3 access to the artifact bucket, as an attacker with bucket
    /// rights (or an operator) would have.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        self.running().state.storage.client()
    }

    /// The artifact bucket's name.
    pub fn bucket(&self) -> &str {
        self.running().state.storage.bucket()
    }

    /// The log bucket's name.
    pub fn log_bucket(&self) -> &str {
        self.running().state.storage.log_bucket()
    }

    /// The server's data folder.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// Writes the embedded endpoint's access log lines and trail records
    /// now.
    pub async fn flush_logs(&self) {
        self.running().flush_logs().await.expect("logs are written");
    }
}

async fn boot(
    listener: TcpListener,
    port: u16,
    data: Arc<TempDir>,
    clock: Arc<ManualClock>,
    extra_args: Vec<String>,
    moto: Option<Arc<crate::s3::Target>>,
    cloudtrail: Option<String>,
) -> TestApp {
    let url = format!("http://127.0.0.1:{port}");
    let data_dir = data.path().to_string_lossy().to_string();
    let mut args = vec![
        "coffer-server".to_owned(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--public-url".into(),
        url.clone(),
        "--s3-listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir,
        "--site-dir".into(),
        "/nonexistent-site".into(),
    ];
    args.extend(extra_args.iter().cloned());
    let settings = Settings::try_parse_from(args).expect("test settings parse");
    let options = StartOptions {
        listener: Some(listener),
        clock: clock.clone(),
        s3_endpoint: moto.as_ref().map(|moto| Endpoint::Static {
            url: moto.endpoint.clone(),
            access_key_id: "testing".to_owned(),
            secret_access_key: "testing".to_owned().into(),
        }),
        cloudtrail_endpoint: cloudtrail.as_ref().map(|url| Endpoint::Static {
            url: url.clone(),
            access_key_id: "stub".to_owned(),
            secret_access_key: "stub-secret".to_owned().into(),
        }),
    };
    let running = startup::start(settings, options)
        .await
        .expect("server starts");
    TestApp {
        url,
        clock,
        backend: if moto.is_some() {
            Backend::Moto
        } else {
            Backend::Embedded
        },
        running: Some(running),
        data,
        port,
        extra_args,
        moto,
        cloudtrail,
    }
}

/// A running portal the sign-in helpers can talk to: the in-process
/// [`TestApp`], or the real binary run as a child process.
pub trait Portal {
    /// A URL on the portal.
    fn at(&self, path: &str) -> String;
}

impl Portal for TestApp {
    fn at(&self, path: &str) -> String {
        TestApp::at(self, path)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Tests that do not stop the server let the runtime end it; the
        // data folder goes with the last reference.
        let _ = self.running.take();
    }
}

/// A browser-like client: keeps cookies, follows no redirects.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// A client that keeps no cookies, for replaying a captured one by hand.
pub fn bare_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// The `Location` of a redirect, resolved against the request URL.
pub fn location(response: &Response) -> Url {
    let value = response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location on a {} answer", response.status()))
        .to_str()
        .expect("ASCII Location");
    response.url().join(value).expect("Location resolves")
}

/// Starts a sign-in at `/login` and answers the provider URL Coffer sends
/// the browser to.
pub async fn begin_sign_in(app: &impl Portal, client: &Client, next: &str) -> Url {
    let response = client
        .get(app.at(&format!("/login?next={next}")))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "/login redirects to the provider"
    );
    location(&response)
}

/// Loads the provider's sign-in form at `authorize_url` and sends it with
/// the given credentials; answers the provider's response.
pub async fn submit_credentials(
    client: &Client,
    authorize_url: &Url,
    username: &str,
    password: &str,
) -> Response {
    let form_page = client
        .get(authorize_url.clone())
        .send()
        .await
        .expect("GET authorize");
    assert_eq!(
        form_page.status(),
        StatusCode::OK,
        "the provider shows its form"
    );
    let page_url = form_page.url().clone();
    let html = form_page.text().await.expect("form HTML");
    let (action, mut fields) = parse_form(&html);
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "username" => *value = username.to_owned(),
            "password" => *value = password.to_owned(),
            _ => {}
        }
    }
    let target = page_url.join(&action).expect("form action resolves");
    client
        .post(target)
        .form(&fields)
        .send()
        .await
        .expect("POST sign-in form")
}

/// The form's action and its named inputs with their values.
fn parse_form(html: &str) -> (String, Vec<(String, String)>) {
    let document = Html::parse_document(html);
    let form_selector = Selector::parse("form").expect("selector");
    let input_selector = Selector::parse("input[name]").expect("selector");
    let form = document
        .select(&form_selector)
        .next()
        .expect("a form on the page");
    let action = form.value().attr("action").unwrap_or("").to_owned();
    let fields = form
        .select(&input_selector)
        .map(|input| {
            let name = input.value().attr("name").unwrap_or_default().to_owned();
            let value = input.value().attr("value").unwrap_or_default().to_owned();
            (name, value)
        })
        .collect();
    (action, fields)
}

/// Follows the provider's redirect back to Coffer's callback.
pub async fn follow_callback(client: &Client, callback: Url) -> Response {
    client.get(callback).send().await.expect("GET callback")
}

/// Signs `username` in through the whole flow and checks it worked.
pub async fn sign_in(app: &impl Portal, client: &Client, username: &str) {
    let authorize = begin_sign_in(app, client, "/").await;
    let answer = submit_credentials(client, &authorize, username, DEMO_PASSWORD).await;
    assert!(
        answer.status().is_redirection(),
        "the provider accepts {username}: {}",
        answer.status()
    );
    let done = follow_callback(client, location(&answer)).await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "the callback signs {username} in"
    );
    let target = location(&done);
    assert!(
        !target.path().starts_with("/auth/failed"),
        "sign-in of {username} failed: {target}"
    );
}

/// The `coffer` cookie a response sets, as `name=value`.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("coffer="))
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
}

/// Calls `/api/v1/me` with a hand-made cookie header.
pub async fn me_with_cookie(app: &impl Portal, cookie: &str) -> StatusCode {
    bare_client()
        .get(app.at("/api/v1/me"))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("GET /api/v1/me")
        .status()
}

/// The signed-in user's `/api/v1/me` answer.
pub async fn me(app: &impl Portal, client: &Client) -> (StatusCode, serde_json::Value) {
    let response = client
        .get(app.at("/api/v1/me"))
        .send()
        .await
        .expect("GET /api/v1/me");
    let status = response.status();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}
