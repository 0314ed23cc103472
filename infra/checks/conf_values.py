"""Reading values out of the resource configurations checkov hands to a
check.

Checkov wraps every attribute in a list (`generate_secret = false` arrives
as `[False]`, a list attribute as `[[...]]`) and renders `jsonencode(...)`
into a dict when it can. When an argument mixes a bare reference with an
interpolation (`[aws_s3_bucket.a.arn, "${aws_s3_bucket.a.arn}/*"]`) it
gives up and leaves a string `jsonencode({...})` whose references are
doubly quoted; `policy_statements` repairs that form too. A policy that
still cannot be read is reported as unreadable, so a check fails closed.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

# A reference checkov quoted twice: ''aws_s3_bucket.a.arn'/*' or
# ''aws_s3_bucket.a.arn''. Both become one plain string literal.
_DOUBLY_QUOTED = re.compile(r"''([^'\s,\[\]{}]+)'([^'\s,\[\]{}]*)'")


def unwrap(value: Any) -> Any:
    """The attribute's value without checkov's one-element list."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def value_list(conf: dict[str, Any], key: str) -> list[Any]:
    """A list attribute as a plain list; empty when absent."""
    value = unwrap(conf.get(key, []))
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def text(value: Any) -> str:
    """A scalar as lower-case text, so `"false"`, `False` and `'False'`
    compare equal."""
    return str(unwrap(value)).strip().lower()


def as_list(value: Any) -> list[Any]:
    """A policy element that may be a single value or a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def policy_statements(value: Any) -> list[dict[str, Any]] | None:
    """The statements of a rendered policy document, or None when the
    policy cannot be read (a data source reference, an unknown form)."""
    document = _policy_document(unwrap(value))
    if not isinstance(document, dict):
        return None
    statements = document.get("Statement")
    if isinstance(statements, dict):
        return [statements]
    if isinstance(statements, list) and all(isinstance(s, dict) for s in statements):
        return statements
    return None


def _policy_document(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    source = value.strip()

    # A JSON string (a heredoc, or a file read with file()).
    try:
        return json.loads(source)
    except ValueError:
        pass

    # checkov's unrendered jsonencode: a Python literal inside the call.
    if source.startswith("jsonencode(") and source.endswith(")"):
        inner = _DOUBLY_QUOTED.sub(r"'\1\2'", source[len("jsonencode(") : -1])
        try:
            return ast.literal_eval(inner)
        except (ValueError, SyntaxError):
            return None
    return None
