#!/usr/bin/env bash
# Session Lab's exports opened in the tools they are made for: curl reads cookies.txt,
# Playwright (with Debian's Chromium) reads storageState.json and replays history.har, and
# har-validator checks the HAR. Not part of `cargo test` (it needs Chromium and npm).
# Usage (from the project root, after `cargo build --release`): bash bench/tools/export-roundtrip.sh
# Needs: curl, node/npm, and `apt-get install chromium` (or CHROMIUM=/path/to/chrome).
set -euo pipefail
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/session-lab}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/"
export XDG_DATA_HOME=$work/data
"$bin" serve --quiet --port "$port" >"$work/serve.log" 2>&1 & server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "$url" && break; sleep 0.1; done
"$bin" demo --port 0 --url "$url" --export "$work/out" | tail -3
(cd "$work" && npm init -y >/dev/null && npm i --silent playwright-core har-validator >/dev/null)
cp "$here/playwright-check.js" "$work/"
expect() { grep -qx "$1" <<<"$2" || { echo "FAILED: expected '$1', got: $2"; exit 1; }; echo "ok: $1"; }
expect "Number of views 2" "$(curl -s -b "$work/out/B/cookies.txt" "$url")"   # B: 1 visit, then curl
state=$(cd "$work" && node playwright-check.js state "$work/out" "$url")
echo "$state"; expect "Number of views 4" "$(head -1 <<<"$state")"            # A: 3 visits, then Playwright
kill $server; wait $server 2>/dev/null || true
(cd "$work" && node playwright-check.js har "$work/out" "$url")
echo "all exports opened in their tools; files in $work/out"
