// FairVerifier (node/fair_verify.h): batches of several clients are verified round-robin, a
// chunk per turn, so a client with a long backlog does not delay another's single transaction;
// the per-client and total bounds refuse with kRejected (429) and kUnavailable (503); Close
// answers what is unfinished.
#include "node/fair_verify.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace consent {
namespace {

// A batch of n transactions whose signatures' first bytes name the client (byte 0) and the
// position (bytes 1-2); each comes with its own id.
struct TestBatch {
  std::shared_ptr<const std::vector<IdentifiedTx>> txs;
};
TestBatch MakeBatch(char client, size_t n) {
  std::vector<IdentifiedTx> txs;
  for (size_t i = 0; i < n; ++i) {
    SignedTx tx;
    tx.signature[0] = static_cast<uint8_t>(client);
    tx.signature[1] = static_cast<uint8_t>(i >> 8);
    tx.signature[2] = static_cast<uint8_t>(i & 0xFF);
    txs.emplace_back(std::move(tx));
  }
  return {std::make_shared<const std::vector<IdentifiedTx>>(std::move(txs))};
}

// Verifies by recording (client, position); a transaction of client 'g' waits for Open().
class Recorder {
 public:
  bool Verify(const IdentifiedTx& item) {
    const auto& id = item.tx().signature;
    if (id[0] == 'g') {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return open_; });
    }
    if (id[0] == 'a' && id[1] == 0 && id[2] == 4 && hold_a4_) {  // A's second turn waits
      std::unique_lock<std::mutex> lock(mu_);
      a4_reached_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !hold_a4_; });
    }
    std::lock_guard<std::mutex> lock(mu_);
    order_.push_back(std::string(1, static_cast<char>(id[0])) +
                     std::to_string((id[1] << 8) | id[2]));
    return id[0] != 'x';  // client 'x' signs badly
  }
  void HoldA4() { hold_a4_ = true; }
  void WaitA4() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return a4_reached_; });
  }
  void ReleaseA4() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_a4_ = false;
    cv_.notify_all();
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::atomic<bool> hold_a4_{false};
  bool a4_reached_ = false;  // guarded by mu_
  std::vector<std::string> order_;
};

// Collects the completions: which client's batch finished in which order, and its verdicts.
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> done;
  std::vector<std::vector<char>> verdicts;
  size_t closed = 0;
  FairVerifier::DoneFn For(std::string name) {
    return [this, name](std::vector<char> v, bool was_closed) {
      std::lock_guard<std::mutex> lock(mu);
      done.push_back(name);
      verdicts.push_back(std::move(v));
      closed += was_closed ? 1 : 0;
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return done.size() >= n; });
  }
};

size_t IndexOf(const std::vector<std::string>& v, const std::string& s) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == s) return i;
  }
  return v.size();
}

TEST(FairVerifierTest, ClientsAreServedRoundRobinAChunkPerTurn) {
  Recorder rec;
  Completions comp;
  FairVerifyLimits limits;
  limits.chunk = 4;
  FairVerifier fv(limits, 1, [&rec](const IdentifiedTx& t) { return rec.Verify(t); });
  // The gate holds the one worker while the flood (A: 5 batches of 16) and two others queue.
  auto gate = MakeBatch('g', 1);
  ASSERT_TRUE(fv.Enqueue("gate", 10, gate.txs, comp.For("g")).ok());
  for (int k = 0; k < 5; ++k) {
    auto a = MakeBatch('a', 16);
    ASSERT_TRUE(fv.Enqueue("10.0.0.1", 100, a.txs, comp.For("a")).ok());
  }
  auto b = MakeBatch('b', 1);
  ASSERT_TRUE(fv.Enqueue("10.0.0.2", 10, b.txs, comp.For("b")).ok());
  auto c = MakeBatch('c', 8);
  ASSERT_TRUE(fv.Enqueue("10.0.0.3", 10, c.txs, comp.For("c")).ok());
  EXPECT_EQ(fv.queued_txs(), 1u + 80 + 1 + 8);
  rec.Open();
  ASSERT_TRUE(comp.WaitFor(8));
  const std::vector<std::string> order = rec.order();
  ASSERT_EQ(order.size(), 90u);
  // After the gate: A's first chunk (a0..a3), then B's one transaction, then C's first chunk,
  // then A's second chunk, C's second, and A's chunks to the end.
  const std::vector<std::string> head = {"g0", "a0", "a1", "a2", "a3", "b0", "c0", "c1", "c2", "c3",
                                         "a4", "a5", "a6", "a7", "c4", "c5", "c6", "c7", "a8"};
  EXPECT_EQ(std::vector<std::string>(order.begin(), order.begin() + head.size()), head);
  // B's batch was answered before A's first one; C's before A's second.
  EXPECT_LT(IndexOf(comp.done, "b"), IndexOf(comp.done, "a"));
  EXPECT_EQ(comp.done.size(), 8u);
  EXPECT_EQ(comp.closed, 0u);
  EXPECT_EQ(fv.queued_txs(), 0u);
  EXPECT_EQ(fv.clients(), 0u);
}

