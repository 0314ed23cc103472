//! A test client for the upload API: a signed-in user's browser session
//! for the JSON calls, and plain cookie-less PUTs of part bytes to the
//! presigned URLs, as the upload page sends them straight to S3.

use coffer_app::upload::api::{
    CompleteUpload, FileDeclaration, FileDigest, PartRequest, PartUrl, PartUrls, PartsRequest,
    StartUpload, UploadStatus, VersionView,
};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::sha256_hex;
use crate::s3::sha256_b64;
use crate::support::{TestApp, browser, me, sign_in};

/// A JSON API answer: the status and the body (`null` when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl Answer {
    /// The `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `error.message` of an error answer.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The body as a wire type.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|error| panic!("unexpected body ({error}): {}", self.body))
    }

    /// Checks an error answer's status, code and the gist of its message.
    pub fn assert_error(&self, status: StatusCode, code: &str, message: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.code(), code, "{self:?}");
        assert!(
            self.message().contains(message),
            "expected a message containing {message:?}: {self:?}"
        );
    }
}

/// One signed-in user of the upload API. It keeps the portal's URL, not
/// the app, so it outlives `TestApp::restart` (same port, sessions kept in
/// the bucket).
pub struct Uploader {
    pub username: String,
    base: String,
    session: Client,
    csrf_token: String,
    plain: Client,
}

impl Uploader {
    /// Signs `username` in through the development provider.
    pub async fn sign_in(app: &TestApp, username: &str) -> Uploader {
        let session = browser();
        sign_in(app, &session, username).await;
        let (status, body) = me(app, &session).await;
        assert_eq!(status, StatusCode::OK, "{username} is signed in");
        let csrf_token = body["csrf_token"]
            .as_str()
            .expect("/api/v1/me answers a CSRF token")
            .to_owned();
        Uploader {
            username: username.to_owned(),
            base: app.url.clone(),
            session,
            csrf_token,
            plain: Client::new(),
        }
    }

    /// The same browser session, talking to another instance of the
    /// portal (the session cookie is valid on every instance).
    pub fn at_instance(&self, app: &TestApp) -> Uploader {
        Uploader {
            username: self.username.clone(),
            base: app.url.clone(),
            session: self.session.clone(),
            csrf_token: self.csrf_token.clone(),
            plain: self.plain.clone(),
        }
    }

