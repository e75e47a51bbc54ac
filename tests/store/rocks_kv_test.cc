// RocksKv against a real RocksDB in a temporary directory: batches are atomic and durable across
// reopen, scans respect prefix and start, snapshots are stable, and an OverlayKv over RocksKv reads
// its pending writes. MemoryKv is checked against RocksKv on the same random operations. A store
// with column families this build does not know (one of an older layout) is refused by name.
#include "ledger/store/rocks_kv.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table_properties.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ledger/schema.h"
#include "rocks_fixture.h"

namespace consent {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

class RocksKvTest : public consent::testing::RocksFixture {
 protected:
  std::vector<std::pair<Bytes, Bytes>> ScanAll(const KvRead& kv, Column c,
                                               const std::string& prefix,
                                               const std::string& start = "") {
    std::vector<std::pair<Bytes, Bytes>> out;
    Bytes p = B(prefix), s = B(start);
    EXPECT_TRUE(kv.Scan(c, p, s, [&](ByteView k, ByteView v) {
                    out.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
                    return true;
                  }).ok());
    return out;
  }
};

TEST_F(RocksKvTest, WriteReopenRead) {
  {
    auto kv = Open();
    KvBatch b;
    b.Put(Column::kHeaders, B("h1"), B("header one"));
    b.Put(Column::kMeta, B("head"), B("1"));
    b.Put(Column::kMeta, B("gone"), B("x"));
    b.Delete(Column::kMeta, B("gone"));
    ASSERT_TRUE(kv->Write(b, /*sync=*/true).ok());
  }
  auto kv = Open();
  EXPECT_EQ(kv->Get(Column::kHeaders, B("h1")).value(), B("header one"));
  EXPECT_EQ(kv->Get(Column::kMeta, B("head")).value(), B("1"));
  EXPECT_FALSE(kv->Get(Column::kMeta, B("gone")).value().has_value());
  // Columns are separate keyspaces.
  EXPECT_FALSE(kv->Get(Column::kBlocks, B("h1")).value().has_value());
}

TEST_F(RocksKvTest, ScanPrefixAndStart) {
  auto kv = Open();
  KvBatch b;
  for (std::string k : {"a1", "b1", "b2", "b3", "c1"}) b.Put(Column::kSubjectIndex, B(k), B(k));
  ASSERT_TRUE(kv->Write(b, false).ok());
  auto all_b = ScanAll(*kv, Column::kSubjectIndex, "b");
  ASSERT_EQ(all_b.size(), 3u);
  EXPECT_EQ(all_b[0].first, B("b1"));
  auto from_b2 = ScanAll(*kv, Column::kSubjectIndex, "b", "b2");
  ASSERT_EQ(from_b2.size(), 2u);
  EXPECT_EQ(from_b2[0].first, B("b2"));
  EXPECT_TRUE(ScanAll(*kv, Column::kSubjectIndex, "d").empty());
}

TEST_F(RocksKvTest, SnapshotIsStable) {
  auto kv = Open();
  KvBatch b1;
  b1.Put(Column::kMeta, B("k"), B("v1"));
  ASSERT_TRUE(kv->Write(b1, false).ok());
  auto snap = kv->GetSnapshot();
  KvBatch b2;
  b2.Put(Column::kMeta, B("k"), B("v2"));
  b2.Put(Column::kMeta, B("k2"), B("new"));
  ASSERT_TRUE(kv->Write(b2, false).ok());
  EXPECT_EQ(snap->Get(Column::kMeta, B("k")).value(), B("v1"));
  EXPECT_FALSE(snap->Get(Column::kMeta, B("k2")).value().has_value());
  EXPECT_EQ(kv->Get(Column::kMeta, B("k")).value(), B("v2"));
}

TEST_F(RocksKvTest, OverlayMatchesAppliedBatchOnRandomOps) {
  auto kv = Open();
  MemoryKv mem;
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 20; ++round) {
    KvBatch committed;
    for (int i = 0; i < 30; ++i) {
      Bytes k = B("k" + std::to_string(rng() % 60));
      if (rng() % 4 == 0) {
        committed.Delete(Column::kConsents, k);
      } else {
        committed.Put(Column::kConsents, k, B(std::to_string(rng())));
      }
    }
    ASSERT_TRUE(kv->Write(committed, false).ok());
    mem.Apply(committed);
    // Pending writes on top, read through the overlay, must equal applying them.
    KvBatch pending;
    OverlayKv overlay(*kv, pending);
    for (int i = 0; i < 20; ++i) {
      Bytes k = B("k" + std::to_string(rng() % 60));
      if (rng() % 3 == 0) {
        pending.Delete(Column::kConsents, k);
      } else {
        pending.Put(Column::kConsents, k, B("p" + std::to_string(rng())));
      }
    }
    overlay.Refresh();
    MemoryKv expected = mem;
    expected.Apply(pending);
    EXPECT_EQ(ScanAll(overlay, Column::kConsents, "k"), ScanAll(expected, Column::kConsents, "k"));
    EXPECT_EQ(ScanAll(overlay, Column::kConsents, "k", "k3"),
              ScanAll(expected, Column::kConsents, "k", "k3"));
    for (int i = 0; i < 60; ++i) {
      Bytes k = B("k" + std::to_string(i));
      EXPECT_EQ(overlay.Get(Column::kConsents, k).value(),
                expected.Get(Column::kConsents, k).value());
    }
    EXPECT_EQ(ScanAll(*kv, Column::kConsents, ""), ScanAll(mem, Column::kConsents, ""));
  }
}

