#!/usr/bin/env bash
# The real window (release build, under Xvfb) while another process sends it new sessions, as
# a user would feel it: every frame's CPU time while the sessions arrive and after (eframe's
# own figure, written by the app when SESSION_LAB_FRAME_LOG is set), the UI thread's CPU, how
# long after the load the window is idle again, a click on Visit a second later, the whole
# process's CPU over 10 idle seconds, and RSS next to a `serve` process given the same load.
#
# Usage (from the repository root, after `cargo build --release`):
#   bash bench/window.sh [VISITS=100000] [WIDTHxHEIGHT=1600x1000]
# Needs Debian's xvfb, xdotool, imagemagick and the Mesa packages .ci/run installs.
set -u
visits=${1:-100000}
size=${2:-1600x1000}
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/session-lab}
[ -x "$bin" ] || { echo "no $bin: run cargo build --release first"; exit 1; }
for n in $(seq 150 199); do
  [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ] && { disp=":$n"; break; }
done
work=$(mktemp -d)
Xvfb "$disp" -screen 0 "${size}x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
export XDG_RUNTIME_DIR=$work/xdg
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
sleep 1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
DISPLAY=$disp SESSION_LAB_FRAME_LOG=$work/frames.txt "$bin" --port "$port" >"$work/app.log" 2>&1 &
app=$!
trap 'kill $app $xvfb ${serve:-} 2>/dev/null' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
sleep 2

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }   # utime + stime, in 1/100 s
rss_mb() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
# p50, p99 and max of the numbers in lines FROM..TO of a file.
stats() {
  sed -n "$2,$3p" "$1" | sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "no frames"; exit }
    p50=a[int(NR*0.5)+1]; p99=a[int(NR*0.99)+(NR*0.99==int(NR*0.99)?0:1)]; if (p99=="") p99=a[NR];
    printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d frames", p50, p99, a[NR], NR }'
}

echo "window pid $app on $disp ($size), server :$port, RSS $(rss_mb "$app") MB before the load"
first_frame=$(($(wc -l <"$work/frames.txt") + 1))
ui_before=$(ticks "$app/task/$app")
load_started=$(date +%s%N)
"$bin" load --url "http://127.0.0.1:$port/" --visits "$visits" --no-cookies | tail -1
load_ended=$(date +%s%N)
ui_after=$(ticks "$app/task/$app")
last_load_frame=$(wc -l <"$work/frames.txt")
load_ms=$(((load_ended - load_started) / 1000000))
echo "during the load (${load_ms} ms): UI thread $(((ui_after - ui_before) * 1000 / (load_ms > 0 ? load_ms : 1)))% of a core; frames $(stats "$work/frames.txt" "$first_frame" "$last_load_frame")"

# Idle again: two 100 ms samples in a row without a tick on the UI thread.
quiet=0
for _ in $(seq 600); do
  a=$(ticks "$app/task/$app"); sleep 0.1; b=$(ticks "$app/task/$app")
  if [ "$a" = "$b" ]; then quiet=$((quiet + 1)); else quiet=0; fi
  [ $quiet -ge 2 ] && break
done
idle_ms=$((($(date +%s%N) - load_ended) / 1000000 - 200))
echo "after the load: frames $(stats "$work/frames.txt" "$((last_load_frame + 1))" '$'); the UI thread was idle again ${idle_ms} ms after the load ended"

# A second after the load, click Visit in browser A and see the answer.
sleep 1
before_click=$(wc -l <"$work/frames.txt")

DISPLAY=$disp xdotool mousemove 528 91 click 1
clicked=$(date +%s%N)
sleep 0.5
DISPLAY=$disp import -window root "$work/after-click.png" 2>/dev/null
echo "click on Visit A: $(($(wc -l <"$work/frames.txt") - before_click)) frames in the next 500 ms; screenshot $work/after-click.png"

sleep 2
a=$(ticks "$app"); sleep 10; b=$(ticks "$app")
window_rss=$(rss_mb "$app")
echo "whole window process, 10 idle seconds: $((b - a)) CPU ticks (target 0); RSS ${window_rss} MB"

serve_port=$(free_port)
"$bin" serve --quiet --port "$serve_port" >/dev/null 2>&1 &
serve=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$serve_port/" && break; sleep 0.1; done
"$bin" load --url "http://127.0.0.1:$serve_port/" --visits "$visits" --no-cookies >/dev/null
sleep 12   # the window's RSS was read 12 s after its load, too
serve_rss=$(rss_mb "$serve")
echo "serve with the same load: RSS ${serve_rss} MB; window / (2 x serve + 100 MB) = $(echo "scale=2; $window_rss / (2 * $serve_rss + 100)" | bc)"
