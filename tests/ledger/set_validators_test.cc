// Tests of SET_VALIDATORS (PROTOCOL.md sections 2 and 10): its syntax and JSON, the state rules
// (not_validator, no_change, stale_approval, change_decided, each refused with its rule's name),
// the decision rule (floor(2n/3)+1 approvals of members in office, for n = 1, 3, 4, 7), a newer
// approval replacing an older one, and the decision as the block pipeline records it over a
// MemoryKv: next_validators_hash, the new set for the next height, every approval removed before
// state_root is computed; ValidateBlock refusing a wrong next_validators_hash both ways and a
// block of the old set after a change. The randomized comparison with a reference model is in
// set_validators_property_test.cc.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/hex.h"
#include "ledger/kv_state.h"
#include "ledger/tx_json.h"
#include "tests/ledger/set_chain_util.h"

namespace consent {
namespace {

using testing::Approve;
using testing::FailsWith;
using testing::kChain;
using testing::KeyFor;
using testing::kT0;
using testing::MustSign;
using testing::ReferenceRoot;
using testing::SetChain;
using testing::Sorted;

bool Has(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

// The rejection BuildBlock reports for `id`, or kNone.
const RejectedTx* RejectionOf(const BuiltBlock& b, const Hash32& id) {
  for (const RejectedTx& r : b.rejected) {
    if (r.tx_id == id) return &r;
  }
  return nullptr;
}

// `tx`, offered after `before` in the next block of `c`, is refused by BuildBlock (reported with
// `reason`, its message naming the rule) and, put into a block anyway, by ValidateBlock (invalid_tx
// naming the rule). Changes nothing.
void ExpectRefused(const SetChain& c, const std::vector<SignedTx>& before, const SignedTx& tx,
                   TxRejectReason reason) {
  const std::string name = TxRejectReasonName(reason);
  std::vector<SignedTx> candidates = before;
  candidates.push_back(tx);
  auto built = BuildBlock(c.kv(), c.genesis(), c.Tip(), c.NextTime(), 0, candidates, kMaxBlockTxs);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const RejectedTx* r = RejectionOf(*built, tx.Id());
  ASSERT_NE(r, nullptr) << name << ": not refused";
  EXPECT_EQ(r->reason, reason) << r->message;
  EXPECT_TRUE(Has(r->message, "(" + name + ")")) << r->message;

  Block block = built->validated.block;
  block.txs.push_back(tx);
  BlockCheck check;
  auto v = ValidateBlock(c.kv(), c.genesis(), c.Tip(), block, 0, true, &check);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kInvalidTx) << check.message;
  EXPECT_TRUE(Has(check.message,
                  "invalid_tx: tx " + std::to_string(block.txs.size() - 1) + ": " + name + ": "))
      << check.message;
}

// ---- syntax and JSON ----

SetValidatorsTx SampleSet(size_t n) {
  SetValidatorsTx t;
  t.validator = KeyFor(0x61).public_key();
  for (size_t i = 0; i < n; ++i)
    t.validators.push_back(KeyFor(static_cast<uint8_t>(i + 1)).public_key());
  t.validators = Sorted(t.validators);
  t.issued_at_ms = kT0;
  t.nonce = 9;
  return t;
}

TEST(SetValidatorsSyntax, EncodingLayout) {
  SetValidatorsTx t = SampleSet(2);
  SignedTx tx = MustSign(t, KeyFor(0x61));
  Bytes enc = tx.Encode();
  ASSERT_EQ(enc.size(), 2u + 32 + 4 + 2 * 32 + 8 + 8 + 64);
  EXPECT_EQ(enc[0], 4);  // kind SET_VALIDATORS
  EXPECT_EQ(enc[1], 1);  // version
  EXPECT_EQ(ToHex(ByteView(enc.data() + 2, 32)), ToHex(t.validator));
  EXPECT_EQ(ToHex(ByteView(enc.data() + 34, 4)), "00000002");
  EXPECT_EQ(ToHex(ByteView(enc.data() + 38, 32)), ToHex(t.validators[0]));
  EXPECT_EQ(ToHex(ByteView(enc.data() + 70, 32)), ToHex(t.validators[1]));
  EXPECT_EQ(ToHex(ByteView(enc.data() + 102, 8)), "0000018bcfe56800");  // kT0
  EXPECT_EQ(ToHex(ByteView(enc.data() + 110, 8)), "0000000000000009");
  auto back = DecodeSignedTx(enc);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tx);
  EXPECT_TRUE(VerifyTxSignature(kChain, tx).ok());
  EXPECT_FALSE(VerifyTxSignature("other-chain", tx).ok());
  EXPECT_EQ(KindOf(tx.body), TxKind::kSetValidators);
  EXPECT_STREQ(TxKindName(TxKind::kSetValidators), "set_validators");
  EXPECT_EQ(SignerOf(tx.body), t.validator);
  // Signed by another key than the validator named: refused.
  EXPECT_FALSE(SignTx(kChain, t, KeyFor(0x62)).ok());
}

TEST(SetValidatorsSyntax, KeyCountAndOrder) {
  EXPECT_TRUE(CheckSyntax(SampleSet(1)).ok());
  EXPECT_TRUE(CheckSyntax(SampleSet(kMaxSetValidators)).ok());
  EXPECT_TRUE(
      FailsWith(CheckSyntax(SampleSet(0)), "validators: SET_VALIDATORS needs 1..64 keys, got 0"));
  EXPECT_TRUE(FailsWith(CheckSyntax(SampleSet(kMaxSetValidators + 1)),
                        "validators: SET_VALIDATORS needs 1..64 keys, got 65"));
  SetValidatorsTx unsorted = SampleSet(3);
  std::swap(unsorted.validators[1], unsorted.validators[2]);
  EXPECT_TRUE(FailsWith(CheckSyntax(unsorted),
                        "validators[2]: keys must be in strictly ascending byte order"));
  SetValidatorsTx duplicate = SampleSet(3);
  duplicate.validators[1] = duplicate.validators[0];
  EXPECT_TRUE(FailsWith(CheckSyntax(duplicate),
                        "validators[1]: keys must be in strictly ascending "
                        "byte order, no duplicates"));
  SetValidatorsTx big = SampleSet(1);
  big.issued_at_ms = uint64_t{1} << 53;
  EXPECT_FALSE(CheckSyntax(big).ok());
  // The decoder applies the same rules to bytes (EncodeBody writes them regardless).
  for (const SetValidatorsTx& bad : {SampleSet(0), SampleSet(65), unsorted, duplicate}) {
    Bytes enc = EncodeBody(bad);
    enc.resize(enc.size() + 64);
    auto r = DecodeSignedTx(enc);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(Has(r.status().message(), "validators")) << r.status().ToString();
  }
  EXPECT_FALSE(SignTx(kChain, unsorted, KeyFor(0x61)).ok());
  // A count that promises more keys than the bytes hold.
  Bytes enc = MustSign(SampleSet(2), KeyFor(0x61)).Encode();
  enc[37] = 3;
  EXPECT_FALSE(DecodeSignedTx(enc).ok());
}

TEST(SetValidatorsJson, RoundTripBothForms) {
  SignedTx tx = MustSign(SampleSet(3), KeyFor(0x61));
  nlohmann::ordered_json j = TxToJson(tx);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"kind", "validator", "validators", "issued_at_ms",
                                            "nonce", "signature"}));
  EXPECT_EQ(j["kind"], "set_validators");
  EXPECT_EQ(j["validators"].size(), 3u);
  EXPECT_EQ(j["validators"][0], ToHex(std::get<SetValidatorsTx>(tx.body).validators[0]));
  auto back = TxFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tx);
  auto from_enc = TxFromJson(TxToJsonEncoding(tx));
  ASSERT_TRUE(from_enc.ok()) << from_enc.status().ToString();
  EXPECT_EQ(*from_enc, tx);
  auto from_text = TxFromJsonText(j.dump());
  ASSERT_TRUE(from_text.ok());
  EXPECT_EQ(from_text->Encode(), tx.Encode());
}

