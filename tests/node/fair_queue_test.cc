// FairQueue (node/fair_queue.h): bounded, round-robin across peers, a full queue drops from the
// peer holding the most, per-peer caps and rates (issue 16 item 5: one peer's flood of
// transactions or block requests cannot starve another peer's).
#include "node/fair_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace consent {
namespace {

using Clock = FairQueue::Clock;

TEST(FairQueue, TakesPeersInTurn) {
  FairQueue q(100, 100);
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.Push(1, [&order] { order.push_back(1); }));
  ASSERT_TRUE(q.Push(2, [&order] { order.push_back(2); }));
  while (auto item = q.Pop()) (*item)();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 1, 1}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(FairQueue, APeerAtItsCapIsRefused) {
  FairQueue q(100, 2);
  EXPECT_TRUE(q.Push(1, [] {}));
  EXPECT_TRUE(q.Push(1, [] {}));
  EXPECT_FALSE(q.Push(1, [] {}));
  EXPECT_TRUE(q.Push(2, [] {}));
  EXPECT_EQ(q.dropped(), 1u);
}

TEST(FairQueue, AFullQueueDropsFromTheFloodingPeerNotTheHonestOne) {
  FairQueue q(8, 8);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(q.Push(1, [] {}));  // the flooder fills it
  bool honest_ran = false;
  EXPECT_TRUE(q.Push(2, [&] { honest_ran = true; }));
  EXPECT_EQ(q.size(), 8u);
  EXPECT_EQ(q.dropped(), 1u);
  // Round-robin: the honest item is among the first two taken.
  for (int i = 0; i < 2; ++i) (*q.Pop())();
  EXPECT_TRUE(honest_ran);
  // A peer holding as many as the longest is refused rather than evicting.
  FairQueue r(2, 8);
  ASSERT_TRUE(r.Push(1, [] {}));
  ASSERT_TRUE(r.Push(2, [] {}));
  EXPECT_FALSE(r.Push(3, [] {}));
}

TEST(FairQueue, PerPeerRateIsATokenBucket) {
  FairQueue q(100, 100, /*per_peer_rate=*/2);
  const auto t = Clock::now();
  EXPECT_TRUE(q.Push(
      1, [] {}, t));
  EXPECT_TRUE(q.Push(
      1, [] {}, t));
  EXPECT_FALSE(q.Push(
      1, [] {}, t));  // burst of 2 used
  EXPECT_TRUE(q.Push(
      2, [] {}, t));  // another peer has its own
  EXPECT_TRUE(q.Push(
      1, [] {}, t + std::chrono::milliseconds(500)));
  EXPECT_FALSE(q.Push(
      1, [] {}, t + std::chrono::milliseconds(600)));
}

TEST(FairQueue, RemovingAPeerDropsItsItems) {
  FairQueue q(100, 100);
  ASSERT_TRUE(q.Push(1, [] {}));
  ASSERT_TRUE(q.Push(1, [] {}));
  ASSERT_TRUE(q.Push(2, [] {}));
  q.RemovePeer(1);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(q.Pop().has_value());
  EXPECT_FALSE(q.Pop().has_value());
}

}  // namespace
}  // namespace consent
