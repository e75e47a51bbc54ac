// Tests for ledger/block_pipeline.h and ledger/kv_state.h on a MemoryKv: scripted chains with 1
// and 4 validators checked block by block against the reference (MemoryState, ReferenceSmt, the
// in-memory Merkle log); BuildBlock's choice of candidates; KvStateView's answers and its error
// contract; and FinalizeBlock's commit checks. Bad blocks are in block_pipeline_bad_test.cc and
// random streams in block_pipeline_property_test.cc.
#include "ledger/block_pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "crypto/hex.h"
#include "ledger/kv_state.h"
#include "ledger/log_tree.h"
#include "ledger/queries.h"
#include "ledger/state_tree.h"
#include "tests/genesis_set.h"
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
  // One consents record per consent entry (ExpectSameState checks each against the reference).
  EXPECT_EQ(kv.Size(Column::kConsents), ref.state.consents().size());
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
    ASSERT_EQ(built.validated.tx_ids.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(built.validated.tx_ids[i], expected[i].Id()) << i;
    }
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

// The overload a mempool uses (its own tx ids, candidates moved in, a body size limit) builds
// exactly the block and the writes of the plain one, and stops where the body would overflow.
TEST_F(PipelineTest, BuildWithKnownIdsMatchesAndStopsAtTheBodyLimit) {
  const uint64_t t = script_[0].time_ms + 1000;
  std::vector<SignedTx> candidates;
  for (uint64_t i = 0; i < 6; ++i) {
    candidates.push_back(
        Grant(a_.subjects[i % 3], a_.controllers[i % 2], {"research"}, t - 10 + i, 100 + i));
  }
  candidates.push_back(script_[0].candidates[0]);  // a replay, rejected with its id
  std::vector<Hash32> ids;
  size_t body = 4;
  std::vector<size_t> body_after;  // body size once candidate i is in
  for (const SignedTx& tx : candidates) {
    ids.push_back(tx.Id());
    body += 4 + tx.Encode().size();
    body_after.push_back(body);
  }
  auto plain = BuildBlock(kv_, v_.genesis, tip_, t, 0, candidates, kMaxBlockTxs);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  auto with_ids = BuildBlock(kv_, v_.genesis, tip_, t, 0, Identify(candidates), kMaxBlockTxs,
                             std::numeric_limits<size_t>::max());
  ASSERT_TRUE(with_ids.ok()) << with_ids.status().ToString();
  EXPECT_EQ(with_ids->validated.block, plain->validated.block);
  EXPECT_EQ(with_ids->validated.tx_ids, plain->validated.tx_ids);
  EXPECT_TRUE(SameOps(with_ids->validated.writes, plain->validated.writes));
  ASSERT_EQ(with_ids->rejected.size(), 1u);
  EXPECT_EQ(with_ids->rejected[0].tx_id, ids[6]);
  EXPECT_EQ(with_ids->rejected[0].reason, TxRejectReason::kReplay);
  // The stored body: a big-endian u32 count, then per tx a u32 length and its encoding, and it
  // decodes to the block's transactions.
  EXPECT_EQ(schema::EncodeBlockBodyFromEncodings({}), (Bytes{0, 0, 0, 0}));
  std::vector<Bytes> encodings;
  Bytes expected_body = {0, 0, 0, static_cast<uint8_t>(plain->validated.block.txs.size())};
  for (const SignedTx& tx : plain->validated.block.txs) {
    encodings.push_back(tx.Encode());
    const uint32_t n = static_cast<uint32_t>(encodings.back().size());
    for (int shift : {24, 16, 8, 0}) expected_body.push_back(static_cast<uint8_t>(n >> shift));
    Append(expected_body, encodings.back());
  }
  const Bytes stored_body = schema::EncodeBlockBodyFromEncodings(encodings);
  EXPECT_EQ(stored_body, expected_body);
  EXPECT_EQ(schema::DecodeBlockBody(stored_body).value(), plain->validated.block.txs);
  auto stored =
      std::find_if(plain->validated.writes.ops().begin(), plain->validated.writes.ops().end(),
                   [](const KvBatch::Op& op) { return op.column == Column::kBlocks; });
  ASSERT_NE(stored, plain->validated.writes.ops().end());
  EXPECT_EQ(*stored->value, stored_body);

  // A limit that the fourth candidate would overflow: three txs, and the rest never looked at.
  for (size_t limit : {body_after[3] - 1, body_after[2]}) {
    auto cut = BuildBlock(kv_, v_.genesis, tip_, t, 0, Identify(candidates), kMaxBlockTxs, limit);
    ASSERT_TRUE(cut.ok()) << cut.status().ToString();
    EXPECT_EQ(cut->validated.block.txs,
              std::vector<SignedTx>(candidates.begin(), candidates.begin() + 3))
        << limit;
    EXPECT_TRUE(cut->rejected.empty()) << limit;
    auto stored = cut->validated.writes.ops();
    auto body_op = std::find_if(stored.begin(), stored.end(),
                                [](const KvBatch::Op& op) { return op.column == Column::kBlocks; });
    ASSERT_NE(body_op, stored.end());
    EXPECT_LE(body_op->value->size(), limit);
  }
  // Nothing fits: an empty block.
  auto empty = BuildBlock(kv_, v_.genesis, tip_, t, 0, Identify(candidates), kMaxBlockTxs, 4);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->validated.block.txs.empty());

  // Each candidate carries the id computed from it (IdentifiedTx): no pairing to get wrong.
  const std::vector<IdentifiedTx> identified = Identify(candidates);
  for (size_t i = 0; i < candidates.size(); ++i) EXPECT_EQ(identified[i].id(), ids[i]);
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
  const PublicKey s0 = a_.subjects[0].public_key();
  const PublicKey s1 = a_.subjects[1].public_key();
  const PublicKey c0 = a_.controllers[0].public_key();
  const Bytes key = schema::ConsentKey(c0, s0, "analytics");
  {
    KvStateView view(kv_);
    EXPECT_TRUE(view.GetConsent(s0, c0, "analytics").has_value());
    EXPECT_TRUE(view.TxCommitted(committed_id));
    EXPECT_TRUE(view.error().ok());
  }
  const Bytes good = kv_.Get(Column::kConsents, key).value().value();
  ASSERT_EQ(good.size(), kStateValueBytes);
  Bytes bad_status = good;
  bad_status[0] = 3;
  Bytes longer = good;
  longer.push_back(0);
  // What GetConsent(s0, c0, "analytics") reads, or what the PurposesOf(s0, c0) scan meets.
  struct Case {
    std::string what;
    Bytes key;
    Bytes value;
    bool found_by_get;
  };
  std::vector<Case> cases = {
      {"truncated value", key, Bytes(good.begin(), good.end() - 1), true},
      {"longer value", key, longer, true},
      {"bad status", key, bad_status, true},
      {"empty value", key, Bytes{}, true},
      {"bad value seen by the scan", schema::ConsentKey(c0, s0, "zzz"),
       Bytes(good.begin(), good.end() - 1), false},
      {"key without a purpose", schema::ConsentPrefix(c0, s0), good, false},
      {"purpose over 64 bytes", schema::ConsentKey(c0, s0, std::string(kMaxLabelBytes + 1, 'a')),
       good, false},
  };
  for (const Case& k : cases) {
    MemoryKv broken = kv_;
    KvBatch b;
    b.Put(Column::kConsents, k.key, k.value);
    broken.Apply(b);
    KvStateView view(broken);
    if (k.found_by_get) {
      EXPECT_FALSE(view.GetConsent(s0, c0, "analytics").has_value()) << k.what;
    } else {
      EXPECT_TRUE(view.GetConsent(s0, c0, "analytics").has_value()) << k.what;
      EXPECT_TRUE(view.error().ok()) << k.what;
    }
    EXPECT_TRUE(view.PurposesOf(s0, c0).empty()) << k.what;
    EXPECT_EQ(view.error().code(), StatusCode::kCorruption) << k.what;
    std::string first = view.error().message();
    EXPECT_NE(first.find("consents record " + ToHex(k.key)), std::string::npos) << first;
    // After the error every answer is "absent", and the first error is kept.
    EXPECT_FALSE(view.TxCommitted(committed_id)) << k.what;
    EXPECT_FALSE(view.GetController(c0).has_value()) << k.what;
    EXPECT_FALSE(view.GetConsent(s1, c0, "marketing.sms").has_value()) << k.what;
    EXPECT_EQ(view.error().message(), first);
  }
}

