// Tests for ledger/block_pipeline.h and ledger/kv_state.h on a MemoryKv: scripted chains with 1
// and 4 validators checked block by block against the reference (MemoryState, ReferenceSmt, the
// in-memory Merkle log); BuildBlock's choice of candidates; KvStateView's answers and its error
// contract; and FinalizeBlock's commit checks. Bad blocks are in block_pipeline_bad_test.cc and
// random streams in block_pipeline_property_test.cc.
#include "ledger/block_pipeline.h"

#include <gtest/gtest.h>

#include "ledger/kv_state.h"
#include "ledger/log_tree.h"
#include "ledger/state_tree.h"
#include "tests/ledger/pipeline_test_util.h"

namespace consent {
namespace {

using namespace consent::testing;

// Every index record the pipeline writes agrees with the reference chain.
void ExpectIndexes(const MemoryKv& kv, const ReferenceChain& ref,
                   const std::vector<SignedTx>& committed) {
  ASSERT_EQ(committed.size(), ref.leaves.size());
  for (size_t i = 0; i < committed.size(); ++i) {
    const SignedTx& tx = committed[i];
    const Hash32 id = tx.Id();
    auto loc = kv.Get(Column::kTxIndex, id);
    ASSERT_TRUE(loc.ok() && loc->has_value());
    auto decoded = schema::DecodeTxLocation(**loc);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->log_index, i);
    auto sub = kv.Get(Column::kSubjectIndex, schema::SubjectIndexKey(SignerOf(tx.body), i));
    ASSERT_TRUE(sub.ok());
    if (KindOf(tx.body) == TxKind::kRegisterController) {
      EXPECT_FALSE(sub->has_value());
    } else {
      ASSERT_TRUE(sub->has_value());
      EXPECT_EQ(**sub, Bytes(id.begin(), id.end()));
    }
  }
  // One purposes and one controller_index record per consent entry, naming its state key.
  EXPECT_EQ(kv.Size(Column::kConsents), ref.state.consents().size());
  EXPECT_EQ(kv.Size(Column::kPurposes), ref.state.consents().size());
  EXPECT_EQ(kv.Size(Column::kControllerIndex), ref.state.consents().size());
  for (const auto& [key, value] : ref.state.consents()) {
    auto rec = kv.Get(Column::kConsents, key);
    ASSERT_TRUE(rec.ok() && rec->has_value());
    auto decoded = schema::DecodeConsentRecord(**rec);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->value, value);
    auto ci =
        kv.Get(Column::kControllerIndex,
               schema::ControllerIndexKey(decoded->controller, decoded->subject, decoded->purpose));
    ASSERT_TRUE(ci.ok() && ci->has_value());
    EXPECT_EQ(**ci, Bytes(key.begin(), key.end()));
  }
}

class PipelineChainTest : public ::testing::TestWithParam<size_t> {};

TEST_P(PipelineChainTest, EveryBlockMatchesTheReference) {
  Validators v = MakeValidators(GetParam());
  Actors a = MakeActors(3, 2);
  MemoryKv kv;
  ReferenceChain ref;
  std::vector<SignedTx> committed;
  Hash32 prev{};
  uint64_t height = 0;
  for (const ScriptedBlock& b : ScriptedChain(a)) {
    ++height;
    BuiltBlock built;
    KvBatch batch;
    ASSERT_NO_FATAL_FAILURE(MakeNextBlock(kv, v, b, kMaxBlockTxs, &built, &batch));
    std::vector<SignedTx> expected = ref.Apply(b.time_ms, b.candidates, kMaxBlockTxs);
    EXPECT_EQ(built.validated.block.txs, expected);
    EXPECT_EQ(expected.size(), b.candidates.size()) << "the script has only valid txs";
    EXPECT_TRUE(built.rejected.empty());
    kv.Apply(batch);
    committed.insert(committed.end(), expected.begin(), expected.end());

    ChainTip tip = TipFromStore(kv);
    ASSERT_TRUE(tip.head.has_value());
    const Header& h = *tip.head;
    EXPECT_EQ(h, built.validated.block.header);
    EXPECT_EQ(h.chain_id, v.genesis.chain_id);
    EXPECT_EQ(h.height, height);
    EXPECT_EQ(h.time_ms, b.time_ms);
    EXPECT_EQ(h.prev_block_hash, prev);
    EXPECT_EQ(h.validators_hash, v.genesis.ValidatorsHash());
    EXPECT_EQ(h.proposer, v.genesis.Proposer(height, b.round));
    EXPECT_EQ(h.log_size, ref.leaves.size());
    EXPECT_EQ(h.log_root, ref.LogRoot());
    EXPECT_EQ(h.state_root, ref.StateRoot());
    prev = h.Hash();

    // The stored trees, body and commit agree too.
    auto log_root = LogTree(kv, h.log_size).Root();
    ASSERT_TRUE(log_root.ok());
    EXPECT_EQ(*log_root, ref.LogRoot());
    auto state_root = StateTree(kv).Root();
    ASSERT_TRUE(state_root.ok());
    EXPECT_EQ(*state_root, ref.StateRoot());
    auto body = kv.Get(Column::kBlocks, schema::U64Key(height));
    ASSERT_TRUE(body.ok() && body->has_value());
    EXPECT_EQ(schema::DecodeBlockBody(**body).value(), expected);
    auto commit = kv.Get(Column::kCommits, schema::U64Key(height));
    ASSERT_TRUE(commit.ok() && commit->has_value());
    auto decoded_commit = schema::DecodeCommit(**commit);
    ASSERT_TRUE(decoded_commit.ok());
    EXPECT_TRUE(VerifyCommit(v.genesis, height, h.Hash(), *decoded_commit).ok());

    ExpectSameState(kv, ref.state, a, ref.seen);
    ASSERT_NO_FATAL_FAILURE(ExpectIndexes(kv, ref, committed));
  }
  EXPECT_EQ(kv.Size(Column::kDirectory), 2u);
}

