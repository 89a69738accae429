#!/usr/bin/env bash
# Honest requests while stalled connections besiege the server, side by side with the same
# server at peace. `session-lab serve` runs with an open-file limit of 1,024 (a common
# default); an honest client asks once a second (curl, a fresh connection each time, 2 s
# limit) for SECONDS seconds without an attack, then for SECONDS seconds while
# bench/tools/stall.py holds STALLED connections that each sent half a request head, renewing
# every one the server closes. Prints p50, p99 and max latency and the failures of each phase.
#
# Usage: bash bench/slowloris.sh [BIN=target/release/session-lab] [STALLED=1500] [SECONDS=90]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/session-lab}
STALLED=${2:-1500}
SECONDS_EACH=${3:-90}
[ -x "$BIN" ] || { echo "no $BIN: cargo build --release first" >&2; exit 1; }
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(ulimit -n 1024; exec "$BIN" serve --quiet --port "$PORT" --secret bench) >"$WORK/server.log" 2>&1 &
SERVER=$!
STALL=""
trap 'kill $SERVER $STALL 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

# Asks once a second for $1 seconds; one line per request: the seconds it took, or "fail".
honest() {
  for _ in $(seq "$1"); do
    start=$(date +%s%N)
    if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; then
      echo "$(( ($(date +%s%N) - start) / 1000 ))"
    else
      echo fail
    fi
    sleep 1
  done
}

# p50, p99 and max of the microsecond lines in $1, in ms; and the failures.
summary() {
  sort -n <(grep -v fail "$1") | awk -v fails="$(grep -c fail "$1" || true)" '
    { v[NR] = $1 }
    END {
      if (NR == 0) { printf "no answers, %d failed\n", fails; exit }
      p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
      printf "%d answered, %d failed; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", NR, fails, p50 / 1000, p99 / 1000, v[NR] / 1000
    }'
}

echo "# Honest requests under a slowloris siege"
echo
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bash bench/slowloris.sh\` on $(nproc) cores: $("$BIN" --version),"
echo "serve with ulimit -n 1024; one honest curl a second (fresh connection, 2 s limit), $SECONDS_EACH s each phase."
echo
honest "$SECONDS_EACH" >"$WORK/peace"
python3 bench/tools/stall.py "$PORT" "$STALLED" >"$WORK/stall.log" 2>&1 &
STALL=$!
sleep 3
honest "$SECONDS_EACH" >"$WORK/siege"
echo "| phase | honest requests |"
echo "|---|---|"
echo "| at peace | $(summary "$WORK/peace") |"
echo "| $STALLED stalled connections | $(summary "$WORK/siege") |"
echo
echo "Siege: $(tail -1 "$WORK/stall.log")"
