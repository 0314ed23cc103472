//! Which stretch of time each source covers and what it lacks: the
//! dashboard's honest statement of what it can and cannot show.

use std::sync::Arc;
use std::time::Instant;

use coffer_app::audit::api::{Coverage, Source};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use super::access_logs::{AccessLogStream, LOG_PREFIX};
use super::cloudtrail::LookupStream;
use super::portal::PortalStream;
use super::rfc3339;
use super::trail_files::TrailFileStream;

/// How far back `LookupEvents` reaches.
const LOOKUP_DAYS: i64 = 90;

/// How long the newest management event found stays good for the strip.
/// `LookupEvents` allows two calls a second per account, and the strip
/// is on every view of the page; events arrive minutes late anyway.
const PROBE_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// When the newest management event was last looked up, and its time.
type ProbeCache = Arc<tokio::sync::Mutex<Option<(Instant, Option<OffsetDateTime>)>>>;

/// Reads each source's reach.
#[derive(Clone)]
pub struct CoverageReader {
    portal: Arc<PortalStream>,
    lookup: Option<Arc<LookupStream>>,
    trail_files: Arc<TrailFileStream>,
    access_logs: Arc<AccessLogStream>,
    /// Seconds between the embedded endpoint's log deliveries, when it is
    /// the one delivering.
    embedded_flush_secs: Option<u64>,
    newest_management_event: ProbeCache,
}

impl CoverageReader {
    pub fn new(
        portal: Arc<PortalStream>,
        lookup: Option<Arc<LookupStream>>,
        trail_files: Arc<TrailFileStream>,
        access_logs: Arc<AccessLogStream>,
        embedded_flush_secs: Option<u64>,
    ) -> CoverageReader {
        CoverageReader {
            portal,
            lookup,
            trail_files,
            access_logs,
            embedded_flush_secs,
            newest_management_event: ProbeCache::default(),
        }
    }

    /// One row per source; a source that cannot be read says so rather
    /// than failing the page.
    pub async fn coverage(&self, now: OffsetDateTime) -> Vec<Coverage> {
        let (portal, management, data, logs) = futures::join!(
            self.portal_row(),
            self.management_row(now),
            self.data_row(),
            self.access_log_row(now),
        );
        vec![portal, management, data, logs]
    }

    async fn portal_row(&self) -> Coverage {
        let trail = self.portal.trail();
        let span = async {
            let first = trail.first_record().await?;
            let newest = trail.page(None, 1).await?;
            anyhow::Ok((first, newest.into_iter().next()))
        };
        let (from, to, state, note) = match span.await {
            Ok((Some(first), Some(newest))) => (
                Some(rfc3339(first.time)),
                Some(rfc3339(newest.time)),
                "complete",
                format!(
                    "Every portal action from record 1 to record {}; each is stored before the \
                     action it records is allowed. Verify to prove none was changed.",
                    newest.seq
                ),
            ),
            Ok(_) => (None, None, "missing", "No record yet.".to_owned()),
            Err(error) => unreadable(&error),
        };
        Coverage {
            source: Source::Portal,
            label: "portal trail".into(),
            from,
            to,
            state: state.into(),
            note,
        }
    }

    async fn management_row(&self, now: OffsetDateTime) -> Coverage {
        let row = |from, to, state: &str, note: String| Coverage {
            source: Source::Cloudtrail,
            label: "management events".into(),
            from,
            to,
            state: state.into(),
            note,
        };
        let Some(lookup) = &self.lookup else {
            return row(
                None,
                None,
                "missing",
                "CloudTrail is not read (--cloudtrail off).".into(),
            );
        };
        match self.newest_management_event(lookup).await {
            Ok(newest) => row(
                Some(rfc3339(now - Duration::days(LOOKUP_DAYS))),
                newest.map(rfc3339),
                "partial",
                "LookupEvents reaches back 90 days; events appear about 5 to 15 minutes after \
                 the call. Older events are only in the trail's files."
                    .into(),
            ),
            Err(error) => row(
                None,
                None,
                "missing",
                format!("CloudTrail could not be read: {error}"),
            ),
        }
    }

