// Unit tests for ledger/consensus.h: the signing helpers, the double-sign guard, and each rule of
// Algorithm 1 (Buchman, Kwon, Milosevic 2018) driven by hand-made events on 1 and 4 validators.
#include "ledger/consensus.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "ledger/chain_builder.h"
#include "tests/fuzz/consensus_fuzz_util.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

constexpr char kChain[] = "cons-test";

Hash32 Filled(uint8_t b) {
  Hash32 h;
  h.fill(b);
  return h;
}
const Hash32 kNilHash{};

bool Contains(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

class ConsensusTest : public ::testing::Test {
 protected:
  explicit ConsensusTest(size_t n = 4) : cb_(ChainBuilder::ForTesting(kChain, n)) {}

  const Genesis& genesis() const { return cb_.genesis(); }
  const SigningKey& key(size_t i) const { return cb_.keys()[i]; }
  size_t n() const { return genesis().validators.size(); }

  Consensus Make(std::optional<size_t> self = 0, ConsensusParams params = {}) {
    std::optional<PublicKey> pk;
    if (self) pk = key(*self).public_key();
    return Consensus(genesis(), pk, params);
  }

  Block MakeBlock(uint64_t h, uint32_t r, uint64_t salt = 0) {
    Block b;
    b.header.chain_id = kChain;
    b.header.height = h;
    b.header.time_ms = 1000 + 100 * r + salt;
    b.header.validators_hash = genesis().ValidatorsHash();
    b.header.proposer = genesis().Proposer(h, r);
    return b;
  }
  size_t ProposerIndex(uint64_t h, uint32_t r) const { return (h + r) % n(); }
  SignedProposal Propose(uint64_t h, uint32_t r, uint32_t pol, Block b) {
    return SignProposal(key(ProposerIndex(h, r)), kChain, h, r, pol, std::move(b));
  }
  SignedVote Prevote(size_t i, uint64_t h, uint32_t r, const Hash32& hash) {
    return SignVote(key(i), kChain, VoteType::kPrevote, h, r, hash);
  }
  SignedVote Precommit(size_t i, uint64_t h, uint32_t r, const Hash32& hash) {
    return SignVote(key(i), kChain, VoteType::kPrecommit, h, r, hash);
  }
  static VoteRequest Req(VoteType t, uint64_t h, uint32_t r, const Hash32& hash) {
    return {t, h, r, hash};
  }
  // Starts height h on `c` (through OnTxsAvailable), returning that output.
  Output Start(Consensus& c, uint64_t h = 1) {
    EXPECT_TRUE(c.StartHeight(h, std::nullopt).empty());
    return c.OnTxsAvailable();
  }
  static bool HasTimeout(const Output& out, TimeoutKind k, uint32_t round) {
    for (const auto& t : out.timeouts) {
      if (t.kind == k && t.round == round) return true;
    }
    return false;
  }

  ChainBuilder cb_;
};

class ConsensusSingleTest : public ConsensusTest {
 protected:
  ConsensusSingleTest() : ConsensusTest(1) {}
};

// ------------------------------------------------------------------------------------------
// Messages, signatures and the guard

TEST_F(ConsensusTest, ProposalMessageLayout) {
  Bytes m = ProposalMessage("ab", 7, 3, kNoRound, Filled(0xaa));
  std::string tag = "consent-ledger/proposal/v1";
  ASSERT_EQ(m.size(), tag.size() + 4 + 2 + 8 + 4 + 4 + 32);
  EXPECT_EQ(std::string(m.begin(), m.begin() + tag.size()), tag);
  EXPECT_EQ(ToHex(ByteView(m.data() + tag.size(), 22)),
            "00000002"
            "6162"
            "0000000000000007"
            "00000003"
            "ffffffff");
  EXPECT_EQ(m.back(), 0xaa);
}

TEST_F(ConsensusTest, SignVoteVerifies) {
  SignedVote v = Prevote(2, 5, 1, Filled(3));
  EXPECT_TRUE(VerifyVote(genesis(), v).ok());
  EXPECT_EQ(v.validator, key(2).public_key());
  SignedVote c = Precommit(2, 5, 1, kNilHash);
  EXPECT_TRUE(VerifyVote(genesis(), c).ok());
  // The precommit signature is a commit signature.
  CommitSig cs = SignPrecommit(key(2), kChain, 5, 1, kNilHash);
  EXPECT_EQ(cs.signature, c.signature);
}

TEST_F(ConsensusTest, VerifyVoteRejects) {
  SignedVote v = Prevote(1, 5, 1, Filled(3));
  SignedVote bad = v;
  bad.signature[0] ^= 1;
  EXPECT_EQ(VerifyVote(genesis(), bad).code(), StatusCode::kInvalidSignature);
  bad = v;
  bad.round = 2;  // signed for round 1
  EXPECT_EQ(VerifyVote(genesis(), bad).code(), StatusCode::kInvalidSignature);
  bad = v;
  bad.type = VoteType::kPrecommit;
  EXPECT_EQ(VerifyVote(genesis(), bad).code(), StatusCode::kInvalidSignature);
  bad = v;
  bad.block_hash = Filled(4);
  EXPECT_EQ(VerifyVote(genesis(), bad).code(), StatusCode::kInvalidSignature);
  bad = v;
  bad.type = static_cast<VoteType>(7);
  EXPECT_EQ(VerifyVote(genesis(), bad).code(), StatusCode::kInvalidArgument);
  SigningKey outsider = SigningKey::FromSeed(Filled(0x77));
  SignedVote o = SignVote(outsider, kChain, VoteType::kPrevote, 5, 1, Filled(3));
  Status st = VerifyVote(genesis(), o);
  EXPECT_EQ(st.code(), StatusCode::kRejected);
  EXPECT_TRUE(Contains(st, "is not in the validator set of height 5")) << st.ToString();
  // Another chain's vote does not verify here.
  SignedVote other = SignVote(key(1), "other-chain", VoteType::kPrevote, 5, 1, Filled(3));
  EXPECT_EQ(VerifyVote(genesis(), other).code(), StatusCode::kInvalidSignature);
}

TEST_F(ConsensusTest, VerifyProposal) {
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  ASSERT_TRUE(VerifyProposal(genesis(), p).ok()) << VerifyProposal(genesis(), p).ToString();
  // A re-proposal keeps the block of an earlier round (header proposer of round 0 or 1).
  SignedProposal pol = Propose(1, 2, 1, MakeBlock(1, 0));
  EXPECT_TRUE(VerifyProposal(genesis(), pol).ok()) << VerifyProposal(genesis(), pol).ToString();
  EXPECT_TRUE(VerifyProposal(genesis(), Propose(1, 2, 1, MakeBlock(1, 1))).ok());
  // ... but not a block whose header names the proposer of a round after pol_round.
  Status later = VerifyProposal(genesis(), Propose(1, 3, 1, MakeBlock(1, 2)));
  EXPECT_EQ(later.code(), StatusCode::kRejected);
  EXPECT_TRUE(Contains(later, "up to pol_round 1")) << later.ToString();

  // Wrong proposer: validator 2 signs round 0 (the proposer is validator 1).
  Block b = MakeBlock(1, 0);
  b.header.proposer = key(2).public_key();
  SignedProposal wrong = SignProposal(key(2), kChain, 1, 0, kNoRound, b);
  Status st = VerifyProposal(genesis(), wrong);
  EXPECT_EQ(st.code(), StatusCode::kRejected);
  EXPECT_TRUE(Contains(st, "is not the proposer")) << st.ToString();

  // Header names another proposer than the signer.
  Block b2 = MakeBlock(1, 0);
  b2.header.proposer = key(3).public_key();
  st = VerifyProposal(genesis(), Propose(1, 0, kNoRound, b2));
  EXPECT_EQ(st.code(), StatusCode::kRejected);
  EXPECT_TRUE(Contains(st, "header proposer")) << st.ToString();

  // Wrong hash.
  SignedProposal h = p;
  h.block_hash = Filled(9);
  EXPECT_EQ(VerifyProposal(genesis(), h).code(), StatusCode::kInvalidArgument);
  // Block changed after signing: hash no longer matches.
  h = p;
  h.block.header.time_ms++;
  EXPECT_EQ(VerifyProposal(genesis(), h).code(), StatusCode::kInvalidArgument);
  // Height mismatch between the proposal and its block.
  SignedProposal hm = Propose(1, 0, kNoRound, MakeBlock(2, 3));
  EXPECT_TRUE(Contains(VerifyProposal(genesis(), hm), "block height"));
  // Bad signature.
  SignedProposal s = p;
  s.signature[5] ^= 0x10;
  EXPECT_EQ(VerifyProposal(genesis(), s).code(), StatusCode::kInvalidSignature);
  // pol_round not before round.
  SignedProposal pr = Propose(1, 1, 1, MakeBlock(1, 1));
  EXPECT_TRUE(Contains(VerifyProposal(genesis(), pr), "pol_round"));
  // Signature over another pol_round.
  SignedProposal ps = pol;
  ps.pol_round = 0;
  EXPECT_EQ(VerifyProposal(genesis(), ps).code(), StatusCode::kInvalidSignature);
  // Non-validator proposer.
  SigningKey outsider = SigningKey::FromSeed(Filled(0x77));
  Block ob = MakeBlock(1, 0);
  ob.header.proposer = outsider.public_key();
  EXPECT_EQ(VerifyProposal(genesis(), SignProposal(outsider, kChain, 1, 0, kNoRound, ob)).code(),
            StatusCode::kRejected);
}

TEST(ConsensusCheckSign, Table) {
  SignState last;
  last.height = 5;
  last.round = 2;
  last.step = 2;
  last.block_hash = Filled(1);
  struct Case {
    uint64_t h;
    uint32_t r;
    uint8_t step;
    Hash32 hash;
    bool ok;
  } cases[] = {
      {5, 2, 2, Filled(1), true},   // the same message again
      {5, 2, 2, Filled(2), false},  // a different prevote in the same round: double sign
      {5, 2, 2, kNilHash, false},  {5, 2, 3, Filled(2), true},  // later step
      {5, 2, 1, Filled(1), false},                              // earlier step
      {5, 3, 1, Filled(9), true},                               // later round
      {5, 1, 3, Filled(1), false},                              // earlier round
      {6, 0, 1, Filled(3), true},                               // later height
      {4, 9, 3, Filled(1), false},                              // earlier height
      {5, 2, 0, Filled(1), false},                              // step 0 is not a signature
      {5, 3, 4, Filled(1), false},                              // step 4 does not exist
  };
  for (const auto& c : cases) {
    Status st = CheckSign(last, c.h, c.r, c.step, c.hash);
    EXPECT_EQ(st.ok(), c.ok) << c.h << "/" << c.r << "/" << int(c.step) << ": " << st.ToString();
    if (!c.ok && c.step >= 1 && c.step <= 3) {
      EXPECT_EQ(st.code(), StatusCode::kRejected);
      EXPECT_TRUE(Contains(st, "already signed prevote at height 5, round 2")) << st.ToString();
    }
  }
  // A fresh state allows anything at height >= 1.
  EXPECT_TRUE(CheckSign(SignState{}, 1, 0, 1, Filled(1)).ok());
  EXPECT_TRUE(CheckSign(SignState{}, 1, 0, 2, kNilHash).ok());
}

// ------------------------------------------------------------------------------------------
// One validator

TEST_F(ConsensusSingleTest, DecidesAlone) {
  Consensus c = Make(0);
  EXPECT_TRUE(c.StartHeight(1, std::nullopt).empty());
  EXPECT_EQ(c.step(), Step::kWaiting);
  Output out = c.OnTxsAvailable();
  ASSERT_TRUE(out.proposal);
  EXPECT_FALSE(out.proposal->block);
  EXPECT_EQ(out.proposal->height, 1u);
  EXPECT_EQ(out.proposal->round, 0u);
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 0));
  EXPECT_EQ(c.step(), Step::kPropose);

  Block b = MakeBlock(1, 0);
  out = c.OnOwnBlock(1, 0, b);
  ASSERT_TRUE(out.proposal && out.proposal->block);
  EXPECT_EQ(*out.proposal->block, b);
  EXPECT_EQ(out.proposal->pol_round, kNoRound);
  // A second OnOwnBlock is not awaited any more.
  EXPECT_TRUE(c.OnOwnBlock(1, 0, b).empty());

  SignedProposal p = SignProposal(key(0), kChain, 1, 0, kNoRound, b);
  out = c.OnProposal(p, true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 0, p.block_hash));

  out = c.OnVote(Prevote(0, 1, 0, p.block_hash));
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, p.block_hash));
  EXPECT_EQ(c.locked_round(), 0u);
  EXPECT_EQ(c.locked_hash(), p.block_hash);

  out = c.OnVote(Precommit(0, 1, 0, p.block_hash));
  ASSERT_TRUE(out.decision);
  EXPECT_TRUE(c.decided());
  EXPECT_EQ(out.decision->height, 1u);
  EXPECT_EQ(out.decision->block, b);
  EXPECT_EQ(out.decision->block_hash, p.block_hash);
  EXPECT_TRUE(VerifyCommit(genesis(), 1, p.block_hash, out.decision->commit).ok());

  // Next height.
  EXPECT_TRUE(c.StartHeight(2, std::nullopt).empty());
  EXPECT_EQ(c.height(), 2u);
  EXPECT_FALSE(c.decided());
  EXPECT_EQ(c.locked_round(), kNoRound);
  // Old height's votes are ignored.
  EXPECT_TRUE(c.OnVote(Precommit(0, 1, 0, p.block_hash)).empty());
  EXPECT_EQ(c.step(), Step::kWaiting);
}

