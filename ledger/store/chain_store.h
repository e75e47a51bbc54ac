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
// Thread-safety: CommitBlock must be called from one thread at a time (the node's block producer).
// tip(), Snapshot() and the queries on snapshots may run concurrently with CommitBlock.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ledger/block.h"
#include "ledger/block_pipeline.h"
#include "ledger/store/rocks_kv.h"

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

  // Finalizes (verifies the commit) and writes the block atomically with sync. On any error the
  // store is unchanged. REQUIRES: `block` was validated against the current tip.
  Status CommitBlock(ValidatedBlock block, const Commit& commit);

  // A consistent view at the current height, for queries.
  std::unique_ptr<KvRead> Snapshot() const { return kv_->GetSnapshot(); }
  const KvRead& kv() const { return *kv_; }
  RocksKv& rocks() { return *kv_; }

 private:
  ChainStore(const Genesis& g, std::unique_ptr<RocksKv> kv) : genesis_(g), kv_(std::move(kv)) {}
  Status CheckOnOpen(bool create);

  Genesis genesis_;
  std::unique_ptr<RocksKv> kv_;
  mutable std::mutex mu_;
  ChainTip tip_;  // guarded by mu_
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