TEST_F(RocksKvTest, OpenFailsClearlyOnGarbageDirectory) {
  std::filesystem::create_directories(dir_ + "/bad");
  // A CURRENT file pointing at a manifest that does not exist.
  FILE* f = fopen((dir_ + "/bad/CURRENT").c_str(), "w");
  fputs("MANIFEST-999999\n", f);
  fclose(f);
  RocksOptions o;
  o.path = dir_ + "/bad";
  auto kv = RocksKv::Open(o);
  ASSERT_FALSE(kv.ok());
  EXPECT_NE(kv.status().message().find("cannot open the store at"), std::string::npos)
      << kv.status().ToString();
}

// A store of the layout before the consents merge: the same families plus purposes and
// controller_index, made with RocksDB directly, as that build did.
TEST_F(RocksKvTest, OpenRefusesAStoreWithColumnFamiliesOfAnotherFormat) {
  const std::string path = dir_ + "/old";
  {
    rocksdb::Options opts;
    opts.create_if_missing = true;
    opts.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const char* name :
         {"default", "meta", "headers", "blocks", "commits", "tx_index", "log_nodes", "state_nodes",
          "consents", "purposes", "subject_index", "controller_index", "directory"}) {
      descs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(opts, path, descs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[9], "a purposes key", "a state key").ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  for (bool read_only : {false, true}) {
    RocksOptions o;
    o.path = path;
    o.read_only = read_only;
    o.create_if_missing = !read_only;
    auto kv = RocksKv::Open(o);
    ASSERT_FALSE(kv.ok()) << "read_only " << read_only;
    EXPECT_EQ(kv.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(kv.status().message(),
              "the store at " + path +
                  " was written by another store format: it has column families this build does "
                  "not know (purposes, controller_index); this build reads format " +
                  std::to_string(schema::kStoreFormat));
  }
  // Refusing changed nothing: the old families and their records are still there.
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &families).ok());
  EXPECT_NE(std::find(families.begin(), families.end(), "purposes"), families.end());
  EXPECT_NE(std::find(families.begin(), families.end(), "controller_index"), families.end());

  // A store this build made opens again, with every family known.
  ASSERT_NE(Open(), nullptr);
  ASSERT_NE(Open(), nullptr);
}