// Keys of neighbouring pairs share long byte prefixes with the pair's (same controller, subject
// differing only in its last byte; same subject, controller differing in its last byte): the
// revoke-all of one pair must find its own purposes only.
TEST_F(PipelineTest, RevokeAllFindsExactlyThePairsPurposes) {
  const PublicKey s0 = a_.subjects[0].public_key();
  const PublicKey c0 = a_.controllers[0].public_key();
  PublicKey s0_up = s0, s0_down = s0, c0_up = c0;
  s0_up[31] ^= 0x01;
  s0_down[31] ^= 0x80;
  c0_up[31] ^= 0x01;
  // Planted entries of the neighbours (not in the state tree, which only the pair's keys touch).
  StateValue planted{ConsentStatus::kGranted, Hash32{}, kT0, 0, Hash32{}};
  KvBatch plant;
  for (const char* p : {"a", "analytics", "marketing.email", "zzz"}) {
    for (const auto& [subject, controller] :
         {std::pair{s0_up, c0}, std::pair{s0_down, c0}, std::pair{s0, c0_up}}) {
      plant.Put(Column::kConsents, schema::ConsentKey(controller, subject, p), planted.Encode());
    }
  }
  kv_.Apply(plant);
  const std::vector<std::string> own = {"analytics", "marketing.email"};
  KvStateView view(kv_);
  EXPECT_EQ(view.PurposesOf(s0, c0), own);
  EXPECT_EQ(view.PurposesOf(s0_up, c0),
            (std::vector<std::string>{"a", "analytics", "marketing.email", "zzz"}));
  EXPECT_TRUE(view.error().ok()) << view.error().ToString();

  const uint64_t t = script_[0].time_ms + 1000;
  SignedTx revoke_all = Revoke(a_.subjects[0], a_.controllers[0], {}, t - 5, 50);
  auto built = BuildBlock(kv_, v_.genesis, tip_, t, 0, {revoke_all}, kMaxBlockTxs);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  ASSERT_EQ(built->validated.block.txs.size(), 1u);
  std::vector<Bytes> written;
  for (const auto& op : built->validated.writes.ops()) {
    if (op.column != Column::kConsents) continue;
    written.push_back(op.key);
    auto value = schema::DecodeConsentValue(op.key, *op.value);
    ASSERT_TRUE(value.ok());
    EXPECT_EQ(value->status, ConsentStatus::kRevoked);
    EXPECT_EQ(value->tx_id, revoke_all.Id());
  }
  EXPECT_EQ(written, (std::vector<Bytes>{schema::ConsentKey(c0, s0, "analytics"),
                                         schema::ConsentKey(c0, s0, "marketing.email")}));
  // The same block as the reference, which has no neighbours at all.
  EXPECT_EQ(ref_.Apply(t, {revoke_all}, kMaxBlockTxs), built->validated.block.txs);
  EXPECT_EQ(built->validated.block.header.state_root, ref_.StateRoot());
}

