//! Lines written by hand from AWS's documented format, and the cases of the
//! embedded endpoint's own log tests.

use std::borrow::Cow;
use std::io::{BufReader, Write as _};

use flate2::Compression;
use flate2::write::GzEncoder;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::Outcome;

const OWNER: &str = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b";
const ROLE: &str = "arn:aws:sts::111122223333:assumed-role/coffer-server/coffer-prod";
const HOST_ID: &str = "Zm9yIHRlc3RzIG9ubHk6IGFuIGV4dGVuZGVkIHJlcXVlc3QgaWQgb2YgYSBidWNrZXQ=";

/// A browser download through a presigned URL Coffer minted.
fn presigned_get() -> String {
    format!(
        "{OWNER} coffer-artifacts [14/Mar/2025:09:26:53 +0000] 203.0.113.42 {ROLE} \
         7Q2K9ZP4XW1M8RT3 REST.GET.OBJECT models/resnet50/3/model%20card.md \
         \"GET /models/resnet50/3/model%20card.md?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=ASIAEXAMPLEKEY%2F20250314%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20250314T092650Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
         &response-content-disposition=attachment&x-coffer-request=01JPA4K3%2Bdl\
         &X-Amz-Signature=9c1f0e2d3b4a5968778695a4b3c2d1e0f9e8d7c6b5a4938271605f4e3d2c1b0a \
         HTTP/1.1\" 200 - 104857600 104857600 2314 41 \
         \"https://coffer.example.com/models/resnet50\" \
         \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
         Chrome/122.0 Safari/537.36\" \
         3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY {HOST_ID} SigV4 TLS_AES_128_GCM_SHA256 QueryString \
         coffer-artifacts.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1"
    )
}

/// One part of a browser multipart upload.
fn upload_part() -> String {
    format!(
        "{OWNER} coffer-artifacts [14/Mar/2025:09:27:10 +0000] 198.51.100.7 {ROLE} \
         3B8D1F0A6C4E2A9B REST.PUT.PART models/llama/2/weights.bin \
         \"PUT /models/llama/2/weights.bin?partNumber=7&uploadId=VXBsb2FkIElEIGZvciB0ZXN0cw--\
         &x-amz-checksum-sha256=47DEQpj8HBSa%2B%2FTImW%2B5JCeuQeRkm5NMpJWZG3hSuFU%3D\
         &X-Amz-Signature=0123abcd HTTP/1.1\" 200 - - 16777216 1850 1790 \"-\" \
         \"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) Firefox/123.0\" - {HOST_ID} SigV4 \
         TLS_AES_128_GCM_SHA256 QueryString coffer-artifacts.s3.us-east-1.amazonaws.com \
         TLSv1.3 - - us-east-1"
    )
}

/// An anonymous attempt on a private object.
fn access_denied() -> String {
    format!(
        "{OWNER} coffer-artifacts [14/Mar/2025:10:02:44 +0000] 192.0.2.99 - 9F8E7D6C5B4A3210 \
         REST.GET.OBJECT models/secret.bin \"GET /models/secret.bin HTTP/1.1\" 403 AccessDenied \
         243 - 12 - \"-\" \"curl/8.5.0\" - {HOST_ID} - TLS_AES_256_GCM_SHA384 - \
         coffer-artifacts.s3.amazonaws.com TLSv1.3 - - us-east-1"
    )
}

/// A user agent and referer chosen to break naive parsers and pages.
fn hostile_agent() -> String {
    format!(
        "{OWNER} coffer-artifacts [14/Mar/2025:11:00:00 +0000] 192.0.2.7 - 1A2B3C4D5E6F7A8B \
         REST.HEAD.OBJECT models/x.bin \"HEAD /models/x.bin HTTP/1.1\" 404 NoSuchKey - - 3 - \
         \"https://evil.example/\\x0Anext\" \
         \"Mozilla/5.0 \\\"><script>alert('\\\\o/')</script>\" - \
         {HOST_ID} - - - coffer-artifacts.s3.amazonaws.com - - - us-east-1"
    )
}

