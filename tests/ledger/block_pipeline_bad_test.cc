// Bad blocks: a valid block 2 (4 validators, round 1) is altered one way at a time, in every
// header field and in its transactions, and ValidateBlock must refuse each alteration with the
// expected BlockRejectReason, a message starting with the reason's name, and a store that is
// byte-for-byte unchanged. The unaltered block must still validate and commit afterwards.
#include <gtest/gtest.h>

#include "ledger/block_pipeline.h"
#include "tests/ledger/pipeline_test_util.h"

namespace consent {
namespace {

using namespace consent::testing;

constexpr uint32_t kRound = 1;

class BadBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto script = ScriptedChain(a_);
    block1_ = script[0];
    BuiltBlock built;
    KvBatch batch;
    ASSERT_NO_FATAL_FAILURE(MakeNextBlock(kv_, v_, block1_, kMaxBlockTxs, &built, &batch));
    kv_.Apply(batch);
    tip_ = TipFromStore(kv_);

    const auto& s = a_.subjects;
    const auto& c = a_.controllers;
    t_ = block1_.time_ms + 1000;
    // grant_ then revoke_ of the same purpose: valid in this order only.
    grant_ = Grant(s[1], c[1], {"marketing.email"}, t_ - 20, 20);
    revoke_ = Revoke(s[1], c[1], {"marketing.email"}, t_ - 10, 21);
    other_ = Grant(s[2], c[0], {"profiling"}, t_ - 15, 22);  // independent of the others
    register_ = Register(c[1], "Globex Two", t_ - 5, 23);
    auto built2 = BuildBlock(kv_, v_.genesis, tip_, t_, kRound,
                             {grant_, revoke_, other_, register_}, kMaxBlockTxs);
    ASSERT_TRUE(built2.ok()) << built2.status().ToString();
    ASSERT_TRUE(built2->rejected.empty());
    valid_ = built2->validated.block;
    ASSERT_EQ(valid_.txs.size(), 4u);
    valid_writes_ = std::move(built2->validated.writes);
    before_ = DumpStore(kv_);
  }

  // ValidateBlock refuses `block` for `reason`; the message starts with the reason's name and
  // contains `fragment`; the store is unchanged.
  void ExpectRefused(const Block& block, BlockRejectReason reason, const std::string& fragment = "",
                     uint32_t round = kRound, bool verify_signatures = true) {
    BlockCheck check;
    auto out = ValidateBlock(kv_, v_.genesis, tip_, block, round, verify_signatures, &check);
    ASSERT_FALSE(out.ok()) << "accepted; expected " << BlockRejectReasonName(reason);
    EXPECT_EQ(check.reason, reason) << out.status().message();
    EXPECT_EQ(check.message, out.status().message());
    std::string prefix = std::string(BlockRejectReasonName(reason)) + ": ";
    EXPECT_EQ(out.status().message().rfind(prefix, 0), 0u) << out.status().message();
    EXPECT_NE(out.status().message().find(fragment), std::string::npos)
        << "'" << fragment << "' not in " << out.status().message();
    EXPECT_TRUE(DumpStore(kv_) == before_) << "the store changed";
  }

  Block WithHeader(const std::function<void(Header&)>& alter) const {
    Block b = valid_;
    alter(b.header);
    return b;
  }
  Block WithTxs(std::vector<SignedTx> txs) const {
    Block b = valid_;
    b.txs = std::move(txs);
    return b;
  }

  Validators v_ = MakeValidators(4);
  Actors a_ = MakeActors(3, 2);
  ScriptedBlock block1_;
  MemoryKv kv_;
  ChainTip tip_;
  uint64_t t_ = 0;
  SignedTx grant_, revoke_, other_, register_;
  Block valid_;
  KvBatch valid_writes_;
  StoreDump before_;
};

TEST_F(BadBlockTest, TheUnalteredBlockIsValidWithTheBuiltWrites) {
  BlockCheck check;
  auto out = ValidateBlock(kv_, v_.genesis, tip_, valid_, kRound, true, &check);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(check.ok());
  EXPECT_TRUE(SameOps(out->writes, valid_writes_));
  EXPECT_TRUE(DumpStore(kv_) == before_);
}

