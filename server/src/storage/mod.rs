//! Everything Coffer keeps lives in S3 buckets; this module reaches them.
//!
//! The bucket is the database: sessions, the audit trail and (later) the
//! registry are objects, and their consistency rests on S3's strong
//! read-after-write and conditional writes. Coffer's code talks to the
//! embedded endpoint and to AWS through the same `aws-sdk-s3` client.

pub mod embedded;
pub mod records;

use anyhow::{Context, bail};
use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
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

/// The outcome of a compare-and-swap write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceOutcome {
    /// The object still had the expected entity tag and now has the new body.
    Replaced,
    /// Someone wrote or removed it since it was read; nothing was written.
    Changed,
}

/// Response headers a presigned GET forces on its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHeaders {
    pub content_disposition: String,
    pub content_type: String,
}

/// Characters a query value may carry unencoded: RFC 3986's unreserved.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a conditional PUT requires of the object it would replace.
#[derive(Clone, Copy, Debug)]
enum Precondition<'a> {
    /// No object exists under the key (`If-None-Match: *`).
    Absent,
    /// The object has this entity tag (`If-Match`).
    Etag(&'a str),
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

    /// Presigns a GET of `key` in the artifact bucket, valid for `ttl`,
    /// whose answer carries the given `Content-Disposition` and
    /// `Content-Type` whatever the object's own headers say. The opaque
    /// `x-coffer-request=<tag>` query parameter is added before signing, so
    /// it cannot be removed or changed; S3 ignores it but copies it into
    /// its access log, where it joins a log line to an audit record.
    #[instrument(skip_all, fields(s3.key = %key))]
    pub async fn presign_get(
        &self,
        key: &str,
        overrides: &ResponseHeaders,
        tag: &str,
        ttl: std::time::Duration,
    ) -> anyhow::Result<String> {
        // Unreserved characters only, so the signer's own encoding of the
        // query leaves the tag as it is.
        let tag: String = percent_encoding::utf8_percent_encode(tag, QUERY_VALUE).to_string();
        let presigning = PresigningConfig::expires_in(ttl).context("invalid URL lifetime")?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(&overrides.content_disposition)
            .response_content_type(&overrides.content_type)
            .customize()
            .mutate_request(move |request| {
                let separator = if request.uri().contains('?') {
                    '&'
                } else {
                    '?'
                };
                let uri = format!("{}{separator}x-coffer-request={tag}", request.uri());
                // The URI was valid a moment ago and gains only unreserved
                // characters, so setting it cannot fail.
                let _ = request.set_uri(uri);
            })
            .presigned(presigning)
            .await
            .with_context(|| format!("could not presign a GET of {key}"))?;
        Ok(presigned.uri().to_owned())
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
            .put_if(key, body, content_type, Precondition::Absent)
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

    /// Replaces an object only if it still has the entity tag `etag`: the
    /// compare-and-swap behind every mutable record.
    #[instrument(skip_all, fields(s3.key = %key))]
    pub async fn replace(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        etag: &str,
    ) -> anyhow::Result<ReplaceOutcome> {
        let result = self
            .put_if(key, body, content_type, Precondition::Etag(etag))
            .await;

        // 412 (changed), 409 (a concurrent conditional write) and 404 (the
        // object went away) all mean: read again and decide again.
        match result {
            Ok(_) => Ok(ReplaceOutcome::Replaced),
            Err(error) if is_condition_failure(&error) || is_not_found(&error) => {
                Ok(ReplaceOutcome::Changed)
            }
            Err(error) => {
                Err(anyhow::Error::new(error).context(format!("failed to replace object {key}")))
            }
        }
    }

    /// A PUT that S3 carries out only if `precondition` holds.
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        precondition: Precondition<'_>,
    ) -> Result<PutObjectOutput, SdkError<PutObjectError, HttpResponse>> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match precondition {
            Precondition::Absent => request.if_none_match("*"),
            Precondition::Etag(etag) => request.if_match(etag),
        };
        request.send().await
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

    /// The same client over the log bucket: its methods then read and list
    /// access logs and trail files.
    pub fn log_storage(&self) -> Storage {
        Storage {
            client: self.client.clone(),
            bucket: self.log_bucket.clone(),
            log_bucket: self.log_bucket.clone(),
        }
    }

    /// Reads a small object whole; `None` when it does not exist. Only for
    /// records Coffer writes itself and log objects, never for artifacts.
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