TEST(FairVerifierTest, AClientThatWasIdleTakesTheNextTurn) {
  Recorder rec;
  rec.HoldA4();
  rec.Open();
  Completions comp;
  FairVerifyLimits limits;
  limits.chunk = 4;
  FairVerifier fv(limits, 1, [&rec](const IdentifiedTx& t) { return rec.Verify(t); });
  auto a = MakeBatch('a', 16);
  ASSERT_TRUE(fv.Enqueue("A", 1, a.txs, comp.For("a")).ok());
  rec.WaitA4();  // A, alone, is in its second turn; C arrives now
  auto c = MakeBatch('c', 8);
  ASSERT_TRUE(fv.Enqueue("C", 1, c.txs, comp.For("c")).ok());
  rec.ReleaseA4();
  ASSERT_TRUE(comp.WaitFor(2));
  const std::vector<std::string> order = rec.order();
  // C, idle until now, takes the next turn, before A's third, although A is in the ring.
  const std::vector<std::string> want = {"a0", "a1", "a2", "a3", "a4", "a5", "a6",
                                         "a7", "c0", "c1", "c2", "c3", "a8"};
  ASSERT_GE(order.size(), want.size());
  EXPECT_EQ(std::vector<std::string>(order.begin(), order.begin() + want.size()), want);
}

TEST(FairVerifierTest, VerdictsArePerTransaction) {
  Recorder rec;
  rec.Open();
  Completions comp;
  FairVerifier fv(FairVerifyLimits{}, 2, [&rec](const IdentifiedTx& t) { return rec.Verify(t); });
  auto good = MakeBatch('a', 300);
  auto bad = MakeBatch('x', 300);
  ASSERT_TRUE(fv.Enqueue("a", 1, good.txs, comp.For("a")).ok());
  ASSERT_TRUE(fv.Enqueue("x", 1, bad.txs, comp.For("x")).ok());
  ASSERT_TRUE(comp.WaitFor(2));
  for (size_t k = 0; k < 2; ++k) {
    ASSERT_EQ(comp.verdicts[k].size(), 300u);
    const char want = comp.done[k] == "a" ? 1 : 0;
    for (char v : comp.verdicts[k]) EXPECT_EQ(v, want);
  }
}