TEST_F(BadBlockTest, EveryHeaderFieldIsChecked) {
  ExpectRefused(WithHeader([](Header& h) { h.chain_id = "other-chain"; }),
                BlockRejectReason::kWrongChainId, "other-chain");
  ExpectRefused(WithHeader([](Header& h) { h.height += 1; }), BlockRejectReason::kHeightNotNext,
                "expected 2");
  ExpectRefused(WithHeader([](Header& h) { h.height -= 1; }), BlockRejectReason::kHeightNotNext);
  const uint64_t head_time = tip_.head->time_ms;
  ExpectRefused(WithHeader([&](Header& h) { h.time_ms = head_time; }),
                BlockRejectReason::kTimeNotIncreasing);
  ExpectRefused(WithHeader([&](Header& h) { h.time_ms = head_time - 1; }),
                BlockRejectReason::kTimeNotIncreasing);
  ExpectRefused(WithHeader([](Header& h) { h.prev_block_hash[31] ^= 1; }),
                BlockRejectReason::kPrevHashMismatch);
  ExpectRefused(WithHeader([](Header& h) { h.prev_block_hash = Hash32{}; }),
                BlockRejectReason::kPrevHashMismatch);
  ExpectRefused(WithHeader([](Header& h) { h.log_size += 1; }),
                BlockRejectReason::kLogSizeMismatch);
  ExpectRefused(WithHeader([](Header& h) { h.log_size -= 1; }),
                BlockRejectReason::kLogSizeMismatch);
  ExpectRefused(WithHeader([](Header& h) { h.log_root[0] ^= 0x80; }),
                BlockRejectReason::kLogRootMismatch);
  ExpectRefused(WithHeader([](Header& h) { h.state_root[7] ^= 1; }),
                BlockRejectReason::kStateRootMismatch);
  ExpectRefused(WithHeader([](Header& h) { h.validators_hash[0] ^= 1; }),
                BlockRejectReason::kWrongValidatorsHash);
  ExpectRefused(WithHeader([&](Header& h) { h.proposer = v_.keys[0].public_key(); }),
                BlockRejectReason::kWrongProposer);
  // The proposer of round 1 is not the proposer of round 0 or of any earlier round...
  ExpectRefused(valid_, BlockRejectReason::kWrongProposer, "round 0", 0);
  ASSERT_EQ(valid_.header.proposer, v_.genesis.Proposer(2, kRound));
  // ...but its block may be re-proposed and decided in a later round (Tendermint's valid value).
  for (uint32_t later : {2u, 3u, 4u, 5u, 100u}) {
    BlockCheck check;
    auto ok = ValidateBlock(kv_, v_.genesis, tip_, valid_, later, true, &check);
    EXPECT_TRUE(ok.ok()) << "round " << later << ": " << ok.status().ToString();
  }
  // A non-validator proposer is refused in every round.
  SigningKey outsider = SigningKey::FromSeed(Seed32{9});
  ExpectRefused(WithHeader([&](Header& h) { h.proposer = outsider.public_key(); }),
                BlockRejectReason::kWrongProposer, "or of an earlier round", 200);
}

TEST_F(BadBlockTest, FieldsAreCheckedInTheDocumentedOrder) {
  // Everything wrong at once reports the first check: the chain id; then the height; ...
  Block b = WithHeader([](Header& h) {
    h.chain_id = "x";
    h.height = 9;
    h.time_ms = 0;
    h.state_root[0] ^= 1;
  });
  ExpectRefused(b, BlockRejectReason::kWrongChainId);
  b.header.chain_id = valid_.header.chain_id;
  ExpectRefused(b, BlockRejectReason::kHeightNotNext);
  b.header.height = valid_.header.height;
  ExpectRefused(b, BlockRejectReason::kTimeNotIncreasing);
  b.header.time_ms = valid_.header.time_ms;
  ExpectRefused(b, BlockRejectReason::kStateRootMismatch);
  // A bad signature is found before a state rule, and a duplicate before a bad signature.
  SignedTx forged = grant_;
  forged.signature[0] ^= 1;
  ExpectRefused(WithTxs({forged, revoke_, revoke_, other_}), BlockRejectReason::kInvalidTx,
                "duplicate");
  ExpectRefused(WithTxs({revoke_, forged, other_, register_}), BlockRejectReason::kBadTxSignature,
                "tx 1");
}

TEST_F(BadBlockTest, ReorderedTransactions) {
  // The revoke before its grant makes the grant stale.
  ExpectRefused(WithTxs({revoke_, grant_, other_, register_}), BlockRejectReason::kInvalidTx,
                "tx 1: stale");
  // Independent transactions swapped: still valid, but the log (the order) differs.
  ExpectRefused(WithTxs({grant_, revoke_, register_, other_}), BlockRejectReason::kLogRootMismatch);
  ExpectRefused(WithTxs({other_, grant_, revoke_, register_}), BlockRejectReason::kLogRootMismatch);
}

