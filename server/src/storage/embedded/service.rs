//! The S3 operations Coffer uses, on top of the store. s3s parses requests,
//! checks signatures and writes responses; this file turns each operation's
//! input into store calls and store outcomes into S3 answers and error codes.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, Bucket, ChecksumAlgorithm, ChecksumMode,
    ChecksumType, CommonPrefix, CompleteMultipartUploadInput, CompleteMultipartUploadOutput,
    CreateBucketInput, CreateBucketOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    DeleteBucketInput, DeleteBucketOutput, DeleteObjectInput, DeleteObjectOutput, ETag,
    ETagCondition, EncodingType, GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput,
    GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput,
    Initiator, ListBucketsInput, ListBucketsOutput, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, MultipartUpload, Object,
    ObjectStorageClass, Owner, Part, PutObjectInput, PutObjectOutput, StorageClass, StreamingBlob,
    Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, TrailingHeaders};

use super::checksum::{self, Algorithm, Checksums};
use super::listing::{Entry, Page, PageRequest, Resume};
use super::store::{
    CompletionClaims, IfMatch, MAX_PUT_SIZE, ObjectMeta, ObjectRecord, ObjectSummary,
    RequestedPart, StagedBlob, Store, StoreError, StoredChecksum, UploadRecord, WriteCondition,
    now_us,
};

/// The most keys, parts or uploads one listing page returns.
const MAX_PAGE: i32 = 1000;

/// The highest part number S3 accepts.
const MAX_PART_NUMBER: i32 = 10_000;

/// The content type S3 gives objects stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The S3 implementation behind the embedded endpoint.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedService {
    store: Store,
    owner_id: String,
}

impl EmbeddedService {
    pub(crate) fn new(store: Store, owner_id: String) -> Self {
        Self { store, owner_id }
    }

    fn owner(&self) -> Owner {
        Owner {
            display_name: Some("coffer".to_owned()),
            id: Some(self.owner_id.clone()),
        }
    }

    fn initiator(&self) -> Initiator {
        Initiator {
            display_name: Some("coffer".to_owned()),
            id: Some(self.owner_id.clone()),
        }
    }

    /// Streams a body to a durable blob, hashing it with `algorithms`, and
    /// checks it against the header claims and any that arrived as trailers.
    async fn receive_body(
        &self,
        body: Option<StreamingBlob>,
        algorithms: Vec<Algorithm>,
        claims: &mut Checksums,
        trailers: Option<&TrailingHeaders>,
        md5: Option<[u8; 16]>,
    ) -> S3Result<StagedBlob> {
        // A request without a body sends zero bytes.
        let body = body.unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
        });
        let staged = self
            .store
            .stage(body, algorithms, MAX_PUT_SIZE)
            .await
            .map_err(s3_error)?;

        // Trailers can only be read once the body has been.
        add_trailer_claims(claims, trailers)?;
        verify_body(&staged, claims, md5)?;
        Ok(staged)
    }
}

/// Maps a store outcome to its S3 error. Internal failures are logged here,
/// once, and the client is told only that something went wrong.
fn s3_error(err: StoreError) -> S3Error {
    let code = match &err {
        StoreError::NoSuchBucket => S3ErrorCode::NoSuchBucket,
        StoreError::NoSuchKey => S3ErrorCode::NoSuchKey,
        StoreError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
        StoreError::BucketAlreadyOwned => S3ErrorCode::BucketAlreadyOwnedByYou,
        StoreError::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
        StoreError::PreconditionFailed => S3ErrorCode::PreconditionFailed,
        StoreError::BadDigest(_) | StoreError::BadContentMd5 => S3ErrorCode::BadDigest,
        StoreError::InvalidDigest(_) => S3ErrorCode::InvalidDigest,
        StoreError::InvalidPart(_) => S3ErrorCode::InvalidPart,
        StoreError::InvalidPartOrder(_) => S3ErrorCode::InvalidPartOrder,
        StoreError::EntityTooSmall => S3ErrorCode::EntityTooSmall,
        StoreError::EntityTooLarge => S3ErrorCode::EntityTooLarge,
        StoreError::InvalidArgument(_) => S3ErrorCode::InvalidArgument,
        StoreError::InvalidRequest(_) => S3ErrorCode::InvalidRequest,
        StoreError::MalformedXml => S3ErrorCode::MalformedXML,
        StoreError::IncompleteBody => S3ErrorCode::IncompleteBody,
        StoreError::ContentSha256Mismatch => {
            let mut error = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                err.to_string(),
            );
            error.set_status_code(http::StatusCode::BAD_REQUEST);
            return error;
        }
        StoreError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "embedded S3 storage failed");
            return S3Error::with_message(
                S3ErrorCode::InternalError,
                "We encountered an internal error. Please try again.",
            );
        }
    };
    S3Error::with_message(code, err.to_string())
}

