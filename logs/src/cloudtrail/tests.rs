//! Records written by hand from CloudTrail's documented shape.

use serde_json::{Value, json};
use time::macros::{date, datetime};

use super::*;
use crate::Outcome;

/// A presigned download of a model file, as an S3 data event.
fn presigned_get_object() -> Value {
    json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLEID:coffer-prod",
            "arn": "arn:aws:sts::111122223333:assumed-role/coffer-server/coffer-prod",
            "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEROLEID",
                    "arn": "arn:aws:iam::111122223333:role/coffer-server",
                    "accountId": "111122223333",
                    "userName": "coffer-server"
                },
                "attributes": {"creationDate": "2025-03-14T09:00:00Z", "mfaAuthenticated": "false"}
            }
        },
        "eventTime": "2025-03-14T09:26:53Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.42",
        "userAgent": "[Mozilla/5.0 (X11; Linux x86_64) Chrome/122.0]",
        "requestParameters": {
            "bucketName": "coffer-artifacts",
            "Host": "coffer-artifacts.s3.us-east-1.amazonaws.com",
            "key": "models/resnet50/3/model.safetensors",
            "x-coffer-request": "01JPA4K3"
        },
        "responseElements": null,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "QueryString",
            "bytesTransferredOut": 104_857_600
        },
        "requestID": "7Q2K9ZP4XW1M8RT3",
        "eventID": "3f1d6c2e-8a4b-4f0e-9c7d-2b5a1e0f9d8c",
        "readOnly": true,
        "resources": [
            {
                "type": "AWS::S3::Object",
                "ARN": "arn:aws:s3:::coffer-artifacts/models/resnet50/3/model.safetensors"
            },
            {
                "accountId": "111122223333",
                "type": "AWS::S3::Bucket",
                "ARN": "arn:aws:s3:::coffer-artifacts"
            }
        ],
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": "111122223333",
        "eventCategory": "Data",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "coffer-artifacts.s3.us-east-1.amazonaws.com"
        }
    })
}

/// A management event refused by KMS.
fn denied_decrypt() -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEUSERID",
            "arn": "arn:aws:iam::111122223333:user/erin",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLEKEY",
            "userName": "erin"
        },
        "eventTime": "2025-03-14T10:02:44Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "192.0.2.99",
        "userAgent": "aws-cli/2.15.0",
        "errorCode": "AccessDeniedException",
        "errorMessage": "User: arn:aws:iam::111122223333:user/erin is not authorized \
                         to perform: kms:Decrypt",
        "requestParameters": null,
        "responseElements": null,
        "requestID": "c0ffee00-0000-4000-8000-000000000001",
        "eventID": "c0ffee00-0000-4000-8000-000000000002",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

fn record(value: Value) -> TrailRecord {
    serde_json::from_value(value).expect("the record deserializes")
}

#[test]
fn a_data_event_reads_into_named_fields() {
    let record = record(presigned_get_object());
    assert_eq!(record.event_version.as_deref(), Some("1.10"));
    assert_eq!(record.event_time, datetime!(2025-03-14 09:26:53 UTC));
    assert_eq!(record.event_source, "s3.amazonaws.com");
    assert_eq!(record.event_name, "GetObject");
    assert_eq!(record.aws_region.as_deref(), Some("us-east-1"));
    assert_eq!(record.source_ip_address.as_deref(), Some("203.0.113.42"));
    assert_eq!(record.request_id.as_deref(), Some("7Q2K9ZP4XW1M8RT3"));
    assert_eq!(
        record.event_id.as_deref(),
        Some("3f1d6c2e-8a4b-4f0e-9c7d-2b5a1e0f9d8c")
    );
    assert_eq!(record.read_only, Some(true));
    assert_eq!(record.management_event, Some(false));
    assert_eq!(record.event_type.as_deref(), Some("AwsApiCall"));
    assert_eq!(record.event_category.as_deref(), Some("Data"));
    assert_eq!(record.recipient_account_id.as_deref(), Some("111122223333"));
    assert_eq!(record.response_elements, Some(Value::Null));

    let identity = record
        .user_identity
        .as_ref()
        .expect("the record names its caller");
    assert_eq!(identity.identity_type.as_deref(), Some("AssumedRole"));
    assert_eq!(identity.access_key_id.as_deref(), Some("ASIAEXAMPLEKEY"));
    assert_eq!(identity.user_name, None);
    assert!(identity.other.contains_key("sessionContext"));

    let resources = record.resources.as_deref().unwrap_or_default();
    assert_eq!(resources.len(), 2);
    assert_eq!(
        resources[1].arn.as_deref(),
        Some("arn:aws:s3:::coffer-artifacts")
    );
    assert_eq!(
        resources[1].resource_type.as_deref(),
        Some("AWS::S3::Bucket")
    );
    assert_eq!(resources[1].account_id.as_deref(), Some("111122223333"));
    assert!(record.other.contains_key("tlsDetails"));
}