/// A line of 26 fields: written before the region was added.
fn twenty_six_fields() -> String {
    format!(
        "{OWNER} coffer-artifacts [06/Feb/2023:00:00:38 +0000] 192.0.2.3 {ROLE} 3E57427F3EXAMPLE \
         REST.GET.VERSIONING - \"GET /coffer-artifacts?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \
         \"S3Console/0.4\" - {HOST_ID} SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader \
         coffer-artifacts.s3.us-west-1.amazonaws.com TLSV1.2 \
         arn:aws:s3:us-west-1:111122223333:accesspoint/coffer-ap Yes"
    )
}

#[test]
fn a_presigned_download_parses_field_by_field() {
    let text = presigned_get();
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.bucket_owner, Some(OWNER));
    assert_eq!(line.bucket, Some("coffer-artifacts"));
    assert_eq!(line.time, datetime!(2025-03-14 09:26:53 UTC));
    assert_eq!(line.remote_ip, Some("203.0.113.42"));
    assert_eq!(line.requester, Some(ROLE));
    assert_eq!(line.request_id, Some("7Q2K9ZP4XW1M8RT3"));
    assert_eq!(line.operation, Some("REST.GET.OBJECT"));
    assert_eq!(line.key, Some("models/resnet50/3/model%20card.md"));
    assert_eq!(line.http_status, Some(200));
    assert_eq!(line.error_code, None);
    assert_eq!(line.bytes_sent, Some(104_857_600));
    assert_eq!(line.object_size, Some(104_857_600));
    assert_eq!(line.total_time_ms, Some(2314));
    assert_eq!(line.turn_around_time_ms, Some(41));
    assert_eq!(
        line.referer,
        Some("https://coffer.example.com/models/resnet50")
    );
    assert!(
        line.user_agent
            .is_some_and(|ua| ua.starts_with("Mozilla/5.0 (X11;"))
    );
    assert_eq!(line.version_id, Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"));
    assert_eq!(line.host_id, Some(HOST_ID));
    assert_eq!(line.signature_version, Some("SigV4"));
    assert_eq!(line.cipher_suite, Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(line.authentication_type, Some("QueryString"));
    assert_eq!(
        line.host_header,
        Some("coffer-artifacts.s3.us-east-1.amazonaws.com")
    );
    assert_eq!(line.tls_version, Some("TLSv1.3"));
    assert_eq!(line.access_point_arn, None);
    assert_eq!(line.acl_required, None);
    assert_eq!(line.region, Some("us-east-1"));
    assert_eq!(line.extra, None);
}

#[test]
fn a_presigned_download_gives_its_coffer_request_id_and_decoded_key() {
    let text = presigned_get();
    let line = parse_line(&text).expect("the line parses");
    assert!(line.is_presigned());
    assert_eq!(
        line.query_param("x-coffer-request").as_deref(),
        Some("01JPA4K3+dl")
    );
    assert_eq!(
        line.key_decoded().as_deref(),
        Some("models/resnet50/3/model card.md")
    );
    assert_eq!(line.outcome(), Outcome::Success);
    let request = line.request_line().expect("the line has a request URI");
    assert_eq!(request.method(), "GET");
    assert_eq!(request.path(), "/models/resnet50/3/model%20card.md");
    assert_eq!(request.protocol(), "HTTP/1.1");
    assert_eq!(request.query_param("X-Amz-Expires").as_deref(), Some("300"));
}

#[test]
fn the_redacted_request_uri_hides_the_signature_s3_logged() {
    let text = presigned_get();
    let line = parse_line(&text).expect("the line parses");
    let redacted = line.request_uri_redacted().unwrap_or_default();
    assert!(redacted.contains("&X-Amz-Signature=REDACTED HTTP/1.1"));
    assert!(redacted.contains("x-coffer-request=01JPA4K3%2Bdl"));
    assert!(!redacted.contains("9c1f0e2d"));

    // Nothing to hide, nothing copied.
    let text = access_denied();
    let line = parse_line(&text).expect("the line parses");
    assert!(matches!(
        line.request_uri_redacted(),
        Some(Cow::Borrowed(_))
    ));
}

#[test]
fn a_part_upload_has_no_bytes_sent_and_names_its_part() {
    let text = upload_part();
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.operation, Some("REST.PUT.PART"));
    assert_eq!(line.bytes_sent, None);
    assert_eq!(line.object_size, Some(16_777_216));
    assert_eq!(line.referer, None);
    assert_eq!(line.query_param("partNumber").as_deref(), Some("7"));
    assert_eq!(
        line.query_param("x-amz-checksum-sha256").as_deref(),
        Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    );
}