fn invalid_argument(message: impl Into<String>) -> S3Error {
    s3_error(StoreError::InvalidArgument(message.into()))
}

fn invalid_request(message: impl Into<String>) -> S3Error {
    s3_error(StoreError::InvalidRequest(message.into()))
}

/// An S3 timestamp from stored microseconds.
fn timestamp(us: i64) -> Timestamp {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map(Timestamp::from)
        .unwrap_or_default()
}

fn strong_etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

/// The five `x-amz-checksum-*` fields of an s3s input or completed part, by
/// algorithm. s3s gives these types no common trait, hence a macro.
macro_rules! checksum_values {
    ($input:ident) => {
        [
            (Algorithm::Crc32, $input.checksum_crc32.as_ref()),
            (Algorithm::Crc32c, $input.checksum_crc32c.as_ref()),
            (Algorithm::Crc64Nvme, $input.checksum_crc64nvme.as_ref()),
            (Algorithm::Sha1, $input.checksum_sha1.as_ref()),
            (Algorithm::Sha256, $input.checksum_sha256.as_ref()),
        ]
    };
}

/// The checksum values present among `x-amz-checksum-*` fields.
fn checksums_of(values: [(Algorithm, Option<&String>); 5]) -> Checksums {
    let mut checksums = Checksums::default();
    for (algorithm, value) in values {
        if let Some(value) = value {
            checksums.insert(algorithm, value.clone());
        }
    }
    checksums
}

/// The checksum values a request claims in `x-amz-checksum-*` headers.
fn claimed_checksums(values: [(Algorithm, Option<&String>); 5]) -> S3Result<Checksums> {
    let claims = checksums_of(values);
    checksum::validate_claims(&claims).map_err(|bad| {
        invalid_request(format!(
            "Value for {} header is invalid.",
            bad.algorithm.header_name()
        ))
    })?;
    Ok(claims)
}

/// The algorithm a request will deliver in a trailer (`x-amz-trailer`).
fn trailer_algorithm(headers: &HeaderMap) -> S3Result<Option<Algorithm>> {
    let Some(value) = headers.get("x-amz-trailer") else {
        return Ok(None);
    };
    let name = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    Algorithm::ALL
        .into_iter()
        .find(|algorithm| algorithm.header_name() == name)
        .map(Some)
        .ok_or_else(|| {
            invalid_request("The value specified in the x-amz-trailer header is not supported")
        })
}

/// Adds checksums that arrived as trailers to the claims, once the body has
/// been read.
fn add_trailer_claims(claims: &mut Checksums, trailers: Option<&TrailingHeaders>) -> S3Result<()> {
    let Some(trailers) = trailers.and_then(TrailingHeaders::take) else {
        return Ok(());
    };
    let mut from_trailer = Checksums::default();
    for algorithm in Algorithm::ALL {
        if let Some(value) = trailers
            .get(algorithm.header_name())
            .and_then(|v| v.to_str().ok())
        {
            from_trailer.insert(algorithm, value.to_owned());
        }
    }
    checksum::validate_claims(&from_trailer).map_err(|bad| {
        invalid_request(format!(
            "Value for {} trailer is invalid.",
            bad.algorithm.header_name()
        ))
    })?;
    for (algorithm, value) in from_trailer.iter() {
        claims.insert(algorithm, value.to_owned());
    }
    Ok(())
}

/// A Content-MD5 header as 16 raw bytes.
fn content_md5(value: Option<&String>) -> S3Result<Option<[u8; 16]>> {
    let Some(value) = value else { return Ok(None) };
    BASE64
        .decode(value)
        .ok()
        .and_then(|raw| <[u8; 16]>::try_from(raw).ok())
        .map(Some)
        .ok_or_else(|| {
            s3_error(StoreError::InvalidDigest(
                "The Content-MD5 you specified is not valid.".to_owned(),
            ))
        })
}

