#!/usr/bin/env bash
# Side-by-side benchmark: Session Lab's server, the seed's Express app (express 5 +
# express-session 1.19) and a bare axum + tower-sessions server, each pinned to one core,
# loaded by wrk pinned to the other core. Scenarios: a returning browser (one cookie), a new
# browser on every request, 1,000 browsers in rotation; then RSS per session after 100,000
# sessions and lost updates under 64-way concurrency. Writes bench/RESULTS.md.
#
# Needs: Rust, Node.js + npm, and Debian's wrk, curl and util-linux (taskset); with Debian's
# redis-server (and redis-cli), a Redis-store scenario is added.
# Usage: bash bench/run.sh            (DURATION=10 seconds per scenario, CONNECTIONS=64)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
SESSIONS=${SESSIONS:-100000}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=bench/RESULTS.md
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

for tool in wrk curl taskset node npm; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install wrk curl util-linux nodejs npm)"; exit 1; }
done
if [ "$(nproc)" -ge 2 ]; then SERVER_CPU=0; LOAD_CPU=1; else SERVER_CPU=0; LOAD_CPU=0; fi

echo "==> building (release)"
cargo build --release --bin session-lab --example bare_server >/dev/null
echo "==> installing the Express app's packages"
(cd bench/express && npm ci --no-audit --no-fund --silent)

LAB="$TARGET/release/session-lab"
start_server() { # name port [cpus]
  local cpus=${3:-$SERVER_CPU}
  case $1 in
    session-lab) taskset -c "$cpus" "$LAB" serve --quiet --port "$2" --secret bench >"$WORK/$1.log" 2>&1 & ;;
    # The same server with the inspector recording every request, as it does for the window.
    session-lab-recording) taskset -c "$cpus" "$LAB" serve --quiet --record --port "$2" --secret bench >"$WORK/$1.log" 2>&1 & ;;
    session-lab-sqlite)
      rm -f "$WORK/bench.db"*
      taskset -c "$cpus" "$LAB" serve --quiet --port "$2" --secret bench --store "sqlite:$WORK/bench.db" >"$WORK/$1.log" 2>&1 & ;;
    session-lab-redis)
      redis-cli -p "$REDIS_PORT" flushall >/dev/null
      taskset -c "$cpus" "$LAB" serve --quiet --port "$2" --secret bench --store "redis://127.0.0.1:$REDIS_PORT" >"$WORK/$1.log" 2>&1 & ;;
    express) PORT=$2 taskset -c "$cpus" node bench/express/app.js >"$WORK/$1.log" 2>&1 & ;;
    bare) taskset -c "$cpus" "$TARGET/release/examples/bare_server" "$2" >"$WORK/$1.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0; sleep 0.1; done
  echo "$1 did not start:"; cat "$WORK/$1.log"; exit 1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }

# wrk's latency with its unit → milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

ROUNDS=${ROUNDS:-3}

run_wrk_once() { # url [wrk options…] [-- script args…] → "rps p50 p99"
  local url=$1; shift
  local options=() script_args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do options+=("$1"); shift; done
  [ $# -gt 0 ] && shift && script_args=("$@")
  taskset -c $LOAD_CPU wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${options[@]}" "$url" "${script_args[@]}" >"$WORK/wrk.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$WORK/wrk.txt")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.txt")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.txt")")
  if grep -q "Non-2xx" "$WORK/wrk.txt"; then echo "warning: non-2xx answers: $(grep Non-2xx "$WORK/wrk.txt")" >&2; fi
  echo "$rps $p50 $p99"
}

cookie_of() { # url → "name=value" of the session cookie a first visit sets
  curl -s -D - -o /dev/null "$1" | awk -F': ' 'tolower($1) == "set-cookie" { split($2, a, ";"); print a[1]; exit }'
}

rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

declare -A RPS P50 P99 RSS LOST URL PIDS
SERVERS=(session-lab express bare session-lab-recording session-lab-sqlite)
# With redis-server installed, a Redis-store scenario too (Redis shares the server's core).
if command -v redis-server >/dev/null; then
  REDIS_PORT=6399
  taskset -c $SERVER_CPU redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  SERVERS+=(session-lab-redis)
