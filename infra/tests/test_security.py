"""The security properties the deployment promises, asserted on the
Terraform as written, so a refactor cannot drop one without a test
failing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import REPO, Terraform

ARTIFACTS = "${aws_s3_bucket.artifacts.arn}"
LOGS = "${aws_s3_bucket.logs.arn}"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(tf: Terraform, kind: str, name: str) -> list[dict[str, Any]]:
    """The statements of a resource's inline (jsonencode) policy."""
    return tf.jsonencoded(tf.resource(kind, name)["policy"])["Statement"]


def by_sid(policy: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    found = [s for s in policy if s.get("Sid") == sid]
    assert len(found) == 1, f"expected one statement {sid}"
    return found[0]


# --- Buckets ----------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["artifacts", "logs"])
def test_both_buckets_are_versioned(tf: Terraform, bucket: str) -> None:
    versioning = tf.for_bucket("aws_s3_bucket_versioning", bucket)
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"


def test_the_artifact_bucket_encrypts_with_the_key_and_a_bucket_key(tf: Terraform) -> None:
    (rule,) = tf.for_bucket("aws_s3_bucket_server_side_encryption_configuration", "artifacts")[
        "rule"
    ]
    default = rule["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms"
    assert default["kms_master_key_id"] == "${aws_kms_key.coffer.arn}"
    assert rule["bucket_key_enabled"] is True


def test_the_log_bucket_is_encrypted_at_rest(tf: Terraform) -> None:
    (rule,) = tf.for_bucket("aws_s3_bucket_server_side_encryption_configuration", "logs")["rule"]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] in {
        "AES256",
        "aws:kms",
    }


@pytest.mark.parametrize("bucket", ["artifacts", "logs"])
def test_public_access_is_blocked_four_ways(tf: Terraform, bucket: str) -> None:
    block = tf.for_bucket("aws_s3_bucket_public_access_block", bucket)
    for setting in [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ]:
        assert block[setting] is True, setting


@pytest.mark.parametrize("bucket", ["artifacts", "logs"])
def test_acls_are_disabled(tf: Terraform, bucket: str) -> None:
    controls = tf.for_bucket("aws_s3_bucket_ownership_controls", bucket)
    assert controls["rule"][0]["object_ownership"] == "BucketOwnerEnforced"


@pytest.mark.parametrize("bucket, arn", [("artifacts", ARTIFACTS), ("logs", LOGS)])
def test_bucket_policies_refuse_plain_http_and_tls_below_1_2(
    tf: Terraform, bucket: str, arn: str
) -> None:
    policy = statements(tf, "aws_s3_bucket_policy", bucket)
    everywhere = sorted([arn, f"{arn}/*"])

    plain = by_sid(policy, "DenyInsecureTransport")
    assert (plain["Effect"], plain["Principal"], plain["Action"]) == ("Deny", "*", "s3:*")
    assert sorted(plain["Resource"]) == everywhere
    assert plain["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    old = by_sid(policy, "DenyTlsBelow12")
    assert (old["Effect"], old["Principal"], old["Action"]) == ("Deny", "*", "s3:*")
    assert sorted(old["Resource"]) == everywhere
    assert old["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


def test_the_artifact_policy_refuses_any_other_encryption(tf: Terraform) -> None:
    policy = statements(tf, "aws_s3_bucket_policy", "artifacts")
    other = by_sid(policy, "DenyOtherEncryption")["Condition"]
    assert other["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "aws:kms"}
    keys = by_sid(policy, "DenyOtherKmsKeys")["Condition"]
    assert keys["StringNotEquals"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": "${aws_kms_key.coffer.arn}"
    }
    customer = by_sid(policy, "DenyCustomerProvidedKeys")["Condition"]
    assert customer == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}


def test_the_audit_trail_is_written_by_the_server_only_and_never_deleted(tf: Terraform) -> None:
    policy = statements(tf, "aws_s3_bucket_policy", "artifacts")
    writes = by_sid(policy, "OnlyTheServerWritesTheAuditTrail")
    assert writes["Effect"] == "Deny" and writes["Resource"] == f"{ARTIFACTS}/audit/portal/*"
    assert writes["Condition"] == {
        "StringNotEquals": {"aws:PrincipalArn": "${aws_iam_role.server.arn}"}
    }
    deletes = by_sid(policy, "NobodyDeletesAuditRecords")
    assert deletes["Effect"] == "Deny" and "Condition" not in deletes
    assert sorted(deletes["Action"]) == ["s3:DeleteObject", "s3:DeleteObjectVersion"]


def test_cors_admits_the_portal_origin_only_and_exposes_etag(tf: Terraform) -> None:
    (rule,) = tf.for_bucket("aws_s3_bucket_cors_configuration", "artifacts")["cors_rule"]
    assert rule["allowed_origins"] == ["${local.public_url}"]
    assert not any("*" in origin or origin == "null" for origin in rule["allowed_origins"])
    assert {"PUT", "GET"} <= set(rule["allowed_methods"])
    assert "ETag" in rule["expose_headers"]
    assert "*" not in rule["allowed_headers"]

    # The origin is the public URL, which must carry no path: the API's
    # endpoint or https://<custom domain>.
    assert tf.locals["public_url"] == (
        '${var.custom_domain_name != "" ? "https://${var.custom_domain_name}"'
        " : aws_apigatewayv2_api.portal.api_endpoint}"
    )


@pytest.mark.parametrize("bucket", ["artifacts", "logs"])
def test_lifecycle_aborts_incomplete_uploads_across_the_bucket(tf: Terraform, bucket: str) -> None:
    rules = tf.for_bucket("aws_s3_bucket_lifecycle_configuration", bucket)["rule"]
    aborting = [
        r for r in rules if r.get("abort_incomplete_multipart_upload") and r["filter"] == [{}]
    ]
    assert aborting, "no rule aborts incomplete multipart uploads across the whole bucket"
    assert aborting[0]["status"] == "Enabled"


def test_noncurrent_versions_age_but_audit_records_do_not(tf: Terraform) -> None:
    lifecycle = tf.for_bucket("aws_s3_bucket_lifecycle_configuration", "artifacts")
    (dynamic,) = [d["rule"] for d in lifecycle["dynamic"] if "rule" in d]
    aged = set(tf.resolve(dynamic["for_each"]).values())
    assert aged == {"artifacts/", "registry/", "_coffer/probe/"}
    assert dynamic["content"][0]["noncurrent_version_expiration"][0]["noncurrent_days"] == (
        "${var.noncurrent_version_retention_days}"
    )

    # No rule may reach audit/portal/: neither a whole-bucket rule that
    # expires or ages objects, nor one whose prefix covers the trail.
    for rule in lifecycle["rule"]:
        prefix = tf.resolve(rule["filter"][0].get("prefix", ""))
        if "audit/portal/".startswith(prefix):
            assert not rule.get("expiration") and not rule.get("noncurrent_version_expiration"), (
                rule["id"]
            )


def test_access_logs_go_to_the_log_bucket_under_s3_access(tf: Terraform) -> None:
    logging = tf.for_bucket("aws_s3_bucket_logging", "artifacts")
    assert logging["target_bucket"] == "${aws_s3_bucket.logs.id}"
    assert tf.resolve(logging["target_prefix"]) == "s3-access/"
    assert logging["target_object_key_format"] == [{"simple_prefix": [{}]}]


def test_the_log_bucket_admits_log_delivery_and_the_trail_only(tf: Terraform) -> None:
    policy = statements(tf, "aws_s3_bucket_policy", "logs")
    allows = [s for s in policy if s["Effect"] == "Allow"]
    principals = sorted(s["Principal"]["Service"] for s in allows)
    assert principals == [
        "cloudtrail.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "logging.s3.amazonaws.com",
    ]

    delivery = by_sid(policy, "S3DeliversAccessLogs")
    assert delivery["Resource"] == f"{LOGS}/s3-access/*"
    assert delivery["Condition"]["ArnLike"] == {"aws:SourceArn": ARTIFACTS}

    trail = by_sid(policy, "CloudTrailWritesTrailFiles")
    assert trail["Resource"] == f"{LOGS}/AWSLogs/${{local.account_id}}/*"
    assert trail["Condition"]["StringEquals"]["aws:SourceArn"] == "${local.trail_arn}"


def test_object_lock_is_a_variable(tf: Terraform) -> None:
    assert (
        tf.resource("aws_s3_bucket", "artifacts")["object_lock_enabled"]
        == "${var.object_lock_enabled}"
    )
    lock = tf.resource("aws_s3_bucket_object_lock_configuration", "artifacts")
    assert lock["count"] == "${var.object_lock_enabled ? 1 : 0}"


# --- Key ----------------------------------------------------------------------


def test_the_key_rotates(tf: Terraform) -> None:
    key = tf.resource("aws_kms_key", "coffer")
    assert key["enable_key_rotation"] is True


def test_the_key_policy_names_who_uses_the_key(tf: Terraform) -> None:
    policy = statements(tf, "aws_kms_key", "coffer")
    for statement in policy:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}, statement[
            "Sid"
        ]

    # Only named roles and services may encrypt or decrypt; the account
    # root is admitted for administration, and for use through Lambda only.
    root = "arn:${local.partition}:iam::${local.account_id}:root"
    for statement in policy:
        actions = as_list(statement["Action"])
        uses_key = any(
            re.match(r"kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt)", a) for a in actions
        )
        if uses_key and statement["Principal"] == {"AWS": root}:
            assert statement["Condition"]["StringEquals"]["kms:ViaService"].startswith("lambda."), (
                statement["Sid"]
            )

    server = by_sid(policy, "ServerUsesTheArtifactBucket")
    assert server["Principal"] == {"AWS": "${aws_iam_role.server.arn}"}
    assert sorted(server["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert server["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [
        ARTIFACTS,
        f"{ARTIFACTS}/*",
    ]


# --- Trail --------------------------------------------------------------------


def test_the_trail_covers_every_region_and_validates_its_files(tf: Terraform) -> None:
    trail = tf.resource("aws_cloudtrail", "coffer")
    assert trail["is_multi_region_trail"] is True
    assert trail["include_global_service_events"] is True
    assert trail["enable_log_file_validation"] is True
    assert trail["kms_key_id"] == "${aws_kms_key.coffer.arn}"
    assert trail["s3_bucket_name"] == "${aws_s3_bucket.logs.id}"
    assert trail["cloud_watch_logs_group_arn"] == "${aws_cloudwatch_log_group.trail.arn}:*"
    assert "s3_key_prefix" not in trail, (
        "the server reads trail files under AWSLogs/ at the bucket's root"
    )


def test_the_trail_records_every_object_call_on_the_artifact_bucket(tf: Terraform) -> None:
    selectors = tf.resource("aws_cloudtrail", "coffer")["advanced_event_selector"]

    def fields(selector: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {f["field"]: f for f in selector["field_selector"]}

    data = [fields(s) for s in selectors if fields(s)["eventCategory"]["equals"] == ["Data"]]
    assert len(data) == 1
    (objects,) = data
    assert objects["resources.type"]["equals"] == ["AWS::S3::Object"]
    assert objects["resources.ARN"]["starts_with"] == [f"{ARTIFACTS}/"]
    assert "readOnly" not in objects and "eventName" not in objects

    management = [
        fields(s) for s in selectors if fields(s)["eventCategory"]["equals"] == ["Management"]
    ]
    assert management and set(management[0]) == {"eventCategory"}


# --- Sign-in ------------------------------------------------------------------


def test_the_portal_client_is_a_public_code_flow_client(tf: Terraform) -> None:
    client = tf.resource("aws_cognito_user_pool_client", "portal")
    assert client["allowed_oauth_flows"] == ["code"]
    assert client["generate_secret"] is False
    assert client["allowed_oauth_flows_user_pool_client"] is True
    assert client["explicit_auth_flows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["supported_identity_providers"] == ["COGNITO"]
    assert sorted(client["allowed_oauth_scopes"]) == ["email", "openid", "profile"]


def test_the_portal_client_registers_the_urls_the_server_sends(tf: Terraform) -> None:
    client = tf.resource("aws_cognito_user_pool_client", "portal")
    assert client["callback_urls"] == ["${local.public_url}/auth/callback"]
    assert client["logout_urls"] == ["${local.public_url}/"]

    # The server derives both from its public URL (server/src/startup.rs),
    # and sends the second as logout_uri (server/src/auth/oidc.rs).
    startup = (REPO / "server/src/startup.rs").read_text(encoding="utf-8")
    assert 'redirect_url: settings.public_url_for("/auth/callback")?' in startup
    assert 'post_logout_url: settings.public_url_for("/")?' in startup
    oidc = (REPO / "server/src/auth/oidc.rs").read_text(encoding="utf-8")
    assert '.append_pair("logout_uri", post_logout)' in oidc


def test_the_pipeline_client_uses_client_credentials_only(tf: Terraform) -> None:
    client = tf.resource("aws_cognito_user_pool_client", "pipeline")
    assert client["allowed_oauth_flows"] == ["client_credentials"]
    assert client["generate_secret"] is True
    assert client["allowed_oauth_scopes"] == "${aws_cognito_resource_server.api.scope_identifiers}"
    server = tf.resource("aws_cognito_resource_server", "api")
    assert (server["identifier"], server["scope"][0]["scope_name"]) == ("coffer", "api")


def test_the_role_groups_exist(tf: Terraform) -> None:
    groups = tf.resource("aws_cognito_user_group", "roles")
    assert set(groups["for_each"]) == {"data-scientists", "compliance", "admins"}


def test_the_user_pool_has_mfa_and_a_strong_password_policy(tf: Terraform) -> None:
    pool = tf.resource("aws_cognito_user_pool", "users")
    assert pool["mfa_configuration"] == "${var.mfa_configuration}"
    assert pool["admin_create_user_config"][0]["allow_admin_create_user_only"] is True
    policy = pool["password_policy"][0]
    assert all(
        policy[f"require_{kind}"] is True
        for kind in ["lowercase", "uppercase", "numbers", "symbols"]
    )


# --- Server role ----------------------------------------------------------------

# What server/src calls, per prefix (grep for put_object, get_object,
# head_object, delete_object, create_multipart_upload, upload_part,
# list_parts, complete_multipart_upload, abort_multipart_upload and
# list_multipart_uploads). Presigned part uploads and downloads are
# PutObject and GetObject signed by this role.
EXPECTED_SERVER_OBJECT_ACTIONS = {
    f"{ARTIFACTS}/audit/portal/*": {"s3:PutObject", "s3:GetObject"},
    f"{ARTIFACTS}/audit/index/*": {"s3:PutObject", "s3:GetObject"},
    f"{ARTIFACTS}/sessions/*": {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
    f"{ARTIFACTS}/_coffer/probe/*": {"s3:PutObject", "s3:DeleteObject"},
    f"{ARTIFACTS}/registry/*": {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
    f"{ARTIFACTS}/artifacts/*": {
        "s3:PutObject",
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    },
    f"{LOGS}/s3-access/*": {"s3:GetObject"},
    f"{LOGS}/AWSLogs/*": {"s3:GetObject"},
}


def server_grants(tf: Terraform) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for statement in tf.resolve(tf.document("server")["statement"]):
        assert statement.get("effect", "Allow") == "Allow"
        for resource in statement["resources"]:
            grants.setdefault(resource, set()).update(statement["actions"])
    return grants


def test_the_server_policy_grants_exactly_what_the_code_calls(tf: Terraform) -> None:
    grants = server_grants(tf)
    objects = {resource: actions for resource, actions in grants.items() if resource.endswith("/*")}
    assert objects == EXPECTED_SERVER_OBJECT_ACTIONS

    assert grants[ARTIFACTS] == {"s3:ListBucket", "s3:ListBucketMultipartUploads"}
    assert grants[LOGS] == {"s3:ListBucket"}
    assert grants["${aws_kms_key.coffer.arn}"] == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert grants["*"] == {"cloudtrail:LookupEvents"}
    assert grants["${aws_cloudwatch_log_group.server.arn}:*"] == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_the_server_policy_has_no_wildcard_action_or_s3_resource(tf: Terraform) -> None:
    for statement in tf.resolve(tf.document("server")["statement"]):
        for action in statement["actions"]:
            assert "*" not in action, f"{statement['sid']}: {action}"
        if any(action.startswith("s3:") for action in statement["actions"]):
            for resource in statement["resources"]:
                assert resource != "*" and not resource.startswith("arn:aws:s3:::*"), statement[
                    "sid"
                ]
                assert resource not in {f"{ARTIFACTS}/*", f"{LOGS}/*"}, (
                    f"{statement['sid']} spans a whole bucket"
                )


def test_the_server_uses_the_key_through_s3_only(tf: Terraform) -> None:
    (statement,) = [
        s for s in tf.document("server")["statement"] if s["sid"] == "UseTheKeyThroughS3"
    ]
    assert statement["condition"] == [
        {
            "test": "StringEquals",
            "variable": "kms:ViaService",
            "values": ["s3.${var.region}.${local.dns_suffix}"],
        }
    ]


def test_the_compliance_role_reads_and_never_writes(tf: Terraform) -> None:
    for statement in tf.document("compliance")["statement"]:
        for action in statement["actions"]:
            verb = action.split(":", 1)[1]
            assert re.match(
                r"(Get|List|Describe|Filter|LookupEvents|StartQuery|StopQuery|Decrypt)", verb
            ), action
        for resource in as_list(statement["resources"]):
            assert f"{ARTIFACTS}/artifacts/" not in resource, statement["sid"]
            assert f"{ARTIFACTS}/sessions/" not in resource, statement["sid"]


# --- Server function and API ------------------------------------------------------


def test_the_server_runs_on_the_custom_runtime_from_the_package(tf: Terraform) -> None:
    function = tf.resource("aws_lambda_function", "server")
    assert function["runtime"] == "provided.al2023"
    assert function["handler"] == "bootstrap"
    assert function["architectures"] == ["${var.lambda_architecture}"]
    assert function["filename"] == "${local.lambda_package}"
    assert tf.variables["lambda_package"]["default"] == "../target/lambda/coffer-server.zip"
    assert function["kms_key_arn"] == "${aws_kms_key.coffer.arn}"


def test_the_server_environment_uses_settings_the_server_reads(tf: Terraform) -> None:
    environment = tf.locals["server_environment"]
    assert environment["COFFER_STORAGE"] == "s3"
    assert environment["COFFER_LOG_FORMAT"] == "json"
    assert environment["COFFER_CLOUDTRAIL"] == "on"
    assert environment["COFFER_BUCKET"] == "${aws_s3_bucket.artifacts.id}"
    assert environment["COFFER_LOG_BUCKET"] == "${aws_s3_bucket.logs.id}"
    assert environment["COFFER_PUBLIC_URL"] == "${local.public_url}"
    assert environment["COFFER_OIDC_ISSUER"] == "${local.oidc_issuer}"
    assert environment["COFFER_OIDC_CLIENT_ID"] == "${aws_cognito_user_pool_client.portal.id}"
    assert environment["COFFER_OIDC_LOGOUT_URL"] == "${local.hosted_ui_url}/logout"
    assert tf.locals["oidc_issuer"] == "https://${aws_cognito_user_pool.users.endpoint}"

    # Every name is one the server's settings read (server/src/config.rs).
    config = (REPO / "server/src/config.rs").read_text(encoding="utf-8")
    known = set(re.findall(r'env = "(COFFER_[A-Z0-9_]+)"', config))
    assert set(environment) <= known, set(environment) - known

    function = tf.resource("aws_lambda_function", "server")
    assert (
        function["environment"][0]["variables"]
        == "${merge(var.extra_environment, local.server_environment)}"
    )


def test_the_api_forwards_payload_2_with_access_logs_and_throttling(tf: Terraform) -> None:
    assert tf.resource("aws_apigatewayv2_api", "portal")["protocol_type"] == "HTTP"
    integration = tf.resource("aws_apigatewayv2_integration", "server")
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["payload_format_version"] == "2.0"

    stage = tf.resource("aws_apigatewayv2_stage", "default")
    assert (
        stage["access_log_settings"][0]["destination_arn"]
        == "${aws_cloudwatch_log_group.api_access.arn}"
    )
    routes = stage["default_route_settings"][0]
    assert routes["throttling_rate_limit"] == "${var.api_throttling_rate_limit}"
    assert routes["throttling_burst_limit"] == "${var.api_throttling_burst_limit}"

    # Share-link paths carry their token; the access log must not.
    assert "$context.path" not in stage["access_log_settings"][0]["format"]


@pytest.mark.parametrize("group", ["server", "api_access", "trail"])
def test_log_groups_are_encrypted_and_kept_a_year(tf: Terraform, group: str) -> None:
    log_group = tf.resource("aws_cloudwatch_log_group", group)
    assert log_group["kms_key_id"] == "${aws_kms_key.coffer.arn}"
    assert log_group["retention_in_days"] == "${var.cloudwatch_log_retention_days}"

    # Every retention the variable accepts is at least a year.
    condition = tf.variables["cloudwatch_log_retention_days"]["validation"][0]["condition"]
    assert min(int(days) for days in re.findall(r"\d+", condition)) >= 365


# --- Alarms -------------------------------------------------------------------------


def test_every_alarm_notifies_the_encrypted_topic(tf: Terraform) -> None:
    assert tf.locals["alarm_actions"] == ["${aws_sns_topic.alarms.arn}"]
    alarms = tf.of_type("aws_cloudwatch_metric_alarm")
    assert set(alarms) == {
        "unauthorized_api_calls",
        "failed_sign_ins",
        "api_5xx_rate",
        "lambda_errors",
        "lambda_throttles",
    }
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == "${local.alarm_actions}", name
        assert alarm["ok_actions"] == "${local.alarm_actions}", name
        assert tf.resolve(alarm["alarm_name"]).startswith("${local.alarm_prefix}"), name
    assert (
        tf.resource("aws_sns_topic", "alarms")["kms_master_key_id"] == "${aws_kms_key.coffer.arn}"
    )


def test_the_unauthorized_call_filter_reads_the_trail(tf: Terraform) -> None:
    metric_filter = tf.resource("aws_cloudwatch_log_metric_filter", "unauthorized_api_calls")
    assert metric_filter["log_group_name"] == "${aws_cloudwatch_log_group.trail.name}"
    assert '$.errorCode = "AccessDenied*"' in metric_filter["pattern"]
    assert '$.errorCode = "*UnauthorizedOperation"' in metric_filter["pattern"]


def test_the_failed_sign_in_filter_matches_the_line_the_server_logs(tf: Terraform) -> None:
    metric_filter = tf.resource("aws_cloudwatch_log_metric_filter", "failed_sign_ins")
    assert metric_filter["log_group_name"] == "${aws_cloudwatch_log_group.server.name}"
    (message,) = re.findall(r'\$\.message = "([^"]+)"', metric_filter["pattern"])

    # The server logs this message, at warn, right before it records
    # sign_in_failed; JSON logs put the message in the "message" field.
    routes = (REPO / "server/src/auth/routes.rs").read_text(encoding="utf-8")
    assert re.search(r'tracing::warn!\([^;]*"' + re.escape(message) + r'"\);', routes)
    assert "Action::SignInFailed" in routes
    telemetry = (REPO / "server/src/telemetry.rs").read_text(encoding="utf-8")
    assert ".flatten_event(true)" in telemetry


def test_the_5xx_alarm_is_a_rate_of_the_apis_requests(tf: Terraform) -> None:
    alarm = tf.resource("aws_cloudwatch_metric_alarm", "api_5xx_rate")
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["rate"]["return_data"] is True
    assert queries["errors"]["metric"][0]["metric_name"] == "5xx"
    assert queries["requests"]["metric"][0]["metric_name"] == "Count"
