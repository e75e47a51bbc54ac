// FutureBuffer (node/future_buffer.h): what is kept of the next height's messages, within the
// bounds an honest network needs (one proposal per round, one vote per validator, type and
// round, rounds below kMaxFutureRounds, kMaxFutureBytes in all), and that a height change empties
// it.
#include "node/future_buffer.h"

#include <gtest/gtest.h>

namespace consent {
namespace {

SignedProposal Proposal(uint64_t height, uint32_t round, size_t txs) {
  SignedProposal p;
  p.height = height;
  p.round = round;
  p.block.header.chain_id = "c";
  p.block.header.height = height;
  SignedTx tx;
  GrantTx g;
  g.purposes = {"p"};
  tx.body = g;
  p.block.txs.assign(txs, tx);
  p.block_hash = p.block.header.Hash();
  return p;
}

SignedVote Vote(uint64_t height, uint32_t round, uint8_t who, VoteType type) {
  SignedVote v;
  v.height = height;
  v.round = round;
  v.type = type;
  v.validator.fill(who);
  return v;
}

TEST(FutureBuffer, KeepsOneProposalPerRoundAndOneVotePerSlot) {
  FutureBuffer b;
  EXPECT_TRUE(b.AddProposal(1, Proposal(5, 0, 1)));
  EXPECT_FALSE(b.AddProposal(2, Proposal(5, 0, 2)));  // another for the same round
  EXPECT_TRUE(b.AddProposal(1, Proposal(5, 1, 1)));
  EXPECT_TRUE(b.AddVote(1, Vote(5, 0, 7, VoteType::kPrevote)));
  EXPECT_FALSE(b.AddVote(1, Vote(5, 0, 7, VoteType::kPrevote)));
  EXPECT_TRUE(b.AddVote(1, Vote(5, 0, 7, VoteType::kPrecommit)));
  EXPECT_TRUE(b.AddVote(1, Vote(5, 0, 8, VoteType::kPrevote)));
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(b.dropped(), 2u);
}

TEST(FutureBuffer, RoundsAreBounded) {
  FutureBuffer b;
  EXPECT_TRUE(b.AddProposal(1, Proposal(5, kMaxFutureRounds - 1, 0)));
  EXPECT_FALSE(b.AddProposal(1, Proposal(5, kMaxFutureRounds, 0)));
  EXPECT_FALSE(b.AddVote(1, Vote(5, kMaxFutureRounds, 1, VoteType::kPrevote)));
  EXPECT_FALSE(b.AddVote(1, Vote(5, 0xFFFFFFFFu, 1, VoteType::kPrevote)));
}

TEST(FutureBuffer, BytesAreBounded) {
  const size_t one = p2p::Encode(p2p::ProposalMsg{Proposal(5, 0, 100)}).size();
  FutureBuffer b(2 * one + 10);
  EXPECT_TRUE(b.AddProposal(1, Proposal(5, 0, 100)));
  EXPECT_TRUE(b.AddProposal(1, Proposal(5, 1, 100)));
  EXPECT_FALSE(b.AddProposal(1, Proposal(5, 2, 100)));
  EXPECT_LE(b.bytes(), 2 * one + 10);
  FutureBuffer tiny(FutureBuffer::kVoteBytes);
  EXPECT_TRUE(tiny.AddVote(1, Vote(5, 0, 1, VoteType::kPrevote)));
  EXPECT_FALSE(tiny.AddVote(1, Vote(5, 0, 2, VoteType::kPrevote)));
}

TEST(FutureBuffer, TakeReturnsTheHeightsMessagesInOrderAndEmptiesIt) {
  FutureBuffer b;
  ASSERT_TRUE(b.AddVote(3, Vote(5, 0, 1, VoteType::kPrevote)));
  ASSERT_TRUE(b.AddProposal(4, Proposal(5, 0, 1)));
  ASSERT_TRUE(b.AddVote(3, Vote(6, 0, 1, VoteType::kPrevote)));  // another height: dropped
  auto got = b.Take(5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, 3u);
  EXPECT_TRUE(std::holds_alternative<p2p::VoteMsg>(got[0].second));
  EXPECT_TRUE(std::holds_alternative<p2p::ProposalMsg>(got[1].second));
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.bytes(), 0u);
  EXPECT_TRUE(b.Take(6).empty());
  // The slots are free again for the next height.
  EXPECT_TRUE(b.AddProposal(1, Proposal(6, 0, 1)));
}

}  // namespace
}  // namespace consent
