#!/usr/bin/env bash
# The multi-node benchmark: a 4-validator network on this machine (consentd testnet, every node a
# real process on 127.0.0.1), load spread over all four nodes by consent-bench, which prints
# committed tx/s, p50/p99 submit-to-final latency and the ratio to
# (cores x libsodium verifications per second / 4), all measured in the same run.
# Usage: scripts/bench-testnet.sh [TXS] [CONNECTIONS] [BATCH]      (defaults 40000 16 250:
# 4,000 transactions in flight, which keeps every node busy; docs/operations.md has the figures)
set -euo pipefail
cd "$(dirname "$0")/.."
txs=${1:-40000}
connections=${2:-16}
batch=${3:-250}
./scripts/build.sh release consentd consent-bench >/dev/null
bin=build/release
dir=$(mktemp -d /tmp/consent-bench-net.XXXXXX)
base=${BASE_PORT:-27600}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
"$bin/node/consentd" testnet --validators 4 --out "$dir/net" --base-port "$base" >/dev/null
urls=()
for i in 0 1 2 3; do
  "$bin/node/consentd" start --home "$dir/net/node$i" >"$dir/node$i.log" 2>&1 &
  pids+=($!)
  urls+=("http://127.0.0.1:$((base + 2 * i))")
done
for u in "${urls[@]}"; do
  for _ in $(seq 300); do
    if curl -sf "$u/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
done
# Every node linked to the three others.
for u in "${urls[@]}"; do
  for _ in $(seq 300); do
    peers=$(curl -sf "$u/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"])' 2>/dev/null || echo 0)
    if [ "$peers" -ge 3 ]; then break; fi
    sleep 0.1
  done
done
node_list=$(IFS=,; echo "${urls[*]}")
"$bin/tools/consent-bench" --node "$node_list" --txs "$txs" --connections "$connections" \
  --batch "$batch" --nodes-share 4 --goal 0.5
