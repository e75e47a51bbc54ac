#!/usr/bin/env bash
# The adversarial benchmark (issue 16): per attack, the honest commit rate of a 4-validator network
# under attack as a ratio to the rate without it (same network, same run), and the nodes' memory
# growth. Goals: every ratio >= 0.5, growth <= 256 MiB. See tests/e2e/hostile_bench.py.
# Usage: scripts/bench-hostile.sh [--txs N] [--attacks relay,poison,future,height,admission,txflood,streams]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh release consentd consent-bench >/dev/null
exec python3 tests/e2e/hostile_bench.py --consentd build/release/node/consentd \
  --consent-bench build/release/tools/consent-bench "$@"
