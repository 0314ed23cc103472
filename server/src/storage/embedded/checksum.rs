//! The integrity values S3 clients send and expect back: additional
//! checksums (`x-amz-checksum-*`), the MD5 behind every ETag, and the way a
//! multipart object's composite checksum and ETag derive from its parts.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use serde::{Deserialize, Serialize};

/// An additional checksum algorithm S3 understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    /// Every algorithm, in the order headers are examined.
    pub(crate) const ALL: [Algorithm; 5] = [
        Algorithm::Sha256,
        Algorithm::Sha1,
        Algorithm::Crc32c,
        Algorithm::Crc32,
        Algorithm::Crc64Nvme,
    ];

    /// Parses the name S3 uses on the wire (`SHA256`, `crc32c`, ...).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
    }

    /// The name S3 uses in XML and in `x-amz-checksum-algorithm`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) that carries a value of this algorithm.
    pub(crate) fn header_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Only the CRC family can be combined into a whole-object value, so
    /// everything else is composite when it spans parts.
    fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }
}

/// Checksum values by algorithm, each base64 as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checksums(BTreeMap<Algorithm, String>);

impl Checksums {
    pub(crate) fn insert(&mut self, algorithm: Algorithm, value: String) {
        self.0.insert(algorithm, value);
    }

    pub(crate) fn get(&self, algorithm: Algorithm) -> Option<&str> {
        self.0.get(&algorithm).map(String::as_str)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (Algorithm, &str)> {
        self.0
            .iter()
            .map(|(algorithm, value)| (*algorithm, value.as_str()))
    }

    pub(crate) fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.0.keys().copied()
    }
}

/// A claimed checksum that the bytes did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) algorithm: Algorithm,
}

/// Why a claimed checksum cannot even be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub(crate) algorithm: Algorithm,
}

/// Checks that every claimed value has the shape of its algorithm's digest,
/// so a typo is reported as a bad request rather than a corrupt upload.
pub(crate) fn validate_claims(claims: &Checksums) -> Result<(), Malformed> {
    for (algorithm, value) in claims.iter() {
        let decoded = BASE64.decode(value).map_err(|_| Malformed { algorithm })?;
        if decoded.len() != algorithm.digest_len() {
            return Err(Malformed { algorithm });
        }
    }
    Ok(())
}

/// Compares what the client claimed with what the bytes hash to; claims the
/// computation did not cover are a programming error and count as mismatch.
pub(crate) fn verify_claims(claims: &Checksums, computed: &Checksums) -> Result<(), Mismatch> {
    for (algorithm, claimed) in claims.iter() {
        if computed.get(algorithm) != Some(claimed) {
            return Err(Mismatch { algorithm });
        }
    }
    Ok(())
}

/// One running digest of an additional checksum algorithm.
enum Running {
    Crc32(Crc32),
    Crc32c(Crc32c),
    Crc64Nvme(Crc64Nvme),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Running {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Crc32 => Running::Crc32(Crc32::new()),
            Algorithm::Crc32c => Running::Crc32c(Crc32c::new()),
            Algorithm::Crc64Nvme => Running::Crc64Nvme(Crc64Nvme::new()),
            Algorithm::Sha1 => Running::Sha1(Sha1::new()),
            Algorithm::Sha256 => Running::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Running::Crc32(h) => h.update(data),
            Running::Crc32c(h) => h.update(data),
            Running::Crc64Nvme(h) => h.update(data),
            Running::Sha1(h) => h.update(data),
            Running::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Running::Crc32(h) => h.finalize().to_vec(),
            Running::Crc32c(h) => h.finalize().to_vec(),
            Running::Crc64Nvme(h) => h.finalize().to_vec(),
            Running::Sha1(h) => h.finalize().to_vec(),
            Running::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// What hashing a body produced: its size, its MD5 (the ETag of a simple
/// object) and the requested additional checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digests {
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) checksums: Checksums,
}

/// Hashes a body once, in one pass, for MD5 and any chosen algorithms.
pub(crate) struct BodyHasher {
    size: u64,
    md5: Md5,
    running: Vec<(Algorithm, Running)>,
}

impl BodyHasher {
    pub(crate) fn new(algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut running: Vec<(Algorithm, Running)> = Vec::new();
        for algorithm in algorithms {
            if !running.iter().any(|(known, _)| *known == algorithm) {
                running.push((algorithm, Running::new(algorithm)));
            }
        }
        Self {
            size: 0,
            md5: Md5::new(),
            running,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        self.md5.update(data);
        for (_, running) in &mut self.running {
            running.update(data);
        }
    }

    pub(crate) fn finish(self) -> Digests {
        let mut checksums = Checksums::default();
        for (algorithm, running) in self.running {
            checksums.insert(algorithm, BASE64.encode(running.finish()));
        }
        Digests {
            size: self.size,
            md5: self.md5.finalize(),
            checksums,
        }
    }
}

/// The ETag S3 gives a multipart object: the MD5 of the concatenated binary
/// MD5s of its parts, in hex, suffixed with the part count.
pub(crate) fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut md5 = Md5::new();
    for digest in part_md5s {
        md5.update(digest);
    }
    format!("{}-{}", hex::encode(md5.finalize()), part_md5s.len())
}

