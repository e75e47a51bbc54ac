// A driver that feeds a 4-validator Consensus machine (this node = validator 0) arbitrary event
// sequences decoded from bytes, and checks invariants after every event. Shared by the libFuzzer
// target (tests/fuzz/consensus_fuzz.cc) and the property test (tests/ledger/consensus_test.cc).
//
// Each event takes 4 bytes: op, a, b, c. Proposals and votes carry real signatures from the
// fixed test keys (cached: a signature is computed once per process). Block validity is a pure
// function of the block (block 3 of every height is invalid), as the contract requires.
//
// Invariants (a violation returns a message; the fuzz target aborts on it):
//  - a Decision is for the current height, at most one per height, its block hashes to its
//    block_hash, a valid proposal of that block was fed in, and its commit holds at least a
//    quorum of distinct precommits for (height, round, block_hash) that were fed in and verify
//    (VerifyCommit);
//  - what the machine asks to sign (votes in order, then the proposal) always passes CheckSign
//    against what it asked before (also across restarts from the persisted SignState).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "crypto/bytes.h"
#include "ledger/chain_builder.h"
#include "ledger/consensus.h"
#include "tests/genesis_set.h"

namespace consent::fuzz {

class ConsensusEventHarness {
 public:
  static constexpr size_t kN = 4;
  static constexpr size_t kBlocksPerHeight = 4;
  static constexpr char kChain[] = "fuzz-chain";

  ConsensusEventHarness() : chain_(ChainBuilder::ForTesting(kChain, kN)) { Reset(); }

  void Reset() {
    ConsensusParams params;
    machine_ = std::make_unique<Consensus>(genesis(), key(0).public_key(), params);
    sign_state_ = SignState{};
    decided_heights_.clear();
    fed_precommits_.clear();
    valid_proposals_.clear();
    pending_.clear();
    decisions_ = 0;
    error_.clear();
    Check(machine_->StartHeight(1, std::nullopt));
  }

  // Runs every 4-byte event of `data`; returns the first invariant violation, or "".
  std::string Run(const uint8_t* data, size_t size) {
    for (size_t i = 0; i + 4 <= size && error_.empty(); i += 4) {
      Event(data[i], data[i + 1], data[i + 2], data[i + 3]);
    }
    return error_;
  }

  void Event(uint8_t op, uint8_t a, uint8_t b, uint8_t c) {
    Consensus& m = *machine_;
    const uint64_t h = m.height();
    switch (op % 12) {
      case 0:
        Check(m.OnTxsAvailable());
        break;
      case 1: {  // a proposal from the right proposer
        uint32_t round = a % 8;
        uint32_t pol = (b % 9 < round) ? b % 9 : kNoRound;
        Check(FeedProposal(h, round, pol, c % kBlocksPerHeight));
        break;
      }
      case 2:
      case 3:
      case 4: {  // votes (more of them: they make progress)
        VoteType type = (op % 12 == 2 || (c & 0x80)) ? VoteType::kPrevote : VoteType::kPrecommit;
        uint32_t round = b % 8;
        if ((c & 0x40) != 0) round = m.round();
        Check(FeedVote(a % kN, type, h, round, HashChoice(h, c % (kBlocksPerHeight + 1))));
        break;
      }
      case 5: {  // a timeout, usually for the current (height, round)
        TimeoutKind kind = static_cast<TimeoutKind>(1 + a % 3);
        uint32_t round = (b & 1) ? m.round() : b % 8;
        uint64_t th = (c % 8 == 0) ? h + 1 : h;
        Check(m.OnTimeout(kind, th, round));
        break;
      }
      case 6:
        Check(m.OnOwnBlock(h, (b & 1) ? m.round() : b % 8, BlockFor(h, c % kBlocksPerHeight)));
        break;
      case 7:
      case 8: {  // deliver what this node signed (a = how many)
        for (int k = 0; k <= a % 4 && !pending_.empty(); ++k) {
          Pending p = pending_.front();
          pending_.erase(pending_.begin());
          if (p.is_vote) {
            Check(FeedVote(0, p.vote.type, p.vote.height, p.vote.round, p.vote.block_hash));
          } else {
            bool valid = IsValid(p.proposal.block);
            if (valid) valid_proposals_.insert({h, p.proposal.round, p.proposal.block_hash});
            Check(m.OnProposal(p.proposal, valid));
          }
        }
        break;
      }
      case 9:  // next height once decided, else a vote of another height (ignored)
        if (m.decided()) {
          pending_.clear();
          Check(m.StartHeight(h + 1, sign_state_));
        } else {
          Check(FeedVote(a % kN, VoteType::kPrecommit, h + 1 + (b % 2), b % 8,
                         HashChoice(h + 1, c % 5)));
        }
        break;
      case 10:  // a restart from the persisted sign state
        if ((a & 7) == 0) {
          // A decided height is committed before anything else happens: restart after it.
          const uint64_t next = m.decided() ? h + 1 : h;
          machine_ = std::make_unique<Consensus>(genesis(), key(0).public_key(), ConsensusParams{});
          pending_.clear();
          Check(machine_->StartHeight(next, sign_state_));
        }
        break;
      case 11:  // a vote of another chain's signer set: a non-validator, ignored
        if (!machine_->OnVote(OutsiderVote(h, b % 8)).empty()) Fail("outsider vote had effects");
        break;
    }
  }