TEST(FairVerifierTest, BoundsRefusePerClientWith429AndInTotalWith503) {
  Recorder rec;
  Completions comp;
  FairVerifyLimits limits;
  limits.max_client_txs = 10;
  limits.max_client_bytes = 1000;
  limits.max_total_txs = 17;
  limits.max_total_bytes = 1u << 20;
  limits.idle_reserve_txs = 4;
  FairVerifier fv(limits, 1, [&rec](const IdentifiedTx& t) { return rec.Verify(t); });
  auto gate = MakeBatch('g', 1);
  ASSERT_TRUE(fv.Enqueue("gate", 1, gate.txs, comp.For("g")).ok());
  auto a8 = MakeBatch('a', 8);
  ASSERT_TRUE(fv.Enqueue("A", 10, a8.txs, comp.For("a")).ok());
  // A's next batch would hold 13 > 10: refused as this client's (kRejected -> 429).
  auto a5 = MakeBatch('a', 5);
  Status st = fv.Enqueue("A", 10, a5.txs, comp.For("a"));
  EXPECT_EQ(st.code(), StatusCode::kRejected) << st.ToString();
  EXPECT_NE(st.message().find("from this address"), std::string::npos) << st.message();
  // So is a batch within the transaction bound but over the byte bound.
  auto a1 = MakeBatch('a', 1);
  EXPECT_EQ(fv.Enqueue("A", 991, a1.txs, comp.For("a")).code(), StatusCode::kRejected);
  // Another client is not affected by A's bound: B, idle, may use the reserve (9 + 9 = 18 of
  // 17 + 4)...
  auto b9 = MakeBatch('b', 9);
  ASSERT_TRUE(fv.Enqueue("B", 10, b9.txs, comp.For("b")).ok());
  // ... but B, now with something queued, is held to the total of 17: kUnavailable -> 503,
  // also when asked before its transactions are known.
  auto b1 = MakeBatch('b', 1);
  st = fv.Enqueue("B", 10, b1.txs, comp.For("b"));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(fv.Admissible("B", 10).code(), StatusCode::kUnavailable);
  // An idle client still fits in the reserve (18 + 3 = 21), and then nobody more does.
  EXPECT_EQ(fv.Admissible("C", 10).code(), StatusCode::kOk);
  auto c3 = MakeBatch('c', 3);
  ASSERT_TRUE(fv.Enqueue("C", 10, c3.txs, comp.For("c")).ok());
  auto d1 = MakeBatch('d', 1);
  st = fv.Enqueue("D", 10, d1.txs, comp.For("d"));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(fv.queued_txs(), 21u);
  EXPECT_TRUE(fv.HasQueued("C"));
  EXPECT_FALSE(fv.HasQueued("D"));
  EXPECT_EQ(fv.clients(), 4u);  // the refused D holds nothing
  rec.Open();
  ASSERT_TRUE(comp.WaitFor(4));
  EXPECT_EQ(fv.queued_txs(), 0u);
  // Once verified, the bounds are free again.
  Completions again;
  EXPECT_TRUE(fv.Enqueue("A", 10, a5.txs, again.For("a")).ok());
  EXPECT_TRUE(fv.Enqueue("D", 10, c3.txs, again.For("c")).ok());
  ASSERT_TRUE(again.WaitFor(2));
}

TEST(FairVerifierTest, ABatchAloneOverABoundIsStillTaken) {
  Recorder rec;
  rec.Open();
  Completions comp;
  FairVerifyLimits limits;
  limits.max_client_txs = 4;
  limits.max_total_txs = 4;
  limits.idle_reserve_txs = 0;
  FairVerifier fv(limits, 1, [&rec](const IdentifiedTx& t) { return rec.Verify(t); });
  auto a = MakeBatch('a', 10);
  EXPECT_TRUE(fv.Enqueue("A", 1, a.txs, comp.For("a")).ok());
  ASSERT_TRUE(comp.WaitFor(1));
}

TEST(FairVerifierTest, CloseAnswersUnfinishedBatchesAndRefusesNewOnes) {
  Recorder rec;
  Completions comp;
  auto fv = std::make_unique<FairVerifier>(FairVerifyLimits{}, 1,
                                           [&rec](const IdentifiedTx& t) { return rec.Verify(t); });
  auto gate = MakeBatch('g', 1);
  ASSERT_TRUE(fv->Enqueue("gate", 1, gate.txs, comp.For("g")).ok());
  auto a = MakeBatch('a', 50);
  ASSERT_TRUE(fv->Enqueue("A", 1, a.txs, comp.For("a")).ok());
  std::thread closer([&] { fv->Close(); });
  // Close answers both batches at once, the one being verified included.
  ASSERT_TRUE(comp.WaitFor(2));
  EXPECT_EQ(comp.closed, 2u);
  closer.join();
  EXPECT_EQ(fv->Enqueue("A", 1, a.txs, comp.For("a")).code(), StatusCode::kUnavailable);
  rec.Open();  // the worker finishes its turn; nothing more is answered
  fv.reset();
  EXPECT_EQ(comp.done.size(), 2u);
}

}  // namespace
}  // namespace consent