TEST(SetValidatorsJson, Errors) {
  const nlohmann::json good = nlohmann::json(TxToJson(MustSign(SampleSet(3), KeyFor(0x61))));
  auto fails = [](const nlohmann::json& j, const std::string& what) {
    auto r = TxFromJson(j);
    if (r.ok()) return ::testing::AssertionFailure() << "accepted: " << j.dump();
    return FailsWith(r.status(), what);
  };
  nlohmann::json j = good;
  j.erase("validators");
  EXPECT_TRUE(fails(j, "validators"));
  j = good;
  j["validators"] = "00";
  EXPECT_TRUE(fails(j, "validators"));
  j = good;
  j["validators"] = nlohmann::json::array();
  EXPECT_TRUE(fails(j, "validators"));
  j = good;
  j["validators"][1] = "zz";
  EXPECT_TRUE(fails(j, "validators[1]"));
  j = good;
  j["validators"][1] = "abcd";
  EXPECT_TRUE(fails(j, "validators[1]"));
  j = good;
  j["validators"][1] = 5;
  EXPECT_TRUE(fails(j, "validators[1]"));
  j = good;
  std::swap(j["validators"][0], j["validators"][1]);
  EXPECT_TRUE(fails(j, "ascending"));
  j = good;
  j["validators"][1] = j["validators"][0];
  EXPECT_TRUE(fails(j, "ascending"));
  j = good;
  for (int i = 0; i < 70; ++i) j["validators"].push_back(j["validators"][0]);
  EXPECT_TRUE(fails(j, "validators"));
  j = good;
  j["subject"] = j["validator"];
  EXPECT_TRUE(fails(j, "subject"));
  j = good;
  j.erase("validator");
  EXPECT_TRUE(fails(j, "validator"));
  j = good;
  j["nonce"] = -1;
  EXPECT_TRUE(fails(j, "nonce"));
  j = good;
  j["kind"] = "set_validator";
  EXPECT_TRUE(fails(j, "kind"));
  // Fewer keys, still ascending: decodes (the signature is VerifyTxSignature's business) but the
  // signature no longer verifies.
  j = good;
  j["validators"].erase(1);
  auto fewer = TxFromJson(j);
  ASSERT_TRUE(fewer.ok());
  EXPECT_FALSE(VerifyTxSignature(kChain, *fewer).ok());
}

