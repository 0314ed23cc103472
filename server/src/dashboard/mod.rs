//! The compliance dashboard: Coffer's trail, CloudTrail and S3's access
//! logs as one kind of row, paged newest first, filtered, counted per day
//! and exported. Everything here reads; nothing writes but the index sweep.
//!
//! Each source is one or more [`EventStream`]s, each of which pages newest
//! first with a cursor of its own. A page of a source (or of the combined
//! timeline) asks each of its streams for a page, merges them by time and
//! keeps what is certainly in order: an event is shown only when no
//! stream could still hold a newer one past what it read. The page's
//! cursor is every stream's own cursor after what was shown, so nothing is
//! shown twice or skipped, however the streams interleave.

pub mod access_logs;
pub mod cloudtrail;
pub mod coverage;
pub mod export;
pub mod portal;
pub mod trail_files;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_app::audit::api::{
    AuditEventPage, AuditEventRow, AuditQuery, AuditView, DayCount, Source,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};

use crate::error::ApiError;

/// Events a page holds when the query names no limit.
pub const DEFAULT_LIMIT: usize = 50;

/// The most events one page may hold.
pub const MAX_LIMIT: usize = 200;

/// What every source filters on. Portal actions and outcomes are names
/// here; each stream maps them onto what it reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub model: Option<String>,
    pub outcome: Option<String>,
}

impl Filters {
    /// Whether a row passes the filters every stream can check on its
    /// rows; streams narrow their reads first where they can.
    pub fn matches(&self, row: &AuditEventRow, time: OffsetDateTime) -> bool {
        let joined_actor = row.portal.as_ref().map(|join| join.actor.as_str());
        self.from.is_none_or(|from| time >= from)
            && self.to.is_none_or(|to| time <= to)
            && self
                .actor
                .as_deref()
                .is_none_or(|actor| row.actor == actor || joined_actor == Some(actor))
            && self
                .action
                .as_deref()
                .is_none_or(|action| row.action == action)
            && self
                .model
                .as_deref()
                .is_none_or(|model| row.model.as_deref() == Some(model))
            && self
                .outcome
                .as_deref()
                .is_none_or(|outcome| row.outcome == outcome)
    }
}

/// A query checked and parsed.
#[derive(Clone, Debug)]
pub struct Request {
    pub source: Source,
    pub filters: Filters,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

/// Checks a query's fields; a bad one is the caller's to fix.
pub fn parse_query(query: &AuditQuery) -> Result<Request, ApiError> {
    let from = parse_time(&query.from, false).map_err(|error| bad("from", &error))?;
    let to = parse_time(&query.to, true).map_err(|error| bad("to", &error))?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::BadRequest("`from` is after `to`".into()));
    }
    let outcome = non_empty(&query.outcome);
    if let Some(outcome) = &outcome
        && !matches!(outcome.as_str(), "success" | "failure" | "denied")
    {
        return Err(ApiError::BadRequest(
            "`outcome` is one of success, failure and denied".into(),
        ));
    }
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(limit) if (1..=MAX_LIMIT as u32).contains(&limit) => limit as usize,
        Some(_) => {
            return Err(ApiError::BadRequest(format!(
                "`limit` is from 1 to {MAX_LIMIT}"
            )));
        }
    };
    let cursor = match non_empty(&query.cursor) {
        Some(text) => Some(Cursor::decode(&text).ok_or_else(|| {
            ApiError::BadRequest("the cursor is not one this listing gave out".into())
        })?),
        None => None,
    };
    for (name, value) in [
        ("actor", &query.actor),
        ("action", &query.action),
        ("model", &query.model),
    ] {
        if value.chars().count() > 256 || value.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "`{name}` is at most 256 characters without control characters"
            )));
        }
    }
    Ok(Request {
        source: query.source,
        filters: Filters {
            from,
            to,
            actor: non_empty(&query.actor),
            action: non_empty(&query.action),
            model: non_empty(&query.model),
            outcome,
        },
        limit,
        cursor,
    })
}

