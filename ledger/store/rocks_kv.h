// RocksDB implementation of the ledger's KvRead, the one place where rocksdb::Status becomes our
// Status. Each Column is a column family; a KvBatch is written as one rocksdb::WriteBatch, with
// sync when asked (block commits always ask), so after a crash a batch is either wholly present
// or wholly absent. Memory is bounded: one LRU block cache of a configured size shared by all
// column families, and bounded write buffers.
//
// Thread-safety: Get/Scan/Write/GetSnapshot may be called from any thread concurrently (RocksDB
// is internally synchronised). A snapshot view must not outlive its RocksKv.
#pragma once

#include <memory>
#include <string>

#include "ledger/kv.h"
#include "ledger/page_cache.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Snapshot;
}  // namespace rocksdb

namespace consent {

struct RocksOptions {
  std::string path;
  size_t block_cache_bytes = 64 << 20;   // shared by all column families
  size_t write_buffer_bytes = 16 << 20;  // per column family memtable
  size_t page_cache_bytes = 64 << 20;    // the storage trees' page cache (0 = none)
  bool create_if_missing = true;
  bool read_only = false;
};

// How many ways (2^bits) the block cache of `capacity_bytes` is sharded: as many as RocksDB would
// choose (up to 64) but never shards below kMinBlockCacheShardBytes. RocksDB's default gives a
// 64 MiB cache 64 shards of 1 MiB, and an SST file of 64 MiB has index and filter blocks of about
// 0.5-1.3 MiB: such a block fills its shard (whose high-priority pool is half of it), so each one
// evicts the other index, filter and data blocks hashed to that shard, and they are read again.
inline constexpr size_t kMinBlockCacheShardBytes = size_t{8} << 20;
int BlockCacheShardBits(size_t capacity_bytes);

class RocksKv : public KvRead {
 public:
  // Opens (or creates) the database with every column family of Column. A store that holds a
  // column family this build does not know (one written by another store format) is refused with
  // Corruption naming those families; a read-only open of a store missing a family fails.
  static Result<std::unique_ptr<RocksKv>> Open(const RocksOptions& options);
  ~RocksKv() override;

  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override;
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override;

  // Applies the batch atomically. sync = fsync the WAL before returning.
  Status Write(const KvBatch& batch, bool sync);

  // A consistent point-in-time view (a RocksDB snapshot), released when the view is destroyed.
  std::unique_ptr<KvRead> GetSnapshot() const;

  // Shared by the store and all its snapshots; nullptr when configured to 0 bytes.
  PageCache* page_cache() const override { return page_cache_.get(); }

  // Flushes memtables and waits (used before measuring bytes on disk, and on clean shutdown).
  Status Flush();
  // Reads every table (.sst) file of every column family whole and checks each block's checksum
  // (data, index, filter and other meta blocks), including blocks that reads of the content never
  // touch (a filter block is only consulted by point lookups). Corruption naming the file and
  // offset on the first mismatch. Costs one sequential read of every table file.
  Status VerifyTableChecksums() const;
  // Bytes of every file in the store directory (SST, WAL, manifest).
  uint64_t ApproximateDiskBytes() const;
  // True when no flush or compaction is running or pending in any column family (benchmarks wait
  // for this so that a measurement does not share the CPU with background work).
  bool BackgroundIdle() const;

 private:
  RocksKv() = default;
  class SnapshotView;
  Result<std::optional<Bytes>> GetAt(const rocksdb::Snapshot* snap, Column c, ByteView key) const;
  Status ScanAt(const rocksdb::Snapshot* snap, Column c, ByteView prefix, ByteView start,
                const KvVisitor& fn) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<PageCache> page_cache_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // index = Column
};

}  // namespace consent
