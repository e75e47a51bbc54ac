// Fuzz target for the light verifier's readers of outside bytes (ledger/light_verifier.h): an
// audit checkpoint file, and node answers (a certified header, the list of validator changes,
// a committed transaction). Arbitrary text must parse or fail cleanly; a parsed checkpoint must
// survive CheckpointToJson -> ParseCheckpoint unchanged; every parsed answer is then verified
// against a fixed genesis (ChainBuilder::ForTesting("fuzz-chain", 4)) and a checkpoint over the
// same set, which must return, valid or not, without crashing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ledger/chain_builder.h"
#include "ledger/light_verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  static const Genesis genesis =
      ChainBuilder::ForTesting("fuzz-chain", 4, 1700000000000 - 1000).genesis();
  static const light::TrustRoot root = light::FromGenesis(genesis);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto cp = light::ParseCheckpoint(text); cp.ok()) {
    auto again = light::ParseCheckpoint(light::CheckpointToJson(*cp));
    if (!again.ok() || !(*again == *cp)) std::abort();
    auto from = light::FromCheckpoint(genesis, *cp);
    if (from.ok() && !from->from_checkpoint()) std::abort();
  }
  auto doc = json::ParseStrict(text, light::kMaxAnswerBytes, "answer");
  if (!doc.ok()) return 0;
  std::vector<ValidatorChange> changes;
  if (auto c = light::ParseChangesAnswer(*doc); c.ok()) {
    changes = *c;
    (void)light::SetForHeight(root, changes,
                              changes.empty() ? 1 : changes.back().header.height + 1);
    light::ChainWalk walk(genesis, root, changes);
    for (const ValidatorChange& ch : changes) {
      if (!walk.Step(CertifiedHeader{ch.header, ch.header.Hash(), ch.commit}).ok()) break;
    }
    (void)walk.Finish();
  }
  if (auto h = light::ParseCertifiedHeader(*doc, "head"); h.ok()) {
    (void)light::VerifyHeader(root, changes, *h);
    (void)light::CheckChainNetwork(genesis, root, h->header.chain_id, std::nullopt, &*h, "g");
  }
  (void)light::VerifyCommittedTx(root, changes, *doc, Hash32{});
  return 0;
}
