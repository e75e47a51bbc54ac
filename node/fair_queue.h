// FairQueue: a bounded queue of work items from peers that one peer cannot monopolise. Items are
// kept per peer and taken round-robin across peers (one item of each peer in turn). When the queue
// is full, an item from a peer holding fewer items than the peer holding the most is still taken:
// the newest item of the peer holding the most is dropped for it ("drop from the longest"), so a
// flooding peer loses its own items, never an honest peer's. A peer at its own cap is refused.
// Optionally each peer's pushes are limited to a rate (token bucket): pushes over it are refused.
// Every refusal and eviction is counted.
// Bounds: max_total items; max_per_peer items per peer.
// Thread-safety: none (the Node guards it with its ingest mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>

#include "net/peer_manager.h"

namespace consent {

class FairQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Item = std::function<void()>;

  // `per_peer_rate`: pushes per second per peer (with a burst of as many), 0 = no rate limit.
  FairQueue(size_t max_total, size_t max_per_peer, double per_peer_rate = 0);

  // False when the item was refused (peer at its cap, over its rate, or the queue is full of
  // items of peers holding no more than this one).
  bool Push(PeerId peer, Item item, Clock::time_point now = Clock::now());
  // The next item, round-robin over peers; nullopt when empty.
  std::optional<Item> Pop();
  // Forgets a peer's items and rate state (it disconnected).
  void RemovePeer(PeerId peer);

  size_t size() const { return total_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct PeerQueue {
    std::deque<Item> items;
    double tokens = 0;
    Clock::time_point refilled{};
    bool rate_started = false;
  };
  bool TakeToken(PeerQueue& q, Clock::time_point now);

  const size_t max_total_;
  const size_t max_per_peer_;
  const double rate_;
  std::map<PeerId, PeerQueue> peers_;
  PeerId next_ = 0;  // round-robin position: the next pop starts at the first peer >= next_
  size_t total_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace consent
