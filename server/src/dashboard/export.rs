//! Exports of a filtered view as CSV or JSON, streamed: the export walks
//! the same pages the view shows, one at a time, and writes each as it
//! arrives, so no row limit is ever held in memory. A failure part-way
//! ends the stream with an error, which breaks the connection: a client
//! never mistakes a cut-short export for a whole one.

use bytes::Bytes;
use coffer_app::audit::api::AuditEventRow;
use futures::Stream;

use super::{Dashboard, MAX_LIMIT, Request};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// The CSV columns, in order.
pub const COLUMNS: [&str; 14] = [
    "source",
    "time",
    "actor",
    "action",
    "outcome",
    "model",
    "version",
    "path",
    "share_id",
    "request_id",
    "seq",
    "detail",
    "minted_for",
    "fields",
];

/// Every row of the request's view, from its first page, as a body.
pub fn stream(
    dashboard: Dashboard,
    request: Request,
    format: Format,
) -> impl Stream<Item = anyhow::Result<Bytes>> {
    async_stream::try_stream! {
        let mut request = Request {
            cursor: None,
            limit: MAX_LIMIT,
            ..request
        };

        // The header, then every page as it comes.
        yield match format {
            Format::Csv => csv_rows(&[], true)?,
            Format::Json => Bytes::from_static(b"["),
        };
        let mut first = true;
        loop {
            let page = dashboard
                .page(&request)
                .await
                .map_err(|error| anyhow::anyhow!("export stopped: {error}"))?;
            match format {
                Format::Csv => yield csv_rows(&page.events, false)?,
                Format::Json => {
                    let mut chunk = Vec::new();
                    for row in &page.events {
                        if !first {
                            chunk.push(b',');
                        }
                        first = false;
                        chunk.push(b'\n');
                        serde_json::to_writer(&mut chunk, row)?;
                    }
                    yield Bytes::from(chunk);
                }
            }
            let Some(next) = page.next_cursor else {
                break;
            };
            request.cursor = super::Cursor::decode(&next);
        }
        if format == Format::Json {
            yield Bytes::from_static(b"\n]\n");
        }
    }
}

/// Rows as CSV, with the header when asked.
fn csv_rows(rows: &[AuditEventRow], header: bool) -> anyhow::Result<Bytes> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        writer.write_record(COLUMNS)?;
    }
    for row in rows {
        writer.write_record(csv_record(row).iter().map(|cell| guard(cell)))?;
    }
    Ok(Bytes::from(writer.into_inner()?))
}

/// A row's cells in [`COLUMNS`] order.
pub fn csv_record(row: &AuditEventRow) -> [String; 14] {
    let fields: Vec<String> = row
        .fields
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let number = |value: Option<u64>| value.map(|n| n.to_string()).unwrap_or_default();
    [
        row.source.as_str().to_owned(),
        row.time.clone(),
        row.actor.clone(),
        row.action.clone(),
        row.outcome.clone(),
        text(&row.model),
        number(row.version),
        text(&row.path),
        text(&row.share_id),
        text(&row.request_id),
        number(row.seq),
        text(&row.detail),
        row.portal
            .as_ref()
            .map(|join| join.actor.clone())
            .unwrap_or_default(),
        fields.join("; "),
    ]
}

/// A cell that a spreadsheet would run as a formula (one starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return: log values are chosen
/// by whoever sent the request) gets a leading `'`, which spreadsheets
/// show as text.
pub fn guard(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_from_logs_are_written_as_text() {
        assert_eq!(
            guard("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(guard("+1"), "'+1");
        assert_eq!(guard("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guard("alice"), "alice");
        assert_eq!(guard(""), "");
    }

    #[test]
    fn rows_are_quoted_as_csv_requires() {
        let row = AuditEventRow {
            actor: "mallory, \"the\" attacker".into(),
            detail: Some("line\nbreak".into()),
            ..AuditEventRow::default()
        };
        let bytes = csv_rows(&[row], true).expect("writes");
        let mut reader = csv::Reader::from_reader(bytes.as_ref());
        let headers = reader.headers().expect("a header").clone();
        assert_eq!(headers.iter().collect::<Vec<_>>(), COLUMNS);
        let record = reader.records().next().expect("one row").expect("parses");
        assert_eq!(&record[2], "mallory, \"the\" attacker");
        assert_eq!(&record[11], "line\nbreak");
    }
}
