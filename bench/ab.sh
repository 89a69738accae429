#!/usr/bin/env bash
# Quick A/B of HTTP servers: each started pinned to cpu 0 (its port appended to its command),
# wrk pinned to cpu 1, the servers taking turns within each round so a slow minute hits all
# alike. Prints requests/s, p99 and the server's CPU per request (steadier than requests/s on a
# shared machine) per server, round and scenario. For comparing two builds
# while working (copy the old binary away first); bench/run.sh is the full benchmark.
#
# Usage: bash bench/ab.sh DURATION ROUNDS NAME=COMMAND...
#   e.g. bash bench/ab.sh 5 3 "old=/tmp/session-lab-old serve --quiet --secret b --port" \
#          "new=target/release/session-lab serve --quiet --secret b --port" \
#          "bare=target/release/examples/bare_server"
# SCENARIOS="returning rotation new" (the default) picks the scenarios, as in bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:?duration in seconds}
ROUNDS=${2:?rounds}
shift 2
WORK=$(mktemp -d)
NAMES=() PORTS=() PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
port=3320
for spec in "$@"; do
  port=$((port + 1))
  # shellcheck disable=SC2086 # the command is meant to split into words
  taskset -c 0 ${spec#*=} "$port" >/dev/null 2>&1 &
  PIDS+=($!) NAMES+=("${spec%%=*}") PORTS+=("$port")
done
sleep 1
# The server's CPU time so far (user + system, in clock ticks), from /proc.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
cookie_of() { curl -s -D - -o /dev/null "$1" | awk -F': ' 'tolower($1) == "set-cookie" { split($2, a, ";"); print a[1]; exit }'; }
for i in "${!NAMES[@]}"; do
  url="http://127.0.0.1:${PORTS[$i]}/"
  cookie_of "$url" >"$WORK/$i.cookie"
  for _ in $(seq 1000); do cookie_of "$url"; done >"$WORK/$i.cookies"
  taskset -c 1 wrk -t1 -c64 -d1s -H "Cookie: $(cat "$WORK/$i.cookie")" "$url" >/dev/null # warm-up
done
for scenario in ${SCENARIOS:-returning rotation new}; do
  for round in $(seq "$ROUNDS"); do
    line="$scenario r$round:"
    for i in "${!NAMES[@]}"; do
      url="http://127.0.0.1:${PORTS[$i]}/"
      ticks_before=$(cpu_ticks "${PIDS[$i]}")
      case $scenario in
        returning) out=$(taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" --latency -H "Cookie: $(cat "$WORK/$i.cookie")" "$url") ;;
        rotation) out=$(taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" --latency -s bench/rotate.lua "$url" "$WORK/$i.cookies") ;;
        new) out=$(taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" --latency "$url") ;;
      esac
      rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
      p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
      requests=$(awk '/requests in/ { print $1 }' <<<"$out")
      cpu=$(awk -v t="$(($(cpu_ticks "${PIDS[$i]}") - ticks_before))" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f", t * 1e6 / hz / (n > 0 ? n : 1) }')
      # An answer that is not a success (a full store's 503, say) would flatter the numbers.
      failed=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
      line="$line ${NAMES[$i]}=$rps (p99 $p99, ${cpu} µs CPU/req${failed:+, $failed NOT 2xx/3xx})"
    done
    echo "$line"
  done
done
