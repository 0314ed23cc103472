"""CKV_COFFER_4: browser CORS on a bucket names exact origins and lets the
page read ETag.

Browsers PUT upload parts straight to the bucket; the page must read each
part's ETag to complete the upload, and only the portal's own origin may
do so. A CORS rule passes when its origins are exact (no `*` anywhere,
never `null`) and, if it allows PUT, it exposes `ETag`.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from conf_values import text, value_list


class S3CorsExactOrigin(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure bucket CORS allows exact origins only and exposes ETag to uploads",
            id="CKV_COFFER_4",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_s3_bucket_cors_configuration"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        rules = [r for r in conf.get("cors_rule", []) if isinstance(r, dict)]
        if not rules:
            self.details.append("the configuration has no cors_rule")
            return CheckResult.FAILED

        problems = []
        for index, rule in enumerate(rules):
            origins = [text(o) for o in value_list(rule, "allowed_origins")]
            if not origins:
                problems.append(f"rule {index} names no origin")
            loose = [o for o in origins if "*" in o or o == "null"]
            if loose:
                problems.append(
                    f"rule {index} allows origins {loose}; name the portal's exact origin"
                )
            methods = {text(m) for m in value_list(rule, "allowed_methods")}
            exposed = {text(h) for h in value_list(rule, "expose_headers")}
            if "put" in methods and "etag" not in exposed:
                problems.append(f"rule {index} allows PUT but does not expose ETag")

        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED

    def get_evaluated_keys(self) -> list[str]:
        return ["cors_rule"]


check = S3CorsExactOrigin()
