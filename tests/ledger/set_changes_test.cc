// Tests of FollowChanges (ledger/set_changes.h) and of consent proofs across validator set
// changes (PROTOCOL.md sections 9 and 10), over a real chain built with the block pipeline: a
// 4-validator genesis set, then three decided changes (replace a key, add one, remove one) and a
// grant proven after them. A change left out, added (a duplicate, a non-change header, a forged
// one), reordered, with the wrong set, with a commit of the wrong set, or at/after the proven
// height fails naming the check; a checkpoint (TrustedSet) skips the changes below it and refuses
// a header below it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ledger/consent_proof.h"
#include "ledger/json_strict.h"
#include "ledger/queries.h"
#include "tests/ledger/set_chain_util.h"

namespace consent {
namespace {

using testing::Approve;
using testing::MustSign;
using testing::SetChain;
using testing::Sorted;

bool Has(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}
std::string Why(const Status& s) { return s.ToString(); }

// Heights: 1 grant; 2 decides S1 (A0 replaced by N1); 3 empty; 4 decides S2 (N2 added);
// 5 empty; 6 decides S3 (A1 removed); 7 a grant of another purpose; 8 empty (the proven head).
struct ChangedChain {
  SetChain c{4};
  ValidatorSet genesis_set, s1, s2, s3;
  const SigningKey* subject = nullptr;
  PublicKey controller{};

  ChangedChain() {
    genesis_set = c.InOffice();
    const auto& a = genesis_set.keys;
    const PublicKey n1 = c.NewKey(0xa1).public_key(), n2 = c.NewKey(0xa2).public_key();
    s1 = ValidatorSet{Sorted({a[1], a[2], a[3], n1})};
    s2 = ValidatorSet{Sorted({a[1], a[2], a[3], n1, n2})};
    s3 = ValidatorSet{Sorted({a[2], a[3], n1, n2})};
    subject = &c.NewKey(0x10);
    controller = c.NewKey(0x30).public_key();
    EXPECT_TRUE(c.Add({Grant("analytics", c.NextTime() - 10)}));
    Decide(s1);
    EXPECT_TRUE(c.Add({}));
    Decide(s2);
    EXPECT_TRUE(c.Add({}));
    Decide(s3);
    EXPECT_TRUE(c.Add({Grant("profiling", c.NextTime() - 10)}));
    EXPECT_TRUE(c.Add({}));
    EXPECT_EQ(c.height(), 8u);
  }
  SignedTx Grant(std::string purpose, uint64_t issued) {
    GrantTx g;
    g.subject = subject->public_key();
    g.controller = controller;
    g.purposes = {std::move(purpose)};
    g.issued_at_ms = issued;
    return MustSign(g, *subject);
  }
  // Approvals of `target` by the first quorum of the set in office, in one block.
  void Decide(const ValidatorSet& target) {
    const ValidatorSet now = c.InOffice();
    std::vector<SignedTx> txs;
    for (size_t i = 0; i < now.QuorumSize(); ++i) {
      txs.push_back(Approve(c.Key(now.keys[i]), target.keys, c.NextTime() - 10, i));
    }
    auto b = c.Add(txs);
    EXPECT_TRUE(b && b->rejected.empty());
    EXPECT_TRUE(c.headers().back().IsChangeBlock());
    EXPECT_EQ(c.InOffice(), target);
  }
  TrustedSet Start() const { return {1, genesis_set}; }
  Result<ValidatorSet> Follow(const std::vector<ValidatorChange>& changes,
                              uint64_t height = 8) const {
    return FollowChanges(c.genesis().chain_id, Start(), changes, height);
  }
};

TEST(FollowChanges, ThreeChangesVerify) {
  ChangedChain f;
  std::vector<ValidatorChange> changes = f.c.Changes();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].header.height, 2u);
  EXPECT_EQ(changes[1].header.height, 4u);
  EXPECT_EQ(changes[2].header.height, 6u);
  // The store's answer is the same list.
  auto stored = GetValidatorChanges(f.c.kv(), UINT64_MAX);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(*stored, changes);
  auto held = f.Follow(changes);
  ASSERT_TRUE(held.ok()) << Why(held.status());
  EXPECT_EQ(*held, f.s3);
  // For every height: the changes below it lead to the set that committed it.
  for (uint64_t h = 1; h <= 8; ++h) {
    auto below = GetValidatorChanges(f.c.kv(), h);
    ASSERT_TRUE(below.ok());
    auto set = f.Follow(*below, h);
    ASSERT_TRUE(set.ok()) << "height " << h << ": " << Why(set.status());
    EXPECT_EQ(*set, f.c.SetAt(h));
    const Header& header = f.c.headers()[h - 1];
    EXPECT_EQ(header.validators_hash, set->Hash());
    EXPECT_TRUE(
        VerifyCommit(f.c.genesis().chain_id, *set, h, header.Hash(), f.c.commits()[h - 1]).ok());
  }
  // No change: the start set.
  auto none = f.Follow({}, 2);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, f.genesis_set);
}