TEST_F(ConsensusSingleTest, TimeoutsLeadToNextRoundAndAnEmptyRoundRetries) {
  Consensus c = Make(0);
  Start(c);
  Output out = c.OnTimeout(TimeoutKind::kPropose, 1, 0);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 0, kNilHash));
  out = c.OnVote(Prevote(0, 1, 0, kNilHash));
  ASSERT_EQ(out.votes.size(), 1u);  // line 44: 2f+1 nil prevotes
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, kNilHash));
  out = c.OnVote(Precommit(0, 1, 0, kNilHash));
  EXPECT_FALSE(out.decision);
  ASSERT_TRUE(HasTimeout(out, TimeoutKind::kPrecommit, 0));
  out = c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  EXPECT_EQ(c.round(), 1u);
  ASSERT_TRUE(out.proposal);
  EXPECT_EQ(out.proposal->round, 1u);
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 1));
}

// ------------------------------------------------------------------------------------------
// Four validators; this machine is validator 0. Height 1: proposer of round r is (1 + r) mod 4.

TEST_F(ConsensusTest, WaitsUntilTransactionsOrAMessage) {
  Consensus c = Make(0);
  EXPECT_TRUE(c.StartHeight(1, std::nullopt).empty());
  EXPECT_EQ(c.step(), Step::kWaiting);
  EXPECT_TRUE(c.OnTimeout(TimeoutKind::kPropose, 1, 0).empty());
  // A vote of another height does not wake it.
  EXPECT_TRUE(c.OnVote(Prevote(1, 2, 0, kNilHash)).empty());
  EXPECT_EQ(c.step(), Step::kWaiting);
  // A vote of this height does.
  Output out = c.OnVote(Prevote(1, 1, 0, kNilHash));
  EXPECT_EQ(c.step(), Step::kPropose);
  EXPECT_FALSE(out.proposal);  // validator 1 proposes round 0
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 0));
  // OnTxsAvailable is a no-op once running.
  EXPECT_TRUE(c.OnTxsAvailable().empty());
}