// ---- the decision rule through the pipeline ----

class QuorumTest : public ::testing::TestWithParam<size_t> {};
INSTANTIATE_TEST_SUITE_P(SetSizes, QuorumTest, ::testing::Values(1, 3, 4, 7));

// floor(2n/3)+1 approvals of members decide; one fewer does not. The new set (ascending order)
// commits the next height, the old one the deciding height, and every approval is gone.
TEST_P(QuorumTest, ChangeNeedsTwoThirdsPlusOneMembers) {
  const size_t n = GetParam();
  SetChain c(n);
  const ValidatorSet old = c.InOffice();
  const size_t expected_quorum = n == 1 ? 1 : n == 3 ? 3 : n == 4 ? 3 : 5;
  ASSERT_EQ(old.QuorumSize(), expected_quorum);
  std::vector<PublicKey> target = old.keys;
  target.push_back(c.NewKey(0xa1).public_key());
  const ValidatorSet want{Sorted(target)};

  // One approval per block: each of the first quorum - 1 leaves the set in office.
  for (size_t i = 0; i + 1 < expected_quorum; ++i) {
    auto b = c.Add({Approve(c.Key(old.keys[i]), target, c.NextTime() - 10, i)});
    ASSERT_TRUE(b.has_value());
    ASSERT_TRUE(b->rejected.empty()) << b->rejected[0].message;
    const Header& h = c.headers().back();
    EXPECT_FALSE(h.IsChangeBlock()) << "decided after " << i + 1 << " of " << n;
    EXPECT_EQ(h.next_validators_hash, old.Hash());
    EXPECT_FALSE(b->validated.next_validators.has_value());
    EXPECT_EQ(c.InOffice(), old);
    auto approvals = ReadApprovals(c.kv());
    ASSERT_TRUE(approvals.ok());
    EXPECT_EQ(approvals->size(), i + 1);
  }
  auto decided = c.Add({Approve(c.Key(old.keys[expected_quorum - 1]), target, c.NextTime() - 10)});
  ASSERT_TRUE(decided.has_value());
  ASSERT_TRUE(decided->rejected.empty());
  const Header& h = c.headers().back();
  EXPECT_TRUE(h.IsChangeBlock());
  EXPECT_EQ(h.validators_hash, old.Hash());
  EXPECT_EQ(h.next_validators_hash, want.Hash());
  EXPECT_EQ(h.next_validators_hash, SetHashOf(Sorted(target)));
  ASSERT_TRUE(decided->validated.next_validators.has_value());
  EXPECT_EQ(*decided->validated.next_validators, want);
  EXPECT_EQ(c.SetAt(h.height), old);
  EXPECT_EQ(c.SetAt(h.height + 1), want);
  EXPECT_EQ(c.SetAt(h.height + 100), want);
  auto approvals = ReadApprovals(c.kv());
  ASSERT_TRUE(approvals.ok());
  EXPECT_TRUE(approvals->empty());
  KvStateView view(c.kv());
  for (const PublicKey& k : old.keys) EXPECT_FALSE(view.GetApproval(k).has_value());
  // With every approval gone, the state is empty again: the root of the empty tree.
  EXPECT_EQ(h.state_root, Hash32{});
  auto changes = ReadSetChanges(c.kv());
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].from_height, h.height + 1);

  // The next height is committed by the new set, with its proposer order (ascending keys).
  auto next = c.Add({});
  ASSERT_TRUE(next.has_value());
  const Header& h2 = c.headers().back();
  EXPECT_EQ(h2.validators_hash, want.Hash());
  EXPECT_EQ(h2.next_validators_hash, want.Hash());
  EXPECT_EQ(h2.proposer, want.Proposer(h2.height, 0));
  EXPECT_EQ(next->validated.validators, want);
  EXPECT_EQ(c.commits().back().signatures.size(), want.QuorumSize());
}

