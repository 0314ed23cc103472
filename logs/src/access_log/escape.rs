//! How text is escaped in access log fields, both ways.
//!
//! Unquoted fields escape anything that could split them or fake another
//! line (space, `"`, `\`, brackets, control characters) as `\xHH` bytes.
//! Quoted fields escape `"` and `\` with a backslash and control characters
//! as `\xHH`. Bucket and key are URL-encoded instead. An empty or absent
//! value is written `-` (`"-"` when quoted).

use std::borrow::Cow;

use memchr::memchr;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters kept as they are when a key is URL-encoded for a log line.
const KEY_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Query parameters whose values are credentials, never logged.
const REDACTED_PARAMS: &[&str] = &["x-amz-signature", "signature", "x-amz-security-token"];

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// The text a raw field stands for: `\"`, `\\` and `\xHH` escapes undone.
///
/// A backslash before anything else is kept as it is. Escaped bytes that do
/// not form UTF-8 become the replacement character. Borrows when the field
/// holds no backslash, which is nearly always.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    // Most fields hold no escape at all.
    let bytes = raw.as_bytes();
    let Some(first) = memchr(b'\\', bytes) else {
        return Cow::Borrowed(raw);
    };

    // Undo escapes byte by byte: `\xHH` may be one byte of a longer
    // character, so the text is only checked as UTF-8 at the end.
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while let Some(&byte) = bytes.get(i) {
        let (decoded, width) = match (byte, bytes.get(i + 1)) {
            (b'\\', Some(b'"')) => (b'"', 2),
            (b'\\', Some(b'\\')) => (b'\\', 2),
            (b'\\', Some(b'x')) => match bytes.get(i + 2..i + 4).and_then(hex_byte) {
                Some(decoded) => (decoded, 4),
                None => (b'\\', 1),
            },
            _ => (byte, 1),
        };
        out.push(decoded);
        i += width;
    }

    // Bytes that came from the line were UTF-8 already; only escapes can
    // have broken it.
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(err) => Cow::Owned(String::from_utf8_lossy(err.as_bytes()).into_owned()),
    }
}

/// The object key (or bucket) a URL-encoded field names, lossy on invalid
/// UTF-8. `+` stays a plus: S3 encodes a space as `%20`.
pub fn decode_key(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

/// Replaces the value of every credential-bearing query parameter
/// (`X-Amz-Signature`, the SigV2 `Signature`, `X-Amz-Security-Token`, in any
/// case, percent-encoded or not) with `REDACTED`, keeping the rest of the
/// path and query exactly as received. Borrows when there is nothing to hide.
pub fn redact_query(path_and_query: &str) -> Cow<'_, str> {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return Cow::Borrowed(path_and_query);
    };

    // Rebuild only a query that names a credential.
    if !query.split('&').any(|pair| is_credential(param_name(pair))) {
        return Cow::Borrowed(path_and_query);
    }

    // Pairs keep their order and spelling; only credential values change.
    let mut out = String::with_capacity(path_and_query.len());
    out.push_str(path);
    out.push('?');
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            out.push('&');
        }
        let name = param_name(pair);
        if is_credential(name) {
            out.push_str(name);
            out.push_str("=REDACTED");
        } else {
            out.push_str(pair);
        }
    }
    Cow::Owned(out)
}

/// [`redact_query`] applied to the target of a `METHOD target PROTOCOL`
/// request URI.
pub(crate) fn redact_request_uri(uri: &str) -> Cow<'_, str> {
    // The method and protocol hold no spaces; the target is what lies
    // between them.
    let Some((method, rest)) = uri.split_once(' ') else {
        return redact_query(uri);
    };
    let (target, protocol) = match rest.rsplit_once(' ') {
        Some((target, protocol)) => (target, Some(protocol)),
        None => (rest, None),
    };

    // Reassemble only when the target changed.
    let Cow::Owned(target) = redact_query(target) else {
        return Cow::Borrowed(uri);
    };
    let mut out = String::with_capacity(uri.len());
    out.push_str(method);
    out.push(' ');
    out.push_str(&target);
    if let Some(protocol) = protocol {
        out.push(' ');
        out.push_str(protocol);
    }
    Cow::Owned(out)
}

/// Appends an unquoted field: `-` when absent or empty, otherwise the value
/// with whatever could split the field or the line escaped.
pub(crate) fn push_bare(out: &mut String, value: Option<&str>) {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        out.push('-');
        return;
    };

    // Plain ASCII, the usual case, is copied in one go.
    if value.bytes().all(is_plain_bare_byte) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        if matches!(c, ' ' | '"' | '\\' | '[' | ']') || c.is_control() {
            push_byte_escapes(out, c);
        } else {
            out.push(c);
        }
    }
}

/// Appends a quoted field: `"-"` when absent or empty, otherwise the value
/// in double quotes with `"`, `\` and control characters escaped.
pub(crate) fn push_quoted(out: &mut String, value: Option<&str>) {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        out.push_str("\"-\"");
        return;
    };
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => push_byte_escapes(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a URL-encoded key or bucket, `-` when absent or empty.
pub(crate) fn push_key(out: &mut String, value: Option<&str>) {
    match value.filter(|value| !value.is_empty()) {
        Some(value) => out.extend(utf8_percent_encode(value, KEY_SAFE)),
        None => out.push('-'),
    }
}

/// Appends raw text with only its control characters escaped, so that it
/// cannot end the line.
pub(crate) fn push_unbroken(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            push_byte_escapes(out, c);
        } else {
            out.push(c);
        }
    }
}

