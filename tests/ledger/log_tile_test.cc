// Tests for the tile layout of ledger/log_tree (grammar in log_tree.h): the records stored for a
// size are exactly those the grammar names, with the reference subtree hashes
// (ledger/merkle_log.h); an append writes about one record per 16 leaves, and any batching
// (one leaf at a time, random batches, several appends through one OverlayKv) stores the same
// records; damaged tiles (wrong length, no hashes, 17 hashes, too few hashes, missing, a flipped
// hash) are Corruption naming the tile or a root that differs, never a crash, and a failed
// append leaves its batch untouched; trees of sizes around tile boundaries give every proof equal
// to the reference. Fixed seeds; single-threaded.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>

#include "ledger/log_tree.h"
#include "ledger/merkle_log.h"

namespace consent {
namespace {

using Records = std::map<Bytes, Bytes>;

Hash32 LeafOf(uint64_t i) {
  uint8_t b[8];
  for (int j = 0; j < 8; ++j) b[j] = uint8_t(i >> (56 - 8 * j));
  return merkle::LeafHash(ByteView(b, 8));
}

std::vector<Hash32> LeavesFrom(uint64_t begin, uint64_t end) {
  std::vector<Hash32> out;
  for (uint64_t i = begin; i < end; ++i) out.push_back(LeafOf(i));
  return out;
}

// Appends leaves [tree.size(), tree.size() + count), committing the batch to `kv`; returns the
// number of records written.
size_t Append(MemoryKv& kv, LogTree& tree, uint64_t count) {
  KvBatch batch;
  Status st = tree.Append(LeavesFrom(tree.size(), tree.size() + count), &batch);
  EXPECT_TRUE(st.ok()) << st.ToString();
  kv.Apply(batch);
  return batch.size();
}

Records LogRecords(const KvRead& kv) {
  Records out;
  EXPECT_TRUE(kv.Scan(Column::kLogNodes, Bytes{}, Bytes{}, [&](ByteView k, ByteView v) {
                  out[Bytes(k.begin(), k.end())] = Bytes(v.begin(), v.end());
                  return true;
                }).ok());
  return out;
}

// What the grammar says a log of these leaves stores: tile (k, t) for 16t < n >> 4k, holding the
// reference hashes of the complete subtrees at level 4k.
Records ExpectedRecords(const std::vector<Hash32>& leaves) {
  Records out;
  const uint64_t n = leaves.size();
  for (int k = 0; k < kLogTileLevels && (n >> (4 * k)) > 0; ++k) {
    const uint64_t nodes = n >> (4 * k), width = uint64_t{1} << (4 * k);
    for (uint64_t t = 0; 16 * t < nodes; ++t) {
      Bytes value;
      for (uint64_t i = 16 * t; i < std::min(nodes, 16 * t + 16); ++i) {
        Hash32 h = merkle::RootFromLeafHashes(leaves, i * width, (i + 1) * width);
        value.insert(value.end(), h.begin(), h.end());
      }
      out[LogTileKey(static_cast<uint8_t>(k), t)] = value;
    }
  }
  return out;
}

// Records an append from size n0 to n1 writes: every tile gaining nodes, at each tile level.
uint64_t ExpectedWrites(uint64_t n0, uint64_t n1) {
  uint64_t writes = 0;
  for (int k = 0; k < kLogTileLevels; ++k) {
    const uint64_t old_nodes = n0 >> (4 * k), new_nodes = n1 >> (4 * k);
    if (new_nodes > old_nodes) writes += (new_nodes + 15) / 16 - old_nodes / 16;
  }
  return writes;
}

TEST(LogTiles, KeyGrammar) {
  EXPECT_EQ(LogTileKey(2, 0x0102), (Bytes{2, 0, 0, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(LogTileKey(15, UINT64_MAX), (Bytes{15, 255, 255, 255, 255, 255, 255, 255, 255}));
}

TEST(LogTiles, RecordsFollowTheGrammar) {
  for (uint64_t n : {1, 6, 15, 16, 17, 31, 32, 255, 256, 257, 1000, 4095, 4096, 4097}) {
    SCOPED_TRACE(n);
    MemoryKv kv;
    LogTree tree(kv, 0);
    Append(kv, tree, n);
    const std::vector<Hash32> leaves = LeavesFrom(0, n);
    EXPECT_EQ(LogRecords(kv), ExpectedRecords(leaves));
    for (uint64_t i = 0; i < n; i += 1 + i / 16) EXPECT_EQ(tree.LeafHashAt(i).value(), leaves[i]);
    EXPECT_TRUE(LogHasLeaf(kv, n - 1).value());
    EXPECT_FALSE(LogHasLeaf(kv, n).value());
  }
}

// 1,000 leaves into an empty log: 62 full leaf tiles and one of 8; 62 level-4 nodes in 4 tiles;
// 3 level-8 nodes in one tile. The old layout wrote 1,994 records (one per complete subtree).
TEST(LogTiles, ThousandLeavesWriteSixtyEightRecords) {
  MemoryKv kv;
  LogTree tree(kv, 0);
  EXPECT_EQ(Append(kv, tree, 1000), 68u);
  EXPECT_EQ(kv.Size(Column::kLogNodes), 68u);
  // A block of 1,000 onto a log whose last tiles are partial rewrites them: 64 + 5 + 1.
  LogTree more(kv, 1000);
  Append(kv, more, 4003);
  EXPECT_EQ(Append(kv, more, 1000), 70u);
  EXPECT_EQ(ExpectedWrites(5003, 6003), 70u);
}

TEST(LogTiles, RecordsWrittenPerAppend) {
  std::mt19937_64 rng(7);
  MemoryKv kv;
  LogTree tree(kv, 0);
  while (tree.size() < 20000) {
    const uint64_t n0 = tree.size(), count = 1 + rng() % (rng() % 4 == 0 ? 2000 : 40);
    ASSERT_EQ(Append(kv, tree, count), ExpectedWrites(n0, n0 + count)) << n0 << "+" << count;
  }
  EXPECT_EQ(LogRecords(kv), ExpectedRecords(LeavesFrom(0, tree.size())));
}

TEST(LogTiles, AnyBatchingStoresTheSameRecords) {
  const uint64_t n = 3000;
  const Records want = ExpectedRecords(LeavesFrom(0, n));
  {
    MemoryKv kv;
    LogTree tree(kv, 0);
    Append(kv, tree, n);
    EXPECT_EQ(LogRecords(kv), want);
  }
  {
    MemoryKv kv;
    LogTree tree(kv, 0);
    while (tree.size() < n) Append(kv, tree, 1);
    EXPECT_EQ(LogRecords(kv), want);
  }
  std::mt19937_64 rng(11);
  for (int round = 0; round < 5; ++round) {
    MemoryKv kv;
    LogTree tree(kv, 0);
    while (tree.size() < n) Append(kv, tree, std::min<uint64_t>(n - tree.size(), 1 + rng() % 300));
    EXPECT_EQ(LogRecords(kv), want);
  }
  {
    // Blocks of several appends through an overlay, as the block pipeline makes them; each tile
    // rewritten within a block leaves its last version.
    MemoryKv kv;
    uint64_t size = 0;
    while (size < n) {
      KvBatch block;
      OverlayKv overlay(kv, block);
      LogTree in_block(overlay, size);
      for (int j = 0; j < 4 && in_block.size() < n; ++j) {
        const uint64_t count = std::min<uint64_t>(n - in_block.size(), 1 + rng() % 90);
        ASSERT_TRUE(
            in_block.Append(LeavesFrom(in_block.size(), in_block.size() + count), &block).ok());
        overlay.Refresh();
      }
      kv.Apply(block);
      size = in_block.size();
    }
    EXPECT_EQ(LogRecords(kv), want);
  }
}

// --- Damaged tiles: each case builds a log of 300 leaves and rewrites one tile. ---
// Tiles of 300 leaves: level 0 (0..17 full, 18 with 12), level 1 (0 full, 1 with 2), level 2 (0
// with 1).

class DamagedTile : public ::testing::Test {
 protected:
  static constexpr uint64_t kSize = 300;
  DamagedTile() : leaves_(LeavesFrom(0, kSize)) {
    LogTree tree(kv_, 0);
    Append(kv_, tree, kSize);
  }
  void Put(int k, uint64_t t, const Bytes& value) {
    KvBatch b;
    b.Put(Column::kLogNodes, LogTileKey(static_cast<uint8_t>(k), t), value);
    kv_.Apply(b);
  }
  void Delete(int k, uint64_t t) {
    KvBatch b;
    b.Delete(Column::kLogNodes, LogTileKey(static_cast<uint8_t>(k), t));
    kv_.Apply(b);
  }
  Bytes Get(int k, uint64_t t) {
    return kv_.Get(Column::kLogNodes, LogTileKey(static_cast<uint8_t>(k), t)).value().value();
  }
  // Every call on every argument either succeeds or is Corruption (never another error, never a
  // crash); returns how many were Corruption.
  int Sweep() {
    LogTree tree(kv_, kSize);
    int corrupt = 0;
    auto count = [&](const Status& st) {
      EXPECT_TRUE(st.ok() || st.code() == StatusCode::kCorruption) << st.ToString();
      corrupt += st.code() == StatusCode::kCorruption;
    };
    for (uint64_t s = 1; s <= kSize; s += 1 + s / 8) {
      count(tree.Root(s).status());
      for (uint64_t i = 0; i < s; i += 1 + i / 4) count(tree.InclusionProof(i, s).status());
      for (uint64_t s1 = 1; s1 <= s; s1 += 1 + s1 / 4) count(tree.ConsistencyProof(s1, s).status());
    }
    for (uint64_t i = 0; i < kSize; ++i) count(tree.LeafHashAt(i).status());
    KvBatch batch;
    LogTree appender(kv_, kSize);
    count(appender.Append({LeafOf(kSize)}, &batch));
    return corrupt;
  }
  static void ExpectCorruption(const Status& st, const std::string& fragment) {
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find(fragment), std::string::npos) << st.ToString();
  }

  MemoryKv kv_;
  std::vector<Hash32> leaves_;
};

TEST_F(DamagedTile, LengthNotAMultipleOf32) {
  Put(0, 3, Bytes(33, 7));
  LogTree tree(kv_, kSize);
  ExpectCorruption(tree.LeafHashAt(50).status(), "log tile at tile level 0 index 3");
  ExpectCorruption(tree.InclusionProof(50, kSize).status(), "has 33 bytes, not a multiple of 32");
  ExpectCorruption(LogHasLeaf(kv_, 48).status(), "tile level 0 index 3");
  // Root(300) folds tiles (2, 0), (1, 1) and (0, 18): the damage is not on its way.
  EXPECT_EQ(tree.Root().value(), merkle::RootFromLeafHashes(leaves_));
  EXPECT_GT(Sweep(), 0);
}

TEST_F(DamagedTile, NoHashes) {
  Put(1, 0, Bytes{});
  LogTree tree(kv_, kSize);
  // Leaf 0's path at levels 4..7 takes its siblings from tile (1, 0).
  ExpectCorruption(tree.InclusionProof(0, kSize).status(),
                   "log tile at tile level 1 index 0 (tree level 4) holds 0 hashes");
  EXPECT_GT(Sweep(), 0);
}

TEST_F(DamagedTile, SeventeenHashes) {
  Bytes v = Get(0, 0);
  v.insert(v.end(), v.begin(), v.begin() + 32);
  Put(0, 0, v);
  LogTree tree(kv_, kSize);
  ExpectCorruption(tree.LeafHashAt(0).status(), "holds 17 hashes, expected 1 to 16");
  ExpectCorruption(tree.Root(5).status(), "tile level 0 index 0");
  EXPECT_GT(Sweep(), 0);
}

TEST_F(DamagedTile, TooFewHashesForTheNodeAsked) {
  Bytes v = Get(0, 18);  // leaves 288..299
  v.resize(5 * 32);
  Put(0, 18, v);
  LogTree tree(kv_, kSize);
  ExpectCorruption(tree.Root().status(),
                   "log tile at tile level 0 index 18 (tree level 0) holds 5 hashes, not the node");
  ExpectCorruption(tree.LeafHashAt(299).status(), "not the node at level 0 index 299");
  EXPECT_EQ(tree.LeafHashAt(292).value(), leaves_[292]);
  EXPECT_EQ(tree.Root(293).value(), merkle::RootFromLeafHashes(leaves_, 0, 293));
  EXPECT_FALSE(LogHasLeaf(kv_, 295).value());
  // Appending rewrites that tile and must first read it whole: a failed append writes nothing.
  KvBatch batch;
  LogTree appender(kv_, kSize);
  ExpectCorruption(appender.Append({LeafOf(kSize), LeafOf(kSize + 1)}, &batch),
                   "tile level 0 index 18");
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(appender.size(), kSize);
  EXPECT_GT(Sweep(), 0);

  // A full tile cut short: folding node (7, 0) needs all 16 hashes of tile (1, 0).
  Bytes full = Get(1, 0);
  full.resize(15 * 32);
  Put(1, 0, full);
  ExpectCorruption(
      tree.InclusionProof(0, kSize).status(),
      "tile level 1 index 0 (tree level 4) holds 15 hashes, not the node at level 7 index 1");
}

TEST_F(DamagedTile, Missing) {
  Delete(2, 0);
  LogTree tree(kv_, kSize);
  ExpectCorruption(tree.Root().status(),
                   "log tile at tile level 2 index 0 (tree level 8) is missing");
  Delete(0, 18);
  KvBatch batch;
  LogTree appender(kv_, kSize);
  ExpectCorruption(appender.Append({LeafOf(kSize)}, &batch), "tile level 0 index 18");
  EXPECT_TRUE(batch.empty());
  EXPECT_GT(Sweep(), 0);
}

TEST_F(DamagedTile, FlippedHashGivesAnotherRoot) {
  Bytes v = Get(0, 5);  // leaves 80..95; flip a byte of leaf 83
  v[3 * 32 + 7] ^= 0x10;
  Put(0, 5, v);
  LogTree tree(kv_, kSize);
  const Hash32 good_root = merkle::RootFromLeafHashes(leaves_);
  // A root folded from that tile differs; one folded from stored nodes above it does not.
  EXPECT_NE(tree.Root(84).value(), merkle::RootFromLeafHashes(leaves_, 0, 84));
  EXPECT_EQ(tree.Root().value(), good_root);
  // A proof with the flipped hash as a sibling does not verify against the true root.
  auto proof = tree.InclusionProof(82, kSize);
  ASSERT_TRUE(proof.ok());
  EXPECT_FALSE(merkle::VerifyInclusion(82, kSize, leaves_[82], *proof, good_root).ok());
  EXPECT_NE(tree.LeafHashAt(83).value(), leaves_[83]);
  EXPECT_EQ(Sweep(), 0);  // well-formed, so nothing is Corruption
}

// Sizes around tile boundaries, each built in random batches: roots of every size up to it and
// every inclusion and consistency proof (for the larger, a sample with the boundaries) equal the
// reference.
TEST(LogTiles, SizesAroundTileBoundaries) {
  const std::vector<uint64_t> boundaries = {1,   2,   15,  16,   17,   31,   32,  255,
                                            256, 257, 511, 4095, 4096, 4097, 4111};
  std::mt19937_64 rng(3);
  for (uint64_t n : {15, 16, 17, 255, 256, 257, 4095, 4096, 4097}) {
    SCOPED_TRACE(n);
    MemoryKv kv;
    LogTree tree(kv, 0);
    while (tree.size() < n) Append(kv, tree, std::min<uint64_t>(n - tree.size(), 1 + rng() % 700));
    const std::vector<Hash32> leaves = LeavesFrom(0, n);
    EXPECT_EQ(LogRecords(kv), ExpectedRecords(leaves));
    ASSERT_EQ(tree.Root().value(), merkle::RootFromLeafHashes(leaves));
    std::vector<uint64_t> sizes, indexes;
    const bool small = n <= 257;
    for (uint64_t s = 1; s <= n; ++s) {
      if (small || s % 397 == 0 || s == n ||
          std::find(boundaries.begin(), boundaries.end(), s) != boundaries.end()) {
        sizes.push_back(s);
      }
    }
    for (uint64_t s : sizes) {
      ASSERT_EQ(tree.Root(s).value(), merkle::RootFromLeafHashes(leaves, 0, s)) << s;
    }
    // Proofs in the tree of size n, and (for the larger) in trees of the boundary sizes.
    std::vector<uint64_t> tops = {n};
    if (!small) {
      for (uint64_t b : boundaries)
        if (b < n && b > 257) tops.push_back(b);
    }
    for (uint64_t top : tops) {
      for (uint64_t i = 0; i < top; ++i) {
        const bool boundary =
            std::find(boundaries.begin(), boundaries.end(), i) != boundaries.end() ||
            std::find(boundaries.begin(), boundaries.end(), i + 1) != boundaries.end();
        if (!small && !boundary && i % 211 != 0) continue;
        ASSERT_EQ(tree.InclusionProof(i, top).value(),
                  merkle::InclusionProof(leaves, i, top).value())
            << i << "/" << top;
      }
      for (uint64_t s1 : sizes) {
        if (s1 > top) break;
        ASSERT_EQ(tree.ConsistencyProof(s1, top).value(),
                  merkle::ConsistencyProof(leaves, s1, top).value())
            << s1 << "->" << top;
      }
    }
  }
}

}  // namespace
}  // namespace consent
