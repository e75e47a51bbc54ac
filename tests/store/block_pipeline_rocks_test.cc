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
#include "rocks_fixture.h"
#include "tests/ledger/pipeline_test_util.h"

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

}  // namespace
}  // namespace consent