// The decision rule at the state level: approvals of keys outside the set in office never count,
// however many there are.
TEST(SetValidatorsRules, ApprovalsOfNonMembersNeverCount) {
  std::vector<PublicKey> members, outsiders;
  for (uint8_t i = 0; i < 4; ++i) members.push_back(KeyFor(0x61 + i).public_key());
  for (uint8_t i = 0; i < 4; ++i) outsiders.push_back(KeyFor(0xc1 + i).public_key());
  const ValidatorSet in_office{members};
  std::vector<PublicKey> all = members;
  all.insert(all.end(), outsiders.begin(), outsiders.end());
  const ValidatorSet wider{all};  // lets the outsiders' approvals into the state
  const std::vector<PublicKey> target = {members[0], members[1], outsiders[0]};
  const Hash32 target_hash = SetHashOf(Sorted(target));

  MemoryState state;
  const BlockContext as_wider{kT0, &wider, false};
  for (uint8_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(state.Apply(as_wider, Approve(KeyFor(0xc1 + i), target, kT0 - 10)).ok());
  }
  ASSERT_TRUE(state.Apply(as_wider, Approve(KeyFor(0x61), target, kT0 - 10)).ok());
  ASSERT_TRUE(state.Apply(as_wider, Approve(KeyFor(0x62), target, kT0 - 10)).ok());
  EXPECT_EQ(state.approvals().size(), 6u);
  // 6 approvals of target, 2 of them by members of the 4-set: below its quorum of 3.
  EXPECT_FALSE(ChangeReachesQuorum(state, in_office, target_hash));
  // An outsider cannot approve against the set in office.
  MemoryState fresh;
  TxCheck outsider =
      fresh.Apply(BlockContext{kT0, &in_office, false}, Approve(KeyFor(0xc1), target, kT0 - 10));
  EXPECT_EQ(outsider.reason, TxRejectReason::kNotValidator);
  // The third member decides.
  ASSERT_TRUE(
      state.Apply(BlockContext{kT0, &in_office, false}, Approve(KeyFor(0x63), target, kT0 - 9))
          .ok());
  EXPECT_TRUE(ChangeReachesQuorum(state, in_office, target_hash));
  EXPECT_FALSE(ChangeReachesQuorum(state, in_office, SetHashOf(Sorted(members))));
  // At the decision every approval goes, the outsiders' too.
  state.RemoveApprovals();
  EXPECT_TRUE(state.approvals().empty());
  for (const PublicKey& k : all) EXPECT_FALSE(state.GetApproval(k).has_value());
}

// Through the pipeline: a member's approval of a losing set is removed at the decision too, and
// a block of approvals naming several sets decides only the one that reaches a quorum.
TEST(SetValidatorsPipeline, EveryApprovalIsRemovedAtTheDecision) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  const PublicKey n1 = c.NewKey(0xa1).public_key();
  const std::vector<PublicKey> s1 = {old.keys[1], old.keys[2], old.keys[3], n1};
  const std::vector<PublicKey> s2 = {old.keys[0], old.keys[1], old.keys[2]};
  auto b1 = c.Add({Approve(c.Key(old.keys[3]), s2, c.NextTime() - 5),
                   Approve(c.Key(old.keys[0]), s1, c.NextTime() - 4)});
  ASSERT_TRUE(b1 && b1->rejected.empty());
  EXPECT_FALSE(c.headers().back().IsChangeBlock());
  EXPECT_EQ(ReadApprovals(c.kv())->size(), 2u);
  auto b2 = c.Add({Approve(c.Key(old.keys[1]), s1, c.NextTime() - 5),
                   Approve(c.Key(old.keys[2]), s1, c.NextTime() - 4)});
  ASSERT_TRUE(b2 && b2->rejected.empty());
  EXPECT_TRUE(c.headers().back().IsChangeBlock());
  EXPECT_EQ(c.InOffice(), ValidatorSet{Sorted(s1)});
  EXPECT_TRUE(ReadApprovals(c.kv())->empty());  // old.keys[3]'s approval of s2 too
  EXPECT_EQ(c.headers().back().state_root, Hash32{});
}

