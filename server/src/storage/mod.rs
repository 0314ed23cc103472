//! Everything Coffer keeps lives in S3 buckets; this module reaches them.
//!
//! The bucket is the database: sessions, the audit trail and (later) the
//! registry are objects, and their consistency rests on S3's strong
//! read-after-write and conditional writes. Coffer's code talks to the
//! embedded endpoint and to AWS through the same `aws-sdk-s3` client.

pub mod embedded;

use anyhow::{Context, bail};
use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use crate::config::Settings;

/// How to reach the S3 endpoint.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// A known endpoint with fixed credentials: the one inside this
    /// process, or (in tests) an S3 server they started.
    Static {
        url: String,
        access_key_id: String,
        secret_access_key: SecretString,
    },
    /// AWS or another S3 server, through the SDK's default chain.
    Aws,
}

/// The outcome of a write that must not replace an existing object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The object did not exist and now does.
    Created,
    /// Another writer got there first; nothing was written.
    AlreadyExists,
}

/// A stored object's bytes and entity tag.
#[derive(Clone, Debug)]
pub struct Object {
    pub body: Bytes,
    pub etag: Option<String>,
}

/// The artifact bucket and the log bucket, through one S3 client.
#[derive(Clone, Debug)]
pub struct Storage {
    client: Client,
    bucket: String,
    log_bucket: String,
}

impl Storage {
    /// Builds the S3 client for the configured endpoint.
    pub async fn connect(settings: &Settings, endpoint: Endpoint) -> Storage {
        // Both modes share one code path: only the endpoint and credentials
        // differ.
        let config = match endpoint {
            Endpoint::Static {
                url,
                access_key_id,
                secret_access_key,
            } => {
                let credentials = Credentials::new(
                    access_key_id,
                    secret_access_key.expose_secret(),
                    None,
                    None,
                    "coffer-embedded",
                );
                aws_sdk_s3::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .region(Region::new("us-east-1"))
                    .endpoint_url(url)
                    .credentials_provider(credentials)
                    .force_path_style(settings.force_path_style())
                    .build()
            }
            Endpoint::Aws => {
                let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
                aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(settings.force_path_style())
                    .build()
            }
        };

        Storage {
            client: Client::from_conf(config),
            bucket: settings.bucket.clone(),
            log_bucket: settings.log_bucket.clone(),
        }
    }

    /// The underlying client, for callers that need an operation this type
    /// does not wrap (presigning, multipart).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The artifact bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The log bucket's name.
    pub fn log_bucket(&self) -> &str {
        &self.log_bucket
    }

    /// The origin (`scheme://host:port`) of the URLs this client presigns
    /// for the artifact bucket: the page's CSP must let browsers reach it.
    /// Read off a presigned URL, so it is right for every addressing style
    /// and endpoint setting.
    pub async fn presigned_origin(&self) -> anyhow::Result<String> {
        let presigning = PresigningConfig::expires_in(std::time::Duration::from_secs(60))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key("origin-probe")
            .presigned(presigning)
            .await
            .context("could not presign a URL for the artifact bucket")?;
        let url = url::Url::parse(presigned.uri()).context("the presigned URL does not parse")?;
        Ok(url.origin().ascii_serialization())
    }

    /// Answers whether both buckets are reachable, for `/readyz`.
    pub async fn check_ready(&self) -> anyhow::Result<()> {
        for bucket in [&self.bucket, &self.log_bucket] {
            self.client
                .head_bucket()
                .bucket(bucket)
                .send()
                .await
                .with_context(|| format!("bucket {bucket} is not reachable"))?;
        }
        Ok(())
    }

