//! The S3 protocol as Coffer uses it, checked through `aws-sdk-s3` against
//! two servers: Coffer's embedded endpoint and moto (`moto_server`), a
//! reference S3 implementation. Each protocol test runs once per server, so
//! a difference between them shows up as a failing pair; where moto really
//! behaves differently the test says so in a comment and asserts what is
//! true of each.

mod embedded_only;
mod multipart;
mod objects;
mod presigned;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedPart};
use coffer_server::storage::embedded::{EmbeddedS3, EmbeddedS3Config};
use secrecy::SecretString;
use tempfile::TempDir;

/// The portal origin the embedded endpoint allows in tests.
pub const PORTAL_ORIGIN: &str = "http://127.0.0.1:3000";

/// The log bucket every embedded endpoint in these tests writes to.
pub const LOG_BUCKET: &str = "coffer-logs";

const ACCESS_KEY: &str = "CFRTESTACCESSKEY0001";
const SECRET_KEY: &str = "test-secret-key-for-the-embedded-endpoint";

/// Which server a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Moto,
}

/// One server under test and a client for it.
pub struct Target {
    pub kind: Kind,
    pub endpoint: String,
    pub client: Client,
    pub http: reqwest::Client,
    pub embedded: Option<EmbeddedS3>,
    pub data_dir: Option<TempDir>,
    _moto: Option<MotoServer>,
}

impl Target {
    /// An embedded endpoint on a fresh data folder.
    pub async fn embedded() -> anyhow::Result<Target> {
        let dir = tempfile::tempdir()?;
        let server = start_embedded(dir.path()).await?;
        let endpoint = server.endpoint_url();
        Ok(Target {
            kind: Kind::Embedded,
            client: client(&endpoint, ACCESS_KEY, SECRET_KEY),
            http: reqwest::Client::new(),
            endpoint,
            embedded: Some(server),
            data_dir: Some(dir),
            _moto: None,
        })
    }

    /// A fresh moto server.
    pub async fn moto() -> anyhow::Result<Target> {
        let moto = MotoServer::start().await?;
        let endpoint = format!("http://{}", moto.addr);
        Ok(Target {
            kind: Kind::Moto,
            client: client(&endpoint, "testing", "testing"),
            http: reqwest::Client::new(),
            endpoint,
            embedded: None,
            data_dir: None,
            _moto: Some(moto),
        })
    }

    pub async fn of(kind: Kind) -> anyhow::Result<Target> {
        match kind {
            Kind::Embedded => Target::embedded().await,
            Kind::Moto => Target::moto().await,
        }
    }

    /// A client with the SDK's default checksum behaviour (CRC32 on every
    /// upload, sent as an aws-chunked trailer).
    pub fn default_checksum_client(&self) -> Client {
        let (key, secret) = match self.kind {
            Kind::Embedded => (ACCESS_KEY, SECRET_KEY),
            Kind::Moto => ("testing", "testing"),
        };
        let config = base_config(&self.endpoint, key, secret).build();
        Client::from_conf(config)
    }

    /// Creates a bucket for one test.
    pub async fn bucket(&self, name: &str) -> anyhow::Result<String> {
        self.client.create_bucket().bucket(name).send().await?;
        Ok(name.to_owned())
    }

