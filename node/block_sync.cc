// Implementation of BlockSync (node/block_sync.h).
#include "node/block_sync.h"

#include <algorithm>

namespace consent {

void BlockSync::SetPeerHeight(PeerId peer, uint64_t height) { peers_[peer].height = height; }

void BlockSync::RemovePeer(PeerId peer) {
  peers_.erase(peer);
  if (in_flight_ && in_flight_->req.peer == peer) in_flight_.reset();
}

std::optional<BlockSync::Request> BlockSync::in_flight() const {
  if (!in_flight_) return std::nullopt;
  return in_flight_->req;
}

void BlockSync::Demote(PeerId peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  ++it->second.failures;
  ++demotions_;
}

std::optional<BlockSync::Request> BlockSync::Next(uint64_t mine, Clock::time_point now,
                                                  uint32_t max_count) {
  uint64_t best = 0;
  PeerId best_peer = 0;
  for (const auto& [id, p] : peers_) {
    if (p.height > best) {
      best = p.height;
      best_peer = id;
    }
  }
  catching_up_ = best > mine + 1;
  if (best <= mine) {
    behind_since_.reset();
    return std::nullopt;
  }
  if (!behind_since_) behind_since_ = now;
  if (best == mine + 1 && now - *behind_since_ < kBehindGrace) return std::nullopt;
  if (in_flight_ && now - in_flight_->at < kSyncTimeout) return std::nullopt;
  Request req;
  req.peer = best_peer;
  req.from = mine + 1;
  req.count = static_cast<uint32_t>(std::min<uint64_t>(best - mine, max_count));
  in_flight_ = InFlight{req, now};
  peers_[best_peer].last_asked = ++requests_;
  return req;
}

void BlockSync::OnResponse(PeerId peer, size_t applied, Clock::time_point now) {
  (void)applied;
  (void)now;
  if (in_flight_ && in_flight_->req.peer == peer) in_flight_.reset();
}

}  // namespace consent
