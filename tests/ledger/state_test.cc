// Tests for ledger/state: state value and key encodings, every state rule at its boundaries,
// the transition (grant, revoke, revoke-all, carry-over, registration) and a randomized property
// test that no accepted transaction ever lets an older issued_at_ms overwrite a newer one.
#include "ledger/state.h"

#include <gtest/gtest.h>

#include <random>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "tx_test_util.h"

namespace consent {
namespace {

using testing::KeyFor;
using testing::kT0;
using testing::MustSign;

constexpr uint64_t kDay = 24ull * 3600 * 1000;
constexpr uint64_t kMinute = 60ull * 1000;

class StateTest : public ::testing::Test {
 protected:
  SigningKey subject_ = KeyFor(1);
  SigningKey controller_ = KeyFor(2);
  SigningKey subject2_ = KeyFor(4);

  SignedTx Grant(std::vector<std::string> purposes, uint64_t issued, uint64_t expires = 0,
                 uint8_t policy = 0xab, const SigningKey* who = nullptr) {
    const SigningKey& s = who ? *who : subject_;
    GrantTx g = testing::SampleGrant(s.public_key(), controller_.public_key());
    g.purposes = std::move(purposes);
    g.issued_at_ms = issued;
    g.expires_at_ms = expires;
    g.policy_hash.fill(policy);
    g.nonce = nonce_++;
    return MustSign(g, s);
  }
  SignedTx Revoke(std::vector<std::string> purposes, uint64_t issued) {
    RevokeTx r = testing::SampleRevoke(subject_.public_key(), controller_.public_key());
    r.purposes = std::move(purposes);
    r.issued_at_ms = issued;
    r.nonce = nonce_++;
    return MustSign(r, subject_);
  }
  SignedTx Register(std::string name, uint64_t issued) {
    RegisterControllerTx c = testing::SampleRegister(controller_.public_key());
    c.name = std::move(name);
    c.issued_at_ms = issued;
    c.nonce = nonce_++;
    return MustSign(c, controller_);
  }
  std::optional<StateValue> Get(const MemoryState& st, const std::string& purpose,
                                const SigningKey* who = nullptr) {
    const SigningKey& s = who ? *who : subject_;
    return st.GetConsent(s.public_key(), controller_.public_key(), purpose);
  }

