#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: each server runs under callgrind
# (its port appended to its command), the counter is zeroed, N requests of a scenario are sent
# over one keep-alive connection (bench/tools/keepalive.py), the count is dumped and divided by
# N. Instruction counts do not depend on what else the machine is doing (requests/s here move
# ±13% from one minute to the next), so a few per cent between two servers is visible; the
# counts are of the server process, every thread, the runtime's included. Compare builds of
# one server with it, not two different servers: under valgrind the CPU has no SHA extensions,
# so SHA-256 runs in software there, and a server that signs every answer (bare
# tower-sessions) counts far more than it costs natively; nor do instructions count the
# kernel's share of a request (half of it here) or cache misses — bench/ab.sh's CPU per request
# does.
#
# Usage: bash bench/instructions.sh REQUESTS NAME=COMMAND...
#   e.g. bash bench/instructions.sh 2000 "lab=target/release/session-lab serve --quiet --secret b --port" \
#          "bare=target/release/examples/bare_server"
# SCENARIOS="returning rotation new" (the default) picks the scenarios, as in bench/ab.sh.
# KEEP=DIR keeps each scenario's callgrind dump in DIR (callgrind_annotate reads them).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${1:?requests per scenario}
shift
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
WORK=$(mktemp -d)
NAMES=() PORTS=() PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
port=3420
for spec in "$@"; do
  port=$((port + 1))
  name=${spec%%=*}
  # shellcheck disable=SC2086 # the command is meant to split into words
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.out" ${spec#*=} "$port" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!) NAMES+=("$name") PORTS+=("$port")
done
for i in "${!NAMES[@]}"; do
  for _ in $(seq 100); do
    python3 bench/tools/keepalive.py "${PORTS[$i]}" 1 new 2>/dev/null && break
    sleep 0.2
  done
  # 1,000 sessions for the rotation, which also warms the server up.
  python3 bench/tools/keepalive.py "${PORTS[$i]}" 1000 collect >"$WORK/$i.cookies"
  python3 bench/tools/keepalive.py "${PORTS[$i]}" 200 returning "$WORK/$i.cookies"
done
# The instructions of one dump, divided by the requests it covers.
per_request() { awk -v n="$REQUESTS" '/^summary:/ { printf "%.0f", $2 / n }' "$1"; }
declare -A count
for scenario in ${SCENARIOS:-returning rotation new}; do
  line="$scenario:"
  for i in "${!NAMES[@]}"; do
    name=${NAMES[$i]}
    callgrind_control --zero "${PIDS[$i]}" >/dev/null 2>&1
    python3 bench/tools/keepalive.py "${PORTS[$i]}" "$REQUESTS" "$scenario" "$WORK/$i.cookies"
    callgrind_control --dump="$scenario" "${PIDS[$i]}" >/dev/null 2>&1
    dump=$(ls -t "$WORK/$name.out".* | head -1)
    [[ -n ${KEEP:-} ]] && mkdir -p "$KEEP" && cp "$dump" "$KEEP/$name.$scenario.callgrind"
    count[$i]=$(per_request "$dump")
    line="$line $name=${count[$i]} instr/req"
  done
  # Each server against the last one named (the reference).
  last=$((${#NAMES[@]} - 1))
  for i in "${!NAMES[@]}"; do
    ((i == last)) && continue
    line="$line, ${NAMES[$i]}/${NAMES[$last]} $(awk -v a="${count[$i]}" -v b="${count[$last]}" 'BEGIN { printf "%.3f", a / b }')"
  done
  echo "$line"
done