TEST_F(BadBlockTest, DroppedDuplicatedOrReplacedTransactions) {
  const auto& s = a_.subjects;
  const auto& c = a_.controllers;
  ExpectRefused(WithTxs({grant_, revoke_, other_}), BlockRejectReason::kLogSizeMismatch);
  ExpectRefused(WithTxs({grant_, revoke_, register_}), BlockRejectReason::kLogSizeMismatch);
  ExpectRefused(WithTxs({}), BlockRejectReason::kLogSizeMismatch);
  ExpectRefused(WithTxs({grant_, revoke_, other_, register_, other_}),
                BlockRejectReason::kInvalidTx, "tx 4 (");
  ExpectRefused(WithTxs({grant_, grant_, revoke_, other_}), BlockRejectReason::kInvalidTx,
                "duplicates tx 0");
  // Replaced by a stale grant: older than the committed grant of block 1 for that purpose.
  SignedTx stale = Grant(s[0], c[0], {"analytics"}, block1_.time_ms - 9, 30);
  ExpectRefused(WithTxs({grant_, revoke_, stale, register_}), BlockRejectReason::kInvalidTx,
                "tx 2: stale");
  // Replaced by a replay of a transaction committed in block 1.
  ExpectRefused(WithTxs({grant_, revoke_, block1_.candidates[3], register_}),
                BlockRejectReason::kInvalidTx, "tx 2: replay");
  // Outside the time window of the block.
  SignedTx old = Grant(s[2], c[0], {"profiling"}, t_ - kMaxTxAgeMs - 1, 31);
  ExpectRefused(WithTxs({grant_, revoke_, old, register_}), BlockRejectReason::kInvalidTx,
                "tx 2: too_old");
  SignedTx future = Grant(s[2], c[0], {"profiling"}, t_ + kMaxTxFutureMs + 1, 32);
  ExpectRefused(WithTxs({grant_, revoke_, future, register_}), BlockRejectReason::kInvalidTx,
                "tx 2: from_the_future");
  // A stale re-registration.
  SignedTx stale_reg = Register(c[1], "Globex", block1_.time_ms - 9, 33);
  ExpectRefused(WithTxs({grant_, revoke_, other_, stale_reg}), BlockRejectReason::kInvalidTx,
                "tx 3: stale_registration");
  // Replaced by another valid transaction: the roots no longer match.
  SignedTx another = Grant(s[2], c[0], {"profiling"}, t_ - 14, 34);
  ExpectRefused(WithTxs({grant_, revoke_, another, register_}),
                BlockRejectReason::kLogRootMismatch);
}

TEST_F(BadBlockTest, BadSignaturesAndTooManyTxs) {
  SignedTx forged = other_;
  forged.signature[40] ^= 0x10;
  ExpectRefused(WithTxs({grant_, revoke_, forged, register_}), BlockRejectReason::kBadTxSignature,
                "tx 2");
  // Signed by the wrong key (the controller instead of the subject).
  SignedTx wrong_signer = other_;
  wrong_signer.signature =
      a_.controllers[0].Sign(SigningMessage(v_.genesis.chain_id, EncodeBody(other_.body)));
  ExpectRefused(WithTxs({grant_, revoke_, wrong_signer, register_}),
                BlockRejectReason::kBadTxSignature, "tx 2");
  // Without signature checks (a block from a trusted source) the changed tx id still shows.
  ExpectRefused(WithTxs({grant_, revoke_, forged, register_}), BlockRejectReason::kLogRootMismatch,
                "", kRound, /*verify_signatures=*/false);

  Block big = WithTxs(std::vector<SignedTx>(kMaxBlockTxs + 1, grant_));
  ExpectRefused(big, BlockRejectReason::kTooManyTxs, std::to_string(kMaxBlockTxs + 1));
}

TEST_F(BadBlockTest, AfterEveryRefusalTheValidBlockStillCommits) {
  ExpectRefused(WithTxs({revoke_, grant_, other_, register_}), BlockRejectReason::kInvalidTx);
  BlockCheck check;
  auto out = ValidateBlock(kv_, v_.genesis, tip_, valid_, kRound, true, &check);
  ASSERT_TRUE(out.ok());
  Hash32 hash = out->block_hash;
  auto batch = FinalizeBlock(v_.genesis, std::move(out).value(),
                             SignCommit(v_, 2, kRound, hash, v_.genesis.QuorumSize()));
  ASSERT_TRUE(batch.ok());
  kv_.Apply(*batch);
  EXPECT_EQ(TipFromStore(kv_).head->Hash(), hash);
  // And now its transactions are replays.
  ChainTip tip = TipFromStore(kv_);
  auto again = BuildBlock(kv_, v_.genesis, tip, t_ + 1000, 0, valid_.txs, kMaxBlockTxs);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->validated.block.txs.empty());
  ASSERT_EQ(again->rejected.size(), 4u);
  for (const auto& r : again->rejected) EXPECT_EQ(r.reason, TxRejectReason::kReplay);
}

}  // namespace
}  // namespace consent
