//! CloudTrail management events through `LookupEvents`, and the row every
//! CloudTrail record becomes (management events here, S3 data events from
//! the trail's files in [`super::trail_files`]).
//!
//! `LookupEvents` allows two calls a second per account and region; a
//! rate limiter spaces this instance's calls half a second apart, and a
//! call CloudTrail still answers with `ThrottlingException` (other
//! instances share the budget) is tried again after a growing pause, each
//! try under the limiter too. A page names one lookup attribute
//! at most (the actor as `Username`, else the action as `EventName`);
//! other filters are checked on the events. The stream's cursor is the
//! `NextToken` of the lookup page it stopped in and how many of that
//! page's events were read, since CloudTrail pages only by whole pages.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_cloudtrail::operation::lookup_events::{LookupEventsError, LookupEventsOutput};
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use coffer_app::audit::api::{AuditEventRow, Source};
use coffer_logs::cloudtrail::TrailRecord;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Event, EventStream, Filters, StreamPage, model_of_key, rfc3339};
use crate::error::ApiError;
use crate::storage::Endpoint;

/// Events one lookup page holds at most (CloudTrail's own maximum).
const LOOKUP_PAGE: i32 = 50;

/// Lookup calls one dashboard page makes at most: at two a second, a page
/// never waits more than a few seconds.
const CALLS_PER_PAGE: usize = 4;

/// The least time between two calls: CloudTrail allows two a second.
const CALL_SPACING: Duration = Duration::from_millis(500);

/// Tries of one call before a throttled or unreachable CloudTrail is an
/// error, and the pause before the second try (doubled for each next).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Management events through `LookupEvents`.
#[derive(Clone)]
pub struct LookupStream {
    client: Client,
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for LookupStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("LookupStream")
            .finish_non_exhaustive()
    }
}

impl LookupStream {
    /// A client for the configured endpoint, under this instance's rate
    /// limit. The SDK's own retries are off: they would not wait for the
    /// limiter, so [`LookupStream::send`] retries instead.
    pub async fn connect(endpoint: &Endpoint) -> LookupStream {
        let retry = RetryConfig::disabled();
        let config = match endpoint {
            Endpoint::Static {
                url,
                access_key_id,
                secret_access_key,
            } => aws_sdk_cloudtrail::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(url)
                .credentials_provider(Credentials::new(
                    access_key_id,
                    secret_access_key.expose_secret(),
                    None,
                    None,
                    "coffer-embedded",
                ))
                .retry_config(retry)
                .build(),
            Endpoint::Aws => {
                let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
                aws_sdk_cloudtrail::config::Builder::from(&shared)
                    .retry_config(retry)
                    .build()
            }
        };
        // One call per spacing, never two at once.
        let quota = Quota::with_period(CALL_SPACING)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::MIN);
        LookupStream {
            client: Client::from_conf(config),
            limiter: Arc::new(RateLimiter::direct(quota)),
        }
    }

    /// Sends a lookup under the rate limit, trying again after a growing
    /// pause while CloudTrail throttles it or cannot be reached.
    async fn send(
        &self,
        call: aws_sdk_cloudtrail::operation::lookup_events::builders::LookupEventsFluentBuilder,
    ) -> Result<LookupEventsOutput, SdkError<LookupEventsError>> {
        let mut pause = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            self.limiter.until_ready().await;
            match call.clone().send().await {
                Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                    tracing::debug!(
                        cloudtrail.attempt = attempt,
                        "CloudTrail lookup throttled or unreachable; trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }

    /// Whether CloudTrail answers at all, for readiness and coverage.
    pub async fn probe(&self) -> Result<Option<OffsetDateTime>, String> {
        let answer = self
            .send(self.client.lookup_events().max_results(1))
            .await
            .map_err(|error| describe(&error))?;
        Ok(answer
            .events()
            .first()
            .and_then(|event| event.event_time())
            .and_then(|time| OffsetDateTime::from_unix_timestamp(time.secs()).ok()))
    }
}

/// Where a lookup listing stands: the page it is in and how far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Place {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(default)]
    read: usize,
}

impl Place {
    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[async_trait]
impl EventStream for LookupStream {
    fn name(&self) -> &'static str {
        "cloudtrail"
    }

    async fn page(
        &self,
        filters: &Filters,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<StreamPage, ApiError> {
        let mut place: Place = match cursor {
            Some(text) => serde_json::from_str(text).map_err(|_| {
                ApiError::BadRequest(
                    "the CloudTrail cursor is not one this listing gave out".into(),
                )
            })?,
            None => Place::default(),
        };
        let attribute = lookup_attribute(filters);

        // Whole lookup pages, skipping what an earlier page already read.
        let mut page = StreamPage::default();
        for _ in 0..CALLS_PER_PAGE {
            let call = self
                .client
                .lookup_events()
                .set_lookup_attributes(attribute.clone().map(|attribute| vec![attribute]))
                .set_start_time(filters.from.map(sdk_time))
                .set_end_time(filters.to.map(sdk_time))
                .max_results(LOOKUP_PAGE)
                .set_next_token(place.token.clone());
            let answer = self.send(call).await.map_err(|error| {
                ApiError::ServiceUnavailable(format!(
                    "CloudTrail could not be read: {}",
                    describe(&error)
                ))
            })?;

            // Rows in the page's order, each with the place after it.
            let events = answer.events();
            for (index, event) in events.iter().enumerate().skip(place.read) {
                let Some(record) = event
                    .cloud_trail_event()
                    .and_then(|json| serde_json::from_str::<TrailRecord>(json).ok())
                else {
                    page.malformed_lines += 1;
                    continue;
                };
                page.scanned_to = Some(record.event_time);
                let after = Place {
                    token: place.token.clone(),
                    read: index + 1,
                };
                let event = Event {
                    time: record.event_time,
                    row: row_of(&record, "management"),
                    after: after.encode(),
                };
                if page.offer(filters, event, limit) {
                    return Ok(page);
                }
            }

            // On to the next lookup page, if there is one.
            match answer.next_token() {
                Some(token) => {
                    place = Place {
                        token: Some(token.to_owned()),
                        read: 0,
                    }
                }
                None => {
                    page.done = true;
                    place.read = events.len();
                    break;
                }
            }
        }
        page.next = Some(place.encode());
        Ok(page)
    }
}

/// The one lookup attribute a query can use: the actor as the user name,
/// else the action as the event name.
fn lookup_attribute(filters: &Filters) -> Option<LookupAttribute> {
    let (key, value) = match (&filters.actor, &filters.action) {
        (Some(actor), _) => (LookupAttributeKey::Username, actor),
        (None, Some(action)) => (LookupAttributeKey::EventName, action),
        (None, None) => return None,
    };
    LookupAttribute::builder()
        .attribute_key(key)
        .attribute_value(value)
        .build()
        .ok()
}

/// Whether a failed call may succeed if tried again: throttled, timed out
/// or not delivered.
fn is_transient(error: &SdkError<LookupEventsError>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(_) => matches!(
            error.code(),
            Some("ThrottlingException" | "ThrottledException" | "RequestLimitExceeded")
        ),
        _ => false,
    }
}

fn sdk_time(time: OffsetDateTime) -> DateTime {
    DateTime::from_secs(time.unix_timestamp())
}

/// An SDK failure in a sentence, without request details.
fn describe<E: std::error::Error + aws_sdk_cloudtrail::error::ProvideErrorMetadata + 'static>(
    error: &aws_sdk_cloudtrail::error::SdkError<E>,
) -> String {
    match error.code() {
        Some(code) => format!("{code}: {}", error.message().unwrap_or("no message")),
        None => format!("{}", aws_sdk_cloudtrail::error::DisplayErrorContext(error)),
    }
}