#[test]
fn an_anonymous_403_is_a_denial() {
    let text = access_denied();
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.requester, None);
    assert_eq!(line.http_status, Some(403));
    assert_eq!(line.error_code, Some("AccessDenied"));
    assert_eq!(line.signature_version, None);
    assert_eq!(line.authentication_type, None);
    assert!(!line.is_presigned());
    assert_eq!(line.outcome(), Outcome::Denied);
}

#[test]
fn an_escaped_quote_does_not_end_a_quoted_field() {
    let text = hostile_agent();
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(
        line.user_agent,
        Some(r#"Mozilla/5.0 \"><script>alert('\\o/')</script>"#)
    );
    assert_eq!(
        line.user_agent_unescaped().as_deref(),
        Some(r#"Mozilla/5.0 "><script>alert('\o/')</script>"#)
    );
    assert_eq!(
        line.referer_unescaped().as_deref(),
        Some("https://evil.example/\nnext")
    );
    assert_eq!(line.version_id, None);
    assert_eq!(line.host_header, Some("coffer-artifacts.s3.amazonaws.com"));
    assert_eq!(line.region, Some("us-east-1"));
    assert_eq!(line.outcome(), Outcome::Failure);
}

#[test]
fn a_line_of_twenty_six_fields_has_no_region() {
    let text = twenty_six_fields();
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.operation, Some("REST.GET.VERSIONING"));
    assert_eq!(line.key, None);
    assert_eq!(
        line.access_point_arn,
        Some("arn:aws:s3:us-west-1:111122223333:accesspoint/coffer-ap")
    );
    assert_eq!(line.acl_required, Some("Yes"));
    assert_eq!(line.region, None);
    assert_eq!(line.query_param("versioning").as_deref(), Some(""));
}

#[test]
fn an_old_short_line_leaves_later_fields_absent() {
    let text = format!(
        "{OWNER} coffer-logs [16/Aug/2017:10:20:30 +0000] 192.0.2.150 {ROLE} CC487A9D90678CAB \
         REST.GET.OBJECT a.txt \"GET /a.txt HTTP/1.1\" 200 - 26828 369 89 11 \"-\" \
         \"aws-sdk-java/1.7.11 Linux/3.2.0-57-virtual\" -"
    );
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.turn_around_time_ms, Some(11));
    assert_eq!(line.version_id, None);
    assert_eq!(line.host_id, None);
    assert_eq!(line.region, None);

    // Ten fields are the least a record has.
    let ten = format!(
        "{OWNER} b [16/Aug/2017:10:20:30 +0000] - - ID REST.GET.OBJECT k \"GET /k HTTP/1.1\" 200"
    );
    let line = parse_line(&ten).expect("the line parses");
    assert_eq!(line.http_status, Some(200));
    assert_eq!(
        (line.error_code, line.bytes_sent, line.user_agent),
        (None, None, None)
    );
}

