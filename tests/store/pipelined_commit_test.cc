// Pipelined commits (ChainStore::BeginCommit) on a real RocksDB: block h+1 is built on
// build_view() while the store's writer thread writes block h. The blocks depend on each other
// (each one revokes a grant of the block before it, still in flight when it is built), and the
// result must be the store that one-at-a-time commits write, record for record, with the same
// headers as the in-memory reference chain. Then the contract around the block in flight: what
// tip() and build_tip() show, when on_done runs, a block at the wrong height, a write that fails
// (a read-only store), and a store destroyed with a block in flight.
// These tests also run under ThreadSanitizer (scripts/test.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "ledger/queries.h"
#include "ledger/store/chain_store.h"
#include "store_test_util.h"

namespace consent {
namespace {

using testing::kT0;
using testing::TempDir;

constexpr const char* kChain = "pipeline-test";

class PipelinedCommitTest : public ::testing::Test {
 protected:
  PipelinedCommitTest() : ref_(ChainBuilder::ForTesting(kChain, 4, kT0 - 1000)) {}

  std::unique_ptr<ChainStore> Open(const std::string& name, bool read_only = false) {
    return testing::OpenStore(dir_.Sub(name), ref_.genesis(), read_only);
  }

  // Block k (1-based): grants by subjects 10k..10k+4, and a revoke of one purpose of each grant
  // of block k-1, so that building block k reads what block k-1 wrote.
  std::vector<SignedTx> BlockTxs(int k) {
    const uint64_t t = Time(k);
    std::vector<SignedTx> txs;
    if (k == 1) txs.push_back(testing::Register(kChain, brand_, "Brand", t - 10));
    for (int i = 0; i < 5; ++i) {
      txs.push_back(
          testing::Grant(kChain, 10 * k + i, brand_, {"analytics", "marketing.email"}, t - 5));
      if (k > 1) {
        txs.push_back(testing::Revoke(kChain, 10 * (k - 1) + i, brand_, {"analytics"}, t - 4));
      }
    }
    return txs;
  }
  static uint64_t Time(int k) { return kT0 + static_cast<uint64_t>(k) * 1000; }

  Commit CommitFor(const ValidatedBlock& v) {
    Commit commit;
    for (const auto& key : ref_.keys()) {
      commit.signatures.push_back(
          SignPrecommit(key, kChain, v.block.header.height, 0, v.block_hash));
    }
    return commit;
  }

  // Builds block k on the store's build view (the durable chain plus the block in flight).
  ValidatedBlock BuildOnView(ChainStore& store, int k) {
    auto built = BuildBlock(store.build_view(), ref_.genesis(), store.build_tip(), Time(k), 0,
                            BlockTxs(k), kMaxBlockTxs);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    if (!built.ok()) return ValidatedBlock{};
    EXPECT_TRUE(built->rejected.empty()) << "block " << k << ": " << built->rejected[0].message;
    return std::move(built->validated);
  }

  static std::string Dump(const KvRead& kv) {
    std::string out;
    for (size_t c = 0; c < kColumnCount; ++c) {
      EXPECT_TRUE(kv.Scan(static_cast<Column>(c), Bytes{}, Bytes{}, [&](ByteView k, ByteView v) {
                      out += std::to_string(c) + ":" + ToHex(k) + "=" + ToHex(v) + "\n";
                      return true;
                    }).ok());
    }
    return out;
  }

  static uint64_t Height(const ChainTip& t) { return t.head ? t.head->height : 0; }

