//! S3 server access logs from the log bucket's `s3-access/` prefix, where
//! S3 (or the embedded endpoint) delivers objects named
//! `s3-access/YYYY-MM-DD-HH-MM-SS-<unique>` by delivery time.
//!
//! Objects are read newest first, day by day, and each object's lines
//! newest first. S3 delivers best effort: an object may arrive hours after
//! its lines and objects may overlap in time, so rows are in delivery
//! order, which is close to time order but not exactly it. Lines that do
//! not parse are counted and named in the page's notes, never fatal.
//!
//! A presigned request (`QueryString`) carries the `x-coffer-request` id
//! Coffer put into the URL; its row is joined to the portal record of the
//! person the URL was minted for, since S3 itself names only the signer.

use std::collections::HashMap;

use async_trait::async_trait;
use coffer_app::audit::api::{AuditEventRow, PortalJoin, Source};
use coffer_logs::access_log::{AccessLogLine, parse_line, redact_query};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};

use super::cloudtrail::outcome_name;
use super::{Event, EventStream, Filters, StreamPage, model_of_key, rfc3339};
use crate::audit::AuditTrail;
use crate::error::ApiError;
use crate::storage::Storage;

/// Where access log objects live in the log bucket.
pub const LOG_PREFIX: &str = "s3-access/";

/// Objects one page reads at most.
const OBJECTS_PER_PAGE: usize = 50;

/// Days one page looks through at most.
const DAYS_PER_PAGE: usize = 62;

/// Malformed lines one page names in its notes (all are counted).
const NAMED_ERRORS: usize = 5;

/// The query parameter Coffer adds to every URL it presigns for a person.
const REQUEST_TAG: &str = "x-coffer-request";

/// Access log lines, joined to the portal trail.
#[derive(Clone, Debug)]
pub struct AccessLogStream {
    logs: Storage,
    trail: AuditTrail,
    /// The artifact bucket: only its keys name models.
    bucket: String,
}

/// Where a listing stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
enum Place {
    /// Inside an object, with this many of its lines (newest first) read.
    Object { key: String, read: usize },
    /// Every object of days after this one was read.
    Day { day: String },
}

impl AccessLogStream {
    pub fn new(logs: Storage, trail: AuditTrail, bucket: String) -> AccessLogStream {
        AccessLogStream {
            logs,
            trail,
            bucket,
        }
    }

    /// The oldest and newest object keys, for the coverage strip; `None`
    /// when no log was delivered yet. The newest is looked for day by day
    /// back from today.
    pub async fn span(&self, today: Date) -> anyhow::Result<Option<(String, String)>> {
        let oldest = self.logs.list_keys(LOG_PREFIX, None, 1).await?;
        let Some(oldest) = oldest.into_iter().next() else {
            return Ok(None);
        };
        let first_day = day_of_key(&oldest).unwrap_or(today);
        let mut day = today;
        while day >= first_day {
            if let Some(newest) = self.objects_of(day).await?.into_iter().next() {
                return Ok(Some((oldest, newest)));
            }
            day = day.previous_day().unwrap_or(Date::MIN);
        }
        Ok(Some((oldest.clone(), oldest)))
    }

    /// Every object delivered on `day`, newest first.
    async fn objects_of(&self, day: Date) -> anyhow::Result<Vec<String>> {
        let prefix = format!("{LOG_PREFIX}{}-", day_text(day));
        let mut keys = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch = self.logs.list_keys(&prefix, after.as_deref(), 1000).await?;
            let full = batch.len() == 1000;
            after = batch.last().cloned();
            keys.extend(batch);
            if !full {
                break;
            }
        }
        keys.reverse();
        Ok(keys)
    }

    /// The portal record a presigned request was minted for.
    async fn join(&self, request_id: &str) -> anyhow::Result<Option<PortalJoin>> {
        let records = self.trail.records_of_request(request_id).await?;
        Ok(records.last().map(|record| PortalJoin {
            seq: record.seq,
            actor: record.event.actor.clone(),
            action: record.event.action.as_str().to_owned(),
        }))
    }
}