INSTANTIATE_TEST_SUITE_P(Validators, PipelineChainTest, ::testing::Values(1, 4));

// A chain with block 1 of the script committed, for tests of what comes next.
class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = ScriptedChain(a_);
    BuiltBlock built;
    KvBatch batch;
    ASSERT_NO_FATAL_FAILURE(MakeNextBlock(kv_, v_, script_[0], kMaxBlockTxs, &built, &batch));
    kv_.Apply(batch);
    ref_.Apply(script_[0].time_ms, script_[0].candidates, kMaxBlockTxs);
    tip_ = TipFromStore(kv_);
  }

  Validators v_ = MakeValidators(4);
  Actors a_ = MakeActors(3, 2);
  std::vector<ScriptedBlock> script_;
  MemoryKv kv_;
  ReferenceChain ref_;
  ChainTip tip_;
};

TEST_F(PipelineTest, BuildDropsInvalidCandidatesWithTheirReason) {
  const auto& s = a_.subjects;
  const auto& c = a_.controllers;
  const uint64_t t = script_[0].time_ms + 1000;
  SignedTx revoke = Revoke(s[0], c[0], {"analytics"}, t - 5, 40);
  SignedTx fresh = Grant(s[1], c[1], {"profiling"}, t - 4, 41);
  SignedTx too_old = Grant(s[1], c[1], {"analytics"}, t - kMaxTxAgeMs - 1, 42);
  std::vector<SignedTx> candidates = {
      script_[0].candidates[2],                     // replay of a committed grant
      revoke,                                       // valid
      Grant(s[0], c[0], {"analytics"}, t - 6, 43),  // stale: older than the revoke above
      too_old,                                      // too old
      Grant(s[1], c[1], {"analytics"}, t + kMaxTxFutureMs + 1, 44),  // from the future
      fresh,                                                         // valid
      fresh,                                                // duplicate of an accepted candidate
      too_old,                                              // duplicate of a rejected candidate
      Register(c[0], "Acme", script_[0].time_ms - 20, 45),  // older than the registration
  };
  auto built = BuildBlock(kv_, v_.genesis, tip_, t, 0, candidates, kMaxBlockTxs);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->validated.block.txs, (std::vector<SignedTx>{revoke, fresh}));
  std::vector<std::pair<size_t, TxRejectReason>> want = {
      {0, TxRejectReason::kReplay},           {2, TxRejectReason::kStale},
      {3, TxRejectReason::kTooOld},           {4, TxRejectReason::kFromTheFuture},
      {6, TxRejectReason::kReplay},           {7, TxRejectReason::kReplay},
      {8, TxRejectReason::kStaleRegistration}};
  ASSERT_EQ(built->rejected.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(built->rejected[i].tx_id, candidates[want[i].first].Id()) << i;
    EXPECT_EQ(built->rejected[i].reason, want[i].second) << i;
    EXPECT_FALSE(built->rejected[i].message.empty());
  }
  EXPECT_NE(built->rejected[4].message.find("duplicate of candidate 5"), std::string::npos);
  EXPECT_NE(built->rejected[5].message.find("duplicate of candidate 3"), std::string::npos);

  // The built block is valid and agrees with the reference.
  auto validated = ValidateBlock(kv_, v_.genesis, tip_, built->validated.block, 0, true, nullptr);
  ASSERT_TRUE(validated.ok()) << validated.status().ToString();
  EXPECT_TRUE(SameOps(validated->writes, built->validated.writes));
  EXPECT_EQ(ref_.Apply(t, candidates, kMaxBlockTxs), built->validated.block.txs);
  EXPECT_EQ(built->validated.block.header.state_root, ref_.StateRoot());
  EXPECT_EQ(built->validated.block.header.log_root, ref_.LogRoot());
}

