//! Multipart uploads: parts are staged blobs named by PARTS records, and
//! completion turns the chosen parts into the segments of one object in a
//! single transaction, without copying a byte.

use std::collections::BTreeMap;

use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};

use super::records::{ObjectRecord, PartRecord, Segment, StoredChecksum, UploadRecord, now_us};
use super::{
    OBJECTS, PARTS, StagedBlob, Store, StoreError, UPLOADS, WriteCondition, db_err, decode, encode,
    object_in,
};
use crate::storage::embedded::checksum::{self, Checksums};

/// S3's minimum size for every part but the last.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// One `<Part>` of a CompleteMultipartUpload request.
#[derive(Debug, Clone)]
pub(crate) struct RequestedPart {
    pub(crate) number: u32,
    /// Without quotes.
    pub(crate) etag: String,
    pub(crate) checksums: Checksums,
}

/// What a completion request claims about the whole object.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompletionClaims {
    /// `x-amz-checksum-*`: the composite value, with or without `-N`.
    pub(crate) checksums: Checksums,
    /// `x-amz-mp-object-size`.
    pub(crate) size: Option<u64>,
}

/// What completing an upload produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assembly {
    pub(crate) segments: Vec<Segment>,
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) checksum: Option<StoredChecksum>,
    /// Blobs of uploaded parts the request left out.
    pub(crate) unused_blobs: Vec<String>,
}

/// Checks a completion request against the uploaded parts, as S3 does, and
/// derives the object's segments, ETag and composite checksum.
pub(crate) fn assemble(
    upload: &UploadRecord,
    stored: &BTreeMap<u32, PartRecord>,
    requested: &[RequestedPart],
    claims: &CompletionClaims,
) -> Result<Assembly, StoreError> {
    // Part numbers ascend strictly, and with a checksum algorithm they must
    // also run 1, 2, 3 ... without a gap.
    if requested.is_empty() {
        return Err(StoreError::MalformedXml);
    }
    for pair in requested.windows(2) {
        if pair[1].number <= pair[0].number {
            return Err(StoreError::InvalidPartOrder(
                "The list of parts was not in ascending order.".to_owned(),
            ));
        }
    }
    if upload.algorithm.is_some()
        && requested
            .iter()
            .enumerate()
            .any(|(i, part)| part.number as usize != i + 1)
    {
        return Err(StoreError::InvalidPartOrder(
            "With a checksum algorithm, part numbers must start at 1 and be consecutive."
                .to_owned(),
        ));
    }

    // Every listed part exists with the ETag and checksums the client saw.
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
    for part in requested {
        let invalid = || {
            StoreError::InvalidPart(format!(
                "Part {} could not be found or its entity tag did not match.",
                part.number
            ))
        };
        let record = stored.get(&part.number).ok_or_else(invalid)?;
        if record.md5 != part.etag {
            return Err(invalid());
        }
        for (algorithm, value) in part.checksums.iter() {
            if record.checksums.get(algorithm) != Some(value) {
                return Err(StoreError::InvalidPart(format!(
                    "The {} of part {} does not match the uploaded part.",
                    algorithm.as_str(),
                    part.number
                )));
            }
        }
        chosen.push(record);
    }

    // Every part but the last meets the minimum size.
    if let Some((_, all_but_last)) = chosen.split_last()
        && all_but_last.iter().any(|part| part.size < MIN_PART_SIZE)
    {
        return Err(StoreError::EntityTooSmall);
    }

    // The ETag and composite checksum derive from the part digests.
    let mut md5s = Vec::with_capacity(chosen.len());
    for part in &chosen {
        let raw = hex::decode(&part.md5)
            .ok()
            .and_then(|raw| <[u8; 16]>::try_from(raw).ok());
        md5s.push(raw.ok_or_else(|| anyhow::anyhow!("a stored part MD5 is not 16 bytes of hex"))?);
    }
    let checksum = match upload.algorithm {
        Some(algorithm) => {
            let values: Option<Vec<&str>> = chosen
                .iter()
                .map(|part| part.checksums.get(algorithm))
                .collect();
            let value = values
                .and_then(|values| checksum::composite_checksum(algorithm, &values))
                .ok_or_else(|| anyhow::anyhow!("a stored part lacks its upload's checksum"))?;
            Some(StoredChecksum {
                algorithm,
                value,
                composite: true,
            })
        }
        None => None,
    };

    // Whatever the client claims about the whole object must hold.
    let size: u64 = chosen.iter().map(|part| part.size).sum();
    check_completion_claims(claims, upload, checksum.as_ref(), size)?;

    // Parts not listed are dropped with the upload.
    let listed: std::collections::HashSet<u32> = requested.iter().map(|p| p.number).collect();
    let unused_blobs = stored
        .iter()
        .filter(|(number, _)| !listed.contains(number))
        .map(|(_, part)| part.blob.clone())
        .collect();
    Ok(Assembly {
        segments: chosen
            .iter()
            .map(|part| Segment {
                blob: part.blob.clone(),
                size: part.size,
            })
            .collect(),
        size,
        etag: checksum::multipart_etag(&md5s),
        checksum,
        unused_blobs,
    })
}