fi
PORT=3201
# Throughput: all three servers up at once (idle ones cost nothing), the runs interleaved
# server by server, round by round, so a slow minute on this machine hits all three alike.
for server in "${SERVERS[@]}"; do
  PORT=$((PORT + 1))
  URL[$server]="http://127.0.0.1:$PORT/"
  start_server "$server" "$PORT"
  PIDS[$server]=$SERVER_PID
  taskset -c $LOAD_CPU wrk -t1 -c"$CONNECTIONS" -d2s "${URL[$server]}" >/dev/null # warm-up
  cookie_of "${URL[$server]}" >"$WORK/$server.cookie"
  : >"$WORK/$server.cookies"
  for _ in $(seq 1000); do cookie_of "${URL[$server]}" >>"$WORK/$server.cookies"; done
done
echo "==> throughput: ${ROUNDS} interleaved rounds of ${DURATION} s per server and scenario"
for scenario in returning new rotation; do
  for round in $(seq "$ROUNDS"); do
    for server in "${SERVERS[@]}"; do
      url=${URL[$server]}
      case $scenario in
        returning) run_wrk_once "$url" -H "Cookie: $(cat "$WORK/$server.cookie")" ;;
        new) run_wrk_once "$url" ;;
        rotation) run_wrk_once "$url" -s bench/rotate.lua -- "$WORK/$server.cookies" ;;
      esac >>"$WORK/$server.$scenario"
    done
  done
  for server in "${SERVERS[@]}"; do
    read -r RPS[$server,$scenario] P50[$server,$scenario] P99[$server,$scenario] < <(
      sort -n -k1 "$WORK/$server.$scenario" | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2)')
    echo "    $scenario $server: ${RPS[$server,$scenario]} req/s, p50 ${P50[$server,$scenario]} ms, p99 ${P99[$server,$scenario]} ms"
  done
done
for server in "${SERVERS[@]}"; do kill "${PIDS[$server]}" 2>/dev/null || true; wait "${PIDS[$server]}" 2>/dev/null || true; done

for server in "${SERVERS[@]}"; do
  [ "$server" = session-lab-recording ] && continue # the same store and locks as session-lab
  PORT=$((PORT + 1))
  url="http://127.0.0.1:$PORT/"
  echo "==> $server: memory and lost updates"
  if [ "$server" = session-lab-sqlite ] || [ "$server" = session-lab-redis ]; then
    RSS[$server]="in the store"
  else
    # Memory: a fresh server, then $SESSIONS new sessions (a browser with cookies off).
    start_server "$server" "$PORT"
    before=$(rss_kb "$SERVER_PID")
    taskset -c $LOAD_CPU "$LAB" load --url "$url" --visits "$SESSIONS" --no-cookies --concurrency "$CONNECTIONS" >/dev/null
    sleep 1
    after=$(rss_kb "$SERVER_PID")
    RSS[$server]=$(( (after - before) * 1024 / SESSIONS ))
    echo "    RSS: ${before} kB → ${after} kB for $SESSIONS sessions: ${RSS[$server]} B per session"
    stop_server
  fi

  # Lost updates: a fresh server on all cores, one cookie, 10,000 visits 64 at a time.
  PORT=$((PORT + 1))
  url="http://127.0.0.1:$PORT/"
  start_server "$server" "$PORT" "0-$(( $(nproc) - 1 ))"
  LOST[$server]=$("$LAB" load --url "$url" --visits 10000 --browsers 1 --concurrency 64 | awk -F'lost updates ' '/lost updates/ { print $2 }')
  echo "    lost updates: ${LOST[$server]} of 10000"
  stop_server
done

echo "==> the window under load: headless frames (cargo bench --bench ui_frame)"
UI_FRAME=$(cargo bench --bench ui_frame 2>/dev/null | grep -E '^(ui |catch-up|sort|filter|RSS)' | sed 's/^/    /')
echo "$UI_FRAME"
echo "==> the real window under Xvfb (bench/window.sh), 100,000 and 1,000,000 sessions"
WINDOW_100K=$(bash bench/window.sh 100000 2>&1 | grep -v '^window pid' | sed 's/^/    /')
WINDOW_1M=$(bash bench/window.sh 1000000 2>&1 | grep -v '^window pid' | sed 's/^/    /')
echo "$WINDOW_100K"
echo "$WINDOW_1M"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "MISSED" }'; }