// ---- refusals, each with its rule's name ----

TEST(SetValidatorsRules, NotValidator) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  const SigningKey& outsider = c.NewKey(0xc1);
  std::vector<PublicKey> target = old.keys;
  target[0] = outsider.public_key();
  ExpectRefused(c, {}, Approve(outsider, target, c.NextTime() - 10), TxRejectReason::kNotValidator);
  // After a change, a key that left is an outsider too, and a key that joined may approve.
  std::vector<PublicKey> next = old.keys;
  next[0] = outsider.public_key();
  ASSERT_TRUE(c.Add({Approve(c.Key(old.keys[1]), next, c.NextTime() - 10),
                     Approve(c.Key(old.keys[2]), next, c.NextTime() - 9),
                     Approve(c.Key(old.keys[3]), next, c.NextTime() - 8)}));
  ASSERT_TRUE(c.headers().back().IsChangeBlock());
  std::vector<PublicKey> back = old.keys;
  ExpectRefused(c, {}, Approve(c.Key(old.keys[0]), back, c.NextTime() - 10),
                TxRejectReason::kNotValidator);
  auto ok = c.Add({Approve(outsider, back, c.NextTime() - 10)});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->rejected.empty());
}

TEST(SetValidatorsRules, NoChange) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  // The genesis set keeps genesis order; a SET_VALIDATORS names keys in ascending order, so it
  // can name the genesis set's hash only when genesis order is ascending. Otherwise naming the
  // same keys is a change of the proposer order, which the protocol allows (docs/protocol.md).
  const bool genesis_ascending = Sorted(old.keys) == old.keys;
  if (genesis_ascending) {
    ExpectRefused(c, {}, Approve(c.Key(old.keys[0]), old.keys, c.NextTime() - 10),
                  TxRejectReason::kNoChange);
  }
  // After a change the set in office is ascending: naming it again is no_change.
  std::vector<PublicKey> next = old.keys;
  next.pop_back();
  ASSERT_TRUE(c.Add({Approve(c.Key(old.keys[0]), next, c.NextTime() - 10),
                     Approve(c.Key(old.keys[1]), next, c.NextTime() - 9),
                     Approve(c.Key(old.keys[2]), next, c.NextTime() - 8)}));
  ASSERT_TRUE(c.headers().back().IsChangeBlock());
  ExpectRefused(c, {}, Approve(c.Key(next[0]), next, c.NextTime() - 10), TxRejectReason::kNoChange);
}

// A set in office in descending key order (as a genesis set may be): the same keys in ascending
// order are another set (another proposer order), so approving them is a change, not no_change.
TEST(SetValidatorsRules, SameKeysInAnotherOrderAreAChange) {
  std::vector<uint8_t> seeds = {0x61, 0x62, 0x63};
  std::sort(seeds.begin(), seeds.end(),
            [](uint8_t a, uint8_t b) { return KeyFor(b).public_key() < KeyFor(a).public_key(); });
  std::vector<PublicKey> desc;
  for (uint8_t s : seeds) desc.push_back(KeyFor(s).public_key());
  const ValidatorSet in_office{desc};
  ASSERT_NE(Sorted(desc), desc);
  MemoryState state;
  TxCheck t =
      state.Apply(BlockContext{kT0, &in_office, false}, Approve(KeyFor(seeds[0]), desc, kT0 - 10));
  EXPECT_TRUE(t.ok()) << t.message;
  EXPECT_NE(SetHashOf(Sorted(desc)), in_office.Hash());
  const ValidatorSet ascending{Sorted(desc)};
  TxCheck same = MemoryState().Apply(BlockContext{kT0, &ascending, false},
                                     Approve(KeyFor(seeds[0]), desc, kT0 - 10));
  EXPECT_EQ(same.reason, TxRejectReason::kNoChange);
  EXPECT_TRUE(Has(same.message, "(no_change)")) << same.message;
}