  TempDir dir_;
  ChainBuilder ref_;
  SigningKey brand_ = testing::KeyFromLabel("pipeline brand");
};

TEST_F(PipelinedCommitTest, WritesWhatOneAtATimeCommitsWrite) {
  constexpr int kBlocks = 30;
  auto sequential = Open("sequential");
  auto pipelined = Open("pipelined");
  ASSERT_TRUE(sequential && pipelined);
  std::atomic<int> done_calls{0};
  for (int k = 1; k <= kBlocks; ++k) {
    auto seq = testing::CommitTxs(*sequential, ref_.keys(), Time(k), BlockTxs(k));
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    auto r = ref_.AddBlock(Time(k), BlockTxs(k));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(*seq, r->header);

    ValidatedBlock v = BuildOnView(*pipelined, k);
    ASSERT_EQ(v.block.header, r->header) << "block " << k << " built on the view differs";
    Commit commit = CommitFor(v);
    Status st = pipelined->BeginCommit(std::move(v), commit, [&done_calls](const Status& s) {
      EXPECT_TRUE(s.ok()) << s.ToString();
      ++done_calls;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    // The next block is built on block k, durable or not.
    EXPECT_EQ(Height(pipelined->build_tip()), static_cast<uint64_t>(k));
    const uint64_t durable = pipelined->height();
    EXPECT_TRUE(durable == static_cast<uint64_t>(k) || durable + 1 == static_cast<uint64_t>(k))
        << "durable height " << durable << " with block " << k << " in flight";
  }
  ASSERT_TRUE(pipelined->FinishCommit().ok());
  EXPECT_EQ(done_calls.load(), kBlocks);
  EXPECT_EQ(pipelined->height(), static_cast<uint64_t>(kBlocks));
  EXPECT_EQ(pipelined->tip().head, sequential->tip().head);
  EXPECT_EQ(Dump(pipelined->kv()), Dump(sequential->kv()));
  // The revokes took effect: subject 10*(kBlocks-1) holds marketing.email but not analytics.
  auto p = ProveConsent(
      pipelined->kv(), ref_.genesis(),
      testing::KeyFromLabel("subject " + std::to_string(10 * (kBlocks - 1))).public_key(),
      brand_.public_key(), "analytics");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status, ProofStatus::kRevoked);
  Status verified = VerifyChainStore(pipelined->kv(), ref_.genesis(), dir_.Sub("scratch"), nullptr);
  EXPECT_TRUE(verified.ok()) << verified.ToString();
}

TEST_F(PipelinedCommitTest, OnDoneRunsOnceTheTipMovedAndBeforeFinishCommitReturns) {
  auto store = Open("db");
  ASSERT_TRUE(store);
  ChainStore* s = store.get();
  uint64_t height_seen = 0;  // written by the writer thread, read after FinishCommit
  bool called = false;
  ValidatedBlock v = BuildOnView(*store, 1);
  Commit commit = CommitFor(v);
  ASSERT_TRUE(store
                  ->BeginCommit(std::move(v), commit,
                                [&, s](const Status& st) {
                                  EXPECT_TRUE(st.ok());
                                  height_seen = s->height();
                                  called = true;
                                })
                  .ok());
  ASSERT_TRUE(store->FinishCommit().ok());
  EXPECT_TRUE(called);
  EXPECT_EQ(height_seen, 1u);
  EXPECT_EQ(Height(store->build_tip()), 1u);
  // With nothing in flight, FinishCommit is a no-op and build_view() is the store itself.
  EXPECT_TRUE(store->FinishCommit().ok());
  EXPECT_EQ(&store->build_view(), &store->kv());
}

TEST_F(PipelinedCommitTest, ABlockAtTheWrongHeightIsRefusedAndChangesNothing) {
  auto store = Open("db");
  ASSERT_TRUE(store);
  ValidatedBlock b1 = BuildOnView(*store, 1);
  ValidatedBlock again = b1;  // a second block 1, while the first is in flight
  Commit c1 = CommitFor(b1);
  ASSERT_TRUE(store->BeginCommit(std::move(b1), c1).ok());
  Status st = store->BeginCommit(std::move(again), c1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("does not follow the head (1)"), std::string::npos) << st.ToString();
  // Block 1 is still written; nothing else.
  ASSERT_TRUE(store->FinishCommit().ok());
  EXPECT_EQ(store->height(), 1u);
  // And CommitBlock after a pipelined commit checks against the same chain.
  ValidatedBlock b2 = BuildOnView(*store, 2);
  Commit c2 = CommitFor(b2);
  ASSERT_TRUE(store->BeginCommit(b2, c2).ok());
  Status dup = store->CommitBlock(std::move(b2), c2);
  EXPECT_FALSE(dup.ok()) << "block 2 is in flight: CommitBlock checks against the build tip";
  ASSERT_TRUE(store->FinishCommit().ok());
  EXPECT_EQ(store->height(), 2u);
}

TEST_F(PipelinedCommitTest, ABlockWithoutItsCommitIsRefusedBeforeAnythingIsHandedOver) {
  auto store = Open("db");
  ASSERT_TRUE(store);
  ValidatedBlock b1 = BuildOnView(*store, 1);
  Commit short_commit = CommitFor(b1);
  short_commit.signatures.resize(2);  // 2 of 4 validators: not a quorum
  const std::string before = Dump(store->kv());
  Status st = store->BeginCommit(std::move(b1), short_commit);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Height(store->build_tip()), 0u);
  EXPECT_TRUE(store->FinishCommit().ok()) << "nothing was in flight";
  EXPECT_EQ(Dump(store->kv()), before);
}

TEST_F(PipelinedCommitTest, AFailedWriteVoidsTheBlockBuiltOnIt) {
  {
    auto store = Open("db");
    ASSERT_TRUE(store);
    ValidatedBlock b1 = BuildOnView(*store, 1);
    Commit c1 = CommitFor(b1);
    ASSERT_TRUE(store->CommitBlock(std::move(b1), c1).ok());
  }
  // A read-only store refuses every write: RocksDB's own error, through the writer thread.
  auto store = Open("db", /*read_only=*/true);
  ASSERT_TRUE(store);
  const std::string before = Dump(store->kv());
  ValidatedBlock b2 = BuildOnView(*store, 2);
  Commit c2 = CommitFor(b2);
  Status seen_by_writer;
  ASSERT_TRUE(
      store->BeginCommit(std::move(b2), c2, [&](const Status& s) { seen_by_writer = s; }).ok());
  // Block 3 is built on block 2, which will never be durable.
  ValidatedBlock b3 = BuildOnView(*store, 3);
  ASSERT_EQ(b3.block.header.height, 3u);
  Commit c3 = CommitFor(b3);
  Status st = store->BeginCommit(std::move(b3), c3);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("block 3 not written: the write of the block before it failed"),
            std::string::npos)
      << st.ToString();
  EXPECT_FALSE(seen_by_writer.ok());
  // Nothing moved: the durable tip and the build tip are block 1, the records are unchanged.
  EXPECT_EQ(store->height(), 1u);
  EXPECT_EQ(Height(store->build_tip()), 1u);
  EXPECT_EQ(&store->build_view(), &store->kv());
  EXPECT_EQ(Dump(store->kv()), before);
}

TEST_F(PipelinedCommitTest, AStoreClosedWithABlockInFlightWritesItFirst) {
  {
    auto store = Open("db");
    ASSERT_TRUE(store);
    for (int k = 1; k <= 3; ++k) {
      ValidatedBlock v = BuildOnView(*store, k);
      Commit c = CommitFor(v);
      ASSERT_TRUE(store->BeginCommit(std::move(v), c).ok());
    }
  }  // destroyed with block 3 in flight
  auto store = Open("db");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->height(), 3u);
}

}  // namespace
}  // namespace consent
