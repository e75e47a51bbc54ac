// RocksDB adapter. Converts rocksdb::Status to Status here and nowhere else.
#include "ledger/store/rocks_kv.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>

#include "ledger/schema.h"

namespace consent {
namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsInvalidArgument()) return Status::Invalid(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

rocksdb::Slice ToSlice(ByteView b) {
  return rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size());
}
ByteView FromSlice(const rocksdb::Slice& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// RocksDB's per-thread perf counters default to on (kEnableCount): every key comparison in a
// memtable insert or lookup then updates a thread-local counter, which in a shared library goes
// through __tls_get_addr. We never read them, so every thread that calls RocksDB turns them off
// (the level is thread-local; setting it is one store).
void DisablePerfCounters() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }

}  // namespace

class RocksKv::SnapshotView : public KvRead {
 public:
  SnapshotView(const RocksKv& kv, const rocksdb::Snapshot* snap) : kv_(kv), snap_(snap) {}
  ~SnapshotView() override { kv_.db_->ReleaseSnapshot(snap_); }
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override {
    return kv_.GetAt(snap_, c, key);
  }
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override {
    return kv_.ScanAt(snap_, c, prefix, start, fn);
  }
  PageCache* page_cache() const override { return kv_.page_cache(); }

 private:
  const RocksKv& kv_;
  const rocksdb::Snapshot* snap_;
};

int BlockCacheShardBits(size_t capacity_bytes) {
  int bits = 0;
  while (bits < 6 && (capacity_bytes >> (bits + 1)) >= kMinBlockCacheShardBytes) ++bits;
  return bits;
}

Result<std::unique_ptr<RocksKv>> RocksKv::Open(const RocksOptions& o) {
  rocksdb::Options db_opts;
  db_opts.create_if_missing = o.create_if_missing;
  db_opts.create_missing_column_families = o.create_if_missing;
  db_opts.paranoid_checks = true;
  db_opts.max_open_files = 512;
  db_opts.keep_log_file_num = 4;
  db_opts.max_total_wal_size = 256 << 20;

  rocksdb::BlockBasedTableOptions table;
  // Shards of at least 8 MiB (BlockCacheShardBits). In ledger_apply_bench at 1M entries, 200
  // repeated proofs read 39-49 index and as many filter blocks again (about 67 MB) in some runs
  // with RocksDB's 64 shards of 1 MiB; with 8 shards of 8 MiB, none.
  table.block_cache =
      rocksdb::NewLRUCache(o.block_cache_bytes, BlockCacheShardBits(o.block_cache_bytes));
  table.cache_index_and_filter_blocks = true;  // so the cache bound covers them too
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Point reads at scale: keep level-0 index and filter blocks pinned and all index and filter
  // blocks in the cache's high-priority pool, so data blocks do not evict them (store_bench at
  // 200k entries: about 6% less CPU per state proof, with the setting below). Still bounded by
  // the cache's capacity.
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_opts.write_buffer_size = o.write_buffer_bytes;
  cf_opts.max_write_buffer_number = 2;
  cf_opts.compression = rocksdb::kNoCompression;  // hashes do not compress
  // Point lookups (state-tree nodes, replay checks) mostly miss the memtables: a bloom filter
  // over whole keys lets them skip the skiplist search.
  cf_opts.memtable_prefix_bloom_size_ratio = 0.05;
  cf_opts.memtable_whole_key_filtering = true;

  // A store written by another store format may hold column families this build does not know
  // (RocksDB would only say "column families not opened"): name them. A missing store lists
  // nothing, and is created (or refused, read-only) below.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_opts, o.path, &existing).ok()) {
    std::string unknown;
    for (const std::string& name : existing) {
      bool known = name == rocksdb::kDefaultColumnFamilyName;
      for (size_t i = 0; !known && i < kColumnCount; ++i) {
        known = name == ColumnName(static_cast<Column>(i));
      }
      if (!known) unknown += (unknown.empty() ? "" : ", ") + name;
    }
    if (!unknown.empty()) {
      return Status::Corruption("the store at " + o.path +
                                " was written by another store format: it has column families "
                                "this build does not know (" +
                                unknown + "); this build reads format " +
                                std::to_string(schema::kStoreFormat));
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_opts);
  for (size_t i = 0; i < kColumnCount; ++i) {
    rocksdb::ColumnFamilyOptions cf = cf_opts;
    // State-tree pages are only read where a parent names them, so reads almost always hit: the
    // last level needs no bloom filter (less filter memory, more cache for pages). Other columns
    // see misses (replay checks) and keep their filters.
    if (static_cast<Column>(i) == Column::kStateNodes) cf.optimize_filters_for_hits = true;
    descs.emplace_back(ColumnName(static_cast<Column>(i)), cf);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (o.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_opts, o.path, descs, &handles, &raw);
  } else {
    s = rocksdb::DB::Open(db_opts, o.path, descs, &handles, &raw);
  }
  if (!s.ok()) return FromRocks(s, "cannot open the store at " + o.path);
  std::unique_ptr<RocksKv> kv(new RocksKv());
  kv->db_.reset(raw);
  if (o.page_cache_bytes > 0) kv->page_cache_ = std::make_unique<PageCache>(o.page_cache_bytes);
  // handles[0] is the default family, unused; keep the rest indexed by Column.
  kv->db_->DestroyColumnFamilyHandle(handles[0]);
  kv->cfs_.assign(handles.begin() + 1, handles.end());
  return kv;
}

