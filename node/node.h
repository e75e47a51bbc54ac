// Node: one consentd's ledger, mempool and block production, behind the ApiBackend interface
// that net/ serves.
//
// It owns the ChainStore (RocksDB), the Mempool and the node key. When this node is the genesis'
// sole validator, a block-producer thread builds a block as soon as transactions are pending and
// at least block_interval_ms has passed since the last block: up to max_txs_per_block candidates
// in arrival order, time_ms = max(now, previous block time + 1), its own precommit as the commit
// (so a single-node proof has exactly the multi-node form), one synced CommitBlock; then the
// mempool drops what the block included and re-checks the rest, and CommitListeners hear the
// block. A node whose key is not the sole validator (a follower, or one of several validators
// before multi-node consensus exists) serves queries but refuses submissions (kUnavailable).
//
// A storage error while producing is fatal: production stops, the node reports not ready and
// calls on_fatal (the daemon then exits with an error) rather than serve a store it cannot trust.
//
// Thread-safety: the ApiBackend methods may be called from any thread concurrently. Listeners
// are called on the producer thread with the listener lock held: they must not block and must
// not call Add/RemoveCommitListener. Snapshots returned by Snapshot() must be destroyed before
// the Node. Shutdown() is idempotent and may be called from any thread except a listener.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/keyfile.h"
#include "ledger/store/chain_store.h"
#include "net/api_backend.h"
#include "node/config.h"
#include "node/home.h"
#include "node/mempool.h"

namespace consent {

struct NodeOptions {
  Genesis genesis;
  KeyFile key;           // the node key (kind validator)
  std::string data_dir;  // the RocksDB directory (created if missing)
  Config config;         // [node] and [storage] settings are used here; [api] by the daemon
  // Called once, on the producer thread, if block production stops on an error.
  std::function<void(const Status&)> on_fatal;
  // Wall clock in ms for block times and admission (tests); default: the system clock.
  std::function<uint64_t()> clock_ms;
};

// The options for the home's node (genesis, key, data dir, config).
NodeOptions NodeOptionsFromHome(const Home& home);

class Node final : public ApiBackend {
 public:
  // Opens (or creates) the store for the genesis, checks it (ChainStore::Open: a store that
  // disagrees with itself or with the genesis is an error), and starts the producer when this
  // node is the sole validator. Fails with the store's error, naming what disagrees.
  static Result<std::unique_ptr<Node>> Open(NodeOptions options);
  ~Node() override;  // Shutdown(), then closes the store

  // Stops accepting transactions (kUnavailable), lets the block in progress finish (its commit is
  // one synced batch, so it is wholly written or not at all), joins the producer, flushes the
  // store. Pending transactions are dropped (clients resubmit). Idempotent.
  void Shutdown();

  // Whether this node produces blocks (it is the genesis' sole validator).
  bool producing() const { return producing_; }

  // ApiBackend.
  const Genesis& genesis() const override { return genesis_; }
  std::unique_ptr<KvRead> Snapshot() const override { return store_->Snapshot(); }
  std::vector<SubmitOutcome> Submit(std::vector<SignedTx> txs) override;
  NodeStatus Status() const override;
  void AddCommitListener(CommitListener* l) override;
  void RemoveCommitListener(CommitListener* l) override;
  std::string NodeMetrics() const override;

 private:
  Node(NodeOptions options, std::unique_ptr<ChainStore> store);
  void ProducerLoop();
  // Builds and commits one block from the pool, if any candidate is valid.
  consent::Status ProduceBlock();
  uint64_t NowMs() const;
  void RecordCommit(const CommittedBlock& block, double seconds);

  const NodeOptions options_;
  const Genesis genesis_;
  const SigningKey key_;
  std::unique_ptr<ChainStore> store_;
  std::unique_ptr<Mempool> mempool_;
  bool producing_ = false;
  std::atomic<bool> ready_{false};

  // Producer wake-ups.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  bool wake_ = false;  // guarded by mu_: transactions were admitted
  std::chrono::steady_clock::time_point last_block_{};  // producer thread only
  std::thread producer_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_

  std::mutex listeners_mu_;
  std::vector<CommitListener*> listeners_;  // guarded by listeners_mu_

  // Metrics.
  mutable std::mutex metrics_mu_;
  uint64_t blocks_committed_ = 0;          // guarded by metrics_mu_ (since start)
  uint64_t txs_committed_ = 0;             // guarded by metrics_mu_
  uint64_t txs_left_out_ = 0;              // guarded by metrics_mu_: rejected at block building
  std::vector<uint64_t> latency_buckets_;  // guarded by metrics_mu_ (cumulative at render)
  uint64_t latency_count_ = 0;             // guarded by metrics_mu_
  double latency_sum_ = 0;                 // guarded by metrics_mu_
  mutable std::chrono::steady_clock::time_point rate_at_;  // guarded by metrics_mu_
  mutable uint64_t rate_verifications_ = 0;                // guarded by metrics_mu_
  mutable double verify_rate_ = 0;                         // guarded by metrics_mu_
};

}  // namespace consent
