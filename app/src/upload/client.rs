//! Requests pages send through the browser's `fetch`: Coffer's JSON API
//! (with the session cookie and CSRF token) and the storage's presigned
//! part URLs (with neither). Every hydrated page uses [`Client`].

use std::fmt;

use js_sys::{Promise, Reflect};
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Blob, Headers, Request, RequestCredentials, RequestInit, RequestMode, Response,
};

use crate::upload::api::{
    CompleteUpload, PartUrl, PartUrls, PartsRequest, StartUpload, UploadList, UploadStatus,
    VersionView,
};
use crate::upload::state::ModelSuggestion;

/// Why a request did not get the answer it wanted.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// No answer came; `offline` when the browser knows the network is gone.
    Network { offline: bool, detail: String },
    /// The page stopped the request itself.
    Aborted,
    /// An error answer; `code` and `message` from Coffer's error body or
    /// the storage's XML.
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer that is not what the API documents.
    Invalid(String),
}

impl ApiError {
    /// Whether trying the same request later may work.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Network { .. } => true,
            ApiError::Status { status, .. } => *status >= 500 || *status == 408,
            ApiError::Aborted | ApiError::Invalid(_) => false,
        }
    }

    /// Whether the browser reports the network gone.
    pub fn is_offline(&self) -> bool {
        matches!(self, ApiError::Network { offline: true, .. })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Network { offline: true, .. } => write!(f, "the network is unreachable"),
            ApiError::Network { detail, .. } => write!(f, "no answer from the server ({detail})"),
            ApiError::Aborted => write!(f, "the request was stopped"),
            ApiError::Status { message, .. } if !message.is_empty() => write!(f, "{message}"),
            ApiError::Status { status, code, .. } => write!(f, "error {status} {code}"),
            ApiError::Invalid(detail) => write!(f, "{detail}"),
        }
    }
}

/// Whether the browser believes it is online.
pub fn is_online() -> bool {
    web_sys::window().is_none_or(|window| window.navigator().on_line())
}

/// Milliseconds since the epoch, by the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Waits without blocking the page.
pub async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().and_then(|window| {
            window
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32)
                .ok()
        });
        // Without a timer there is nothing to wait on; go on at once.
        if scheduled.is_none() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// A JavaScript failure's message, for people.
