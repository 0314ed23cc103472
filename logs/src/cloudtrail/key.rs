//! Where CloudTrail files its log objects:
//!
//! ```text
//! AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
//!     <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alphanumerics>.json.gz
//! ```
//!
//! The time is the delivery minute in UTC. A trail with a key prefix puts it
//! before `AWSLogs/`, and an organization trail adds the organization id
//! (`o-...`) right after it.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::decimal::{parse_digits, push_padded};

/// Length of the random suffix of a log file name.
const SUFFIX_LEN: usize = 16;

/// What a trail log object's key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailKey<'k> {
    pub account: &'k str,
    pub region: &'k str,
    /// The delivery minute, in UTC.
    pub time: OffsetDateTime,
}

/// Why a key is not a trail log object's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CloudTrail log file key: {0}")]
pub struct TrailKeyError(&'static str);

/// The key CloudTrail would give a file for `account` and `region`
/// delivered at `at` (kept to the minute, in UTC) with `suffix`, its 16
/// random alphanumerics.
pub fn trail_object_key(account: &str, region: &str, at: OffsetDateTime, suffix: &str) -> String {
    // Keys always speak UTC; only a time at the very edge of the
    // representable range has no UTC equivalent.
    let utc = at.checked_to_offset(UtcOffset::UTC).unwrap_or(at);

    let mut key = trail_day_prefix(account, region, utc.date());
    key.push_str(account);
    key.push_str("_CloudTrail_");
    key.push_str(region);
    key.push('_');
    push_compact_date(&mut key, utc.date());
    key.push('T');
    push_padded(&mut key, u64::from(utc.hour()), 2);
    push_padded(&mut key, u64::from(utc.minute()), 2);
    key.push_str("Z_");
    key.push_str(suffix);
    key.push_str(".json.gz");
    key
}

/// The folder holding one UTC day's files, ending in `/`: list with it as
/// the prefix to page through a trail day by day.
pub fn trail_day_prefix(account: &str, region: &str, date: Date) -> String {
    let mut prefix = format!("AWSLogs/{account}/CloudTrail/{region}/");
    push_padded(&mut prefix, u64::from(date.year().unsigned_abs()), 4);
    prefix.push('/');
    push_padded(&mut prefix, u64::from(u8::from(date.month())), 2);
    prefix.push('/');
    push_padded(&mut prefix, u64::from(date.day()), 2);
    prefix.push('/');
    prefix
}

/// Reads account, region and delivery minute back from a trail log
/// object's key, checking that folders and file name agree.
///
/// Digest files (`CloudTrail-Digest/`) and Insights files are not log files
/// and are refused.
pub fn parse_trail_object_key(key: &str) -> Result<TrailKey<'_>, TrailKeyError> {
    // The folders say whose trail, which region and which day.
    let folders = Folders::of(key)?;

    // The file name repeats account and region around the delivery minute.
    let time = file_time(folders.file, folders.account, folders.region)?;

    // A file sits in the folder of its own UTC day.
    let mut day = String::with_capacity(8);
    push_compact_date(&mut day, time.date());
    if folders.day != [&day[0..4], &day[4..6], &day[6..8]] {
        return Err(TrailKeyError("the date folders and the file name disagree"));
    }
    Ok(TrailKey {
        account: folders.account,
        region: folders.region,
        time,
    })
}

/// The parts of a key from `AWSLogs/` on.
struct Folders<'k> {
    account: &'k str,
    region: &'k str,
    /// Year, month and day folders.
    day: [&'k str; 3],
    file: &'k str,
}

impl<'k> Folders<'k> {
    fn of(key: &'k str) -> Result<Self, TrailKeyError> {
        // Whatever prefix the trail has ends where `AWSLogs/` begins.
        let start = if key.starts_with("AWSLogs/") {
            0
        } else {
            let at = key
                .rfind("/AWSLogs/")
                .ok_or(TrailKeyError("no AWSLogs/ folder"))?;
            at + 1
        };
        let mut parts: Vec<&str> = key.get(start..).unwrap_or("").split('/').collect();

        // An organization trail adds a folder for the organization.
        if parts.len() == 9 && parts[1].starts_with("o-") {
            parts.remove(1);
        }
        let [_, account, service, region, year, month, day, file] = parts[..] else {
            return Err(TrailKeyError(
                "not AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>",
            ));
        };

        // Digest and Insights files live beside the log files.
        if service != "CloudTrail" {
            return Err(TrailKeyError("not under a CloudTrail/ folder"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TrailKeyError("the account id is not twelve digits"));
        }
        let region_byte = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if region.is_empty() || !region.bytes().all(region_byte) {
            return Err(TrailKeyError("the region is not a region code"));
        }
        Ok(Folders {
            account,
            region,
            day: [year, month, day],
            file,
        })
    }
}

/// The delivery minute a file name gives, checking the rest of the name.
fn file_time(file: &str, account: &str, region: &str) -> Result<OffsetDateTime, TrailKeyError> {
    // `<account>_CloudTrail_<region>_` and `.json.gz` around the rest.
    let rest = file
        .strip_prefix(account)
        .and_then(|rest| rest.strip_prefix("_CloudTrail_"))
        .and_then(|rest| rest.strip_prefix(region))
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.strip_suffix(".json.gz"))
        .ok_or(TrailKeyError(
            "the file name is not <account>_CloudTrail_<region>_<time>_<suffix>.json.gz",
        ))?;

    // Then `<time>_<suffix>`.
    let (stamp, suffix) = rest
        .split_once('_')
        .ok_or(TrailKeyError("the file name has no random suffix"))?;
    if suffix.len() != SUFFIX_LEN || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TrailKeyError(
            "the random suffix is not sixteen alphanumerics",
        ));
    }
    parse_stamp(stamp)
}

/// `YYYYMMDD`.
fn push_compact_date(out: &mut String, date: Date) {
    push_padded(out, u64::from(date.year().unsigned_abs()), 4);
    push_padded(out, u64::from(u8::from(date.month())), 2);
    push_padded(out, u64::from(date.day()), 2);
}

/// Reads `YYYYMMDDTHHmmZ`.
fn parse_stamp(stamp: &str) -> Result<OffsetDateTime, TrailKeyError> {
    const BAD: TrailKeyError = TrailKeyError("the time is not YYYYMMDDTHHmmZ");

    // Fixed width: the length check makes every index below valid.
    let b = stamp.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return Err(BAD);
    }
    let field = |range: std::ops::Range<usize>| parse_digits(&b[range]).ok_or(BAD);

    // Values out of range are as bad as letters.
    let month = u8::try_from(field(4..6)?)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(BAD)?;
    let date = Date::from_calendar_date(field(0..4)? as i32, month, field(6..8)? as u8)
        .map_err(|_| BAD)?;
    let clock = Time::from_hms(field(9..11)? as u8, field(11..13)? as u8, 0).map_err(|_| BAD)?;
    Ok(PrimitiveDateTime::new(date, clock).assume_utc())
}
