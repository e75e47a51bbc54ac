// Fuzz target for ParseGenesis: arbitrary text must parse or fail cleanly (no exception, no
// crash), and a parsed genesis must survive ToJson -> ParseGenesis unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ledger/block.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  auto genesis = ParseGenesis(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!genesis.ok()) return 0;
  auto again = ParseGenesis(genesis->ToJson());
  if (!again.ok()) std::abort();
  if (again->chain_id != genesis->chain_id || again->genesis_time_ms != genesis->genesis_time_ms ||
      again->validators != genesis->validators) {
    std::abort();
  }
  // The derived values are total on any parsed genesis.
  (void)genesis->ValidatorsHash();
  (void)genesis->Proposer(UINT64_MAX, UINT32_MAX);
  if (genesis->QuorumSize() > genesis->validators.size()) std::abort();
  return 0;
}
