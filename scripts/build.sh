#!/usr/bin/env bash
# Configures and builds one flavour into build/<flavour>:
#   release  RelWithDebInfo, g++ (default)
#   asan     Debug, clang, AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan     Debug, clang, ThreadSanitizer (for the concurrent code: net/ and node/)
#   fuzz     clang, libFuzzer targets with ASan+UBSan
# Usage: scripts/build.sh [flavour] [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
jobs=${JOBS:-2}
# Let ccache share compiled objects between checkouts in different folders (CI clones anew).
export CCACHE_BASEDIR="$(pwd)" CCACHE_NOHASHDIR=true
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=Debug -DCONSENT_SANITIZE=ON -DCONSENT_BENCH=OFF
              -DCMAKE_CXX_COMPILER=clang++-14) ;;
  tsan) args=(-DCMAKE_BUILD_TYPE=Debug -DCONSENT_TSAN=ON -DCONSENT_BENCH=OFF
              -DCMAKE_CXX_COMPILER=clang++-14) ;;
  fuzz) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONSENT_SANITIZE=ON -DCONSENT_FUZZ=ON
              -DCONSENT_BENCH=OFF -DCMAKE_CXX_COMPILER=clang++-14) ;;
  *) echo "unknown flavour: $flavour (release, asan, tsan, fuzz)" >&2; exit 2 ;;
esac
dir=build/$flavour
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
ninja -C "$dir" -j"$jobs" "$@"
