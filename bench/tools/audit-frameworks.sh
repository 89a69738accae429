#!/usr/bin/env bash
# Session Lab's audit against real frameworks' own sessions: the seed's Express app with
# express-session, Express with cookie-session, Flask's signed cookie, Django on the database
# and on signed cookies, and PHP's native sessions. Each app (bench/tools/frameworks/) counts
# views at /, logs in at /login?user=NAME and out at /logout the way its framework's docs show,
# with the framework's defaults otherwise. Each is started on a free port on 127.0.0.1 and
# audited twice, into OUT/<name>.json (--json) and OUT/<name>.txt; the versions audited go to
# OUT/versions.txt, and a summary of the findings is printed at the end. Exits 1 when an app
# does not start or an audit fails (the audit's exit 2, findings at --fail-on, is no failure).
# Not part of `cargo test` (it needs node/npm, python3 and php-cli).
# Usage (from the project root, after `cargo build --release`):
#   bash bench/tools/audit-frameworks.sh [NAME...]   (default all: express-session cookie-session
#                                                     flask django-db django-signed-cookies php)
#   SESSION_LAB=path/to/session-lab (default target/release/session-lab),
#   OUT=dir (default bench/frameworks-results), SAMPLES=N (the audit's --samples, default 1000).
# Needs: curl, node/npm, python3 with venv, and `apt-get install php-cli`. npm and pip install
# into ${XDG_CACHE_HOME:-~/.cache}/session-lab-frameworks (express, express-session,
# cookie-session; flask 3, django 5), never into the repository.
set -euo pipefail
bin=${SESSION_LAB:-target/release/session-lab}
out=${OUT:-bench/frameworks-results}
apps=$(cd "$(dirname "$0")" && pwd)/frameworks
cache=${XDG_CACHE_HOME:-$HOME/.cache}/session-lab-frameworks
venv=$cache/venv
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ beside the apps
all=(express-session cookie-session flask django-db django-signed-cookies php)
if [ $# -gt 0 ]; then names=("$@"); else names=("${all[@]}"); fi
wants() { local n; for n in "${names[@]}"; do case $n in $1) return 0 ;; esac; done; return 1; }
for n in "${names[@]}"; do
  case " ${all[*]} " in *" $n "*) ;; *) echo "unknown framework '$n' (one of: ${all[*]})"; exit 1 ;; esac
done
[ -x "$bin" ] || { echo "no session-lab at $bin (cargo build --release, or SESSION_LAB=path)"; exit 1; }
need() { command -v "$1" >/dev/null || { echo "audit-frameworks needs $1 ($2)"; exit 1; }; }
need curl 'apt-get install curl'
need python3 'apt-get install python3 python3-venv'
if wants '*-session'; then need node 'apt-get install nodejs npm'; need npm 'apt-get install npm'; fi
if wants php; then need php 'apt-get install php-cli'; fi

work=$(mktemp -d)
pids=()
trap 'for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
mkdir -p "$out"
: >"$out/versions.txt"

if wants '*-session'; then
  echo "==> npm: the Express apps' packages in $cache/express"
  mkdir -p "$cache/express"
  if ! cmp -s "$apps/express/package.json" "$cache/express/package.json" || [ ! -d "$cache/express/node_modules" ]; then
    cp "$apps/express/package.json" "$cache/express/"
    (cd "$cache/express" && npm install --no-audit --no-fund --silent >/dev/null)
  fi
  cp "$apps/express/"*.js "$cache/express/"   # require() looks beside the app
  (cd "$cache/express" && node -p "'node ' + process.version.slice(1) + ', ' + ['express', 'express-session', \
    'cookie-session'].map(p => p + ' ' + require(p + '/package.json').version).join(', ')") >>"$out/versions.txt"
fi
if wants 'flask' || wants 'django-*'; then
  echo "==> pip: flask and django in $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  if ! cmp -s "$apps/requirements.txt" "$venv/requirements.txt"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$apps/requirements.txt"
    cp "$apps/requirements.txt" "$venv/"
  fi
  "$venv/bin/python" -c 'import platform; from importlib.metadata import version as v
