//! Reading whole log objects: every line parsed, malformed ones counted and
//! reported, never fatal. S3 delivers logs best-effort and AWS adds fields
//! over time, so one bad line must not hide the thousands around it.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use memchr::memchr_iter;

use super::entry::AccessLogEntry;
use super::parse::{AccessLogLine, ParseError, parse_line};

/// How many parse errors a [`Tally`] keeps; the rest are only counted.
pub const MAX_REPORTED_ERRORS: usize = 8;

/// Decompressed bytes read from a log object at a time.
const READ_BUFFER: usize = 256 * 1024;

/// What reading a log object found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Lines that parsed.
    pub parsed: u64,
    /// Lines that did not; blank lines are neither.
    pub malformed: u64,
    /// The first [`MAX_REPORTED_ERRORS`] malformed lines: line number,
    /// counting from 1, and why.
    pub first_errors: Vec<(usize, ParseError)>,
}

impl Tally {
    fn record(&mut self, line_no: usize, result: &Result<AccessLogLine<'_>, ParseError>) {
        match result {
            Ok(_) => self.parsed += 1,
            Err(err) => {
                self.malformed += 1;
                if self.first_errors.len() < MAX_REPORTED_ERRORS {
                    self.first_errors.push((line_no, err.clone()));
                }
            }
        }
    }
}

/// Every non-blank line of a log object's text, with its line number
/// (counting from 1, blank lines included) and the parse result.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, Result<AccessLogLine<'_>, ParseError>)> {
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !is_blank(line.as_bytes()))
        .map(|(index, line)| (index + 1, parse_line(line)))
}

/// Calls `each` with every line of a log that parses, and counts those that
/// do not.
///
/// Lines are parsed in place in the reader's buffer: nothing is allocated
/// per line unless a line straddles two buffer fills or is not UTF-8 (then
/// it is read lossily). Only an I/O error ends the read early.
pub fn read_lines<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(usize, AccessLogLine<'_>),
) -> io::Result<Tally> {
    let mut tally = Tally::default();
    let mut line_no = 0;
    let mut handle = |bytes: &[u8]| {
        line_no += 1;
        if is_blank(bytes) {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let result = parse_line(&text);
        tally.record(line_no, &result);
        if let Ok(line) = result {
            each(line_no, line);
        }
    };

    // A line cut by the end of the buffer waits in `partial` for its rest.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        let mut start = 0;
        for end in memchr_iter(b'\n', buf) {
            if partial.is_empty() {
                handle(&buf[start..end]);
            } else {
                partial.extend_from_slice(&buf[start..end]);
                handle(&partial);
                partial.clear();
            }
            start = end + 1;
        }
        partial.extend_from_slice(&buf[start..]);
        let used = buf.len();
        reader.consume(used);
    }

    // The last line need not end with a newline.
    if !partial.is_empty() {
        handle(&partial);
    }
    Ok(tally)
}

/// [`read_lines`] over a gzipped log object, which may be several gzip
/// members one after another.
pub fn read_gzipped(
    gz: impl Read,
    each: impl FnMut(usize, AccessLogLine<'_>),
) -> io::Result<Tally> {
    read_lines(
        BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(gz)),
        each,
    )
}

/// The parsed lines of a log, owned, for callers that keep them.
pub fn entries<R: BufRead>(reader: R) -> Entries<R> {
    Entries {
        reader,
        buf: Vec::new(),
        line_no: 0,
        tally: Tally::default(),
    }
}

/// The iterator [`entries`] returns: `(line number, entry)` for each line
/// that parses, malformed lines counted in [`Entries::tally`].
#[derive(Debug)]
pub struct Entries<R> {
    reader: R,
    buf: Vec<u8>,
    line_no: usize,
    tally: Tally,
}

impl<R> Entries<R> {
    /// What has been read so far; complete once the iterator is done.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }
}

impl<R: BufRead> Iterator for Entries<R> {
    type Item = io::Result<(usize, AccessLogEntry)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // One line at a time, its buffer reused.
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Some(Err(err)),
            }
            self.line_no += 1;
            if is_blank(&self.buf) {
                continue;
            }

            // Malformed lines are counted and skipped.
            let text: Cow<'_, str> = String::from_utf8_lossy(&self.buf);
            let result = parse_line(&text);
            self.tally.record(self.line_no, &result);
            if let Ok(line) = result {
                return Some(Ok((self.line_no, line.to_entry())));
            }
        }
    }
}

/// A line holding nothing but whitespace (a trailing `\r` included).
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}