  uint64_t nonce_ = 100;
};

TEST_F(StateTest, StateValueEncoding) {
  StateValue v{ConsentStatus::kRevoked, {}, 0x0102030405060708, 9, {}};
  v.tx_id.fill(0x11);
  v.policy_hash.fill(0x22);
  Bytes enc = v.Encode();
  ASSERT_EQ(enc.size(), 81u);
  EXPECT_EQ(enc[0], 2);
  EXPECT_EQ(enc[1], 0x11);
  EXPECT_EQ(enc[32], 0x11);
  EXPECT_EQ(ToHex(ByteView(enc.data() + 33, 8)), "0102030405060708");
  EXPECT_EQ(ToHex(ByteView(enc.data() + 41, 8)), "0000000000000009");
  EXPECT_EQ(enc[49], 0x22);
  EXPECT_EQ(enc[80], 0x22);
  EXPECT_EQ(StateValue::Decode(enc).value(), v);

  v.status = ConsentStatus::kGranted;
  EXPECT_EQ(StateValue::Decode(v.Encode()).value(), v);

  Bytes shorter(enc.begin(), enc.end() - 1);
  EXPECT_TRUE(testing::FailsWith(StateValue::Decode(shorter).status(),
                                 "state_value: expected 81 bytes, got 80"));
  Bytes longer = enc;
  longer.push_back(0);
  EXPECT_TRUE(testing::FailsWith(StateValue::Decode(longer).status(), "got 82"));
  EXPECT_FALSE(StateValue::Decode(Bytes{}).ok());
  for (uint8_t s : {0, 3, 255}) {
    Bytes e = enc;
    e[0] = s;
    EXPECT_TRUE(testing::FailsWith(
        StateValue::Decode(e).status(),
        "state_value.status: " + std::to_string(s) + " is not 1 (granted) or 2 (revoked)"));
  }
}

TEST_F(StateTest, StateKeyLayout) {
  PublicKey s = subject_.public_key(), c = controller_.public_key();
  Bytes buf;
  std::string tag = "consent-ledger/state/v1";
  buf.insert(buf.end(), tag.begin(), tag.end());
  buf.insert(buf.end(), s.begin(), s.end());
  buf.insert(buf.end(), c.begin(), c.end());
  std::string purpose = "marketing.email";
  for (int sh = 24; sh >= 0; sh -= 8) buf.push_back(static_cast<uint8_t>(purpose.size() >> sh));
  buf.insert(buf.end(), purpose.begin(), purpose.end());
  EXPECT_EQ(StateKey(s, c, purpose), Sha256(buf));
  EXPECT_NE(StateKey(s, c, "a"), StateKey(s, c, "b"));
  EXPECT_NE(StateKey(s, c, "a"), StateKey(c, s, "a"));
}

TEST_F(StateTest, TimeWindowBoundaries) {
  const uint64_t block = kT0;
  MemoryState st;
  auto check = [&](uint64_t issued) {
    return CheckStateRules(st, block, Grant({"a"}, issued)).reason;
  };
  EXPECT_EQ(check(block - 7 * kDay), TxRejectReason::kNone);
  EXPECT_EQ(check(block - 7 * kDay - 1), TxRejectReason::kTooOld);
  EXPECT_EQ(check(block + 5 * kMinute), TxRejectReason::kNone);
  EXPECT_EQ(check(block + 5 * kMinute + 1), TxRejectReason::kFromTheFuture);
  EXPECT_EQ(check(block), TxRejectReason::kNone);

  TxCheck old = CheckStateRules(st, block, Grant({"a"}, block - 7 * kDay - 1));
  EXPECT_NE(old.message.find("issued_at_ms " + std::to_string(block - 7 * kDay - 1) +
                             " is more than 7 days (604800000 ms) before the block time " +
                             std::to_string(block)),
            std::string::npos)
      << old.message;
  TxCheck future = CheckStateRules(st, block, Grant({"a"}, block + 5 * kMinute + 1));
  EXPECT_NE(future.message.find("is more than 5 minutes (300000 ms) after"), std::string::npos)
      << future.message;
  EXPECT_STREQ(TxRejectReasonName(old.reason), "too_old");
  EXPECT_STREQ(TxRejectReasonName(future.reason), "from_the_future");
}

TEST_F(StateTest, TimeWindowDoesNotWrapNearZeroOrMax) {
  MemoryState st;
  // Block times below 7 days: the lower bound is 0, not a wrapped huge number.
  EXPECT_TRUE(CheckStateRules(st, 1000, Grant({"a"}, 0)).ok());
  EXPECT_TRUE(CheckStateRules(st, 0, Grant({"a"}, 0)).ok());
  EXPECT_TRUE(CheckStateRules(st, 0, Grant({"a"}, 5 * kMinute)).ok());
  EXPECT_EQ(CheckStateRules(st, 0, Grant({"a"}, 5 * kMinute + 1)).reason,
            TxRejectReason::kFromTheFuture);
  EXPECT_TRUE(CheckStateRules(st, 7 * kDay, Grant({"a"}, 0)).ok());
  EXPECT_EQ(CheckStateRules(st, 7 * kDay + 1, Grant({"a"}, 0)).reason, TxRejectReason::kTooOld);
  // Near the top the upper bound saturates instead of wrapping round to a small number (which
  // would make the largest valid issue time look as if it came from the future).
  EXPECT_EQ(CheckStateRules(st, UINT64_MAX - 10, Grant({"a"}, kMaxTxInteger)).reason,
            TxRejectReason::kTooOld);
}

TEST_F(StateTest, Replay) {
  MemoryState st;
  SignedTx g = Grant({"a"}, kT0);
  EXPECT_TRUE(st.Apply(kT0, g).ok());
  EXPECT_TRUE(st.TxCommitted(g.Id()));
  TxCheck again = st.Apply(kT0 + 1, g);
  EXPECT_EQ(again.reason, TxRejectReason::kReplay);
  EXPECT_NE(again.message.find("tx_id " + ToHex(g.Id()) + " was already committed (replay)"),
            std::string::npos);
  // Replay of a registration and of a no-op revoke-all too.
  SignedTx r = Register("Acme", kT0);
  EXPECT_TRUE(st.Apply(kT0, r).ok());
  EXPECT_EQ(st.Apply(kT0, r).reason, TxRejectReason::kReplay);
}

TEST_F(StateTest, GrantSetsEveryPurpose) {
  MemoryState st;
  SignedTx g = Grant({"a", "b"}, kT0, kT0 + kDay, 0x33);
  ASSERT_TRUE(st.Apply(kT0, g).ok());
  for (const char* p : {"a", "b"}) {
    auto v = Get(st, p);
    ASSERT_TRUE(v.has_value()) << p;
    EXPECT_EQ(v->status, ConsentStatus::kGranted);
    EXPECT_EQ(v->tx_id, g.Id());
    EXPECT_EQ(v->issued_at_ms, kT0);
    EXPECT_EQ(v->expires_at_ms, kT0 + kDay);
    Hash32 policy;
    policy.fill(0x33);
    EXPECT_EQ(v->policy_hash, policy);
  }
  EXPECT_FALSE(Get(st, "c").has_value());
  EXPECT_EQ(st.PurposesOf(subject_.public_key(), controller_.public_key()),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(st.consents().size(), 2u);
}

TEST_F(StateTest, StaleGrantAfterRevokeIsRejected) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"marketing.email"}, 1000 + kT0)).ok());
  ASSERT_TRUE(st.Apply(kT0, Revoke({"marketing.email"}, 2000 + kT0)).ok());
  auto before = st.consents();
  SignedTx stale = Grant({"marketing.email"}, 1500 + kT0);
  TxCheck c = st.Apply(kT0, stale);
  EXPECT_EQ(c.reason, TxRejectReason::kStale);
  EXPECT_NE(c.message.find("issued_at_ms " + std::to_string(kT0 + 1500) +
                           " is not after the current state's " + std::to_string(kT0 + 2000) +
                           " for purpose marketing.email"),
            std::string::npos)
      << c.message;
  // The rule is reported beside the message ("rejected (stale): ..."): not repeated in it.
  EXPECT_EQ(c.message.find("stale"), std::string::npos) << c.message;
  EXPECT_EQ(st.consents(), before);
  EXPECT_FALSE(st.TxCommitted(stale.Id()));
  // Equal issued_at is stale too (strictly greater is required); one ms later is fine.
  EXPECT_EQ(st.Apply(kT0, Grant({"marketing.email"}, 2000 + kT0)).reason, TxRejectReason::kStale);
  EXPECT_TRUE(st.Apply(kT0, Grant({"marketing.email"}, 2001 + kT0)).ok());
  EXPECT_EQ(Get(st, "marketing.email")->status, ConsentStatus::kGranted);
}