TEST_F(PipelineTest, BuildTakesAtMostMaxTxs) {
  const uint64_t t = script_[0].time_ms + 1000;
  std::vector<SignedTx> candidates;
  for (uint64_t i = 0; i < 5; ++i) {
    candidates.push_back(Grant(a_.subjects[2], a_.controllers[0], {"analytics"}, t - 10 + i, i));
  }
  auto built = BuildBlock(kv_, v_.genesis, tip_, t, 0, candidates, 3);
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->validated.block.txs,
            std::vector<SignedTx>(candidates.begin(), candidates.begin() + 3));
  EXPECT_TRUE(built->rejected.empty());  // the rest were never looked at
  EXPECT_EQ(built->validated.block.header.log_size, tip_.log_size + 3);

  auto none = BuildBlock(kv_, v_.genesis, tip_, t, 0, candidates, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->validated.block.txs.empty());
  EXPECT_EQ(none->validated.block.header.log_root, tip_.head->log_root);
  EXPECT_EQ(none->validated.block.header.state_root, tip_.head->state_root);
}

TEST_F(PipelineTest, BuildRefusesATimeThatDoesNotIncrease) {
  for (uint64_t t : {tip_.head->time_ms, tip_.head->time_ms - 1}) {
    auto built = BuildBlock(kv_, v_.genesis, tip_, t, 0, {}, kMaxBlockTxs);
    ASSERT_FALSE(built.ok());
    EXPECT_EQ(built.status().message().rfind("time_not_increasing: ", 0), 0u);
  }
  MemoryKv empty;
  auto first = BuildBlock(empty, v_.genesis, ChainTip{}, v_.genesis.genesis_time_ms, 0, {}, 1);
  EXPECT_FALSE(first.ok());
  auto next = BuildBlock(empty, v_.genesis, ChainTip{}, v_.genesis.genesis_time_ms + 1, 0, {}, 1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->validated.block.header.height, 1u);
  EXPECT_EQ(next->validated.block.header.prev_block_hash, Hash32{});
  EXPECT_EQ(next->validated.block.header.log_root, merkle::EmptyRoot());
  EXPECT_EQ(next->validated.block.header.state_root, Hash32{});
}

TEST_F(PipelineTest, FinalizeRejectsBadCommits) {
  const uint64_t t = script_[0].time_ms + 1000;
  auto built = BuildBlock(kv_, v_.genesis, tip_, t, 1, script_[1].candidates, kMaxBlockTxs);
  ASSERT_TRUE(built.ok());
  const ValidatedBlock& vb = built->validated;
  const uint64_t h = vb.block.header.height;
  const size_t quorum = v_.genesis.QuorumSize();
  ASSERT_EQ(quorum, 3u);

  std::vector<std::pair<std::string, Commit>> bad;
  bad.emplace_back("too few", SignCommit(v_, h, 1, vb.block_hash, quorum - 1));
  Commit flipped = SignCommit(v_, h, 1, vb.block_hash, quorum);
  flipped.signatures[1].signature[5] ^= 1;
  bad.emplace_back("bad signature", flipped);
  Hash32 other = vb.block_hash;
  other[0] ^= 1;
  bad.emplace_back("other block", SignCommit(v_, h, 1, other, quorum));
  bad.emplace_back("other height", SignCommit(v_, h + 1, 1, vb.block_hash, quorum));
  Commit other_round = SignCommit(v_, h, 1, vb.block_hash, quorum);
  other_round.round = 2;
  bad.emplace_back("other round", other_round);
  Commit duplicate = SignCommit(v_, h, 1, vb.block_hash, quorum - 1);
  duplicate.signatures.push_back(duplicate.signatures[0]);
  bad.emplace_back("duplicate signer", duplicate);
  Commit stranger = SignCommit(v_, h, 1, vb.block_hash, quorum - 1);
  stranger.signatures.push_back(
      SignPrecommit(KeyFor(0x7f), v_.genesis.chain_id, h, 1, vb.block_hash));
  bad.emplace_back("non-validator", stranger);

  for (const auto& [what, commit] : bad) {
    auto out = FinalizeBlock(v_.genesis, vb, commit);
    ASSERT_FALSE(out.ok()) << what;
    EXPECT_EQ(out.status().message().rfind("bad_commit: ", 0), 0u) << out.status().message();
  }
  auto good = FinalizeBlock(v_.genesis, vb, SignCommit(v_, h, 1, vb.block_hash, quorum));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->size(), vb.writes.size() + 2);
  const auto& head = good->ops().back();
  EXPECT_EQ(head.column, Column::kMeta);
  EXPECT_EQ(head.value, schema::U64Key(h));
}

