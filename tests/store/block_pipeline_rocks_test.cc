// The block pipeline on a real RocksDB (RocksKv in a temporary directory): the scripted chain is
// committed one synced batch per block, with the store closed and reopened in the middle and at
// the end. After reopening, the tip read from the store, the stored trees' roots and the
// KvStateView answers equal the reference, and every record is byte-identical to the same chain
// committed to a MemoryKv.
#include <gtest/gtest.h>

#include <filesystem>

#include "ledger/block_pipeline.h"
#include "ledger/log_tree.h"
#include "ledger/state_tree.h"
#include "ledger/store/rocks_kv.h"
#include "ledger/validator_history.h"
#include "rocks_fixture.h"
#include "tests/ledger/pipeline_test_util.h"
#include "tests/ledger/set_chain_util.h"

namespace consent {
namespace {

using namespace consent::testing;

class BlockPipelineRocksTest : public consent::testing::RocksFixture {
 protected:
  void ExpectMatchesReference(const KvRead& kv) {
    ChainTip tip = TipFromStore(kv);
    ASSERT_TRUE(tip.head.has_value());
    EXPECT_EQ(tip.log_size, ref_.leaves.size());
    EXPECT_EQ(tip.head->log_root, ref_.LogRoot());
    EXPECT_EQ(tip.head->state_root, ref_.StateRoot());
    auto log_root = LogTree(kv, tip.log_size).Root();
    ASSERT_TRUE(log_root.ok()) << log_root.status().ToString();
    EXPECT_EQ(*log_root, ref_.LogRoot());
    auto state_root = StateTree(kv).Root();
    ASSERT_TRUE(state_root.ok()) << state_root.status().ToString();
    EXPECT_EQ(*state_root, ref_.StateRoot());
    ExpectSameState(kv, ref_.state, a_, ref_.seen);
  }

  Validators v_ = MakeValidators(4);
  Actors a_ = MakeActors(3, 2);
  ReferenceChain ref_;
};

TEST_F(BlockPipelineRocksTest, ChainSurvivesReopenWithTheSameRootsAndRecords) {
  std::vector<ScriptedBlock> script = ScriptedChain(a_);
  MemoryKv mem;
  const size_t half = script.size() / 2;
  for (size_t part = 0; part < 2; ++part) {
    auto kv = Open();
    ASSERT_NE(kv, nullptr);
    if (part == 1) {
      ASSERT_NO_FATAL_FAILURE(ExpectMatchesReference(*kv));
    }
    for (size_t i = part * half; i < (part == 0 ? half : script.size()); ++i) {
      BuiltBlock built;
      KvBatch batch;
      ASSERT_NO_FATAL_FAILURE(MakeNextBlock(*kv, v_, script[i], kMaxBlockTxs, &built, &batch));
      ASSERT_TRUE(kv->Write(batch, /*sync=*/true).ok());
      ref_.Apply(script[i].time_ms, script[i].candidates, kMaxBlockTxs);
      // The same block built on a MemoryKv holding the same chain writes the same bytes.
      BuiltBlock built_mem;
      KvBatch batch_mem;
      ASSERT_NO_FATAL_FAILURE(
          MakeNextBlock(mem, v_, script[i], kMaxBlockTxs, &built_mem, &batch_mem));
      EXPECT_EQ(built_mem.validated.block, built.validated.block);
      mem.Apply(batch_mem);
      ASSERT_NO_FATAL_FAILURE(ExpectMatchesReference(*kv));
    }
  }
  auto kv = Open();
  ASSERT_NE(kv, nullptr);
  ASSERT_NO_FATAL_FAILURE(ExpectMatchesReference(*kv));
  EXPECT_EQ(TipFromStore(*kv).head->height, script.size());
  EXPECT_TRUE(DumpStore(*kv) == DumpStore(mem));
}

// Validator set changes (PROTOCOL.md section 10) on RocksDB: a chain that decides two changes
// (built on a MemoryKv by SetChain) is validated and committed block by block to a RocksKv,
// closed and reopened in the middle; afterwards the set of every height, the pending approvals,
// the state root and every record equal the MemoryKv's, and approvals removed at a decision are
// gone from the stored state tree too.
TEST_F(BlockPipelineRocksTest, ValidatorSetChangesSurviveReopen) {
  SetChain c(4);
  const ValidatorSet g = c.InOffice();
  const PublicKey n1 = c.NewKey(0xa1).public_key();
  const std::vector<PublicKey> s1 = {g.keys[1], g.keys[2], g.keys[3], n1};
  const std::vector<PublicKey> s2 = {g.keys[2], g.keys[3], n1};
  uint64_t t = c.NextTime();
  ASSERT_TRUE(c.Add({Approve(c.Key(g.keys[0]), s1, t - 5, 1)}));
  t = c.NextTime();
  ASSERT_TRUE(
      c.Add({Approve(c.Key(g.keys[3]), s2, t - 6, 2), Approve(c.Key(g.keys[1]), s1, t - 5, 3),
             Approve(c.Key(g.keys[2]), s1, t - 4, 4)}));
  ASSERT_TRUE(c.headers().back().IsChangeBlock());
  t = c.NextTime();
  ASSERT_TRUE(c.Add({Approve(c.Key(n1), s2, t - 5, 5)}));
  t = c.NextTime();
  ASSERT_TRUE(
      c.Add({Approve(c.Key(g.keys[2]), s2, t - 5, 6), Approve(c.Key(g.keys[3]), s2, t - 4, 7)}));
  ASSERT_TRUE(c.headers().back().IsChangeBlock());
  t = c.NextTime();
  ASSERT_TRUE(c.Add({Approve(c.Key(g.keys[2]), s1, t - 5, 8)}));  // pending at the end
  ASSERT_EQ(c.height(), 5u);

  const size_t half = 3;
  for (size_t part = 0; part < 2; ++part) {
    auto kv = Open();
    ASSERT_NE(kv, nullptr);
    for (size_t i = part * half; i < (part == 0 ? half : c.blocks().size()); ++i) {
      const ChainTip tip = TipFromStore(*kv);
      BlockCheck check;
      auto validated = ValidateBlock(*kv, c.genesis(), tip, c.blocks()[i], 0, true, &check);
      ASSERT_TRUE(validated.ok()) << validated.status().ToString();
      auto batch = FinalizeBlock(c.genesis(), std::move(validated).value(), c.commits()[i]);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      ASSERT_TRUE(kv->Write(*batch, /*sync=*/true).ok());
    }
  }
  auto kv = Open();
  ASSERT_NE(kv, nullptr);
  for (uint64_t h = 1; h <= c.height() + 1; ++h) {
    auto set = SetForHeight(*kv, c.genesis(), h);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    EXPECT_EQ(*set, c.SetAt(h)) << "height " << h;
  }
  EXPECT_EQ(c.SetAt(3).keys, Sorted(s1));
  EXPECT_EQ(c.SetAt(6).keys, Sorted(s2));
  auto approvals = ReadApprovals(*kv);
  ASSERT_TRUE(approvals.ok());
  ASSERT_EQ(approvals->size(), 1u);
  EXPECT_EQ((*approvals)[0].first, g.keys[2]);
  auto root = StateTree(*kv).Root();
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, c.headers().back().state_root);
  EXPECT_NE(*root, Hash32{});
  EXPECT_TRUE(DumpStore(*kv) == DumpStore(c.kv()));
}

}  // namespace
}  // namespace consent