pub fn describe(error: &JsValue) -> String {
    Reflect::get(error, &JsValue::from_str("message"))
        .ok()
        .and_then(|message| message.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// Coffer's JSON API, as the signed-in user.
#[derive(Clone, Debug)]
pub struct Client {
    /// Sent with every state-changing request: the session's CSRF token.
    csrf_token: String,
}

impl Client {
    pub fn new(csrf_token: String) -> Self {
        Self { csrf_token }
    }

    /// `GET /api/v1/uploads`: the caller's open uploads.
    pub async fn open_uploads(&self) -> Result<Vec<UploadStatus>, ApiError> {
        let list: UploadList = self.get("/api/v1/uploads").await?;
        Ok(list.uploads)
    }

    /// `GET /api/v1/models?q=`: names to suggest while typing (models with
    /// a word of their name starting with what was typed).
    pub async fn models(&self, prefix: &str) -> Result<Vec<ModelSuggestion>, ApiError> {
        let prefix = String::from(js_sys::encode_uri_component(prefix));
        let list: ModelList = self.get(&format!("/api/v1/models?q={prefix}")).await?;
        Ok(list
            .models
            .into_iter()
            .map(|model| ModelSuggestion {
                name: model.name,
                latest_version: model.latest_version,
            })
            .collect())
    }

    /// `POST /api/v1/models/{name}/uploads`.
    pub async fn start(&self, model: &str, body: &StartUpload) -> Result<UploadStatus, ApiError> {
        self.post(&format!("/api/v1/models/{model}/uploads"), body)
            .await
    }

    /// `GET /api/v1/models/{name}/uploads/{id}`, with the received parts.
    pub async fn status(&self, model: &str, id: &str) -> Result<UploadStatus, ApiError> {
        self.get(&format!("/api/v1/models/{model}/uploads/{id}"))
            .await
    }

    /// `POST .../parts`: presigned URLs for up to 100 parts of one file.
    pub async fn sign(
        &self,
        model: &str,
        id: &str,
        body: &PartsRequest,
    ) -> Result<PartUrls, ApiError> {
        self.post(&format!("/api/v1/models/{model}/uploads/{id}/parts"), body)
            .await
    }

    /// `POST .../complete`: publishes the version.
    pub async fn complete(
        &self,
        model: &str,
        id: &str,
        body: &CompleteUpload,
    ) -> Result<VersionView, ApiError> {
        self.post(
            &format!("/api/v1/models/{model}/uploads/{id}/complete"),
            body,
        )
        .await
    }

    /// `DELETE /api/v1/models/{name}/uploads/{id}`: aborts the upload.
    pub async fn abort(&self, model: &str, id: &str) -> Result<(), ApiError> {
        self.delete(&format!("/api/v1/models/{model}/uploads/{id}"))
            .await
    }

    /// `GET` a JSON answer from the API.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let text = self.send("GET", path, None).await?;
        parse(path, &text)
    }

    /// `POST` a JSON body and read the JSON answer.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send_json("POST", path, body).await
    }

    /// `PUT` a JSON body and read the JSON answer.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send_json("PUT", path, body).await
    }

    /// `DELETE` a resource; the answer's body is not read.
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send("DELETE", path, None).await.map(drop)
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let json = serde_json::to_string(body)
            .map_err(|error| ApiError::Invalid(format!("could not encode the request: {error}")))?;
        let text = self.send(method, path, Some(&json)).await?;
        parse(path, &text)
    }

    /// Sends one request and answers the body of a success.
    async fn send(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, ApiError> {
        // Build the request: same-origin cookie, JSON both ways, and the
        // CSRF token on anything that changes state.
        let headers = Headers::new().map_err(js_invalid)?;
        headers
            .set("Accept", "application/json")
            .map_err(js_invalid)?;
        if method != "GET" {
            headers
                .set("X-CSRF-Token", &self.csrf_token)
                .map_err(js_invalid)?;
        }
        let init = RequestInit::new();
        init.set_method(method);
        init.set_credentials(RequestCredentials::SameOrigin);
        if let Some(body) = body {
            headers
                .set("Content-Type", "application/json")
                .map_err(js_invalid)?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        let request = Request::new_with_str_and_init(path, &init).map_err(js_invalid)?;

        // Any answer but a success becomes the API's error.
        let response = fetch(&request).await?;
        let text = response_text(&response).await?;
        if response.ok() {
            Ok(text)
        } else {
            Err(api_error(response.status(), &text))
        }
    }
}

/// PUTs one part to its presigned URL, with the headers the URL signs. The
/// body is a slice of the file, so the browser streams it from disk.
pub async fn put_part(url: &PartUrl, body: &Blob, signal: &AbortSignal) -> Result<(), ApiError> {
    let headers = Headers::new().map_err(js_invalid)?;
    for (name, value) in &url.headers {
        headers.set(name, value).map_err(js_invalid)?;
    }
    // The storage is another origin and must see no Coffer cookie.
    let init = RequestInit::new();
    init.set_method("PUT");
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_headers(&headers);
    init.set_body(body);
    init.set_signal(Some(signal));
    let request = Request::new_with_str_and_init(&url.url, &init).map_err(js_invalid)?;

    // The body is read even on success: a response dropped unread counts
    // as an aborted request in the browser's network log.
    let response = fetch(&request).await?;
    let text = response_text(&response).await.unwrap_or_default();
    if response.ok() {
        return Ok(());
    }
    Err(storage_error(response.status(), &text))
}

/// `fetch`, with its failures sorted into aborted and network errors.
async fn fetch(request: &Request) -> Result<Response, ApiError> {
    let window = web_sys::window().ok_or_else(|| ApiError::Invalid("no browser window".into()))?;
    let answer = JsFuture::from(window.fetch_with_request(request))
        .await
        .map_err(|error| fetch_error(&error))?;
    answer
        .dyn_into::<Response>()
        .map_err(|_| ApiError::Invalid("fetch answered something else than a response".into()))
}

/// A response's body as text; reading it can fail like the request.
async fn response_text(response: &Response) -> Result<String, ApiError> {
    let promise = response.text().map_err(js_invalid)?;
    let text = JsFuture::from(promise)
        .await
        .map_err(|error| fetch_error(&error))?;
    Ok(text.as_string().unwrap_or_default())
}

/// Sorts a rejected `fetch`: an `AbortError` is the page's own doing, any
/// other failure (a `TypeError`) means no answer came.
fn fetch_error(error: &JsValue) -> ApiError {
    let name = Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|name| name.as_string());
    if name.as_deref() == Some("AbortError") {
        return ApiError::Aborted;
    }
    ApiError::Network {
        offline: !is_online(),
        detail: describe(error),
    }
}

/// A browser API refused what the page asked of it.
fn js_invalid(error: JsValue) -> ApiError {
    ApiError::Invalid(describe(&error))
}

/// Parses a success body.
fn parse<T: DeserializeOwned>(path: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text)
        .map_err(|error| ApiError::Invalid(format!("unexpected answer from {path}: {error}")))
}

/// Coffer's `{"error": {"code", "message"}}`, or the bare status.
fn api_error(status: u16, text: &str) -> ApiError {
    let body: Option<ErrorBody> = serde_json::from_str(text).ok();
    let (code, message) = body
        .map(|body| (body.error.code, body.error.message))
        .unwrap_or_default();
    ApiError::Status {
        status,
        code,
        message,
    }
}

/// The storage's XML error: its `Code` and `Message`, when present.
fn storage_error(status: u16, text: &str) -> ApiError {
    let code = xml_element(text, "Code").unwrap_or_default();
    let message = match xml_element(text, "Message") {
        Some(message) => format!("the storage refused the part ({status} {code}: {message})"),
        None => format!("the storage refused the part ({status} {code})"),
    };
    ApiError::Status {
        status,
        code,
        message,
    }
}

/// The text of the first `<name>` element; S3's error bodies are flat.
fn xml_element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find("</")?;
    Some(text[start..end].to_owned())
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// `GET /api/v1/models`, as far as suggestions need it.
#[derive(Deserialize)]
struct ModelList {
    models: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    name: String,
    #[serde(default)]
    latest_version: Option<u64>,
}
