#!/usr/bin/env bash
# The main job: installs missing packages, builds, and runs a single-validator consent ledger
# node in the foreground with its home in ./.consent-dev (created on first run: validator key,
# genesis, config, data). The API listens on http://127.0.0.1:7800. Ctrl-C stops it cleanly.
# Extra arguments go to `consentd dev` (for example --home DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release consentd consentctl consent-store >/dev/null
echo "consentctl: $(pwd)/build/release/tools/consentctl   (see README.md for a walk-through)"
exec build/release/node/consentd dev "$@"
