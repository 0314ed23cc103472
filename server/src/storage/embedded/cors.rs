//! CORS for the browser's direct part uploads: only the configured portal
//! origins, matched exactly, ever get CORS headers. `*` is never sent and
//! `Origin: null` never matches. A refused preflight gets S3's 403.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN, VARY,
};
use http::{Method, StatusCode};

/// Methods a browser may use.
const ALLOWED_METHODS: &str = "GET, PUT, POST, DELETE, HEAD";

/// Request headers a browser may send: what presigned and signed S3 requests
/// carry, including the checksum headers a presigned part URL signs.
const ALLOWED_HEADERS: &[&str] = &[
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-md5",
    "content-type",
    "expires",
    "if-match",
    "if-none-match",
    "range",
    "x-amz-checksum-algorithm",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-mode",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-security-token",
    "x-amz-user-agent",
];

/// Any header with this prefix is user metadata and allowed.
const ALLOWED_HEADER_PREFIX: &str = "x-amz-meta-";

/// Response headers a page may read: the part ETag above all.
const EXPOSED_HEADERS: &str = "ETag, x-amz-checksum-crc32, x-amz-checksum-crc32c, \
x-amz-checksum-crc64nvme, x-amz-checksum-sha1, x-amz-checksum-sha256, x-amz-checksum-type, \
x-amz-request-id, x-amz-version-id, Content-Range, Accept-Ranges";

/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE_SECS: &str = "600";

/// The configured origins.
#[derive(Debug, Clone)]
pub(crate) struct CorsPolicy {
    origins: Vec<String>,
}

/// How a preflight was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Preflight {
    /// 200 with these headers.
    Allowed(HeaderMap),
    /// 400: the request is not a preflight at all.
    Malformed,
    /// 403: origin, method or a header is not allowed.
    Refused,
}

impl CorsPolicy {
    pub(crate) fn new(origins: &[String]) -> Self {
        let origins = origins
            .iter()
            .map(|origin| origin.trim_end_matches('/').to_owned())
            .filter(|origin| !origin.is_empty() && origin != "null" && origin != "*")
            .collect();
        Self { origins }
    }

    /// The request's origin, if it is one of ours exactly.
    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|allowed| allowed == text)
            .then(|| origin.clone())
    }

    /// Judges an OPTIONS request as S3 judges a preflight.
    pub(crate) fn preflight(&self, headers: &HeaderMap) -> Preflight {
        // A preflight names its origin and the method it wants.
        let (Some(_), Some(method)) = (
            headers.get(ORIGIN),
            headers.get(ACCESS_CONTROL_REQUEST_METHOD),
        ) else {
            return Preflight::Malformed;
        };
        let Some(origin) = self.allowed_origin(headers) else {
            return Preflight::Refused;
        };

        // The method and every requested header must be allowed.
        let method_allowed = Method::from_bytes(method.as_bytes()).is_ok_and(|m| {
            matches!(
                m,
                Method::GET | Method::PUT | Method::POST | Method::DELETE | Method::HEAD
            )
        });
        let requested: Vec<String> = headers
            .get_all(ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        let headers_allowed = requested.iter().all(|name| {
            ALLOWED_HEADERS.contains(&name.as_str()) || name.starts_with(ALLOWED_HEADER_PREFIX)
        });
        if !method_allowed || !headers_allowed {
            return Preflight::Refused;
        }

        // Echo what was asked for, as S3 does.
        let mut answer = HeaderMap::new();
        answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        answer.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        if !requested.is_empty()
            && let Ok(value) = HeaderValue::from_str(&requested.join(", "))
        {
            answer.insert(ACCESS_CONTROL_ALLOW_HEADERS, value);
        }
        answer.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        answer.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECS),
        );
        answer.insert(VARY, vary_value());
        Preflight::Allowed(answer)
    }

    /// Adds CORS headers to an actual response when the origin is ours.
    pub(crate) fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        response.append(VARY, vary_value());
        if let Some(origin) = self.allowed_origin(request) {
            response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            response.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
    }
}

