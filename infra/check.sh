#!/usr/bin/env bash
# Checks the Terraform in this folder without reaching AWS:
#   1. checkov, offline, with Coffer's own checks from checks/;
#   2. terraform fmt -check, when a terraform binary is installed;
#   3. pytest over tests/ (the security properties, the conventions, and
#      the custom checks against good and bad fixtures).
# Installs the pinned Python tools first when they are missing. Exits
# non-zero on any failed check or test.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"

# --- Tools ------------------------------------------------------------------

# pytest and python-hcl2 go into the Python on PATH, unless the pinned
# versions are there already.
pins_satisfied() {
  "$PYTHON" - "$1" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, pinned = line.split("==")
    try:
        if version(name) != pinned:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

if ! pins_satisfied requirements.txt; then
  echo "infra: installing $(grep -v '^#' requirements.txt | xargs)"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi

# checkov gets a virtual environment of its own (see
# requirements-checkov.txt for why), kept per pin set so that a changed pin
# builds a fresh one.
TOOLS_DIR="${COFFER_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coffer}"
CHECKOV_PINS="$(sha256sum requirements-checkov.txt | cut -c1-12)"
CHECKOV_ENV="$TOOLS_DIR/checkov-$CHECKOV_PINS"
CHECKOV="$CHECKOV_ENV/bin/checkov"
CHECKOV_VERSION="$(sed -n 's/^checkov==//p' requirements-checkov.txt)"
if [ "$("$CHECKOV" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  echo "infra: installing $(grep -v '^#' requirements-checkov.txt | xargs) into $CHECKOV_ENV"
  rm -rf "$CHECKOV_ENV"
  mkdir -p "$TOOLS_DIR"
  "$PYTHON" -m venv "$CHECKOV_ENV"
  "$CHECKOV_ENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r requirements-checkov.txt
fi
export COFFER_CHECKOV="$CHECKOV"

# --- checkov ------------------------------------------------------------------

# Settings come from .checkov.yaml; the JSON report is summarised here,
# since checkov's own closing line is not a test summary.
REPORT_DIR="$(mktemp -d)"
trap 'rm -rf "$REPORT_DIR"' EXIT
set +e
"$CHECKOV" --config-file .checkov.yaml --output json --output-file-path "$REPORT_DIR" \
  >"$REPORT_DIR/stdout" 2>"$REPORT_DIR/stderr"
set -e

checkov_status=0
"$PYTHON" - "$REPORT_DIR" <<'PY' || checkov_status=$?
import json
import pathlib
import sys

folder = pathlib.Path(sys.argv[1])
reports = sorted(folder.glob("*.json"))
if not reports:
    sys.stderr.write((folder / "stderr").read_text())
    print("checkov: produced no report")
    sys.exit(2)

report = json.loads(reports[0].read_text())
reports = report if isinstance(report, list) else [report]
passed = failed = skipped = parsing_errors = 0
for report in reports:
    summary = report["summary"]
    passed += summary["passed"]
    failed += summary["failed"]
    skipped += summary["skipped"]
    parsing_errors += summary["parsing_errors"]
    results = report.get("results", {})
    for result in results.get("failed_checks", []):
        lines = "-".join(str(n) for n in result.get("file_line_range", []))
        where = f"{result['file_path']}:{lines}"
        print(f"FAILED {result['check_id']} {result['resource']} ({where}): {result['check_name']}")
        for detail in result.get("details") or []:
            print(f"    {detail}")
    for result in results.get("skipped_checks", []):
        reason = result["check_result"].get("suppress_comment", "")
        print(f"skipped {result['check_id']} {result['resource']}: {reason}")

if parsing_errors:
    print(f"checkov could not parse {parsing_errors} file(s)")
print(f"checkov: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or parsing_errors else 0)
PY

# --- terraform fmt --------------------------------------------------------------

fmt_status=0
if command -v terraform >/dev/null; then
  # A configuration file named but absent only makes terraform warn.
  if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
    export TF_CLI_CONFIG_FILE=/dev/null
  fi
  if terraform fmt -check -recursive -diff .; then
    echo "terraform fmt: formatted"
  else
    echo "terraform fmt: the files above need terraform fmt"
    fmt_status=1
  fi
else
  echo "terraform fmt: skipped, no terraform binary on PATH"
fi

# --- pytest ---------------------------------------------------------------------

test_status=0
"$PYTHON" -m pytest tests -q -p no:cacheprovider || test_status=$?

if [ "$checkov_status" -ne 0 ] || [ "$fmt_status" -ne 0 ] || [ "$test_status" -ne 0 ]; then
  exit 1
fi