#[test]
fn unknown_trailing_fields_are_kept_unparsed() {
    let text = format!("{} - \"a new field\" [bracketed too] 42", presigned_get());
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.region, Some("us-east-1"));
    assert_eq!(line.extra, Some("- \"a new field\" [bracketed too] 42"));
    let extra: Vec<&str> = line.extra_fields().collect();
    assert_eq!(extra, ["-", "\"a new field\"", "[bracketed too]", "42"]);
}

#[test]
fn a_lifecycle_expiry_has_dashes_for_status_and_request() {
    let text = format!(
        "{OWNER} coffer-artifacts [15/Mar/2025:00:12:01 +0000] - AmazonS3 5A6B7C8D9E0F1A2B \
         S3.EXPIRE.OBJECT models/old/1/a.bin - - - - 1024 - - \"-\" \"-\" \
         - - - - - - - - - us-east-1"
    );
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.operation, Some("S3.EXPIRE.OBJECT"));
    assert_eq!(line.request_uri, None);
    assert_eq!(line.http_status, None);
    assert_eq!(line.object_size, Some(1024));
    assert_eq!(line.request_line(), None);
    assert_eq!(line.outcome(), Outcome::Success);
}

#[test]
fn the_offset_in_the_time_is_honoured() {
    let text = presigned_get().replace("09:26:53 +0000", "11:26:53 +0200");
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.time, datetime!(2025-03-14 09:26:53 UTC));
    assert_eq!(line.time.offset().whole_hours(), 2);
}

#[test]
fn line_endings_and_repeated_spaces_are_tolerated() {
    let text = format!("{}\r\n", access_denied().replace(" 403 ", "  403   "));
    let line = parse_line(&text).expect("the line parses");
    assert_eq!(line.http_status, Some(403));
    assert_eq!(line.region, Some("us-east-1"));
}

#[test]
fn malformed_lines_say_which_field_is_wrong_and_why() {
    let good = access_denied();
    let cases: Vec<(String, Field, ParseErrorKind)> = vec![
        (String::new(), Field::BucketOwner, ParseErrorKind::Missing),
        (
            "hello world today".to_owned(),
            Field::Time,
            ParseErrorKind::NotBracketed,
        ),
        (
            good[..good.find(" 403 ").unwrap_or_default()].to_owned(),
            Field::HttpStatus,
            ParseErrorKind::Missing,
        ),
        (
            good.replace(" 403 ", " OK "),
            Field::HttpStatus,
            ParseErrorKind::NotANumber,
        ),
        (
            good.replace(" 403 ", " 70000 "),
            Field::HttpStatus,
            ParseErrorKind::TooLarge,
        ),
        (
            good.replace(" 243 ", " -243 "),
            Field::BytesSent,
            ParseErrorKind::NotANumber,
        ),
        (
            good.replace(" 243 ", " 99999999999999999999 "),
            Field::BytesSent,
            ParseErrorKind::TooLarge,
        ),
        (
            good.replace("10:02:44", "25:02:44"),
            Field::Time,
            ParseErrorKind::BadTime("has an hour, minute or second out of range"),
        ),
        (
            good.replace("Mar", "Mär"),
            Field::Time,
            ParseErrorKind::BadTime("is not of the form dd/Mon/yyyy:HH:MM:SS +hhmm"),
        ),
        (
            good.replace(" +0000]", " +0000"),
            Field::Time,
            ParseErrorKind::UnterminatedBracket,
        ),
        (
            good.replace("+0000]", "+0000]x"),
            Field::Time,
            ParseErrorKind::NoSpaceAfter,
        ),
        (
            good.replace("HTTP/1.1\"", "HTTP/1.1"),
            Field::RequestUri,
            ParseErrorKind::NoSpaceAfter,
        ),
        (
            good[..good.find("HTTP/1.1").unwrap_or_default()].to_owned(),
            Field::RequestUri,
            ParseErrorKind::UnterminatedQuote,
        ),
        (
            good.replace("\"GET /models/secret.bin HTTP/1.1\"", "GET"),
            Field::RequestUri,
            ParseErrorKind::NotQuoted,
        ),
        (
            good.replace("\"curl/8.5.0\"", "\"curl/8.5.0\"x"),
            Field::UserAgent,
            ParseErrorKind::NoSpaceAfter,
        ),
        (
            good.replace("\"curl/8.5.0\"", "\"curl/8.5.0\\\""),
            Field::UserAgent,
            ParseErrorKind::UnterminatedQuote,
        ),
    ];
    for (text, field, kind) in cases {
        assert_eq!(parse_line(&text), Err(ParseError { field, kind }), "{text}");
    }
}