TEST_F(StateTest, OneStalePurposeRejectsTheWholeTx) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"b"}, kT0 + 50)).ok());
  auto before = st.consents();
  TxCheck c = st.Apply(kT0, Grant({"a", "b", "c"}, kT0 + 10));
  EXPECT_EQ(c.reason, TxRejectReason::kStale);
  EXPECT_NE(c.message.find("for purpose b"), std::string::npos);
  EXPECT_EQ(st.consents(), before);
  EXPECT_FALSE(Get(st, "a").has_value());
}

TEST_F(StateTest, RevokeCarriesOverExpiryAndPolicy) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"a"}, kT0, kT0 + 30 * kDay, 0x44)).ok());
  SignedTx r = Revoke({"a"}, kT0 + 5);
  ASSERT_TRUE(st.Apply(kT0, r).ok());
  auto v = Get(st, "a").value();
  EXPECT_EQ(v.status, ConsentStatus::kRevoked);
  EXPECT_EQ(v.tx_id, r.Id());
  EXPECT_EQ(v.issued_at_ms, kT0 + 5);
  EXPECT_EQ(v.expires_at_ms, kT0 + 30 * kDay);
  Hash32 policy;
  policy.fill(0x44);
  EXPECT_EQ(v.policy_hash, policy);
  // Revoking again carries over from the revoked entry.
  SignedTx r2 = Revoke({"a"}, kT0 + 6);
  ASSERT_TRUE(st.Apply(kT0, r2).ok());
  EXPECT_EQ(Get(st, "a")->expires_at_ms, kT0 + 30 * kDay);
  EXPECT_EQ(Get(st, "a")->policy_hash, policy);
  EXPECT_EQ(Get(st, "a")->tx_id, r2.Id());
}

