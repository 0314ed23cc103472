//! Arithmetic of a transfer that needs no browser: where a part starts and
//! ends, how long to wait before a retry, and how fast the bytes flow.

use std::collections::VecDeque;

use crate::upload::api::human_size;

/// Tries of one request before the upload stops and says why.
pub const MAX_ATTEMPTS: u32 = 8;

/// The first retry waits this long; each next one twice as long.
const FIRST_BACKOFF_MS: f64 = 500.0;

/// No retry waits longer than this.
const MAX_BACKOFF_MS: f64 = 30_000.0;

/// Byte range `[start, end)` of part `number` (1-based) of a file. Every
/// part but the last has `part_size` bytes; an empty file has one empty
/// part.
pub fn part_bounds(file_size: u64, part_size: u64, number: u32) -> (u64, u64) {
    let start = (u64::from(number.max(1)) - 1).saturating_mul(part_size);
    let start = start.min(file_size);
    (start, start.saturating_add(part_size).min(file_size))
}

/// How long to wait before try `attempt + 1`, after `attempt` failures.
pub fn backoff_ms(attempt: u32) -> f64 {
    let doublings = attempt.saturating_sub(1).min(16) as i32;
    (FIRST_BACKOFF_MS * 2f64.powi(doublings)).min(MAX_BACKOFF_MS)
}

/// Whole percent of `done` in `total`, for a progress bar.
pub fn percent(done: u64, total: u64) -> u8 {
    if total == 0 {
        return 0;
    }
    ((u128::from(done.min(total)) * 100 / u128::from(total)) as u8).min(100)
}

/// How much of the recent past the speed averages over.
const WINDOW_MS: f64 = 10_000.0;

/// Bytes sent over the last few seconds, for the speed and the time left.
#[derive(Clone, Debug, Default)]
pub struct Throughput {
    /// (time in ms, bytes sent so far), oldest first.
    samples: VecDeque<(f64, u64)>,
}

impl Throughput {
    /// Notes that `sent` bytes had gone out by `now_ms`.
    pub fn record(&mut self, now_ms: f64, sent: u64) {
        self.samples.push_back((now_ms, sent));
        // Keep one sample older than the window so the rate spans it whole.
        while self.samples.len() > 2 && self.samples[1].0 < now_ms - WINDOW_MS {
            self.samples.pop_front();
        }
    }

    /// Forgets the past: after a pause the old rate means nothing.
    pub fn restart(&mut self, now_ms: f64, sent: u64) {
        self.samples.clear();
        self.samples.push_back((now_ms, sent));
    }

    /// Bytes per second over the window, once there is something to tell.
    pub fn rate(&self, now_ms: f64) -> Option<f64> {
        let (first_ms, first_sent) = *self.samples.front()?;
        let (_, last_sent) = *self.samples.back()?;
        let elapsed = (now_ms - first_ms) / 1000.0;
        (elapsed > 0.5 && last_sent > first_sent).then(|| (last_sent - first_sent) as f64 / elapsed)
    }
}

/// `12.5 MiB/s`.
pub fn human_rate(bytes_per_second: f64) -> String {
    format!("{}/s", human_size(bytes_per_second.max(0.0) as u64))
}

/// A duration as people say it: `8 s`, `3 min 05 s`, `2 h 10 min`.
pub fn human_duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).ceil() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {:02} s", seconds / 60, seconds % 60),
        _ => format!("{} h {:02} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// An RFC 3339 UTC time to the minute: `2026-12-03 10:00 UTC`. Anything
/// else is shown as it came.
pub fn human_time(rfc3339: &str) -> String {
    let (Some(date), Some(time)) = (rfc3339.get(..10), rfc3339.get(11..16)) else {
        return rfc3339.to_owned();
    };
    if rfc3339.ends_with('Z') && rfc3339.as_bytes().get(10) == Some(&b'T') {
        format!("{date} {time} UTC")
    } else {
        rfc3339.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn parts_cover_the_file_exactly() {
        let size = 20 * MIB + 5;
        assert_eq!(part_bounds(size, 8 * MIB, 1), (0, 8 * MIB));
        assert_eq!(part_bounds(size, 8 * MIB, 3), (16 * MIB, size));
        assert_eq!(part_bounds(0, 8 * MIB, 1), (0, 0));
    }

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let waits: Vec<f64> = (1..=8).map(backoff_ms).collect();
        assert_eq!(waits[..4], [500.0, 1000.0, 2000.0, 4000.0]);
        assert_eq!(waits[7], 30_000.0);
    }

    #[test]
    fn percent_is_whole_and_bounded() {
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 3), 100);
        assert_eq!(percent(u64::MAX - 1, u64::MAX), 99);
    }

    #[test]
    fn rate_spans_the_recent_window() {
        let mut throughput = Throughput::default();
        throughput.restart(0.0, 0);
        assert_eq!(throughput.rate(100.0), None);
        throughput.record(1_000.0, 10 * MIB);
        throughput.record(2_000.0, 20 * MIB);
        assert_eq!(throughput.rate(2_000.0), Some(10.0 * MIB as f64));
        throughput.record(30_000.0, 20 * MIB);
        throughput.record(31_000.0, 30 * MIB);
        assert!(
            throughput
                .rate(31_000.0)
                .is_some_and(|rate| rate < 10.0 * MIB as f64)
        );
    }

    #[test]
    fn times_read_to_the_minute() {
        assert_eq!(
            human_time("2026-12-03T16:36:38.74Z"),
            "2026-12-03 16:36 UTC"
        );
        assert_eq!(
            human_time("2026-12-03T16:36:38+01:00"),
            "2026-12-03T16:36:38+01:00"
        );
        assert_eq!(human_time("soon"), "soon");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(7.2), "8 s");
        assert_eq!(human_duration(185.0), "3 min 05 s");
        assert_eq!(human_duration(7800.0), "2 h 10 min");
        assert_eq!(human_rate(1536.0), "1.5 KiB/s");
    }
}
