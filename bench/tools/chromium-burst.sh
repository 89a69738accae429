#!/usr/bin/env bash
# A burst of N requests of one session, as a page's script fires them in one turn, played RUNS
# times in Debian's Chromium (Playwright) and once in the lab's own browser (the audit's
# lost-update burst; the lab's Burst button sends the same: every request carries the cookie
# of the burst's start), on the embedded server with the session kept in the store and kept in
# the cookie. Prints both sides' counts: Chromium reads the jar as each request starts, so on a
# session kept in the cookie its count varies from run to run; the lab's is its clearest case.
# Not part of `cargo test` (it needs Chromium and npm).
# Usage, from the project root: RUNS=5 bash bench/tools/chromium-burst.sh [N]
# Needs: node/npm and `apt-get install chromium` (or CHROMIUM=/path/to/chrome).
set -euo pipefail
n=${1:-20}
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
(cd "$work" && npm init -y >/dev/null && npm i --silent playwright-core >/dev/null)
cp "$here/chromium-burst.js" "$work/"
cargo build --quiet --release
bin=$PWD/target/release/session-lab
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for mode in "store" "cookie"; do
  port=$(free_port)
  extra=()
  [ "$mode" = cookie ] && extra=(--data-in-cookie --cookie-protection signed)
  HOME=$work "$bin" serve --quiet --secret burst --port "$port" "${extra[@]}" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  echo "== session kept in the $mode"
  for run in $(seq "$runs"); do
    echo -n "Chromium, run $run: "
    (cd "$work" && node chromium-burst.js "http://127.0.0.1:$port/" "$n")
  done
  echo -n "the lab's browser (session-lab audit, the lost-update burst): "
  "$bin" audit --url "http://127.0.0.1:$port/" --burst "$n" --json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); c=[c for c in r["checks"] if c["id"]=="lost-updates"][0]; print(c["summary"])'
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
