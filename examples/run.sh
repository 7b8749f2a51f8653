#!/usr/bin/env bash
# Installs and runs the example projects the way a user's project uses the package: each one
# depends on it by path ("iothub-emulator": "file:../..") and has its own lock file, so vitest
# and jest live only there, never in the root. Needs the root's dependencies installed (npm ci).
set -euo pipefail
cd "$(dirname "$0")"
# npm also builds a linked package (its prepare script) when it installs the link, but not when
# the example's node_modules are already up to date: build here so dist/ is never stale.
npm --prefix .. run build
for example in vitest jest; do
  echo "== examples/$example"
  (cd "$example" && npm install --no-audit --no-fund && npm test)
done