fn check_completion_claims(
    claims: &CompletionClaims,
    upload: &UploadRecord,
    checksum: Option<&StoredChecksum>,
    size: u64,
) -> Result<(), StoreError> {
    if claims.size.is_some_and(|claimed| claimed != size) {
        return Err(StoreError::InvalidRequest(
            "The provided x-amz-mp-object-size does not match the size of the object.".to_owned(),
        ));
    }
    for (algorithm, claimed) in claims.checksums.iter() {
        let Some(stored) = checksum.filter(|c| c.algorithm == algorithm) else {
            return Err(StoreError::InvalidRequest(format!(
                "The upload was not created with the {} checksum algorithm{}.",
                algorithm.as_str(),
                upload
                    .algorithm
                    .map(|a| format!("; it uses {}", a.as_str()))
                    .unwrap_or_default()
            )));
        };
        let bare = stored
            .value
            .rsplit_once('-')
            .map_or(stored.value.as_str(), |(value, _)| value);
        if claimed != stored.value && claimed != bare {
            return Err(StoreError::BadDigest(algorithm));
        }
    }
    Ok(())
}

/// A page of an upload's parts.
#[derive(Debug, Clone)]
pub(crate) struct PartsPage {
    pub(crate) upload: UploadRecord,
    pub(crate) parts: Vec<(u32, PartRecord)>,
    pub(crate) truncated: bool,
}

/// A page of a bucket's open uploads.
#[derive(Debug, Clone)]
pub(crate) struct UploadsPage {
    pub(crate) uploads: Vec<(String, UploadRecord)>,
    pub(crate) truncated: bool,
}

/// Reads an upload and checks it belongs to `bucket`/`key`.
fn upload_in(
    uploads: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<UploadRecord, StoreError> {
    let found = uploads
        .get(upload_id)
        .map_err(db_err("failed to read an upload"))?;
    let upload: UploadRecord = match found {
        Some(value) => decode(value.value())?,
        None => return Err(StoreError::NoSuchUpload),
    };
    if upload.bucket != bucket || upload.key != key {
        return Err(StoreError::NoSuchUpload);
    }
    Ok(upload)
}

/// Every part of an upload, by number.
fn parts_of(
    parts: &impl ReadableTable<(&'static str, u32), &'static [u8]>,
    upload_id: &str,
) -> Result<BTreeMap<u32, PartRecord>, StoreError> {
    let mut all = BTreeMap::new();
    let scan = parts
        .range((upload_id, 0u32)..=(upload_id, u32::MAX))
        .map_err(db_err("failed to scan parts"))?;
    for item in scan {
        let (key, value) = item.map_err(db_err("failed to scan parts"))?;
        all.insert(key.value().1, decode(value.value())?);
    }
    Ok(all)
}

/// An upload found open inside a write, with the tables that hold it.
struct OpenUpload<'txn> {
    record: UploadRecord,
    uploads: Table<'txn, &'static str, &'static [u8]>,
    parts: Table<'txn, (&'static str, u32), &'static [u8]>,
}