TEST_F(ConsensusTest, WakesOnProposalAndPrevotesIt) {
  Consensus c = Make(0);
  c.StartHeight(1, std::nullopt);
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  Output out = c.OnProposal(p, true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 0, p.block_hash));
  EXPECT_EQ(c.step(), Step::kPrevote);
}

TEST_F(ConsensusTest, InvalidProposalGetsNilPrevote) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  Output out = c.OnProposal(p, false);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 0, kNilHash));
}

TEST_F(ConsensusTest, ProposalFromWrongProposerIgnored) {
  Consensus c = Make(0);
  Start(c);
  Block b = MakeBlock(1, 0);
  b.header.proposer = key(2).public_key();
  SignedProposal p = SignProposal(key(2), kChain, 1, 0, kNoRound, b);
  EXPECT_TRUE(c.OnProposal(p, true).empty());
  EXPECT_EQ(c.step(), Step::kPropose);
}

TEST_F(ConsensusTest, HappyPathDecidesWithCommitInValidatorOrder) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  c.OnProposal(p, true);
  const Hash32& v = p.block_hash;
  EXPECT_TRUE(c.OnVote(Prevote(0, 1, 0, v)).votes.empty());
  EXPECT_TRUE(c.OnVote(Prevote(3, 1, 0, v)).votes.empty());
  Output out = c.OnVote(Prevote(2, 1, 0, v));  // quorum 3
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, v));
  EXPECT_EQ(c.step(), Step::kPrecommit);
  EXPECT_EQ(c.locked_round(), 0u);
  EXPECT_FALSE(c.OnVote(Precommit(3, 1, 0, v)).decision);
  EXPECT_FALSE(c.OnVote(Precommit(1, 1, 0, kNilHash)).decision);
  EXPECT_FALSE(c.OnVote(Precommit(0, 1, 0, v)).decision);
  out = c.OnVote(Precommit(2, 1, 0, v));
  ASSERT_TRUE(out.decision);
  const Commit& commit = out.decision->commit;
  ASSERT_EQ(commit.signatures.size(), 3u);
  EXPECT_EQ(commit.signatures[0].validator, key(0).public_key());
  EXPECT_EQ(commit.signatures[1].validator, key(2).public_key());
  EXPECT_EQ(commit.signatures[2].validator, key(3).public_key());
  EXPECT_TRUE(VerifyCommit(genesis(), 1, v, commit).ok());
  // Only one decision per height.
  EXPECT_FALSE(c.OnVote(Precommit(1, 1, 0, v)).decision);
  EXPECT_TRUE(c.OnTimeout(TimeoutKind::kPrecommit, 1, 0).empty());
}

TEST_F(ConsensusTest, DuplicateVotesAreCountedOnce) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  c.OnProposal(p, true);
  c.OnVote(Prevote(0, 1, 0, p.block_hash));
  for (int i = 0; i < 3; ++i) {
    Output out = c.OnVote(Prevote(1, 1, 0, p.block_hash));
    EXPECT_TRUE(out.votes.empty());
    EXPECT_TRUE(out.evidence.empty());
  }
  EXPECT_EQ(c.step(), Step::kPrevote);
  EXPECT_EQ(c.OnVote(Prevote(2, 1, 0, p.block_hash)).votes.size(), 1u);
}

TEST_F(ConsensusTest, EquivocationIsEvidenceOnceAndCountedOnlyForRelevantValues) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  c.OnProposal(p, true);  // prevote v
  c.OnVote(Prevote(0, 1, 0, p.block_hash));
  SignedVote first = Prevote(1, 1, 0, p.block_hash);
  SignedVote second = Prevote(1, 1, 0, kNilHash);
  SignedVote third = Prevote(1, 1, 0, Filled(5));
  EXPECT_TRUE(c.OnVote(first).evidence.empty());
  Output out = c.OnVote(second);
  ASSERT_EQ(out.evidence.size(), 1u);
  EXPECT_EQ(out.evidence[0].a, first);
  EXPECT_EQ(out.evidence[0].b, second);
  EXPECT_TRUE(c.OnVote(third).evidence.empty());   // reported once
  EXPECT_TRUE(c.OnVote(second).evidence.empty());  // and again not
  // A precommit of the same validator in the same round is another type: no evidence.
  EXPECT_TRUE(c.OnVote(Precommit(1, 1, 0, kNilHash)).evidence.empty());
  // Validator 1 counts under v and under nil (relevant values), never under Filled(5) (no such
  // proposal). With validator 2's nil: 2 for v, 2 nil, 3 validators in all: the prevote timeout
  // is scheduled but nothing else.
  out = c.OnVote(Prevote(2, 1, 0, kNilHash));
  EXPECT_TRUE(out.votes.empty());
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPrevote, 0));
  // Validator 3 for v makes the quorum.
  out = c.OnVote(Prevote(3, 1, 0, p.block_hash));
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0].type, VoteType::kPrecommit);
}