/// Checks a staged body against every claim made about it.
fn verify_body(staged: &StagedBlob, claims: &Checksums, md5: Option<[u8; 16]>) -> S3Result<()> {
    checksum::verify_claims(claims, &staged.digests.checksums)
        .map_err(|mismatch| s3_error(StoreError::BadDigest(mismatch.algorithm)))?;
    if md5.is_some_and(|md5| md5 != staged.digests.md5) {
        return Err(s3_error(StoreError::BadContentMd5));
    }
    Ok(())
}

/// The write condition of `If-Match` / `If-None-Match` on a write.
fn write_condition(
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<WriteCondition> {
    let if_none_match_any = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(s3_error_with(
                S3ErrorCode::NotImplemented,
                "If-None-Match on a write supports only '*'.",
            ));
        }
    };
    let if_match = if_match.map(|condition| match condition {
        ETagCondition::Any => IfMatch::Any,
        ETagCondition::ETag(etag) => IfMatch::ETag(etag.value().to_owned()),
    });
    Ok(WriteCondition {
        if_none_match_any,
        if_match,
    })
}

fn s3_error_with(code: S3ErrorCode, message: &'static str) -> S3Error {
    S3Error::with_message(code, message)
}

/// Judges `If-Match` / `If-None-Match` on a read, as HTTP and S3 do.
fn check_read_conditions(
    record: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let matches = |condition: &ETagCondition| match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(etag) => etag.value() == record.etag,
    };
    if if_match.is_some_and(|c| !matches(c)) {
        return Err(s3_error(StoreError::PreconditionFailed));
    }
    if if_none_match.is_some_and(matches) {
        return Err(S3Error::new(S3ErrorCode::NotModified));
    }
    Ok(())
}

/// Refuses what S3 reads support but this endpoint does not.
fn check_read_supported(part_number: Option<i32>, version_id: Option<&String>) -> S3Result<()> {
    if part_number.is_some() || version_id.is_some() {
        return Err(s3_error_with(
            S3ErrorCode::NotImplemented,
            "Reading by part number or version is not supported.",
        ));
    }
    Ok(())
}

/// Whether a read asked for the stored checksum (`x-amz-checksum-mode`).
fn checksum_requested(mode: Option<&ChecksumMode>) -> bool {
    mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED)
}

/// The checksum algorithm a request names, if any.
fn requested_algorithm(name: Option<&ChecksumAlgorithm>) -> S3Result<Option<Algorithm>> {
    name.map(|name| {
        Algorithm::parse(name.as_str())
            .ok_or_else(|| invalid_request("Checksum algorithm provided is unsupported."))
    })
    .transpose()
}

/// Refuses a body whose declared length is over the single-request limit,
/// before a byte of it is read.
fn check_content_length(content_length: Option<i64>) -> S3Result<()> {
    if content_length.is_some_and(|len| len > 0 && len as u64 > MAX_PUT_SIZE) {
        return Err(s3_error(StoreError::EntityTooLarge));
    }
    Ok(())
}

/// Stored headers from a write's inputs.
fn object_meta(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> ObjectMeta {
    ObjectMeta {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        user: metadata
            .map(|m| m.into_iter().collect::<BTreeMap<_, _>>())
            .unwrap_or_default(),
    }
}

/// The stored checksum of a simple object: the strongest claimed one, or the
/// one the SDK said it would send.
fn chosen_checksum(
    claims: &Checksums,
    announced: Option<Algorithm>,
    staged: &StagedBlob,
) -> Option<StoredChecksum> {
    let wanted =
        |algorithm: Algorithm| claims.get(algorithm).is_some() || announced == Some(algorithm);
    Algorithm::ALL
        .into_iter()
        .filter(|a| wanted(*a))
        .find_map(|algorithm| {
            staged
                .digests
                .checksums
                .get(algorithm)
                .map(|value| StoredChecksum {
                    algorithm,
                    value: value.to_owned(),
                    composite: false,
                })
        })
}

/// The `x-amz-checksum-*` output fields for a set of values.
#[derive(Default)]
struct ChecksumFields {
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64nvme: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
}

impl ChecksumFields {
    fn from_values<'a>(values: impl IntoIterator<Item = (Algorithm, &'a str)>) -> Self {
        let mut fields = ChecksumFields::default();
        for (algorithm, value) in values {
            let slot = match algorithm {
                Algorithm::Crc32 => &mut fields.crc32,
                Algorithm::Crc32c => &mut fields.crc32c,
                Algorithm::Crc64Nvme => &mut fields.crc64nvme,
                Algorithm::Sha1 => &mut fields.sha1,
                Algorithm::Sha256 => &mut fields.sha256,
            };
            *slot = Some(value.to_owned());
        }
        fields
    }

    fn from_stored(stored: Option<&StoredChecksum>) -> Self {
        Self::from_values(stored.map(|c| (c.algorithm, c.value.as_str())))
    }
}

