"""The deployment's Terraform, parsed once with python-hcl2 for the tests.

No provider is reachable here, so nothing is planned: the tests read the
configuration as written and assert the properties it must keep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

INFRA = Path(__file__).resolve().parents[1]
REPO = INFRA.parent

# Strings without their quotes and blocks as plain lists of dicts, which
# is how the tests compare them.
OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True,
    explicit_blocks=False,
    with_comments=False,
)

_LOCAL = re.compile(r"\$\{local\.([a-z0-9_]+)\}")


def parse_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as source:
        return hcl2.load(source, serialization_options=OPTIONS)


def parse_expression(expression: str) -> Any:
    """An HCL expression (an object, a list) as Python values."""
    return hcl2.loads(f"value = {expression}\n", serialization_options=OPTIONS)["value"]


@dataclass
class Terraform:
    """Every block of the root module, by kind, type and name."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        assert name in self.resources.get(kind, {}), f"{kind}.{name} is missing"
        return self.resources[kind][name]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(kind, {})

    def document(self, name: str) -> dict[str, Any]:
        documents = self.data.get("aws_iam_policy_document", {})
        assert name in documents, f"data.aws_iam_policy_document.{name} is missing"
        return documents[name]

    def for_bucket(self, kind: str, bucket: str) -> dict[str, Any]:
        """The one `kind` resource configuring aws_s3_bucket.<bucket>."""
        wanted = f"${{aws_s3_bucket.{bucket}.id}}"
        found = [body for body in self.of_type(kind).values() if body.get("bucket") == wanted]
        assert len(found) == 1, (
            f"expected one {kind} for aws_s3_bucket.{bucket}, found {len(found)}"
        )
        return found[0]

    def resolve(self, value: Any) -> Any:
        """`value` with references to plain string locals substituted, so
        `${local.audit_prefix}*` reads `audit/portal/*`."""
        if isinstance(value, str):
            return _LOCAL.sub(self._local_text, value)
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def _local_text(self, match: re.Match[str]) -> str:
        local = self.locals.get(match.group(1))
        if isinstance(local, str) and "${" not in local:
            return local
        return match.group(0)

    def jsonencoded(self, value: str) -> Any:
        """The object inside `jsonencode(...)`, with locals resolved."""
        prefix, suffix = "${jsonencode(", ")}"
        assert value.startswith(prefix) and value.endswith(suffix), (
            f"not a jsonencode call: {value[:60]}"
        )
        return self.resolve(parse_expression(value[len(prefix) : -len(suffix)]))


def load(folder: Path) -> Terraform:
    model = Terraform()
    for path in sorted(folder.glob("*.tf")):
        model.sources[path.name] = path.read_text(encoding="utf-8")
        parsed = parse_file(path)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                model.resources.setdefault(kind, {}).update(named)
        for block in parsed.get("data", []):
            for kind, named in block.items():
                model.data.setdefault(kind, {}).update(named)
        for block in parsed.get("variable", []):
            model.variables.update(block)
        for block in parsed.get("output", []):
            model.outputs.update(block)
        for block in parsed.get("locals", []):
            model.locals.update(block)
    return model


@pytest.fixture(scope="session")
def tf() -> Terraform:
    return load(INFRA)