#[test]
fn parse_errors_read_as_sentences() {
    let err =
        parse_line(&access_denied().replace(" 403 ", " OK ")).expect_err("the line is malformed");
    assert_eq!(err.to_string(), "field 10 (HTTP status) is not a number");
    let err = parse_line("a b c").expect_err("the line is malformed");
    assert_eq!(
        err.to_string(),
        "field 3 (time) should be a time in brackets"
    );
}

#[test]
fn a_whole_log_object_is_read_with_line_numbers_and_blank_lines_skipped() {
    let text = format!(
        "{}\n\n{}\ngarbage line\n{}\n   \n",
        presigned_get(),
        upload_part(),
        access_denied()
    );
    let results: Vec<(usize, bool)> = lines(&text).map(|(n, r)| (n, r.is_ok())).collect();
    assert_eq!(results, [(1, true), (3, true), (4, false), (5, true)]);
}

#[test]
fn a_gzipped_log_of_several_members_is_read_and_malformed_lines_counted() {
    // Two gzip members, as concatenated log objects are.
    let mut gz = Vec::new();
    for part in [
        format!("{}\nnot a log line\n{}\n", presigned_get(), upload_part()),
        format!("{}\n\n{}", access_denied(), hostile_agent()),
    ] {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder
            .write_all(part.as_bytes())
            .expect("compressing into memory");
        gz.extend(encoder.finish().expect("compressing into memory"));
    }

    let mut operations = Vec::new();
    let tally = read_gzipped(gz.as_slice(), |n, line| {
        operations.push((n, line.operation.map(str::to_owned)))
    })
    .expect("reading from memory");
    assert_eq!(tally.parsed, 4);
    assert_eq!(tally.malformed, 1);
    assert_eq!(tally.first_errors.len(), 1);
    assert_eq!(tally.first_errors[0].0, 2);
    let numbers: Vec<usize> = operations.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [1, 3, 4, 6]);
    assert_eq!(operations[1].1.as_deref(), Some("REST.PUT.PART"));
}

#[test]
fn lines_straddling_buffer_refills_are_read_whole() {
    // A tiny buffer cuts nearly every line in pieces.
    let text = format!(
        "{}\n{}\r\n{}",
        presigned_get(),
        hostile_agent(),
        upload_part()
    );
    let mut agents = Vec::new();
    let reader = BufReader::with_capacity(7, text.as_bytes());
    let tally = read_lines(reader, |_, line| {
        agents.push(line.user_agent.map(str::to_owned))
    })
    .expect("reading from memory");
    assert_eq!(tally.parsed, 3);
    assert_eq!(tally.malformed, 0);
    assert_eq!(
        agents[1].as_deref(),
        parse_line(&hostile_agent())
            .expect("the line parses")
            .user_agent
    );
}

#[test]
fn only_the_first_few_errors_are_kept() {
    let text = "junk\n".repeat(MAX_REPORTED_ERRORS + 5);
    let tally = read_lines(text.as_bytes(), |_, _| {}).expect("reading from memory");
    assert_eq!(tally.malformed, MAX_REPORTED_ERRORS as u64 + 5);
    assert_eq!(tally.first_errors.len(), MAX_REPORTED_ERRORS);
}

