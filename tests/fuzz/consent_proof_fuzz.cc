// Fuzz target for ParseConsentProof and VerifyConsentProof: arbitrary text must parse or fail
// cleanly; a parsed proof must survive ConsentProofToJson -> ParseConsentProof unchanged (and
// re-serialise to the same text); and verifying it against a fixed genesis (the chain the seed
// corpus was made on, ChainBuilder::ForTesting("fuzz-chain", 4)) must return, valid or not,
// without crashing, at the header's time and at the extremes of at_ms.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ledger/chain_builder.h"
#include "ledger/consent_proof.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  static const Genesis genesis =
      ChainBuilder::ForTesting("fuzz-chain", 4, 1700000000000 - 1000).genesis();
  auto proof = ParseConsentProof(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!proof.ok()) return 0;
  const std::string text = ConsentProofToJson(*proof);
  auto again = ParseConsentProof(text);
  if (!again.ok() || !(*again == *proof)) std::abort();
  if (ConsentProofToJson(*again) != text) std::abort();
  for (std::optional<uint64_t> at : {std::optional<uint64_t>(), std::optional<uint64_t>(0),
                                     std::optional<uint64_t>(UINT64_MAX)}) {
    auto verdict = VerifyConsentProof(*proof, genesis, at);
    if (verdict.ok() && verdict->status != proof->status) std::abort();
  }
  return 0;
}
