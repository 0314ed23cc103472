#!/usr/bin/env bash
# Starts the debug server for the end-to-end run on the given port, with a
# fresh data folder that is removed when the server stops.
set -euo pipefail
port="$1"
data="$(mktemp -d)"
../target/debug/coffer-server \
  --listen "127.0.0.1:${port}" \
  --public-url "http://127.0.0.1:${port}" \
  --s3-listen 127.0.0.1:0 \
  --data-dir "$data" \
  --site-dir ../target/site-test &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT INT TERM
wait "$server"
