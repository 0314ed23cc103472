//! The embedded endpoint plays CloudTrail's part, so the compliance
//! dashboard runs its whole CloudTrail path on a laptop through the real
//! SDK.
//!
//! Every S3 call the endpoint answers becomes a CloudTrail record: bucket
//! operations (CreateBucket, HeadBucket, ListBuckets, bucket settings) as
//! management events, object operations (GetObject, PutObject, the
//! multipart calls, ListObjects) as data events of the buckets other than
//! the log bucket, as a trail with data events on the artifact bucket
//! records them. Records are buffered and written on the access log's
//! schedule as trail files (gzipped `{"Records":[...]}` under
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, directly through the
//! store, so writing them is not itself recorded); management events are
//! also kept in the index, and the endpoint answers `LookupEvents` for them
//! (`POST /` with `X-Amz-Target: CloudTrail_20131101.LookupEvents`, signed
//! with the endpoint's key for the `cloudtrail` service), newest first,
//! with `NextToken` paging, as CloudTrail does.
//!
//! Not modelled: digest files, Insights, and LookupEvents' two calls a
//! second (the dashboard keeps that limit itself).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use coffer_logs::cloudtrail::{
    TrailRecord, TrailResource, UserIdentity, trail_object_key, write_trail_file,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::store::{Store, StoredEvent};

/// The account the embedded endpoint's records name.
pub(crate) const ACCOUNT: &str = "000000000000";

/// The region they name.
pub(crate) const REGION: &str = "us-east-1";

/// The user the endpoint's one access key belongs to.
const USER_NAME: &str = "coffer-embedded";

/// The `X-Amz-Target` prefix of CloudTrail's JSON API.
const TARGET_PREFIX: &str = "CloudTrail_20131101.";

/// The largest lookup request body read.
const MAX_BODY: usize = 64 * 1024;

/// How far a request's signing time may be from now.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Events one lookup answer holds at most.
const MAX_RESULTS: usize = 50;

/// What an S3 call looked like, for its record.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) time: OffsetDateTime,
    pub(crate) operation: String,
    pub(crate) bucket: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) presigned: bool,
    pub(crate) source_ip: String,
    pub(crate) user_agent: Option<String>,
    pub(crate) request_id: String,
    pub(crate) host_id: String,
    pub(crate) status: u16,
    pub(crate) error_code: Option<String>,
    pub(crate) copy: bool,
    pub(crate) list_v2: bool,
}

/// Records calls and answers lookups.
pub(crate) struct Trail {
    pending: Mutex<Vec<TrailRecord>>,
    store: Store,
    log_bucket: String,
    access_key_id: String,
    secret: SecretString,
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Trail")
            .field("log_bucket", &self.log_bucket)
            .finish_non_exhaustive()
    }
}

/// A CloudTrail event name and whether it is a data event.
fn event_of(call: &Call) -> Option<(&'static str, bool)> {
    let named = match call.operation.as_str() {
        "REST.GET.OBJECT" => ("GetObject", true),
        "REST.HEAD.OBJECT" => ("HeadObject", true),
        "REST.PUT.OBJECT" if call.copy => ("CopyObject", true),
        "REST.PUT.OBJECT" => ("PutObject", true),
        "REST.DELETE.OBJECT" => ("DeleteObject", true),
        "REST.POST.MULTI_OBJECT_DELETE" => ("DeleteObjects", true),
        "REST.POST.UPLOADS" => ("CreateMultipartUpload", true),
        "REST.PUT.PART" => ("UploadPart", true),
        "REST.POST.UPLOAD" => ("CompleteMultipartUpload", true),
        "REST.DELETE.UPLOAD" => ("AbortMultipartUpload", true),
        "REST.GET.UPLOAD" => ("ListParts", true),
        "REST.GET.UPLOADS" => ("ListMultipartUploads", true),
        "REST.GET.BUCKET" if call.list_v2 => ("ListObjectsV2", true),
        "REST.GET.BUCKET" => ("ListObjects", true),
        "REST.HEAD.BUCKET" => ("HeadBucket", false),
        "REST.PUT.BUCKET" => ("CreateBucket", false),
        "REST.DELETE.BUCKET" => ("DeleteBucket", false),
        "REST.GET.SERVICE" => ("ListBuckets", false),
        "REST.GET.LOCATION" => ("GetBucketLocation", false),
        "REST.GET.CORS" => ("GetBucketCors", false),
        "REST.PUT.CORS" => ("PutBucketCors", false),
        "REST.DELETE.CORS" => ("DeleteBucketCors", false),
        "REST.GET.VERSIONING" => ("GetBucketVersioning", false),
        "REST.PUT.VERSIONING" => ("PutBucketVersioning", false),
        "REST.GET.BUCKETPOLICY" => ("GetBucketPolicy", false),
        "REST.PUT.BUCKETPOLICY" => ("PutBucketPolicy", false),
        "REST.GET.LIFECYCLE" => ("GetBucketLifecycle", false),
        "REST.PUT.LIFECYCLE" => ("PutBucketLifecycle", false),
        "REST.GET.ACL" => ("GetBucketAcl", false),
        "REST.GET.TAGGING" => ("GetBucketTagging", false),
        _ => return None,
    };
    Some(named)
}

