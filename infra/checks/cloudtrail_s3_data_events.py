"""CKV_COFFER_2: the trail records object-level S3 calls, reads and writes.

Presigned downloads and part uploads are object calls that CloudTrail
records only as data events, which are off unless a selector asks for
them; without them the compliance dashboard cannot show who fetched an
artifact through a link. A trail passes when one selector logs every
read and write on objects of named buckets (or of all buckets):

- basic: an `event_selector` with `read_write_type = "All"` (the default)
  and a `data_resource` of type `AWS::S3::Object` with bucket ARNs;
- advanced: an `advanced_event_selector` with `eventCategory` = `Data`,
  `resources.type` = `AWS::S3::Object`, no `readOnly` or `eventName`
  filter (they would drop some calls), and any `resources.ARN` filter
  naming buckets positively (`equals` or `starts_with`).
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from conf_values import text, value_list

S3_OBJECT = "aws::s3::object"


def _names_buckets(values: list[Any]) -> bool:
    """At least one value, each an S3 ARN or a reference to a bucket."""
    names = [text(v) for v in values]
    return bool(names) and all(
        n.startswith("arn:aws") and ":s3" in n or "aws_s3_bucket." in n or "${" in n for n in names
    )


def _basic_selector_logs_objects(selector: dict[str, Any]) -> bool:
    read_write = text(selector.get("read_write_type", ["All"]))
    if read_write != "all":
        return False
    for resource in selector.get("data_resource", []):
        if text(resource.get("type")) == S3_OBJECT and _names_buckets(
            value_list(resource, "values")
        ):
            return True
    return False


def _advanced_selector_logs_objects(selector: dict[str, Any]) -> bool:
    fields: dict[str, dict[str, Any]] = {}
    for field_selector in selector.get("field_selector", []):
        fields[text(field_selector.get("field"))] = field_selector

    def equals(name: str) -> list[str]:
        return [text(v) for v in value_list(fields.get(name, {}), "equals")]

    if equals("eventcategory") != ["data"] or equals("resources.type") != [S3_OBJECT]:
        return False
    if "readonly" in fields or "eventname" in fields:
        return False

    arn_filter = fields.get("resources.arn")
    if arn_filter is None:
        return True
    positive = value_list(arn_filter, "equals") + value_list(arn_filter, "starts_with")
    return _names_buckets(positive)


class CloudTrailS3DataEvents(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure the trail records all S3 object reads and writes (data events) "
                "of the buckets it names"
            ),
            id="CKV_COFFER_2",
            categories=[CheckCategories.LOGGING],
            supported_resources=["aws_cloudtrail"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        basic = conf.get("event_selector", [])
        advanced = conf.get("advanced_event_selector", [])
        if any(_basic_selector_logs_objects(s) for s in basic if isinstance(s, dict)):
            return CheckResult.PASSED
        if any(_advanced_selector_logs_objects(s) for s in advanced if isinstance(s, dict)):
            return CheckResult.PASSED
        self.details.append(
            "no event selector records every read and write on AWS::S3::Object for a named bucket"
        )
        return CheckResult.FAILED

    def get_evaluated_keys(self) -> list[str]:
        return ["event_selector", "advanced_event_selector"]


check = CloudTrailS3DataEvents()
