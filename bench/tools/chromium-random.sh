#!/usr/bin/env bash
# Random Set-Cookie sequences played in Debian's Chromium, recorded for `cargo test --test
# chromium_random` (which replays them through the jar crate and the lab's browser without a
# Chromium). Usage, from the project root:
#   bash bench/tools/chromium-random.sh [SEED=1] [COUNT=1000] [--fresh]
# writes tests/data/chromium-random.json (OUT=path to write elsewhere). --fresh: a new
# Chromium profile per case instead of one profile whose cookies are cleared between cases.
# Needs: node/npm and `apt-get install chromium` (or CHROMIUM=/path/to/chrome).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-$root/tests/data/chromium-random.json}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm i --silent playwright-core >/dev/null)
cp "$here/chromium-random.js" "$work/"
flags=()
nums=()
for a in "$@"; do
  case "$a" in
    --*) flags+=("$a") ;;
    *) nums+=("$a") ;;
  esac
done
mkdir -p "$(dirname "$out")"
node "$work/chromium-random.js" "${nums[0]:-1}" "${nums[1]:-1000}" "$out" ${flags[@]+"${flags[@]}"}