// The liveness fix: an equivocator's second vote counts for a held proposal's block, so a node
// that first heard its nil prevote still sees the polka another node locked on.
TEST_F(ConsensusTest, EquivocatorsSecondVoteCountsForAHeldProposal) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  c.OnProposal(p, true);
  c.OnVote(Prevote(0, 1, 0, p.block_hash));
  c.OnVote(Prevote(1, 1, 0, kNilHash));
  c.OnVote(Prevote(2, 1, 0, p.block_hash));
  EXPECT_EQ(c.step(), Step::kPrevote);
  Output out = c.OnVote(Prevote(1, 1, 0, p.block_hash));  // relayed by a peer
  ASSERT_EQ(out.evidence.size(), 1u);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, p.block_hash));
  // Both of validator 1's votes are gossiped (relaying is what keeps peers live).
  size_t from1 = 0;
  for (const SignedVote& v : c.VotesForGossip(100)) from1 += v.validator == key(1).public_key();
  EXPECT_EQ(from1, 2u);
}

TEST_F(ConsensusTest, PrevoteTimeoutScheduledOnceAndPrecommitsNil) {
  Consensus c = Make(0);
  Start(c);
  c.OnTimeout(TimeoutKind::kPropose, 1, 0);  // prevote nil
  c.OnVote(Prevote(0, 1, 0, kNilHash));
  c.OnVote(Prevote(1, 1, 0, Filled(1)));
  Output out = c.OnVote(Prevote(2, 1, 0, Filled(2)));
  ASSERT_EQ(out.timeouts.size(), 1u);
  EXPECT_EQ(out.timeouts[0], (TimeoutRequest{TimeoutKind::kPrevote, 1, 0, 500}));
  EXPECT_TRUE(c.OnVote(Prevote(3, 1, 0, Filled(3))).timeouts.empty());  // once per round
  // A stale timeout (wrong round / height) does nothing.
  EXPECT_TRUE(c.OnTimeout(TimeoutKind::kPrevote, 1, 1).empty());
  EXPECT_TRUE(c.OnTimeout(TimeoutKind::kPrevote, 2, 0).empty());
  EXPECT_TRUE(c.OnTimeout(TimeoutKind::kPropose, 1, 0).empty());  // step is prevote
  out = c.OnTimeout(TimeoutKind::kPrevote, 1, 0);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, kNilHash));
  EXPECT_TRUE(c.OnTimeout(TimeoutKind::kPrevote, 1, 0).empty());
}

TEST_F(ConsensusTest, NilPrevoteQuorumPrecommitsNil) {
  Consensus c = Make(0);
  Start(c);
  c.OnTimeout(TimeoutKind::kPropose, 1, 0);
  c.OnVote(Prevote(0, 1, 0, kNilHash));
  c.OnVote(Prevote(1, 1, 0, kNilHash));
  Output out = c.OnVote(Prevote(2, 1, 0, kNilHash));
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, kNilHash));
  EXPECT_EQ(c.step(), Step::kPrecommit);
  EXPECT_EQ(c.locked_round(), kNoRound);
}

TEST_F(ConsensusTest, PrecommitQuorumAnySchedulesTimeoutOnceAndNextRound) {
  Consensus c = Make(0);
  Start(c);
  c.OnVote(Precommit(1, 1, 0, kNilHash));
  c.OnVote(Precommit(2, 1, 0, Filled(1)));
  Output out = c.OnVote(Precommit(3, 1, 0, Filled(2)));
  ASSERT_TRUE(HasTimeout(out, TimeoutKind::kPrecommit, 0));
  EXPECT_EQ(out.timeouts.back().delay_ms, 500u);
  EXPECT_TRUE(c.OnVote(Precommit(0, 1, 0, kNilHash)).timeouts.empty());
  out = c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  EXPECT_EQ(c.round(), 1u);
  EXPECT_EQ(c.step(), Step::kPropose);
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 1));
}

TEST_F(ConsensusTest, TimeoutsGrowAndAreCapped) {
  ConsensusParams params;
  params.propose_base_ms = 100;
  params.propose_delta_ms = 50;
  params.precommit_base_ms = 10;
  params.precommit_delta_ms = 1;
  params.max_timeout_ms = 220;
  Consensus c = Make(0, params);
  Output out = Start(c);
  ASSERT_EQ(out.timeouts.size(), 1u);
  EXPECT_EQ(out.timeouts[0], (TimeoutRequest{TimeoutKind::kPropose, 1, 0, 100}));
  std::vector<uint64_t> delays;
  for (uint32_t r = 0; r < 4; ++r) {
    for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, r, kNilHash));
    out = c.OnTimeout(TimeoutKind::kPrecommit, 1, r);
    ASSERT_EQ(c.round(), r + 1);
    ASSERT_TRUE(HasTimeout(out, TimeoutKind::kPropose, r + 1));
    delays.push_back(out.timeouts.back().delay_ms);
  }
  EXPECT_EQ(delays, (std::vector<uint64_t>{150, 200, 220, 220}));

  // Huge rounds saturate instead of overflowing.
  ConsensusParams big;
  big.propose_delta_ms = UINT64_MAX / 2;
  Consensus d = Make(0, big);
  Start(d);
  d.OnVote(Prevote(1, 1, 90, kNilHash));
  out = d.OnVote(Prevote(2, 1, 90, kNilHash));
  EXPECT_EQ(d.round(), 90u);
  ASSERT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 90));
  EXPECT_EQ(out.timeouts.back().delay_ms, big.max_timeout_ms);
}

