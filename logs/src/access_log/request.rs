//! The request URI field, `METHOD target PROTOCOL`, taken apart.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// A request URI split at its first and last spaces into method, target
/// (path and query) and protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine<'a> {
    text: Cow<'a, str>,
    bounds: Bounds,
}

/// Where the parts of a request URI lie in its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    method_end: usize,
    target_start: usize,
    target_end: usize,
}

impl Bounds {
    /// Methods and protocols hold no spaces, so a target with spaces in it
    /// still comes out whole. Without a space the URI is all target; with
    /// one, method and target.
    fn of(text: &str) -> Self {
        match text.split_once(' ') {
            None => Bounds {
                method_end: 0,
                target_start: 0,
                target_end: text.len(),
            },
            Some((method, rest)) => Bounds {
                method_end: method.len(),
                target_start: method.len() + 1,
                target_end: method.len() + 1 + rest.rfind(' ').unwrap_or(rest.len()),
            },
        }
    }
}

impl<'a> RequestLine<'a> {
    /// Splits an unescaped request URI.
    pub fn new(text: Cow<'a, str>) -> Self {
        let bounds = Bounds::of(&text);
        Self { text, bounds }
    }

    /// `GET`, `PUT`, ...; empty when the URI had no space.
    pub fn method(&self) -> &str {
        self.text.get(..self.bounds.method_end).unwrap_or("")
    }

    /// The path and query, as sent.
    pub fn target(&self) -> &str {
        target_in(&self.text, self.bounds)
    }

    /// The target up to its `?`.
    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The target after its `?`, if it has one.
    pub fn query(&self) -> Option<&str> {
        self.target().split_once('?').map(|(_, query)| query)
    }

    /// `HTTP/1.1`, ...; empty when the URI had fewer than two spaces.
    pub fn protocol(&self) -> &str {
        self.text.get(self.bounds.target_end + 1..).unwrap_or("")
    }

    /// The percent-decoded value of the first query parameter called
    /// `name`; a parameter without `=` has the empty value.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        query_value(self.target(), name)
    }

    /// The target of a request URI held as plain text.
    pub(crate) fn target_of(uri: &str) -> &str {
        target_in(uri, Bounds::of(uri))
    }
}

fn target_in(text: &str, bounds: Bounds) -> &str {
    text.get(bounds.target_start..bounds.target_end)
        .unwrap_or("")
}

/// The decoded value of query parameter `name` in `target`'s query.
///
/// Names compare after percent-decoding and are case-sensitive, as S3's
/// are. `+` stays a plus: S3 signs queries encoded per RFC 3986, where a
/// space is `%20`.
pub(crate) fn query_value<'t>(target: &'t str, name: &str) -> Option<Cow<'t, str>> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(raw_name, _)| {
            *raw_name == name || percent_decode_str(raw_name).decode_utf8_lossy() == name
        })
        .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> RequestLine<'_> {
        RequestLine::new(Cow::Borrowed(text))
    }

    #[test]
    fn a_request_uri_splits_into_method_target_and_protocol() {
        let request = line("GET /coffer-artifacts/models/a%20b.bin?versionId=3 HTTP/1.1");
        assert_eq!(request.method(), "GET");
        assert_eq!(
            request.target(),
            "/coffer-artifacts/models/a%20b.bin?versionId=3"
        );
        assert_eq!(request.path(), "/coffer-artifacts/models/a%20b.bin");
        assert_eq!(request.query(), Some("versionId=3"));
        assert_eq!(request.protocol(), "HTTP/1.1");
    }

    #[test]
    fn a_target_with_spaces_stays_whole() {
        let request = line("GET /a b c HTTP/1.1");
        assert_eq!(request.target(), "/a b c");
        assert_eq!(request.protocol(), "HTTP/1.1");
    }

    #[test]
    fn short_request_uris_fill_what_they_can() {
        let request = line("/only-a-target");
        assert_eq!(
            (request.method(), request.target(), request.protocol()),
            ("", "/only-a-target", "")
        );
        let request = line("GET /no-protocol");
        assert_eq!(line(" /x").target(), "/x");
        assert_eq!(
            (request.method(), request.target(), request.protocol()),
            ("GET", "/no-protocol", "")
        );
        assert_eq!(request.query(), None);
    }

    #[test]
    fn query_values_are_percent_decoded_and_plus_is_kept() {
        let request = line("GET /k?a=1&x-coffer-request=r%2F1+2&flag&x%2Dother=y HTTP/1.1");
        assert_eq!(
            request.query_param("x-coffer-request").as_deref(),
            Some("r/1+2")
        );
        assert_eq!(request.query_param("flag").as_deref(), Some(""));
        assert_eq!(request.query_param("x-other").as_deref(), Some("y"));
        assert_eq!(request.query_param("X-Coffer-Request"), None);
        assert_eq!(request.query_param("missing"), None);
    }

    #[test]
    fn the_first_of_repeated_parameters_wins() {
        assert_eq!(query_value("/k?a=1&a=2", "a").as_deref(), Some("1"));
    }
}
