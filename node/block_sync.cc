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

uint32_t BlockSync::failures(PeerId peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.failures;
}

void BlockSync::Demote(PeerId peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  ++it->second.failures;
  ++demotions_;
}

std::optional<BlockSync::Request> BlockSync::Next(uint64_t mine, Clock::time_point now,
                                                  uint32_t max_count) {
  if (in_flight_) {
    if (now - in_flight_->at < kSyncTimeout) {
      catching_up_ = Trusted() > mine + 1;
      return std::nullopt;
    }
    // Not answered in time: that peer goes to the back of the line.
    Demote(in_flight_->req.peer);
    in_flight_.reset();
  }
  catching_up_ = Trusted() > mine + 1;
  uint64_t best = 0;
  for (const auto& [id, p] : peers_) best = std::max(best, p.height);
  if (best <= mine) {
    behind_since_.reset();
    return std::nullopt;
  }
  if (!behind_since_) behind_since_ = now;
  if (best == mine + 1 && now - *behind_since_ < kBehindGrace) return std::nullopt;
  // Among the peers ahead: the fewest failures, then the one asked longest ago (rotation).
  PeerId pick = 0;
  const PeerState* chosen = nullptr;
  for (const auto& [id, p] : peers_) {
    if (p.height <= mine) continue;
    if (chosen == nullptr || p.failures < chosen->failures ||
        (p.failures == chosen->failures && p.last_asked < chosen->last_asked)) {
      pick = id;
      chosen = &p;
    }
  }
  if (chosen == nullptr) return std::nullopt;
  Request req;
  req.peer = pick;
  req.from = mine + 1;
  req.count = static_cast<uint32_t>(std::min<uint64_t>(chosen->height - mine, max_count));
  in_flight_ = InFlight{req, now};
  peers_[pick].last_asked = ++requests_;
  return req;
}

uint64_t BlockSync::Trusted() const {
  // A peer that has failed to deliver is not believed about being ahead (so a liar does not keep
  // catching_up set); it is still asked, in its turn, if nobody else is ahead.
  uint64_t trusted = 0;
  for (const auto& [id, p] : peers_) {
    if (p.failures == 0) trusted = std::max(trusted, p.height);
  }
  return trusted;
}

void BlockSync::OnResponse(PeerId peer, uint64_t mine, size_t applied) {
  if (!in_flight_ || in_flight_->req.peer != peer) return;  // unasked, or asked too late
  const Request req = in_flight_->req;
  in_flight_.reset();
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  if (applied > 0 || mine >= req.from) {
    it->second.failures = 0;  // delivered (or the blocks came another way meanwhile)
  } else {
    Demote(peer);  // claimed to be ahead and sent nothing we could use
  }
}

}  // namespace consent
