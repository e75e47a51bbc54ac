// Tests of node/mempool over an in-memory committed state (ledger/state.h MemoryState): each
// admission reason, dedup, capacity, state rules against committed plus pending transactions,
// the verified-signature cache (verifications are counted), the re-check after a block, and
// concurrent submitters.
#include "node/mempool.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "node_test_util.h"

namespace consent {
namespace {

using testing::KeyFromLabel;
using testing::SignedGrant;
using testing::SignedRegister;
using testing::SignedRevoke;

constexpr char kChain[] = "mempool-test";
constexpr uint64_t kNow = 1'750'000'000'000;

class MemoryCommitted : public CommittedState {
 public:
  explicit MemoryCommitted(const MemoryState& s) : s_(s) {}
  const StateView& view() const override { return s_; }
  Status error() const override { return Status::Ok(); }

 private:
  const MemoryState& s_;
};

class MempoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Mempool> Make(size_t capacity = 100, size_t threads = 2) {
    MempoolOptions o;
    o.chain_id = kChain;
    o.capacity = capacity;
    o.verify_threads = threads;
    o.clock_ms = [this] { return now_.load(); };
    return std::make_unique<Mempool>(
        o, [this] { return std::make_unique<MemoryCommitted>(committed_); });
  }
  // Commits `txs` to the in-memory state as a block at now_ would.
  void CommitToState(const std::vector<SignedTx>& txs) {
    for (const auto& tx : txs) ASSERT_TRUE(committed_.Apply(now_, tx).ok());
  }

  MemoryState committed_;
  std::atomic<uint64_t> now_{kNow};
  SigningKey brand_ = KeyFromLabel("brand");
  SigningKey alice_ = KeyFromLabel("alice");
  SigningKey bob_ = KeyFromLabel("bob");
};

TEST_F(MempoolTest, AdmissionReasons) {
  auto pool = Make();
  const PublicKey c = brand_.public_key();
  SignedTx good = SignedGrant(kChain, alice_, c, {"marketing.email"}, kNow - 1000);
  SignedTx bad_sig = SignedGrant(kChain, bob_, c, {"analytics"}, kNow - 1000);
  bad_sig.signature[5] ^= 1;
  SignedTx other_chain = SignedGrant("other-chain", bob_, c, {"ads"}, kNow - 1000);
  SignedTx malformed = SignedGrant(kChain, bob_, c, {"x"}, kNow - 1000);
  std::get<GrantTx>(malformed.body).purposes = {"b", "a"};  // not sorted
  SignedTx too_old = SignedGrant(kChain, bob_, c, {"old"}, kNow - kMaxTxAgeMs - 1);
  SignedTx future = SignedGrant(kChain, bob_, c, {"future"}, kNow + kMaxTxFutureMs + 1);
  SignedTx committed = SignedGrant(kChain, bob_, c, {"done"}, kNow - 5000);
  CommitToState({committed});

  auto out = pool->Submit({good, bad_sig, other_chain, malformed, too_old, future, committed});
  ASSERT_EQ(out.size(), 7u);
  EXPECT_TRUE(out[0].status.ok()) << out[0].status.ToString();
  EXPECT_FALSE(out[0].duplicate);
  EXPECT_EQ(out[0].tx_id, good.Id());
  EXPECT_EQ(out[1].status.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(out[2].status.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(out[3].status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out[4].status.code(), StatusCode::kRejected);
  EXPECT_EQ(out[4].rule, "too_old");
  EXPECT_EQ(out[5].status.code(), StatusCode::kRejected);
  EXPECT_EQ(out[5].rule, "from_the_future");
  EXPECT_EQ(out[6].status.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(out[6].rule, "replay");
  EXPECT_EQ(pool->size(), 1u);
  EXPECT_TRUE(pool->Contains(good.Id()));
}

// Transactions that come with their ids (IdentifiedTx: the HTTP route hashes each tx once) are
// admitted as those without; the outcomes are the same.
TEST_F(MempoolTest, TakesIdentifiedTxs) {
  auto with = Make();
  auto without = Make();
  SignedTx g = SignedGrant(kChain, alice_, brand_.public_key(), {"ads"}, kNow);
  SignedTx bad = g;
  bad.signature[0] ^= 1;
  auto a = with->Submit(Identify({g, bad, g}));
  auto b = without->Submit({g, bad, g});
  ASSERT_EQ(a.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].tx_id, b[i].tx_id);
    EXPECT_EQ(a[i].status.code(), b[i].status.code());
    EXPECT_EQ(a[i].duplicate, b[i].duplicate);
  }
  EXPECT_TRUE(a[0].status.ok());
  EXPECT_EQ(a[1].status.code(), StatusCode::kInvalidSignature);
  EXPECT_TRUE(a[2].duplicate);
  EXPECT_TRUE(with->Contains(g.Id()));
  EXPECT_FALSE(with->Contains(bad.Id()));
}

// Pending(ids) returns copies of the still-pending ones among ids, in the order asked, and skips
// unknown and committed ones (the relay queue keeps only ids and fetches the txs when due).
TEST_F(MempoolTest, PendingReturnsTheStillPendingOnesInOrder) {
  auto pool = Make();
  SignedTx a = SignedGrant(kChain, alice_, brand_.public_key(), {"ads"}, kNow);
  SignedTx b = SignedGrant(kChain, alice_, brand_.public_key(), {"email"}, kNow);
  SignedTx never = SignedGrant(kChain, alice_, brand_.public_key(), {"sms"}, kNow);
  ASSERT_TRUE(pool->Submit({a, b})[1].status.ok());
  auto got = pool->Pending({b.Id(), never.Id(), a.Id()});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].Id(), b.Id());
  EXPECT_EQ(got[1].Id(), a.Id());
  pool->OnBlockCommitted({a}, {});
  got = pool->Pending({a.Id(), b.Id()});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Id(), b.Id());
  EXPECT_TRUE(pool->Pending({}).empty());
}

