// Node, transaction intake and gossip (node/node.h): API submissions (admitted, then gossiped to
// every peer), batches from peers (admitted on the ingest thread; a peer that sends a
// transaction with a bad signature is cut off), the relay of those still pending, and their
// re-gossip with a doubling delay until a block takes them (and to each new link), so that a
// transaction any honest node accepted reaches the validators even if one gossip was dropped.
// API submissions' signatures are verified fairly across clients first (SubmitAsync: a
// FairVerifier, node/fair_verify.h). Thread-safety: Submit and SubmitAsync from any thread;
// IngestTxs on the ingest thread; RelayDue on the driver.
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "crypto/hex.h"
#include "node/node_internal.h"

namespace consent {
namespace {

// The first re-gossip of a transaction admitted here: p2p.relay_after_ms after admission (a
// peer's transaction is then relayed for the first time), or kRegossipFirstDelay when that is 0.
std::chrono::milliseconds RelayFirstDelay(uint32_t relay_after_ms) {
  return relay_after_ms > 0 ? std::chrono::milliseconds(relay_after_ms) : kRegossipFirstDelay;
}

}  // namespace

std::vector<SubmitOutcome> Node::Submit(std::vector<IdentifiedTx> txs) {
  return Admit(std::move(txs), nullptr);
}

consent::Status Node::SubmitAsync(const std::string& client, size_t bytes,
                                  std::vector<IdentifiedTx> txs, SubmitDone done) {
  // Answered at once, on this thread: what needs no signature check (a follower without a
  // link, a full mempool: Admit refuses before verifying), and a batch of at most one turn from
  // a client with nothing queued, which would take the next turn anyway (no hop to a worker).
  if (txs.empty() || (!validator_ && (!peers_ || peers_->peer_count() == 0)) ||
      mempool_->size() >= mempool_->capacity() ||
      (txs.size() <= fair_->limits().chunk && !fair_->HasQueued(client))) {
    done(Admit(std::move(txs), nullptr));
    return consent::Status::Ok();
  }
  auto held = std::make_shared<std::vector<IdentifiedTx>>(std::move(txs));
  return fair_->Enqueue(
      client, bytes, held,
      [this, held, done = std::move(done)](std::vector<char> verdicts, bool closed) {
        if (closed) {
          std::vector<SubmitOutcome> out(held->size());
          for (size_t i = 0; i < out.size(); ++i) {
            out[i].tx_id = (*held)[i].id();
            out[i].status = consent::Status::Unavailable(
                "the node is shutting down; retry against a running node");
          }
          return done(std::move(out));
        }
        // The workers are done reading the batch: it may be moved from.
        done(Admit(std::move(*held), &verdicts));
      });
}

std::vector<SubmitOutcome> Node::Admit(std::vector<IdentifiedTx> txs,
                                       const std::vector<char>* verdicts) {
  if (!validator_ && (!peers_ || peers_->peer_count() == 0)) {
    std::vector<SubmitOutcome> out(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      out[i].tx_id = txs[i].id();
      out[i].status = consent::Status::Unavailable(
          "this follower has no peer link to forward transactions to a validator; submit to a "
          "validator's node or retry when it is connected");
    }
    return out;
  }
  // The accepted ones are gossiped; keep a copy only when there is somebody to send it to.
  const bool gossiping = peers_ && peers_->peer_count() > 0;
  std::vector<SignedTx> copy;
  if (gossiping) {
    copy.reserve(txs.size());
    for (const IdentifiedTx& tx : txs) copy.push_back(tx.tx());
  }
  std::vector<SubmitOutcome> out = mempool_->Submit(std::move(txs), verdicts);
  p2p::TxsMsg gossip;
  std::vector<Hash32> new_ids;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].status.ok() || out[i].duplicate) continue;
    new_ids.push_back(out[i].tx_id);
    if (gossiping) gossip.txs.push_back(std::move(copy[i]));
  }
  if (!new_ids.empty()) {
    // Gossiped now, and again while pending: a peer may have dropped this batch.
    QueueRelay(new_ids, 0, RelayFirstDelay(options_.config.p2p_relay_after_ms));
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
  QueueRelay(relay_ids, peer, RelayFirstDelay(after_ms));
  if (after_ms > 0) return;
  // Relaying at once: those still pending (a block may have taken some).
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

void Node::QueueRelay(const std::vector<Hash32>& ids, PeerId from,
                      std::chrono::milliseconds delay) {
  if (!peers_ || ids.empty()) return;
  const auto due = Clock::now() + delay;
  std::lock_guard<std::mutex> lock(relay_mu_);
  for (const Hash32& id : ids) {
    // Bounded by the mempool's capacity: entries of transactions no longer pending leave when
    // due; while it is full, a new one waits for the next link's or block's gossip instead.
    if (relay_queue_.size() >= options_.config.mempool_capacity) break;
    relay_queue_.emplace(due, RelayItem{from, id, delay});
  }
}

void Node::GossipPendingTo(PeerId peer) {
  if (!peers_) return;
  std::vector<IdentifiedTx> txs = mempool_->Candidates(kMaxNewLinkGossipTxs);
  for (size_t i = 0; i < txs.size(); i += p2p::kMaxGossipTxs) {
    p2p::TxsMsg part;
    const size_t end = std::min(txs.size(), i + p2p::kMaxGossipTxs);
    for (size_t k = i; k < end; ++k) part.txs.push_back(std::move(txs[k]).Take());
    SendTo(peer, part);
  }
}

void Node::RelayDue() {
  if (!peers_) return;
  std::vector<RelayItem> due;
  {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(relay_mu_);
    while (!relay_queue_.empty() && relay_queue_.begin()->first <= now) {
      due.push_back(relay_queue_.begin()->second);
      relay_queue_.erase(relay_queue_.begin());
    }
  }
  std::map<PeerId, std::vector<const RelayItem*>> by_source;
  for (const RelayItem& item : due) by_source[item.from].push_back(&item);
  for (auto& [from, items] : by_source) {
    std::vector<Hash32> ids;
    for (const RelayItem* item : items) ids.push_back(item->id);
    std::vector<Hash32> pending_ids;
    std::vector<SignedTx> txs = mempool_->Pending(ids);  // those a block has not taken yet
    if (txs.empty()) continue;
    // Still pending: again later, after twice the wait (the same for the whole group).
    for (const SignedTx& tx : txs) pending_ids.push_back(tx.Id());
    const auto next =
        std::min(kRegossipMaxDelay, std::max(kRegossipFirstDelay, 2 * items.front()->delay));
    QueueRelay(pending_ids, from, next);
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
