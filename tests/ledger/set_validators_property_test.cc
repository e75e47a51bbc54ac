// Property test of PROTOCOL.md section 10 through the real block pipeline: random sequences of
// SET_VALIDATORS (by members, former members and outsiders, naming a few candidate sets, with
// random issue times so that stale approvals occur) and grants over several blocks, compared with
// a reference model written from the text of section 10: a MemoryState for the state rules plus
// its own count of member approvals per set. Each block: the same transactions are refused for
// the same reasons, a change is decided exactly when the model decides one (and to the same set),
// the set in office follows, and the header's state_root equals the reference SMT root of the
// model's consents and approvals (approvals removed at the end of a deciding block).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "tests/ledger/set_chain_util.h"

namespace consent {
namespace {

using testing::Approve;
using testing::MustSign;
using testing::ReferenceRoot;
using testing::SetChain;
using testing::Sorted;

// The model's decision rule, counted here (not with ChangeReachesQuorum): members of `in_office`
// whose approval names `set_hash`.
size_t MembersApproving(const MemoryState& state, const ValidatorSet& in_office,
                        const Hash32& set_hash) {
  size_t count = 0;
  for (const auto& [who, value] : state.approvals()) {
    if (value.set_hash != set_hash) continue;
    for (const PublicKey& k : in_office.keys) count += (k == who) ? 1 : 0;
  }
  return count;
}

struct Outcome {
  std::vector<std::pair<Hash32, TxRejectReason>> rejected;
  std::optional<ValidatorSet> decided;
};

// Section 10 applied to one block by the model.
Outcome ModelBlock(MemoryState* state, const ValidatorSet& in_office, uint64_t time_ms,
                   const std::vector<SignedTx>& txs) {
  Outcome out;
  std::set<Hash32> offered;
  for (const SignedTx& tx : txs) {
    // A candidate offered twice is a replay of the first, whatever became of it (BuildBlock).
    if (!offered.insert(tx.Id()).second) {
      out.rejected.emplace_back(tx.Id(), TxRejectReason::kReplay);
      continue;
    }
    BlockContext ctx{time_ms, &in_office, out.decided.has_value()};
    TxCheck check = state->Apply(ctx, tx);
    if (!check.ok()) {
      out.rejected.emplace_back(tx.Id(), check.reason);
      continue;
    }
    if (const auto* sv = std::get_if<SetValidatorsTx>(&tx.body)) {
      const Hash32 h = SetHashOf(sv->validators);
      if (MembersApproving(*state, in_office, h) >= 2 * in_office.size() / 3 + 1) {
        out.decided = ValidatorSet{sv->validators};
      }
    }
  }
  if (out.decided) state->RemoveApprovals();
  return out;
}

TEST(SetValidatorsProperty, PipelineMatchesTheSection10Model) {
  size_t decisions = 0, refusals = 0, accepted_approvals = 0;
  std::set<TxRejectReason> reasons_seen;
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    const size_t n = std::vector<size_t>{1, 3, 4, 5, 7}[seed % 5];
    SetChain c(n);
    // Everyone who may sign: the genesis set, newcomers, outsiders.
    std::vector<PublicKey> people = c.InOffice().keys;
    for (uint8_t i = 0; i < 4; ++i) people.push_back(c.NewKey(0xa1 + i).public_key());
    const SigningKey& subject = c.NewKey(0x10);
    const PublicKey controller = c.NewKey(0x30).public_key();
    MemoryState model;
    ValidatorSet in_office = c.InOffice();
    uint64_t nonce = 0;
    for (int block = 0; block < 8; ++block) {
      const uint64_t time = c.NextTime();
      // Candidate sets: drop one member, add one person, swap one; from the set in office.
      auto pick = [&](size_t m) { return static_cast<size_t>(rng() % m); };
      std::vector<std::vector<PublicKey>> candidates;
      for (int k = 0; k < 3; ++k) {
        std::vector<PublicKey> s = in_office.keys;
        const int how = static_cast<int>(pick(3));
        if (how == 0 && s.size() > 1) s.erase(s.begin() + pick(s.size()));
        if (how >= 1) {
          const PublicKey p = people[pick(people.size())];
          if (std::find(s.begin(), s.end(), p) == s.end()) {
            if (how == 2) s.erase(s.begin() + pick(s.size()));
            s.push_back(p);
          }
        }
        candidates.push_back(Sorted(s));
      }
      std::vector<SignedTx> txs;
      const size_t count = pick(7);
      for (size_t i = 0; i < count; ++i) {
        const uint64_t issued = time - 3000 + pick(3001);
        if (pick(6) == 0) {
          GrantTx g;
          g.subject = subject.public_key();
          g.controller = controller;
          g.purposes = {std::string("p") + std::to_string(pick(3))};
          g.issued_at_ms = issued;
          g.nonce = ++nonce;
          txs.push_back(MustSign(g, subject));
          continue;
        }
        // Mostly members in office, sometimes anyone.
        const PublicKey signer =
            pick(4) == 0 ? people[pick(people.size())] : in_office.keys[pick(in_office.size())];
        txs.push_back(Approve(c.Key(signer), candidates[pick(candidates.size())], issued, ++nonce));
        if (pick(10) == 0) txs.push_back(txs.back());  // a duplicate in the block
      }
      Outcome want = ModelBlock(&model, in_office, time, txs);
      auto got = c.Add(txs);
      ASSERT_TRUE(got.has_value()) << "seed " << seed << " block " << block;
      std::vector<std::pair<Hash32, TxRejectReason>> got_rejected;
      for (const RejectedTx& r : got->rejected) got_rejected.emplace_back(r.tx_id, r.reason);
      ASSERT_EQ(got_rejected, want.rejected) << "seed " << seed << " block " << block;
      const Header& h = c.headers().back();
      ASSERT_EQ(h.IsChangeBlock(), want.decided.has_value())
          << "seed " << seed << " block " << block;
      ASSERT_EQ(got->validated.next_validators, want.decided);
      ASSERT_EQ(h.state_root, ReferenceRoot(model)) << "seed " << seed << " block " << block;
      if (want.decided) {
        ++decisions;
        in_office = *want.decided;
        EXPECT_EQ(h.next_validators_hash, in_office.Hash());
      }
      ASSERT_EQ(c.InOffice(), in_office);
      refusals += want.rejected.size();
      for (const auto& [id, reason] : want.rejected) reasons_seen.insert(reason);
      for (const SignedTx& tx : got->validated.block.txs) {
        accepted_approvals += std::holds_alternative<SetValidatorsTx>(tx.body) ? 1 : 0;
      }
    }
  }
  std::printf("30 chains x 8 blocks: %zu decisions, %zu approvals committed, %zu refusals\n",
              decisions, accepted_approvals, refusals);
  // The sequences exercised what they are for.
  EXPECT_GE(decisions, 10u);
  EXPECT_GE(accepted_approvals, 50u);
  EXPECT_GE(refusals, 20u);
  for (TxRejectReason r : {TxRejectReason::kNotValidator, TxRejectReason::kStaleApproval,
                           TxRejectReason::kChangeDecided, TxRejectReason::kReplay}) {
    EXPECT_TRUE(reasons_seen.count(r)) << TxRejectReasonName(r) << " never happened";
  }
}

}  // namespace
}  // namespace consent