RocksKv::~RocksKv() {
  if (db_) {
    for (auto* h : cfs_) db_->DestroyColumnFamilyHandle(h);
    db_->Close().PermitUncheckedError();
  }
}

Result<std::optional<Bytes>> RocksKv::GetAt(const rocksdb::Snapshot* snap, Column c,
                                            ByteView key) const {
  DisablePerfCounters();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.verify_checksums = true;
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(ro, cfs_[static_cast<size_t>(c)], ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<Bytes>();
  if (!s.ok()) return FromRocks(s, std::string("read from ") + ColumnName(c));
  ByteView v = FromSlice(value);
  return std::optional<Bytes>(Bytes(v.begin(), v.end()));
}

Status RocksKv::ScanAt(const rocksdb::Snapshot* snap, Column c, ByteView prefix, ByteView start,
                       const KvVisitor& fn) const {
  DisablePerfCounters();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[static_cast<size_t>(c)]));
  ByteView from =
      std::lexicographical_compare(prefix.begin(), prefix.end(), start.begin(), start.end())
          ? start
          : prefix;
  for (it->Seek(ToSlice(from)); it->Valid(); it->Next()) {
    ByteView k = FromSlice(it->key());
    if (k.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), k.begin())) break;
    if (!fn(k, FromSlice(it->value()))) break;
  }
  return FromRocks(it->status(), std::string("scan of ") + ColumnName(c));
}

Result<std::optional<Bytes>> RocksKv::Get(Column c, ByteView key) const {
  return GetAt(nullptr, c, key);
}

Status RocksKv::Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const {
  return ScanAt(nullptr, c, prefix, start, fn);
}

Status RocksKv::Write(const KvBatch& batch, bool sync) {
  // Written in (column, key) order: each column's memtable skip list then inserts next to the
  // previous key (RocksDB keeps the last insert position), instead of searching from the top for
  // every key. The sort is stable, so writes to one key keep their order; the batch is still one
  // atomic write.
  const auto& ops = batch.ops();
  std::vector<uint32_t> order(ops.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&ops](uint32_t a, uint32_t b) {
    if (ops[a].column != ops[b].column) return ops[a].column < ops[b].column;
    return ops[a].key < ops[b].key;
  });
  DisablePerfCounters();
  rocksdb::WriteBatch wb(batch.ByteSize() + 16 * ops.size() + 64);
  for (uint32_t i : order) {
    const auto& op = ops[i];
    auto* cf = cfs_[static_cast<size_t>(op.column)];
    rocksdb::Status s =
        op.value ? wb.Put(cf, ToSlice(op.key), ToSlice(*op.value)) : wb.Delete(cf, ToSlice(op.key));
    if (!s.ok()) return FromRocks(s, "building a write batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, &wb), "write batch");
}

std::unique_ptr<KvRead> RocksKv::GetSnapshot() const {
  return std::make_unique<SnapshotView>(*this, db_->GetSnapshot());
}

Status RocksKv::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocks(db_->Flush(fo, cfs_), "flush");
}

Status RocksKv::VerifyTableChecksums() const {
  DisablePerfCounters();
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;  // a whole-store pass: keep the cache for the node's reads
  return FromRocks(db_->VerifyChecksum(ro), "table file checksums");
}

bool RocksKv::BackgroundIdle() const {
  for (auto* cf : cfs_) {
    for (const char* property : {"rocksdb.num-running-compactions", "rocksdb.num-running-flushes",
                                 "rocksdb.compaction-pending", "rocksdb.mem-table-flush-pending"}) {
      uint64_t v = 0;
      if (!db_->GetIntProperty(cf, property, &v) || v != 0) return false;
    }
  }
  return true;
}

uint64_t RocksKv::ApproximateDiskBytes() const {
  std::error_code ec;
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(db_->GetName(), ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

}  // namespace consent