TEST(FollowChanges, ChangeLeftOut) {
  ChangedChain f;
  const auto all = f.c.Changes();
  for (size_t drop = 0; drop < 2; ++drop) {
    std::vector<ValidatorChange> changes = all;
    changes.erase(changes.begin() + drop);
    auto r = f.Follow(changes);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(
        Has(r.status(), "validator_changes[" + std::to_string(drop) + "]: validators_hash: "))
        << Why(r.status());
  }
  // The last one left out: the walk ends on S2, which the caller's check of the proven header
  // refuses (see ProofAcrossChanges).
  auto r = f.Follow({all[0], all[1]});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->Hash(), f.c.headers().back().validators_hash);
}

TEST(FollowChanges, ChangeAdded) {
  ChangedChain f;
  const auto all = f.c.Changes();
  // A duplicate.
  auto r = f.Follow({all[0], all[0], all[1], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[1]: order: height 2 is not in [3, 8)"))
      << Why(r.status());
  r = f.Follow({all[0], all[1], all[2], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[3]: order: ")) << Why(r.status());
  // A header that decides no change (height 3, certified by S1).
  ValidatorChange plain{f.c.headers()[2], f.c.commits()[2], f.s1};
  r = f.Follow({all[0], plain, all[1], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(),
                  "validator_changes[1]: next_validators_hash: height 3 decides no "
                  "change"))
      << Why(r.status());
  // A forged change: the first change block re-pointed at an attacker's set. Its commit no longer
  // verifies (the genesis set signed the real header).
  SetChain attackers(4, 0xe1);
  ValidatorChange forged = all[0];
  forged.validators = ValidatorSet{Sorted(attackers.InOffice().keys)};
  forged.header.next_validators_hash = forged.validators.Hash();
  r = f.Follow({forged, all[1], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[0]: commit: ")) << Why(r.status());
  // ... and re-signed by the attackers: not the set held.
  forged.commit =
      attackers.SignBy(attackers.InOffice(), forged.header.height, 0, forged.header.Hash(), 3);
  r = f.Follow({forged, all[1], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[0]: commit: ")) << Why(r.status());
  EXPECT_TRUE(Has(r.status(), "is not in the validator set of height 2")) << Why(r.status());
  // A forged extra change after the real ones, at a height between (7): refused by its commit.
  ValidatorChange extra{f.c.headers()[6], f.c.commits()[6], forged.validators};
  extra.header.next_validators_hash = forged.validators.Hash();
  r = f.Follow({all[0], all[1], all[2], extra});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[3]: commit: ")) << Why(r.status());
}

TEST(FollowChanges, Reordered) {
  ChangedChain f;
  const auto all = f.c.Changes();
  auto r = f.Follow({all[0], all[2], all[1]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[1]: validators_hash: ")) << Why(r.status());
  r = f.Follow({all[1], all[0], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[0]: validators_hash: ")) << Why(r.status());
  // Reordered but each step consistent is impossible: heights must strictly increase. A start
  // past a change (a checkpoint at 3 with S1) puts change 0 out of order.
  auto cp = FollowChanges(f.c.genesis().chain_id, TrustedSet{3, f.s1}, all, 8);
  ASSERT_FALSE(cp.ok());
  EXPECT_TRUE(Has(cp.status(), "validator_changes[0]: order: height 2 is not in [3, 8)"))
      << Why(cp.status());
}

TEST(FollowChanges, WrongSet) {
  ChangedChain f;
  auto changes = f.c.Changes();
  changes[1].validators = f.s1;  // the set before, not the set decided
  auto r = f.Follow(changes);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(),
                  "validator_changes[1]: next_validators_hash: the set given hashes "
                  "to "))
      << Why(r.status());
  // The right keys in another order are another set.
  changes = f.c.Changes();
  std::swap(changes[1].validators.keys[0], changes[1].validators.keys[1]);
  r = f.Follow(changes);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[1]: next_validators_hash: ")) << Why(r.status());
  // One key more.
  changes = f.c.Changes();
  changes[2].validators.keys.push_back(f.genesis_set.keys[0]);
  r = f.Follow(changes);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[2]: next_validators_hash: ")) << Why(r.status());
}

TEST(FollowChanges, CommitOfTheWrongSet) {
  ChangedChain f;
  auto changes = f.c.Changes();
  // Change 1 (height 4) is committed by S1; a commit of the genesis set's quorum (A0 left at 2).
  changes[1].commit = f.c.SignBy(f.genesis_set, 4, 0, changes[1].header.Hash(), 3);
  auto r = f.Follow(changes);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[1]: commit: ")) << Why(r.status());
  // Below the quorum of the right set.
  changes = f.c.Changes();
  changes[1].commit.signatures.pop_back();
  r = f.Follow(changes);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[1]: commit: ")) << Why(r.status());
  // The right set's commit of another round.
  changes = f.c.Changes();
  changes[1].commit.round = 1;
  EXPECT_FALSE(f.Follow(changes).ok());
}

TEST(FollowChanges, ChangeAtOrAfterTheProvenHeight) {
  ChangedChain f;
  const auto all = f.c.Changes();
  auto r = f.Follow(all, 6);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[2]: order: height 6 is not in [5, 6)"))
      << Why(r.status());
  EXPECT_TRUE(Has(r.status(), "below the proven height")) << Why(r.status());
  r = f.Follow(all, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[2]: order: ")) << Why(r.status());
  EXPECT_TRUE(f.Follow({all[0], all[1]}, 5).ok());
  EXPECT_TRUE(f.Follow(all, 7).ok());
}

TEST(FollowChanges, OtherChecks) {
  ChangedChain f;
  const auto all = f.c.Changes();
  auto r = FollowChanges("other-chain", f.Start(), all, 8);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[0]: chain_id: ")) << Why(r.status());
  r = FollowChanges(f.c.genesis().chain_id, TrustedSet{1, {}}, all, 8);
  EXPECT_FALSE(r.ok());
  std::vector<ValidatorChange> many(kMaxValidatorChanges + 1, all[0]);
  r = f.Follow(many);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "more than 4096")) << Why(r.status());
}

TEST(FollowChanges, JsonRoundTripAndStrictness) {
  ChangedChain f;
  const auto all = f.c.Changes();
  json::OrderedJson j = ValidatorChangesToJson(all);
  ASSERT_EQ(j.size(), 3u);
  std::vector<std::string> keys;
  for (const auto& [k, unused] : j[0].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"header", "commit", "validators"}));
  auto back = ValidatorChangesFromJson(json::Json::parse(j.dump()), "validator_changes");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, all);
  auto parse = [](json::Json v) { return ValidatorChangesFromJson(v, "validator_changes"); };
  json::Json bad = json::Json::parse(j.dump());
  std::swap(bad[1]["validators"][0], bad[1]["validators"][1]);
  auto r = parse(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(),
                  "validator_changes[1].validators[1]: keys must be in strictly "
                  "ascending byte order"))
      << Why(r.status());
  bad = json::Json::parse(j.dump());
  bad[0]["validators"] = json::Json::array();
  EXPECT_FALSE(parse(bad).ok());
  bad = json::Json::parse(j.dump());
  bad[0]["extra"] = 1;
  EXPECT_FALSE(parse(bad).ok());
  bad = json::Json::parse(j.dump());
  bad[2].erase("commit");
  EXPECT_FALSE(parse(bad).ok());
  bad = json::Json::parse(j.dump());
  bad[0]["header"]["height"] = 3;  // disagrees with the encoding
  EXPECT_FALSE(parse(bad).ok());
  EXPECT_FALSE(parse(json::Json::object()).ok());
  auto empty = parse(json::Json::array());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// ---- consent proofs across changes ----

TEST(ProofAcrossChanges, VerifiesFromGenesis) {
  ChangedChain f;
  for (const std::string purpose : {"analytics", "profiling", "sms"}) {
    auto proof =
        ProveConsent(f.c.kv(), f.c.genesis(), f.subject->public_key(), f.controller, purpose);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(proof->header.height, 8u);
    EXPECT_EQ(proof->validator_changes, f.c.Changes());
    auto v = VerifyConsentProof(*proof, f.c.genesis());
    ASSERT_TRUE(v.ok()) << purpose << ": " << Why(v.status());
    EXPECT_EQ(v->status, purpose == "sms" ? ProofStatus::kNone : ProofStatus::kGranted);
    // Through JSON.
    std::string text = ConsentProofToJson(*proof);
    auto parsed = ParseConsentProof(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, *proof);
    EXPECT_TRUE(VerifyConsentProof(*parsed, f.c.genesis()).ok());
    EXPECT_EQ(json::Json::parse(text)["validator_changes"].size(), 3u);
  }
}

TEST(ProofAcrossChanges, TamperedChangesAreInvalidNamingTheCheck) {
  ChangedChain f;
  auto proof =
      ProveConsent(f.c.kv(), f.c.genesis(), f.subject->public_key(), f.controller, "analytics");
  ASSERT_TRUE(proof.ok());
  auto verify = [&](std::vector<ValidatorChange> changes) {
    ConsentProof p = *proof;
    p.validator_changes = std::move(changes);
    return VerifyConsentProof(p, f.c.genesis());
  };
  const auto all = proof->validator_changes;
  auto r = verify({all[0], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[1]: validators_hash")) << Why(r.status());
  r = verify({all[0], all[1]});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "header: validators_hash does not match the validator set reached through "
            "validator_changes");
  r = verify({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "header: validators_hash does not match the validator set of genesis (and the proof "
            "carries no validator change)");
  r = verify({all[0], all[1], all[2], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[3]: order")) << Why(r.status());
  r = verify({all[1], all[0], all[2]});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[0]: validators_hash")) << Why(r.status());
  auto wrong = all;
  wrong[2].validators = f.s2;
  r = verify(wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "validator_changes[2]: next_validators_hash")) << Why(r.status());
  // The proven header's commit by a set it does not name.
  ConsentProof p = *proof;
  p.commit = f.c.SignBy(f.s2, 8, 0, p.header.Hash(), f.s2.QuorumSize());
  r = VerifyConsentProof(p, f.c.genesis());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status(), "commit: ")) << Why(r.status());
}

TEST(ProofAcrossChanges, Checkpoint) {
  ChangedChain f;
  auto proof =
      ProveConsent(f.c.kv(), f.c.genesis(), f.subject->public_key(), f.controller, "profiling");
  ASSERT_TRUE(proof.ok());
  // The set in office at height 5 is S2 (decided at 4): the changes at 2 and 4 are skipped.
  const TrustedSet at5{5, f.s2};
  auto v = VerifyConsentProof(*proof, f.c.genesis(), std::nullopt, &at5);
  ASSERT_TRUE(v.ok()) << Why(v.status());
  ConsentProof only_after = *proof;
  only_after.validator_changes = {proof->validator_changes[2]};
  EXPECT_TRUE(VerifyConsentProof(only_after, f.c.genesis(), std::nullopt, &at5).ok());
  // ... which from genesis is missing changes.
  EXPECT_FALSE(VerifyConsentProof(only_after, f.c.genesis()).ok());
  // Skipped means skipped: changes below the checkpoint are not checked (a corrupted one passes).
  ConsentProof corrupted_below = *proof;
  corrupted_below.validator_changes[0].validators = f.s3;
  EXPECT_TRUE(VerifyConsentProof(corrupted_below, f.c.genesis(), std::nullopt, &at5).ok());
  EXPECT_FALSE(VerifyConsentProof(corrupted_below, f.c.genesis()).ok());
  // A checkpoint at a change's own height holds the set before it: the change applies.
  const TrustedSet at6{6, f.s2};
  EXPECT_TRUE(VerifyConsentProof(*proof, f.c.genesis(), std::nullopt, &at6).ok());
  // A checkpoint with the wrong set.
  const TrustedSet wrong{5, f.s1};
  auto w = VerifyConsentProof(*proof, f.c.genesis(), std::nullopt, &wrong);
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(Has(w.status(), "validator_changes[0]: validators_hash")) << Why(w.status());
  // The head itself as the checkpoint (S3 from 8): no change needed.
  const TrustedSet at8{8, f.s3};
  ConsentProof bare = *proof;
  bare.validator_changes.clear();
  EXPECT_TRUE(VerifyConsentProof(bare, f.c.genesis(), std::nullopt, &at8).ok());
  // A header below the checkpoint is refused.
  const TrustedSet at9{9, f.s3};
  auto below = VerifyConsentProof(*proof, f.c.genesis(), std::nullopt, &at9);
  ASSERT_FALSE(below.ok());
  EXPECT_TRUE(Has(below.status(), "header: height 8 is below the checkpoint's height 9"))
      << Why(below.status());
}

}  // namespace
}  // namespace consent
