//! Whole trail files: gzipped `{"Records":[...]}`.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::record::TrailRecord;

/// Why a trail file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TrailFileError {
    #[error("failed to decompress the CloudTrail log file")]
    Decompress(#[source] io::Error),
    #[error("the CloudTrail log file is not a JSON object with a Records list of records")]
    Json(#[source] serde_json::Error),
}

#[derive(Deserialize)]
struct TrailFileIn {
    #[serde(rename = "Records")]
    records: Vec<TrailRecord>,
}

#[derive(Serialize)]
struct TrailFileOut<'r> {
    #[serde(rename = "Records")]
    records: &'r [TrailRecord],
}

/// The records of a gzipped trail file, in file order.
pub fn read_trail_file(gz: impl Read) -> Result<Vec<TrailRecord>, TrailFileError> {
    // Trail files are a few megabytes at most; parsing from memory is much
    // faster than from a reader.
    let mut json = Vec::new();
    MultiGzDecoder::new(gz)
        .read_to_end(&mut json)
        .map_err(TrailFileError::Decompress)?;

    let file: TrailFileIn = serde_json::from_slice(&json).map_err(TrailFileError::Json)?;
    Ok(file.records)
}

/// A gzipped trail file holding `records`, as CloudTrail writes one.
pub fn write_trail_file(records: &[TrailRecord]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());

    // Writing into memory cannot fail, string-keyed maps always serialize,
    // and the record's only hand-written serializer (the event time) never
    // errs, so neither step can.
    serde_json::to_writer(&mut gz, &TrailFileOut { records })
        .expect("serializing trail records into memory cannot fail");
    gz.flush().expect("compressing into memory cannot fail");
    gz.finish().expect("compressing into memory cannot fail")
}