fn checksum_type(stored: Option<&StoredChecksum>) -> Option<ChecksumType> {
    stored.map(|c| {
        ChecksumType::from_static(if c.composite {
            ChecksumType::COMPOSITE
        } else {
            ChecksumType::FULL_OBJECT
        })
    })
}

fn s3_algorithm(algorithm: Algorithm) -> ChecksumAlgorithm {
    ChecksumAlgorithm::from(algorithm.as_str().to_owned())
}

/// The checksum type of a multipart upload: only COMPOSITE is kept.
fn upload_checksum_type(algorithm: Option<Algorithm>) -> Option<ChecksumType> {
    algorithm.map(|_| ChecksumType::from_static(ChecksumType::COMPOSITE))
}

/// An s3s struct literal with its five `checksum_*` fields filled from a
/// [`ChecksumFields`]. s3s's outputs share no trait, hence a macro.
macro_rules! with_checksum_fields {
    ($checksums:expr, $output:ident { $($rest:tt)* }) => {{
        let ChecksumFields {
            crc32,
            crc32c,
            crc64nvme,
            sha1,
            sha256,
        } = $checksums;
        $output {
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            $($rest)*
        }
    }};
}

/// An s3s answer reporting an object's stored checksum, value and type.
macro_rules! with_stored_checksum {
    ($stored:expr, $output:ident { $($rest:tt)* }) => {{
        let stored: Option<&StoredChecksum> = $stored;
        with_checksum_fields!(
            ChecksumFields::from_stored(stored),
            $output {
                checksum_type: checksum_type(stored),
                $($rest)*
            }
        )
    }};
}

/// A GetObject or HeadObject answer. Both describe the stored object with
/// the same headers; the literal gives the fields where they differ.
macro_rules! stored_object_output {
    ($record:expr, $stored:expr, $output:ident { $($rest:tt)* }) => {{
        let record: &ObjectRecord = $record;
        with_stored_checksum!(
            $stored,
            $output {
                accept_ranges: Some("bytes".to_owned()),
                content_type: Some(
                    record
                        .meta
                        .content_type
                        .clone()
                        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
                ),
                content_encoding: record.meta.content_encoding.clone(),
                content_disposition: record.meta.content_disposition.clone(),
                content_language: record.meta.content_language.clone(),
                cache_control: record.meta.cache_control.clone(),
                e_tag: Some(strong_etag(&record.etag)),
                last_modified: Some(timestamp(record.last_modified_us)),
                metadata: Some(record.meta.user.clone().into_iter().collect()),
                parts_count: record.parts_count.and_then(|n| i32::try_from(n).ok()),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                $($rest)*
            }
        )
    }};
}

/// `(bucket, key, upload id)`, the address of a multipart upload.
type UploadAddress = (String, String, String);

