// Node, status, commit listeners and metrics (node/node.h).
// Thread-safety: any thread (each counter under its own mutex, as node.h states).
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <sstream>
#include "crypto/hex.h"
#include "node/node_internal.h"

namespace consent {
namespace {

using node_internal::kLatencyBucketCount;
using node_internal::kLatencyBuckets;

const char* StepName(uint8_t s) {
  switch (static_cast<Step>(s)) {
    case Step::kWaiting:
      return "waiting";
    case Step::kPropose:
      return "propose";
    case Step::kPrevote:
      return "prevote";
    case Step::kPrecommit:
      return "precommit";
  }
  return "unknown";
}

}  // namespace

void Node::RecordCommit(const CommittedBlock& block, std::optional<double> seconds) {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++blocks_committed_;
  txs_committed_ += block.txs.size();
  if (!seconds) return;
  ++latency_count_;
  latency_sum_ += *seconds;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    if (*seconds <= kLatencyBuckets[i]) {
      ++latency_buckets_[i];
      break;
    }
  }
}

NodeStatus Node::Status() const {
  NodeStatus s;
  s.chain_id = genesis_.chain_id;
  const ChainTip tip = store_->tip();
  if (tip.head) {
    s.height = tip.head->height;
    s.head_hash = tip.head->Hash();
    s.time_ms = tip.head->time_ms;
  }
  s.log_size = tip.log_size;
  s.mempool_size = mempool_->size();
  s.mempool_capacity = mempool_->capacity();
  s.peers = peers_ ? peers_->peer_count() : 0;
  s.ready = ready_.load();
  s.catching_up = catching_up_.load();
  // The set in office, named as in genesis where a key was there from the start.
  for (const PublicKey& k : store_->ValidatorsFor(tip.head ? tip.head->height + 1 : 1).keys) {
    Validator v;
    v.public_key = k;
    for (const Validator& g : genesis_.validators) {
      if (g.public_key == k) v.name = g.name;
    }
    s.validators.push_back(std::move(v));
  }
  s.node_key = key_.public_key();
  s.validator = validator_;
  s.consensus_height = cons_height_.load();
  s.consensus_round = cons_round_.load();
  s.consensus_step = StepName(cons_step_.load());
  {
    std::lock_guard<std::mutex> lock(evidence_mu_);
    s.evidence = evidence_.size();
  }
  return s;
}

std::vector<Evidence> Node::EvidenceList() const {
  std::lock_guard<std::mutex> lock(evidence_mu_);
  return {evidence_.begin(), evidence_.end()};
}

void Node::AddCommitListener(CommitListener* l) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  if (std::find(listeners_.begin(), listeners_.end(), l) == listeners_.end()) {
    listeners_.push_back(l);
  }
}

void Node::RemoveCommitListener(CommitListener* l) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), l), listeners_.end());
}