  size_t decisions() const { return decisions_; }
  const Genesis& genesis() const { return chain_.genesis(); }
  const SigningKey& key(size_t i) const { return chain_.keys()[i]; }

 private:
  struct Pending {
    bool is_vote = true;
    SignedVote vote;
    SignedProposal proposal;
  };

  Block BlockFor(uint64_t h, size_t k) const {
    Block b;
    b.header.chain_id = kChain;
    b.header.height = h;
    b.header.time_ms = 1000 * h + k;
    b.header.validators_hash = genesis().ValidatorsHash();
    b.header.proposer = genesis().Proposer(h, static_cast<uint32_t>(k));
    return b;
  }
  static bool IsValid(const Block& b) { return b.header.time_ms % 1000 != 3; }
  Hash32 HashChoice(uint64_t h, size_t k) {
    if (k >= kBlocksPerHeight) return Hash32{};
    return BlockHash(h, k);
  }
  Hash32 BlockHash(uint64_t h, size_t k) {
    auto key = std::make_pair(h, k);
    auto it = hash_cache_.find(key);
    if (it != hash_cache_.end()) return it->second;
    return hash_cache_[key] = BlockFor(h, k).header.Hash();
  }

  const SignedVote& Vote(size_t v, VoteType t, uint64_t h, uint32_t r, const Hash32& hash) {
    auto key = std::make_tuple(v, static_cast<int>(t), h, r, hash);
    auto it = vote_cache_.find(key);
    if (it != vote_cache_.end()) return it->second;
    return vote_cache_[key] = SignVote(chain_.keys()[v], kChain, t, h, r, hash);
  }
  SignedVote OutsiderVote(uint64_t h, uint32_t r) {
    static const SigningKey outsider = SigningKey::FromSeed(Seed32{9, 9, 9});
    auto key = std::make_pair(h, r);
    auto it = outsider_cache_.find(key);
    if (it != outsider_cache_.end()) return it->second;
    return outsider_cache_[key] = SignVote(outsider, kChain, VoteType::kPrevote, h, r, Hash32{});
  }

  Output FeedVote(size_t v, VoteType t, uint64_t h, uint32_t r, const Hash32& hash) {
    const SignedVote& vote = Vote(v, t, h, r, hash);
    if (t == VoteType::kPrecommit) fed_precommits_.insert({vote.validator, h, r, hash});
    return machine_->OnVote(vote);
  }