TEST_F(StateTest, RevokeOfAPurposeWithoutEntryWritesOne) {
  MemoryState st;
  SignedTx r = Revoke({"never.granted"}, kT0);
  ASSERT_TRUE(st.Apply(kT0, r).ok());
  auto v = Get(st, "never.granted");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, (StateValue{ConsentStatus::kRevoked, r.Id(), kT0, 0, Hash32{}}));
  // An older grant can no longer get past it.
  EXPECT_EQ(st.Apply(kT0, Grant({"never.granted"}, kT0 - 1)).reason, TxRejectReason::kStale);
}

TEST_F(StateTest, RevokeAllCoversEveryPurposeOfThePairOnly) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"a", "c"}, kT0, 0, 0x01)).ok());
  ASSERT_TRUE(st.Apply(kT0, Grant({"b"}, kT0 + 1, kT0 + kDay, 0x02)).ok());
  ASSERT_TRUE(st.Apply(kT0, Grant({"a"}, kT0, 0, 0x03, &subject2_)).ok());
  SignedTx all = Revoke({}, kT0 + 10);
  StateChanges ch = ComputeChanges(st, all);
  ASSERT_EQ(ch.consents.size(), 3u);
  EXPECT_EQ(ch.consents[0].purpose, "a");
  EXPECT_EQ(ch.consents[1].purpose, "b");
  EXPECT_EQ(ch.consents[2].purpose, "c");
  EXPECT_FALSE(ch.controller.has_value());
  ASSERT_TRUE(st.Apply(kT0, all).ok());
  for (const char* p : {"a", "b", "c"}) {
    auto v = Get(st, p).value();
    EXPECT_EQ(v.status, ConsentStatus::kRevoked) << p;
    EXPECT_EQ(v.tx_id, all.Id()) << p;
    EXPECT_EQ(v.issued_at_ms, kT0 + 10) << p;
  }
  EXPECT_EQ(Get(st, "b")->expires_at_ms, kT0 + kDay);
  EXPECT_EQ(Get(st, "b")->policy_hash[0], 0x02);
  EXPECT_EQ(Get(st, "c")->policy_hash[0], 0x01);
  // Another subject's entry is untouched.
  EXPECT_EQ(Get(st, "a", &subject2_)->status, ConsentStatus::kGranted);
}

TEST_F(StateTest, RevokeAllIsStaleIfAnyPurposeIsNewer) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"a"}, kT0)).ok());
  ASSERT_TRUE(st.Apply(kT0, Grant({"b"}, kT0 + 100)).ok());
  TxCheck c = st.Apply(kT0, Revoke({}, kT0 + 50));
  EXPECT_EQ(c.reason, TxRejectReason::kStale);
  EXPECT_NE(c.message.find("for purpose b"), std::string::npos);
  EXPECT_EQ(Get(st, "a")->status, ConsentStatus::kGranted);
}

TEST_F(StateTest, RevokeAllWithNoEntriesIsValidAndChangesNothing) {
  MemoryState st;
  SignedTx all = Revoke({}, kT0);
  EXPECT_TRUE(CheckStateRules(st, kT0, all).ok());
  EXPECT_TRUE(ComputeChanges(st, all).consents.empty());
  ASSERT_TRUE(st.Apply(kT0, all).ok());
  EXPECT_TRUE(st.consents().empty());
  EXPECT_TRUE(st.TxCommitted(all.Id()));
  EXPECT_EQ(st.Apply(kT0, all).reason, TxRejectReason::kReplay);
}

