"""The conventions every file in infra/ keeps (docs/deploy.md and
STYLE point 12): described, typed, defaulted and validated variables,
described outputs, a reason for every skipped check and for every
explicit dependency.
"""

from __future__ import annotations

import re

import pytest
from conftest import INFRA, Terraform, load

MODEL = load(INFRA)


@pytest.mark.parametrize("name", sorted(MODEL.variables))
def test_every_variable_is_described_typed_defaulted_and_validated(name: str) -> None:
    variable = MODEL.variables[name]
    assert len(variable.get("description", "")) >= 20, "description"
    assert variable.get("type") not in (None, "any", "${any}"), "type"
    assert "default" in variable, "default"
    validations = variable.get("validation", [])
    assert validations and all(
        v.get("condition") and v.get("error_message") for v in validations
    ), "validation"


@pytest.mark.parametrize("name", sorted(MODEL.outputs))
def test_every_output_is_described(name: str) -> None:
    assert len(MODEL.outputs[name].get("description", "")) >= 20


def test_the_readme_lists_every_input_and_output() -> None:
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    missing = [name for name in [*MODEL.variables, *MODEL.outputs] if f"| `{name}` |" not in readme]
    assert not missing, f"infra/README.md does not list {missing}"


def test_no_output_is_a_secret(tf: Terraform) -> None:
    for name, output in tf.outputs.items():
        assert "client_secret" not in str(output["value"]), name


@pytest.mark.parametrize("filename", sorted(MODEL.sources))
def test_every_checkov_skip_gives_its_reason(filename: str) -> None:
    for line in MODEL.sources[filename].splitlines():
        if "checkov:skip" in line:
            assert re.fullmatch(r"\s*#checkov:skip=CKV2?_AWS_\d+:[A-Z].{20,}", line), line


@pytest.mark.parametrize("filename", sorted(MODEL.sources))
def test_every_depends_on_says_why(filename: str) -> None:
    lines = MODEL.sources[filename].splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith("depends_on"):
            assert lines[number - 1].strip().startswith("#"), (
                f"{filename}:{number + 1} has no comment above it"
            )


@pytest.mark.parametrize("filename", sorted(MODEL.sources))
def test_count_and_for_each_come_first(filename: str) -> None:
    source = MODEL.sources[filename]
    for block in re.finditer(
        r'^(resource|data) "[^"]+" "[^"]+" \{\n((?:  .*\n|\n)*?)\}', source, re.MULTILINE
    ):
        body = [
            line
            for line in block.group(2).splitlines()
            if line.startswith("  ") and not line.startswith("   ")
        ]
        arguments = [line.strip() for line in body if not line.strip().startswith("#")]
        for index, line in enumerate(arguments):
            if re.match(r"(count|for_each)\s*=", line):
                assert index == 0, f"{filename}: {block.group(0).splitlines()[0]}"


def test_the_files_are_split_by_concern() -> None:
    expected = {
        "versions.tf",
        "providers.tf",
        "variables.tf",
        "outputs.tf",
        "locals.tf",
        "kms.tf",
        "s3.tf",
        "cloudtrail.tf",
        "cognito.tf",
        "iam.tf",
        "lambda.tf",
        "api.tf",
        "monitoring.tf",
    }
    assert set(MODEL.sources) == expected