  const SignedProposal& Proposal(uint64_t h, uint32_t r, uint32_t pol, size_t k) {
    auto key = std::make_tuple(h, r, pol, k);
    auto it = proposal_cache_.find(key);
    if (it != proposal_cache_.end()) return it->second;
    size_t proposer = (h + r) % kN;
    return proposal_cache_[key] =
               SignProposal(chain_.keys()[proposer], kChain, h, r, pol, BlockFor(h, k));
  }
  Output FeedProposal(uint64_t h, uint32_t r, uint32_t pol, size_t k) {
    const SignedProposal& p = Proposal(h, r, pol, k);
    bool valid = IsValid(p.block);
    if (valid) valid_proposals_.insert({h, r, p.block_hash});
    return machine_->OnProposal(p, valid);
  }

  void Fail(const std::string& m) {
    if (error_.empty()) error_ = m;
  }

  void Guard(uint64_t h, uint32_t r, uint8_t step, const Hash32& hash) {
    Status st = CheckSign(sign_state_, h, r, step, hash);
    if (!st.ok()) return Fail("machine asked to double-sign: " + st.ToString());
    sign_state_ = {h, r, step, hash, machine_->locked_round(), machine_->locked_hash()};
  }

  void Check(const Output& out) {
    const uint64_t h = machine_->height();
    for (const VoteRequest& v : out.votes) {
      if (v.height != h) Fail("vote request for another height");
      Guard(v.height, v.round, v.type == VoteType::kPrevote ? 2 : 3, v.block_hash);
      Pending p;
      p.vote = Vote(0, v.type, v.height, v.round, v.block_hash);
      pending_.push_back(p);
    }
    if (out.proposal && out.proposal->block) {
      const ProposalRequest& req = *out.proposal;
      if (genesis().Proposer(req.height, req.round) != key(0).public_key()) {
        Fail("proposal request in a round this node does not propose");
      }
      Guard(req.height, req.round, 1, req.block->header.Hash());
      Pending p;
      p.is_vote = false;
      p.proposal = SignProposal(key(0), kChain, req.height, req.round, req.pol_round, *req.block);
      pending_.push_back(p);
    } else if (out.proposal && genesis().Proposer(out.proposal->height, out.proposal->round) !=
                                   key(0).public_key()) {
      Fail("block request in a round this node does not propose");
    }
    if (out.decision) {
      const Decision& d = *out.decision;
      if (d.height != h) Fail("decision for another height");
      if (!decided_heights_.insert(d.height).second) Fail("two decisions for one height");
      if (d.block.header.Hash() != d.block_hash) Fail("decided block does not match its hash");
      if (d.commit.round != d.round) Fail("commit round differs from the decision round");
      if (valid_proposals_.count({d.height, d.round, d.block_hash}) == 0) {
        Fail("decided a block no valid proposal of the deciding round carried");
      }
      size_t held = 0;
      for (const auto& cs : d.commit.signatures) {
        if (fed_precommits_.count({cs.validator, d.height, d.round, d.block_hash})) ++held;
      }
      if (held != d.commit.signatures.size() || held < genesis().QuorumSize()) {
        Fail("decision without a quorum of precommits that were fed in");
      }
      Status st = VerifyCommit(genesis(), d.height, d.block_hash, d.commit);
      if (!st.ok()) Fail("decided commit does not verify: " + st.ToString());
      ++decisions_;
    }
  }

  ChainBuilder chain_;
  std::unique_ptr<Consensus> machine_;
  SignState sign_state_;
  std::set<uint64_t> decided_heights_;
  std::set<std::tuple<PublicKey, uint64_t, uint32_t, Hash32>> fed_precommits_;
  std::set<std::tuple<uint64_t, uint32_t, Hash32>> valid_proposals_;
  std::vector<Pending> pending_;
  size_t decisions_ = 0;
  std::string error_;
  std::map<std::tuple<size_t, int, uint64_t, uint32_t, Hash32>, SignedVote> vote_cache_;
  std::map<std::tuple<uint64_t, uint32_t, uint32_t, size_t>, SignedProposal> proposal_cache_;
  std::map<std::pair<uint64_t, size_t>, Hash32> hash_cache_;
  std::map<std::pair<uint64_t, uint32_t>, SignedVote> outsider_cache_;
};

}  // namespace consent::fuzz