    /// A PutObject of `body` under `key`, to send as it is or with more
    /// headers.
    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
    }

    /// The whole body of the object under `key`.
    pub async fn get_bytes(&self, bucket: &str, key: &str) -> anyhow::Result<Vec<u8>> {
        let got = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await?;
        read_body(got).await
    }

    /// Opens a multipart upload with SHA-256 checksums; returns its id.
    pub async fn create_sha256_upload(&self, bucket: &str, key: &str) -> anyhow::Result<String> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .content_type("application/x-model")
            .send()
            .await?;
        created
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no upload id"))
    }

    /// Uploads one part with a SHA-256 the server verifies; returns it as
    /// completed.
    pub async fn upload_sha256_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        body: &[u8],
    ) -> anyhow::Result<CompletedPart> {
        let sha = sha256_b64(body);
        let out = self
            .client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_sha256(&sha)
            .body(body.to_vec().into())
            .send()
            .await?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .checksum_sha256(sha)
            .build())
    }

    /// Stops an embedded endpoint cleanly, keeping its data folder.
    pub async fn stop_embedded(&mut self) -> anyhow::Result<()> {
        if let Some(server) = self.embedded.take() {
            server.shutdown().await?;
        }
        Ok(())
    }

    /// Starts the embedded endpoint again on the same data folder.
    pub async fn restart_embedded(&mut self) -> anyhow::Result<()> {
        self.stop_embedded().await?;
        let dir = self
            .data_dir
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("not embedded"))?;
        let server = start_embedded(dir.path()).await?;
        self.endpoint = server.endpoint_url();
        self.client = client(&self.endpoint, ACCESS_KEY, SECRET_KEY);
        self.embedded = Some(server);
        Ok(())
    }
}

async fn start_embedded(data_dir: &std::path::Path) -> anyhow::Result<EmbeddedS3> {
    EmbeddedS3::start(EmbeddedS3Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: SecretString::from(SECRET_KEY),
        buckets: vec!["coffer-artifacts".to_owned()],
        log_bucket: LOG_BUCKET.to_owned(),
        access_log_flush: Duration::from_secs(3600),
        cors_origins: vec![PORTAL_ORIGIN.to_owned()],
    })
    .await
}

fn base_config(endpoint: &str, key: &str, secret: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "coffer-tests"))
        .force_path_style(true)
}

/// The client most tests use: checksums only where the test asks for them,
/// so each test controls exactly what is sent.
pub(crate) fn client(endpoint: &str, key: &str, secret: &str) -> Client {
    let config = base_config(endpoint, key, secret)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    Client::from_conf(config)
}

/// A `moto_server` child process on a free loopback port, killed on drop.
pub struct MotoServer {
    child: Child,
    pub addr: SocketAddr,
}

impl MotoServer {
    async fn start() -> anyhow::Result<MotoServer> {
        // Pick a free port and hand it to moto.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| {
                anyhow::anyhow!(
                    "moto_server could not be started ({err}); install it with `pip install 'moto[server]'`"
                )
            })?;
        let server = MotoServer { child, addr };

        // Wait until it answers HTTP.
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if http.get(format!("http://{addr}/")).send().await.is_ok() {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("moto_server did not answer on {addr} within 15 s")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP status and S3 error code of a failed SDK call.
pub fn failure<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> (u16, String) {
    match result {
        Ok(value) => panic!("expected the call to fail, it returned {value:?}"),
        Err(err) => {
            let status = err.raw_response().map_or(0, |r| r.status().as_u16());
            let code = err.code().unwrap_or("").to_owned();
            (status, code)
        }
    }
}

/// Deterministic test bytes of a given length.
pub fn bytes_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Base64 SHA-256, as `x-amz-checksum-sha256` carries it.
pub fn sha256_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

/// Hex MD5, the ETag of a simple object.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// Reads a whole GetObject body.
pub async fn read_body(
    output: aws_sdk_s3::operation::get_object::GetObjectOutput,
) -> anyhow::Result<Vec<u8>> {
    Ok(output.body.collect().await?.into_bytes().to_vec())
}

/// Defines `<name>_on_embedded` and `<name>_on_moto` for a protocol test
/// written as `async fn name(target: &mut Target) -> anyhow::Result<()>`.
macro_rules! on_both_servers {
    ($($name:ident),+ $(,)?) => {
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    let mut target = crate::s3::Target::of(crate::s3::Kind::Embedded).await?;
                    super::$name(&mut target).await
                }
            )+
        }
        mod on_moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() -> anyhow::Result<()> {
                    let mut target = crate::s3::Target::of(crate::s3::Kind::Moto).await?;
                    super::$name(&mut target).await
                }
            )+
        }
    };
}
pub(crate) use on_both_servers;