#[test]
fn a_presigned_call_is_recognised() {
    assert!(record(presigned_get_object()).is_presigned());
    assert!(!record(denied_decrypt()).is_presigned());
}

#[test]
fn a_record_round_trips_with_its_nulls_and_unknown_fields() {
    for value in [presigned_get_object(), denied_decrypt()] {
        let written = serde_json::to_value(record(value.clone())).expect("the record serializes");
        assert_eq!(written, value);
    }
}

#[test]
fn absent_fields_stay_absent() {
    let minimal = json!({
        "eventTime": "2025-03-14T09:26:53Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject"
    });
    let record = record(minimal.clone());
    assert_eq!(record.request_parameters, None);
    assert_eq!(record.user_identity, None);
    assert_eq!(serde_json::to_value(&record).ok(), Some(minimal));
}

#[test]
fn a_record_without_its_event_name_is_refused() {
    let value = json!({"eventTime": "2025-03-14T09:26:53Z", "eventSource": "s3.amazonaws.com"});
    assert!(serde_json::from_value::<TrailRecord>(value).is_err());
}

#[test]
fn event_times_in_an_offset_are_read_and_written_in_utc() {
    let mut value = denied_decrypt();
    value["eventTime"] = json!("2025-03-14T12:02:44+02:00");
    let record = record(value);
    assert_eq!(record.event_time, datetime!(2025-03-14 10:02:44 UTC));
    let written = serde_json::to_value(&record).expect("the record serializes");
    assert_eq!(written["eventTime"], "2025-03-14T10:02:44Z");
}

#[test]
fn outcomes_are_success_denied_or_failure() {
    let mut record = record(denied_decrypt());
    assert_eq!(record.outcome(), Outcome::Denied);
    for (code, outcome) in [
        ("AccessDenied", Outcome::Denied),
        ("Client.UnauthorizedOperation", Outcome::Denied),
        ("NoSuchKey", Outcome::Failure),
        ("ThrottlingException", Outcome::Failure),
    ] {
        record.error_code = Some(code.to_owned());
        assert_eq!(record.outcome(), outcome, "{code}");
    }
    record.error_code = None;
    assert_eq!(record.outcome(), Outcome::Success);
}

#[test]
fn a_trail_file_round_trips_through_gzip() {
    let records = vec![record(presigned_get_object()), record(denied_decrypt())];
    let gz = write_trail_file(&records);
    assert_eq!(gz[..2], [0x1f, 0x8b]);
    let read = read_trail_file(gz.as_slice()).expect("the file reads back");
    assert_eq!(read, records);
}

#[test]
fn an_empty_trail_file_has_no_records() {
    let read = read_trail_file(write_trail_file(&[]).as_slice()).expect("the file reads back");
    assert!(read.is_empty());
}

