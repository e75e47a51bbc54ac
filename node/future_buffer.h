// FutureBuffer: consensus messages (proposals and votes) that arrived for the next height, kept
// until this node reaches it (a peer that committed a block a moment earlier already proposes and
// votes for the next height). Taken all at once when the height starts; anything for another
// height is dropped then.
// Bounds: kMaxFutureMessages entries.
// Thread-safety: none; the Node uses it on its driver thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "ledger/p2p_messages.h"
#include "net/peer_manager.h"

namespace consent {

// Messages for the next height kept until this node reaches it.
inline constexpr size_t kMaxFutureMessages = 4096;

class FutureBuffer {
 public:
  using Entry = std::pair<PeerId, p2p::Message>;

  // Keeps a proposal or vote from `peer` for a later height; false if it was dropped.
  bool Add(PeerId peer, p2p::Message m);
  // The messages kept for `height` (in arrival order); empties the buffer.
  std::vector<Entry> Take(uint64_t height);
  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace consent
