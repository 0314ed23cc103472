"""CKV_COFFER_3: a Cognito app client is a public PKCE code-flow client or
a machine client, nothing in between.

People sign in through the hosted UI with the authorization code flow and
PKCE from a public client: no secret that could leak from the portal's
settings, no implicit flow that puts tokens in URLs, no password flows
that let a password reach an API. Pipelines use a separate confidential
client with the client credentials grant only. A client passes when it
is exactly one of:

- portal: `allowed_oauth_flows = ["code"]`, `generate_secret` false or
  absent, `allowed_oauth_flows_user_pool_client = true`, no password or
  custom auth flow in `explicit_auth_flows`, and https callback URLs
  (http only for localhost);
- machine: `allowed_oauth_flows = ["client_credentials"]` with
  `generate_secret = true`.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from conf_values import text, value_list

# Flows through which a password or a custom challenge reaches Cognito's
# API instead of the hosted UI.
API_AUTH_FLOWS = {
    "admin_no_srp_auth",
    "custom_auth_flow_only",
    "user_password_auth",
    "allow_admin_user_password_auth",
    "allow_custom_auth",
    "allow_user_password_auth",
    "allow_user_srp_auth",
    "allow_user_auth",
}


def _is_https_or_loopback(url: str) -> bool:
    return (
        url.startswith("https://")
        or url.startswith(("http://localhost", "http://127.0.0.1"))
        or ("${" in url and not url.startswith("http://"))
    )


class CognitoCodePkceClient(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Ensure a Cognito client is a public code-flow (PKCE) client "
                "or a client-credentials machine client"
            ),
            id="CKV_COFFER_3",
            categories=[CheckCategories.IAM],
            supported_resources=["aws_cognito_user_pool_client"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        flows = sorted(text(f) for f in value_list(conf, "allowed_oauth_flows"))
        has_secret = text(conf.get("generate_secret", [False])) == "true"

        if flows == ["client_credentials"]:
            if has_secret:
                return CheckResult.PASSED
            self.details.append(
                "a client_credentials client must be confidential (generate_secret = true)"
            )
            return CheckResult.FAILED

        problems = []
        if flows != ["code"]:
            problems.append(f'allowed_oauth_flows must be exactly ["code"], not {flows}')
        if has_secret:
            problems.append(
                "a browser sign-in client must be public (no generate_secret) and rely on PKCE"
            )
        if text(conf.get("allowed_oauth_flows_user_pool_client", [False])) != "true":
            problems.append(
                "allowed_oauth_flows_user_pool_client must be true, or the OAuth flows are off"
            )
        api_flows = sorted(
            {text(f) for f in value_list(conf, "explicit_auth_flows")} & API_AUTH_FLOWS
        )
        if api_flows:
            problems.append(f"explicit_auth_flows must not include {api_flows}")
        insecure = [
            str(u)
            for u in value_list(conf, "callback_urls") + value_list(conf, "logout_urls")
            if not _is_https_or_loopback(str(u))
        ]
        if insecure:
            problems.append(f"callback and logout URLs must be https: {insecure}")

        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED

    def get_evaluated_keys(self) -> list[str]:
        return [
            "allowed_oauth_flows",
            "generate_secret",
            "allowed_oauth_flows_user_pool_client",
            "explicit_auth_flows",
            "callback_urls",
            "logout_urls",
        ]


check = CognitoCodePkceClient()
