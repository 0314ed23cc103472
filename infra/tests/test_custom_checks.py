"""Coffer's checkov checks (infra/checks/) against small fixtures: every
good_* resource must pass its check and every bad_* resource must fail
it, so a check that stopped looking would be caught.

checkov lives in its own environment (see check.sh); COFFER_CHECKOV
names its executable, or `checkov` is looked up on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import INFRA, load

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "checks"

# Which check judges which resource type.
CHECK_FOR_TYPE = {
    "aws_s3_bucket_policy": "CKV_COFFER_1",
    "aws_cloudtrail": "CKV_COFFER_2",
    "aws_cognito_user_pool_client": "CKV_COFFER_3",
    "aws_s3_bucket_cors_configuration": "CKV_COFFER_4",
}

FIXTURE_MODEL = load(FIXTURES)
CASES = sorted(
    (kind, name)
    for kind in CHECK_FOR_TYPE
    for name in FIXTURE_MODEL.of_type(kind)
    if name.startswith(("good_", "bad_"))
)


def checkov_executable() -> str | None:
    return os.environ.get("COFFER_CHECKOV") or shutil.which("checkov")


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    """Each fixture resource's result, from one checkov run."""
    executable = checkov_executable()
    if executable is None:
        pytest.skip("checkov is not installed; infra/check.sh installs it and sets COFFER_CHECKOV")
    completed = subprocess.run(
        [
            executable,
            "--directory",
            str(FIXTURES),
            "--framework",
            "terraform",
            "--external-checks-dir",
            str(INFRA / "checks"),
            "--check",
            ",".join(sorted(CHECK_FOR_TYPE.values())),
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        # Run outside infra/ so its .checkov.yaml does not apply.
        cwd=FIXTURES,
        timeout=300,
    )
    assert completed.stdout.strip(), completed.stderr
    report = json.loads(completed.stdout)
    assert report["summary"]["parsing_errors"] == 0
    outcome: dict[str, dict[str, Any]] = {}
    for key in ("passed_checks", "failed_checks"):
        for result in report["results"][key]:
            outcome[result["resource"]] = result
    return outcome


def test_every_check_has_good_and_bad_fixtures() -> None:
    for kind, check_id in CHECK_FOR_TYPE.items():
        names = FIXTURE_MODEL.of_type(kind)
        assert any(n.startswith("good_") for n in names), f"{check_id} has no good fixture"
        assert any(n.startswith("bad_") for n in names), f"{check_id} has no bad fixture"


@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}.{n}" for k, n in CASES])
def test_the_check_judges_the_fixture(
    results: dict[str, dict[str, Any]], kind: str, name: str
) -> None:
    address = f"{kind}.{name}"
    assert address in results, f"{CHECK_FOR_TYPE[kind]} did not judge {address}"
    result = results[address]
    assert result["check_id"] == CHECK_FOR_TYPE[kind]
    expected = "PASSED" if name.startswith("good_") else "FAILED"
    assert result["check_result"]["result"] == expected, result.get("details")
