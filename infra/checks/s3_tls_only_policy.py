"""CKV_COFFER_1: a bucket policy refuses plain HTTP and TLS below 1.2.

Presigned URLs are bearer credentials, so every request to a Coffer
bucket must be encrypted in transit with a current protocol. The policy
must hold two deny statements for every principal and every S3 action on
both the bucket and its objects:

- `Bool` `aws:SecureTransport` = `false`
- `NumericLessThan` `s3:TlsVersion` = `1.2` (or higher)

each with that condition alone, since further conditions would narrow
the denial. The policy must be written inline (`jsonencode`) so it can be
read here; a policy this check cannot read fails.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from conf_values import as_list, policy_statements, text


def _denies_everything_everywhere(statement: dict[str, Any]) -> bool:
    """A Deny for all principals and all S3 actions, on the bucket and on
    its objects."""
    if text(statement.get("Effect")) != "deny":
        return False

    principal = statement.get("Principal")
    if isinstance(principal, dict):
        principal = principal.get("AWS")
    if "*" not in [text(p) for p in as_list(principal)]:
        return False

    actions = [text(a) for a in as_list(statement.get("Action"))]
    if not ({"s3:*", "*"} & set(actions)):
        return False

    resources = [text(r) for r in as_list(statement.get("Resource"))]
    covers_objects = any(r.endswith("/*") or r == "*" for r in resources)
    covers_bucket = any(not r.endswith("/*") for r in resources)
    return covers_objects and covers_bucket


def _only_condition(statement: dict[str, Any]) -> tuple[str, str, list[str]] | None:
    """The statement's single (operator, key, values), if it has exactly
    one."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict) or len(condition) != 1:
        return None
    operator, tests = next(iter(condition.items()))
    if not isinstance(tests, dict) or len(tests) != 1:
        return None
    key, values = next(iter(tests.items()))
    return text(operator), text(key), [text(v) for v in as_list(values)]


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    return _denies_everything_everywhere(statement) and _only_condition(statement) == (
        "bool",
        "aws:securetransport",
        ["false"],
    )


def _denies_old_tls(statement: dict[str, Any]) -> bool:
    if not _denies_everything_everywhere(statement):
        return False
    condition = _only_condition(statement)
    if condition is None:
        return False
    operator, key, values = condition
    if operator != "numericlessthan" or key != "s3:tlsversion" or len(values) != 1:
        return False
    try:
        return float(values[0]) >= 1.2
    except ValueError:
        return False


class S3TlsOnlyPolicy(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure the bucket policy denies requests without TLS and with TLS below 1.2",
            id="CKV_COFFER_1",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["aws_s3_bucket_policy"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        statements = policy_statements(conf.get("policy"))
        if statements is None:
            self.details.append("the policy cannot be read; write it inline with jsonencode")
            return CheckResult.FAILED

        failed = False
        if not any(_denies_plain_http(s) for s in statements):
            self.details.append(
                "no statement denies s3:* to * on the bucket and objects "
                "when aws:SecureTransport is false"
            )
            failed = True
        if not any(_denies_old_tls(s) for s in statements):
            self.details.append(
                "no statement denies s3:* to * on the bucket and objects "
                "when s3:TlsVersion is below 1.2"
            )
            failed = True
        return CheckResult.FAILED if failed else CheckResult.PASSED

    def get_evaluated_keys(self) -> list[str]:
        return ["policy"]


check = S3TlsOnlyPolicy()