/// The COMPOSITE checksum of a multipart object: the same algorithm over the
/// concatenated raw part digests, base64, suffixed with the part count.
/// Returns `None` when a stored part value is not valid base64.
pub(crate) fn composite_checksum(algorithm: Algorithm, part_values: &[&str]) -> Option<String> {
    let mut running = Running::new(algorithm);
    for value in part_values {
        let raw = BASE64.decode(value).ok()?;
        running.update(&raw);
    }
    Some(format!(
        "{}-{}",
        BASE64.encode(running.finish()),
        part_values.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(algorithm: Algorithm, data: &[u8]) -> String {
        let mut hasher = BodyHasher::new([algorithm]);
        hasher.update(data);
        hasher
            .finish()
            .checksums
            .get(algorithm)
            .map(str::to_owned)
            .unwrap_or_default()
    }

    #[test]
    fn sha256_of_known_text_matches_the_published_value() {
        // `echo -n hello | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            digest_of(Algorithm::Sha256, b"hello"),
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
        );
    }

    #[test]
    fn crc32_and_crc32c_of_known_text_match_the_published_values() {
        assert_eq!(digest_of(Algorithm::Crc32, b"hello"), "NhCmhg==");
        assert_eq!(digest_of(Algorithm::Crc32c, b"hello"), "mnG7TA==");
    }

    #[test]
    fn hashing_in_chunks_equals_hashing_at_once() {
        let mut chunked = BodyHasher::new([Algorithm::Sha256, Algorithm::Crc32]);
        chunked.update(b"hel");
        chunked.update(b"lo");
        let mut whole = BodyHasher::new([Algorithm::Sha256, Algorithm::Crc32]);
        whole.update(b"hello");
        assert_eq!(chunked.finish(), whole.finish());
    }

    #[test]
    fn md5_of_a_body_is_its_plain_etag() {
        let mut hasher = BodyHasher::new([]);
        hasher.update(b"hello");
        let digests = hasher.finish();
        assert_eq!(hex::encode(digests.md5), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(digests.size, 5);
    }

    #[test]
    fn a_wrong_claim_is_reported_with_its_algorithm() {
        let mut claims = Checksums::default();
        claims.insert(Algorithm::Sha256, digest_of(Algorithm::Sha256, b"other"));
        let mut computed = Checksums::default();
        computed.insert(Algorithm::Sha256, digest_of(Algorithm::Sha256, b"hello"));
        assert_eq!(
            verify_claims(&claims, &computed),
            Err(Mismatch {
                algorithm: Algorithm::Sha256
            })
        );
    }

    #[test]
    fn a_claim_of_the_wrong_length_is_malformed() {
        let mut claims = Checksums::default();
        claims.insert(Algorithm::Sha256, "NhCmhg==".to_owned());
        assert!(validate_claims(&claims).is_err());
        let mut claims = Checksums::default();
        claims.insert(Algorithm::Crc32, "NhCmhg==".to_owned());
        assert!(validate_claims(&claims).is_ok());
    }

    #[test]
    fn multipart_etag_is_md5_of_part_md5s_with_count() {
        let a: [u8; 16] = Md5::checksum(b"part one");
        let b: [u8; 16] = Md5::checksum(b"part two");
        let mut joined = Vec::new();
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&b);
        let expected = format!("{}-2", hex::encode(Md5::checksum(&joined)));
        assert_eq!(multipart_etag(&[a, b]), expected);
    }

    #[test]
    fn composite_sha256_hashes_raw_part_digests_and_appends_the_count() {
        let a = digest_of(Algorithm::Sha256, b"part one");
        let b = digest_of(Algorithm::Sha256, b"part two");
        let mut joined = BASE64.decode(&a).unwrap_or_default();
        joined.extend(BASE64.decode(&b).unwrap_or_default());
        let expected = format!("{}-2", BASE64.encode(Sha256::checksum(&joined)));
        assert_eq!(
            composite_checksum(Algorithm::Sha256, &[&a, &b]),
            Some(expected)
        );
    }

    #[test]
    fn algorithm_names_parse_case_insensitively() {
        assert_eq!(Algorithm::parse("sha256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::parse("CRC32C"), Some(Algorithm::Crc32c));
        assert_eq!(Algorithm::parse("md5"), None);
    }
}
