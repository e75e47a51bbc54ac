// IntakeQueue (node/intake_queue.h): per-peer bounds, the block-request rate, and round-robin
// service, so that one peer's flood leaves every other peer its turn.
#include "node/intake_queue.h"

#include <gtest/gtest.h>

#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace consent {
namespace {

using Clock = IntakeQueue::Clock;

std::vector<SignedTx> Batch(size_t n, uint64_t nonce = 0) {
  std::vector<SignedTx> txs;
  for (size_t i = 0; i < n; ++i) {
    GrantTx g;
    g.purposes = {"marketing.email"};
    g.nonce = nonce + i;
    txs.push_back(SignedTx{g, Signature{}});
  }
  return txs;
}

TEST(IntakeQueueTest, AFloodingPeerCannotStarveAnother) {
  IntakeQueue q;
  const auto now = Clock::now();
  // The flooder fills its share; the rest of its batches are dropped, not queued ahead.
  size_t accepted = 0;
  for (int i = 0; i < 1000; ++i) accepted += q.PushTxs(1, Batch(10)) ? 1 : 0;
  EXPECT_EQ(accepted, q.limits().tx_batches_per_peer);
  EXPECT_EQ(q.stats().tx_batches_dropped, 1000 - accepted);
  for (int i = 0; i < 1000; ++i) q.PushBlockRequest(1, p2p::BlockRequest{1, 50}, now);
  // An honest peer's batch arrives last and is served within the first two turns.
  ASSERT_TRUE(q.PushTxs(2, Batch(1, 99)));
  bool served = false;
  for (int turn = 0; turn < 2 && !served; ++turn) {
    auto item = q.Pop();
    ASSERT_TRUE(item);
    served = item->peer == 2 && item->txs && item->txs->size() == 1;
  }
  EXPECT_TRUE(served) << "the honest peer waited behind the flood";
}

TEST(IntakeQueueTest, BlockRequestsAreRateLimitedPerPeer) {
  IntakeLimits limits;
  limits.block_requests_per_peer = 1000;  // only the rate bounds here
  limits.block_requests_per_sec = 10;
  limits.block_request_burst = 20;
  IntakeQueue q(limits);
  const auto t0 = Clock::now();
  size_t accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += q.PushBlockRequest(7, {1, 50}, t0) ? 1 : 0;
  EXPECT_EQ(accepted, 20u);  // the burst
  EXPECT_EQ(q.stats().block_requests_limited, 80u);
  // One second later: ten more.
  accepted = 0;
  for (int i = 0; i < 100; ++i) {
    accepted += q.PushBlockRequest(7, {1, 50}, t0 + std::chrono::seconds(1)) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 10u);
  // Another peer has its own bucket.
  EXPECT_TRUE(q.PushBlockRequest(8, {1, 50}, t0));
}

TEST(IntakeQueueTest, ServesPeersInTurnAndAlternatesKinds) {
  IntakeQueue q;
  const auto now = Clock::now();
  ASSERT_TRUE(q.PushTxs(1, Batch(1)));
  ASSERT_TRUE(q.PushTxs(1, Batch(1)));
  ASSERT_TRUE(q.PushBlockRequest(1, {5, 1}, now));
  ASSERT_TRUE(q.PushTxs(2, Batch(1)));
  ASSERT_TRUE(q.PushTxs(3, Batch(1)));
  std::vector<std::pair<uint64_t, bool>> order;  // (peer, is a block request)
  while (auto item = q.Pop()) order.emplace_back(item->peer, item->block_request.has_value());
  const std::vector<std::pair<uint64_t, bool>> want = {
      {1, false}, {2, false}, {3, false}, {1, true}, {1, false}};
  EXPECT_EQ(order, want);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.stats().queued_tx_bytes, 0u);
}

TEST(IntakeQueueTest, BytesAreBoundedPerPeerAndInTotal) {
  IntakeLimits limits;
  limits.tx_batches_per_peer = 1000;
  limits.tx_bytes_per_peer = 64 << 10;
  limits.tx_bytes_total = 100 << 10;
  IntakeQueue q(limits);
  for (uint64_t peer = 1; peer <= 10; ++peer) {
    while (q.PushTxs(peer, Batch(20))) {
    }
  }
  const IntakeQueue::Stats s = q.stats();
  EXPECT_LE(s.queued_tx_bytes, limits.tx_bytes_total);
  EXPECT_GT(s.queued_tx_bytes, limits.tx_bytes_total / 2);
  // A peer that leaves frees its share.
  q.RemovePeer(1);
  EXPECT_LT(q.stats().queued_tx_bytes, s.queued_tx_bytes);
  size_t items = 0;
  while (q.Pop()) ++items;
  EXPECT_EQ(items, q.stats().queued_items + items);
  EXPECT_EQ(q.stats().queued_tx_bytes, 0u);
}

}  // namespace
}  // namespace consent