impl Trail {
    pub(crate) fn new(
        store: Store,
        log_bucket: String,
        access_key_id: String,
        secret: SecretString,
    ) -> Trail {
        Trail {
            pending: Mutex::new(Vec::new()),
            store,
            log_bucket,
            access_key_id,
            secret,
        }
    }

    /// Records an S3 call, unless it is one CloudTrail does not record (a
    /// preflight) or a data event of the log bucket.
    pub(crate) fn record_call(&self, call: &Call) {
        let Some((name, data)) = event_of(call) else {
            return;
        };
        if data && call.bucket.as_deref() == Some(self.log_bucket.as_str()) {
            return;
        }
        let record = self.s3_record(call, name, data);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    fn s3_record(&self, call: &Call, name: &str, data: bool) -> TrailRecord {
        let mut parameters = serde_json::Map::new();
        if let Some(bucket) = &call.bucket {
            parameters.insert("bucketName".into(), json!(bucket));
        }
        if let Some(key) = &call.key {
            parameters.insert("key".into(), json!(key));
        }
        parameters.insert("Host".into(), json!("127.0.0.1"));
        let mut resources = Vec::new();
        if let (Some(bucket), Some(key)) = (&call.bucket, &call.key) {
            resources.push(TrailResource {
                arn: Some(format!("arn:aws:s3:::{bucket}/{key}")),
                resource_type: Some("AWS::S3::Object".into()),
                ..TrailResource::default()
            });
        }
        if let Some(bucket) = &call.bucket {
            resources.push(TrailResource {
                arn: Some(format!("arn:aws:s3:::{bucket}")),
                account_id: Some(ACCOUNT.into()),
                resource_type: Some("AWS::S3::Bucket".into()),
                ..TrailResource::default()
            });
        }
        let authentication = if call.presigned {
            "QueryString"
        } else {
            "AuthHeader"
        };
        let read_only = matches!(
            name,
            "GetObject"
                | "HeadObject"
                | "ListParts"
                | "ListMultipartUploads"
                | "ListObjects"
                | "ListObjectsV2"
                | "HeadBucket"
                | "ListBuckets"
        ) || name.starts_with("GetBucket");
        TrailRecord {
            event_version: Some(if data { "1.09" } else { "1.10" }.into()),
            user_identity: Some(identity(call.access_key_id.as_deref())),
            event_time: call.time,
            event_source: "s3.amazonaws.com".into(),
            event_name: name.into(),
            aws_region: Some(REGION.into()),
            source_ip_address: Some(call.source_ip.clone()),
            user_agent: call.user_agent.clone(),
            error_code: call.error_code.clone(),
            error_message: call
                .error_code
                .as_ref()
                .map(|code| format!("The request was refused ({code}, HTTP {})", call.status)),
            request_parameters: Some(Value::Object(parameters)),
            response_elements: Some(Value::Null),
            additional_event_data: Some(json!({
                "SignatureVersion": "SigV4",
                "AuthenticationMethod": authentication,
                "x-amz-id-2": call.host_id,
            })),
            request_id: Some(call.request_id.clone()),
            event_id: Some(uuid::Uuid::new_v4().to_string()),
            read_only: Some(read_only),
            resources: (!resources.is_empty()).then_some(resources),
            event_type: Some("AwsApiCall".into()),
            management_event: Some(!data),
            recipient_account_id: Some(ACCOUNT.into()),
            event_category: Some(if data { "Data" } else { "Management" }.into()),
            other: serde_json::Map::new(),
        }
    }

    /// Writes the buffered records as one trail file and keeps the
    /// management events for lookups. On failure the records go back in
    /// front of newer ones, to be tried again next time.
    pub(crate) async fn flush(&self) -> anyhow::Result<()> {
        let records =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if records.is_empty() {
            return Ok(());
        }
        match self.write(&records).await {
            Ok(()) => Ok(()),
            Err(error) => {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                let newer = std::mem::replace(&mut *pending, records);
                pending.extend(newer);
                Err(error)
            }
        }
    }

    async fn write(&self, records: &[TrailRecord]) -> anyhow::Result<()> {
        // Management events are found by lookups; every event is in a file.
        let management: Vec<StoredEvent> = records
            .iter()
            .filter(|record| record.management_event == Some(true))
            .filter_map(|record| {
                Some(StoredEvent {
                    time_us: i64::try_from(record.event_time.unix_timestamp_nanos() / 1000).ok()?,
                    id: record.event_id.clone()?,
                    json: serde_json::to_vec(record).ok()?,
                })
            })
            .collect();
        self.store
            .add_trail_events(management)
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))
            .context("failed to keep management events")?;
        let suffix: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(16)
            .map(char::from)
            .collect();
        let key = trail_object_key(ACCOUNT, REGION, OffsetDateTime::now_utc(), &suffix);
        self.store
            .put_bytes(
                &self.log_bucket,
                &key,
                Bytes::from(write_trail_file(records)),
                "application/x-gzip",
            )
            .await
            .context("failed to write a trail file")?;
        tracing::debug!(s3.key = %key, cloudtrail.records = records.len(), "wrote a trail file");
        Ok(())
    }

    /// Answers a CloudTrail API call; anything but a well-signed
    /// `LookupEvents` is refused as CloudTrail refuses it.
    pub(crate) async fn answer(
        &self,
        request: Request<Incoming>,
        remote_ip: String,
    ) -> Response<s3s::Body> {
        let (parts, body) = request.into_parts();
        let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                    "the request body is too large or broken",
                );
            }
        };

        // Signed with our key for this service, recently.
        if let Err(refusal) = self.verify(&parts.method, &parts.uri, &parts.headers, &body) {
            return error(StatusCode::FORBIDDEN, "InvalidSignatureException", &refusal);
        }
        let target = header(&parts.headers, "x-amz-target").unwrap_or_default();
        let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
            return error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                "unknown target",
            );
        };
        if operation != "LookupEvents" {
            return error(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                &format!("{operation} is not offered by the embedded endpoint"),
            );
        }

        // The lookup itself is a management event, as in CloudTrail.
        let answer = self.lookup(&body).await;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.lookup_record(&parts.headers, remote_ip, answer.is_ok()));
        match answer {
            Ok(value) => {
                let mut response = Response::new(s3s::Body::from(value.to_string()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-amz-json-1.1"),
                );
                response
            }
            Err((code, message)) => error(StatusCode::BAD_REQUEST, code, &message),
        }
    }

    /// Checks a request's SigV4 signature by signing it again, with the
    /// headers it says it signed.
    fn verify(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;

        // Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…
        let authorization = header(headers, "authorization").ok_or("the request is not signed")?;
        let fields = authorization
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or("only AWS4-HMAC-SHA256 signatures are accepted")?;
        let field = |name: &str| {
            fields
                .split(',')
                .map(str::trim)
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        let credential = field("Credential").ok_or("no Credential")?;
        let signed = field("SignedHeaders").ok_or("no SignedHeaders")?;
        let signature = field("Signature").ok_or("no Signature")?;
        let mut scope = credential.split('/');
        let (Some(key_id), Some(_date), Some(region), Some(service)) =
            (scope.next(), scope.next(), scope.next(), scope.next())
        else {
            return Err("a malformed Credential".into());
        };
        if key_id != self.access_key_id || service != "cloudtrail" {
            return Err("the security token included in the request is invalid".into());
        }

        // The signing time, within the allowed skew.
        let stamp = header(headers, "x-amz-date").ok_or("no X-Amz-Date")?;
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let signed_at = time::PrimitiveDateTime::parse(stamp, &format)
            .map_err(|_| "a malformed X-Amz-Date")?
            .assume_utc();
        let skew = (OffsetDateTime::now_utc() - signed_at).unsigned_abs();
        if skew > MAX_SKEW {
            return Err("the signature has expired".into());
        }

        // Sign the same request again and compare.
        let names: Vec<&str> = signed.split(';').collect();
        let signed_headers: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(name, _)| names.contains(&name.as_str()) && name.as_str() != "x-amz-date")
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let identity = aws_credential_types::Credentials::new(
            &self.access_key_id,
            self.secret.expose_secret(),
            None,
            None,
            "coffer-embedded",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("cloudtrail")
            .time(SystemTime::from(signed_at))
            .settings(SigningSettings::default())
            .build()
            .map_err(|error| error.to_string())?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            uri.to_string(),
            signed_headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|error| error.to_string())?;
        let expected = sign(signable, &params).map_err(|error| error.to_string())?;
        let matches: bool = subtle_eq(expected.signature().as_bytes(), signature.as_bytes());
        if matches {
            Ok(())
        } else {
            Err("the request signature does not match".into())
        }
    }

    /// `LookupEvents` over the kept management events.
    async fn lookup(&self, body: &[u8]) -> Result<Value, (&'static str, String)> {
        let request: LookupRequest =
            serde_json::from_slice(if body.is_empty() { b"{}" } else { body })
                .map_err(|error| ("SerializationException", error.to_string()))?;
        let attribute = match request.lookup_attributes.as_deref() {
            None | Some([]) => None,
            Some([attribute]) => Some(attribute),
            Some(_) => {
                return Err((
                    "InvalidLookupAttributesException",
                    "only one lookup attribute is allowed".into(),
                ));
            }
        };
        let max = match request.max_results {
            None => MAX_RESULTS,
            Some(max @ 1..=50) => max as usize,
            Some(_) => {
                return Err((
                    "InvalidMaxResultsException",
                    "MaxResults is from 1 to 50".into(),
                ));
            }
        };
        let to_us = |seconds: f64| (seconds * 1_000_000.0) as i64;
        let until = request.end_time.map_or(i64::MAX, to_us);
        let since = request.start_time.map_or(i64::MIN, to_us);
        if since > until {
            return Err((
                "InvalidTimeRangeException",
                "StartTime is after EndTime".into(),
            ));
        }
        let mut scan_after = match &request.next_token {
            Some(token) => Some(decode_token(token).ok_or((
                "InvalidNextTokenException",
                "the NextToken is not one this endpoint gave out".to_owned(),
            ))?),
            None => None,
        };

        // Scan newest first until the page is full or the range is left.
        let mut events = Vec::new();
        let mut last_given = None;
        let mut more = false;
        'scan: loop {
            let batch = self
                .store
                .trail_events(until, scan_after.clone(), 500)
                .await
                .map_err(|error| ("InternalFailure", error.to_string()))?;
            let Some(last) = batch.last() else {
                break;
            };
            scan_after = Some((last.time_us, last.id.clone()));
            for stored in batch {
                if stored.time_us < since {
                    break 'scan;
                }
                let Ok(record) = serde_json::from_slice::<TrailRecord>(&stored.json) else {
                    continue;
                };
                if attribute.is_some_and(|attribute| !attribute.matches(&record)) {
                    continue;
                }
                if events.len() == max {
                    more = true;
                    break 'scan;
                }
                last_given = Some((stored.time_us, stored.id.clone()));
                events.push(lookup_event(&record, &stored.json));
            }
        }
        let mut answer = json!({ "Events": events });
        if more && let Some(last) = &last_given {
            answer["NextToken"] = json!(encode_token(last));
        }
        Ok(answer)
    }

    /// The management event a lookup call itself is.
    fn lookup_record(&self, headers: &HeaderMap, remote_ip: String, ok: bool) -> TrailRecord {
        TrailRecord {
            event_version: Some("1.10".into()),
            user_identity: Some(identity(Some(&self.access_key_id))),
            event_time: OffsetDateTime::now_utc(),
            event_source: "cloudtrail.amazonaws.com".into(),
            event_name: "LookupEvents".into(),
            aws_region: Some(REGION.into()),
            source_ip_address: Some(remote_ip),
            user_agent: header(headers, "user-agent").map(str::to_owned),
            error_code: (!ok).then(|| "InvalidParameterException".into()),
            error_message: None,
            request_parameters: Some(Value::Null),
            response_elements: Some(Value::Null),
            additional_event_data: None,
            request_id: Some(uuid::Uuid::new_v4().to_string()),
            event_id: Some(uuid::Uuid::new_v4().to_string()),
            read_only: Some(true),
            resources: None,
            event_type: Some("AwsApiCall".into()),
            management_event: Some(true),
            recipient_account_id: Some(ACCOUNT.into()),
            event_category: Some("Management".into()),
            other: serde_json::Map::new(),
        }
    }
}

