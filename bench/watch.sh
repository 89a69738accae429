#!/usr/bin/env bash
# The real window (release build, under Xvfb) watching another app's Redis while N sessions
# arrive in it from outside, as express-session with connect-redis writes them (`sess:<sid>`,
# JSON, a day's TTL): every frame's CPU time while they arrive and after, the UI thread's CPU,
# how long until the window shows all N and is idle, a click on Visit a second later, the whole
# process's CPU over 30 idle seconds (the watch lists the store again now and then: that is
# its cost), RSS, and a screenshot.
#
# Usage (from the repository root, after `cargo build --release`):
#   bash bench/watch.sh [SESSIONS=100000] [WIDTHxHEIGHT=1280x720]
# Needs redis-server and redis-cli, Debian's xvfb, xdotool, imagemagick and the Mesa packages
# .ci/run installs, and python3 (to write the sessions in Redis's protocol).
set -u
sessions=${1:-100000}
size=${2:-1280x720}
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/session-lab}
[ -x "$bin" ] || { echo "no $bin: run cargo build --release first"; exit 1; }
for n in $(seq 150 199); do
  [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ] && { disp=":$n"; break; }
done
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis=$!
Xvfb "$disp" -screen 0 "${size}x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
export XDG_RUNTIME_DIR=$work/xdg
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
sleep 1
store="redis://127.0.0.1:$redis_port"
port=$(free_port)
w=${size%x*}; h=${size#*x}
DISPLAY=$disp SESSION_LAB_FRAME_LOG=$work/frames.txt "$bin" --fresh --size "${w}x${h}" --port "$port" \
  --watch "$store" >"$work/app.log" 2>&1 &
app=$!
trap 'kill $app $xvfb $redis 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
sleep 2

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }   # utime + stime, in 1/100 s
rss_mb() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
stats() {
  sed -n "$2,$3p" "$1" | sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "no frames"; exit }
    p50=a[int(NR*0.5)+1]; p99=a[int(NR*0.99)+(NR*0.99==int(NR*0.99)?0:1)]; if (p99=="") p99=a[NR];
    printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d frames", p50, p99, a[NR], NR }'
}

echo "window pid $app on $disp ($size) watching $store, RSS $(rss_mb "$app") MB before"
first_frame=$(($(wc -l <"$work/frames.txt") + 1))
ui_before=$(ticks "$app/task/$app")
started=$(date +%s%N)
python3 - "$sessions" <<'EOF' | redis-cli -p "$redis_port" --pipe | tail -1
import json, secrets, sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    sid = secrets.token_urlsafe(24)[:32]
    value = json.dumps({"cookie": {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}, "views": i % 7 + 1}, separators=(",", ":"))
    parts = [b"SET", ("sess:" + sid).encode(), value.encode(), b"EX", b"86400"]
    out.write(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
EOF
written=$(date +%s%N)
echo "wrote $sessions sessions in $(((written - started) / 1000000)) ms"

# Caught up: the window's log says the watch has them all, and the UI thread is idle (two
# 100 ms samples in a row without a tick).
quiet=0
for _ in $(seq 1200); do
  a=$(ticks "$app/task/$app"); sleep 0.1; b=$(ticks "$app/task/$app")
  if [ "$a" = "$b" ]; then quiet=$((quiet + 1)); else quiet=0; fi
  [ $quiet -ge 2 ] && [ "$(redis-cli -p "$redis_port" dbsize)" -ge "$sessions" ] && break
done
caught=$(($(date +%s%N) - written))
ui_after=$(ticks "$app/task/$app")
DISPLAY=$disp import -window root "$work/caught-up.png" 2>/dev/null
echo "UI thread idle $(((caught / 1000000) - 200)) ms after the last write; UI thread used $(((ui_after - ui_before) * 10)) ms of CPU in all; frames $(stats "$work/frames.txt" "$first_frame" '$'); screenshot $work/caught-up.png"

sleep 1
before_click=$(wc -l <"$work/frames.txt")
DISPLAY=$disp xdotool mousemove 300 91 click 1
sleep 0.5
echo "a click a second later: $(($(wc -l <"$work/frames.txt") - before_click)) frames in the next 500 ms"

sleep 2
a=$(ticks "$app"); sleep 70; b=$(ticks "$app")
echo "whole window process, 70 seconds after (a listing at least every 60 s): $((b - a)) CPU ticks (the watch's listings of $sessions sessions); RSS $(rss_mb "$app") MB"
grep -iE "watch|store" "$work/app.log" | tail -3

# How soon a session written by someone else shows, with the store this full: `session-lab
# watch --json` follows the same store; a new session is written and the time until the watch
# prints it is measured — first as Redis is configured by default (the watch's quick passes
# find it), then with keyspace notifications turned on by the store's owner (this script).
new_session_latency() {
  "$bin" watch "$store" --json >"$work/watch.jsonl" 2>"$work/watch.err" &
  local watcher=$!
  for _ in $(seq 600); do [ -s "$work/watch.jsonl" ] && break; sleep 0.1; done
  sleep 1
  local times=()
  for n in 1 2 3 4 5; do
    local sid="bench$n$(date +%s%N)"
    local t0; t0=$(date +%s%N)
    redis-cli -p "$redis_port" SET "sess:$sid" '{"cookie":{},"views":1}' EX 86400 >/dev/null
    for _ in $(seq 6000); do tail -c 4000 "$work/watch.jsonl" | grep -q "$sid" && break; sleep 0.005; done
    times+=($((($(date +%s%N) - t0) / 1000000)))
    sleep "0.$((RANDOM % 9 + 1))"
  done
  echo "a new session among $sessions shows in the watch after (ms, 5 tries): ${times[*]} ($1)"
  kill $watcher 2>/dev/null; wait $watcher 2>/dev/null
}
new_session_latency "notifications off: the watch's quick passes"
redis-cli -p "$redis_port" CONFIG SET notify-keyspace-events KEA >/dev/null
new_session_latency "keyspace notifications on"
