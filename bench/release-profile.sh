#!/usr/bin/env bash
# The release profile, before and after, side by side in one run: each revision is built cold
# (a fresh target directory; the crates already downloaded) with `cargo build --release`, then
# both binaries serve the same wrk load in turns (bench/ab.sh: CPU per request, requests/s, p99)
# and both windows take the same outside load under Xvfb (../shared/tools/window-under-load, or
# WINDOW_UNDER_LOAD=path). Prints Markdown; bench/release-profile.md keeps the last run.
#
# Usage: bash bench/release-profile.sh [BEFORE_REV] [AFTER_REV] [VISITS]
#   BEFORE_REV defaults to e56ed9c (the deny-list profile), AFTER_REV to the working tree.
# Takes about 25 minutes on 2 cores. Needs wrk, curl, taskset, Xvfb, imagemagick, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BEFORE=${1:-e56ed9c}
AFTER=${2:-WORKTREE}
VISITS=${3:-100000}
WUL=${WINDOW_UNDER_LOAD:-$ROOT/../shared/tools/window-under-load}
WORK=$(mktemp -d /tmp/release-profile.XXXX)
trap 'git -C "$ROOT" worktree remove --force "$WORK/before" >/dev/null 2>&1 || true; [ "$AFTER" = WORKTREE ] || git -C "$ROOT" worktree remove --force "$WORK/after" >/dev/null 2>&1 || true' EXIT

git worktree add --detach "$WORK/before" "$BEFORE" >/dev/null 2>&1
if [ "$AFTER" = WORKTREE ]; then AFTER_DIR=$ROOT; else
  git worktree add --detach "$WORK/after" "$AFTER" >/dev/null 2>&1; AFTER_DIR=$WORK/after
fi
cargo fetch --manifest-path "$WORK/before/Cargo.toml" >/dev/null 2>&1
cargo fetch --manifest-path "$AFTER_DIR/Cargo.toml" >/dev/null 2>&1

echo "# Release profile: before ($BEFORE) and after ($AFTER), one run"
echo
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bash bench/release-profile.sh\` on $(nproc) cores, $(rustc --version)."
echo
echo "## Cold release build"
echo
echo "| profile | wall s | CPU s (user+sys) | binary MB |"
echo "|---|---:|---:|---:|"
for name in before after; do
  dir=$WORK/before; [ $name = after ] && dir=$AFTER_DIR
  target=$WORK/$name-target
  /usr/bin/time -f '%e %U %S' -o "$WORK/$name.time" \
    env CARGO_TARGET_DIR="$target" cargo build --release --locked --manifest-path "$dir/Cargo.toml" --bin session-lab \
    >"$WORK/$name.build.log" 2>&1 || { tail -20 "$WORK/$name.build.log"; exit 1; }
  if grep -E "did not match any packages" "$WORK/$name.build.log" >&2; then echo "($name: a profile names a package that does not exist)" >&2; fi
  read -r wall user sys <"$WORK/$name.time"
  cp "$target/release/session-lab" "$WORK/session-lab-$name"
  size=$(stat -c %s "$WORK/session-lab-$name")
  printf '| %s | %.0f | %.0f | %.1f |\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$(echo "$size / 1048576" | bc -l)"
  rm -rf "$target"
done

echo
echo "## Server: bench/ab.sh (10 s per run, 3 rounds, the two servers taking turns)"
echo
echo '```'
bash bench/ab.sh 10 3 "before=$WORK/session-lab-before serve --quiet --secret b --port" \
  "after=$WORK/session-lab-after serve --quiet --secret b --port"
echo '```'

echo
echo "## Window under load: $VISITS new sessions from outside, 1600x1000 under Xvfb"
for name in before after; do
  echo
  echo "### $name"
  echo
  echo '```'
  BIN=$WORK/session-lab-$name bash "$WUL" "$VISITS" | grep -vE '^\s+\+' || true
  echo '```'
done
rm -rf "$WORK"
