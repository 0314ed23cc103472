//! S3 data events from the trail's log files in the log bucket
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/…json.gz`).
//! `LookupEvents` never returns data events; they reach an account only
//! through these files.
//!
//! Files are read newest first, by the delivery minute in their names,
//! across every account and region the bucket holds; a file's records are
//! shown newest first. The cursor is the file being read and how many of
//! its records were read. A file delivered before `from` holds nothing
//! newer, so the listing stops there; files go on arriving for a while
//! after the events they hold, so a listing for `to` starts a day later.

use std::collections::BTreeSet;

use async_trait::async_trait;
use coffer_logs::cloudtrail::{TrailRecord, parse_trail_object_key, read_trail_file};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

use super::cloudtrail::row_of;
use super::{Event, EventStream, Filters, StreamPage};
use crate::error::ApiError;
use crate::storage::Storage;

/// Where trail files start in the log bucket.
pub const TRAIL_PREFIX: &str = "AWSLogs/";

/// Files one page reads at most.
const FILES_PER_PAGE: usize = 20;

/// Days without files one page looks through at most before it reports
/// where it stopped.
const DAYS_PER_PAGE: usize = 60;

/// Data events from trail files.
#[derive(Clone, Debug)]
pub struct TrailFileStream {
    logs: Storage,
}

/// Where a listing stands: the file it is in and how many records of it
/// were read.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Place {
    file: String,
    read: usize,
}

impl TrailFileStream {
    /// Trail files in the log bucket `logs` reads.
    pub fn new(logs: Storage) -> TrailFileStream {
        TrailFileStream { logs }
    }

    /// The trails' folders, one per account and region:
    /// `AWSLogs/<account>/CloudTrail/<region>/`.
    pub async fn trails(&self) -> anyhow::Result<Vec<String>> {
        let mut trails = Vec::new();
        for account in self.folders(TRAIL_PREFIX).await? {
            let regions = self.folders(&format!("{account}CloudTrail/")).await?;
            trails.extend(regions);
        }
        Ok(trails)
    }

    /// Every folder directly under `prefix`.
    async fn folders(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (folders, more) = self
                .logs
                .list_folders(prefix, after.as_deref(), 1000)
                .await?;
            after = folders.last().cloned();
            all.extend(folders);
            if !more || after.is_none() {
                return Ok(all);
            }
        }
    }

    /// The days any trail has files for, newest first.
    pub async fn days(&self, trails: &[String]) -> anyhow::Result<Vec<Date>> {
        let mut days = BTreeSet::new();
        for trail in trails {
            for year in self.folders(trail).await? {
                for month in self.folders(&year).await? {
                    for day in self.folders(&month).await? {
                        if let Some(date) = date_of_folder(&day) {
                            days.insert(date);
                        }
                    }
                }
            }
        }
        Ok(days.into_iter().rev().collect())
    }

    /// Every file of `day` in every trail, newest first.
    async fn files_of(&self, trails: &[String], day: Date) -> anyhow::Result<Vec<String>> {
        let mut files = Vec::new();
        for trail in trails {
            let prefix = format!(
                "{trail}{:04}/{:02}/{:02}/",
                day.year(),
                u8::from(day.month()),
                day.day()
            );
            let mut after: Option<String> = None;
            loop {
                let keys = self.logs.list_keys(&prefix, after.as_deref(), 1000).await?;
                let full = keys.len() == 1000;
                after = keys.last().cloned();
                files.extend(keys);
                if !full {
                    break;
                }
            }
        }
        let mut dated: Vec<(OffsetDateTime, String)> = files
            .into_iter()
            .filter_map(|key| {
                let time = parse_trail_object_key(&key).ok()?.time;
                Some((time, key))
            })
            .collect();
        dated.sort_by(|a, b| b.cmp(a));
        Ok(dated.into_iter().map(|(_, key)| key).collect())
    }

    /// A file's records, newest first.
    async fn records(&self, key: &str) -> anyhow::Result<Option<Vec<TrailRecord>>> {
        let Some(object) = self.logs.get(key).await? else {
            return Ok(None);
        };
        let mut records = match read_trail_file(object.body.as_ref()) {
            Ok(records) => records,
            Err(_) => return Ok(None),
        };
        records.sort_by_key(|record| std::cmp::Reverse(record.event_time));
        Ok(Some(records))
    }
}

/// The date a day folder (`…/YYYY/MM/DD/`) names.
fn date_of_folder(folder: &str) -> Option<Date> {
    let mut parts = folder.trim_end_matches('/').rsplit('/');
    let day: u8 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let year: i32 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// Whether a record is a data event (the rest come through lookups).
fn is_data_event(record: &TrailRecord) -> bool {
    record.management_event == Some(false)
        || record
            .event_category
            .as_deref()
            .is_some_and(|category| category.eq_ignore_ascii_case("Data"))
}

#[async_trait]
impl EventStream for TrailFileStream {
    fn name(&self) -> &'static str {
        "cloudtrail_data"
    }

    async fn page(
        &self,
        filters: &Filters,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<StreamPage, ApiError> {
        let place: Option<Place> = match cursor {
            Some(text) => Some(serde_json::from_str(text).map_err(|_| {
                ApiError::BadRequest(
                    "the trail file cursor is not one this listing gave out".into(),
                )
            })?),
            None => None,
        };

        // The days to read, from the cursor's (or the range's end) back.
        let trails = self.trails().await?;
        let start_day = match &place {
            Some(place) => parse_trail_object_key(&place.file)
                .map(|key| key.time.date())
                .map_err(|_| {
                    ApiError::BadRequest("the trail file cursor names no trail file".into())
                })?,
            None => filters
                .to
                .map_or_else(|| Date::MAX, |to| (to + Duration::days(1)).date()),
        };
        let floor_day = filters.from.map(|from| from.date());
        let days: Vec<Date> = self
            .days(&trails)
            .await?
            .into_iter()
            .filter(|day| *day <= start_day && floor_day.is_none_or(|floor| *day >= floor))
            .collect();

        // Files newest first, after the cursor's file.
        let mut page = StreamPage::default();
        let mut files_read = 0;
        let mut last_place: Option<Place> = place.clone();
        for day in days.iter().take(DAYS_PER_PAGE) {
            let mut files = self.files_of(&trails, *day).await?;
            if let Some(place) = &place
                && let Some(at) = files.iter().position(|file| file == &place.file)
            {
                files.drain(..at);
            }
            for file in files {
                let delivered = parse_trail_object_key(&file).map(|key| key.time).ok();
                if let (Some(from), Some(delivered)) = (filters.from, delivered)
                    && delivered < from
                {
                    page.done = true;
                    page.next = last_place.as_ref().map(encode);
                    return Ok(page);
                }
                if files_read == FILES_PER_PAGE {
                    page.next = last_place.as_ref().map(encode);
                    return Ok(page);
                }
                files_read += 1;

                // Skip what an earlier page read of the cursor's file.
                let skip = match &place {
                    Some(place) if place.file == file => place.read,
                    _ => 0,
                };
                let Some(records) = self.records(&file).await? else {
                    page.malformed_lines += 1;
                    page.notes
                        .push(format!("{file} is not a readable trail file"));
                    last_place = Some(Place {
                        file,
                        read: usize::MAX,
                    });
                    continue;
                };
                let total = records.len();
                for (index, record) in records.into_iter().enumerate().skip(skip) {
                    page.scanned_to = Some(record.event_time);
                    let after = Place {
                        file: file.clone(),
                        read: index + 1,
                    };
                    if !is_data_event(&record) {
                        continue;
                    }
                    let event = Event {
                        time: record.event_time,
                        row: row_of(&record, "data"),
                        after: encode(&after),
                    };
                    if page.offer(filters, event, limit) {
                        return Ok(page);
                    }
                }
                last_place = Some(Place { file, read: total });
            }
        }

        // Every day was read, or the day budget ran out.
        page.done = days.len() <= DAYS_PER_PAGE;
        page.next = last_place.as_ref().map(encode);
        Ok(page)
    }
}

fn encode(place: &Place) -> String {
    serde_json::to_string(place).unwrap_or_default()
}