/// Opens the upload tables of a write; `NoSuchUpload` unless the upload is
/// open under `bucket`/`key`.
fn open_upload<'txn>(
    txn: &'txn WriteTransaction,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<OpenUpload<'txn>, StoreError> {
    let uploads = txn
        .open_table(UPLOADS)
        .map_err(db_err("failed to open uploads"))?;
    let record = upload_in(&uploads, bucket, key, upload_id)?;
    let parts = txn
        .open_table(PARTS)
        .map_err(db_err("failed to open parts"))?;
    Ok(OpenUpload {
        record,
        uploads,
        parts,
    })
}

/// Removes an upload and the parts numbered `numbers`, closing it.
fn close_upload(
    uploads: &mut Table<&'static str, &'static [u8]>,
    parts: &mut Table<(&'static str, u32), &'static [u8]>,
    upload_id: &str,
    numbers: impl IntoIterator<Item = u32>,
) -> Result<(), StoreError> {
    uploads
        .remove(upload_id)
        .map_err(db_err("failed to remove an upload"))?;
    for number in numbers {
        parts
            .remove((upload_id, number))
            .map_err(db_err("failed to remove a part"))?;
    }
    Ok(())
}

/// The first `max` of `items`, and whether any were left over.
fn first_page<T>(items: impl IntoIterator<Item = T>, max: usize) -> (Vec<T>, bool) {
    let mut page: Vec<T> = items.into_iter().take(max.saturating_add(1)).collect();
    let truncated = page.len() > max;
    page.truncate(max);
    (page, truncated)
}

impl Store {
    /// Opens a new upload and returns its id.
    pub(crate) async fn create_upload(&self, upload: UploadRecord) -> Result<String, StoreError> {
        self.blocking(move |store| {
            let upload_id = format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            let txn = store.write_in_bucket(&upload.bucket)?;
            {
                let mut uploads = txn
                    .open_table(UPLOADS)
                    .map_err(db_err("failed to open uploads"))?;
                let bytes = encode(&upload)?;
                uploads
                    .insert(upload_id.as_str(), bytes.as_slice())
                    .map_err(db_err("failed to insert an upload"))?;
            }
            txn.commit().map_err(db_err("failed to commit an upload"))?;
            Ok(upload_id)
        })
        .await
    }

    /// The upload, if it is open and belongs to `bucket`/`key`.
    pub(crate) async fn upload(
        &self,
        bucket: String,
        key: String,
        upload_id: String,
    ) -> Result<UploadRecord, StoreError> {
        self.blocking(move |store| {
            let (_, upload) = store.read_upload(&bucket, &key, &upload_id)?;
            Ok(upload)
        })
        .await
    }

    /// A read that found the upload open under `bucket`/`key`.
    fn read_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(ReadTransaction, UploadRecord), StoreError> {
        let txn = self.read_in_bucket(bucket)?;
        let uploads = txn
            .open_table(UPLOADS)
            .map_err(db_err("failed to open uploads"))?;
        let upload = upload_in(&uploads, bucket, key, upload_id)?;
        Ok((txn, upload))
    }

    /// Records a staged blob as part `number`, replacing an earlier upload of
    /// the same number. Fails if the upload was completed or aborted while
    /// the part's body arrived.
    pub(crate) async fn put_part(
        &self,
        (bucket, key, upload_id): (String, String, String),
        number: u32,
        checksums: Checksums,
        staged: StagedBlob,
    ) -> Result<PartRecord, StoreError> {
        self.blocking(move |store| {
            let record = PartRecord {
                size: staged.digests.size,
                md5: hex::encode(staged.digests.md5),
                checksums,
                blob: staged.id.clone(),
                last_modified_us: now_us(),
            };
            let txn = store.write_txn()?;
            let replaced: Option<PartRecord> = {
                let OpenUpload { mut parts, .. } = open_upload(&txn, &bucket, &key, &upload_id)?;
                let bytes = encode(&record)?;
                let old = parts
                    .insert((upload_id.as_str(), number), bytes.as_slice())
                    .map_err(db_err("failed to insert a part"))?;
                old.map(|value| decode(value.value())).transpose()?
            };
            txn.commit().map_err(db_err("failed to commit a part"))?;
            staged.commit();
            if let Some(old) = replaced {
                store.release([old.blob]);
            }
            Ok(record)
        })
        .await
    }

    /// A page of an upload's parts after `marker`.
    pub(crate) async fn list_parts(
        &self,
        (bucket, key, upload_id): (String, String, String),
        marker: u32,
        max_parts: usize,
    ) -> Result<PartsPage, StoreError> {
        self.blocking(move |store| {
            let (txn, upload) = store.read_upload(&bucket, &key, &upload_id)?;
            let parts = txn
                .open_table(PARTS)
                .map_err(db_err("failed to open parts"))?;
            let after_marker = parts_of(&parts, &upload_id)?
                .into_iter()
                .filter(|(number, _)| *number > marker);
            let (page, truncated) = first_page(after_marker, max_parts);
            Ok(PartsPage {
                upload,
                parts: page,
                truncated,
            })
        })
        .await
    }

    /// A page of a bucket's open uploads, ordered by key then initiation,
    /// after the markers.
    pub(crate) async fn list_uploads(
        &self,
        bucket: String,
        prefix: String,
        after: Option<(String, Option<String>)>,
        max_uploads: usize,
    ) -> Result<UploadsPage, StoreError> {
        self.blocking(move |store| {
            let txn = store.read_in_bucket(&bucket)?;
            let uploads = txn
                .open_table(UPLOADS)
                .map_err(db_err("failed to open uploads"))?;
            let mut all: Vec<(String, UploadRecord)> = Vec::new();
            for item in uploads.iter().map_err(db_err("failed to scan uploads"))? {
                let (id, value) = item.map_err(db_err("failed to scan uploads"))?;
                let upload: UploadRecord = decode(value.value())?;
                if upload.bucket == bucket && upload.key.starts_with(&prefix) {
                    all.push((id.value().to_owned(), upload));
                }
            }
            all.sort_by(|(a_id, a), (b_id, b)| {
                (a.key.as_str(), a.initiated_us, a_id.as_str()).cmp(&(
                    b.key.as_str(),
                    b.initiated_us,
                    b_id.as_str(),
                ))
            });
            let after_markers = all.into_iter().filter(|(id, upload)| match &after {
                None => true,
                Some((key, None)) => upload.key.as_str() > key.as_str(),
                Some((key, Some(after_id))) => {
                    upload.key.as_str() > key.as_str()
                        || (upload.key == *key && id.as_str() > after_id.as_str())
                }
            });
            let (page, truncated) = first_page(after_markers, max_uploads);
            Ok(UploadsPage {
                uploads: page,
                truncated,
            })
        })
        .await
    }

    /// Aborts an upload and deletes its parts.
    pub(crate) async fn abort_upload(
        &self,
        (bucket, key, upload_id): (String, String, String),
    ) -> Result<(), StoreError> {
        self.blocking(move |store| {
            let txn = store.write_txn()?;
            let dropped = {
                let OpenUpload {
                    mut uploads,
                    mut parts,
                    ..
                } = open_upload(&txn, &bucket, &key, &upload_id)?;
                let stored = parts_of(&parts, &upload_id)?;
                close_upload(&mut uploads, &mut parts, &upload_id, stored.keys().copied())?;
                stored
                    .into_values()
                    .map(|part| part.blob)
                    .collect::<Vec<_>>()
            };
            txn.commit().map_err(db_err("failed to commit an abort"))?;
            store.release(dropped);
            Ok(())
        })
        .await
    }

    /// Completes an upload: checks the request and the write condition, and
    /// swaps the object in, all in one write transaction.
    pub(crate) async fn complete_upload(
        &self,
        (bucket, key, upload_id): (String, String, String),
        requested: Vec<RequestedPart>,
        claims: CompletionClaims,
        condition: WriteCondition,
    ) -> Result<ObjectRecord, StoreError> {
        self.blocking(move |store| {
            let txn = store.write_txn()?;
            let (record, garbage) = {
                // Validate the parts list against what was uploaded.
                let OpenUpload {
                    record: upload,
                    mut uploads,
                    mut parts,
                } = open_upload(&txn, &bucket, &key, &upload_id)?;
                let stored = parts_of(&parts, &upload_id)?;
                let assembly = assemble(&upload, &stored, &requested, &claims)?;

                // The condition is judged against the object as it is now.
                let mut objects = txn
                    .open_table(OBJECTS)
                    .map_err(db_err("failed to open objects"))?;
                let current = object_in(&objects, &bucket, &key)?;
                condition.check(current.as_ref())?;

                // Swap the object in and close the upload.
                let record = ObjectRecord {
                    size: assembly.size,
                    etag: assembly.etag,
                    last_modified_us: now_us(),
                    meta: upload.meta,
                    checksum: assembly.checksum,
                    parts_count: u32::try_from(assembly.segments.len()).ok(),
                    segments: assembly.segments,
                };
                let bytes = encode(&record)?;
                objects
                    .insert((bucket.as_str(), key.as_str()), bytes.as_slice())
                    .map_err(db_err("failed to insert an object"))?;
                close_upload(&mut uploads, &mut parts, &upload_id, stored.keys().copied())?;
                let mut garbage = assembly.unused_blobs;
                if let Some(old) = current {
                    garbage.extend(old.segments.into_iter().map(|s| s.blob));
                }
                (record, garbage)
            };
            txn.commit()
                .map_err(db_err("failed to commit a completed upload"))?;
            store.release(garbage);
            Ok(record)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::embedded::checksum::{Algorithm, BodyHasher};
    use crate::storage::embedded::store::ObjectMeta;

    fn upload(algorithm: Option<Algorithm>) -> UploadRecord {
        UploadRecord {
            bucket: "b".to_owned(),
            key: "k".to_owned(),
            initiated_us: 0,
            algorithm,
            meta: ObjectMeta::default(),
        }
    }

    fn part(size: u64, seed: &[u8]) -> PartRecord {
        let mut hasher = BodyHasher::new([Algorithm::Sha256]);
        hasher.update(seed);
        let digests = hasher.finish();
        PartRecord {
            size,
            md5: hex::encode(digests.md5),
            checksums: digests.checksums,
            blob: format!("blob-{}", String::from_utf8_lossy(seed)),
            last_modified_us: 0,
        }
    }

    fn ask(stored: &BTreeMap<u32, PartRecord>, numbers: &[u32]) -> Vec<RequestedPart> {
        numbers
            .iter()
            .map(|n| RequestedPart {
                number: *n,
                etag: stored.get(n).map(|p| p.md5.clone()).unwrap_or_default(),
                checksums: Checksums::default(),
            })
            .collect()
    }

    fn three_parts() -> BTreeMap<u32, PartRecord> {
        BTreeMap::from([
            (1, part(MIN_PART_SIZE, b"one")),
            (2, part(MIN_PART_SIZE, b"two")),
            (3, part(10, b"three")),
        ])
    }

    #[test]
    fn completing_in_order_concatenates_parts_and_derives_etag_and_checksum() {
        let stored = three_parts();
        let assembly = assemble(
            &upload(Some(Algorithm::Sha256)),
            &stored,
            &ask(&stored, &[1, 2, 3]),
            &CompletionClaims::default(),
        );
        let Ok(assembly) = assembly else {
            panic!("assembly failed: {assembly:?}");
        };
        assert_eq!(assembly.size, 2 * MIN_PART_SIZE + 10);
        assert!(assembly.etag.ends_with("-3"));
        let checksum = assembly
            .checksum
            .map(|c| (c.value.ends_with("-3"), c.composite));
        assert_eq!(checksum, Some((true, true)));
        assert!(assembly.unused_blobs.is_empty());
    }

    #[test]
    fn parts_out_of_order_are_refused() {
        let stored = three_parts();
        let result = assemble(
            &upload(None),
            &stored,
            &ask(&stored, &[2, 1]),
            &CompletionClaims::default(),
        );
        assert!(matches!(result, Err(StoreError::InvalidPartOrder(_))));
    }

    #[test]
    fn a_gap_in_part_numbers_is_refused_only_with_a_checksum_algorithm() {
        let stored = three_parts();
        let with = assemble(
            &upload(Some(Algorithm::Sha256)),
            &stored,
            &ask(&stored, &[1, 3]),
            &CompletionClaims::default(),
        );
        assert!(matches!(with, Err(StoreError::InvalidPartOrder(_))));
        let without = assemble(
            &upload(None),
            &stored,
            &ask(&stored, &[1, 3]),
            &CompletionClaims::default(),
        );
        let Ok(without) = without else {
            panic!("a gap without a checksum algorithm should be allowed");
        };
        assert_eq!(without.unused_blobs, ["blob-two"]);
    }

    #[test]
    fn a_small_part_before_the_last_is_too_small() {
        let mut stored = three_parts();
        stored.insert(1, part(10, b"one"));
        let result = assemble(
            &upload(None),
            &stored,
            &ask(&stored, &[1, 2, 3]),
            &CompletionClaims::default(),
        );
        assert!(matches!(result, Err(StoreError::EntityTooSmall)));
    }

    #[test]
    fn a_wrong_etag_or_missing_part_is_an_invalid_part() {
        let stored = three_parts();
        let mut request = ask(&stored, &[1, 2]);
        request[1].etag = "0".repeat(32);
        assert!(matches!(
            assemble(
                &upload(None),
                &stored,
                &request,
                &CompletionClaims::default()
            ),
            Err(StoreError::InvalidPart(_))
        ));
        let missing = ask(&stored, &[1, 4]);
        assert!(matches!(
            assemble(
                &upload(None),
                &stored,
                &missing,
                &CompletionClaims::default()
            ),
            Err(StoreError::InvalidPart(_))
        ));
    }

    #[test]
    fn a_whole_object_checksum_claim_is_checked_with_or_without_the_part_count() {
        let stored = three_parts();
        let request = ask(&stored, &[1, 2, 3]);
        let sha = Some(Algorithm::Sha256);
        let good = assemble(
            &upload(sha),
            &stored,
            &request,
            &CompletionClaims::default(),
        );
        let Ok(good) = good else {
            panic!("assembly failed");
        };
        let value = good.checksum.map(|c| c.value).unwrap_or_default();
        for claimed in [
            value.clone(),
            value
                .rsplit_once('-')
                .map(|(v, _)| v.to_owned())
                .unwrap_or_default(),
        ] {
            let mut claims = CompletionClaims::default();
            claims.checksums.insert(Algorithm::Sha256, claimed);
            assert!(assemble(&upload(sha), &stored, &request, &claims).is_ok());
        }
        let mut wrong = CompletionClaims::default();
        wrong
            .checksums
            .insert(Algorithm::Sha256, "AAAA-3".to_owned());
        let result = assemble(&upload(sha), &stored, &request, &wrong);
        assert!(matches!(
            result,
            Err(StoreError::BadDigest(Algorithm::Sha256))
        ));
    }

    #[test]
    fn a_part_checksum_that_differs_from_the_upload_is_an_invalid_part() {
        let stored = three_parts();
        let mut request = ask(&stored, &[1, 2, 3]);
        request[0]
            .checksums
            .insert(Algorithm::Sha256, "AAAA".to_owned());
        let result = assemble(
            &upload(Some(Algorithm::Sha256)),
            &stored,
            &request,
            &CompletionClaims::default(),
        );
        assert!(matches!(result, Err(StoreError::InvalidPart(_))));
    }
}