print("python", platform.python_version() + ", flask", v("flask") + ", django", v("django"))' >>"$out/versions.txt"
fi
if wants php; then php -r 'echo "php ", PHP_VERSION, "\n";' >>"$out/versions.txt"; fi

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# launch NAME PORT: the app in the foreground (exec, so that its pid is the server's).
launch() {
  case $1 in
    express-session | cookie-session) PORT=$2 exec node "$cache/express/$1.js" ;;
    flask) exec "$venv/bin/flask" --app "$apps/flask/app.py" run --host 127.0.0.1 --port "$2" ;;
    django-db) DJANGO_DB=$work/django.sqlite3 exec "$venv/bin/python" "$apps/django/app.py" runserver --noreload "127.0.0.1:$2" ;;
    django-signed-cookies)
      SESSION_ENGINE=django.contrib.sessions.backends.signed_cookies DJANGO_DB=$work/django.sqlite3 \
        exec "$venv/bin/python" "$apps/django/app.py" runserver --noreload "127.0.0.1:$2" ;;
    php) exec php -d "session.save_path=$work/php-sessions" -S "127.0.0.1:$2" "$apps/php/app.php" ;;
  esac
}

# audit NAME: start the app, wait for it to answer, audit it (JSON, then text), stop it.
# (Called as `audit NAME || ...`, where set -e does not apply: each step returns 1 itself.)
audit() {
  local name=$1 p url server rc=0 started=$SECONDS
  p=$(port); url="http://127.0.0.1:$p/"
  echo "==> $name on $url"
  case $name in
    django-*) DJANGO_DB=$work/django.sqlite3 "$venv/bin/python" "$apps/django/app.py" migrate --verbosity 0 || return 1 ;;
    php) mkdir -p "$work/php-sessions" ;;
  esac
  (launch "$name" "$p") >"$work/$name.log" 2>&1 & server=$!
  pids+=("$server")
  for _ in $(seq 300); do
    curl -s -o /dev/null "$url" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if ! curl -s -o /dev/null "$url"; then
    echo "FAILED: $name did not answer on $url; its log:"; tail -20 "$work/$name.log"
    kill "$server" 2>/dev/null || true
    return 1
  fi
  local run=("$bin" audit --url "$url" --login '/login?user={user}' --logout /logout ${SAMPLES:+--samples "$SAMPLES"})
  "${run[@]}" --json >"$out/$name.json" || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then rc=0; "${run[@]}" >"$out/$name.txt" || rc=$?; fi
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then echo "FAILED: the audit of $name exited $rc"; return 1; fi
  echo "    $((SECONDS - started)) s"
}

# summary FILE: the report's session kind ("-" when it has none; a `kind` that is an object
# shows its own `kind`) and its findings, tab-separated.
summary() {
  if command -v jq >/dev/null; then
    jq -r '[(.kind | if . == null then "-" elif type == "string" then . elif (.kind | type) == "string" then .kind
             else tojson end),
            ([.findings[] | "\(.id) (\(.severity))"] | join(", ") | if . == "" then "none" else . end)] | @tsv' "$1"
  else
    python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
kind = r.get("kind") or "-"
if isinstance(kind, dict) and isinstance(kind.get("kind"), str):
    kind = kind["kind"]
kind = kind if isinstance(kind, str) else json.dumps(kind)
print(kind, ", ".join(f"{f['id']} ({f['severity']})" for f in r["findings"]) or "none", sep="\t")
PY
  fi
}

failed=()
for name in "${names[@]}"; do audit "$name" || failed+=("$name"); done

echo
cat "$out/versions.txt"
echo
printf '%-22s %-14s %s\n' framework kind findings
for name in "${names[@]}"; do
  if [[ " ${failed[*]-} " == *" $name "* ]]; then printf '%-22s %-14s %s\n' "$name" - FAILED; continue; fi
  IFS=$'\t' read -r kind findings < <(summary "$out/$name.json")
  printf '%-22s %-14s %s\n' "$name" "$kind" "$findings"
done
echo "reports in $out/"
[ ${#failed[@]} -eq 0 ] || { echo "FAILED: ${failed[*]}"; exit 1; }
