// IntakeQueue: the ingest thread's work from peers (transaction batches to admit and block
// requests to serve), queued per peer and served round-robin, so that one peer's flood cannot
// starve another peer's transactions or a syncing follower's requests.
//
// Bounds (IntakeLimits; docs/security.md, "Limits at a glance"):
//   - transaction batches: at most tx_batches_per_peer and tx_bytes_per_peer queued per peer, and
//     tx_bytes_total for all peers (bytes: the memory the decoded transactions hold); a batch that
//     does not fit is dropped (and counted): the sender's own re-gossip brings its transactions
//     again later;
//   - block requests: at most block_requests_per_peer queued per peer, and admitted at
//     block_requests_per_sec per peer (token bucket, burst block_request_burst); beyond either,
//     dropped and counted (an honest syncing node waits for each answer before asking again, and
//     asks again after its timeout).
// Pop serves peers in turn (the peer after the last one served), and within a peer alternates
// between the two kinds, so each peer with work gets one item per turn whatever others queue.
//
// Pure (the caller passes the time); not thread-safe: the node guards it with its ingest mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "ledger/p2p_messages.h"
#include "ledger/tx.h"

namespace consent {

struct IntakeLimits {
  size_t tx_batches_per_peer = 16;
  size_t tx_bytes_per_peer = 8u << 20;  // 8 MiB: two full gossip batches of maximal txs
  size_t tx_bytes_total = 64u << 20;    // 64 MiB for all peers together
  size_t block_requests_per_peer = 2;
  double block_requests_per_sec = 10;  // per peer; each may ask for 50 blocks
  double block_request_burst = 20;
};

class IntakeQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using PeerId = uint64_t;

  struct Item {
    PeerId peer = 0;
    std::optional<std::vector<SignedTx>> txs;        // set for a transaction batch
    std::optional<p2p::BlockRequest> block_request;  // set for a block request
  };
  struct Stats {
    uint64_t tx_batches_dropped = 0;
    uint64_t block_requests_dropped = 0;  // over the queue bound
    uint64_t block_requests_limited = 0;  // over the per-peer rate
    size_t queued_items = 0;
    size_t queued_tx_bytes = 0;
  };

  explicit IntakeQueue(IntakeLimits limits = {}) : limits_(limits) {}

  // False when dropped (counted in stats()).
  bool PushTxs(PeerId peer, std::vector<SignedTx> txs);
  bool PushBlockRequest(PeerId peer, const p2p::BlockRequest& req, Clock::time_point now);
  // The next item in round-robin order, or nullopt when nothing is queued.
  std::optional<Item> Pop();
  // Forgets a peer's queued work and its rate state (the link closed).
  void RemovePeer(PeerId peer);
  bool empty() const { return items_ == 0; }
  Stats stats() const;
  const IntakeLimits& limits() const { return limits_; }

 private:
  struct PeerQueue {
    std::deque<std::vector<SignedTx>> txs;
    std::deque<size_t> tx_bytes;  // the size of each queued batch
    size_t bytes = 0;
    std::deque<p2p::BlockRequest> blocks;
    double tokens = -1;  // block-request tokens; -1 until the first request (a full bucket)
    Clock::time_point refilled{};
    bool blocks_next = false;  // which kind this peer is served next, when it has both
  };
  static size_t BatchBytes(const std::vector<SignedTx>& txs);

  IntakeLimits limits_;
  std::map<PeerId, PeerQueue> peers_;
  PeerId last_served_ = 0;
  size_t items_ = 0;
  size_t bytes_ = 0;
  Stats stats_;
};

}  // namespace consent
