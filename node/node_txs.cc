// Node, transaction intake and gossip (node/node.h): API submissions (admitted, then gossiped to
// every peer), batches from peers (admitted on the ingest thread; a peer that sends a
// transaction with a bad signature is cut off) and the delayed relay of those still pending.
// Thread-safety: Submit from any thread; IngestTxs on the ingest thread; RelayDue on the driver.
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "crypto/hex.h"
#include "node/node_internal.h"

namespace consent {

std::vector<SubmitOutcome> Node::Submit(std::vector<SignedTx> txs, std::vector<Hash32> ids) {
  if (!validator_ && (!peers_ || peers_->peer_count() == 0)) {
    std::vector<SubmitOutcome> out(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      out[i].tx_id = ids.size() == txs.size() ? ids[i] : txs[i].Id();
      out[i].status = consent::Status::Unavailable(
          "this follower has no peer link to forward transactions to a validator; submit to a "
          "validator's node or retry when it is connected");
    }
    return out;
  }
  // The accepted ones are gossiped; keep a copy only when there is somebody to send it to.
  const bool gossiping = peers_ && peers_->peer_count() > 0;
  std::vector<SignedTx> copy;
  if (gossiping) copy = txs;
  std::vector<SubmitOutcome> out = mempool_->Submit(std::move(txs), std::move(ids));
  p2p::TxsMsg gossip;
  bool any_new = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].status.ok() || out[i].duplicate) continue;
    any_new = true;
    if (gossiping) gossip.txs.push_back(std::move(copy[i]));
  }
  if (any_new) {
    if (!gossip.txs.empty()) {
      for (size_t i = 0; i < gossip.txs.size(); i += p2p::kMaxGossipTxs) {
        p2p::TxsMsg part;
        const size_t end = std::min(gossip.txs.size(), i + p2p::kMaxGossipTxs);
        part.txs.assign(gossip.txs.begin() + i, gossip.txs.begin() + end);
        peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(part)));
      }
    }
    Post([this] { MaybeTxsAvailable(); }, false);
  }
  return out;
}

void Node::IngestTxs(PeerId peer, std::vector<SignedTx> txs) {
  std::vector<SubmitOutcome> out = mempool_->Submit(std::move(txs));
  std::vector<Hash32> relay_ids;
  for (size_t i = 0; i < out.size(); ++i) {
    const StatusCode code = out[i].status.code();
    if (code == StatusCode::kInvalidSignature || code == StatusCode::kInvalidArgument) {
      // Honest nodes verify before they relay: this peer sends transactions nobody signed.
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ++bad_peer_messages_;
      }
      if (peers_) peers_->Disconnect(peer, "invalid transaction: " + out[i].status.message(), true);
      return;
    }
    if (out[i].status.ok() && !out[i].duplicate) relay_ids.push_back(out[i].tx_id);
  }
  if (relay_ids.empty()) return;
  Post([this] { MaybeTxsAvailable(); }, false);
  if (!peers_) return;
  // The sender normally broadcast these to all of its peers already, so relaying at once would
  // mostly send copies that every peer already holds (in a full mesh of 4, each node received
  // every transaction three times). They are relayed only if still pending when due: that still
  // carries a transaction across a partial mesh (a follower behind one validator, a cut link),
  // at the cost of that delay.
  const uint32_t after_ms = options_.config.p2p_relay_after_ms;
  if (after_ms > 0) {
    const auto due = Clock::now() + std::chrono::milliseconds(after_ms);
    std::lock_guard<std::mutex> lock(relay_mu_);
    size_t queued = 0;
    for (; queued < relay_ids.size() && relay_queue_.size() < options_.config.mempool_capacity;
         ++queued) {
      relay_queue_.push_back({due, peer, relay_ids[queued]});
    }
    relay_ids.erase(relay_ids.begin(), relay_ids.begin() + static_cast<std::ptrdiff_t>(queued));
  }
  if (relay_ids.empty()) return;
  // Relaying at once, or the queue is full: those still pending (a block may have taken some).
  p2p::TxsMsg relay;
  relay.txs = mempool_->Pending(relay_ids);
  if (!relay.txs.empty()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      txs_relayed_ += relay.txs.size();
    }
    peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(relay)), peer);
  }
}

void Node::RelayDue() {
  if (!peers_) return;
  std::vector<RelayItem> due;
  {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(relay_mu_);
    while (!relay_queue_.empty() && relay_queue_.front().due <= now) {
      due.push_back(std::move(relay_queue_.front()));
      relay_queue_.pop_front();
    }
  }
  std::map<PeerId, std::vector<Hash32>> by_source;
  for (const RelayItem& item : due) by_source[item.from].push_back(item.id);
  for (auto& [from, ids] : by_source) {
    std::vector<SignedTx> txs = mempool_->Pending(ids);  // those a block has not taken yet
    if (txs.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      txs_relayed_ += txs.size();
    }
    for (size_t i = 0; i < txs.size(); i += p2p::kMaxGossipTxs) {
      p2p::TxsMsg part;
      const size_t end = std::min(txs.size(), i + p2p::kMaxGossipTxs);
      part.txs.assign(std::make_move_iterator(txs.begin() + static_cast<std::ptrdiff_t>(i)),
                      std::make_move_iterator(txs.begin() + static_cast<std::ptrdiff_t>(end)));
      peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(part)), from);
    }
  }
}

}  // namespace consent
