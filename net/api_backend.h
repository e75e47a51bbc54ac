// The narrow interface between the network layer (net/: HTTP API, WebSocket stream) and the node
// (node/: mempool, block production, the store). net/ never sees RocksDB, the mempool or consensus:
// it reads committed data through a KvRead snapshot with the pure queries of ledger/queries.h,
// submits transactions through Submit, and hears about new blocks through a CommitListener.
// The node implements ApiBackend. Thread-safety: every method may be called from any net/ thread
// concurrently; listeners are called on the node's commit thread and must not block (post work
// to your own executor).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/consensus.h"
#include "ledger/kv.h"
#include "ledger/tx.h"

namespace consent {

// The outcome of submitting one transaction.
struct SubmitOutcome {
  Hash32 tx_id{};
  // OK: accepted into the mempool (or already pending: `duplicate` set). Otherwise the reason:
  // kInvalidArgument (malformed), kInvalidSignature, kRejected (a state rule: message names it;
  // `rule` holds the TxRejectReason name, e.g. "stale"), kAlreadyExists (already committed),
  // kUnavailable (mempool full or node shutting down: retry later).
  Status status;
  std::string rule;
  bool duplicate = false;
};

struct NodeStatus {
  std::string chain_id;
  uint64_t height = 0;
  Hash32 head_hash{};
  uint64_t log_size = 0;
  uint64_t time_ms = 0;  // head block time
  size_t mempool_size = 0;
  size_t mempool_capacity = 0;
  size_t peers = 0;
  bool ready = false;        // store open, serving, not shutting down
  bool catching_up = false;  // a peer is ahead by more than one block: syncing blocks
  PublicKey node_key{};
  bool validator = false;         // this node's key is in the genesis validator set
  uint64_t consensus_height = 0;  // the height consensus is working on (height + 1)
  uint32_t consensus_round = 0;
  std::string consensus_step;  // "waiting", "propose", "prevote", "precommit"
  uint64_t evidence = 0;       // equivocation evidence items held
  std::vector<Validator> validators;
};

// A committed block, as listeners hear it.
struct CommittedBlock {
  Header header;
  Hash32 block_hash{};
  uint64_t first_log_index = 0;  // log index of the first tx of the block
  std::vector<SignedTx> txs;
  std::vector<Hash32> tx_ids;  // txs[i].Id() when the producer has them, else empty
  Hash32 TxId(size_t i) const { return tx_ids.size() == txs.size() ? tx_ids[i] : txs[i].Id(); }
};

class CommitListener {
 public:
  virtual ~CommitListener() = default;
  virtual void OnCommit(const std::shared_ptr<const CommittedBlock>& block) = 0;
};

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;
  virtual const Genesis& genesis() const = 0;
  // A consistent view of the committed ledger at the current height.
  virtual std::unique_ptr<KvRead> Snapshot() const = 0;
  // Admission: decode/syntax already done by the caller; checks signature (once; cached) and
  // state rules against committed state plus pending transactions. One outcome per tx, in order.
  // Each tx comes with its id (IdentifiedTx: a SHA-256 of the tx's encoding, computed once).
  virtual std::vector<SubmitOutcome> Submit(std::vector<IdentifiedTx> txs) = 0;
  // The same, the ids computed here.
  std::vector<SubmitOutcome> Submit(std::vector<SignedTx> txs) {
    return Submit(Identify(std::move(txs)));
  }
  // Submit for an API client, with signature verification queued fairly across clients
  // (`client`: the API's ClientKey, an IPv4 address or an IPv6 /64; `bytes`: the request's
  // size, counted against the queue's bounds). Either returns OK and calls done(outcomes)
  // exactly once, on another thread or before returning, or refuses at once and never calls
  // done: kRejected when this client has too much waiting (the API answers 429), kUnavailable
  // when the node's queue is full or it is shutting down (503). The default runs Submit here.
  using SubmitDone = std::function<void(std::vector<SubmitOutcome>)>;
  // Whether SubmitAsync would queue a request of `bytes` from `client` now (its transactions
  // not yet counted): the same refusals, asked before the request is decoded.
  virtual consent::Status CanQueue(const std::string& client, size_t bytes) const {
    (void)client;
    (void)bytes;
    return consent::Status::Ok();
  }
  virtual consent::Status SubmitAsync(const std::string& client, size_t bytes,
                                      std::vector<IdentifiedTx> txs, SubmitDone done) {
    (void)client;
    (void)bytes;
    done(Submit(std::move(txs)));
    return consent::Status::Ok();
  }
  virtual NodeStatus Status() const = 0;
  // Listeners must be removed before they are destroyed. Add/Remove are thread-safe.
  virtual void AddCommitListener(CommitListener* l) = 0;
  virtual void RemoveCommitListener(CommitListener* l) = 0;
  // Prometheus text lines that the node contributes to /metrics (heights, mempool, verify rate,
  // commit latency histogram). net/ adds its own HTTP metrics.
  virtual std::string NodeMetrics() const = 0;
  // Equivocation evidence this node detected or received (newest last, bounded).
  virtual std::vector<Evidence> EvidenceList() const { return {}; }
};

}  // namespace consent
