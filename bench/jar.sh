#!/usr/bin/env bash
# The jar's benchmark (benches/jar.rs: a jar of 1,000 cookies; building one request's Cookie
# header with the reasons for every cookie kept back, and storing one Set-Cookie) before and
# after, side by side in one run: both revisions' bench binaries are built (sharing this
# checkout's target directory), then run in turns, ROUNDS times each. Prints Markdown;
# bench/jar.md keeps the last run.
#
# Usage: bash bench/jar.sh [BEFORE_REV] [ROUNDS]   (BEFORE_REV defaults to cf61ed1, the jar
# before it became reqwest's cookie provider and learnt Chromium's ways from random cases)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BEFORE=${1:-cf61ed1}
ROUNDS=${2:-5}
WORK=$(mktemp -d /tmp/jar-bench.XXXX)
trap 'git -C "$ROOT" worktree remove --force "$WORK/before" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$WORK/before" "$BEFORE" >/dev/null 2>&1

bench_binary() { # the bench executable cargo builds in $1
  (cd "$1" && CARGO_TARGET_DIR="$ROOT/target" cargo bench --bench jar --no-run 2>&1) |
    sed -n 's/.*Executable benches\/jar.rs (\(.*\))/\1/p' | tail -1
}
before=$(bench_binary "$WORK/before")
before_copy=$WORK/jar-before
cp "$ROOT/${before#"$ROOT/"}" "$before_copy" 2>/dev/null || cp "$before" "$before_copy"
after=$(bench_binary "$ROOT")
after_copy=$WORK/jar-after
cp "$ROOT/${after#"$ROOT/"}" "$after_copy" 2>/dev/null || cp "$after" "$after_copy"

echo "# The jar's benchmark: before ($BEFORE) and after ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', with changes')), one run"
echo
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bash bench/jar.sh $BEFORE $ROUNDS\` on $(nproc) cores, $(rustc --version). A jar of 1,000 cookies (20 hosts of 10 sites, 10 paths); each row is one run of 20,000 requests and 20,000 Set-Cookies, the two binaries in turns."
echo
echo "| round | send, before | send, after | store, before | store, after |"
echo "|---:|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
  b=$("$before_copy"); a=$("$after_copy")
  send_b=$(sed -n 's/.*send \([^ ]*\) per request.*/\1/p' <<<"$b")
  send_a=$(sed -n 's/.*send \([^ ]*\) per request.*/\1/p' <<<"$a")
  store_b=$(sed -n 's/.*store \([^ ]*\) per Set-Cookie.*/\1/p' <<<"$b")
  store_a=$(sed -n 's/.*store \([^ ]*\) per Set-Cookie.*/\1/p' <<<"$a")
  echo "| $round | $send_b | $send_a | $store_b | $store_a |"
done