// A controller's consents, paged by cursor across many subjects: every entry exactly once, in
// (subject, purpose) byte order, with the cursor the hex of the last entry's subject || purpose;
// entries of a controller differing only in its last byte never appear.
TEST(ControllerConsentsTest, PagesEveryEntryOnceInOrder) {
  Validators v = MakeValidators(1);
  PublicKey brand{}, neighbour{};
  brand.fill(0x5a);
  neighbour = brand;
  neighbour[31] ^= 0x01;
  const std::vector<std::string> purposes = {"a", "analytics", "b", "marketing.email", "z"};
  auto grant = [](const SigningKey& subject, const PublicKey& controller,
                  std::vector<std::string> ps, uint64_t issued, uint64_t nonce) {
    GrantTx g = SampleGrant(subject.public_key(), controller);
    g.purposes = std::move(ps);
    g.issued_at_ms = issued;
    g.expires_at_ms = 0;  // no expiry
    g.nonce = nonce;
    return MustSign(g, subject);
  };
  MemoryKv kv;
  ReferenceChain ref;
  std::vector<std::pair<PublicKey, std::string>> want;
  for (int block = 0; block < 2; ++block) {
    ScriptedBlock b;
    b.time_ms = kT0 + 1000 * (block + 1);
    for (int i = 0; i < 20; ++i) {
      const SigningKey subject = KeyFor(static_cast<uint8_t>(0x80 + 20 * block + i));
      // 1..5 purposes per subject, so that pages end in the middle of a subject's entries.
      std::vector<std::string> ps(purposes.begin(), purposes.begin() + 1 + (i % 5));
      for (const auto& p : ps) want.emplace_back(subject.public_key(), p);
      b.candidates.push_back(grant(subject, brand, ps, b.time_ms - 10, i));
      b.candidates.push_back(grant(subject, neighbour, {"neighbour"}, b.time_ms - 10, i));
    }
    BuiltBlock built;
    KvBatch batch;
    ASSERT_NO_FATAL_FAILURE(MakeNextBlock(kv, v, b, kMaxBlockTxs, &built, &batch));
    ASSERT_EQ(built.validated.block.txs.size(), b.candidates.size());
    ref.Apply(b.time_ms, b.candidates, kMaxBlockTxs);
    kv.Apply(batch);
  }
  std::sort(want.begin(), want.end());

  for (size_t limit : {1, 3, 7, 1000}) {
    std::vector<std::pair<PublicKey, std::string>> got;
    std::string cursor;
    for (size_t pages = 0; pages <= want.size(); ++pages) {
      auto page = ControllerConsents(kv, brand, cursor, limit);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ASSERT_LE(page->entries.size(), limit);
      for (const auto& e : page->entries) {
        got.emplace_back(e.subject, e.purpose);
        EXPECT_EQ(e.state_key, StateKey(e.subject, brand, e.purpose));
        EXPECT_EQ(std::optional<StateValue>(e.value),
                  ref.state.GetConsent(e.subject, brand, e.purpose));
      }
      if (page->next_cursor.empty()) break;
      ASSERT_EQ(page->entries.size(), limit);
      const auto& last = page->entries.back();
      Bytes suffix(last.subject.begin(), last.subject.end());
      Append(suffix, AsBytes(last.purpose));
      EXPECT_EQ(page->next_cursor, ToHex(suffix));
      cursor = page->next_cursor;
    }
    EXPECT_EQ(got, want) << "limit " << limit;
  }
  auto other = ControllerConsents(kv, neighbour, "", 1000);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->entries.size(), 40u);
}