std::string Node::NodeMetrics() const {
  const ChainTip tip = store_->tip();
  const uint64_t verifications = mempool_->verifications();
  std::ostringstream m;
  auto metric = [&m](const char* name, const char* type, const char* help, auto value) {
    m << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  uint64_t evidence_total = 0;
  uint64_t evidence_over_cap = 0;
  {
    std::lock_guard<std::mutex> lock(evidence_mu_);
    evidence_total = evidence_total_;
    evidence_over_cap = evidence_over_cap_;
  }
  uint64_t dropped_events = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_events = dropped_events_;
  }
  std::lock_guard<std::mutex> lock(metrics_mu_);
  const auto now = std::chrono::steady_clock::now();
  const double dt = std::chrono::duration<double>(now - rate_at_).count();
  if (dt >= 1.0) {
    verify_rate_ = static_cast<double>(verifications - rate_verifications_) / dt;
    rate_verifications_ = verifications;
    rate_at_ = now;
  }
  metric("consent_height", "gauge", "Height of the latest committed block.",
         tip.head ? tip.head->height : 0);
  metric("consent_log_size", "gauge", "Transactions in the global log.", tip.log_size);
  metric("consent_consensus_round", "gauge", "The round consensus is in at the current height.",
         cons_round_.load());
  metric("consent_catching_up", "gauge", "1 while a peer is more than one block ahead.",
         catching_up_.load() ? 1 : 0);
  metric("consent_blocks_committed_total", "counter", "Blocks this process committed.",
         blocks_committed_);
  metric("consent_blocks_synced_total", "counter",
         "Blocks this process committed from block sync (not from its own consensus round).",
         blocks_synced_);
  metric("consent_txs_committed_total", "counter", "Transactions this process committed.",
         txs_committed_);
  metric("consent_txs_left_out_total", "counter",
         "Pending transactions block building found invalid and dropped.", txs_left_out_);
  metric("consent_evidence_total", "counter",
         "Equivocations (two different votes of one validator for one height, round and type) "
         "detected or received.",
         evidence_total);
  metric("consent_evidence_over_cap_total", "counter",
         "Equivocations not kept because their validator already has kMaxEvidencePerValidator "
         "(16) items held.",
         evidence_over_cap);
  if (const PageCache* pc = store_->rocks().page_cache()) {
    const PageCache::Stats ps = pc->stats();
    metric("consent_page_cache_hits_total", "counter",
           "State-tree pages served from the page cache (storage.page_cache_mib).", ps.hits);
    metric("consent_page_cache_misses_total", "counter",
           "State-tree pages that had to be read from RocksDB.", ps.misses);
    metric("consent_page_cache_bytes", "gauge", "Bytes held by the page cache (estimate).",
           ps.bytes);
  }
  metric("consent_txs_relayed_total", "counter",
         "Transactions received from a peer and relayed to the other peers (still pending when "
         "p2p.relay_after_ms had passed).",
         txs_relayed_);
  IntakeQueue::Stats intake;
  {
    std::lock_guard<std::mutex> ingest(ingest_mu_);
    intake = intake_.stats();
  }
  metric("consent_intake_queued", "gauge",
         "Peer transaction batches and block requests waiting for the ingest thread.",
         intake.queued_items);
  metric("consent_intake_tx_batches_dropped_total", "counter",
         "Peer transaction batches dropped because the sender's (or every peer's) intake share "
         "was full.",
         intake.tx_batches_dropped);
  metric("consent_intake_block_requests_dropped_total", "counter",
         "Peer block requests dropped: over the per-peer rate or the per-peer queue bound.",
         intake.block_requests_dropped + intake.block_requests_limited);
  metric("consent_peer_misbehaviour_total", "counter",
         "Peer messages refused at the consensus level (bad signature, invalid block).",
         bad_peer_messages_);
  metric("consent_proposal_body_mismatch_total", "counter",
         "Proposals refused because their transactions are not those the signed header commits "
         "to (the relaying peer is cut off, not the proposer).",
         proposal_body_mismatches_);
  metric("consent_block_sync_demotions_total", "counter",
         "Block requests a peer did not answer in time or answered with nothing usable (the peer "
         "is asked again only after the other peers ahead).",
         sync_demotions_.load());
  metric("consent_driver_dropped_total", "counter",
         "Peer messages dropped because the consensus queue was full.", dropped_events);
  metric("consent_mempool_size", "gauge", "Pending transactions.", mempool_->size());
  metric("consent_mempool_capacity", "gauge", "Pending transactions held at most.",
         mempool_->capacity());
  metric("consent_signature_verifications_total", "counter",
         "Ed25519 signature verifications run at admission and block validation (cache misses).",
         verifications);
  metric("consent_signature_verify_cache_hits_total", "counter",
         "Signature checks answered from the verified-signature cache.",
         mempool_->verify_cache_hits());
  metric("consent_signature_verify_rate", "gauge",
         "Signature verifications per second, over the interval between scrapes (>= 1 s).",
         verify_rate_);
  m << "# HELP consent_block_commit_seconds Time from the start of a height to its commit.\n"
    << "# TYPE consent_block_commit_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    cumulative += latency_buckets_[i];
    m << "consent_block_commit_seconds_bucket{le=\"" << kLatencyBuckets[i] << "\"} " << cumulative
      << '\n';
  }
  m << "consent_block_commit_seconds_bucket{le=\"+Inf\"} " << latency_count_ << '\n'
    << "consent_block_commit_seconds_sum " << latency_sum_ << '\n'
    << "consent_block_commit_seconds_count " << latency_count_ << '\n';
  if (peers_) m << peers_->Metrics();
  return m.str();
}

}  // namespace consent
