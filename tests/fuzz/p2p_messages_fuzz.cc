// Fuzz target for p2p::Decode: arbitrary bytes (a peer's frame) must decode or fail cleanly with an
// error, and whatever decodes must re-encode to exactly the input (the wire encoding is canonical:
// one message, one byte string). A decoded proposal carries the hash of its own header.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "ledger/p2p_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  ByteView input(data, size);
  auto message = p2p::Decode(input);
  if (!message.ok()) {
    if (message.status().message().empty()) std::abort();
    return 0;
  }
  Bytes again = p2p::Encode(*message);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  if (const auto* p = std::get_if<p2p::ProposalMsg>(&*message)) {
    if (p->proposal.block_hash != p->proposal.block.header.Hash()) std::abort();
  }
  return 0;
}