/// Who a call was made as: the endpoint's one user, or nobody.
fn identity(access_key_id: Option<&str>) -> UserIdentity {
    match access_key_id {
        Some(key) => UserIdentity {
            identity_type: Some("IAMUser".into()),
            principal_id: Some(format!(
                "AIDA{}",
                &super::server::canonical_id(key)[..16].to_uppercase()
            )),
            arn: Some(format!("arn:aws:iam::{ACCOUNT}:user/{USER_NAME}")),
            account_id: Some(ACCOUNT.into()),
            access_key_id: Some(key.to_owned()),
            user_name: Some(USER_NAME.into()),
            other: serde_json::Map::new(),
        },
        None => UserIdentity {
            identity_type: Some("AWSAccount".into()),
            principal_id: Some(String::new()),
            account_id: Some("ANONYMOUS_PRINCIPAL".into()),
            ..UserIdentity::default()
        },
    }
}

/// Whether a request is a CloudTrail API call rather than an S3 one.
pub(crate) fn is_cloudtrail_call<B>(request: &Request<B>) -> bool {
    request.method() == Method::POST
        && request.uri().path() == "/"
        && header(request.headers(), "x-amz-target")
            .is_some_and(|target| target.starts_with(TARGET_PREFIX))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// Byte strings compared in time that does not depend on where they differ.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A CloudTrail JSON error, as the SDK reads it.
fn error(status: StatusCode, code: &str, message: &str) -> Response<s3s::Body> {
    let body = json!({ "__type": code, "message": message }).to_string();
    let mut response = Response::new(s3s::Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(value) = http::HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

/// What `LookupEvents` is asked.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupRequest {
    lookup_attributes: Option<Vec<Attribute>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    attribute_key: String,
    attribute_value: String,
}

impl Attribute {
    fn matches(&self, record: &TrailRecord) -> bool {
        let value = self.attribute_value.as_str();
        let identity = record.user_identity.as_ref();
        match self.attribute_key.as_str() {
            "EventId" => record.event_id.as_deref() == Some(value),
            "EventName" => record.event_name == value,
            "EventSource" => record.event_source == value,
            "ReadOnly" => {
                record
                    .read_only
                    .map(|read_only| read_only.to_string())
                    .as_deref()
                    == Some(value)
            }
            "Username" => {
                identity.and_then(|identity| identity.user_name.as_deref()) == Some(value)
            }
            "AccessKeyId" => {
                identity.and_then(|identity| identity.access_key_id.as_deref()) == Some(value)
            }
            "ResourceType" => record
                .resources
                .iter()
                .flatten()
                .any(|resource| resource.resource_type.as_deref() == Some(value)),
            "ResourceName" => record.resources.iter().flatten().any(|resource| {
                resource
                    .arn
                    .as_deref()
                    .is_some_and(|arn| arn == value || arn.ends_with(&format!(":::{value}")))
            }),
            _ => false,
        }
    }
}

/// One event as `LookupEvents` answers it.
fn lookup_event(record: &TrailRecord, json: &[u8]) -> Value {
    let identity = record.user_identity.as_ref();
    let resources: Vec<Value> = record
        .resources
        .iter()
        .flatten()
        .map(|resource| {
            json!({
                "ResourceType": resource.resource_type,
                "ResourceName": resource.arn.as_deref().map(|arn| arn.trim_start_matches("arn:aws:s3:::")),
            })
        })
        .collect();
    json!({
        "EventId": record.event_id,
        "EventName": record.event_name,
        "ReadOnly": record.read_only.map(|read_only| read_only.to_string()),
        "AccessKeyId": identity.and_then(|identity| identity.access_key_id.clone()),
        "EventTime": record.event_time.unix_timestamp_nanos() as f64 / 1e9,
        "EventSource": record.event_source,
        "Username": identity.and_then(|identity| identity.user_name.clone()),
        "Resources": resources,
        "CloudTrailEvent": String::from_utf8_lossy(json),
    })
}

#[derive(Serialize, Deserialize)]
struct Token {
    t: i64,
    i: String,
}

fn encode_token((time_us, id): &(i64, String)) -> String {
    let token = Token {
        t: *time_us,
        i: id.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_token(text: &str) -> Option<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let token: Token = serde_json::from_slice(&bytes).ok()?;
    Some((token.t, token.i))
}
