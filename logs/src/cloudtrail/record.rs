//! One CloudTrail record.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::Outcome;
use crate::outcome::is_denial_code;

/// One CloudTrail record, with the fields the dashboard reads by name.
///
/// Everything AWS may leave out is an `Option`, left out again when
/// written. Fields not named here (`sessionContext`, `tlsDetails`,
/// `sharedEventID`, ...) live in `other`, so nothing is lost on a round
/// trip. The JSON objects (`requestParameters`, ...) keep an explicit
/// `null` as `Some(Value::Null)`, because CloudTrail writes one when a call
/// had no parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<UserIdentity>,
    /// When the call was made; written in UTC as `2019-02-06T00:00:38Z`.
    #[serde(with = "event_time")]
    pub event_time: OffsetDateTime,
    /// The service called, such as `s3.amazonaws.com`.
    pub event_source: String,
    /// The API action, such as `GetObject`.
    pub event_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    pub source_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_parameters: Option<Value>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_elements: Option<Value>,
    /// Holds `AuthenticationMethod: QueryString` for presigned requests.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_event_data: Option<Value>,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "eventID", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<TrailResource>>,
    /// `AwsApiCall`, `AwsServiceEvent`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_event: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
    /// `Management`, `Data` or `Insight`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_category: Option<String>,
    /// Every field not named above, as CloudTrail wrote it.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Who made the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `IAMUser`, `AssumedRole`, `Root`, `AWSService`, ...
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// `sessionContext`, `invokedBy`, ... as CloudTrail wrote them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A resource the call touched, such as an S3 object or bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailResource {
    #[serde(rename = "ARN", skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `AWS::S3::Object`, `AWS::S3::Bucket`, ...
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl TrailRecord {
    /// How the call ended: denied for a permission error code
    /// (`AccessDenied`, `AccessDeniedException`, `*Unauthorized*`, ...),
    /// failed for any other error code, a success without one.
    pub fn outcome(&self) -> Outcome {
        match self.error_code.as_deref().filter(|code| !code.is_empty()) {
            None => Outcome::Success,
            Some(code) if is_denial_code(code) => Outcome::Denied,
            Some(_) => Outcome::Failure,
        }
    }

    /// Whether the call came through a presigned URL.
    pub fn is_presigned(&self) -> bool {
        self.additional_event_data
            .as_ref()
            .and_then(|data| data.get("AuthenticationMethod"))
            .and_then(Value::as_str)
            == Some("QueryString")
    }
}

/// A field that is there, even as `null`: `Some`, where serde's own
/// `Option` would turn `null` into `None` and lose it on the way out.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// `eventTime`: read as any RFC 3339 time, written as CloudTrail writes it,
/// in UTC with whole seconds unless the time has a fraction.
mod event_time {
    use serde::{Deserialize, Deserializer, Serializer, de};
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    use crate::decimal::push_padded;

    pub(super) fn serialize<S: Serializer>(
        time: &OffsetDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|err| de::Error::custom(format_args!("eventTime {text:?}: {err}")))
    }

    /// Never fails, unlike `time`'s RFC 3339 formatting, so writing a trail
    /// file cannot either.
    fn format(time: OffsetDateTime) -> String {
        // Only a time at the very edge of the representable range has no
        // UTC equivalent; it is written in its own offset's clock.
        let utc = time.checked_to_offset(UtcOffset::UTC).unwrap_or(time);

        // `YYYY-MM-DDTHH:MM:SS`, then a fraction only when there is one.
        let mut out = String::with_capacity(30);
        if utc.year() < 0 {
            out.push('-');
        }
        push_padded(&mut out, u64::from(utc.year().unsigned_abs()), 4);
        for (separator, value) in [
            ('-', u8::from(utc.month())),
            ('-', utc.day()),
            ('T', utc.hour()),
            (':', utc.minute()),
            (':', utc.second()),
        ] {
            out.push(separator);
            push_padded(&mut out, u64::from(value), 2);
        }
        if utc.nanosecond() != 0 {
            let mut fraction = String::with_capacity(9);
            push_padded(&mut fraction, u64::from(utc.nanosecond()), 9);
            out.push('.');
            out.push_str(fraction.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }

    #[cfg(test)]
    mod tests {
        use time::macros::datetime;

        use super::*;

        #[test]
        fn times_are_written_in_utc_with_whole_seconds() {
            assert_eq!(
                format(datetime!(2019-02-06 01:00:38 +01:00)),
                "2019-02-06T00:00:38Z"
            );
        }

        #[test]
        fn a_fraction_is_kept_without_trailing_zeros() {
            assert_eq!(
                format(datetime!(2019-02-06 00:00:38.120 UTC)),
                "2019-02-06T00:00:38.12Z"
            );
        }

        #[test]
        fn what_is_written_reads_back() {
            let time = datetime!(0001-02-03 04:05:06.000000007 UTC);
            assert_eq!(
                OffsetDateTime::parse(&format(time), &Rfc3339).ok(),
                Some(time)
            );
        }
    }
}
