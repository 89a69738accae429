#!/usr/bin/env bash
# The SQLite store under the rotation load, round after round on one server: requests per
# round, p99 and the write-ahead log's size after each. The rounds end with wrk closing its
# connections mid-request, so a lease left behind by a dropped request shows as a round that
# serves a fraction of the others, and a log that never starts over as a size that only grows.
#
# Usage: bash bench/sqlite-rotation.sh [BINARY] [SESSIONS] [ROUNDS] [SECONDS]
#   defaults: target/release/session-lab 300 5 5
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:-target/release/session-lab}
SESSIONS=${2:-300}
ROUNDS=${3:-5}
SECONDS_PER_ROUND=${4:-5}
WORK=$(mktemp -d)
PORT=3631
taskset -c 0 "$BINARY" serve --quiet --secret bench --store "sqlite:$WORK/a.db" --port "$PORT" >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
sleep 1
url="http://127.0.0.1:$PORT/"
for _ in $(seq "$SESSIONS"); do
  curl -s -D - -o /dev/null "$url" | awk -F': ' 'tolower($1) == "set-cookie" { split($2, a, ";"); print a[1]; exit }'
done >"$WORK/cookies"
for round in $(seq "$ROUNDS"); do
  out=$(taskset -c 1 wrk -t1 -c64 -d"${SECONDS_PER_ROUND}s" --latency -s bench/rotate.lua "$url" "$WORK/cookies")
  echo "round $round: $(awk '/requests in/ { r = $1 } $1 == "99%" { p = $2 } /Non-2xx/ { n = $NF } END { printf "%d requests, p99 %s%s", r, p, (n ? ", " n " not 2xx/3xx" : "") }' <<<"$out"), log $(($(stat -c %s "$WORK/a.db-wal") / 1048576)) MiB"
done