TEST_F(ConsensusTest, LockThenNilForOtherValueThenRelockOnNewerPolka) {
  Consensus c = Make(0);
  Start(c);
  // Round 0: proposal B, 3 prevotes: lock on B.
  SignedProposal p0 = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  const Hash32 b = p0.block_hash;
  c.OnProposal(p0, true);
  c.OnVote(Prevote(0, 1, 0, b));
  c.OnVote(Prevote(1, 1, 0, b));
  c.OnVote(Prevote(2, 1, 0, b));
  ASSERT_EQ(c.locked_round(), 0u);
  ASSERT_EQ(c.locked_hash(), b);
  // Precommits: nil from the others; timeout: round 1.
  c.OnVote(Precommit(0, 1, 0, b));
  c.OnVote(Precommit(1, 1, 0, kNilHash));
  c.OnVote(Precommit(2, 1, 0, kNilHash));
  c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  ASSERT_EQ(c.round(), 1u);

  // Round 1: another block C without pol_round: prevote nil (locked on B).
  SignedProposal p1 = Propose(1, 1, kNoRound, MakeBlock(1, 1, 7));
  const Hash32 cc = p1.block_hash;
  Output out = c.OnProposal(p1, true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 1, kNilHash));
  // The others prevote C in round 1: with the proposal held and 2f+1 prevotes for C while in
  // the prevote step, line 36 locks on C and precommits it (a newer polka replaces the lock).
  c.OnVote(Prevote(0, 1, 1, kNilHash));
  c.OnVote(Prevote(1, 1, 1, cc));
  c.OnVote(Prevote(2, 1, 1, cc));
  out = c.OnVote(Prevote(3, 1, 1, cc));
  // Line 36 fires while the step is prevote: lock moves to C in round 1.
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 1, cc));
  EXPECT_EQ(c.locked_round(), 1u);
  EXPECT_EQ(c.locked_hash(), cc);
}

TEST_F(ConsensusTest, PolRoundUnlocksAnOlderLock) {
  Consensus c = Make(0);
  Start(c);
  // Lock on B in round 0.
  SignedProposal p0 = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  const Hash32 b = p0.block_hash;
  c.OnProposal(p0, true);
  for (size_t i = 0; i < 3; ++i) c.OnVote(Prevote(i, 1, 0, b));
  ASSERT_EQ(c.locked_hash(), b);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, 0, kNilHash));
  c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  ASSERT_EQ(c.round(), 1u);
  // Round 1: validator 2's proposal of C does not reach us; 2 others prevote C.
  Block cblock = MakeBlock(1, 1, 7);
  const Hash32 cc = cblock.header.Hash();
  c.OnTimeout(TimeoutKind::kPropose, 1, 1);  // prevote nil
  c.OnVote(Prevote(0, 1, 1, kNilHash));
  c.OnVote(Prevote(1, 1, 1, cc));
  c.OnVote(Prevote(2, 1, 1, cc));
  c.OnTimeout(TimeoutKind::kPrevote, 1, 1);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, 1, kNilHash));
  c.OnTimeout(TimeoutKind::kPrecommit, 1, 1);
  ASSERT_EQ(c.round(), 2u);
  ASSERT_EQ(c.locked_hash(), b);
  // Round 2: validator 3 re-proposes C (unchanged, built in round 1) with pol_round 1.
  SignedProposal p2 = Propose(1, 2, 1, cblock);
  ASSERT_TRUE(VerifyProposal(genesis(), p2).ok()) << VerifyProposal(genesis(), p2).ToString();
  // Only 2 prevotes for C in round 1: line 28 needs 2f+1, so it waits.
  EXPECT_TRUE(c.OnProposal(p2, true).votes.empty());
  EXPECT_EQ(c.step(), Step::kPropose);
  // The third prevote for C in round 1 arrives late: locked_round 0 <= 1: prevote C although
  // locked on B.
  Output out = c.OnVote(Prevote(3, 1, 1, cc));
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 2, cc));
  EXPECT_EQ(c.locked_hash(), b);  // the lock moves only with a precommit (line 36)
  for (size_t i = 0; i < 3; ++i) c.OnVote(Prevote(i, 1, 2, cc));
  EXPECT_EQ(c.locked_round(), 2u);
  EXPECT_EQ(c.locked_hash(), cc);
}

TEST_F(ConsensusTest, LockNewerThanPolRoundPrevotesNil) {
  // Lock on B in round 1, then a round-2 proposal of C with pol_round 0 (and 3 prevotes for C
  // in round 0): locked_round 1 > 0 and C != B: nil.
  Consensus c = Make(0);
  Start(c);
  Block cblock = MakeBlock(1, 0, 9);  // C, first proposed by validator 1 in round 0
  const Hash32 cc = cblock.header.Hash();
  c.OnTimeout(TimeoutKind::kPropose, 1, 0);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Prevote(i, 1, 0, cc));
  c.OnTimeout(TimeoutKind::kPrevote, 1, 0);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, 0, kNilHash));
  c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  ASSERT_EQ(c.round(), 1u);
  SignedProposal p1 = Propose(1, 1, kNoRound, MakeBlock(1, 1));
  const Hash32 b = p1.block_hash;
  c.OnProposal(p1, true);
  for (size_t i = 0; i < 3; ++i) c.OnVote(Prevote(i, 1, 1, b));
  ASSERT_EQ(c.locked_round(), 1u);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, 1, kNilHash));
  c.OnTimeout(TimeoutKind::kPrecommit, 1, 1);
  ASSERT_EQ(c.round(), 2u);
  Output out = c.OnProposal(Propose(1, 2, 0, cblock), true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 2, kNilHash));
}

TEST_F(ConsensusTest, ProposerReproposesValidValueWithPolRound) {
  // Height 3: the proposer of round r is (3 + r) mod 4; validator 0 proposes round 1.
  Consensus c = Make(0);
  Start(c, 3);
  SignedProposal p0 = Propose(3, 0, kNoRound, MakeBlock(3, 0));
  c.OnProposal(p0, true);
  for (size_t i = 0; i < 3; ++i) c.OnVote(Prevote(i, 3, 0, p0.block_hash));
  ASSERT_EQ(c.locked_hash(), p0.block_hash);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 3, 0, kNilHash));
  Output out = c.OnTimeout(TimeoutKind::kPrecommit, 3, 0);
  ASSERT_EQ(c.round(), 1u);
  ASSERT_TRUE(out.proposal);
  ASSERT_TRUE(out.proposal->block);
  EXPECT_EQ(out.proposal->block->header.Hash(), p0.block_hash);
  EXPECT_EQ(out.proposal->pol_round, 0u);
  EXPECT_EQ(out.proposal->round, 1u);
  // OnOwnBlock is not awaited when re-proposing.
  EXPECT_TRUE(c.OnOwnBlock(3, 1, MakeBlock(3, 1)).empty());
  // Its own signed proposal comes back: pol round 0 has 3 prevotes: prevote it.
  out = c.OnProposal(SignProposal(key(0), kChain, 3, 1, 0, *out.proposal->block), true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 3, 1, p0.block_hash));
}

