// Implementation of FutureBuffer (node/future_buffer.h).
#include "node/future_buffer.h"

namespace consent {
namespace {

uint64_t MessageHeight(const p2p::Message& m) {
  if (const auto* p = std::get_if<p2p::ProposalMsg>(&m)) return p->proposal.height;
  if (const auto* v = std::get_if<p2p::VoteMsg>(&m)) return v->vote.height;
  return 0;
}

}  // namespace

bool FutureBuffer::Add(PeerId peer, p2p::Message m) {
  if (entries_.size() >= kMaxFutureMessages) return false;
  entries_.emplace_back(peer, std::move(m));
  return true;
}

std::vector<FutureBuffer::Entry> FutureBuffer::Take(uint64_t height) {
  std::vector<Entry> out;
  for (Entry& e : entries_) {
    if (MessageHeight(e.second) == height) out.push_back(std::move(e));
  }
  entries_.clear();
  return out;
}

}  // namespace consent