TEST_F(StateTest, ComputeChangesIsPure) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"a"}, kT0)).ok());
  auto before = st.consents();
  SignedTx r = Revoke({"a", "q"}, kT0 + 1);
  StateChanges ch = ComputeChanges(st, r);
  EXPECT_EQ(st.consents(), before);
  ASSERT_EQ(ch.consents.size(), 2u);
  EXPECT_EQ(ch.consents[0].state_key,
            StateKey(subject_.public_key(), controller_.public_key(), "a"));
  EXPECT_EQ(ch.consents[0].subject, subject_.public_key());
  EXPECT_EQ(ch.consents[0].controller, controller_.public_key());
  EXPECT_EQ(ch.consents[1].purpose, "q");
}

TEST_F(StateTest, PurposesOfIsSortedByBytes) {
  MemoryState st;
  ASSERT_TRUE(st.Apply(kT0, Grant({"m"}, kT0)).ok());
  ASSERT_TRUE(st.Apply(kT0, Grant({"b", "z"}, kT0)).ok());
  ASSERT_TRUE(st.Apply(kT0, Revoke({"-", "m"}, kT0 + 1)).ok());
  EXPECT_EQ(st.PurposesOf(subject_.public_key(), controller_.public_key()),
            (std::vector<std::string>{"-", "b", "m", "z"}));
  EXPECT_TRUE(st.PurposesOf(controller_.public_key(), subject_.public_key()).empty());
}

TEST_F(StateTest, ControllerRegistrationAndUpdate) {
  MemoryState st;
  EXPECT_FALSE(st.GetController(controller_.public_key()).has_value());
  // Grants to an unregistered controller are valid.
  EXPECT_TRUE(st.Apply(kT0, Grant({"a"}, kT0)).ok());

  SignedTx reg = Register("Acme", kT0);
  ASSERT_TRUE(st.Apply(kT0, reg).ok());
  auto e = st.GetController(controller_.public_key()).value();
  EXPECT_EQ(e.name, "Acme");
  EXPECT_EQ(e.contact_uri, "mailto:privacy@acme.example");
  EXPECT_EQ(e.issued_at_ms, kT0);
  EXPECT_EQ(e.tx_id, reg.Id());

  TxCheck same = st.Apply(kT0, Register("Acme Same Time", kT0));
  EXPECT_EQ(same.reason, TxRejectReason::kStaleRegistration);
  EXPECT_NE(same.message.find("issued_at_ms " + std::to_string(kT0) +
                              " is not after the current registration's " + std::to_string(kT0)),
            std::string::npos)
      << same.message;
  EXPECT_EQ(same.message.find("stale"), std::string::npos) << same.message;
  EXPECT_EQ(st.Apply(kT0, Register("Older", kT0 - 1)).reason, TxRejectReason::kStaleRegistration);
  EXPECT_EQ(st.GetController(controller_.public_key())->name, "Acme");

  SignedTx update = Register("Acme Renamed", kT0 + 1);
  ASSERT_TRUE(st.Apply(kT0, update).ok());
  EXPECT_EQ(st.GetController(controller_.public_key())->name, "Acme Renamed");
  EXPECT_EQ(st.GetController(controller_.public_key())->tx_id, update.Id());
  EXPECT_STREQ(TxRejectReasonName(TxRejectReason::kStaleRegistration), "stale_registration");
  EXPECT_STREQ(TxRejectReasonName(TxRejectReason::kStale), "stale");
  EXPECT_STREQ(TxRejectReasonName(TxRejectReason::kReplay), "replay");
  EXPECT_STREQ(TxRejectReasonName(TxRejectReason::kNone), "none");
}

TEST_F(StateTest, ExpiryBoundary) {
  StateValue v{ConsentStatus::kGranted, {}, 100, 200, {}};
  EXPECT_FALSE(IsExpired(v, 100));
  EXPECT_FALSE(IsExpired(v, 199));
  EXPECT_TRUE(IsExpired(v, 200));
  EXPECT_TRUE(IsExpired(v, 201));
  v.expires_at_ms = 0;
  EXPECT_FALSE(IsExpired(v, UINT64_MAX));
  v.expires_at_ms = 200;
  v.status = ConsentStatus::kRevoked;
  EXPECT_FALSE(IsExpired(v, 300));
}