/// Reads `encoding-type`: only `url` exists.
fn url_encoding(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(_) => Err(invalid_argument(
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// URL-encodes a listed name when the client asked for `encoding-type=url`.
fn listed(name: String, url: bool) -> String {
    if url {
        percent_encoding::utf8_percent_encode(&name, LISTING_SAFE).to_string()
    } else {
        name
    }
}

const LISTING_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// A page size from a `max-*` parameter.
fn page_size(value: Option<i32>, what: &str) -> S3Result<usize> {
    let value = value.unwrap_or(MAX_PAGE);
    if value < 0 {
        return Err(invalid_argument(format!(
            "{what} must be a non-negative integer"
        )));
    }
    Ok(usize::try_from(value.min(MAX_PAGE)).unwrap_or(0))
}

/// Splits a listing page into S3's `Contents` and `CommonPrefixes`.
fn page_entries(
    page: Page<ObjectSummary>,
    url: bool,
    owner: Option<&Owner>,
) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for entry in page.entries {
        match entry {
            Entry::Object(key, summary) => contents.push(Object {
                key: Some(listed(key, url)),
                size: i64::try_from(summary.size).ok(),
                e_tag: Some(strong_etag(&summary.etag)),
                last_modified: Some(timestamp(summary.last_modified_us)),
                storage_class: Some(ObjectStorageClass::from_static(
                    ObjectStorageClass::STANDARD,
                )),
                checksum_algorithm: summary.checksum_algorithm.map(|a| vec![s3_algorithm(a)]),
                owner: owner.cloned(),
                ..Object::default()
            }),
            Entry::CommonPrefix(prefix) => prefixes.push(CommonPrefix {
                prefix: Some(listed(prefix, url)),
            }),
        }
    }
    (contents, prefixes)
}

#[async_trait::async_trait]
impl S3 for EmbeddedService {
    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket))]
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        self.store
            .create_bucket(bucket.clone())
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.store
            .head_bucket(req.input.bucket)
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some("us-east-1".to_owned()),
            ..HeadBucketOutput::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        // us-east-1 is reported as no location constraint, as S3 does.
        self.store
            .head_bucket(req.input.bucket)
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.store.list_buckets().await.map_err(s3_error)?;
        let buckets = buckets
            .into_iter()
            .map(|(name, record)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(record.created_us)),
                bucket_region: Some("us-east-1".to_owned()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner()),
            ..ListBucketsOutput::default()
        }))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket))]
    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.store
            .delete_bucket(req.input.bucket)
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key))]
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;

        // Refuse what cannot succeed before reading a byte of the body.
        if input.write_offset_bytes.is_some() || input.sse_customer_key.is_some() {
            return Err(s3_error_with(
                S3ErrorCode::NotImplemented,
                "Appends and customer-provided encryption keys are not supported.",
            ));
        }
        check_content_length(input.content_length)?;
        let condition = write_condition(input.if_match, input.if_none_match)?;
        let mut claims = claimed_checksums(checksum_values!(input))?;
        let md5 = content_md5(input.content_md5.as_ref())?;
        let trailer = trailer_algorithm(&headers)?;
        let announced = requested_algorithm(input.checksum_algorithm.as_ref())?;
        let current = self
            .store
            .object(input.bucket.clone(), input.key.clone())
            .await
            .map_err(s3_error)?;
        condition.check(current.as_ref()).map_err(s3_error)?;

        // Stream the body to a durable blob, hashing for every claim, and
        // verify header and trailer claims against what arrived.
        let algorithms: Vec<Algorithm> = claims
            .algorithms()
            .chain(trailer)
            .chain(announced)
            .collect();
        let staged = self
            .receive_body(
                input.body,
                algorithms,
                &mut claims,
                trailing_headers.as_ref(),
                md5,
            )
            .await?;

        // Publish the object if the condition still holds.
        let record = ObjectRecord {
            size: staged.digests.size,
            etag: hex::encode(staged.digests.md5),
            last_modified_us: now_us(),
            meta: object_meta(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.metadata,
            ),
            checksum: chosen_checksum(&claims, announced.or(trailer), &staged),
            parts_count: None,
            segments: Vec::new(),
        };
        let record = self
            .store
            .put_object(input.bucket, input.key, record, staged, condition)
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(with_stored_checksum!(
            record.checksum.as_ref(),
            PutObjectOutput {
                e_tag: Some(strong_etag(&record.etag)),
                ..PutObjectOutput::default()
            }
        )))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key))]
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        check_read_supported(input.part_number, input.version_id.as_ref())?;

        // Pin the object so its bytes outlive a concurrent overwrite.
        let (record, pin) = self
            .store
            .open_object(input.bucket, input.key)
            .await
            .map_err(s3_error)?;
        check_read_conditions(
            &record,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;

        // Resolve the range; the whole object when none was asked for.
        let range = match input.range {
            Some(range) => Some(range.check(record.size).map_err(S3Error::from)?),
            None => None,
        };
        let bytes = range.clone().unwrap_or(0..record.size);
        let content_range = range
            .as_ref()
            .map(|r| format!("bytes {}-{}/{}", r.start, r.end - 1, record.size));

        // Checksums describe the whole object, so a range gets none.
        let wants_checksum = checksum_requested(input.checksum_mode.as_ref());
        let stored = record
            .checksum
            .as_ref()
            .filter(|_| wants_checksum && range.is_none());
        let body = StreamingBlob::new(self.store.reader(&record, bytes.clone(), pin));
        let mut output = stored_object_output!(
            &record,
            stored,
            GetObjectOutput {
                body: Some(body),
                content_length: i64::try_from(bytes.end - bytes.start).ok(),
                content_range,
                ..GetObjectOutput::default()
            }
        );

        // As in S3, a signed request may override the stored headers with
        // `response-*` query parameters: this is how a presigned download
        // forces `attachment` and `application/octet-stream`, so a stored
        // HTML file is saved, never rendered.
        let overrides = [
            (input.response_content_type, &mut output.content_type),
            (
                input.response_content_disposition,
                &mut output.content_disposition,
            ),
            (input.response_cache_control, &mut output.cache_control),
            (
                input.response_content_encoding,
                &mut output.content_encoding,
            ),
            (
                input.response_content_language,
                &mut output.content_language,
            ),
        ];
        for (requested, header) in overrides {
            if let Some(value) = requested {
                *header = Some(value);
            }
        }
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        check_read_supported(input.part_number, input.version_id.as_ref())?;
        let record = self
            .store
            .object(input.bucket, input.key)
            .await
            .map_err(s3_error)?
            .ok_or_else(|| s3_error(StoreError::NoSuchKey))?;
        check_read_conditions(
            &record,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )?;
        let wants_checksum = checksum_requested(input.checksum_mode.as_ref());
        let stored = record.checksum.as_ref().filter(|_| wants_checksum);
        Ok(S3Response::new(stored_object_output!(
            &record,
            stored,
            HeadObjectOutput {
                content_length: i64::try_from(record.size).ok(),
                ..HeadObjectOutput::default()
            }
        )))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key))]
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        if input.version_id.is_some() || input.if_match.is_some() {
            return Err(s3_error_with(
                S3ErrorCode::NotImplemented,
                "Deleting by version or condition is not supported.",
            ));
        }
        self.store
            .delete_object(input.bucket, input.key)
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        // Read the paging parameters; a token wins over start-after.
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max_keys = page_size(input.max_keys, "max-keys")?;
        let resume =
            match (&input.continuation_token, &input.start_after) {
                (Some(token), _) => Some(Resume::from_token(token).ok_or_else(|| {
                    invalid_argument("The continuation token provided is incorrect")
                })?),
                (None, Some(after)) if !after.is_empty() => Some(Resume::AfterKey(after.clone())),
                _ => None,
            };
        let request = PageRequest {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            max_keys,
            resume,
        };

        // One range scan of the index.
        let page = self
            .store
            .list_objects(input.bucket.clone(), request)
            .await
            .map_err(s3_error)?;
        let truncated = page.truncated;
        let next = page.next.as_ref().map(Resume::to_token);
        let owner = input.fetch_owner.unwrap_or(false).then(|| self.owner());
        let (contents, prefixes) = page_entries(page, url, owner.as_ref());
        let key_count = i32::try_from(contents.len() + prefixes.len()).unwrap_or(MAX_PAGE);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(listed(input.prefix.unwrap_or_default(), url)),
            delimiter: input.delimiter.map(|d| listed(d, url)),
            max_keys: i32::try_from(max_keys).ok(),
            key_count: Some(key_count),
            is_truncated: Some(truncated),
            continuation_token: input.continuation_token,
            next_continuation_token: next,
            start_after: input.start_after.map(|s| listed(s, url)),
            encoding_type: input.encoding_type,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            ..ListObjectsV2Output::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        // Version 1 pages by marker: strictly after the last key seen.
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max_keys = page_size(input.max_keys, "max-keys")?;
        let request = PageRequest {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            max_keys,
            resume: input
                .marker
                .clone()
                .filter(|m| !m.is_empty())
                .map(Resume::AfterKey),
        };

        // One range scan; NextMarker is sent whenever the page is cut.
        let page = self
            .store
            .list_objects(input.bucket.clone(), request)
            .await
            .map_err(s3_error)?;
        let truncated = page.truncated;
        let next_marker = page
            .next
            .as_ref()
            .map(|resume| listed(resume.position().to_owned(), url));
        let (contents, prefixes) = page_entries(page, url, Some(&self.owner()));
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(listed(input.prefix.unwrap_or_default(), url)),
            delimiter: input.delimiter.map(|d| listed(d, url)),
            marker: Some(input.marker.unwrap_or_default()),
            next_marker,
            max_keys: i32::try_from(max_keys).ok(),
            is_truncated: Some(truncated),
            encoding_type: input.encoding_type,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            ..ListObjectsOutput::default()
        }))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key))]
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        // Only COMPOSITE multipart checksums are kept.
        let input = req.input;
        let algorithm = requested_algorithm(input.checksum_algorithm.as_ref())?;
        match input.checksum_type.as_ref().map(ChecksumType::as_str) {
            None | Some(ChecksumType::COMPOSITE) => {}
            Some(_) => {
                return Err(s3_error_with(
                    S3ErrorCode::NotImplemented,
                    "Only COMPOSITE multipart checksums are supported.",
                ));
            }
        }

        // Record the upload with the headers the object will get.
        let upload = UploadRecord {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            initiated_us: now_us(),
            algorithm,
            meta: object_meta(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.metadata,
            ),
        };
        let upload_id = self.store.create_upload(upload).await.map_err(s3_error)?;
        tracing::debug!(s3.upload_id = %upload_id, "opened a multipart upload");
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            checksum_algorithm: algorithm.map(s3_algorithm),
            checksum_type: upload_checksum_type(algorithm),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key, s3.part = req.input.part_number))]
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;

        // Check the part number, the upload and the claims before the body.
        let number = u32::try_from(input.part_number)
            .ok()
            .filter(|n| (1..=MAX_PART_NUMBER as u32).contains(n))
            .ok_or_else(|| {
                invalid_argument("Part number must be an integer between 1 and 10000, inclusive")
            })?;
        check_content_length(input.content_length)?;
        let upload = self
            .store
            .upload(
                input.bucket.clone(),
                input.key.clone(),
                input.upload_id.clone(),
            )
            .await
            .map_err(s3_error)?;
        let mut claims = claimed_checksums(checksum_values!(input))?;
        let trailer = trailer_algorithm(&headers)?;
        if let Some(expected) = upload.algorithm
            && let Some(other) = claims.algorithms().chain(trailer).find(|a| *a != expected)
        {
            return Err(invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                expected.as_str().to_ascii_lowercase(),
                other.as_str().to_ascii_lowercase()
            )));
        }
        let md5 = content_md5(input.content_md5.as_ref())?;

        // Stream the part to a durable blob, always hashing with the
        // upload's algorithm so the composite checksum can be computed.
        let algorithms: Vec<Algorithm> = claims
            .algorithms()
            .chain(trailer)
            .chain(upload.algorithm)
            .collect();
        let staged = self
            .receive_body(
                input.body,
                algorithms,
                &mut claims,
                trailing_headers.as_ref(),
                md5,
            )
            .await?;

        // Keep the checksums S3 would report for this part.
        let mut kept = Checksums::default();
        for (algorithm, value) in staged.digests.checksums.iter() {
            if upload.algorithm == Some(algorithm) || claims.get(algorithm).is_some() {
                kept.insert(algorithm, value.to_owned());
            }
        }
        let address = (input.bucket, input.key, input.upload_id);
        let part = self
            .store
            .put_part(address, number, kept, staged)
            .await
            .map_err(s3_error)?;
        Ok(S3Response::new(with_checksum_fields!(
            ChecksumFields::from_values(part.checksums.iter()),
            UploadPartOutput {
                e_tag: Some(strong_etag(&part.md5)),
                ..UploadPartOutput::default()
            }
        )))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        // Page after the part number marker.
        let input = req.input;
        let max_parts = page_size(input.max_parts, "max-parts")?;
        let marker = input
            .part_number_marker
            .map(|m| {
                u32::try_from(m)
                    .map_err(|_| invalid_argument("part-number-marker must be non-negative"))
            })
            .transpose()?
            .unwrap_or(0);
        let address: UploadAddress = (
            input.bucket.clone(),
            input.key.clone(),
            input.upload_id.clone(),
        );
        let page = self
            .store
            .list_parts(address, marker, max_parts)
            .await
            .map_err(s3_error)?;
        let next_marker = page.parts.last().map(|(n, _)| *n);
        let parts = page
            .parts
            .iter()
            .map(|(number, part)| {
                with_checksum_fields!(
                    ChecksumFields::from_values(part.checksums.iter()),
                    Part {
                        part_number: i32::try_from(*number).ok(),
                        e_tag: Some(strong_etag(&part.md5)),
                        size: i64::try_from(part.size).ok(),
                        last_modified: Some(timestamp(part.last_modified_us)),
                    }
                )
            })
            .collect();
        let algorithm = page.upload.algorithm;
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            parts: Some(parts),
            is_truncated: Some(page.truncated),
            max_parts: i32::try_from(max_parts).ok(),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next_marker.and_then(|n| i32::try_from(n).ok()),
            checksum_algorithm: algorithm.map(s3_algorithm),
            checksum_type: upload_checksum_type(algorithm),
            initiator: Some(self.initiator()),
            owner: Some(self.owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..ListPartsOutput::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        // Page by key marker, then upload id marker within that key.
        let input = req.input;
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max_uploads = page_size(input.max_uploads, "max-uploads")?;
        let after = input
            .key_marker
            .clone()
            .filter(|k| !k.is_empty())
            .map(|key| {
                (
                    key,
                    input.upload_id_marker.clone().filter(|u| !u.is_empty()),
                )
            });
        let page = self
            .store
            .list_uploads(
                input.bucket.clone(),
                input.prefix.clone().unwrap_or_default(),
                after,
                max_uploads,
            )
            .await
            .map_err(s3_error)?;
        let next = page
            .uploads
            .last()
            .map(|(id, upload)| (upload.key.clone(), id.clone()));
        let uploads = page
            .uploads
            .into_iter()
            .map(|(id, upload)| MultipartUpload {
                key: Some(listed(upload.key, url)),
                upload_id: Some(id),
                initiated: Some(timestamp(upload.initiated_us)),
                checksum_algorithm: upload.algorithm.map(s3_algorithm),
                checksum_type: upload_checksum_type(upload.algorithm),
                initiator: Some(self.initiator()),
                owner: Some(self.owner()),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix.map(|p| listed(p, url)),
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            next_key_marker: next
                .as_ref()
                .filter(|_| page.truncated)
                .map(|(key, _)| listed(key.clone(), url)),
            next_upload_id_marker: next.filter(|_| page.truncated).map(|(_, id)| id),
            max_uploads: i32::try_from(max_uploads).ok(),
            is_truncated: Some(page.truncated),
            encoding_type: input.encoding_type,
            uploads: Some(uploads),
            ..ListMultipartUploadsOutput::default()
        }))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key))]
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        // Read the parts list the client recorded.
        let input = req.input;
        let condition = write_condition(input.if_match, input.if_none_match)?;
        let listed_parts = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        let mut requested = Vec::with_capacity(listed_parts.len());
        for part in listed_parts {
            let number = part
                .part_number
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| s3_error(StoreError::MalformedXml))?;
            let etag = part
                .e_tag
                .as_ref()
                .ok_or_else(|| s3_error(StoreError::MalformedXml))?;
            let checksums = claimed_checksums(checksum_values!(part))?;
            requested.push(RequestedPart {
                number,
                etag: etag.value().trim_matches('"').to_owned(),
                checksums,
            });
        }

        // Complete atomically with the condition check. A whole-object
        // checksum may end in `-N`, so it is not checked for a digest's shape.
        let size = input
            .mpu_object_size
            .map(|size| {
                u64::try_from(size)
                    .map_err(|_| invalid_argument("x-amz-mp-object-size must be non-negative"))
            })
            .transpose()?;
        let claims = CompletionClaims {
            checksums: checksums_of(checksum_values!(input)),
            size,
        };
        let address: UploadAddress = (input.bucket.clone(), input.key.clone(), input.upload_id);
        let record = self
            .store
            .complete_upload(address, requested, claims, condition)
            .await
            .map_err(s3_error)?;

        Ok(S3Response::new(with_stored_checksum!(
            record.checksum.as_ref(),
            CompleteMultipartUploadOutput {
                bucket: Some(input.bucket.clone()),
                key: Some(input.key.clone()),
                location: Some(format!("/{}/{}", input.bucket, input.key)),
                e_tag: Some(strong_etag(&record.etag)),
                ..CompleteMultipartUploadOutput::default()
            }
        )))
    }

    #[tracing::instrument(skip_all, fields(s3.bucket = %req.input.bucket, s3.key = %req.input.key))]
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        let address: UploadAddress = (input.bucket, input.key, input.upload_id);
        self.store.abort_upload(address).await.map_err(s3_error)?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}