TEST_F(ConsensusTest, RoundSkipOnFPlusOne) {
  Consensus c = Make(0);
  Start(c);
  // One validator (f = 1) in round 5 is not enough.
  Output out = c.OnVote(Prevote(1, 1, 5, kNilHash));
  EXPECT_EQ(c.round(), 0u);
  EXPECT_TRUE(out.timeouts.empty());
  // Two distinct validators (any kind of message): skip to round 5.
  out = c.OnVote(Precommit(2, 1, 5, kNilHash));
  EXPECT_EQ(c.round(), 5u);
  EXPECT_EQ(c.step(), Step::kPropose);
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 5));
  // The same validator twice does not count twice.
  Consensus d = Make(0);
  Start(d);
  d.OnVote(Prevote(1, 1, 7, kNilHash));
  d.OnVote(Precommit(1, 1, 7, kNilHash));
  EXPECT_EQ(d.round(), 0u);
  // A proposal counts as its proposer's message: proposer of round 7 is (1+7)%4 = 0... use
  // round 6, proposer 3.
  d.OnVote(Prevote(1, 1, 6, kNilHash));
  d.OnProposal(Propose(1, 6, kNoRound, MakeBlock(1, 6)), true);
  EXPECT_EQ(d.round(), 6u);
  // Proposal held for round 6 in the propose step: prevoted at once.
  EXPECT_EQ(d.step(), Step::kPrevote);
}

TEST_F(ConsensusTest, RoundsTooFarAheadIgnored) {
  Consensus c = Make(0);
  Start(c);
  EXPECT_TRUE(c.OnVote(Prevote(1, 1, kMaxRoundsAhead + 1, kNilHash)).empty());
  EXPECT_TRUE(c.OnVote(Prevote(2, 1, kMaxRoundsAhead + 1, kNilHash)).empty());
  EXPECT_EQ(c.round(), 0u);
  c.OnVote(Prevote(1, 1, kMaxRoundsAhead, kNilHash));
  c.OnVote(Prevote(2, 1, kMaxRoundsAhead, kNilHash));
  EXPECT_EQ(c.round(), kMaxRoundsAhead);
  EXPECT_TRUE(c.OnVote(Prevote(1, 1, UINT32_MAX, kNilHash)).empty());
}

TEST_F(ConsensusTest, DecidesFromAnEarlierRound) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p0 = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  c.OnProposal(p0, true);
  // Skip to round 3 (f+1 messages there).
  c.OnVote(Prevote(1, 1, 3, kNilHash));
  c.OnVote(Prevote(2, 1, 3, kNilHash));
  ASSERT_EQ(c.round(), 3u);
  // Late precommits of round 0 for p0: decide round 0.
  c.OnVote(Precommit(1, 1, 0, p0.block_hash));
  c.OnVote(Precommit(2, 1, 0, p0.block_hash));
  Output out = c.OnVote(Precommit(3, 1, 0, p0.block_hash));
  ASSERT_TRUE(out.decision);
  EXPECT_EQ(out.decision->round, 0u);
  EXPECT_EQ(out.decision->commit.round, 0u);
  EXPECT_TRUE(VerifyCommit(genesis(), 1, p0.block_hash, out.decision->commit).ok());
}

TEST_F(ConsensusTest, NoDecisionWithoutProposalOrForInvalidBlock) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal p0 = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  for (size_t i = 1; i < 4; ++i) EXPECT_FALSE(c.OnVote(Precommit(i, 1, 0, p0.block_hash)).decision);
  // The proposal arrives but is invalid: still no decision.
  EXPECT_FALSE(c.OnProposal(p0, false).decision);
  // A valid copy of the same proposal replaces the invalid one: decide.
  Output out = c.OnProposal(p0, true);
  ASSERT_TRUE(out.decision);
  EXPECT_EQ(out.decision->commit.signatures.size(), 3u);
}

TEST_F(ConsensusTest, ConflictingProposalIgnoredButReported) {
  Consensus c = Make(0);
  Start(c);
  SignedProposal a = Propose(1, 0, kNoRound, MakeBlock(1, 0, 1));
  SignedProposal b = Propose(1, 0, kNoRound, MakeBlock(1, 0, 2));
  Output out = c.OnProposal(a, true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0].block_hash, a.block_hash);
  out = c.OnProposal(b, true);
  EXPECT_TRUE(out.votes.empty());
  ASSERT_EQ(out.proposal_evidence.size(), 1u);
  EXPECT_EQ(out.proposal_evidence[0].a.block_hash, a.block_hash);
  EXPECT_EQ(out.proposal_evidence[0].b.block_hash, b.block_hash);
  EXPECT_TRUE(c.OnProposal(b, true).proposal_evidence.empty());  // once
  // Gossip offers the first one only.
  auto gossip = c.ProposalsForGossip(10);
  ASSERT_EQ(gossip.size(), 1u);
  EXPECT_EQ(gossip[0].block_hash, a.block_hash);
  // But if a quorum precommits the second, its block is found and decided.
  c.OnVote(Precommit(1, 1, 0, b.block_hash));
  c.OnVote(Precommit(2, 1, 0, b.block_hash));
  out = c.OnVote(Precommit(3, 1, 0, b.block_hash));
  ASSERT_TRUE(out.decision);
  EXPECT_EQ(out.decision->block_hash, b.block_hash);
  EXPECT_EQ(out.decision->block.header.Hash(), b.block_hash);
}

TEST_F(ConsensusTest, NonValidatorAndOtherHeightVotesIgnored) {
  Consensus c = Make(0);
  Start(c);
  SigningKey outsider = SigningKey::FromSeed(Filled(0x77));
  for (uint32_t r = 1; r < 3; ++r) {
    EXPECT_TRUE(c.OnVote(SignVote(outsider, kChain, VoteType::kPrevote, 1, 5, kNilHash)).empty());
  }
  EXPECT_TRUE(c.OnVote(Prevote(1, 2, 5, kNilHash)).empty());
  EXPECT_TRUE(c.OnVote(Prevote(2, 0, 5, kNilHash)).empty());
  EXPECT_EQ(c.round(), 0u);
  EXPECT_TRUE(c.VotesForGossip(100).empty());
  EXPECT_TRUE(c.OnProposal(Propose(2, 0, kNoRound, MakeBlock(2, 0)), true).empty());
}

TEST_F(ConsensusTest, FollowerNeverVotesButDecides) {
  Consensus c = Make(std::nullopt);
  Output out = Start(c);
  EXPECT_FALSE(out.proposal);
  EXPECT_TRUE(out.votes.empty());
  SignedProposal p = Propose(1, 0, kNoRound, MakeBlock(1, 0));
  out = c.OnProposal(p, true);
  EXPECT_TRUE(out.votes.empty());
  EXPECT_EQ(c.step(), Step::kPrevote);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(c.OnVote(Prevote(i, 1, 0, p.block_hash)).votes.empty());
  c.OnVote(Precommit(0, 1, 0, p.block_hash));
  c.OnVote(Precommit(1, 1, 0, p.block_hash));
  out = c.OnVote(Precommit(3, 1, 0, p.block_hash));
  ASSERT_TRUE(out.decision);
  EXPECT_TRUE(out.votes.empty());
  EXPECT_TRUE(VerifyCommit(genesis(), 1, p.block_hash, out.decision->commit).ok());
  // A follower at a round it proposes in? It proposes nothing, ever.
  Consensus d = Make(std::nullopt);
  Start(d, 4);  // (4 + 0) % 4 = validator 0: still nothing
  EXPECT_FALSE(d.OnTimeout(TimeoutKind::kPropose, 4, 0).proposal);
}

