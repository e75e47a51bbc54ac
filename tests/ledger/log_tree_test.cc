// Tests for ledger/log_tree: the stored global log against the in-memory RFC 9162 reference
// (ledger/merkle_log.h). Random appends in random batch sizes over a MemoryKv; after each batch,
// roots, inclusion and consistency proofs for sampled arguments must equal the reference byte for
// byte, and a counting KvRead checks that each costs O(log n) reads (about two tiles per 4
// levels). Also errors for bad arguments. The tile layout, record counts and damaged tiles are
// tested in log_tile_test.cc. Fixed seeds; single-threaded.
#include "ledger/log_tree.h"

#include <gtest/gtest.h>

#include <bit>
#include <random>

#include "crypto/sha256.h"
#include "ledger/merkle_log.h"

namespace consent {
namespace {

// Counts Get calls on the way to a real store.
class CountingKv : public KvRead {
 public:
  explicit CountingKv(const KvRead& base) : base_(base) {}
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override {
    ++gets_;
    return base_.Get(c, key);
  }
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override {
    ++scans_;
    return base_.Scan(c, prefix, start, fn);
  }
  uint64_t gets() const { return gets_; }
  uint64_t scans() const { return scans_; }
  void Reset() { gets_ = scans_ = 0; }

 private:
  const KvRead& base_;
  mutable uint64_t gets_ = 0;
  mutable uint64_t scans_ = 0;
};

Hash32 LeafOf(uint64_t i) {
  uint8_t b[8];
  for (int j = 0; j < 8; ++j) b[j] = uint8_t(i >> (56 - 8 * j));
  return merkle::LeafHash(ByteView(b, 8));
}

uint64_t CeilLog2(uint64_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }

// Tile levels a tree of n leaves spans: one per 4 levels of its height.
uint64_t TileLevels(uint64_t n) { return CeilLog2(n) / 4 + 1; }
// Reads per root: the complete subtrees it folds, at most one tile per tile level (tiles are
// cached within a call). Reads per proof: one tile per tile level on the path to the leaf (or to
// the first size) and one on the ragged right edge, so 2 per tile level.
uint64_t RootReadBound(uint64_t n) { return TileLevels(n); }
uint64_t ReadBound(uint64_t n) { return 2 * TileLevels(n); }

// Appends `count` leaves, committing the batch to `kv`.
void AppendLeaves(MemoryKv& kv, LogTree& tree, std::vector<Hash32>& leaves, uint64_t count) {
  std::vector<Hash32> add;
  for (uint64_t i = 0; i < count; ++i) add.push_back(LeafOf(leaves.size() + i));
  KvBatch batch;
  ASSERT_TRUE(tree.Append(add, &batch).ok());
  kv.Apply(batch);
  leaves.insert(leaves.end(), add.begin(), add.end());
}

TEST(LogTree, EmptyTree) {
  MemoryKv kv;
  LogTree tree(kv, 0);
  EXPECT_EQ(tree.Root().value(), merkle::EmptyRoot());
  EXPECT_EQ(tree.InclusionProof(0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.ConsistencyProof(0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.LeafHashAt(0).status().code(), StatusCode::kInvalidArgument);
  KvBatch batch;
  ASSERT_TRUE(tree.Append({}, &batch).ok());
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(tree.size(), 0u);
}

TEST(LogTree, RandomAppendsMatchReference) {
  std::mt19937_64 rng(20240611);
  MemoryKv kv;
  CountingKv counting(kv);
  LogTree writer(kv, 0);
  std::vector<Hash32> leaves;
  uint64_t max_reads = 0;
  double ratio = 0;  // max over proofs of reads / tile levels
  while (leaves.size() < 2000) {
    uint64_t batch = rng() % 4 == 0 ? 1 + rng() % 300 : 1 + rng() % 20;
    AppendLeaves(kv, writer, leaves, batch);
    const uint64_t n = leaves.size();
    LogTree reader(counting, n);
    ASSERT_EQ(reader.Root().value(), merkle::RootFromLeafHashes(leaves)) << n;
    for (int t = 0; t < 8; ++t) {
      uint64_t s = 1 + rng() % n;
      counting.Reset();
      ASSERT_EQ(reader.Root(s).value(), merkle::RootFromLeafHashes(leaves, 0, s)) << s;
      EXPECT_LE(counting.gets(), RootReadBound(s)) << s;

      uint64_t index = rng() % s;
      counting.Reset();
      auto got = reader.InclusionProof(index, s);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got.value(), merkle::InclusionProof(leaves, index, s).value()) << index << "/" << s;
      EXPECT_LE(counting.gets(), ReadBound(s)) << index << "/" << s;
      max_reads = std::max(max_reads, counting.gets());
      ratio = std::max(ratio, double(counting.gets()) / TileLevels(s));

      uint64_t s1 = 1 + rng() % s;
      counting.Reset();
      auto cons = reader.ConsistencyProof(s1, s);
      ASSERT_TRUE(cons.ok()) << cons.status().ToString();
      ASSERT_EQ(cons.value(), merkle::ConsistencyProof(leaves, s1, s).value()) << s1 << "->" << s;
      EXPECT_LE(counting.gets(), ReadBound(s)) << s1 << "->" << s;
      max_reads = std::max(max_reads, counting.gets());
      ratio = std::max(ratio, double(counting.gets()) / TileLevels(s));
    }
    EXPECT_EQ(counting.scans(), 0u);
  }
  std::printf("log tree: %zu leaves, max reads per proof %llu, max reads/tile levels %.2f\n",
              leaves.size(), static_cast<unsigned long long>(max_reads), ratio);
}

// Every index and every size pair of a small tree, including the boundaries.
TEST(LogTree, ExhaustiveSmall) {
  MemoryKv kv;
  LogTree tree(kv, 0);
  std::vector<Hash32> leaves;
  AppendLeaves(kv, tree, leaves, 33);
  for (uint64_t s = 1; s <= 33; ++s) {
    for (uint64_t i = 0; i < s; ++i) {
      ASSERT_EQ(tree.InclusionProof(i, s).value(), merkle::InclusionProof(leaves, i, s).value());
    }
    for (uint64_t s1 = 1; s1 <= s; ++s1) {
      ASSERT_EQ(tree.ConsistencyProof(s1, s).value(),
                merkle::ConsistencyProof(leaves, s1, s).value());
    }
  }
}

// Appends within one uncommitted block go through an OverlayKv over the block's batch.
TEST(LogTree, AppendThroughOverlay) {
  MemoryKv kv;
  std::vector<Hash32> leaves;
  {
    LogTree tree(kv, 0);
    AppendLeaves(kv, tree, leaves, 5);
  }
  KvBatch block;
  OverlayKv overlay(kv, block);
  LogTree tree(overlay, 5);
  for (uint64_t n : {1, 2, 7}) {
    std::vector<Hash32> add;
    for (uint64_t i = 0; i < n; ++i) add.push_back(LeafOf(leaves.size() + i));
    ASSERT_TRUE(tree.Append(add, &block).ok());
    overlay.Refresh();
    leaves.insert(leaves.end(), add.begin(), add.end());
    EXPECT_EQ(tree.Root().value(), merkle::RootFromLeafHashes(leaves));
  }
  kv.Apply(block);
  LogTree committed(kv, leaves.size());
  EXPECT_EQ(committed.Root().value(), merkle::RootFromLeafHashes(leaves));
}

TEST(LogTree, ArgumentErrors) {
  MemoryKv kv;
  LogTree tree(kv, 0);
  std::vector<Hash32> leaves;
  AppendLeaves(kv, tree, leaves, 10);
  auto code = [](const auto& r) { return r.status().code(); };
  EXPECT_EQ(code(tree.Root(11)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tree.InclusionProof(0, 11)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tree.InclusionProof(5, 5)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tree.InclusionProof(9, 10)), StatusCode::kOk);
  EXPECT_EQ(code(tree.ConsistencyProof(0, 5)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tree.ConsistencyProof(6, 5)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(tree.ConsistencyProof(5, 11)), StatusCode::kInvalidArgument);
  EXPECT_TRUE(tree.ConsistencyProof(7, 7).value().empty());
  EXPECT_EQ(code(tree.LeafHashAt(10)), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consent
