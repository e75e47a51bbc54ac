// IntakeQueue (node/intake_queue.h): per-peer bounded queues served round-robin.
#include "node/intake_queue.h"

#include <algorithm>
#include <type_traits>

namespace consent {
namespace {

size_t StringsBytes(const std::vector<std::string>& v) {
  size_t n = 0;
  for (const std::string& s : v) n += sizeof(std::string) + s.size();
  return n;
}

// The memory a decoded transaction holds: the object and what its strings hold on the heap.
size_t ApproxBytes(const SignedTx& t) {
  size_t n = sizeof(SignedTx);
  std::visit(
      [&n](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, GrantTx>) {
          n += StringsBytes(b.purposes) + StringsBytes(b.data_categories) + b.jurisdiction.size();
        } else if constexpr (std::is_same_v<T, RevokeTx>) {
          n += StringsBytes(b.purposes);
        } else if constexpr (std::is_same_v<T, RegisterControllerTx>) {
          n += b.name.size() + b.contact_uri.size();
        } else if constexpr (std::is_same_v<T, SetValidatorsTx>) {
          n += b.validators.size() * sizeof(PublicKey);
        }
      },
      t.body);
  return n;
}

}  // namespace

size_t IntakeQueue::BatchBytes(const std::vector<SignedTx>& txs) {
  size_t n = sizeof(txs);
  for (const SignedTx& t : txs) n += ApproxBytes(t);
  return n;
}

bool IntakeQueue::PushTxs(PeerId peer, std::vector<SignedTx> txs) {
  const size_t bytes = BatchBytes(txs);
  PeerQueue& q = peers_[peer];
  if (q.txs.size() >= limits_.tx_batches_per_peer || q.bytes + bytes > limits_.tx_bytes_per_peer ||
      bytes_ + bytes > limits_.tx_bytes_total) {
    ++stats_.tx_batches_dropped;
    return false;
  }
  q.txs.push_back(std::move(txs));
  q.tx_bytes.push_back(bytes);
  q.bytes += bytes;
  bytes_ += bytes;
  ++items_;
  return true;
}

bool IntakeQueue::PushBlockRequest(PeerId peer, const p2p::BlockRequest& req,
                                   Clock::time_point now) {
  PeerQueue& q = peers_[peer];
  if (q.tokens < 0) {
    q.tokens = limits_.block_request_burst;
  } else {
    const double dt = std::chrono::duration<double>(now - q.refilled).count();
    q.tokens = std::min(limits_.block_request_burst,
                        q.tokens + std::max(0.0, dt) * limits_.block_requests_per_sec);
  }
  q.refilled = now;
  if (q.tokens < 1.0) {
    ++stats_.block_requests_limited;
    return false;
  }
  if (q.blocks.size() >= limits_.block_requests_per_peer) {
    ++stats_.block_requests_dropped;
    return false;
  }
  q.tokens -= 1.0;
  q.blocks.push_back(req);
  ++items_;
  return true;
}

std::optional<IntakeQueue::Item> IntakeQueue::Pop() {
  if (items_ == 0) return std::nullopt;
  // The first peer with work after the last one served, wrapping around.
  auto it = peers_.upper_bound(last_served_);
  for (size_t scanned = 0; scanned <= peers_.size(); ++scanned, ++it) {
    if (it == peers_.end()) it = peers_.begin();
    PeerQueue& q = it->second;
    if (q.txs.empty() && q.blocks.empty()) continue;
    Item item;
    item.peer = it->first;
    const bool blocks = !q.blocks.empty() && (q.blocks_next || q.txs.empty());
    if (blocks) {
      item.block_request = q.blocks.front();
      q.blocks.pop_front();
    } else {
      item.txs = std::move(q.txs.front());
      q.txs.pop_front();
      const size_t bytes = q.tx_bytes.front();
      q.tx_bytes.pop_front();
      q.bytes -= bytes;
      bytes_ -= bytes;
    }
    q.blocks_next = !blocks;
    --items_;
    last_served_ = it->first;
    return item;
  }
  return std::nullopt;  // unreachable while items_ counts what the queues hold
}

void IntakeQueue::RemovePeer(PeerId peer) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  items_ -= it->second.txs.size() + it->second.blocks.size();
  bytes_ -= it->second.bytes;
  peers_.erase(it);
}

IntakeQueue::Stats IntakeQueue::stats() const {
  Stats s = stats_;
  s.queued_items = items_;
  s.queued_tx_bytes = bytes_;
  return s;
}

}  // namespace consent
