// FutureBuffer: consensus messages (proposals and votes) that arrived for the next height, kept
// until this node reaches it (a peer that committed a block a moment earlier already proposes and
// votes for the next height). Taken all at once when the height starts; anything else is dropped
// then, so the buffer never outlives a height change.
//
// The caller verifies each message first (VerifyProposal / VerifyVote: the signer is the
// scheduled proposer or a validator, the signature holds), so only validators' messages are kept,
// and the buffer keeps at most what an honest network sends for one height:
//  - rounds below kMaxFutureRounds only;
//  - one proposal per round (the proposer of a round is fixed by the height and round) and one
//    vote per validator, type and round; a second, different one is dropped (equivocation is
//    judged when the height starts, from what the machine then receives);
//  - kMaxFutureBytes in all (a proposal counts its encoded size, a vote kVoteBytes).
// Bounds: at most kMaxFutureRounds * (1 + 2 * validators) entries and kMaxFutureBytes bytes.
// Thread-safety: none; the Node uses it on its driver thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "ledger/consensus.h"
#include "ledger/p2p_messages.h"
#include "net/peer_manager.h"

namespace consent {

// Rounds of the next height whose messages are kept (0 .. kMaxFutureRounds - 1).
inline constexpr uint32_t kMaxFutureRounds = 4;
// Bytes of next-height messages kept at most (three proposals of the largest size).
inline constexpr size_t kMaxFutureBytes = size_t{48} << 20;

class FutureBuffer {
 public:
  using Entry = std::pair<PeerId, p2p::Message>;
  // What one buffered vote is counted as.
  static constexpr size_t kVoteBytes = 256;

  explicit FutureBuffer(size_t max_bytes = kMaxFutureBytes) : max_bytes_(max_bytes) {}

  // Keep a verified proposal or vote for a later height; false if it was dropped (round out of
  // range, one already kept for its slot, over budget).
  bool AddProposal(PeerId peer, const SignedProposal& p);
  bool AddVote(PeerId peer, const SignedVote& v);
  // The messages kept for `height` (in arrival order); empties the buffer.
  std::vector<Entry> Take(uint64_t height);

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Kept {
    uint64_t height;
    Entry entry;
  };
  bool Fits(size_t n);

  const size_t max_bytes_;
  std::vector<Kept> entries_;
  size_t bytes_ = 0;
  uint64_t dropped_ = 0;
  std::set<std::pair<uint64_t, uint32_t>> proposal_slots_;  // (height, round)
  std::set<std::tuple<uint64_t, uint32_t, PublicKey, uint8_t>> vote_slots_;
};

}  // namespace consent