// A flipped byte in a table file's filter block: reading the content (every record, by scans)
// never touches a filter, so only the whole-file check finds it, and it names the file.
// `consent-store verify` runs this check first for that reason.
TEST_F(RocksKvTest, TableChecksumsFindAFlippedByteThatScansNeverRead) {
  std::mt19937_64 rng(3);
  std::vector<std::pair<Bytes, Bytes>> written;
  {
    auto kv = Open();
    ASSERT_TRUE(kv);
    KvBatch b;
    for (int i = 0; i < 2000; ++i) {
      Bytes k(32), v(64);
      for (auto& x : k) x = static_cast<uint8_t>(rng());
      for (auto& x : v) x = static_cast<uint8_t>(rng());
      b.Put(Column::kTxIndex, k, v);
    }
    ASSERT_TRUE(kv->Write(b, true).ok());
    ASSERT_TRUE(kv->Flush().ok());
    EXPECT_TRUE(kv->VerifyTableChecksums().ok());
    written = ScanAll(*kv, Column::kTxIndex, "");
    ASSERT_EQ(written.size(), 2000u);
  }
  // The tx index's one table file, and where its filter block lies: block-based tables write the
  // filter right after the data blocks (offset = the data_size property).
  std::string sst;
  uint64_t filter_at = 0;
  {
    rocksdb::Options opts;
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/db")) {
      if (e.path().extension() != ".sst") continue;
      rocksdb::SstFileReader reader(opts);
      ASSERT_TRUE(reader.Open(e.path().string()).ok());
      auto props = reader.GetTableProperties();
      if (props->column_family_name != ColumnName(Column::kTxIndex)) continue;
      ASSERT_GT(props->filter_size, 16u) << "the tx index keeps a bloom filter";
      sst = e.path().string();
      filter_at = props->data_size + props->filter_size / 2;
    }
  }
  ASSERT_FALSE(sst.empty());
  {
    std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
    char c = 0;
    f.seekg(static_cast<std::streamoff>(filter_at));
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(filter_at));
    f.write(&c, 1);
  }
  auto kv = Open();
  ASSERT_TRUE(kv);
  EXPECT_EQ(ScanAll(*kv, Column::kTxIndex, ""), written) << "scans do not read filter blocks";
  Status st = kv->VerifyTableChecksums();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(std::filesystem::path(sst).filename().string()), std::string::npos)
      << st.message();
}

TEST(BlockCacheShardBitsTest, ShardsAreNeverBelow8MiBAndAtMost64) {
  constexpr size_t kMiB = size_t{1} << 20;
  EXPECT_EQ(BlockCacheShardBits(1 * kMiB), 0);  // one shard, smaller than 8 MiB: the whole cache
  EXPECT_EQ(BlockCacheShardBits(8 * kMiB), 0);
  EXPECT_EQ(BlockCacheShardBits(16 * kMiB - 1), 0);
  EXPECT_EQ(BlockCacheShardBits(16 * kMiB), 1);
  EXPECT_EQ(BlockCacheShardBits(64 * kMiB), 3);   // the default: 8 shards of 8 MiB
  EXPECT_EQ(BlockCacheShardBits(512 * kMiB), 6);  // 64 shards, RocksDB's most by default
  EXPECT_EQ(BlockCacheShardBits(size_t{1} << 40), 6);
  for (size_t mib = 1; mib <= 4096; mib = mib * 3 / 2 + 1) {
    const int bits = BlockCacheShardBits(mib * kMiB);
    ASSERT_GE(bits, 0);
    ASSERT_LE(bits, 6);
    if (bits > 0) {
      EXPECT_GE((mib * kMiB) >> bits, kMinBlockCacheShardBytes) << mib;
    }
    if (bits < 6) {
      EXPECT_LT((mib * kMiB) >> (bits + 1), kMinBlockCacheShardBytes) << mib;
    }
  }
}

}  // namespace
}  // namespace consent