    /// Refuses to run on a server that ignores `If-None-Match: *`: the
    /// registry's version numbers and the audit trail's order depend on it.
    #[instrument(skip_all, fields(s3.bucket = %self.bucket))]
    pub async fn probe_conditional_writes(&self) -> anyhow::Result<()> {
        // A fresh key each time, so an earlier probe cannot answer for this
        // one.
        let key = format!("_coffer/probe/{}", uuid::Uuid::new_v4());
        let first = self
            .create(&key, Bytes::from_static(b"1"), "text/plain")
            .await?;
        let second = self
            .create(&key, Bytes::from_static(b"2"), "text/plain")
            .await?;

        // The scratch object has served its purpose either way.
        if let Err(error) = self.delete(&key).await {
            tracing::warn!(s3.key = %key, error = %format!("{error:#}"), "could not remove the probe object");
        }

        if first != CreateOutcome::Created || second != CreateOutcome::AlreadyExists {
            bail!(
                "bucket {} does not honour conditional writes (a second PutObject with \
                 If-None-Match: * was not refused); Coffer needs them for race-free version \
                 numbers and an append-only audit trail, so it will not start on this server",
                self.bucket
            );
        }
        Ok(())
    }

    /// Writes an object only if no object exists under the key.
    #[instrument(skip_all, fields(s3.key = %key))]
    pub async fn create(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> anyhow::Result<CreateOutcome> {
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;

        // 412 means the key is taken; 409 means a concurrent conditional
        // write to it is in flight, which S3 asks the caller to treat the
        // same way and retry from a fresh read.
        match result {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(error) if is_condition_failure(&error) => Ok(CreateOutcome::AlreadyExists),
            Err(error) => {
                Err(anyhow::Error::new(error).context(format!("failed to create object {key}")))
            }
        }
    }

    /// Writes an object, replacing any earlier one.
    #[instrument(skip_all, fields(s3.key = %key))]
    pub async fn put(&self, key: &str, body: Bytes, content_type: &str) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .with_context(|| format!("failed to write object {key}"))?;
        Ok(())
    }

    /// Reads a small object whole; `None` when it does not exist. Only for
    /// records Coffer writes itself, never for artifacts.
    #[instrument(skip_all, fields(s3.key = %key))]
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Object>> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => {
                return Err(
                    anyhow::Error::new(error).context(format!("failed to read object {key}"))
                );
            }
        };

        // Collecting is safe here: these objects are small JSON records.
        let etag = output.e_tag().map(str::to_owned);
        let body = output
            .body
            .collect()
            .await
            .with_context(|| format!("failed to read the body of {key}"))?
            .into_bytes();
        Ok(Some(Object { body, etag }))
    }

    /// Removes an object; removing a missing object succeeds, as in S3.
    #[instrument(skip_all, fields(s3.key = %key))]
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .with_context(|| format!("failed to delete object {key}"))?;
        Ok(())
    }

    /// Lists up to `limit` keys under `prefix` in ascending order, starting
    /// after `start_after`.
    #[instrument(skip_all, fields(s3.prefix = %prefix))]
    pub async fn list_keys(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: i32,
    ) -> anyhow::Result<Vec<String>> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .max_keys(limit)
            .send()
            .await
            .with_context(|| format!("failed to list objects under {prefix}"))?;
        Ok(output
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect())
    }

    /// Lists up to `limit` folder names (common prefixes ending in `/`)
    /// directly under `prefix`, in key order, starting after
    /// `start_after`; the flag says whether more follow.
    #[instrument(skip_all, fields(s3.prefix = %prefix))]
    pub async fn list_folders(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: i32,
    ) -> anyhow::Result<(Vec<String>, bool)> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_start_after(start_after.map(str::to_owned))
            .max_keys(limit)
            .send()
            .await
            .with_context(|| format!("failed to list folders under {prefix}"))?;
        let folders = output
            .common_prefixes()
            .iter()
            .filter_map(|folder| folder.prefix().map(str::to_owned))
            .collect();
        Ok((folders, output.is_truncated() == Some(true)))
    }
}

/// Whether an S3 error says a conditional write lost.
pub fn is_condition_failure<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    matches!(status_of(error), Some(409 | 412))
        || matches!(
            error.code(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
}

/// Whether an S3 error says the object does not exist.
pub fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    status_of(error) == Some(404) || error.code() == Some("NoSuchKey")
}

/// The HTTP status behind an SDK error, when a response arrived at all.
fn status_of<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error
        .raw_response()
        .map(|response| response.status().as_u16())
}