TEST_F(PipelineTest, ReadsOfACorruptConsentsRecordAreCorruption) {
  const PublicKey s0 = a_.subjects[0].public_key();
  const PublicKey s1 = a_.subjects[1].public_key();
  const PublicKey c0 = a_.controllers[0].public_key();
  const Bytes key = schema::ConsentKey(c0, s0, "analytics");
  ASSERT_TRUE(ProveConsent(kv_, v_.genesis, s0, c0, "analytics", std::nullopt).ok());
  ASSERT_TRUE(ControllerConsents(kv_, c0, "", 100).ok());
  const Bytes good = kv_.Get(Column::kConsents, key).value().value();
  const Bytes other =
      kv_.Get(Column::kConsents, schema::ConsentKey(c0, s1, "marketing.sms")).value().value();
  struct Case {
    std::string what;
    std::optional<Bytes> value;  // nullopt = deleted
    bool listing_fails;          // ControllerConsents decodes values too; it has no tree to check
  };
  std::vector<Case> cases = {
      {"truncated", Bytes(good.begin(), good.end() - 1), true},
      {"another key's record", other, false},
      {"missing while the tree holds the key", std::nullopt, false},
  };
  for (const Case& k : cases) {
    MemoryKv broken = kv_;
    KvBatch b;
    if (k.value)
      b.Put(Column::kConsents, key, *k.value);
    else
      b.Delete(Column::kConsents, key);
    broken.Apply(b);
    auto proof = ProveConsent(broken, v_.genesis, s0, c0, "analytics", std::nullopt);
    ASSERT_FALSE(proof.ok()) << k.what;
    EXPECT_EQ(proof.status().code(), StatusCode::kCorruption) << k.what;
    EXPECT_NE(proof.status().message().find("consents record " + ToHex(key)), std::string::npos)
        << proof.status().message();
    auto listing = ControllerConsents(broken, c0, "", 100);
    EXPECT_EQ(listing.ok(), !k.listing_fails) << k.what;
    if (!listing.ok()) {
      EXPECT_EQ(listing.status().code(), StatusCode::kCorruption) << k.what;
    }
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
