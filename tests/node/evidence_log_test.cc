// evidence.jsonl: lines round trip; every malformed or unverifiable line is refused with a reason.
#include "node/evidence_log.h"

#include <gtest/gtest.h>

#include <fstream>

#include "node_test_util.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

// The genesis set commits every height (these chains never change their set).
SetForHeightFn SetsOf(const Genesis& g) {
  return [set = g.Set()](uint64_t) { return set; };
}

using testing::TempDir;

struct Fixture {
  Genesis genesis;
  std::vector<SigningKey> keys;
  Fixture() {
    genesis.chain_id = "evidence-test";
    for (uint8_t i = 1; i <= 4; ++i) {
      Seed32 seed;
      seed.fill(i);
      keys.push_back(SigningKey::FromSeed(seed));
      genesis.validators.push_back({"v" + std::to_string(i), keys.back().public_key()});
    }
  }
  Evidence Make(size_t signer, uint64_t height) const {
    Hash32 a, b;
    a.fill(1);
    b.fill(2);
    return VoteEquivocation(
        SignVote(keys[signer], genesis.chain_id, VoteType::kPrecommit, height, 3, a),
        SignVote(keys[signer], genesis.chain_id, VoteType::kPrecommit, height, 3, b));
  }
  // The proposer of (height, round) signs proposals of two different blocks.
  Evidence MakeProposals(uint64_t height, uint32_t round) const {
    const PublicKey& proposer = genesis.Proposer(height, round);
    const SigningKey* key = nullptr;
    for (const SigningKey& k : keys) {
      if (k.public_key() == proposer) key = &k;
    }
    auto ref = [&](uint8_t fill) {
      Hash32 h;
      h.fill(fill);
      SignedProposalRef r{height, round, kNoRound, h, proposer, Signature{}};
      r.signature = key->Sign(ProposalMessage(genesis.chain_id, height, round, kNoRound, h));
      return r;
    };
    Evidence e;
    e.kind = EvidenceKind::kDuplicateProposal;
    e.pa = ref(1);
    e.pb = ref(2);
    return e;
  }
};

// Proposer equivocation (issue 16 item 12) is kept like vote evidence: it round-trips through
// the file, and a line whose proposals do not conflict, are not signed by the round's proposer,
// or carry a bad signature is refused naming why.
TEST(EvidenceLogTest, ProposalEquivocationRoundTripsAndIsChecked) {
  Fixture f;
  const Evidence e = f.MakeProposals(7, 2);
  ASSERT_TRUE(CheckEvidence(f.genesis, e).ok()) << CheckEvidence(f.genesis, e).ToString();
  const std::string line = EvidenceToJsonLine(e);
  EXPECT_NE(line.find("\"duplicate_proposal\""), std::string::npos) << line;
  auto back = EvidenceFromJsonLine(line, f.genesis, SetsOf(f.genesis));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kind, EvidenceKind::kDuplicateProposal);
  EXPECT_EQ(back->pa, e.pa);
  EXPECT_EQ(back->pb, e.pb);
  EXPECT_TRUE(back->SameOffence(e));
  EXPECT_FALSE(back->SameOffence(f.Make(0, 7)));

  Evidence same = e;
  same.pb = same.pa;
  Evidence forged = e;
  forged.pb.signature[3] ^= 1;
  Evidence not_proposer = f.MakeProposals(7, 3);      // another round's proposer ...
  not_proposer.pa.round = not_proposer.pb.round = 2;  // ... claimed for round 2
  for (const auto& [bad, fragment] : std::vector<std::pair<Evidence, std::string>>{
           {same, "do not conflict"}, {forged, "proposal_b"}, {not_proposer, "not the proposer"}}) {
    EXPECT_FALSE(CheckEvidence(f.genesis, bad).ok());
    auto got = EvidenceFromJsonLine(EvidenceToJsonLine(bad), f.genesis, SetsOf(f.genesis));
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.status().message().find(fragment), std::string::npos) << got.status().message();
  }
  TempDir dir;
  const std::string path = dir.path() + "/evidence.jsonl";
  ASSERT_TRUE(AppendEvidence(path, f.Make(1, 5)).ok());
  ASSERT_TRUE(AppendEvidence(path, e).ok());
  auto loaded = LoadEvidence(path, f.genesis, SetsOf(f.genesis));
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->items.size(), 2u);
  EXPECT_EQ(loaded->items[1].kind, EvidenceKind::kDuplicateProposal);
}

TEST(EvidenceLogTest, AppendsAndLoadsBack) {
  Fixture f;
  TempDir dir;
  const std::string path = dir.path() + "/evidence.jsonl";
  auto none = LoadEvidence(path, f.genesis, SetsOf(f.genesis));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  ASSERT_TRUE(AppendEvidence(path, f.Make(1, 5)).ok());
  ASSERT_TRUE(AppendEvidence(path, f.Make(2, 6)).ok());
  auto got = LoadEvidence(path, f.genesis, SetsOf(f.genesis));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->items.size(), 2u);
  EXPECT_EQ(got->items[0].a, f.Make(1, 5).a);
  EXPECT_EQ(got->items[1].b, f.Make(2, 6).b);
  EXPECT_TRUE(got->warnings.empty());
}

TEST(EvidenceLogTest, BadLinesAreRefusedWithTheirReason) {
  Fixture f;
  const std::string good = EvidenceToJsonLine(f.Make(0, 9));
  ASSERT_TRUE(EvidenceFromJsonLine(good, f.genesis, SetsOf(f.genesis)).ok());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  Evidence same = f.Make(0, 9);
  same.b = same.a;
  Evidence other_signer = f.Make(0, 9);
  other_signer.b = f.Make(1, 9).b;
  Evidence forged = f.Make(0, 9);
  forged.b.signature[5] ^= 1;
  Genesis other = f.genesis;
  other.validators.pop_back();
  other.validators.erase(other.validators.begin());  // signer 0 is no longer a validator
  struct Case {
    std::string line, fragment;
    const Genesis* genesis;
  };
  std::vector<Case> cases = {
      {"", "", &f.genesis},
      {"{}", "", &f.genesis},
      {good.substr(0, 40), "", &f.genesis},
      {replace("duplicate_vote", "something_else"), "kind", &f.genesis},
      {replace("precommit", "commit"), "type", &f.genesis},
      {EvidenceToJsonLine(same), "do not conflict", &f.genesis},
      {EvidenceToJsonLine(other_signer), "do not conflict", &f.genesis},
      {EvidenceToJsonLine(forged), "vote_b", &f.genesis},
      {good, "vote_a", &other},
  };
  for (const Case& c : cases) {
    auto got = EvidenceFromJsonLine(c.line, *c.genesis, SetsOf(*c.genesis));
    ASSERT_FALSE(got.ok()) << "accepted: " << c.line;
    EXPECT_NE(got.status().message().find(c.fragment), std::string::npos) << got.status().message();
  }
  // In a file, bad lines are skipped with a warning naming the line; good ones still load.
  TempDir dir;
  const std::string path = dir.path() + "/evidence.jsonl";
  std::ofstream(path) << good << "garbage\n" << EvidenceToJsonLine(f.Make(2, 1));
  auto loaded = LoadEvidence(path, f.genesis, SetsOf(f.genesis));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->items.size(), 2u);
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_NE(loaded->warnings[0].find(":2:"), std::string::npos) << loaded->warnings[0];
}

}  // namespace
}  // namespace consent
