#!/usr/bin/env bash
# The kept lab across a real crash: the release window on SQLite under Xvfb, browser A visits
# twice, the process is killed with `kill -9`, then started again with no flags on another port.
# A's jar, the store and A's address (moved to the new port) come back, and A's third visit
# counts on in the same session. Prints the store's sessions and saves a screenshot.
# Usage (from the project root, after `cargo build --release`):
#   bash bench/tools/kept-lab-restart.sh
# Needs Debian's xvfb, xdotool and imagemagick (.ci/run installs them).
set -u
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/session-lab}
work=$(mktemp -d)
for n in $(seq 70 99); do [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ] && { disp=":$n"; break; }; done
Xvfb "$disp" -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 & xvfb=$!
export XDG_RUNTIME_DIR=$work/xdg XDG_DATA_HOME=$work/data
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
trap 'kill $app $xvfb 2>/dev/null' EXIT
sleep 1
start() { DISPLAY=$disp "$bin" --port 0 --size 1280x720 "$@" >>"$work/app.log" 2>&1 & app=$!; sleep 4; }
visit_a() { DISPLAY=$disp xdotool mousemove 528 86; sleep 0.3; DISPLAY=$disp xdotool click 1; sleep 1; }
views() {
  python3 - "$work/lab.db" <<'PY'
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select data from session_lab_sessions").fetchall()
print(" ".join(bytes(r[0]).decode(errors="replace") for r in rows))
PY
}
start --store "sqlite:$work/lab.db"
visit_a; visit_a; sleep 2
echo "before kill -9: store holds $(views)"
kill -9 "$app"; sleep 0.5
echo "kept: $(python3 -c "import json; l=json.load(open('$work/data/session-lab/lab.json')); print('store', l['store'], [(b['name'], len(b['cookies'])) for b in l['browsers']])")"
start                      # no flags: the kept lab says SQLite
visit_a
echo "after a new start and one more visit: store holds $(views)"
DISPLAY=$disp import -window root "$work/after-restart.png" && echo "screenshot: $work/after-restart.png"
