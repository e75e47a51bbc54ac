// BlockSync (node/block_sync.h): which peer is asked for blocks, timeouts, demotion and rotation,
// so that a peer that claims a huge height and never answers cannot stall a node behind.
#include "node/block_sync.h"

#include <gtest/gtest.h>

namespace consent {
namespace {

using Clock = BlockSync::Clock;
constexpr uint32_t kMax = 50;

TEST(BlockSync, NothingToAskWhenNoPeerIsAhead) {
  BlockSync s;
  const auto t = Clock::now();
  s.SetPeerHeight(1, 10);
  EXPECT_FALSE(s.Next(10, t, kMax).has_value());
  EXPECT_FALSE(s.catching_up());
}

TEST(BlockSync, OneBlockBehindWaitsForTheGrace) {
  BlockSync s;
  const auto t = Clock::now();
  s.SetPeerHeight(1, 11);
  EXPECT_FALSE(s.Next(10, t, kMax).has_value());
  auto r = s.Next(10, t + BlockSync::kBehindGrace, kMax);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->peer, 1u);
  EXPECT_EQ(r->from, 11u);
  EXPECT_EQ(r->count, 1u);
}

TEST(BlockSync, OneRequestInFlightUntilAnsweredOrTimedOut) {
  BlockSync s;
  const auto t = Clock::now();
  s.SetPeerHeight(1, 100);
  auto r = s.Next(10, t, kMax);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->count, kMax);
  EXPECT_TRUE(s.catching_up());
  EXPECT_FALSE(s.Next(10, t + std::chrono::milliseconds(100), kMax).has_value());
  s.OnResponse(1, 60, 50);  // delivered
  EXPECT_EQ(s.failures(1), 0u);
  auto again = s.Next(60, t + std::chrono::milliseconds(200), kMax);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->from, 61u);
}

// The issue 16 attack: peer 9 claims 2^62 and never answers; peers 1 and 2 are honest and ahead.
// The liar costs at most one timeout; then the honest peers are asked and it is not again while
// they deliver.
TEST(BlockSync, APeerThatNeverAnswersIsDemotedAndTheOthersAreAsked) {
  BlockSync s;
  auto t = Clock::now();
  s.SetPeerHeight(9, uint64_t{1} << 62);
  auto r = s.Next(10, t, kMax);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->peer, 9u);
  s.SetPeerHeight(1, 200);
  s.SetPeerHeight(2, 200);
  t += BlockSync::kSyncTimeout;
  r = s.Next(10, t, kMax);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->peer, 9u);
  EXPECT_EQ(s.failures(9), 1u);
  EXPECT_EQ(s.demotions(), 1u);
  uint64_t mine = 10;
  for (int i = 0; i < 6; ++i) {
    mine += 20;
    s.OnResponse(r->peer, mine, 20);
    t += std::chrono::milliseconds(10);
    r = s.Next(mine, t, kMax);
    ASSERT_TRUE(r.has_value());
    EXPECT_NE(r->peer, 9u) << "the liar was asked again while honest peers deliver";
  }
  // Level with the honest peers: the liar's claim does not keep catching_up set, and it is asked
  // again only because nobody else is ahead (once per timeout at most).
  s.OnResponse(r->peer, 200, 50);
  r = s.Next(200, t, kMax);
  EXPECT_FALSE(s.catching_up());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->peer, 9u);
  EXPECT_FALSE(s.Next(200, t + std::chrono::milliseconds(100), kMax).has_value());
}

TEST(BlockSync, HonestPeersAheadAreAskedInTurn) {
  BlockSync s;
  auto t = Clock::now();
  s.SetPeerHeight(1, 500);
  s.SetPeerHeight(2, 500);
  s.SetPeerHeight(3, 500);
  std::set<PeerId> asked;
  uint64_t mine = 0;
  for (int i = 0; i < 3; ++i) {
    auto r = s.Next(mine, t, kMax);
    ASSERT_TRUE(r.has_value());
    asked.insert(r->peer);
    mine += kMax;
    s.OnResponse(r->peer, mine, kMax);
  }
  EXPECT_EQ(asked.size(), 3u);
}

TEST(BlockSync, AnEmptyAnswerCountsAsNotDelivering) {
  BlockSync s;
  const auto t = Clock::now();
  s.SetPeerHeight(9, 1000);
  s.SetPeerHeight(1, 100);
  auto r = s.Next(10, t, kMax);
  ASSERT_TRUE(r.has_value());
  s.OnResponse(r->peer, 10, 0);
  EXPECT_EQ(s.failures(r->peer), 1u);
  auto next = s.Next(10, t, kMax);
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(next->peer, r->peer);
}

TEST(BlockSync, AnAnswerFromAPeerNotAskedChangesNothing) {
  BlockSync s;
  const auto t = Clock::now();
  s.SetPeerHeight(1, 100);
  s.SetPeerHeight(2, 100);
  auto r = s.Next(10, t, kMax);
  ASSERT_TRUE(r.has_value());
  const PeerId other = r->peer == 1 ? 2 : 1;
  s.OnResponse(other, 10, 0);
  EXPECT_EQ(s.failures(other), 0u);
  ASSERT_TRUE(s.in_flight().has_value());
  EXPECT_EQ(s.in_flight()->peer, r->peer);
}

TEST(BlockSync, ARemovedPeerIsForgottenWithItsRequest) {
  BlockSync s;
  const auto t = Clock::now();
  s.SetPeerHeight(1, 100);
  ASSERT_TRUE(s.Next(10, t, kMax).has_value());
  s.RemovePeer(1);
  EXPECT_FALSE(s.in_flight().has_value());
  EXPECT_EQ(s.peer_count(), 0u);
  EXPECT_FALSE(s.Next(10, t, kMax).has_value());
}

}  // namespace
}  // namespace consent