/// A CloudTrail record as a dashboard row. `category` says which kind of
/// event it is, for readers who see both on one timeline.
pub fn row_of(record: &TrailRecord, category: &str) -> AuditEventRow {
    let identity = record.user_identity.as_ref();
    let actor = identity
        .and_then(|identity| identity.user_name.clone().or_else(|| identity.arn.clone()))
        .or_else(|| identity.and_then(|identity| identity.principal_id.clone()))
        .unwrap_or_else(|| "unknown".to_owned());
    let parameters = record.request_parameters.as_ref();
    let text = |name: &str| {
        parameters
            .and_then(|parameters| parameters.get(name))
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    };
    let key = text("key");
    let (model, version) = key
        .as_deref()
        .and_then(model_of_key)
        .map_or((None, None), |(model, version)| (Some(model), version));

    let mut fields = std::collections::BTreeMap::new();
    fields.insert("category".to_owned(), category.to_owned());
    fields.insert("event_source".to_owned(), record.event_source.clone());
    let optional = [
        ("event_id", record.event_id.clone()),
        ("source_ip", record.source_ip_address.clone()),
        ("user_agent", record.user_agent.clone()),
        ("region", record.aws_region.clone()),
        ("bucket", text("bucketName")),
        ("key", key),
        (
            "authentication",
            record.is_presigned().then(|| "QueryString".to_owned()),
        ),
        ("error_message", record.error_message.clone()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    }
    AuditEventRow {
        source: Source::Cloudtrail,
        time: rfc3339(record.event_time),
        actor,
        action: record.event_name.clone(),
        outcome: outcome_of(record).to_owned(),
        model,
        version,
        request_id: record.request_id.clone(),
        detail: record.error_code.clone(),
        fields,
        ..AuditEventRow::default()
    }
}

/// How a recorded call ended; a refused console sign-in says so only in
/// its response, without an error code.
fn outcome_of(record: &TrailRecord) -> &'static str {
    let console_failure = record
        .response_elements
        .as_ref()
        .and_then(|elements| elements.get("ConsoleLogin"))
        .and_then(|value| value.as_str())
        == Some("Failure");
    if console_failure {
        return "failure";
    }
    outcome_name(record.outcome())
}

/// The dashboard's name for an outcome.
pub fn outcome_name(outcome: coffer_logs::Outcome) -> &'static str {
    match outcome {
        coffer_logs::Outcome::Success => "success",
        coffer_logs::Outcome::Failure => "failure",
        coffer_logs::Outcome::Denied => "denied",
    }
}