// Property: over random sequences of valid and invalid transactions (stale, replayed, out of the
// time window, revoke-all, registrations), every accepted transaction strictly increases the
// issued_at_ms of each entry it writes, a rejected one changes nothing, and no entry's
// issued_at_ms ever decreases.
// The state as it is, except that no transaction counts as committed: the rules after the replay
// check, alone.
class NeverCommitted : public StateView {
 public:
  explicit NeverCommitted(const StateView& base) : base_(base) {}
  std::optional<StateValue> GetConsent(const PublicKey& s, const PublicKey& c,
                                       std::string_view p) const override {
    return base_.GetConsent(s, c, p);
  }
  std::vector<std::string> PurposesOf(const PublicKey& s, const PublicKey& c) const override {
    return base_.PurposesOf(s, c);
  }
  bool TxCommitted(const Hash32&) const override { return false; }
  std::optional<ControllerEntry> GetController(const PublicKey& c) const override {
    return base_.GetController(c);
  }
  std::optional<ApprovalValue> GetApproval(const PublicKey& v) const override {
    return base_.GetApproval(v);
  }

 private:
  const StateView& base_;
};

// The rules in their stated order: a committed tx is a replay, whatever else holds; otherwise the
// other rules decide. CheckStateRules looks the id up later for some txs (state.cc); it must give
// exactly this answer.
TxCheck InStatedOrder(const StateView& st, uint64_t block_time, const SignedTx& tx) {
  if (st.TxCommitted(tx.Id())) {
    return {TxRejectReason::kReplay, "tx_id " + ToHex(tx.Id()) + " was already committed (replay)"};
  }
  return CheckStateRules(NeverCommitted(st), block_time, tx);
}

// A revoke-all names no key, so the later rules cannot catch its replay: after a revoke-all of a
// pair without entries, a grant older than it is valid, and the revoke-all, sent again, would
// revoke that grant if the replay check did not stop it.
TEST_F(StateTest, AReplayedRevokeAllIsCaughtWhenTheOtherRulesWouldPassIt) {
  MemoryState st;
  SignedTx all = Revoke({}, kT0);
  ASSERT_TRUE(st.Apply(kT0, all).ok());
  ASSERT_TRUE(st.Apply(kT0 + 1, Grant({"a"}, kT0 - 10)).ok());  // older than the revoke-all
  EXPECT_TRUE(CheckStateRules(NeverCommitted(st), kT0 + 2, all).ok());
  EXPECT_EQ(CheckStateRules(st, kT0 + 2, all).reason, TxRejectReason::kReplay);
  EXPECT_EQ(st.Apply(kT0 + 2, all).reason, TxRejectReason::kReplay);
  EXPECT_EQ(Get(st, "a")->status, ConsentStatus::kGranted);
  // A replayed grant that is also too old by now is reported as a replay, as before.
  SignedTx g = Grant({"b"}, kT0);
  ASSERT_TRUE(st.Apply(kT0, g).ok());
  EXPECT_EQ(CheckStateRules(st, kT0 + 8 * kDay, g).reason, TxRejectReason::kReplay);
}