TEST(SetValidatorsRules, StaleApprovalAndNewerReplaces) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  const PublicKey n1 = c.NewKey(0xa1).public_key();
  std::vector<PublicKey> s1 = old.keys;
  s1.push_back(n1);
  std::vector<PublicKey> s2 = old.keys;
  s2.pop_back();
  const uint64_t t1 = c.NextTime() - 10;
  SignedTx first = Approve(c.Key(old.keys[0]), s1, t1, 1);
  ASSERT_TRUE(c.Add({first}));
  auto rec = ReadApproval(c.kv(), old.keys[0]);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->set_hash, SetHashOf(Sorted(s1)));
  EXPECT_EQ((*rec)->tx_id, first.Id());
  EXPECT_EQ((*rec)->issued_at_ms, t1);
  // Not newer: the same issued_at (another set, another nonce) or an older one.
  ExpectRefused(c, {}, Approve(c.Key(old.keys[0]), s2, t1, 2), TxRejectReason::kStaleApproval);
  ExpectRefused(c, {}, Approve(c.Key(old.keys[0]), s2, t1 - 1, 3), TxRejectReason::kStaleApproval);
  // Within one block: the second of two approvals by one signer must be newer than the first.
  ExpectRefused(c, {Approve(c.Key(old.keys[1]), s1, t1 + 5, 4)},
                Approve(c.Key(old.keys[1]), s2, t1 + 5, 5), TxRejectReason::kStaleApproval);
  // Newer: replaces the approval (and its set).
  SignedTx second = Approve(c.Key(old.keys[0]), s2, t1 + 1, 6);
  auto b = c.Add({second});
  ASSERT_TRUE(b && b->rejected.empty());
  rec = ReadApproval(c.kv(), old.keys[0]);
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->set_hash, SetHashOf(Sorted(s2)));
  EXPECT_EQ((*rec)->tx_id, second.Id());
  EXPECT_EQ(ReadApprovals(c.kv())->size(), 1u);
  // old.keys[0] no longer approves s1: two more approvals of s1 do not decide (2 of 3).
  auto b2 = c.Add({Approve(c.Key(old.keys[1]), s1, c.NextTime() - 5),
                   Approve(c.Key(old.keys[2]), s1, c.NextTime() - 4)});
  ASSERT_TRUE(b2 && b2->rejected.empty());
  EXPECT_FALSE(c.headers().back().IsChangeBlock());
  // Its newer approval of s1 again decides.
  auto b3 = c.Add({Approve(c.Key(old.keys[0]), s1, c.NextTime() - 5)});
  ASSERT_TRUE(b3 && b3->rejected.empty());
  EXPECT_TRUE(c.headers().back().IsChangeBlock());
  EXPECT_EQ(c.InOffice(), ValidatorSet{Sorted(s1)});
}

TEST(SetValidatorsRules, ChangeDecidedRefusesLaterApprovalsOfTheBlock) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  std::vector<PublicKey> s1 = old.keys;
  s1.pop_back();
  std::vector<PublicKey> s2 = old.keys;
  s2.erase(s2.begin());
  const uint64_t t = c.NextTime() - 10;
  const std::vector<SignedTx> deciding = {Approve(c.Key(old.keys[0]), s1, t),
                                          Approve(c.Key(old.keys[1]), s1, t),
                                          Approve(c.Key(old.keys[2]), s1, t)};
  ExpectRefused(c, deciding, Approve(c.Key(old.keys[3]), s2, t), TxRejectReason::kChangeDecided);
  ExpectRefused(c, deciding, Approve(c.Key(old.keys[3]), s1, t), TxRejectReason::kChangeDecided);
  // Other kinds still go into the deciding block after the decision.
  const SigningKey& subject = c.NewKey(0x10);
  const SigningKey& controller = c.NewKey(0x30);
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = controller.public_key();
  g.purposes = {"analytics"};
  g.issued_at_ms = t;
  std::vector<SignedTx> with_grant = deciding;
  with_grant.push_back(MustSign(g, subject));
  auto b = c.Add(with_grant);
  ASSERT_TRUE(b && b->rejected.empty());
  EXPECT_TRUE(c.headers().back().IsChangeBlock());
}

// The rules' order: replay first. A SET_VALIDATORS whose approval was removed at a decision is
// still a replay (the replay shortcut of the other kinds does not apply to it).
TEST(SetValidatorsRules, ReplayAfterItsApprovalWasRemoved) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  std::vector<PublicKey> s1 = old.keys;
  s1.pop_back();
  const uint64_t t = c.NextTime() - 10;
  SignedTx a0 = Approve(c.Key(old.keys[0]), s1, t);
  ASSERT_TRUE(c.Add({a0, Approve(c.Key(old.keys[1]), s1, t), Approve(c.Key(old.keys[2]), s1, t)}));
  ASSERT_TRUE(c.headers().back().IsChangeBlock());
  ASSERT_FALSE(ReadApproval(c.kv(), old.keys[0])->has_value());
  // The committed tx is refused as a replay (before no_change, which it would also break now).
  ExpectRefused(c, {}, a0, TxRejectReason::kReplay);
}

// ---- the decision as recorded ----