TEST_F(PipelineTest, KvStateViewRecordsTheFirstErrorAndAnswersAbsentAfterIt) {
  const Hash32 committed_id = script_[0].candidates[2].Id();
  const auto& s = a_.subjects;
  const auto& c = a_.controllers;
  Hash32 key = StateKey(s[0].public_key(), c[0].public_key(), "analytics");
  {
    KvStateView view(kv_);
    EXPECT_TRUE(view.GetConsent(key).has_value());
    EXPECT_TRUE(view.TxCommitted(committed_id));
    EXPECT_TRUE(view.error().ok());
  }
  struct Case {
    std::string what;
    Column column;
    Bytes key;
    Bytes value;
  };
  Bytes good_record = kv_.Get(Column::kConsents, key).value().value();
  Hash32 other_key = StateKey(s[1].public_key(), c[0].public_key(), "marketing.sms");
  std::vector<Case> cases = {
      {"truncated consent", Column::kConsents, Bytes(key.begin(), key.end()),
       Bytes(good_record.begin(), good_record.end() - 1)},
      {"consent under another key", Column::kConsents, Bytes(key.begin(), key.end()),
       kv_.Get(Column::kConsents, other_key).value().value()},
      {"purposes entry naming another key", Column::kPurposes,
       schema::PurposeKey(s[0].public_key(), c[0].public_key(), "analytics"),
       Bytes(other_key.begin(), other_key.end())},
  };
  for (const Case& k : cases) {
    MemoryKv broken = kv_;
    KvBatch b;
    b.Put(k.column, k.key, k.value);
    broken.Apply(b);
    KvStateView view(broken);
    if (k.column == Column::kConsents) {
      EXPECT_FALSE(view.GetConsent(key).has_value()) << k.what;
    } else {
      EXPECT_TRUE(view.PurposesOf(s[0].public_key(), c[0].public_key()).empty()) << k.what;
    }
    EXPECT_EQ(view.error().code(), StatusCode::kCorruption) << k.what;
    std::string first = view.error().message();
    // After the error every answer is "absent", and the first error is kept.
    EXPECT_FALSE(view.TxCommitted(committed_id)) << k.what;
    EXPECT_FALSE(view.GetController(c[0].public_key()).has_value()) << k.what;
    EXPECT_FALSE(view.GetConsent(other_key).has_value()) << k.what;
    EXPECT_EQ(view.error().message(), first);
  }
}

TEST_F(PipelineTest, CorruptStoreFailsValidationAsStorage) {
  const uint64_t t = script_[0].time_ms + 1000;
  auto built = BuildBlock(kv_, v_.genesis, tip_, t, 1, script_[1].candidates, kMaxBlockTxs);
  ASSERT_TRUE(built.ok());
  ASSERT_EQ(built->validated.block.txs.size(), script_[1].candidates.size());
  MemoryKv broken = kv_;
  KvBatch b;
  b.Put(Column::kDirectory, a_.controllers[0].public_key(), Bytes{1, 2, 3});
  broken.Apply(b);
  BlockCheck check;
  auto out = ValidateBlock(broken, v_.genesis, tip_, built->validated.block, 1, true, &check);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kStorage);
  EXPECT_EQ(out.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(out.status().message().rfind("storage: ", 0), 0u) << out.status().message();
  auto rebuilt = BuildBlock(broken, v_.genesis, tip_, t, 1, script_[1].candidates, kMaxBlockTxs);
  ASSERT_FALSE(rebuilt.ok());
  EXPECT_EQ(rebuilt.status().code(), StatusCode::kCorruption);
}

TEST(BlockRejectReason, NamesAreDistinct) {
  std::set<std::string> names;
  for (int r = 0; r <= static_cast<int>(BlockRejectReason::kStorage); ++r) {
    names.insert(BlockRejectReasonName(static_cast<BlockRejectReason>(r)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(BlockRejectReason::kStorage) + 1);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace consent
