//! Share links: who may create, list and revoke them; what a link opens
//! and when it stops; the use limit under concurrent clicks; and the
//! token, which must never be stored, recorded or logged.

mod access;
mod concurrency;
mod links;
mod logs;

use coffer_app::shares::api::{CreatedShare, ShareList, ShareView};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::downloads::encode_path;
use crate::support::{TestApp, bare_client};
use crate::uploads::client::{Answer, Uploader};

/// A link just created, with its token.
pub struct Link {
    pub created: CreatedShare,
    pub token: String,
}

/// `POST /api/v1/shares` with any body.
pub async fn try_create(user: &Uploader, body: &Value) -> Answer {
    user.post("/api/v1/shares", body).await
}

/// Creates a link and checks it was accepted.
pub async fn create(user: &Uploader, body: Value) -> Link {
    let answer = try_create(user, &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    let created: CreatedShare = answer.json();
    let token = token_of(&created.url);
    Link { created, token }
}

/// A link for a whole version with no limit.
pub async fn share_version(user: &Uploader, model: &str, version: u64) -> Link {
    create(user, json!({ "model": model, "version": version })).await
}

/// The token at the end of a link's URL.
pub fn token_of(url: &str) -> String {
    url.rsplit_once("/s/")
        .map(|(_, token)| token.to_owned())
        .unwrap_or_else(|| panic!("not a share URL: {url}"))
}

/// A recipient's download through a link: no session, no redirect
/// followed.
pub async fn use_link(app: &TestApp, token: &str, path: &str) -> Response {
    bare_client()
        .get(app.at(&format!("/s/{token}/files/{}", encode_path(path))))
        .send()
        .await
        .expect("GET a shared file")
}

/// The status and JSON error code of a response.
pub async fn status_and_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code)
}

/// The user's `GET /api/v1/shares`.
pub async fn list(user: &Uploader) -> Vec<ShareView> {
    let answer = user.get("/api/v1/shares").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.json::<ShareList>().shares
}

/// `DELETE /api/v1/shares/{id}` on the user's session.
pub async fn revoke(user: &Uploader, id: &str) -> Answer {
    user.delete(&format!("/api/v1/shares/{id}")).await
}

/// A token of the right shape with one character changed.
pub fn tampered(token: &str) -> String {
    // The first character carries six full bits, so any other character
    // there still decodes to 32 bytes.
    let first = token.chars().next().expect("a token");
    let other = if first == 'A' { 'B' } else { 'A' };
    format!("{other}{}", &token[1..])
}