// next_validators_hash, the set for the next height and the state root: the root after the
// deciding block is the root of the reference state (consents and approvals) with the approvals
// removed, and differs from the root with them.
TEST(SetValidatorsPipeline, DecisionIsRecordedAndTheRootHasNoApprovals) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  const SigningKey& subject = c.NewKey(0x10);
  const SigningKey& controller = c.NewKey(0x30);
  auto grant = [&](uint64_t issued, std::string purpose) {
    GrantTx g;
    g.subject = subject.public_key();
    g.controller = controller.public_key();
    g.purposes = {std::move(purpose)};
    g.issued_at_ms = issued;
    return MustSign(g, subject);
  };
  std::vector<PublicKey> s1 = old.keys;
  s1[3] = c.NewKey(0xa1).public_key();
  MemoryState ref;
  ValidatorSet in_office = old;
  // Block 1: a grant and one approval. Block 2: a grant, two approvals (decides), a grant.
  std::vector<std::vector<SignedTx>> blocks = {
      {grant(c.NextTime() - 20, "analytics"), Approve(c.Key(old.keys[0]), s1, c.NextTime() - 19)},
      {grant(c.TimeOf(2) - 20, "marketing.email"),
       Approve(c.Key(old.keys[1]), s1, c.TimeOf(2) - 19),
       Approve(c.Key(old.keys[2]), s1, c.TimeOf(2) - 18), grant(c.TimeOf(2) - 17, "profiling")}};
  for (size_t i = 0; i < blocks.size(); ++i) {
    const uint64_t time = c.NextTime();
    for (const SignedTx& tx : blocks[i]) {
      ASSERT_TRUE(ref.Apply(BlockContext{time, &in_office, false}, tx).ok());
    }
    const Hash32 with_approvals = ReferenceRoot(ref);
    auto b = c.Add(blocks[i]);
    ASSERT_TRUE(b && b->rejected.empty());
    const Header& h = c.headers().back();
    if (i == 0) {
      EXPECT_FALSE(h.IsChangeBlock());
      EXPECT_EQ(h.state_root, with_approvals);
      EXPECT_EQ(ref.approvals().size(), 1u);
    } else {
      EXPECT_TRUE(h.IsChangeBlock());
      EXPECT_EQ(ref.approvals().size(), 3u);
      EXPECT_NE(h.state_root, with_approvals);
      ref.RemoveApprovals();
      EXPECT_EQ(h.state_root, ReferenceRoot(ref));
      EXPECT_EQ(h.next_validators_hash, SetHashOf(Sorted(s1)));
      EXPECT_EQ(c.SetAt(h.height + 1).keys, Sorted(s1));
    }
  }
  // The validators column holds the new set under its first height, and no approval.
  size_t set_records = 0, approval_records = 0;
  ASSERT_TRUE(c.kv()
                  .Scan(Column::kValidators, {}, {},
                        [&](ByteView k, ByteView) {
                          (k[0] == 's' ? set_records : approval_records)++;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(set_records, 1u);
  EXPECT_EQ(approval_records, 0u);
}

TEST(SetValidatorsPipeline, WrongNextValidatorsHashBothWays) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  std::vector<PublicKey> s1 = old.keys;
  s1.pop_back();
  const uint64_t t = c.NextTime() - 10;
  // Decided but not claimed.
  auto built = BuildBlock(c.kv(), c.genesis(), c.Tip(), c.NextTime(), 0,
                          {Approve(c.Key(old.keys[0]), s1, t), Approve(c.Key(old.keys[1]), s1, t),
                           Approve(c.Key(old.keys[2]), s1, t)},
                          kMaxBlockTxs);
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(built->validated.block.header.IsChangeBlock());
  Block unclaimed = built->validated.block;
  unclaimed.header.next_validators_hash = unclaimed.header.validators_hash;
  BlockCheck check;
  EXPECT_FALSE(ValidateBlock(c.kv(), c.genesis(), c.Tip(), unclaimed, 0, true, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongNextValidatorsHash);
  EXPECT_TRUE(Has(check.message, "wrong_next_validators_hash: ")) << check.message;
  EXPECT_TRUE(Has(check.message, "(this block decides a validator set change)")) << check.message;
  // Decided, but naming another set.
  Block other = built->validated.block;
  other.header.next_validators_hash = SetHashOf(Sorted(old.keys));
  EXPECT_FALSE(ValidateBlock(c.kv(), c.genesis(), c.Tip(), other, 0, true, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongNextValidatorsHash);
  // Claimed but not decided: two approvals only.
  auto two = BuildBlock(c.kv(), c.genesis(), c.Tip(), c.NextTime(), 0,
                        {Approve(c.Key(old.keys[0]), s1, t), Approve(c.Key(old.keys[1]), s1, t)},
                        kMaxBlockTxs);
  ASSERT_TRUE(two.ok());
  ASSERT_FALSE(two->validated.block.header.IsChangeBlock());
  Block claimed = two->validated.block;
  claimed.header.next_validators_hash = SetHashOf(Sorted(s1));
  EXPECT_FALSE(ValidateBlock(c.kv(), c.genesis(), c.Tip(), claimed, 0, true, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongNextValidatorsHash);
  EXPECT_TRUE(Has(check.message, "(this block decides no change)")) << check.message;
  // An empty block claiming a change.
  auto empty = BuildBlock(c.kv(), c.genesis(), c.Tip(), c.NextTime(), 0, {}, kMaxBlockTxs);
  ASSERT_TRUE(empty.ok());
  Block claims = empty->validated.block;
  claims.header.next_validators_hash[0] ^= 1;
  EXPECT_FALSE(ValidateBlock(c.kv(), c.genesis(), c.Tip(), claims, 0, true, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongNextValidatorsHash);
  // The unaltered blocks pass.
  EXPECT_TRUE(
      ValidateBlock(c.kv(), c.genesis(), c.Tip(), built->validated.block, 0, true, &check).ok());
  EXPECT_TRUE(
      ValidateBlock(c.kv(), c.genesis(), c.Tip(), two->validated.block, 0, true, &check).ok());
}

// After a change, the old set can neither name itself in the next header nor commit it.
TEST(SetValidatorsPipeline, OldSetCannotCommitAfterTheChange) {
  SetChain c(4);
  const ValidatorSet old = c.InOffice();
  std::vector<PublicKey> s1 = {old.keys[1], old.keys[2], old.keys[3], c.NewKey(0xa1).public_key()};
  const uint64_t t = c.NextTime() - 10;
  ASSERT_TRUE(c.Add({Approve(c.Key(old.keys[0]), s1, t), Approve(c.Key(old.keys[1]), s1, t),
                     Approve(c.Key(old.keys[2]), s1, t)}));
  ASSERT_TRUE(c.headers().back().IsChangeBlock());
  const ValidatorSet now{Sorted(s1)};
  ASSERT_EQ(c.InOffice(), now);

  auto built = BuildBlock(c.kv(), c.genesis(), c.Tip(), c.NextTime(), 0, {}, kMaxBlockTxs);
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(built->validated.block.header.validators_hash, now.Hash());
  EXPECT_EQ(built->validated.validators, now);
  // A header naming the old set.
  Block stale = built->validated.block;
  stale.header.validators_hash = old.Hash();
  stale.header.next_validators_hash = old.Hash();
  stale.header.proposer = old.Proposer(stale.header.height, 0);
  BlockCheck check;
  EXPECT_FALSE(ValidateBlock(c.kv(), c.genesis(), c.Tip(), stale, 0, true, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongValidatorsHash) << check.message;
  EXPECT_TRUE(Has(check.message, "wrong_validators_hash: ")) << check.message;
  // The auditor's check refuses it with either set.
  Commit by_old = c.SignBy(old, stale.header.height, 0, stale.header.Hash(), old.QuorumSize());
  EXPECT_FALSE(CheckCertifiedHeader(c.genesis(), old, c.Tip(), stale.header, by_old, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongValidatorsHash);
  // The right block with a commit by the old set's quorum (old.keys[0] left).
  auto validated =
      ValidateBlock(c.kv(), c.genesis(), c.Tip(), built->validated.block, 0, true, &check);
  ASSERT_TRUE(validated.ok()) << validated.status().ToString();
  const Header& h = validated->block.header;
  Commit old_commit = c.SignBy(old, h.height, 0, validated->block_hash, old.QuorumSize());
  auto refused = FinalizeBlock(c.genesis(), *validated, old_commit);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(Has(refused.status().message(), "bad_commit: ")) << refused.status().ToString();
  EXPECT_TRUE(Has(refused.status().message(), "is not in the validator set of height"))
      << refused.status().ToString();
  EXPECT_FALSE(CheckCertifiedHeader(c.genesis(), now, c.Tip(), h, old_commit, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kBadCommit);
  // The new set's quorum commits it.
  Commit new_commit = c.SignBy(now, h.height, 0, validated->block_hash, now.QuorumSize());
  EXPECT_TRUE(FinalizeBlock(c.genesis(), *validated, new_commit).ok());
  EXPECT_TRUE(CheckCertifiedHeader(c.genesis(), now, c.Tip(), h, new_commit, &check).ok())
      << check.message;
}

}  // namespace
}  // namespace consent