TEST_F(ConsensusTest, OwnBlockIgnoredUnlessAwaited) {
  // Height 3, round 1: validator 0 proposes.
  Consensus c = Make(0);
  Output out = Start(c, 3);
  EXPECT_FALSE(out.proposal);
  EXPECT_TRUE(c.OnOwnBlock(3, 0, MakeBlock(3, 0)).empty());  // not ours
  c.OnTimeout(TimeoutKind::kPropose, 3, 0);
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 3, 0, kNilHash));
  out = c.OnTimeout(TimeoutKind::kPrecommit, 3, 0);
  ASSERT_TRUE(out.proposal);
  EXPECT_FALSE(out.proposal->block);
  EXPECT_TRUE(c.OnOwnBlock(3, 0, MakeBlock(3, 1)).empty());  // wrong round
  EXPECT_TRUE(c.OnOwnBlock(4, 1, MakeBlock(3, 1)).empty());  // wrong height
  // Propose timeout first: no longer awaited.
  c.OnTimeout(TimeoutKind::kPropose, 3, 1);
  EXPECT_TRUE(c.OnOwnBlock(3, 1, MakeBlock(3, 1)).empty());
}

TEST_F(ConsensusTest, GossipCurrentRoundFirstThenNewestAndBounded) {
  Consensus c = Make(0);
  Start(c);
  c.OnVote(Prevote(1, 1, 0, kNilHash));
  c.OnVote(Prevote(2, 1, 0, kNilHash));
  c.OnVote(Precommit(3, 1, 0, kNilHash));
  c.OnVote(Prevote(1, 1, 2, kNilHash));
  // The current round (0) first, precommits before prevotes, then the others newest first.
  auto v = c.VotesForGossip(100);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].type, VoteType::kPrecommit);
  EXPECT_EQ(v[0].round, 0u);
  EXPECT_EQ(v[1].validator, key(1).public_key());
  EXPECT_EQ(v[2].validator, key(2).public_key());
  EXPECT_EQ(v[3].round, 2u);
  c.OnVote(Prevote(3, 1, 1, kNilHash));
  c.OnVote(Prevote(2, 1, 3, kNilHash));
  v = c.VotesForGossip(100);
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[3].round, 3u);
  EXPECT_EQ(v[4].round, 2u);
  EXPECT_EQ(v[5].round, 1u);
  EXPECT_EQ(c.VotesForGossip(2).size(), 2u);
  EXPECT_TRUE(c.VotesForGossip(0).empty());
}

TEST_F(ConsensusTest, RestoredLockPrevotesNilForOtherBlocks) {
  Consensus c = Make(0);
  SignState st;
  st.height = 1;
  st.round = 0;
  st.step = 3;
  st.block_hash = Filled(0xb0);
  st.locked_round = 0;
  st.locked_hash = Filled(0xb0);
  Output out = c.StartHeight(1, st);
  // Resumed in round 0 at the precommit step, asking for the same precommit again.
  EXPECT_EQ(c.step(), Step::kPrecommit);
  EXPECT_EQ(c.locked_round(), 0u);
  EXPECT_EQ(c.locked_hash(), Filled(0xb0));
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 0, Filled(0xb0)));
  EXPECT_TRUE(CheckSign(st, 1, 0, 3, out.votes[0].block_hash).ok());
  for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, 0, kNilHash));
  c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  ASSERT_EQ(c.round(), 1u);
  out = c.OnProposal(Propose(1, 1, kNoRound, MakeBlock(1, 1)), true);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0].block_hash, kNilHash);
}

// A restart that kept the locked block: when this validator next proposes (with no valid value)
// it proposes the locked block as a new value (POL round -1) and prevotes it at once (line 22:
// its locked value), instead of asking for a new block. A kept block that does not hash to the
// lock is not used.
TEST_F(ConsensusTest, RestoredLockWithItsBlockIsReproposed) {
  // Height 1: the proposer of round r is (1 + r) mod 4, so validator 0 proposes round 3.
  const Block locked = MakeBlock(1, 0);
  SignState st;
  st.height = 1;
  st.round = 2;  // locked in round 0, then precommitted nil in round 2, then crashed
  st.step = 3;
  st.block_hash = kNilHash;
  st.locked_round = 0;
  st.locked_hash = locked.header.Hash();
  auto to_round_3 = [&](Consensus& c, const Block* kept) {
    c.StartHeight(1, st, kept);
    for (size_t i = 1; i < 4; ++i) c.OnVote(Precommit(i, 1, 2, kNilHash));
    return c.OnTimeout(TimeoutKind::kPrecommit, 1, 2);
  };
  {
    Consensus c = Make(0);
    Output out = to_round_3(c, &locked);
    ASSERT_EQ(c.round(), 3u);
    ASSERT_TRUE(out.proposal);
    ASSERT_TRUE(out.proposal->block);
    EXPECT_EQ(out.proposal->block->header.Hash(), locked.header.Hash());
    EXPECT_EQ(out.proposal->pol_round, kNoRound);
    EXPECT_TRUE(c.OnOwnBlock(1, 3, MakeBlock(1, 3)).empty());  // no new block awaited
    // Its own signed proposal comes back: it prevotes it without any POL prevotes.
    out = c.OnProposal(SignProposal(key(0), kChain, 1, 3, kNoRound, locked), true);
    ASSERT_EQ(out.votes.size(), 1u);
    EXPECT_EQ(out.votes[0], Req(VoteType::kPrevote, 1, 3, locked.header.Hash()));
  }
  {
    Consensus c = Make(0);  // no block kept: asks for a new one
    Output out = to_round_3(c, nullptr);
    ASSERT_TRUE(out.proposal);
    EXPECT_FALSE(out.proposal->block);
  }
  {
    Consensus c = Make(0);  // a kept block that is not the locked one is ignored
    const Block other = MakeBlock(1, 0, 7);
    Output out = to_round_3(c, &other);
    ASSERT_TRUE(out.proposal);
    EXPECT_FALSE(out.proposal->block);
  }
}