TEST_F(StateTest, PropertyNoOlderTxOverwritesANewerOne) {
  std::mt19937_64 rng(20240607);
  std::vector<SigningKey> subjects;
  subjects.push_back(KeyFor(1));
  subjects.push_back(KeyFor(4));
  const std::vector<std::string> kPurposes = {"a", "b", "c", "d"};
  MemoryState st;
  std::map<Hash32, uint64_t> high_water;  // per state key, the newest issued_at seen stored
  std::vector<SignedTx> history;
  uint64_t block = 10 * kDay;
  int accepted = 0, rejected = 0;
  std::map<TxRejectReason, int> reasons;

  for (int step = 0; step < 3000; ++step) {
    block += rng() % 2000;
    SignedTx tx;
    int what = static_cast<int>(rng() % 10);
    if (what == 0 && !history.empty()) {
      tx = history[rng() % history.size()];  // replay
    } else {
      const SigningKey& s = subjects[rng() % subjects.size()];
      std::vector<std::string> ps;
      for (const auto& p : kPurposes) {
        if (rng() % 3 == 0) ps.push_back(p);
      }
      // Mostly close to the block time (so staleness is common), sometimes at or just past
      // either edge of the window.
      uint64_t issued;
      switch (rng() % 16) {
        case 0:
          issued = block - 7 * kDay - 1 - rng() % 1000;  // too old
          break;
        case 1:
          issued = block + 5 * kMinute + 1 + rng() % 1000;  // from the future
          break;
        case 2:
          issued = block - 7 * kDay;  // oldest allowed
          break;
        case 3:
          issued = block + rng() % (5 * kMinute + 1);  // ahead, but allowed
          break;
        default:
          issued = block - rng() % 20000;
      }
      if (what <= 4) {
        if (ps.empty()) ps.push_back(kPurposes[rng() % 4]);
        GrantTx g = testing::SampleGrant(s.public_key(), controller_.public_key());
        g.purposes = ps;
        g.issued_at_ms = issued;
        g.expires_at_ms = rng() % 2 ? 0 : issued + 1 + rng() % kDay;
        g.nonce = rng() & kMaxTxInteger;
        tx = MustSign(g, s);
      } else if (what <= 8) {
        RevokeTx r = testing::SampleRevoke(s.public_key(), controller_.public_key());
        r.purposes = ps;  // often empty: revoke-all
        r.issued_at_ms = issued;
        r.nonce = rng() & kMaxTxInteger;
        tx = MustSign(r, s);
      } else {
        RegisterControllerTx c = testing::SampleRegister(controller_.public_key());
        c.issued_at_ms = issued;
        c.nonce = rng() & kMaxTxInteger;
        tx = MustSign(c, controller_);
      }
    }
    auto before = st.consents();
    auto ctrl_before = st.GetController(controller_.public_key());
    {
      // Same verdict and message as the rules in their stated order (the replay of a revoke-all
      // that only the lookup catches is AReplayedRevokeAllIsCaughtWhenTheOtherRulesWouldPassIt).
      const TxCheck stated = InStatedOrder(st, block, tx);
      const TxCheck got = CheckStateRules(st, block, tx);
      ASSERT_EQ(got.reason, stated.reason) << "step " << step;
      ASSERT_EQ(got.message, stated.message) << "step " << step;
    }
    TxCheck c = st.Apply(block, tx);
    if (c.ok()) {
      ++accepted;
      history.push_back(tx);
      uint64_t issued = IssuedAtOf(tx.body);
      for (const auto& [key, value] : st.consents()) {
        auto it = before.find(key);
        if (it != before.end() && it->second == value) continue;
        // Changed or new: written by this tx, strictly newer than before.
        EXPECT_EQ(value.tx_id, tx.Id());
        EXPECT_EQ(value.issued_at_ms, issued);
        if (it != before.end()) {
          EXPECT_GT(value.issued_at_ms, it->second.issued_at_ms);
        }
      }
      if (ctrl_before && std::holds_alternative<RegisterControllerTx>(tx.body)) {
        EXPECT_GT(st.GetController(controller_.public_key())->issued_at_ms,
                  ctrl_before->issued_at_ms);
      }
    } else {
      ++rejected;
      ++reasons[c.reason];
      EXPECT_FALSE(c.message.empty());
      EXPECT_EQ(st.consents(), before);
      EXPECT_EQ(st.GetController(controller_.public_key()), ctrl_before);
    }
    for (const auto& [key, value] : st.consents()) {
      uint64_t& hw = high_water[key];
      ASSERT_GE(value.issued_at_ms, hw) << "an older tx overwrote a newer entry at step " << step;
      hw = value.issued_at_ms;
    }
  }
  // The generator must exercise every outcome, or the property says little.
  EXPECT_GT(accepted, 300);
  for (auto r : {TxRejectReason::kReplay, TxRejectReason::kTooOld, TxRejectReason::kFromTheFuture,
                 TxRejectReason::kStale, TxRejectReason::kStaleRegistration}) {
    EXPECT_GT(reasons[r], 0) << TxRejectReasonName(r);
  }
}

}  // namespace
}  // namespace consent
