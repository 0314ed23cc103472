//! `GET /api/v1/models/{name}/versions/{n}/files/{*path}`: who may
//! download, what is recorded, and what the presigned URL it redirects to
//! makes S3 answer. Share links redirect through the same code, so their
//! tests use the helpers here.

mod access;
mod redirect;

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{CACHE_CONTROL, HeaderMap};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::support::{TestApp, location};
use crate::uploads::client::Uploader;

/// Characters a path segment carries unencoded in these tests' URLs.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A file path as it goes into a URL: each segment percent-encoded.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The download route of one file.
pub fn download_path(model: &str, version: u64, path: &str) -> String {
    format!(
        "/api/v1/models/{model}/versions/{version}/files/{}",
        encode_path(path)
    )
}

/// Asks for a download on the user's session, without following the
/// redirect.
pub async fn ask(user: &Uploader, model: &str, version: u64, path: &str) -> Response {
    user.request(Method::GET, &download_path(model, version, path))
        .send()
        .await
        .expect("GET a download")
}

/// What S3 answered to a presigned GET fetched without any of Coffer's
/// cookies.
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Follows a download redirect the way a browser leaves the portal: a
/// fresh client, no cookies, no `Authorization`.
pub async fn follow(redirect: &Response) -> Fetched {
    assert_eq!(redirect.status(), StatusCode::FOUND, "a download redirects");
    let response = reqwest::Client::new()
        .get(location(redirect))
        .send()
        .await
        .expect("GET the presigned URL");
    Fetched {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// The query parameters of a redirect's `Location`.
pub fn query_of(redirect: &Response) -> HashMap<String, String> {
    location(redirect).query_pairs().into_owned().collect()
}

/// The `x-request-id` a response carries.
pub fn request_id(response: &Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("x-request-id")
        .to_owned()
}

/// Checks what every download redirect carries: no caching, no referer,
/// a presigned URL for the artifact bucket that lives `ttl` seconds,
/// forces an attachment of an opaque type, and names the request.
pub fn assert_download_redirect(app: &TestApp, redirect: &Response, ttl: u64) {
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let header = |name| {
        redirect
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header(CACHE_CONTROL), "no-store");
    assert_eq!(header(reqwest::header::REFERRER_POLICY), "no-referrer");

    let target: Url = location(redirect);
    assert!(
        target
            .path()
            .starts_with(&format!("/{}/artifacts/", app.bucket())),
        "{}",
        target.path()
    );
    let query = query_of(redirect);
    assert_eq!(query.get("X-Amz-Expires"), Some(&ttl.to_string()));
    assert_eq!(
        query.get("response-content-type").map(String::as_str),
        Some("application/octet-stream")
    );
    assert!(
        query
            .get("response-content-disposition")
            .is_some_and(|value| value.starts_with("attachment; filename=\"")),
        "{query:?}"
    );
    assert_eq!(
        query.get("x-coffer-request"),
        Some(&request_id(redirect)),
        "the URL names the request that minted it"
    );
    let signed = query
        .get("X-Amz-SignedHeaders")
        .cloned()
        .unwrap_or_default();
    assert_eq!(signed, "host", "only the host header is signed");
}
