// Fuzz target for the consensus state machine (ledger/consensus.h): the input is a sequence of
// 4-byte events (proposals and votes with real signatures from fixed keys, timeouts, own blocks,
// restarts, next heights) for a 4-validator machine; see consensus_fuzz_util.h for the encoding
// and the invariants (no decision without a held quorum of matching precommits, one decision
// per height, never a request to double-sign). Any violation aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/consensus_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static consent::fuzz::ConsensusEventHarness* harness = new consent::fuzz::ConsensusEventHarness();
  if (size > 4 * 4096) return 0;  // long inputs add time, not coverage
  harness->Reset();
  std::string error = harness->Run(data, size);
  if (!error.empty()) {
    std::fprintf(stderr, "consensus invariant violated: %s\n", error.c_str());
    std::abort();
  }
  return 0;
}