TEST_F(MempoolTest, DeduplicatesAcrossAndWithinCalls) {
  auto pool = Make();
  SignedTx g = SignedGrant(kChain, alice_, brand_.public_key(), {"ads"}, kNow);
  auto a = pool->Submit({g, g});
  ASSERT_TRUE(a[0].status.ok());
  EXPECT_FALSE(a[0].duplicate);
  ASSERT_TRUE(a[1].status.ok());
  EXPECT_TRUE(a[1].duplicate);
  auto b = pool->Submit({g});
  ASSERT_TRUE(b[0].status.ok());
  EXPECT_TRUE(b[0].duplicate);
  EXPECT_EQ(pool->size(), 1u);
  EXPECT_EQ(pool->verifications(), 1u);
}

TEST_F(MempoolTest, FullPoolIsUnavailableAndSpendsNoVerification) {
  auto pool = Make(/*capacity=*/2);
  const PublicKey c = brand_.public_key();
  std::vector<SignedTx> txs;
  for (int i = 0; i < 4; ++i) {
    txs.push_back(SignedGrant(kChain, KeyFromLabel("s" + std::to_string(i)), c, {"p"}, kNow));
  }
  auto out = pool->Submit({txs[0], txs[1], txs[2]});
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_TRUE(out[1].status.ok());
  EXPECT_EQ(out[2].status.code(), StatusCode::kUnavailable);
  EXPECT_NE(out[2].status.message().find("mempool full"), std::string::npos);
  const uint64_t verified = pool->verifications();
  out = pool->Submit({txs[3]});
  EXPECT_EQ(out[0].status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(pool->verifications(), verified);  // refused before its signature was checked
  EXPECT_EQ(pool->size(), 2u);
}

TEST_F(MempoolTest, StateRulesSeePendingTransactions) {
  auto pool = Make();
  const PublicKey c = brand_.public_key();
  SignedTx grant = SignedGrant(kChain, alice_, c, {"marketing.email"}, kNow - 100);
  SignedTx stale = SignedGrant(kChain, alice_, c, {"marketing.email"}, kNow - 200);
  SignedTx revoke = SignedRevoke(kChain, alice_, c, {"marketing.email"}, kNow - 50);
  SignedTx stale_after_revoke = SignedGrant(kChain, alice_, c, {"marketing.email"}, kNow - 60);
  SignedTx other_purpose = SignedGrant(kChain, alice_, c, {"analytics"}, kNow - 200);
  auto out = pool->Submit({grant, stale, revoke, stale_after_revoke, other_purpose});
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(out[1].status.code(), StatusCode::kRejected);
  EXPECT_EQ(out[1].rule, "stale");
  EXPECT_TRUE(out[2].status.ok()) << out[2].status.ToString();
  EXPECT_EQ(out[3].rule, "stale");  // would undo the pending revoke
  EXPECT_TRUE(out[4].status.ok());

  // Across calls too, and for registrations.
  SignedTx reg = SignedRegister(kChain, brand_, "Brand", kNow - 10);
  SignedTx reg_old = SignedRegister(kChain, brand_, "Brand old", kNow - 20);
  EXPECT_TRUE(pool->Submit({reg})[0].status.ok());
  EXPECT_EQ(pool->Submit({reg_old})[0].rule, "stale_registration");
  EXPECT_EQ(pool->size(), 4u);
}

TEST_F(MempoolTest, RevokeAllSeesPendingPurposes) {
  auto pool = Make();
  const PublicKey c = brand_.public_key();
  ASSERT_TRUE(
      pool->Submit({SignedGrant(kChain, alice_, c, {"a", "b"}, kNow - 100)})[0].status.ok());
  ASSERT_TRUE(pool->Submit({SignedRevoke(kChain, alice_, c, {}, kNow - 50)})[0].status.ok());
  // The revoke-all covered the pending purposes: an older grant of "b" is stale.
  auto out = pool->Submit({SignedGrant(kChain, alice_, c, {"b"}, kNow - 70)});
  EXPECT_EQ(out[0].rule, "stale");
}

TEST_F(MempoolTest, EachSignatureIsVerifiedOnce) {
  auto pool = Make(100, 4);
  const PublicKey c = brand_.public_key();
  SignedTx bad = SignedGrant(kChain, alice_, c, {"x"}, kNow);
  bad.signature[0] ^= 0x80;
  SignedTx grant = SignedGrant(kChain, bob_, c, {"x"}, kNow);
  SignedTx stale = SignedGrant(kChain, bob_, c, {"x"}, kNow - 1);
  EXPECT_EQ(pool->Submit({bad})[0].status.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(pool->Submit({bad})[0].status.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(pool->verifications(), 1u);
  EXPECT_EQ(pool->verify_cache_hits(), 1u);
  EXPECT_TRUE(pool->Submit({grant})[0].status.ok());
  EXPECT_EQ(pool->Submit({stale})[0].rule, "stale");
  EXPECT_EQ(pool->Submit({stale})[0].rule, "stale");
  EXPECT_EQ(pool->verifications(), 3u);

  // After the grant commits, re-sending it is AlreadyExists without a new verification.
  CommitToState({grant});
  pool->OnBlockCommitted({grant}, {});
  EXPECT_EQ(pool->size(), 0u);
  auto again = pool->Submit({grant});
  EXPECT_EQ(again[0].status.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(pool->verifications(), 3u);

  // A batch fans out over the pool; each distinct tx verified exactly once.
  std::vector<SignedTx> batch;
  for (int i = 0; i < 64; ++i) {
    batch.push_back(SignedGrant(kChain, KeyFromLabel("b" + std::to_string(i)), c, {"p"}, kNow));
  }
  for (const auto& o : pool->Submit(batch)) EXPECT_TRUE(o.status.ok());
  EXPECT_EQ(pool->verifications(), 3u + 64u);
  EXPECT_EQ(pool->size(), 64u);
}

TEST_F(MempoolTest, CandidatesInArrivalOrder) {
  auto pool = Make();
  std::vector<SignedTx> txs;
  for (int i = 0; i < 5; ++i) {
    txs.push_back(SignedGrant(kChain, KeyFromLabel("o" + std::to_string(i)), brand_.public_key(),
                              {"p"}, kNow + i));
    ASSERT_TRUE(pool->Submit({txs.back()})[0].status.ok());
  }
  auto c = pool->Candidates(3);
  ASSERT_EQ(c.size(), 3u);
  // Each with its own tx id, as computed at admission.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c[i].tx(), txs[i]);
    EXPECT_EQ(c[i].id(), txs[i].Id()) << i;
  }
  EXPECT_EQ(pool->Candidates(100).size(), 5u);
  EXPECT_EQ(pool->size(), 5u);
}

TEST_F(MempoolTest, RecheckAfterBlockDropsNowInvalid) {
  auto pool = Make();
  const PublicKey c = brand_.public_key();
  SignedTx a = SignedGrant(kChain, alice_, c, {"p"}, kNow - 100);
  SignedTx b = SignedGrant(kChain, bob_, c, {"p"}, kNow - 100);
  SignedTx b2 = SignedGrant(kChain, bob_, c, {"q"}, kNow - 90);
  SignedTx carol = SignedGrant(kChain, KeyFromLabel("carol"), c, {"p"}, kNow - 100);
  SignedTx rejected = SignedGrant(kChain, KeyFromLabel("dave"), c, {"p"}, kNow - 100);
  for (const auto& o : pool->Submit({a, b, b2, carol, rejected})) ASSERT_TRUE(o.status.ok());
  // A block (say, from another proposer) commits `a` and a newer revoke of bob's "p" that this
  // pool never saw; block building rejected `rejected`.
  SignedTx revoke_b = SignedRevoke(kChain, bob_, c, {"p"}, kNow - 10);
  CommitToState({a, revoke_b});
  pool->OnBlockCommitted({a, revoke_b}, {rejected.Id()});
  EXPECT_FALSE(pool->Contains(a.Id()));
  EXPECT_FALSE(pool->Contains(rejected.Id()));
  EXPECT_FALSE(pool->Contains(b.Id()));  // now stale: dropped
  EXPECT_TRUE(pool->Contains(b2.Id()));  // same pair, still valid
  EXPECT_TRUE(pool->Contains(carol.Id()));
  EXPECT_EQ(pool->size(), 2u);
  // The rebuilt layer still holds carol's pending grant.
  EXPECT_EQ(
      pool->Submit({SignedGrant(kChain, KeyFromLabel("carol"), c, {"p"}, kNow - 200)})[0].rule,
      "stale");

  // Seven days later, what remains has aged out.
  now_ += kMaxTxAgeMs + 1000;
  pool->OnBlockCommitted({}, {});
  EXPECT_EQ(pool->size(), 0u);
}

TEST_F(MempoolTest, CloseRefusesSubmissions) {
  auto pool = Make();
  pool->Close();
  auto out = pool->Submit({SignedGrant(kChain, alice_, brand_.public_key(), {"p"}, kNow)});
  EXPECT_EQ(out[0].status.code(), StatusCode::kUnavailable);
  EXPECT_NE(out[0].status.message().find("shutting down"), std::string::npos);
  EXPECT_EQ(pool->verifications(), 0u);
}

TEST_F(MempoolTest, ConcurrentSubmitters) {
  auto pool = Make(/*capacity=*/1000, /*threads=*/3);
  const PublicKey c = brand_.public_key();
  constexpr int kThreads = 4, kPer = 40;
  std::vector<std::vector<SignedTx>> per(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPer; ++i) {
      per[t].push_back(
          SignedGrant(kChain, KeyFromLabel("c" + std::to_string(t * kPer + i)), c, {"p"}, kNow));
    }
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half singly, half as one array; and every thread also re-sends thread 0's first tx.
      for (int i = 0; i < kPer / 2; ++i) {
        for (const auto& o : pool->Submit({per[t][i], per[0][0]})) ok += o.status.ok();
      }
      std::vector<SignedTx> rest(per[t].begin() + kPer / 2, per[t].end());
      for (const auto& o : pool->Submit(rest)) ok += o.status.ok();
      (void)pool->Candidates(10);
      (void)pool->size();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(pool->size(), static_cast<size_t>(kThreads * kPer));
  EXPECT_EQ(ok.load(), kThreads * kPer + kThreads * kPer / 2);
  EXPECT_EQ(pool->verifications(), static_cast<uint64_t>(kThreads * kPer));
}

}  // namespace
}  // namespace consent

namespace consent {
namespace {

// The layer after a block is updated only where the block touched it. Property: after every
// block, the pool answers exactly as a fresh pool that is given the same pending transactions in
// the same order (the layer rebuilt from scratch), for random grants and revokes over a few
// subjects and purposes.
TEST_F(MempoolTest, LayerAfterBlocksMatchesARebuiltPool) {
  std::mt19937_64 rng(2024);
  const std::vector<std::string> subjects = {"s1", "s2", "s3", "s4"};
  const std::vector<std::string> purposes = {"p", "q", "r"};
  const PublicKey c = brand_.public_key();
  uint64_t nonce = 0;
  auto random_tx = [&] {
    const SigningKey s = KeyFromLabel(subjects[rng() % subjects.size()]);
    const uint64_t issued = now_.load() - 1000 + rng() % 900 + (++nonce % 7);
    if (rng() % 3 == 0) {
      std::vector<std::string> ps;
      if (rng() % 2 == 0) ps = {purposes[rng() % purposes.size()]};  // else: revoke all
      return SignedRevoke(kChain, s, c, ps, issued);
    }
    return SignedGrant(kChain, s, c, {purposes[rng() % purposes.size()]}, issued);
  };
  auto pool = Make(1000);
  for (int round = 0; round < 40; ++round) {
    now_ += 1000;
    std::vector<SignedTx> batch;
    for (int i = 0; i < 12; ++i) batch.push_back(random_tx());
    pool->Submit(batch);
    // A block takes the first few pending transactions; the ones the state refuses are
    // "rejected by block building".
    std::vector<SignedTx> committed;
    std::vector<Hash32> rejected;
    for (const IdentifiedTx& item : pool->Candidates(rng() % 8)) {
      const SignedTx& tx = item.tx();
      if (committed_.Apply(now_, tx).ok()) {
        committed.push_back(tx);
      } else {
        rejected.push_back(tx.Id());
      }
    }
    pool->OnBlockCommitted(committed, rejected);
    // The reference: a fresh pool given what remains, in order.
    auto reference = Make(1000);
    std::vector<SignedTx> pending;
    for (const IdentifiedTx& item : pool->Candidates(1000)) pending.push_back(item.tx());
    for (const auto& o : reference->Submit(pending)) {
      ASSERT_TRUE(o.status.ok()) << "round " << round << ": " << o.status.ToString();
    }
    // Both answer the same to new transactions.
    std::vector<SignedTx> probes;
    for (int i = 0; i < 6; ++i) probes.push_back(random_tx());
    const auto a = pool->Submit(probes);
    const auto b = reference->Submit(probes);
    for (size_t i = 0; i < probes.size(); ++i) {
      EXPECT_EQ(a[i].status.code(), b[i].status.code()) << "round " << round << " probe " << i;
      EXPECT_EQ(a[i].rule, b[i].rule) << "round " << round << " probe " << i;
    }
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace consent

namespace consent {
namespace {

Hash32 IdFromNumber(uint64_t n) {
  Hash32 h{};
  for (int i = 0; i < 8; ++i) h[i] = static_cast<uint8_t>(n >> (8 * i));
  return h;
}

// Issue 16, item 13: a flood of bad signatures evicts only other failures.
TEST(VerifiedCacheTest, AFloodOfFailuresNeverEvictsASuccess) {
  VerifiedCache cache(/*capacity=*/100, /*failure_capacity=*/10);
  for (uint64_t i = 0; i < 50; ++i) cache.Put(IdFromNumber(i), true);
  for (uint64_t i = 1000; i < 11000; ++i) {
    bool ran = false;
    EXPECT_FALSE(cache.GetOrVerify(
        IdFromNumber(i), [] { return false; }, &ran));
    EXPECT_TRUE(ran);
  }
  for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(cache.Get(IdFromNumber(i)), true) << i;
  EXPECT_EQ(cache.failures(), 10u);
  EXPECT_EQ(cache.size(), 60u);
  // The latest failures are still known (and not verified again); older ones were forgotten.
  bool ran = true;
  EXPECT_FALSE(cache.GetOrVerify(
      IdFromNumber(10999), [] { return true; }, &ran));
  EXPECT_FALSE(ran);
  EXPECT_EQ(cache.Get(IdFromNumber(1000)), std::nullopt);
  // Successes evict their own oldest only.
  for (uint64_t i = 50; i < 150; ++i) cache.Put(IdFromNumber(i), true);
  EXPECT_EQ(cache.Get(IdFromNumber(0)), std::nullopt);
  EXPECT_EQ(cache.Get(IdFromNumber(149)), true);
  EXPECT_EQ(cache.failures(), 10u);
}

TEST(VerifiedCacheTest, DefaultFailureSetIsAnEighthOfTheCapacity) {
  VerifiedCache cache(80);
  for (uint64_t i = 0; i < 100; ++i) cache.Put(IdFromNumber(i), false);
  EXPECT_EQ(cache.failures(), 10u);
}

}  // namespace
}  // namespace consent