{
  echo "# Benchmark results"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bash bench/run.sh\` on $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(free -g | awk '/Mem:/ { print $2 }') GiB."
  echo "Each server pinned to cpu $SERVER_CPU, wrk (1 thread, $CONNECTIONS connections, ${DURATION} s per run) to cpu $LOAD_CPU; the median of $ROUNDS rounds, the servers taking turns within each round."
  echo "Both Rust servers use mimalloc as their allocator, so the bare server measures exactly the layers Session Lab adds."
  echo "session-lab is \`serve --quiet\` (requests counted, not recorded); session-lab-recording is \`serve --quiet --record\`, which records every request for the inspector as the window does."
  echo "Express $(node -p "require('./bench/express/node_modules/express/package.json').version") with express-session $(node -p "require('./bench/express/node_modules/express-session/package.json').version") on Node.js $(node --version); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)."
  echo
  echo "| scenario | server | requests/s | p50 ms | p99 ms |"
  echo "|---|---|---:|---:|---:|"
  for scenario in returning new rotation; do
    for server in "${SERVERS[@]}"; do
      echo "| $scenario | $server | ${RPS[$server,$scenario]} | ${P50[$server,$scenario]} | ${P99[$server,$scenario]} |"
    done
  done
  echo
  echo "| server | RSS per session (B, after $SESSIONS sessions) | lost updates (10,000 visits, 64 at once, one cookie, server on all cores) |"
  echo "|---|---:|---:|"
  for server in "${SERVERS[@]}"; do
    [ "$server" = session-lab-recording ] || echo "| $server | ${RSS[$server]} | ${LOST[$server]} |"
  done
  echo
  echo "## Targets (ratios from this run)"
  echo
  echo "| target | scenario | value | |"
  echo "|---|---|---:|---|"
  for scenario in returning new rotation; do
    r=$(ratio "${RPS[session-lab,$scenario]}" "${RPS[express,$scenario]}")
    echo "| requests/s ≥ 12× Express | $scenario | ${r}× | $(verdict "$r" ">=" 12) |"
    r=$(ratio "${RPS[session-lab,$scenario]}" "${RPS[bare,$scenario]}")
    echo "| requests/s ≥ 0.9× bare tower-sessions | $scenario | ${r}× | $(verdict "$r" ">=" 0.9) |"
    r=$(ratio "${P99[session-lab,$scenario]}" "${P99[express,$scenario]}")
    echo "| p99 ≤ 0.1× Express | $scenario | ${r}× | $(verdict "$r" "<=" 0.1) |"
  done
  r=$(ratio "${RSS[session-lab]}" "${RSS[bare]}")
  echo "| RSS per session ≤ bare tower-sessions | $SESSIONS sessions | ${r}× | $(verdict "$r" "<=" 1) |"
  echo "| zero lost updates | 10,000 visits, 64 at once | ${LOST[session-lab]} | $(verdict "${LOST[session-lab]}" "<=" 0) |"
  echo
  echo "## What recording costs"
  echo
  echo "The targets above measure \`serve --quiet\`, where the inspector numbers requests and watches the store but records nothing, because nobody reads the records. In the window it records every request (method, path, cookie verdict, the session's data before and after) for the log and the timeline; \`serve --quiet --record\` does the same without a window:"
  echo
  echo "| scenario | recording, requests/s | × bare tower-sessions | × not recording | p99 ms |"
  echo "|---|---:|---:|---:|---:|"
  for scenario in returning new rotation; do
    echo "| $scenario | ${RPS[session-lab-recording,$scenario]} | $(ratio "${RPS[session-lab-recording,$scenario]}" "${RPS[bare,$scenario]}")× | $(ratio "${RPS[session-lab-recording,$scenario]}" "${RPS[session-lab,$scenario]}")× | ${P99[session-lab-recording,$scenario]} |"
  done
  echo
  echo "## The window under load"
  echo
  echo "\`cargo bench --bench ui_frame\` (egui_kittest, headless: the UI thread's CPU per frame — draining the lab and laying out every panel, plus the AccessKit tree kittest always builds — without GPU drawing; 16 browsers; new sessions from a client outside the window):"
  echo
  echo "$UI_FRAME"
  echo
  echo "\`bash bench/window.sh 100000\` and \`bash bench/window.sh 1000000\` (the release window under Xvfb with software rendering; frame times are eframe's own CPU figure per frame, painting included; \`session-lab load --no-cookies\` from another process):"
  echo
  echo "$WINDOW_100K"
  echo
  echo "$WINDOW_1M"
} >"$OUT"
echo
cat "$OUT"