#[test]
fn a_line_that_is_not_utf8_is_read_lossily() {
    let mut bytes = hostile_agent().into_bytes();
    let at = bytes.iter().position(|&b| b == b'<').unwrap_or_default();
    bytes[at] = 0xFF;
    let mut agents = Vec::new();
    let tally = read_lines(bytes.as_slice(), |_, line| {
        agents.push(line.user_agent.map(str::to_owned))
    })
    .expect("reading from memory");
    assert_eq!(tally.parsed, 1);
    assert!(
        agents[0]
            .as_deref()
            .is_some_and(|ua| ua.contains('\u{FFFD}'))
    );
}

#[test]
fn owned_entries_are_read_and_malformed_lines_counted() {
    let text = format!("{}\nnope\n{}\n", upload_part(), access_denied());
    let mut reader = entries(text.as_bytes());
    let read: Vec<(usize, AccessLogEntry)> = reader
        .by_ref()
        .map(|entry| entry.expect("reading from memory"))
        .collect();
    assert_eq!(read.len(), 2);
    assert_eq!(read[1].0, 3);
    assert_eq!(read[1].1.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(reader.tally().malformed, 1);
}

#[test]
fn hand_written_lines_are_written_back_unchanged() {
    // Every sample follows the same escaping the writer uses, except that
    // S3 does not redact the signatures in its own lines.
    for text in [
        upload_part(),
        access_denied(),
        hostile_agent(),
        twenty_six_fields(),
    ] {
        let written = parse_line(&text)
            .expect("the line parses")
            .to_entry()
            .to_line();
        let expected = text.replace("X-Amz-Signature=0123abcd", "X-Amz-Signature=REDACTED");
        let expected = if text == twenty_six_fields() {
            format!("{expected} -")
        } else {
            expected
        };
        assert_eq!(written, expected);
    }
}

/// The record the embedded endpoint's own log tests start from.
fn server_sample() -> AccessLogEntry {
    let mut entry = AccessLogEntry::new(OffsetDateTime::UNIX_EPOCH);
    entry.bucket_owner = Some("owner".to_owned());
    entry.bucket = Some("coffer-artifacts".to_owned());
    entry.remote_ip = Some("127.0.0.1".to_owned());
    entry.requester = Some("requester".to_owned());
    entry.request_id = Some("0123456789ABCDEF".to_owned());
    entry.operation = Some("REST.PUT.OBJECT".to_owned());
    entry.key = Some("models/a b.bin".to_owned());
    entry.request_uri = Some(
        "PUT /coffer-artifacts/models/a%20b.bin?X-Amz-Signature=abc123&x-coffer-request=r1 HTTP/1.1"
            .to_owned(),
    );
    entry.http_status = Some(200);
    entry.bytes_sent = Some(0);
    entry.object_size = Some(5);
    entry.total_time_ms = Some(3);
    entry.turn_around_time_ms = Some(1);
    entry.user_agent = Some("agent \"quoted\"\nnext".to_owned());
    entry.host_id = Some("hostid".to_owned());
    entry.signature_version = Some("SigV4".to_owned());
    entry.authentication_type = Some("QueryString".to_owned());
    entry.host_header = Some("127.0.0.1:9000".to_owned());
    entry.region = Some("us-east-1".to_owned());
    entry
}

#[test]
fn the_line_is_byte_for_byte_what_the_embedded_endpoint_writes() {
    assert_eq!(
        server_sample().to_line(),
        "owner coffer-artifacts [01/Jan/1970:00:00:00 +0000] 127.0.0.1 requester 0123456789ABCDEF \
         REST.PUT.OBJECT models/a%20b.bin \
         \"PUT /coffer-artifacts/models/a%20b.bin?X-Amz-Signature=REDACTED\
         &x-coffer-request=r1 HTTP/1.1\" \
         200 - - 5 3 1 \"-\" \"agent \\\"quoted\\\"\\x0Anext\" - hostid SigV4 - QueryString \
         127.0.0.1:9000 - - - us-east-1"
    );
}

#[test]
fn a_line_has_twenty_seven_fields_in_aws_order() {
    let line = server_sample().to_line();
    let fields: Vec<&str> = split_fields(&line).collect();
    assert_eq!(fields.len(), 27);
    assert_eq!(fields[2], "[01/Jan/1970:00:00:00 +0000]");
    assert_eq!(fields[6], "REST.PUT.OBJECT");
    assert_eq!(fields[7], "models/a%20b.bin");
    assert_eq!(fields[9], "200");
    assert_eq!(fields[11], "-");
    assert_eq!(fields[21], "QueryString");
    assert_eq!(fields[26], "us-east-1");
}

#[test]
fn signatures_are_redacted_and_other_parameters_kept() {
    let line = server_sample().to_line();
    assert!(!line.contains("abc123"));
    assert!(line.contains("X-Amz-Signature=REDACTED"));
    assert!(line.contains("x-coffer-request=r1"));
}

#[test]
fn quotes_and_control_characters_in_a_user_agent_cannot_break_the_line() {
    let line = server_sample().to_line();
    assert!(!line.contains('\n'));
    assert!(line.contains(r#""agent \"quoted\"\x0Anext""#));
}

#[test]
fn an_absent_value_is_a_dash() {
    let mut entry = server_sample();
    entry.requester = None;
    entry.signature_version = None;
    entry.authentication_type = None;
    let line = entry.to_line();
    let fields: Vec<&str> = split_fields(&line).collect();
    assert_eq!(fields[4], "-");
    assert_eq!(fields[15], "\"-\"");
    assert_eq!(fields[19], "-");
    assert_eq!(fields[21], "-");
}

#[test]
fn an_empty_value_is_a_dash_too() {
    let mut entry = server_sample();
    entry.requester = Some(String::new());
    entry.user_agent = Some(String::new());
    entry.key = Some(String::new());
    let line = entry.to_line();
    let parsed = parse_line(&line).expect("the line parses");
    assert_eq!(
        (parsed.requester, parsed.user_agent, parsed.key),
        (None, None, None)
    );
}

#[test]
fn the_embedded_endpoints_line_parses_back_to_its_record() {
    let mut expected = server_sample();
    let line = expected.to_line();
    let entry = parse_line(&line).expect("the line parses").to_entry();

    // Zero bytes sent is written `-`, and the signature never comes back.
    expected.bytes_sent = None;
    expected.request_uri = expected
        .request_uri
        .map(|uri| uri.replace("abc123", "REDACTED"));
    assert_eq!(entry, expected);
}

#[test]
fn a_time_in_another_offset_is_written_in_utc() {
    let mut entry = server_sample();
    entry.time = datetime!(2025-03-14 11:26:53 +02:00);
    assert!(entry.to_line().contains("[14/Mar/2025:09:26:53 +0000]"));
}

#[test]
fn unknown_trailing_fields_are_written_back_on_one_line() {
    let mut entry = server_sample();
    entry.extra = Some("future \"field\"\nx".to_owned());
    let line = entry.to_line();
    assert!(line.ends_with(r#" us-east-1 future "field"\x0Ax"#));
    let parsed = parse_line(&line).expect("the line parses");
    assert_eq!(parsed.extra, Some(r#"future "field"\x0Ax"#));
}

#[test]
fn unescaping_borrows_when_there_is_nothing_to_undo() {
    let text = access_denied();
    let line = parse_line(&text).expect("the line parses");
    assert!(matches!(
        line.user_agent_unescaped(),
        Some(Cow::Borrowed("curl/8.5.0"))
    ));
    assert!(matches!(
        line.key_decoded(),
        Some(Cow::Borrowed("models/secret.bin"))
    ));
}
