//! A local stand-in for CloudTrail's `LookupEvents`, where no local server
//! can play the part: it answers with events built from a real-format
//! response (`fixtures/lookup-events.json`), pages with opaque
//! `NextToken`s that only work with the same parameters, and can answer
//! `ThrottlingException` as CloudTrail does past two calls a second.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What a test sees of the stub's calls.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub body: Value,
    pub throttled: bool,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Value>,
    calls: Vec<Call>,
    throttle_next: usize,
}

/// A running stub.
#[derive(Clone)]
pub struct LookupStub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl LookupStub {
    /// A stub holding `count` management events, newest first, each a copy
    /// of the fixture's events with its own id, time, name and user.
    pub async fn start(count: usize) -> LookupStub {
        let fixture: Value =
            serde_json::from_str(include_str!("fixtures/lookup-events.json")).expect("fixture");
        let templates = fixture["Events"].as_array().expect("events").clone();
        let newest = templates[0]["EventTime"].as_f64().expect("a time");
        let events = (0..count)
            .map(|index| {
                let mut event = templates[index % templates.len()].clone();
                let id = format!("00000000-0000-4000-8000-{index:012}");
                let time = newest - index as f64 * 60.0;
                let user = format!("user{}", index % 3);
                let mut inner: Value =
                    serde_json::from_str(event["CloudTrailEvent"].as_str().expect("a record"))
                        .expect("the record parses");
                inner["eventID"] = json!(id);
                inner["eventTime"] = json!(rfc3339(time));
                inner["userIdentity"]["userName"] = json!(user);
                event["EventId"] = json!(id);
                event["EventTime"] = json!(time);
                event["Username"] = json!(user);
                event["CloudTrailEvent"] = json!(inner.to_string());
                event
            })
            .collect();
        let inner = Arc::new(Mutex::new(Inner {
            events,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/", post(lookup))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        LookupStub { url, inner }
    }

    /// Answers the next `calls` calls with `ThrottlingException`.
    pub fn throttle(&self, calls: usize) {
        self.inner.lock().expect("stub state").throttle_next = calls;
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().expect("stub state").calls.clone()
    }
}

fn rfc3339(seconds: f64) -> String {
    let time = time::OffsetDateTime::from_unix_timestamp(seconds as i64).expect("a time");
    time.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

async fn lookup(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if target != "CloudTrail_20131101.LookupEvents" {
        return error("UnknownOperationException", "unknown operation");
    }
    if !headers.contains_key("authorization") {
        return error(
            "MissingAuthenticationTokenException",
            "the request is not signed",
        );
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let mut state = inner.lock().expect("stub state");

    // Past the allowance, CloudTrail refuses the call.
    let throttled = state.throttle_next > 0;
    state.calls.push(Call {
        at: Instant::now(),
        body: request.clone(),
        throttled,
    });
    if throttled {
        state.throttle_next -= 1;
        return error("ThrottlingException", "Rate exceeded");
    }

    // The filters, then the page the token names.
    let attribute = request["LookupAttributes"][0].clone();
    let start = request["StartTime"].as_f64().unwrap_or(f64::MIN);
    let end = request["EndTime"].as_f64().unwrap_or(f64::MAX);
    let matching: Vec<&Value> = state
        .events
        .iter()
        .filter(|event| {
            let time = event["EventTime"].as_f64().unwrap_or_default();
            let attribute_ok = match attribute["AttributeKey"].as_str() {
                Some("Username") => event["Username"] == attribute["AttributeValue"],
                Some("EventName") => event["EventName"] == attribute["AttributeValue"],
                Some(_) => false,
                None => true,
            };
            attribute_ok && time >= start && time <= end
        })
        .collect();
    let size = request["MaxResults"].as_u64().unwrap_or(50).min(50) as usize;
    let fingerprint = format!("{attribute}|{start}|{end}");
    let offset = match request["NextToken"].as_str() {
        None => 0,
        Some(token) => match decode_token(token) {
            Some((offset, seen)) if seen == fingerprint => offset,
            _ => return error("InvalidNextTokenException", "Invalid NextToken"),
        },
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(size)
        .map(|e| (*e).clone())
        .collect();
    let mut answer = json!({ "Events": page });
    if offset + size < matching.len() {
        answer["NextToken"] = json!(encode_token(offset + size, &fingerprint));
    }
    (
        [("content-type", "application/x-amz-json-1.1")],
        answer.to_string(),
    )
        .into_response()
}

fn encode_token(offset: usize, fingerprint: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{offset}\n{fingerprint}"))
}

fn decode_token(token: &str) -> Option<(usize, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (offset, fingerprint) = text.split_once('\n')?;
    Some((offset.parse().ok()?, fingerprint.to_owned()))
}

fn error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", code),
        ],
        json!({ "__type": code, "message": message }).to_string(),
    )
        .into_response()
}
