// The storage interface the ledger needs, declared here and implemented at the edge
// (ledger/store/rocks_kv.* for RocksDB, MemoryKv below for tests). Pure ledger code (the storage
// trees, the block pipeline, queries) reads through KvRead and writes into a KvBatch; the node
// commits a batch atomically. Keys and values are raw bytes; each Column is a separate keyspace
// (a RocksDB column family).
//
// Thread-safety: KvBatch and OverlayKv are thread-compatible. A KvRead implementation states its
// own guarantees (RocksKv reads are thread-safe; MemoryKv is thread-compatible).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent {

class PageCache;  // ledger/page_cache.h

enum class Column : uint8_t {
  kMeta = 0,      // node metadata: head height, format version, ...
  kHeaders,       // u64 height -> header encoding
  kBlocks,        // u64 height -> block body (tx encodings)
  kCommits,       // u64 height -> commit encoding
  kTxIndex,       // tx_id -> height, position in block, log index
  kLogNodes,      // log tiles: 16 subtree hashes of level 0, 4, 8, ... (ledger/log_tree.h)
  kStateNodes,    // sparse Merkle tree nodes, by (depth, prefix)
  kConsents,      // controller || subject || purpose -> state_value (see ledger/schema.h)
  kSubjectIndex,  // subject || u64 log_index -> tx_id
  kDirectory,     // controller -> directory entry
  kValidators,    // validator sets in office and pending approvals (ledger/validator_history.h)
  kCount,
};
inline constexpr size_t kColumnCount = static_cast<size_t>(Column::kCount);
const char* ColumnName(Column c);

// Called for each (key, value) in order; return false to stop.
using KvVisitor = std::function<bool(ByteView key, ByteView value)>;

class KvRead {
 public:
  virtual ~KvRead() = default;
  // nullopt when absent; an error only for I/O failure or corruption.
  virtual Result<std::optional<Bytes>> Get(Column c, ByteView key) const = 0;
  // Visits keys k with k starting with `prefix` and k >= `start`, in ascending byte order.
  virtual Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const = 0;
  // The content-addressed page cache shared by every view of this store (ledger/page_cache.h),
  // or nullptr. The storage trees use it to skip reading records whose hash they already know.
  virtual PageCache* page_cache() const { return nullptr; }
};

// An ordered set of writes, applied atomically by the store. Later writes to the same key win.
class KvBatch {
 public:
  void Put(Column c, ByteView key, ByteView value);
  // The same, taking ownership of encodings built for the batch (saves a copy per record).
  void Put(Column c, ByteView key, Bytes&& value);
  void Put(Column c, Bytes&& key, Bytes&& value);
  void Delete(Column c, ByteView key);
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  size_t ByteSize() const { return bytes_; }

  struct Op {
    Column column;
    Bytes key;
    std::optional<Bytes> value;  // nullopt = delete
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

// Reads through a batch that has not been committed yet: the batch's writes shadow `base`.
// Lets pure code read its own pending writes while building a block. REQUIRES: base and batch
// outlive the overlay, and the batch only grows (Put/Delete) while the overlay is used.
//
// The overlay copies nothing: per column it maps each pending key (a view of the key bytes held
// by the batch's op, whose buffer stays put when the op vector grows, since moving a Bytes moves
// its buffer) to the index of the latest op on that key. Gets are hash lookups; a Scan sorts that
// column's pending keys once and reuses the order until the column changes.
class OverlayKv : public KvRead {
 public:
  OverlayKv(const KvRead& base, const KvBatch& batch);
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override;
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override;
  PageCache* page_cache() const override { return base_.page_cache(); }
  // Must be called after the batch grows, before the next read.
  void Refresh();

 private:
  struct Pending {
    std::unordered_map<std::string_view, uint32_t> latest;  // key -> index into batch ops
    mutable std::vector<std::string_view> sorted;           // keys in byte order, for Scan
    mutable bool sorted_valid = true;
  };
  const KvRead& base_;
  const KvBatch& batch_;
  size_t seen_ = 0;
  std::array<Pending, kColumnCount> pending_;
};

// An in-memory store for tests and tools. Thread-compatible.
class MemoryKv : public KvRead {
 public:
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override;
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override;
  void Apply(const KvBatch& batch);
  size_t Size(Column c) const { return data_[static_cast<size_t>(c)].size(); }
  // Tests may attach a page cache (not owned) to check that it changes no result.
  void set_page_cache(PageCache* cache) { cache_ = cache; }
  PageCache* page_cache() const override { return cache_; }

 private:
  PageCache* cache_ = nullptr;
  std::array<std::map<Bytes, Bytes>, kColumnCount> data_;
};

}  // namespace consent
