#!/usr/bin/env bash
# The test command: installs missing packages, then
#   1. builds (g++) and runs every test with ctest,
#   2. checks tests/vectors/protocol.json with the independent Python checker, and that the
#      generator still produces exactly that file,
#   3. builds with clang + ASan/UBSan and runs every test again,
#   4. builds the concurrent code (net/, node/, the store's pipelined commits) with
#      ThreadSanitizer and runs its tests (all but the attack tests, label hostile),
#   5. builds the libFuzzer targets and runs each for FUZZ_SECONDS (default 20).
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
fuzz_seconds=${FUZZ_SECONDS:-20}

echo "== release build and tests"
scripts/build.sh release
ctest --test-dir build/release --output-on-failure -j2 | tee build/release/ctest.log
release_count=$(grep -oE 'out of [0-9]+' build/release/ctest.log | awk '{print $3}')

echo "== protocol vectors"
build/release/tools/gen_vectors > build/release/protocol.json
if ! cmp -s build/release/protocol.json tests/vectors/protocol.json; then
  echo "tests/vectors/protocol.json differs from what tools/gen_vectors produces;" >&2
  echo "regenerate it (build/release/tools/gen_vectors > tests/vectors/protocol.json) and review." >&2
  exit 1
fi
/usr/bin/python3 tests/vectors/check_vectors.py tests/vectors/protocol.json | tee build/release/vectors.log
vector_count=$(grep -oE '[0-9]+ passed' build/release/vectors.log | awk '{print $1}')

echo "== ASan+UBSan build and tests"
scripts/build.sh asan
# The crash test runs its 50 kills in the release pass; 10 under ASan keep this pass short. So does
# the multi-node test's follower: 1,000 blocks in the release pass, 300 under the sanitizers.
# CONSENT_E2E_SLOW stretches the bounded waits of the end-to-end tests (ASan runs 3-5x slower).
CONSENT_E2E_SLOW=4 CONSENT_CRASH_KILLS=10 CONSENT_E2E_FOLLOWER_BLOCKS=300 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j2 | tee build/asan/ctest.log
asan_count=$(grep -oE 'out of [0-9]+' build/asan/ctest.log | awk '{print $3}')

echo "== ThreadSanitizer build and the concurrent code's tests (net, node, e2e, pipelined commits)"
scripts/build.sh tsan net_tests node_tests consentd consentctl consent-store store_tests store_crash_child
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(pwd)/tests/tsan.supp
# The attack tests (label hostile: floods of real processes) run in the release and ASan passes;
# under TSan (5-15x slower) their floods would take most of CI's time.
CONSENT_E2E_SLOW=8 CONSENT_E2E_FOLLOWER_BLOCKS=300 \
  ctest --test-dir build/tsan --output-on-failure -j2 -L 'net|node|e2e' -LE hostile | tee build/tsan/ctest.log
# From the store's tests, those with a second thread: ChainStore's writer (BeginCommit).
CONSENT_CRASH_KILLS=10 \
  ctest --test-dir build/tsan --output-on-failure -j2 -R '^(PipelinedCommitTest|Commits/CrashTest)' | tee build/tsan/ctest-store.log
tsan_count=$(( $(grep -oE 'out of [0-9]+' build/tsan/ctest.log | awk '{print $3}') + \
               $(grep -oE 'out of [0-9]+' build/tsan/ctest-store.log | awk '{print $3}') ))

echo "== fuzz targets (${fuzz_seconds}s each)"
fuzz_targets=()
for corpus in tests/fuzz/corpus/*/; do fuzz_targets+=("tests/$(basename "$corpus")_fuzz"); done
scripts/build.sh fuzz "${fuzz_targets[@]}"
for corpus in tests/fuzz/corpus/*/; do
  name=$(basename "$corpus")
  bin=build/fuzz/tests/${name}_fuzz
  [ -x "$bin" ] || { echo "no fuzz binary for corpus $name" >&2; exit 1; }
  work=$(mktemp -d)
  cp -r "$corpus". "$work"/
  log=build/fuzz/$name.log
  if ! "$bin" -max_total_time="$fuzz_seconds" -print_final_stats=1 -rss_limit_mb=2048 \
       -artifact_prefix="build/fuzz/$name-" "$work" > "$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz target $name failed; the crashing input is in build/fuzz/$name-*" >&2
    exit 1
  fi
  echo "-- $name: $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') inputs in ${fuzz_seconds}s"
  rm -rf "$work"
done
fuzz_count=$(ls -d tests/fuzz/corpus/*/ | wc -l)
echo "ctest (release) ${release_count}, ctest (ASan+UBSan) ${asan_count}, ctest (TSan) ${tsan_count}, vector checks ${vector_count}, fuzz targets ${fuzz_count}"
echo "test.sh: $((release_count + asan_count + tsan_count + vector_count + fuzz_count)) passed, 0 failed"
