// ChainStore: a node's ledger on disk. Opens (or creates) a RocksDB store for one genesis, refuses
// to serve from a store that disagrees with itself, commits each finalized block in one synced
// WriteBatch (after a crash a block is wholly present or wholly absent), and hands out snapshot
// views for queries (ledger/queries.h).
//
// On open it checks: the format version; that the store belongs to this genesis; and, if it has
// a head, that the head's header decodes and is at that height, its commit verifies against the
// genesis, the stored log tree's root at the header's log_size is its log_root and the log has no
// leaf beyond it, and the stored state tree's root is its state_root. Any mismatch is a
// Corruption error naming what disagrees; the node must stop rather than serve from it.
//
// VerifyChainStore re-executes a whole store from genesis into a scratch store and compares every
// root, every commit and, at the end, every record of every column.
//
// Pipelined commits: a producer may build block h+1 while block h is being written. BeginCommit
// does CommitBlock's checks, hands the batch to the store's writer thread and returns; the next
// block is built on build_view() and build_tip() (the store with the block in flight), and its
// BeginCommit waits for the previous write to be durable before handing its own over. So at most
// one block is in flight, writes stay in height order, and nothing is signed or served on top of
// a block that is not durable unless the caller chooses to (a validator must wait: FinishCommit).
//
// Thread-safety: CommitBlock, BeginCommit, FinishCommit, build_tip() and build_view() must be
// called from one thread at a time (the node's block producer). tip(), height(), Snapshot() and
// the queries on snapshots may run concurrently with them and with the writer thread; they show
// only durable blocks.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ledger/block.h"
#include "ledger/block_pipeline.h"
#include "ledger/store/rocks_kv.h"
#include "ledger/validator_history.h"

namespace consent {

struct ChainStoreOptions {
  std::string path;
  size_t block_cache_bytes = 64 << 20;
  size_t page_cache_bytes = 64 << 20;  // state-tree pages (ledger/page_cache.h); 0 = none
  size_t write_buffer_bytes = RocksOptions{}.write_buffer_bytes;  // per column family memtable
  bool read_only = false;
};

class ChainStore {
 public:
  static Result<std::unique_ptr<ChainStore>> Open(const ChainStoreOptions& options,
                                                  const Genesis& genesis);

  const Genesis& genesis() const { return genesis_; }
  ChainTip tip() const;
  uint64_t height() const;
  // The validator set that commits `height` (PROTOCOL.md section 10), from the durable chain: the
  // genesis set, or the last change at or below it. A height above height() + 1 gets the set of
  // height() + 1 (later changes are not known yet).
  ValidatorSet ValidatorsFor(uint64_t height) const;
  // Every change of the durable chain, in height order.
  std::vector<SetChange> SetChanges() const;

  ~ChainStore();
  ChainStore(const ChainStore&) = delete;
  ChainStore& operator=(const ChainStore&) = delete;

  // Finalizes (verifies the commit) and writes the block atomically with sync. On any error the
  // store is unchanged. REQUIRES: `block` was validated against build_tip() (the current tip when
  // no block is in flight). A block in flight is finished first; if its write failed, that error
  // is returned and this block is not written.
  Status CommitBlock(ValidatedBlock block, const Commit& commit);

  // Pipelined commit. Checks the height against build_tip(), finalizes the block (verifies the
  // commit), waits for the block in flight if any, then hands this block's one synced batch to
  // the writer thread (which encodes it for RocksDB and writes it) and returns without waiting. If
  // the previous block's write failed, returns that error and changes nothing (this block was built
  // on state that never became durable: rebuild it on build_view()). Any other error also changes
  // nothing. `on_done`, if set, is called on the writer thread with the write's result, after tip()
  // has moved (on success) and before FinishCommit returns. It must not throw, and must not call
  // CommitBlock, BeginCommit or FinishCommit (they wait for the writer it runs on).
  Status BeginCommit(ValidatedBlock block, const Commit& commit,
                     std::function<void(const Status&)> on_done = {});
  // Waits until the block in flight (if any) is written; returns its write's result, OK if there
  // was none. After it returns nothing is in flight and build_view() is the store itself.
  Status FinishCommit();
  // The chain to build the next block on: the durable one plus the block in flight, if any. The
  // view stays valid until the next CommitBlock, BeginCommit or FinishCommit.
  ChainTip build_tip() const;
  const KvRead& build_view() const;

  // A consistent view at the current height, for queries.
  std::unique_ptr<KvRead> Snapshot() const { return kv_->GetSnapshot(); }
  const KvRead& kv() const { return *kv_; }
  RocksKv& rocks() { return *kv_; }

 private:
  ChainStore(const Genesis& g, std::unique_ptr<RocksKv> kv) : genesis_(g), kv_(std::move(kv)) {}
  Status CheckOnOpen(bool create);
  Status CheckNextHeight(const Header& header) const;
  void WriterLoop();

  // A block handed to the writer thread. Owned by the producer side (in_flight_); the writer
  // reads `batch` and `header` and sets `done` and `result` under wmu_.
  struct InFlight {
    KvBatch batch;  // what the block writes (build_view() reads it too)
    Header header;
    std::optional<ValidatorSet> next_validators;  // the set the block decides, if any
    std::unique_ptr<OverlayKv> view;  // kv_ with `batch` over it, for building the next block
    std::function<void(const Status&)> on_done;
    bool done = false;  // guarded by wmu_
    Status result;      // guarded by wmu_
  };

  Genesis genesis_;
  std::unique_ptr<RocksKv> kv_;
  mutable std::mutex mu_;
  ChainTip tip_;                    // guarded by mu_
  std::vector<SetChange> changes_;  // guarded by mu_: the durable chain's set changes
  // Records a durable block (under mu_): the tip, and the change it decides.
  void NoteDurable(const Header& header, const std::optional<ValidatorSet>& next);

  std::unique_ptr<InFlight> in_flight_;  // producer thread only
  std::mutex wmu_;
  std::condition_variable wcv_;
  InFlight* job_ = nullptr;  // guarded by wmu_: handed to the writer, not yet taken
  bool stop_ = false;        // guarded by wmu_
  std::thread writer_;       // started by the first BeginCommit
};

struct VerifyProgress {
  uint64_t height = 0;  // blocks verified so far
  uint64_t head = 0;    // the store's head height
  uint64_t txs = 0;     // transactions re-executed so far
};

// Replays every block of `kv` (heights 1..head) from genesis into a fresh RocksDB store at
// `scratch_path` (which must not exist; it is removed afterwards): each block is validated with
// signatures checked, its stored header must equal the one recomputed, its commit must verify.
// Then every column of both stores must hold the same records. Returns OK or the first
// disagreement, naming the height or column. Calls `progress` after each block.
Status VerifyChainStore(const KvRead& kv, const Genesis& genesis, const std::string& scratch_path,
                        const std::function<void(const VerifyProgress&)>& progress);

}  // namespace consent
