// Fuzz target for ParseConsentProof and VerifyConsentProof: arbitrary text must parse or fail
// cleanly; a parsed proof must survive ConsentProofToJson -> ParseConsentProof unchanged (and
// re-serialise to the same text); and verifying it against a fixed genesis (the chain the seed
// corpus was made on, ChainBuilder::ForTesting("fuzz-chain", 4)) must return, valid or not,
// without crashing, at the header's time and at the extremes of at_ms, and a valid verdict must
// be consistent with the proof's claim (docs/protocol.md section 9, steps 5 and 6).
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
    if (!verdict.ok()) continue;
    const ProofVerdict& v = *verdict;
    // Judged at the time asked (the header's by default), never before the header's time.
    if (v.time_ms != proof->header.time_ms || v.at_ms != at.value_or(v.time_ms)) std::abort();
    if (v.at_ms < v.time_ms || v.claimed != proof->status) std::abort();
    // The claim may differ from the verdict only as granted and expired differ, and a claim of
    // granted holds at the header's time.
    const auto timed = [](ProofStatus s) {
      return s == ProofStatus::kGranted || s == ProofStatus::kExpired;
    };
    if (v.status != v.claimed && !(timed(v.status) && timed(v.claimed))) std::abort();
    if (!at && v.claimed == ProofStatus::kGranted && v.status != ProofStatus::kGranted) {
      std::abort();
    }
  }
  return 0;
}