fn bad(field: &str, error: &str) -> ApiError {
    ApiError::BadRequest(format!("`{field}` {error}"))
}

fn non_empty(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// An RFC 3339 time, or a date standing for its first (or, with `end`,
/// its last) millisecond in UTC.
pub fn parse_time(value: &str, end: bool) -> Result<Option<OffsetDateTime>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(time) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(Some(time));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(value, &format)
        .map_err(|_| "is an RFC 3339 time or a date (2026-12-01)".to_owned())?;
    let at = if end {
        Time::from_hms_milli(23, 59, 59, 999).unwrap_or(Time::MIDNIGHT)
    } else {
        Time::MIDNIGHT
    };
    Ok(Some(date.with_time(at).assume_utc()))
}

/// RFC 3339 in UTC, as rows carry times.
pub fn rfc3339(time: OffsetDateTime) -> String {
    time.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// One stream's place in a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The stream's own cursor; `None` before its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Nothing follows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

/// A page's cursor: every stream's place, by stream name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub BTreeMap<String, Position>);

impl Cursor {
    /// The opaque text a page hands out.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A cursor from its text, if it is one.
    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// What one stream found for a page.
#[derive(Debug, Default)]
pub struct StreamPage {
    /// Newest first, each with the stream's cursor after it.
    pub events: Vec<Event>,
    /// The cursor after everything read, matched or not.
    pub next: Option<String>,
    /// Nothing follows `next`.
    pub done: bool,
    /// How far back the stream read: it holds nothing newer than this
    /// beyond `events`.
    pub scanned_to: Option<OffsetDateTime>,
    pub malformed_lines: u64,
    pub notes: Vec<String>,
}

impl StreamPage {
    /// Keeps `event` if it passes `filters`; answers whether the page is
    /// now full, in which case it goes on after `event`.
    pub fn offer(&mut self, filters: &Filters, event: Event, limit: usize) -> bool {
        if !filters.matches(&event.row, event.time) {
            return false;
        }
        self.events.push(event);
        let full = self.events.len() == limit;
        if full {
            self.next = self.events.last().map(|event| event.after.clone());
        }
        full
    }
}

/// A row with the time it sorts by and the cursor after it.
#[derive(Debug, Clone)]
pub struct Event {
    pub row: AuditEventRow,
    pub time: OffsetDateTime,
    pub after: String,
}

/// A source of rows that pages newest first.
#[async_trait]
pub trait EventStream: Send + Sync {
    /// Its name in cursors.
    fn name(&self) -> &'static str;

    /// Up to `limit` rows after `cursor` that pass `filters`.
    async fn page(
        &self,
        filters: &Filters,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<StreamPage, ApiError>;
}

/// The dashboard's sources.
#[derive(Clone)]
pub struct Dashboard {
    portal: Arc<portal::PortalStream>,
    lookup: Option<Arc<cloudtrail::LookupStream>>,
    trail_files: Arc<trail_files::TrailFileStream>,
    access_logs: Arc<access_logs::AccessLogStream>,
    coverage: coverage::CoverageReader,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard over its sources; `embedded_flush_secs` is the
    /// embedded endpoint's log delivery interval, when it delivers them.
    pub fn new(
        portal: portal::PortalStream,
        lookup: Option<cloudtrail::LookupStream>,
        trail_files: trail_files::TrailFileStream,
        access_logs: access_logs::AccessLogStream,
        embedded_flush_secs: Option<u64>,
    ) -> Dashboard {
        let portal = Arc::new(portal);
        let lookup = lookup.map(Arc::new);
        let trail_files = Arc::new(trail_files);
        let access_logs = Arc::new(access_logs);
        let coverage = coverage::CoverageReader::new(
            portal.clone(),
            lookup.clone(),
            trail_files.clone(),
            access_logs.clone(),
            embedded_flush_secs,
        );
        Dashboard {
            portal,
            lookup,
            trail_files,
            access_logs,
            coverage,
        }
    }

    /// The streams a source is made of.
    fn streams(&self, source: Source) -> Vec<Arc<dyn EventStream>> {
        let portal: Arc<dyn EventStream> = self.portal.clone();
        let files: Arc<dyn EventStream> = self.trail_files.clone();
        let logs: Arc<dyn EventStream> = self.access_logs.clone();
        let lookup = self
            .lookup
            .clone()
            .map(|lookup| lookup as Arc<dyn EventStream>);
        match source {
            Source::Portal => vec![portal],
            Source::Cloudtrail => lookup.into_iter().chain([files]).collect(),
            Source::S3 => vec![logs],
            Source::All => [portal]
                .into_iter()
                .chain(lookup)
                .chain([files, logs])
                .collect(),
        }
    }

    /// The coverage strip and the per-day chart.
    pub fn coverage(&self) -> &coverage::CoverageReader {
        &self.coverage
    }

    /// One page of a source, merged from its streams.
    pub async fn page(&self, request: &Request) -> Result<AuditEventPage, ApiError> {
        let streams = self.streams(request.source);
        let cursor = request.cursor.clone().unwrap_or_default();

        // Every stream a cursor knows must belong to this source.
        if cursor
            .0
            .keys()
            .any(|name| !streams.iter().any(|stream| stream.name() == name))
        {
            return Err(ApiError::BadRequest(
                "the cursor belongs to another source".into(),
            ));
        }

        // A page from each stream that is not done. On the combined
        // timeline a source that cannot be read is left out, and the page
        // says so; on its own tab its failure is the answer.
        let combined = request.source == Source::All;
        let fetches = streams.iter().map(|stream| {
            let position = cursor.0.get(stream.name()).cloned().unwrap_or_default();
            async move {
                if position.done {
                    return Ok(None);
                }
                let page = stream
                    .page(&request.filters, position.at.as_deref(), request.limit)
                    .await;
                match page {
                    Ok(page) => Ok(Some(page)),
                    Err(error @ ApiError::BadRequest(_)) => Err(error),
                    Err(error) if combined => {
                        tracing::warn!(dashboard.stream = stream.name(), error = %error, "a source was left out of the timeline");
                        Ok(Some(StreamPage {
                            done: true,
                            notes: vec![format!(
                                "{} is missing from here on: it could not be read ({error}).",
                                stream.name()
                            )],
                            ..StreamPage::default()
                        }))
                    }
                    Err(error) => Err(error),
                }
            }
        });
        let pages = futures::future::try_join_all(fetches).await?;
        Ok(merge(&streams, &cursor, pages, request.limit))
    }

    /// Everything the page shows: the events, the coverage strip and the
    /// events per day.
    pub async fn view(&self, request: &Request) -> Result<AuditView, ApiError> {
        let now = OffsetDateTime::now_utc();
        let (page, coverage, days) = futures::join!(
            self.page(request),
            self.coverage.coverage(now),
            self.days(request, now),
        );
        Ok(AuditView {
            page: page?,
            coverage,
            days: days?,
        })
    }

    /// Events per day over the two weeks the view ends in. The portal
    /// trail without facet filters is counted exactly and cheaply (record
    /// numbers run with time); anything else by reading at most
    /// [`CHART_SCAN`] events, the days where reading stopped marked as
    /// "at least".
    pub async fn days(
        &self,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Vec<DayCount>, ApiError> {
        let end = request.filters.to.map_or(now, |to| to.min(now));
        let last_day = end.date();
        let mut first_day = last_day - time::Duration::days(CHART_DAYS - 1);
        if let Some(from) = request.filters.from {
            first_day = first_day.max(from.date());
        }
        let days: Vec<Date> = std::iter::successors(Some(first_day), |day| day.next_day())
            .take_while(|day| *day <= last_day)
            .collect();

        // The exact count: how many records each day boundary follows.
        let filters = &request.filters;
        let plain = filters.actor.is_none()
            && filters.action.is_none()
            && filters.model.is_none()
            && filters.outcome.is_none();
        if request.source == Source::Portal && plain {
            let trail = self.portal.trail();
            let mut counts = Vec::with_capacity(days.len());
            for day in &days {
                let start = day.midnight().assume_utc();
                let end = start + time::Duration::days(1);
                let before = trail
                    .seq_at(start - time::Duration::milliseconds(1))
                    .await?;
                let through = trail.seq_at(end - time::Duration::milliseconds(1)).await?;
                counts.push(DayCount {
                    day: day.to_string(),
                    count: through.saturating_sub(before),
                    at_least: false,
                });
            }
            return Ok(counts);
        }

        // Otherwise read the window's events, up to a bound.
        let window = Request {
            source: request.source,
            filters: Filters {
                from: Some(first_day.midnight().assume_utc()),
                to: Some(end),
                ..request.filters.clone()
            },
            limit: MAX_LIMIT,
            cursor: None,
        };
        let mut counts: BTreeMap<Date, u64> = days.iter().map(|day| (*day, 0)).collect();
        let mut scanned = 0;
        let mut current = window;
        let mut stopped_at: Option<Date> = None;
        loop {
            let page = self.page(&current).await?;
            for row in &page.events {
                if let Ok(time) = OffsetDateTime::parse(&row.time, &Rfc3339)
                    && let Some(count) = counts.get_mut(&time.date())
                {
                    *count += 1;
                    stopped_at = Some(time.date());
                }
            }
            scanned += page.events.len();
            match page.next_cursor.and_then(|next| Cursor::decode(&next)) {
                Some(next) if scanned < CHART_SCAN => current.cursor = Some(next),
                Some(_) => break,
                None => {
                    stopped_at = None;
                    break;
                }
            }
        }
        Ok(counts
            .into_iter()
            .map(|(day, count)| DayCount {
                day: day.to_string(),
                count,
                at_least: stopped_at.is_some_and(|stopped| day <= stopped),
            })
            .collect())
    }
}

/// Days the chart shows.
const CHART_DAYS: i64 = 14;

/// Events the chart reads at most where it cannot count exactly.
const CHART_SCAN: usize = 1000;

/// The model (and version) an object key of the artifact bucket names:
/// `artifacts/<model>/<version>/…` or `registry/models/<model>/…`.
pub fn model_of_key(key: &str) -> Option<(String, Option<u64>)> {
    if let Some(rest) = key.strip_prefix("artifacts/") {
        let mut parts = rest.split('/');
        let model = parts.next().filter(|model| !model.is_empty())?;
        let version = parts.next().and_then(|version| version.parse().ok());
        return Some((model.to_owned(), version));
    }
    let rest = key.strip_prefix("registry/models/")?;
    let model = rest.split('/').next().filter(|model| !model.is_empty())?;
    Some((model.to_owned(), None))
}

/// Merges stream pages by time, newest first, up to `limit` rows, keeping
/// only rows no stream could still precede.
fn merge(
    streams: &[Arc<dyn EventStream>],
    cursor: &Cursor,
    pages: Vec<Option<StreamPage>>,
    limit: usize,
) -> AuditEventPage {
    // No row older than what any unfinished stream has read may be shown:
    // that stream may hold newer rows just past it. A stream's reach is
    // the oldest time it read, since access logs are only nearly in time
    // order; so the stream that reached least deep always shows its next
    // row, and every page moves on.
    let horizon = pages
        .iter()
        .flatten()
        .filter(|page| !page.done)
        .map(|page| {
            let oldest = page.events.iter().map(|event| event.time).min();
            match (oldest, page.scanned_to) {
                (Some(oldest), Some(scanned)) => oldest.min(scanned),
                (Some(time), None) | (None, Some(time)) => time,
                (None, None) => OffsetDateTime::UNIX_EPOCH,
            }
        })
        .max();

    // Rows by time, newest first; ties keep the streams' order.
    let mut candidates: Vec<(usize, usize, &Event)> = pages
        .iter()
        .enumerate()
        .filter_map(|(stream, page)| page.as_ref().map(|page| (stream, page)))
        .flat_map(|(stream, page)| {
            page.events
                .iter()
                .enumerate()
                .map(move |(index, event)| (stream, index, event))
        })
        .collect();
    candidates.sort_by(|a, b| b.2.time.cmp(&a.2.time).then(a.0.cmp(&b.0)));
    let mut taken = vec![0usize; streams.len()];
    let mut events = Vec::new();
    for (stream, index, event) in candidates {
        if events.len() == limit || horizon.is_some_and(|horizon| event.time < horizon) {
            break;
        }
        // Each stream's rows leave in its own order.
        if index != taken[stream] {
            continue;
        }
        taken[stream] += 1;
        events.push(event.row.clone());
    }

    // Each stream goes on after the last of its rows shown, or after all
    // it read when every row it found was shown.
    let mut next = Cursor::default();
    let mut all_done = true;
    let mut malformed_lines = 0;
    let mut notes = Vec::new();
    for ((stream, page), &shown) in streams.iter().zip(&pages).zip(&taken) {
        let name = stream.name().to_owned();
        let Some(page) = page else {
            next.0.insert(
                name,
                Position {
                    at: None,
                    done: true,
                },
            );
            continue;
        };
        let position = if shown == page.events.len() {
            Position {
                at: page.next.clone(),
                done: page.done,
            }
        } else {
            let at = match shown {
                0 => cursor.0.get(&name).and_then(|position| position.at.clone()),
                n => Some(page.events[n - 1].after.clone()),
            };
            Position { at, done: false }
        };
        all_done &= position.done;
        next.0.insert(name, position);
        malformed_lines += page.malformed_lines;
        notes.extend(page.notes.iter().cloned());
    }
    AuditEventPage {
        events,
        next_cursor: (!all_done).then(|| next.encode()),
        malformed_lines,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// A stream over fixed rows, pageable, for testing the merge.
    struct Fixed {
        name: &'static str,
        times: Vec<OffsetDateTime>,
    }

    #[async_trait]
    impl EventStream for Fixed {
        fn name(&self) -> &'static str {
            self.name
        }

        async fn page(
            &self,
            _: &Filters,
            cursor: Option<&str>,
            limit: usize,
        ) -> Result<StreamPage, ApiError> {
            let start: usize = cursor.map_or(0, |at| at.parse().unwrap_or(0));
            let events: Vec<Event> = self
                .times
                .iter()
                .enumerate()
                .skip(start)
                .take(limit)
                .map(|(index, time)| Event {
                    row: AuditEventRow {
                        actor: format!("{}-{index}", self.name),
                        ..AuditEventRow::default()
                    },
                    time: *time,
                    after: (index + 1).to_string(),
                })
                .collect();
            let end = start + events.len();
            Ok(StreamPage {
                scanned_to: events.last().map(|event| event.time),
                events,
                next: Some(end.to_string()),
                done: end >= self.times.len(),
                ..StreamPage::default()
            })
        }
    }

    async fn all_pages(streams: Vec<Arc<dyn EventStream>>, limit: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor = Cursor::default();
        for _ in 0..100 {
            let fetches = streams.iter().map(|stream| {
                let position = cursor.0.get(stream.name()).cloned().unwrap_or_default();
                let stream = stream.clone();
                async move {
                    if position.done {
                        return None;
                    }
                    let filters = Filters::default();
                    stream
                        .page(&filters, position.at.as_deref(), limit)
                        .await
                        .ok()
                }
            });
            let pages = futures::future::join_all(fetches).await;
            let page = merge(&streams, &cursor, pages, limit);
            seen.extend(page.events.into_iter().map(|row| row.actor));
            match page.next_cursor {
                Some(next) => cursor = Cursor::decode(&next).expect("our own cursor"),
                None => return seen,
            }
        }
        panic!("paging did not end");
    }

    fn minutes(values: &[i64]) -> Vec<OffsetDateTime> {
        values
            .iter()
            .map(|m| datetime!(2026-12-01 12:00 UTC) - time::Duration::minutes(*m))
            .collect()
    }

    #[tokio::test]
    async fn merged_pages_show_every_row_once_newest_first() {
        let a = Arc::new(Fixed {
            name: "a",
            times: minutes(&[0, 1, 2, 10, 11, 12, 13]),
        });
        let b = Arc::new(Fixed {
            name: "b",
            times: minutes(&[3, 4, 5, 6, 7, 30]),
        });
        for limit in [1, 2, 3, 5, 50] {
            let seen = all_pages(vec![a.clone(), b.clone()], limit).await;
            assert_eq!(
                seen,
                [
                    "a-0", "a-1", "a-2", "b-0", "b-1", "b-2", "b-3", "b-4", "a-3", "a-4", "a-5",
                    "a-6", "b-5"
                ],
                "limit {limit}"
            );
        }
    }

    #[tokio::test]
    async fn a_stream_only_nearly_in_time_order_still_pages_to_the_end() {
        // Access logs: objects overlap, so a later row may be newer.
        let logs = Arc::new(Fixed {
            name: "logs",
            times: minutes(&[5, 0, 7, 2, 9, 8, 20]),
        });
        let trail = Arc::new(Fixed {
            name: "trail",
            times: minutes(&[1, 6, 30]),
        });
        for limit in [1, 2, 3, 7, 50] {
            let mut seen = all_pages(vec![logs.clone()], limit).await;
            let expected: Vec<String> = (0..7).map(|index| format!("logs-{index}")).collect();
            assert_eq!(seen, expected, "limit {limit}");

            seen = all_pages(vec![logs.clone(), trail.clone()], limit).await;
            seen.sort();
            let mut expected: Vec<String> = expected;
            expected.extend((0..3).map(|index| format!("trail-{index}")));
            expected.sort();
            assert_eq!(seen, expected, "limit {limit}, merged");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let mut cursor = Cursor::default();
        cursor.0.insert(
            "portal".into(),
            Position {
                at: Some("audit/index/all/x".into()),
                done: false,
            },
        );
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"[1,2]")), None);
    }

    #[test]
    fn dates_stand_for_whole_days_and_bad_times_are_explained() {
        assert_eq!(
            parse_time("2026-12-01", false),
            Ok(Some(datetime!(2026-12-01 0:00 UTC)))
        );
        assert_eq!(
            parse_time("2026-12-01", true),
            Ok(Some(datetime!(2026-12-01 23:59:59.999 UTC)))
        );
        assert_eq!(
            parse_time("2026-12-01T10:00:00+01:00", false),
            Ok(Some(datetime!(2026-12-01 9:00 UTC)))
        );
        assert!(parse_time("yesterday", false).is_err());
        assert_eq!(parse_time("  ", false), Ok(None));
    }

    #[test]
    fn a_query_with_bad_fields_is_refused() {
        let bad = [
            AuditQuery {
                outcome: "maybe".into(),
                ..AuditQuery::default()
            },
            AuditQuery {
                limit: Some(0),
                ..AuditQuery::default()
            },
            AuditQuery {
                from: "2026-12-02".into(),
                to: "2026-12-01".into(),
                ..AuditQuery::default()
            },
            AuditQuery {
                cursor: "%%%".into(),
                ..AuditQuery::default()
            },
            AuditQuery {
                actor: "a\u{7}b".into(),
                ..AuditQuery::default()
            },
        ];
        for query in bad {
            assert!(parse_query(&query).is_err(), "{query:?}");
        }
        let good = parse_query(&AuditQuery {
            actor: " alice ".into(),
            ..AuditQuery::default()
        })
        .expect("a good query");
        assert_eq!(good.filters.actor.as_deref(), Some("alice"));
        assert_eq!(good.limit, DEFAULT_LIMIT);
    }
}
