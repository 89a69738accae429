#!/usr/bin/env bash
# The lab's browser beside a real Chromium over the same cookie cases (the SameSite matrix by
# context, initiator, redirect chain and scheme; Secure; Domain and host-only; prefixes;
# ordering; odd lines), printing every difference. Not part of `cargo test` (it needs Chromium
# and npm). Usage, from the project root: bash bench/tools/chromium-compare.sh
# Needs: node/npm and `apt-get install chromium` (or CHROMIUM=/path/to/chrome).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
(cd "$work" && npm init -y >/dev/null && npm i --silent playwright-core >/dev/null)
cp "$here/chromium-cases.js" "$work/"
# The lab's browsers allow third-party cookies, as Chrome's normal windows do unless the user
# blocks them; this Chromium's fresh profile blocks them, so the profile is told to allow them.
# THIRD_PARTY_COOKIES=block shows the difference: cross-site subresources then carry no cookie.
export THIRD_PARTY_COOKIES=${THIRD_PARTY_COOKIES:-allow}
cargo run --quiet --release --example chromium_compare -- --chromium-script "$work/chromium-cases.js"
