#!/usr/bin/env bash
# Starts one of the integration tests' real web apps, each keeping its sessions in a real
# store that the test starts and the lab reads, or (koa-session, express-jwt) in the cookie
# itself: run.sh NAME, NAME one of
#   express-redis  express-session + connect-redis   env PORT, REDIS_URL, [PREFIX (sess:),
#                                                     SAVE_UNINITIALIZED=true, MAX_AGE_MS]
#   koa-session    Koa + koa-session (in the cookie)  env PORT, [MAX_AGE (ms, default 86400000,
#                                                     or `session`)]
#   express-jwt    Express + a JWT in a cookie        env PORT
#   flask-redis    Flask + Flask-Session (redis)      env PORT, REDIS_URL, [PREFIX (session:)]
#   django         Django's database sessions         env PORT, and DJANGO_SQLITE=/path/db.sqlite3
#                                                     or DJANGO_POSTGRES=postgres://USER@HOST:PORT/DB
#   php            PHP's native file sessions         env PORT, SAVE_PATH (a directory)
# Each serves on 127.0.0.1:PORT, routes GET / (counts views), GET /login?user=NAME,
# GET and POST /logout, and prints one line on stdout containing
# `listening on http://127.0.0.1:PORT` once it accepts connections.
#
# First installs what NAME needs, never into the repository: into
# ${XDG_CACHE_HOME:-~/.cache}/session-lab-apps/ (a Node app: npm ci from NAME/package-lock.json
# into session-lab-apps/NAME, redone only when that lock changes, NAME/app.js copied beside it;
# a venv with requirements.txt, reinstalled only when requirements.txt changes), under a flock
# so that tests may call it at once. Then execs the app in the foreground (its pid is this
# script's), with the environment it was given.
# Exits 2 on a wrong NAME or a missing variable, 3 when a tool is missing (one line naming the
# tool and its Debian package), 4 when the install fails.
set -euo pipefail
name=${1:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/session-lab-apps
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ beside the apps

say() { echo "run.sh $name: $*" >&2; }
missing() { say "needs $1, which is not installed (apt-get install $2)"; exit 3; }
need() { command -v "$1" >/dev/null 2>&1 || missing "$1" "$2"; }
needvar() { [ -n "${!1:-}" ] || { say "needs $1 in the environment"; exit 2; }; }
failed() { say "$*"; exit 4; }

case $name in
  express-redis) needvar PORT; needvar REDIS_URL; need node nodejs; need npm npm ;;
  koa-session | express-jwt) needvar PORT; need node nodejs; need npm npm ;;
  flask-redis | django)
    needvar PORT
    if [ "$name" = flask-redis ]; then needvar REDIS_URL; fi
    if [ "$name" = django ] && [ -z "${DJANGO_SQLITE:-}" ] && [ -z "${DJANGO_POSTGRES:-}" ]; then
      say "needs DJANGO_SQLITE=/path/db.sqlite3 or DJANGO_POSTGRES=postgres://USER@HOST:PORT/DB"; exit 2
    fi
    need python3 python3
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing 'python3 -m venv' python3-venv ;;
  php) needvar PORT; needvar SAVE_PATH; need php php-cli ;;
  *) echo "usage: run.sh express-redis|koa-session|express-jwt|flask-redis|django|php (env: see the script's head)" >&2; exit 2 ;;
esac
need flock util-linux
mkdir -p "$cache"

# install_deps: what NAME needs, in the cache; called with the lock held.
install_deps() {
  case $name in
    express-redis | koa-session | express-jwt)
      local dir=$cache/$name
      mkdir -p "$dir"
      if [ ! -d "$dir/node_modules" ] || ! cmp -s "$here/$name/package-lock.json" "$dir/.installed-lock.json"; then
        rm -f "$dir/.installed-lock.json"
        cp "$here/$name/package.json" "$here/$name/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error) >&2 || failed "npm ci failed in $dir"
        cp "$here/$name/package-lock.json" "$dir/.installed-lock.json"
      fi
      # require() looks beside the app: run a copy of it there (replaced atomically).
      if ! cmp -s "$here/$name/app.js" "$dir/app.js"; then
        cp "$here/$name/app.js" "$dir/.app.js.$$" && mv -f "$dir/.app.js.$$" "$dir/app.js"
      fi ;;
    flask-redis | django)
      local venv=$cache/venv
      if [ -e "$venv" ] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then rm -rf "$venv"; fi  # a broken venv
      if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >&2 || { rm -rf "$venv"; failed "python3 -m venv $venv failed"; }
      fi
      if ! cmp -s "$here/requirements.txt" "$venv/.installed-requirements.txt"; then
        rm -f "$venv/.installed-requirements.txt"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2 \
          || failed "pip install -r $here/requirements.txt failed (into $venv)"
        cp "$here/requirements.txt" "$venv/.installed-requirements.txt"
      fi ;;
    php) ;;
  esac
}
(
  flock 9
  install_deps
) 9>"$cache/.lock"

case $name in
  express-redis | koa-session | express-jwt) exec node "$cache/$name/app.js" ;;
  flask-redis) exec "$cache/venv/bin/python" "$here/flask-redis/app.py" ;;
  django) exec "$cache/venv/bin/python" "$here/django/app.py" ;;
  php)
    mkdir -p "$SAVE_PATH"
    # php -S says "... Development Server (http://127.0.0.1:PORT) started" on stderr once it
    # listens: passed through, with the line the tests wait for after it on stdout.
    exec php -d "session.save_path=$SAVE_PATH" -S "127.0.0.1:$PORT" "$here/php/app.php" \
      2> >(while IFS= read -r line; do
             printf '%s\n' "$line" >&2
             case $line in *"(http://127.0.0.1:$PORT) started"*) echo "php app listening on http://127.0.0.1:$PORT/" ;; esac
           done) ;;
esac