fn vary_value() -> HeaderValue {
    HeaderValue::from_static(
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    )
}

impl Preflight {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Preflight::Allowed(_) => StatusCode::OK,
            Preflight::Malformed => StatusCode::BAD_REQUEST,
            Preflight::Refused => StatusCode::FORBIDDEN,
        }
    }

    /// The S3 error code of a refusal, for the body and the access log.
    pub(crate) fn error_code(&self) -> Option<&'static str> {
        match self {
            Preflight::Allowed(_) => None,
            Preflight::Malformed => Some("BadRequest"),
            Preflight::Refused => Some("AccessForbidden"),
        }
    }

    pub(crate) fn message(&self) -> &'static str {
        match self {
            Preflight::Allowed(_) => "",
            Preflight::Malformed => "Insufficient information. Origin request header needed.",
            Preflight::Refused => "CORSResponse: This CORS request is not allowed.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTAL: &str = "http://127.0.0.1:3000";

    fn policy() -> CorsPolicy {
        CorsPolicy::new(&[PORTAL.to_owned(), "null".to_owned(), "*".to_owned()])
    }

    fn preflight_headers(origin: &str, method: &str, headers: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in [
            (ORIGIN, origin),
            (ACCESS_CONTROL_REQUEST_METHOD, method),
            (ACCESS_CONTROL_REQUEST_HEADERS, headers),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(name, value);
            }
        }
        map
    }

    #[test]
    fn a_presigned_part_put_from_the_portal_is_allowed_and_etag_exposed() {
        let asked = preflight_headers(PORTAL, "PUT", "content-type, x-amz-checksum-sha256");
        let Preflight::Allowed(answer) = policy().preflight(&asked) else {
            panic!("the portal's preflight was refused");
        };
        assert_eq!(
            answer
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.as_bytes()),
            Some(PORTAL.as_bytes())
        );
        let exposed = answer
            .get(ACCESS_CONTROL_EXPOSE_HEADERS)
            .and_then(|v| v.to_str().ok());
        assert!(exposed.is_some_and(|v| v.starts_with("ETag")));
    }

    #[test]
    fn another_origin_is_refused() {
        let asked = preflight_headers("http://evil.example", "PUT", "content-type");
        assert_eq!(policy().preflight(&asked), Preflight::Refused);
    }

    #[test]
    fn the_null_origin_is_refused_even_if_configured() {
        let asked = preflight_headers("null", "PUT", "");
        assert_eq!(policy().preflight(&asked), Preflight::Refused);
    }

    #[test]
    fn a_prefix_of_an_allowed_origin_does_not_match() {
        let asked = preflight_headers("http://127.0.0.1:30000", "PUT", "");
        assert_eq!(policy().preflight(&asked), Preflight::Refused);
    }

    #[test]
    fn an_unlisted_method_or_header_is_refused() {
        assert_eq!(
            policy().preflight(&preflight_headers(PORTAL, "PATCH", "")),
            Preflight::Refused
        );
        let asked = preflight_headers(PORTAL, "PUT", "x-secret-thing");
        assert_eq!(policy().preflight(&asked), Preflight::Refused);
    }

    #[test]
    fn an_options_request_without_origin_is_malformed() {
        let mut asked = HeaderMap::new();
        asked.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PUT"),
        );
        assert_eq!(policy().preflight(&asked), Preflight::Malformed);
    }

    #[test]
    fn actual_responses_get_cors_headers_only_for_our_origin() {
        let mut ours = HeaderMap::new();
        ours.insert(ORIGIN, HeaderValue::from_static(PORTAL));
        let mut response = HeaderMap::new();
        policy().decorate(&ours, &mut response);
        assert!(response.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));

        let mut theirs = HeaderMap::new();
        theirs.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        let mut response = HeaderMap::new();
        policy().decorate(&theirs, &mut response);
        assert!(!response.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }
}