// A lone validator restarted between its lock and the commit: with the kept block it decides
// that block in the next round; without it, it prevotes nil for every new block it proposes.
TEST_F(ConsensusSingleTest, RestartedBetweenLockAndCommitDecidesTheKeptBlock) {
  const Block locked = MakeBlock(1, 0);
  SignState st;
  st.height = 1;
  st.round = 0;
  st.step = 3;
  st.block_hash = locked.header.Hash();
  st.locked_round = 0;
  st.locked_hash = locked.header.Hash();
  Consensus c = Make(0);
  Output out = c.StartHeight(1, st, &locked);
  ASSERT_EQ(out.votes.size(), 1u);  // the same precommit again; the proposal of round 0 is lost
  out = c.OnVote(Precommit(0, 1, 0, locked.header.Hash()));
  EXPECT_FALSE(out.decision);
  out = c.OnTimeout(TimeoutKind::kPrecommit, 1, 0);
  ASSERT_EQ(c.round(), 1u);
  ASSERT_TRUE(out.proposal && out.proposal->block);
  out = c.OnProposal(SignProposal(key(0), kChain, 1, 1, kNoRound, *out.proposal->block), true);
  ASSERT_EQ(out.votes.size(), 1u);
  out = c.OnVote(Prevote(0, 1, 1, locked.header.Hash()));
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_EQ(out.votes[0], Req(VoteType::kPrecommit, 1, 1, locked.header.Hash()));
  out = c.OnVote(Precommit(0, 1, 1, locked.header.Hash()));
  ASSERT_TRUE(out.decision);
  EXPECT_EQ(out.decision->block_hash, locked.header.Hash());
}

TEST_F(ConsensusTest, RestoredProposerDoesNotProposeAgainInThatRound) {
  // Height 3, round 1: validator 0 proposes. It signed a proposal there, then crashed.
  Consensus c = Make(0);
  SignState st;
  st.height = 3;
  st.round = 1;
  st.step = 1;
  st.block_hash = Filled(0xcc);
  Output out = c.StartHeight(3, st);
  EXPECT_EQ(c.round(), 1u);
  EXPECT_EQ(c.step(), Step::kPropose);
  EXPECT_FALSE(out.proposal);
  EXPECT_TRUE(HasTimeout(out, TimeoutKind::kPropose, 1));
  out = c.OnTimeout(TimeoutKind::kPropose, 3, 1);
  ASSERT_EQ(out.votes.size(), 1u);
  EXPECT_TRUE(CheckSign(st, 3, 1, 2, out.votes[0].block_hash).ok());
}

TEST_F(ConsensusTest, RestoredAtLaterHeightSignsNothing) {
  Consensus c = Make(0);
  SignState st;
  st.height = 5;
  st.step = 2;
  EXPECT_TRUE(c.StartHeight(3, st).empty());
  Output out = c.OnTxsAvailable();
  EXPECT_FALSE(out.proposal);
  out = c.OnTimeout(TimeoutKind::kPropose, 3, 0);
  EXPECT_TRUE(out.votes.empty());
  // Restored at an earlier height: a fresh start (waiting).
  Consensus d = Make(0);
  st.height = 2;
  EXPECT_TRUE(d.StartHeight(3, st).empty());
  EXPECT_EQ(d.step(), Step::kWaiting);
}

TEST_F(ConsensusTest, StaleOutputProposalIsDroppedWhenTheRoundMovesOn) {
  // Height 3: validator 0 proposes round 1 (and 5). Waiting; a message of round 4 from 2
  // validators: round 0 starts and at once skips to round 4 (proposer (3+4)%4 = 3).
  Consensus c = Make(0);
  c.StartHeight(3, std::nullopt);
  c.OnVote(Prevote(1, 3, 4, kNilHash));
  EXPECT_EQ(c.round(), 0u);
  Output out = c.OnVote(Prevote(2, 3, 4, kNilHash));
  EXPECT_EQ(c.round(), 4u);
  EXPECT_FALSE(out.proposal);
  // Two validators in round 5: we are its proposer.
  c.OnVote(Prevote(1, 3, 5, kNilHash));
  out = c.OnVote(Prevote(3, 3, 5, kNilHash));
  EXPECT_EQ(c.round(), 5u);
  ASSERT_TRUE(out.proposal);
  EXPECT_EQ(out.proposal->round, 5u);
}

}  // namespace
}  // namespace consent

// ------------------------------------------------------------------------------------------
// Property: random event sequences (the fuzz target's harness) never crash, never decide
// without a held quorum, never decide twice per height and never ask to double-sign.

namespace consent {
namespace {

// Random events biased towards progress: votes mostly for one block in the current round.
std::vector<uint8_t> RandomEvents(uint64_t seed, size_t events) {
  std::mt19937_64 rng(seed);
  const uint8_t favourite = rng() % 5;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < events; ++i) {
    uint8_t op = rng() % 12, a = rng(), b = rng(), c = rng();
    if (op >= 2 && op <= 4 && rng() % 10 < 8) {
      while (c % 5 != favourite || (c & 0x40) == 0) c = static_cast<uint8_t>(rng());
    }
    if (op == 1 && rng() % 2) b = 8;  // no pol_round
    out.insert(out.end(), {op, a, b, c});
  }
  return out;
}

TEST(ConsensusProperty, RandomEventSequencesKeepInvariants) {
  fuzz::ConsensusEventHarness harness;
  size_t decisions = 0;
  const uint64_t runs = 1500;
  for (uint64_t seed = 0; seed < runs; ++seed) {
    std::vector<uint8_t> events = RandomEvents(seed, 300);
    harness.Reset();
    std::string error = harness.Run(events.data(), events.size());
    ASSERT_EQ(error, "") << "seed " << seed;
    decisions += harness.decisions();
  }
  // The sequences do reach decisions (the invariants are not checked vacuously).
  EXPECT_GT(decisions, runs / 4);
}

}  // namespace
}  // namespace consent

// The test vector of docs/protocol.md ("Consensus"): proposal_msg and its signature.
namespace consent {
namespace {

TEST(ConsensusVector, ProposalMessageAndSignature) {
  Hash32 block_hash;
  block_hash.fill(0x11);
  Seed32 seed;
  seed.fill(0x01);
  SigningKey key = SigningKey::FromSeed(seed);
  Bytes msg = ProposalMessage("consent-test", 7, 2, 1, block_hash);
  Signature sig = key.Sign(msg);
  EXPECT_EQ(
      ToHex(msg),
      "636f6e73656e742d6c65646765722f70726f706f73616c2f76310000000c636f6e73656e742d7465737400000000"
      "0000000700000002000000011111111111111111111111111111111111111111111111111111111111111111");
  EXPECT_EQ(ToHex(key.public_key()),
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
  EXPECT_EQ(ToHex(sig),
            "9f61b9e51f2ac00a3581074cec22815bdf0953010098b12dc8cefb1d0edba16dc53219da3828818d60f807"
            "8c8d5bd94c0c548332ed36a758573e692c69be9107");
  EXPECT_TRUE(VerifySignature(key.public_key(), msg, sig));
}

}  // namespace
}  // namespace consent
