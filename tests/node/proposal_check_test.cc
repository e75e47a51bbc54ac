// CheckBodyMatchesHeader (node/proposal_check.h): a block's body is the one its header commits
// to; a copy of a signed header with its transactions stripped, swapped or reordered is told
// apart before the block is judged.
#include "node/proposal_check.h"

#include <gtest/gtest.h>

#include "ledger/block_pipeline.h"
#include "ledger/kv.h"
#include "node_test_util.h"

namespace consent {
namespace {

class ProposalCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    genesis_.chain_id = "proposal-check-test";
    genesis_.genesis_time_ms = 1;
    genesis_.validators.push_back({"v0", testing::KeyFromLabel("v0").public_key()});
    brand_ = testing::KeyFromLabel("brand").public_key();
    for (int i = 0; i < 3; ++i) {
      txs_.push_back(testing::SignedGrant(genesis_.chain_id,
                                          testing::KeyFromLabel("c" + std::to_string(i)), brand_,
                                          {"email"}, 1000));
    }
    auto built = BuildBlock(kv_, genesis_, ChainTip{}, 2000, 0, txs_, 10);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    block_ = built->validated.block;
    ASSERT_EQ(block_.txs.size(), 3u);
  }
  Genesis genesis_;
  PublicKey brand_{};
  MemoryKv kv_;
  std::vector<SignedTx> txs_;
  Block block_;
};

TEST_F(ProposalCheckTest, TheBuiltBodyMatches) {
  EXPECT_TRUE(CheckBodyMatchesHeader(kv_, ChainTip{}, block_).ok());
}

TEST_F(ProposalCheckTest, StrippedSwappedOrReorderedBodiesDoNot) {
  Block stripped = block_;
  stripped.txs.clear();
  Status st = CheckBodyMatchesHeader(kv_, ChainTip{}, stripped);
  EXPECT_EQ(st.code(), StatusCode::kRejected) << st.ToString();

  Block swapped = block_;
  swapped.txs[1] = testing::SignedGrant(genesis_.chain_id, testing::KeyFromLabel("other"), brand_,
                                        {"email"}, 1000);
  EXPECT_EQ(CheckBodyMatchesHeader(kv_, ChainTip{}, swapped).code(), StatusCode::kRejected);

  Block reordered = block_;
  std::swap(reordered.txs[0], reordered.txs[2]);
  EXPECT_EQ(CheckBodyMatchesHeader(kv_, ChainTip{}, reordered).code(), StatusCode::kRejected);

  Block resigned = block_;
  resigned.txs[0].signature[3] ^= 1;  // a tx id covers the signature too
  EXPECT_EQ(CheckBodyMatchesHeader(kv_, ChainTip{}, resigned).code(), StatusCode::kRejected);
}

TEST_F(ProposalCheckTest, ALogThatWouldShrinkDoesNotMatch) {
  ChainTip tip;
  tip.log_size = 10;  // the header says 3
  EXPECT_EQ(CheckBodyMatchesHeader(kv_, tip, block_).code(), StatusCode::kRejected);
}

}  // namespace
}  // namespace consent
