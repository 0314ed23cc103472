//! Properties over generated input: the parsers never panic, whatever they
//! are fed, and what the writers write reads back as it was.

use coffer_logs::access_log::{AccessLogEntry, AccessLogLine, lines, parse_line, read_lines};
use coffer_logs::cloudtrail::{parse_trail_object_key, trail_object_key};
use proptest::prelude::*;
use proptest::string::string_regex;
use time::OffsetDateTime;

/// The first and last seconds a log line can write: years 0000 to 9999.
const FIRST_SECOND: i64 = -62_167_219_200;
const LAST_SECOND: i64 = 253_402_300_799;

fn regex(pattern: &str) -> BoxedStrategy<String> {
    string_regex(pattern)
        .unwrap_or_else(|err| panic!("bad test pattern {pattern:?}: {err}"))
        .boxed()
}

/// Any text a field can hold and give back: not empty and not `-`, which
/// both read back as absent. Newlines, quotes and controls included.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        regex("[a-zA-Z0-9._:/+=-]{1,16}"),
        regex("(?s).{1,24}"),
        regex(r#"[ "\\\[\]x0-9A-F\t\n\u{7f}\u{85}é]{1,12}"#),
    ]
    .prop_filter("- and empty read back as absent", |s| s != "-")
    .boxed()
}

fn maybe(strategy: BoxedStrategy<String>) -> BoxedStrategy<Option<String>> {
    proptest::option::of(strategy).boxed()
}

/// Request URIs the writer keeps as they are: it redacts credential
/// parameters, so none are generated.
fn request_uri() -> BoxedStrategy<String> {
    let structured = regex(
        r"(GET|PUT|POST|HEAD|DELETE) /[a-zA-Z0-9/%._~-]{0,24}(\?[a-z0-9=&_-]{0,24})? HTTP/1\.1",
    );
    let hostile = text().prop_filter("no credential parameter names", |uri| {
        let lower = uri.to_ascii_lowercase();
        !lower.contains("signature") && !lower.contains("security") && !lower.contains('%')
    });
    prop_oneof![structured, hostile].boxed()
}

