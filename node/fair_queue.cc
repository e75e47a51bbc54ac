// Implementation of FairQueue (node/fair_queue.h).
#include "node/fair_queue.h"

#include <algorithm>

namespace consent {

FairQueue::FairQueue(size_t max_total, size_t max_per_peer, double per_peer_rate)
    : max_total_(max_total), max_per_peer_(max_per_peer), rate_(per_peer_rate) {}

bool FairQueue::TakeToken(PeerQueue& q, Clock::time_point now) {
  if (rate_ <= 0) return true;
  if (!q.rate_started) {
    q.rate_started = true;
    q.tokens = rate_;
    q.refilled = now;
  }
  const double dt = std::chrono::duration<double>(now - q.refilled).count();
  q.tokens = std::min(rate_, q.tokens + dt * rate_);
  q.refilled = now;
  if (q.tokens < 1) return false;
  q.tokens -= 1;
  return true;
}

bool FairQueue::Push(PeerId peer, Item item, Clock::time_point now) {
  PeerQueue& q = peers_[peer];
  if (!TakeToken(q, now) || q.items.size() >= max_per_peer_) {
    ++dropped_;
    return false;
  }
  if (total_ >= max_total_) {
    // Full: make room from the peer holding the most, if it holds more than this one.
    auto longest = peers_.end();
    for (auto it = peers_.begin(); it != peers_.end(); ++it) {
      if (longest == peers_.end() || it->second.items.size() > longest->second.items.size()) {
        longest = it;
      }
    }
    if (longest == peers_.end() || longest->second.items.size() <= q.items.size() + 1) {
      ++dropped_;
      return false;
    }
    longest->second.items.pop_back();
    --total_;
    ++dropped_;
  }
  q.items.push_back(std::move(item));
  ++total_;
  return true;
}

std::optional<FairQueue::Item> FairQueue::Pop() {
  if (total_ == 0) return std::nullopt;
  auto it = peers_.lower_bound(next_);
  for (size_t tried = 0; tried <= peers_.size(); ++tried) {
    if (it == peers_.end()) it = peers_.begin();
    if (!it->second.items.empty()) {
      Item item = std::move(it->second.items.front());
      it->second.items.pop_front();
      --total_;
      next_ = it->first + 1;
      return item;
    }
    ++it;
  }
  return std::nullopt;  // not reached: total_ > 0 means some peer holds an item
}

void FairQueue::RemovePeer(PeerId peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  total_ -= it->second.items.size();
  peers_.erase(it);
}

}  // namespace consent
