// evidence.jsonl: lines round trip; every malformed or unverifiable line is refused with a reason.
#include "node/evidence_log.h"

#include <gtest/gtest.h>

#include <fstream>

#include "node_test_util.h"

namespace consent {
namespace {

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
    return {SignVote(keys[signer], genesis.chain_id, VoteType::kPrecommit, height, 3, a),
            SignVote(keys[signer], genesis.chain_id, VoteType::kPrecommit, height, 3, b)};
  }
};

TEST(EvidenceLogTest, AppendsAndLoadsBack) {
  Fixture f;
  TempDir dir;
  const std::string path = dir.path() + "/evidence.jsonl";
  auto none = LoadEvidence(path, f.genesis);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  ASSERT_TRUE(AppendEvidence(path, f.Make(1, 5)).ok());
  ASSERT_TRUE(AppendEvidence(path, f.Make(2, 6)).ok());
  auto got = LoadEvidence(path, f.genesis);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->items.size(), 2u);
  EXPECT_EQ(got->items[0].a, f.Make(1, 5).a);
  EXPECT_EQ(got->items[1].b, f.Make(2, 6).b);
  EXPECT_TRUE(got->warnings.empty());
}

TEST(EvidenceLogTest, BadLinesAreRefusedWithTheirReason) {
  Fixture f;
  const std::string good = EvidenceToJsonLine(f.Make(0, 9));
  ASSERT_TRUE(EvidenceFromJsonLine(good, f.genesis).ok());
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
    auto got = EvidenceFromJsonLine(c.line, *c.genesis);
    ASSERT_FALSE(got.ok()) << "accepted: " << c.line;
    EXPECT_NE(got.status().message().find(c.fragment), std::string::npos) << got.status().message();
  }
  // In a file, bad lines are skipped with a warning naming the line; good ones still load.
  TempDir dir;
  const std::string path = dir.path() + "/evidence.jsonl";
  std::ofstream(path) << good << "garbage\n" << EvidenceToJsonLine(f.Make(2, 1));
  auto loaded = LoadEvidence(path, f.genesis);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->items.size(), 2u);
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_NE(loaded->warnings[0].find(":2:"), std::string::npos) << loaded->warnings[0];
}

}  // namespace
}  // namespace consent