/// Raw trailing fields: printable, without spaces at either end.
fn extra() -> BoxedStrategy<String> {
    regex(r#"[!-~]([ -~]{0,20}[!-~])?"#)
}

fn entry() -> impl Strategy<Value = AccessLogEntry> {
    let who = (
        maybe(text()),
        maybe(regex("[a-z0-9.-]{3,20}")),
        FIRST_SECOND..=LAST_SECOND,
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(text()),
        maybe(request_uri()),
    );
    let how = (
        any::<Option<u16>>(),
        maybe(text()),
        proptest::option::of(1..=u64::MAX),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
        maybe(text()),
        maybe(text()),
    );
    let rest = (proptest::collection::vec(maybe(text()), 10), maybe(extra()));
    (who, how, rest).prop_map(|(who, how, rest)| {
        let (owner, bucket, second, ip, requester, request_id, operation, key, uri) = who;
        let (status, error, sent, size, total, turn_around, referer, agent) = how;
        let (mut tail, extra) = rest;
        let time =
            OffsetDateTime::from_unix_timestamp(second).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut entry = AccessLogEntry::new(time);
        entry.bucket_owner = owner;
        entry.bucket = bucket;
        entry.remote_ip = ip;
        entry.requester = requester;
        entry.request_id = request_id;
        entry.operation = operation;
        entry.key = key;
        entry.request_uri = uri;
        entry.http_status = status;
        entry.error_code = error;
        entry.bytes_sent = sent;
        entry.object_size = size;
        entry.total_time_ms = total;
        entry.turn_around_time_ms = turn_around;
        entry.referer = referer;
        entry.user_agent = agent;
        let mut next = || tail.pop().flatten();
        entry.region = next();
        entry.acl_required = next();
        entry.access_point_arn = next();
        entry.tls_version = next();
        entry.host_header = next();
        entry.authentication_type = next();
        entry.cipher_suite = next();
        entry.signature_version = next();
        entry.host_id = next();
        entry.version_id = next();
        entry.extra = extra;
        entry
    })
}

/// Uses every accessor of a parsed line, so none of them can panic either.
fn exercise(line: &AccessLogLine<'_>) {
    let _ = (
        line.key_decoded(),
        line.referer_unescaped(),
        line.user_agent_unescaped(),
    );
    let _ = (
        line.query_param("x-coffer-request"),
        line.is_presigned(),
        line.outcome(),
    );
    if let Some(request) = line.request_line() {
        let _ = (
            request.method(),
            request.path(),
            request.query(),
            request.protocol(),
        );
        let _ = request.query_param("partNumber");
    }
    let _ = line.extra_fields().count();
    let _ = line.to_entry().to_line();
}

/// One change to a line's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        Just(b' '),
        Just(b'"'),
        Just(b'\\'),
        Just(b'['),
        Just(b']'),
        Just(b'-'),
        Just(b'\n'),
        Just(0xC3),
        Just(0xFF),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(line: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = line.as_bytes().to_vec();
    for mutation in mutations {
        let len = bytes.len().max(1);
        match *mutation {
            Mutation::Replace(at, b) if !bytes.is_empty() => bytes[at % len] = b,
            Mutation::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
            Mutation::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_written_entry_parses_back_to_itself(entry in entry()) {
        let line = entry.to_line();
        let parsed = parse_line(&line);
        prop_assert!(parsed.is_ok(), "{line:?}: {parsed:?}");
        if let Ok(parsed) = parsed {
            prop_assert_eq!(parsed.to_entry(), entry);
        }
    }

    #[test]
    fn a_parsed_line_is_written_back_unchanged(entry in entry()) {
        let line = entry.to_line();
        if let Ok(parsed) = parse_line(&line) {
            prop_assert_eq!(parsed.to_entry().to_line(), line);
        }
    }

    #[test]
    fn random_strings_never_panic(text in any::<String>()) {
        if let Ok(line) = parse_line(&text) {
            exercise(&line);
        }
    }

    #[test]
    fn random_log_like_strings_never_panic(text in regex(r#"[ -~\[\]"\\é]{0,300}"#)) {
        if let Ok(line) = parse_line(&text) {
            exercise(&line);
        }
    }

    #[test]
    fn mutated_valid_lines_never_panic(
        entry in entry(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let bytes = mutate(&entry.to_line(), &mutations);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(line) = parse_line(&text) {
            exercise(&line);
        }

        // The readers see the same bytes, newlines inserted or not.
        let _ = lines(&text).count();
        let tally = read_lines(bytes.as_slice(), |_, line| exercise(&line));
        prop_assert!(tally.is_ok());
    }

    #[test]
    fn random_bytes_never_panic_a_reader(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let tally = read_lines(bytes.as_slice(), |_, line| exercise(&line));
        prop_assert!(tally.is_ok());
    }

    #[test]
    fn a_trail_key_parses_back_to_what_built_it(
        account in regex("[0-9]{12}"),
        region in regex("[a-z]{2}-[a-z]{4,9}-[1-9]"),
        minute in 0i64..=(LAST_SECOND / 60),
        suffix in regex("[a-zA-Z0-9]{16}"),
    ) {
        let at = OffsetDateTime::from_unix_timestamp(minute * 60)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let key = trail_object_key(&account, &region, at, &suffix);
        let parsed = parse_trail_object_key(&key);
        prop_assert!(parsed.is_ok(), "{key}: {parsed:?}");
        if let Ok(parsed) = parsed {
            prop_assert_eq!(parsed.account, account.as_str());
            prop_assert_eq!(parsed.region, region.as_str());
            prop_assert_eq!(parsed.time, at);
        }
    }

    #[test]
    fn random_keys_never_panic(key in regex("(AWSLogs/)?[0-9a-zA-Z/_.T-]{0,120}")) {
        let _ = parse_trail_object_key(&key);
    }
}