    /// A request on the user's session; state-changing ones carry the
    /// CSRF token, as the upload page sends it.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let changes_state = !matches!(method, Method::GET | Method::HEAD);
        let request = self.request_without_token(method, path);
        if changes_state {
            request.header("x-csrf-token", &self.csrf_token)
        } else {
            request
        }
    }

    /// A request on the user's session that carries no CSRF token.
    pub fn request_without_token(&self, method: Method, path: &str) -> RequestBuilder {
        self.session.request(method, format!("{}{path}", self.base))
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &impl Serialize) -> Answer {
        answer(self.request(Method::POST, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        answer(self.request(Method::DELETE, path)).await
    }

    /// `POST /api/v1/models/{model}/uploads` with any request.
    pub async fn try_start(&self, model: &str, request: &StartUpload) -> Answer {
        self.post(&format!("/api/v1/models/{model}/uploads"), request)
            .await
    }

    /// Starts an upload of the given files and checks it was accepted.
    pub async fn start(&self, model: &str, files: &[(&str, &[u8])]) -> UploadStatus {
        let answer = self.try_start(model, &start_request(files)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.json()
    }

    /// `GET` on the upload.
    pub async fn status(&self, upload: &UploadStatus) -> Answer {
        self.get(&upload_path(upload)).await
    }

    /// `POST .../parts` with any request.
    pub async fn try_sign(&self, upload: &UploadStatus, request: &PartsRequest) -> Answer {
        self.post(&format!("{}/parts", upload_path(upload)), request)
            .await
    }

    /// Part URLs for `parts` of file `file`, each signing its bytes'
    /// SHA-256.
    pub async fn sign(
        &self,
        upload: &UploadStatus,
        file: usize,
        parts: &[(u32, &[u8])],
    ) -> Vec<PartUrl> {
        let answer = self.try_sign(upload, &parts_request(file, parts)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.json::<PartUrls>().parts
    }

    /// PUTs `body` to a part URL with the headers it came with, without
    /// cookies; answers the status and the S3 body.
    pub async fn put_part(&self, url: &PartUrl, body: &[u8]) -> (StatusCode, String) {
        self.try_put_part(url, body).await.expect("PUT a part")
    }

    /// Like `put_part`, but answers the transport error too: an endpoint
    /// may refuse a part from its headers alone and close the connection
    /// while the body is still being sent.
    pub async fn try_put_part(
        &self,
        url: &PartUrl,
        body: &[u8],
    ) -> Result<(StatusCode, String), reqwest::Error> {
        let mut request = self.plain.put(&url.url);
        for (name, value) in &url.headers {
            request = request.header(name, value);
        }
        let response = request.body(body.to_vec()).send().await?;
        let status = response.status();
        Ok((status, response.text().await.unwrap_or_default()))
    }

    /// Signs and sends the given parts of a file, checking S3 took each.
    pub async fn send_parts(&self, upload: &UploadStatus, file: usize, parts: &[(u32, &[u8])]) {
        let urls = self.sign(upload, file, parts).await;
        for (url, (number, bytes)) in urls.iter().zip(parts) {
            assert_eq!(url.number, *number);
            let (status, body) = self.put_part(url, bytes).await;
            assert_eq!(status, StatusCode::OK, "part {number}: {body}");
        }
    }

    /// Sends every part of a file as the server planned them.
    pub async fn send_file(&self, upload: &UploadStatus, file: usize, data: &[u8]) {
        let part_size = upload.files[file].part_size;
        self.send_parts(upload, file, &parts_of(data, part_size))
            .await;
    }

    /// `POST .../complete` with any request.
    pub async fn try_complete(&self, upload: &UploadStatus, request: &CompleteUpload) -> Answer {
        self.post(&format!("{}/complete", upload_path(upload)), request)
            .await
    }

    /// Completes with each file's true SHA-256 and checks it published.
    pub async fn complete(&self, upload: &UploadStatus, files: &[&[u8]]) -> VersionView {
        let answer = self.try_complete(upload, &complete_request(files)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.json()
    }

    /// Starts, sends every part and completes: a whole upload.
    pub async fn publish(&self, model: &str, files: &[(&str, &[u8])]) -> VersionView {
        let upload = self.start(model, files).await;
        for (index, (_, data)) in files.iter().enumerate() {
            self.send_file(&upload, index, data).await;
        }
        let data: Vec<&[u8]> = files.iter().map(|(_, data)| *data).collect();
        self.complete(&upload, &data).await
    }

    /// `DELETE` on the upload.
    pub async fn abort(&self, upload: &UploadStatus) -> Answer {
        self.delete(&upload_path(upload)).await
    }

    /// `GET /api/v1/models/{model}/versions/{version}`.
    pub async fn version(&self, model: &str, version: u64) -> Answer {
        self.get(&format!("/api/v1/models/{model}/versions/{version}"))
            .await
    }

    /// The ids of the user's open uploads, from `GET /api/v1/uploads`.
    pub async fn open_upload_ids(&self) -> Vec<String> {
        let answer = self.get("/api/v1/uploads").await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.body["uploads"]
            .as_array()
            .expect("an uploads array")
            .iter()
            .map(|upload| upload["upload_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Sends a request and reads its JSON answer.
pub async fn answer(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("API request");
    let status = response.status();
    let text = response.text().await.expect("answer body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Answer { status, body }
}

/// The upload's own API path.
pub fn upload_path(upload: &UploadStatus) -> String {
    format!(
        "/api/v1/models/{}/uploads/{}",
        upload.model, upload.upload_id
    )
}

/// A start request for files given by path and content, without declared
/// checksums.
pub fn start_request(files: &[(&str, &[u8])]) -> StartUpload {
    StartUpload {
        files: files
            .iter()
            .map(|(path, data)| FileDeclaration {
                path: (*path).to_owned(),
                size: data.len() as u64,
                sha256: None,
                fingerprint: None,
            })
            .collect(),
        ..StartUpload::default()
    }
}

/// A parts request signing each part's bytes.
pub fn parts_request(file: usize, parts: &[(u32, &[u8])]) -> PartsRequest {
    PartsRequest {
        file,
        parts: parts
            .iter()
            .map(|(number, bytes)| PartRequest {
                number: *number,
                sha256: sha256_b64(bytes),
            })
            .collect(),
    }
}

/// A completion naming each file's true SHA-256.
pub fn complete_request(files: &[&[u8]]) -> CompleteUpload {
    CompleteUpload {
        files: files
            .iter()
            .enumerate()
            .map(|(index, data)| FileDigest {
                index,
                sha256: sha256_hex(data),
            })
            .collect(),
    }
}

/// A file cut into its planned parts, numbered from 1; an empty file has
/// one empty part.
pub fn parts_of(data: &[u8], part_size: u64) -> Vec<(u32, &[u8])> {
    if data.is_empty() {
        return vec![(1, data)];
    }
    let part_size = usize::try_from(part_size).expect("part size fits in memory");
    data.chunks(part_size)
        .zip(1..)
        .map(|(bytes, number)| (number, bytes))
        .collect()
}