#[test]
fn a_file_that_is_not_gzip_is_a_decompression_error() {
    let err =
        read_trail_file(&b"{\"Records\":[]}"[..]).expect_err("plain JSON is not a trail file");
    assert!(matches!(err, TrailFileError::Decompress(_)));
    assert_eq!(
        err.to_string(),
        "failed to decompress the CloudTrail log file"
    );
}

#[test]
fn gzipped_json_of_the_wrong_shape_is_a_json_error() {
    use std::io::Write as _;

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(br#"{"records":[]}"#)
        .expect("compressing into memory");
    let gz = gz.finish().expect("compressing into memory");
    let err = read_trail_file(gz.as_slice()).expect_err("the list is called Records");
    assert!(matches!(err, TrailFileError::Json(_)));
}

const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/14/\
                   111122223333_CloudTrail_us-east-1_20250314T0925Z_Ab3dE6gH9jK2mN5p.json.gz";

#[test]
fn a_key_is_built_from_account_region_minute_and_suffix() {
    let at = datetime!(2025-03-14 11:25:59 +02:00);
    assert_eq!(
        trail_object_key("111122223333", "us-east-1", at, "Ab3dE6gH9jK2mN5p"),
        KEY
    );
}

#[test]
fn a_key_parses_back_to_account_region_and_minute() {
    let key = parse_trail_object_key(KEY).expect("the key parses");
    assert_eq!(key.account, "111122223333");
    assert_eq!(key.region, "us-east-1");
    assert_eq!(key.time, datetime!(2025-03-14 09:25 UTC));
}

#[test]
fn keys_under_a_trail_prefix_or_an_organization_parse() {
    let prefixed = format!("audit/trail/{KEY}");
    assert!(parse_trail_object_key(&prefixed).is_ok());
    let organization = KEY.replace("AWSLogs/", "AWSLogs/o-abcdef1234/");
    let key = parse_trail_object_key(&organization).expect("the key parses");
    assert_eq!(key.account, "111122223333");
}

#[test]
fn the_day_prefix_is_the_folder_of_that_days_keys() {
    let prefix = trail_day_prefix("111122223333", "us-east-1", date!(2025 - 03 - 14));
    assert_eq!(
        prefix,
        "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/14/"
    );
    assert!(KEY.starts_with(&prefix));
}

#[test]
fn keys_that_are_not_log_files_are_refused_with_a_reason() {
    let cases = [
        (
            "s3-access/2025-03-14-09-25-00-ABCDEF0123456789",
            "no AWSLogs/ folder",
        ),
        (
            &KEY.replace("/CloudTrail/", "/CloudTrail-Digest/"),
            "not under a CloudTrail/ folder",
        ),
        (
            &KEY.replace("/14/", "/15/"),
            "the date folders and the file name disagree",
        ),
        (
            &KEY.replace("Ab3dE6gH9jK2mN5p", "short"),
            "the random suffix is not sixteen alphanumerics",
        ),
        (
            &KEY.replace("T0925Z", "T2525Z"),
            "the time is not YYYYMMDDTHHmmZ",
        ),
        (
            &KEY.replace("_us-east-1_", "_eu-west-1_"),
            "the file name is not <account>_CloudTrail_<region>_<time>_<suffix>.json.gz",
        ),
        (
            &KEY.replace(".json.gz", ".json"),
            "the file name is not <account>_CloudTrail_<region>_<time>_<suffix>.json.gz",
        ),
        (
            &KEY.replace("111122223333", "1111"),
            "the account id is not twelve digits",
        ),
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/14/",
            "the file name is not <account>_CloudTrail_<region>_<time>_<suffix>.json.gz",
        ),
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/",
            "not AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>",
        ),
    ];
    for (key, reason) in cases {
        let err = parse_trail_object_key(key).expect_err(key);
        assert_eq!(
            err.to_string(),
            format!("not a CloudTrail log file key: {reason}"),
            "{key}"
        );
    }
}