/// `YYYY-MM-DD` of a day.
fn day_text(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// The delivery day an object key names.
fn day_of_key(key: &str) -> Option<Date> {
    let stamp = key.strip_prefix(LOG_PREFIX)?.get(..10)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(stamp, &format).ok()
}

#[async_trait]
impl EventStream for AccessLogStream {
    fn name(&self) -> &'static str {
        "s3"
    }

    async fn page(
        &self,
        filters: &Filters,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<StreamPage, ApiError> {
        let bad_cursor = || {
            ApiError::BadRequest("the access log cursor is not one this listing gave out".into())
        };
        let place: Option<Place> = match cursor {
            Some(text) => Some(serde_json::from_str(text).map_err(|_| bad_cursor())?),
            None => None,
        };

        // The day to start from: the cursor's, else a day after the range
        // (logs arrive late), else today.
        let today = OffsetDateTime::now_utc().date();
        let mut day = match &place {
            Some(Place::Object { key, .. }) => day_of_key(key).ok_or_else(bad_cursor)?,
            Some(Place::Day { day }) => {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                Date::parse(day, &format)
                    .map_err(|_| bad_cursor())?
                    .previous_day()
                    .unwrap_or(Date::MIN)
            }
            None => filters
                .to
                .map_or(today, |to| (to + Duration::days(1)).date().min(today)),
        };

        // Logs start at the oldest object, or at `from`.
        let mut page = StreamPage::default();
        let oldest = self.logs.list_keys(LOG_PREFIX, None, 1).await?;
        let Some(first_day) = oldest.first().and_then(|key| day_of_key(key)) else {
            page.done = true;
            return Ok(page);
        };
        let floor = filters
            .from
            .map_or(first_day, |from| from.date().max(first_day));

        let mut joins: HashMap<String, Option<PortalJoin>> = HashMap::new();
        let mut objects_read = 0;
        let mut last = place.clone();
        for _ in 0..DAYS_PER_PAGE {
            if day < floor {
                page.done = true;
                break;
            }
            let mut objects = self.objects_of(day).await?;
            if let Some(Place::Object { key, .. }) = &place
                && let Some(at) = objects.iter().position(|object| object == key)
            {
                objects.drain(..at);
            }
            for key in objects {
                if objects_read == OBJECTS_PER_PAGE {
                    page.next = last.as_ref().map(encode);
                    return Ok(page);
                }
                objects_read += 1;
                let skip = match &place {
                    Some(Place::Object { key: at, read }) if *at == key => *read,
                    _ => 0,
                };

                // The object's lines, newest (last) first.
                let Some(object) = self.logs.get(&key).await? else {
                    continue;
                };
                let text = String::from_utf8_lossy(&object.body);
                let lines: Vec<(usize, &str)> = text
                    .lines()
                    .enumerate()
                    .filter(|(_, line)| !line.trim().is_empty())
                    .collect();
                let total = lines.len();
                for (index, (number, line)) in lines.into_iter().rev().enumerate().skip(skip) {
                    let after = Place::Object {
                        key: key.clone(),
                        read: index + 1,
                    };
                    let parsed = match parse_line(line) {
                        Ok(parsed) => parsed,
                        Err(error) => {
                            page.malformed_lines += 1;
                            if page.notes.len() < NAMED_ERRORS {
                                page.notes
                                    .push(format!("{key} line {}: {error}", number + 1));
                            }
                            continue;
                        }
                    };
                    page.scanned_to = Some(parsed.time);
                    let join = match presigned_tag(&parsed) {
                        Some(tag) => match joins.get(&tag) {
                            Some(join) => join.clone(),
                            None => {
                                let join = self.join(&tag).await?;
                                joins.insert(tag, join.clone());
                                join
                            }
                        },
                        None => None,
                    };
                    let event = Event {
                        time: parsed.time,
                        row: row_of(&parsed, join, &self.bucket),
                        after: encode(&after),
                    };
                    if page.offer(filters, event, limit) {
                        return Ok(page);
                    }
                }
                last = Some(Place::Object { key, read: total });
            }

            // On to the day before.
            last = Some(Place::Day { day: day_text(day) });
            day = match day.previous_day() {
                Some(previous) => previous,
                None => {
                    page.done = true;
                    break;
                }
            };
        }
        page.done |= day < floor;
        page.next = last.as_ref().map(encode);
        Ok(page)
    }
}

fn encode(place: &Place) -> String {
    serde_json::to_string(place).unwrap_or_default()
}

/// The `x-coffer-request` id of a presigned request.
fn presigned_tag(line: &AccessLogLine<'_>) -> Option<String> {
    if !line.is_presigned() {
        return None;
    }
    line.query_param(REQUEST_TAG)
        .map(|tag| tag.into_owned())
        .filter(|tag| !tag.is_empty())
}

/// A log line as a dashboard row; values stay as the log wrote them (the
/// page escapes them).
pub fn row_of(line: &AccessLogLine<'_>, portal: Option<PortalJoin>, bucket: &str) -> AuditEventRow {
    let key = line.key_decoded().map(|key| key.into_owned());
    let in_artifacts = line.bucket == Some(bucket);
    let (model, version) = key
        .as_deref()
        .filter(|_| in_artifacts)
        .and_then(model_of_key)
        .map_or((None, None), |(model, version)| (Some(model), version));

    let mut fields = std::collections::BTreeMap::new();
    let optional = [
        ("bucket", line.bucket.map(str::to_owned)),
        ("key", key),
        ("status", line.http_status.map(|status| status.to_string())),
        ("remote_ip", line.remote_ip.map(str::to_owned)),
        (
            "user_agent",
            line.user_agent_unescaped().map(|agent| agent.into_owned()),
        ),
        (
            "referer",
            line.referer_unescaped().map(|referer| referer.into_owned()),
        ),
        (
            "authentication",
            line.authentication_type.map(str::to_owned),
        ),
        ("bytes_sent", line.bytes_sent.map(|bytes| bytes.to_string())),
        ("object_size", line.object_size.map(|size| size.to_string())),
        // A logged presigned URL may still carry its signature: never shown.
        (
            "request",
            line.request_uri_unescaped()
                .map(|uri| redact_query(&uri).into_owned()),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    }
    AuditEventRow {
        source: Source::S3,
        time: rfc3339(line.time),
        actor: line.requester.unwrap_or("anonymous").to_owned(),
        action: line.operation.unwrap_or("-").to_owned(),
        outcome: outcome_name(line.outcome()).to_owned(),
        model,
        version,
        request_id: line.request_id.map(str::to_owned),
        detail: line.error_code.map(str::to_owned),
        fields,
        portal,
        ..AuditEventRow::default()
    }
}
