// Implementation of FutureBuffer (node/future_buffer.h).
#include "node/future_buffer.h"

namespace consent {

bool FutureBuffer::Fits(size_t n) { return n <= max_bytes_ && bytes_ + n <= max_bytes_; }

bool FutureBuffer::AddProposal(PeerId peer, const SignedProposal& p) {
  if (p.round >= kMaxFutureRounds || proposal_slots_.count({p.height, p.round})) {
    ++dropped_;
    return false;
  }
  // Sized only once its slot is free: a proposal gossiped again costs no encoding.
  const size_t encoded_bytes = p2p::Encode(p2p::ProposalMsg{p}).size();
  if (!Fits(encoded_bytes)) {
    ++dropped_;
    return false;
  }
  proposal_slots_.insert({p.height, p.round});
  bytes_ += encoded_bytes;
  entries_.push_back({p.height, {peer, p2p::ProposalMsg{p}}});
  return true;
}

bool FutureBuffer::AddVote(PeerId peer, const SignedVote& v) {
  auto slot = std::make_tuple(v.height, v.round, v.validator, static_cast<uint8_t>(v.type));
  if (v.round >= kMaxFutureRounds || vote_slots_.count(slot) || !Fits(kVoteBytes)) {
    ++dropped_;
    return false;
  }
  vote_slots_.insert(slot);
  bytes_ += kVoteBytes;
  entries_.push_back({v.height, {peer, p2p::VoteMsg{v}}});
  return true;
}

std::vector<FutureBuffer::Entry> FutureBuffer::Take(uint64_t height) {
  std::vector<Entry> out;
  for (Kept& k : entries_) {
    if (k.height == height) out.push_back(std::move(k.entry));
  }
  entries_.clear();
  proposal_slots_.clear();
  vote_slots_.clear();
  bytes_ = 0;
  return out;
}

}  // namespace consent