    /// The newest management event's time, looked up at most once a
    /// [`PROBE_FRESH_FOR`]; views arriving meanwhile share one lookup.
    async fn newest_management_event(
        &self,
        lookup: &LookupStream,
    ) -> Result<Option<OffsetDateTime>, String> {
        let mut cached = self.newest_management_event.lock().await;
        if let Some((at, newest)) = *cached
            && at.elapsed() < PROBE_FRESH_FOR
        {
            return Ok(newest);
        }

        // Only an answer is kept: a failure is tried again on the next view.
        let newest = lookup.probe().await?;
        *cached = Some((Instant::now(), newest));
        Ok(newest)
    }

    async fn data_row(&self) -> Coverage {
        let span = async {
            let trails = self.trail_files.trails().await?;
            let days = self.trail_files.days(&trails).await?;
            anyhow::Ok((trails.len(), days.last().copied(), days.first().copied()))
        };
        let (from, to, state, note) = match span.await {
            Ok((_, Some(oldest), Some(newest))) => (
                Some(rfc3339(oldest.midnight().assume_utc())),
                Some(rfc3339(
                    newest.next_day().unwrap_or(newest).midnight().assume_utc()
                        - Duration::milliseconds(1),
                )),
                "partial",
                "From the trail's log files, delivered about every 5 minutes. Only buckets \
                 whose data events the trail records appear; days without a file have none."
                    .to_owned(),
            ),
            Ok(_) => (
                None,
                None,
                "missing",
                "No trail log file in the log bucket: S3 data events are off, or none was \
                 delivered yet."
                    .to_owned(),
            ),
            Err(error) => unreadable(&error),
        };
        Coverage {
            source: Source::Cloudtrail,
            label: "S3 data events".into(),
            from,
            to,
            state: state.into(),
            note,
        }
    }

    async fn access_log_row(&self, now: OffsetDateTime) -> Coverage {
        let lag = match self.embedded_flush_secs {
            Some(secs) => format!(
                "The embedded endpoint delivers its log every {secs} s; requests since the \
                 last delivery are not here yet."
            ),
            None => "S3 delivers access logs best effort, usually within a few hours; a \
                     record can be late and, rarely, missing."
                .to_owned(),
        };
        let (from, to, state, note) = match self.access_logs.span(now.date()).await {
            Ok(Some((oldest, newest))) => (
                delivery_time(&oldest).map(rfc3339),
                delivery_time(&newest).map(rfc3339),
                "partial",
                lag,
            ),
            Ok(None) => (
                None,
                None,
                "missing",
                format!("No access log object under {LOG_PREFIX} yet. {lag}"),
            ),
            Err(error) => unreadable(&error),
        };
        Coverage {
            source: Source::S3,
            label: "server access logs".into(),
            from,
            to,
            state: state.into(),
            note,
        }
    }
}

/// The row of a source that could not be read.
fn unreadable(error: &anyhow::Error) -> (Option<String>, Option<String>, &'static str, String) {
    tracing::warn!(error = %format!("{error:#}"), "could not read a source's coverage");
    (
        None,
        None,
        "missing",
        "This source could not be read just now.".to_owned(),
    )
}

/// When an access log object was delivered, from its name.
fn delivery_time(key: &str) -> Option<OffsetDateTime> {
    let stamp = key.strip_prefix(LOG_PREFIX)?.get(..19)?;
    let format = time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]-[second]");
    PrimitiveDateTime::parse(stamp, &format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn delivery_times_come_from_object_names() {
        assert_eq!(
            delivery_time("s3-access/2026-12-04-10-20-30-0123456789ABCDEF"),
            Some(datetime!(2026-12-04 10:20:30 UTC))
        );
        assert_eq!(delivery_time("s3-access/garbage"), None);
        assert_eq!(delivery_time("elsewhere/2026-12-04-10-20-30-X"), None);
    }
}