/// Appends `c` as `\xHH` escapes, one per byte of its UTF-8 encoding.
fn push_byte_escapes(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for byte in c.encode_utf8(&mut buf).bytes() {
        out.push_str("\\x");
        out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0F)]));
    }
}

/// An ASCII byte an unquoted field can hold as it is.
fn is_plain_bare_byte(byte: u8) -> bool {
    byte.is_ascii_graphic() && !matches!(byte, b'"' | b'\\' | b'[' | b']')
}

/// The byte two hex digits spell, in either case.
fn hex_byte(digits: &[u8]) -> Option<u8> {
    let [high, low] = digits else {
        return None;
    };
    let value = |digit: u8| char::from(digit).to_digit(16);
    let byte = value(*high)? << 4 | value(*low)?;
    u8::try_from(byte).ok()
}

/// The name part of a `name=value` query pair.
fn param_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

/// Whether a query parameter name, percent-decoded, carries a credential.
fn is_credential(name: &str) -> bool {
    let decoded = percent_decode_str(name).decode_utf8_lossy();
    REDACTED_PARAMS
        .iter()
        .any(|param| decoded.eq_ignore_ascii_case(param))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare(value: &str) -> String {
        let mut out = String::new();
        push_bare(&mut out, Some(value));
        out
    }

    fn quoted(value: &str) -> String {
        let mut out = String::new();
        push_quoted(&mut out, Some(value));
        out
    }

    #[test]
    fn text_without_a_backslash_is_borrowed() {
        assert!(matches!(unescape("Mozilla/5.0 (X11)"), Cow::Borrowed(_)));
    }

    #[test]
    fn quote_backslash_and_byte_escapes_are_undone() {
        assert_eq!(unescape(r#"a \"b\" c\\d\x0Ae\x41"#), "a \"b\" c\\d\neA");
    }

    #[test]
    fn escaped_bytes_of_one_character_become_that_character() {
        assert_eq!(unescape(r"caf\xC3\xA9"), "café");
    }

    #[test]
    fn escaped_bytes_that_are_not_utf8_become_replacement_characters() {
        assert_eq!(unescape(r"a\xFFb"), "a\u{FFFD}b");
    }

    #[test]
    fn a_backslash_before_anything_else_is_kept() {
        assert_eq!(unescape(r"a\qb\x4"), r"a\qb\x4");
        assert_eq!(unescape("end\\"), "end\\");
    }

    #[test]
    fn unquoted_fields_escape_what_could_split_them() {
        assert_eq!(bare("a b\"c\\d[e]f\n"), r"a\x20b\x22c\x5Cd\x5Be\x5Df\x0A");
        assert_eq!(bare("caf\u{e9}"), "caf\u{e9}");
        assert_eq!(bare("\u{85}"), r"\xC2\x85");
        assert_eq!(bare(""), "-");
    }

    #[test]
    fn quoted_fields_escape_quotes_backslashes_and_controls() {
        assert_eq!(quoted("a \"b\"\\\t"), r#""a \"b\"\\\x09""#);
        assert_eq!(quoted(""), "\"-\"");
    }

    #[test]
    fn unescape_undoes_both_field_escapings() {
        let hostile = "a \"b\"\\x41 [c]\r\n\u{7f}\u{85} é";
        let quoted = quoted(hostile);
        assert_eq!(unescape(&quoted[1..quoted.len() - 1]), hostile);
        assert_eq!(unescape(&bare(hostile)), hostile);
    }

    #[test]
    fn keys_are_url_encoded_keeping_slashes_and_unreserved_characters() {
        let mut out = String::new();
        push_key(&mut out, Some("models/a b+c~d_e-f.bin/é"));
        assert_eq!(out, "models/a%20b%2Bc~d_e-f.bin/%C3%A9");
        assert_eq!(decode_key(&out), "models/a b+c~d_e-f.bin/é");
    }

    #[test]
    fn credential_parameters_are_redacted_in_any_spelling() {
        assert_eq!(
            redact_query(
                "/b/k?X-Amz-Signature=abc&x-coffer-request=r1&Signature=s\
                 &X%2DAmz%2DSecurity%2DToken=t&signature"
            ),
            "/b/k?X-Amz-Signature=REDACTED&x-coffer-request=r1&Signature=REDACTED\
             &X%2DAmz%2DSecurity%2DToken=REDACTED&signature=REDACTED"
        );
    }

    #[test]
    fn a_query_without_credentials_is_borrowed_unchanged() {
        let query = "/b/k?partNumber=1&uploadId=u&&x=";
        assert!(matches!(redact_query(query), Cow::Borrowed(q) if q == query));
        assert!(matches!(redact_query("/b/k"), Cow::Borrowed("/b/k")));
    }

    #[test]
    fn redaction_is_idempotent() {
        let once = redact_query("/k?X-Amz-Signature=abc").into_owned();
        assert_eq!(redact_query(&once), once);
    }

    #[test]
    fn only_the_target_of_a_request_uri_is_redacted() {
        assert_eq!(
            redact_request_uri("GET /b/k?Signature=x HTTP/1.1"),
            "GET /b/k?Signature=REDACTED HTTP/1.1"
        );
        assert_eq!(
            redact_request_uri("GET /b/k?Signature=x"),
            "GET /b/k?Signature=REDACTED"
        );
        assert_eq!(
            redact_request_uri("/k?Signature=x"),
            "/k?Signature=REDACTED"
        );
    }
}
