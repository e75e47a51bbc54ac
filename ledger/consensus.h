// Tendermint consensus for one chain: the state machine of Buchman, Kwon, Milosevic, "The latest
// gossip on BFT consensus" (2018), Algorithm 1, as a pure class. Events go in (a proposal, a vote,
// a timeout, "transactions are available", this node's own block); what the node must do comes
// out (proposals and votes to sign and send, timeouts to schedule, a decided block with its
// commit, evidence of equivocation). It never touches a clock, a socket, a thread or a disk, so
// the simulation tests drive many of them over a simulated network deterministically.
//
// Conventions
//  - Values are blocks, identified by their block_hash (H(header encoding)); nil is a zero hash.
//  - proposer(h, r) = validators[(h + r) mod n] (PROTOCOL.md section 6).
//  - Quorum: QuorumSize() = floor(2n/3) + 1 distinct validators ("2f+1"); "f+1" is
//    n - QuorumSize() + 1 (more than a third).
//  - Signatures: the caller verifies every proposal and vote signature (and that the signer is the
//    expected proposer / a validator) BEFORE handing it in; the machine trusts its inputs on that
//    point only. Everything else (heights, rounds, duplicates, equivocation) it checks itself.
//  - The machine never signs: it asks (Output::votes / Output::proposal); the node checks the
//    double-sign guard (CheckSign below), persists, signs, broadcasts, and feeds the signed
//    message back in through OnVote / OnProposal like any other.
//  - Block validity (`valid(v)` in the paper) is decided by the caller when it hands in a
//    proposal (ValidateBlock against the committed state of height-1, plus a clock check);
//    it is a pure function of the block and the committed chain, so computing it once is exact.
//
// Timeouts: every node, the proposer included, schedules the propose timeout of each round (the
// proposer must still build and sign its block; Algorithm 1 does not need it there). Followers
// also get timeouts: they only move their round and step.
//
// Waiting for transactions: after StartHeight the machine waits (no round, no timeout) until
// OnTxsAvailable() or until any proposal or vote for this height arrives; then it starts round 0.
// So an idle chain makes no empty blocks and no rounds; a node without transactions still joins
// a round that another started. A proposer with no transactions in a later round proposes an
// empty block (allowed by the pipeline).
//
// Bounds: votes are kept for rounds [0, round + kMaxRoundsAhead]. The first vote per (validator,
// round, type) is counted; a second, different one is equivocation: it is reported once as
// Evidence, and it is counted for its own value only if that value is nil or the block of a held
// proposal of this height (at most 4 values per validator, round and type; others are dropped).
// Algorithm 1 counts every message it receives, and its liveness relies on correct processes
// relaying what they received: if each honest node counted only the first of an equivocator's
// votes, honest nodes could hold different ones forever, a polka one of them locked on would
// never be seen by the others, and the height would stall (the simulation test found exactly
// this). Safety is unaffected: quorum intersection already assumes faulty validators vote twice.
// Proposals: the first per round from its proposer is kept; a different second one is ignored (and
// reported as conflicting-proposal evidence). At most kMaxEvidencePerHeight items.
//
// Thread-compatible (one thread at a time).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/block_pipeline.h"

namespace consent {

inline constexpr uint32_t kMaxRoundsAhead = 100;
inline constexpr size_t kMaxEvidencePerHeight = 1024;
inline constexpr uint32_t kNoRound = 0xFFFFFFFF;  // pol_round / locked_round / valid_round "-1"

// proposal_msg = tag("consent-ledger/proposal/v1") || str chain_id || u64 height || u32 round
//   || u32 pol_round (0xFFFFFFFF = none) || hash block_hash
// Not part of PROTOCOL.md (proposals are not stored in the chain); documented in docs/protocol.md.
Bytes ProposalMessage(std::string_view chain_id, uint64_t height, uint32_t round,
                      uint32_t pol_round, const Hash32& block_hash);

struct SignedVote {
  VoteType type = VoteType::kPrevote;
  uint64_t height = 0;
  uint32_t round = 0;
  Hash32 block_hash{};  // zero = nil
  PublicKey validator{};
  Signature signature{};
  bool operator==(const SignedVote&) const = default;
};

struct SignedProposal {
  uint64_t height = 0;
  uint32_t round = 0;
  uint32_t pol_round = kNoRound;
  Block block;
  Hash32 block_hash{};  // = block.header.Hash(); checked by VerifyProposal
  PublicKey proposer{};
  Signature signature{};
};

// Signs / verifies with the vote_msg of PROTOCOL.md section 6 and the proposal_msg above.
SignedVote SignVote(const SigningKey& key, std::string_view chain_id, VoteType type,
                    uint64_t height, uint32_t round, const Hash32& block_hash);
// The signer is a member of `validators` (the set that commits vote.height) and the signature
// verifies for `chain_id`.
Status VerifyVote(std::string_view chain_id, const ValidatorSet& validators,
                  const SignedVote& vote);
SignedProposal SignProposal(const SigningKey& key, std::string_view chain_id, uint64_t height,
                            uint32_t round, uint32_t pol_round, Block block);
// block_hash == H(header), header.height == height, proposer == validators.Proposer(height,
// round) (`validators`: the set that commits `height`), pol_round < round or none, and the
// signature verifies. header.proposer == proposer when pol_round is none (a new block); with a
// pol_round the block is a re-proposed valid value, unchanged, so header.proposer is the proposer
// of the round that first proposed it: it must be validators.Proposer(height, r) for some
// r <= pol_round.
Status VerifyProposal(std::string_view chain_id, const ValidatorSet& validators,
                      const SignedProposal& proposal);

// A proposal's signed part without its block: what the proposer signed (proposal_msg), enough
// to prove that it signed two different proposals for one height and round.
struct SignedProposalRef {
  uint64_t height = 0;
  uint32_t round = 0;
  uint32_t pol_round = kNoRound;
  Hash32 block_hash{};
  PublicKey proposer{};
  Signature signature{};
  bool operator==(const SignedProposalRef&) const = default;
};
SignedProposalRef RefOf(const SignedProposal& p);

enum class EvidenceKind : uint8_t { kDuplicateVote = 1, kDuplicateProposal = 2 };

// Evidence of equivocation: two different signed votes of one validator for one (height, round,
// type) (kDuplicateVote: a, b), or two different signed proposals of one proposer for one
// (height, round) (kDuplicateProposal: pa, pb; different block_hash or pol_round).
struct Evidence {
  EvidenceKind kind = EvidenceKind::kDuplicateVote;
  SignedVote a;
  SignedVote b;
  SignedProposalRef pa;
  SignedProposalRef pb;
  const PublicKey& signer() const {
    return kind == EvidenceKind::kDuplicateVote ? a.validator : pa.proposer;
  }
  uint64_t height() const { return kind == EvidenceKind::kDuplicateVote ? a.height : pa.height; }
  uint32_t round() const { return kind == EvidenceKind::kDuplicateVote ? a.round : pa.round; }
  // The same offence (kind, signer, height, round and, for votes, type): kept once.
  bool SameOffence(const Evidence& o) const {
    return kind == o.kind && signer() == o.signer() && height() == o.height() &&
           round() == o.round() && (kind != EvidenceKind::kDuplicateVote || a.type == o.a.type);
  }
};
Evidence VoteEquivocation(const SignedVote& a, const SignedVote& b);
Evidence ProposalEquivocation(const SignedProposal& a, const SignedProposal& b);

// Checks evidence from outside (a peer, a file): the two items are signed by one member of
// `validators` (the set that commits the evidence's height; both signatures verify; a proposal's
// signer is the proposer of its height and round) for the same height and round (and vote type),
// and differ. Pure.
Status CheckEvidence(std::string_view chain_id, const ValidatorSet& validators, const Evidence& e);

enum class Step : uint8_t { kWaiting = 0, kPropose = 1, kPrevote = 2, kPrecommit = 3 };
enum class TimeoutKind : uint8_t { kPropose = 1, kPrevote = 2, kPrecommit = 3 };

struct TimeoutRequest {
  TimeoutKind kind = TimeoutKind::kPropose;
  uint64_t height = 0;
  uint32_t round = 0;
  uint64_t delay_ms = 0;
  bool operator==(const TimeoutRequest&) const = default;
};

struct ConsensusParams {
  // timeout(r) = base + r * delta, capped at max (the paper's growing timeouts).
  uint64_t propose_base_ms = 1000, propose_delta_ms = 500;
  uint64_t prevote_base_ms = 500, prevote_delta_ms = 500;
  uint64_t precommit_base_ms = 500, precommit_delta_ms = 500;
  uint64_t max_timeout_ms = 30000;
};

struct VoteRequest {
  VoteType type = VoteType::kPrevote;
  uint64_t height = 0;
  uint32_t round = 0;
  Hash32 block_hash{};  // zero = nil
  bool operator==(const VoteRequest&) const = default;
};

struct ProposalRequest {
  uint64_t height = 0;
  uint32_t round = 0;
  uint32_t pol_round = kNoRound;
  // When set, propose exactly this block (the valid value); otherwise the node builds a new
  // block for (height, round) and hands it in with OnOwnBlock.
  std::optional<Block> block;
};

struct Decision {
  uint64_t height = 0;
  uint32_t round = 0;
  Block block;
  Hash32 block_hash{};
  Commit commit;  // the precommits for block_hash in `round` this machine holds (>= quorum),
                  // in the order of the height's validator set
};

// A proposer that signed two different proposals (block_hash or pol_round) for one
// (height, round). The first one received is kept and used; the second is ignored for voting.
struct ProposalEvidence {
  SignedProposal a;  // the one kept
  SignedProposal b;
};

// The node handles an Output in this order: `votes` (sign in order), then `proposal`. Every vote
// in one Output is for a round earlier than the proposal's round, so the double-sign guard sees
// (height, round, step) increase.
struct Output {
  std::optional<ProposalRequest> proposal;  // this node is the proposer of (height, round)
  std::vector<VoteRequest> votes;           // in order
  std::vector<TimeoutRequest> timeouts;
  std::optional<Decision> decision;  // the height is decided: commit it, then StartHeight(h+1)
  std::vector<Evidence> evidence;    // newly detected equivocation
  std::vector<ProposalEvidence> proposal_evidence;  // newly detected conflicting proposals
  bool empty() const {
    return !proposal && votes.empty() && timeouts.empty() && !decision && evidence.empty() &&
           proposal_evidence.empty();
  }
};

// What a validator persists before it signs (the double-sign guard), and the lock.
struct SignState {
  uint64_t height = 0;
  uint32_t round = 0;
  uint8_t step = 0;  // 1 proposal, 2 prevote, 3 precommit (0 = nothing signed yet)
  Hash32 block_hash{};
  uint32_t locked_round = kNoRound;  // at `height`
  Hash32 locked_hash{};
  bool operator==(const SignState&) const = default;
};

// May a validator whose last signature is `last` now sign (height, round, step, block_hash)?
// OK if (height, round, step) is later than last's, or equal with the same block_hash (re-signing
// the same message is harmless: Ed25519 signatures are deterministic). Otherwise kRejected,
// naming both. Pure.
Status CheckSign(const SignState& last, uint64_t height, uint32_t round, uint8_t step,
                 const Hash32& block_hash);

class Consensus {
 public:
  // `self`: this node's key if it is a validator (it then proposes and votes); nullopt for a
  // follower, which only observes and decides from others' messages.
  // The machine starts with the genesis set; StartHeight with a set changes it (section 10).
  Consensus(const Genesis& genesis, std::optional<PublicKey> self, ConsensusParams params);

  // Begins `height` (1 = first block) in the waiting step. `restored`: the persisted sign state
  // of this validator; if it is at `height`, its lock is restored (locked_round, locked_hash)
  // so a restart never prevotes against its lock. Drops every message of earlier heights.
  // Restart details: if `restored` is at `height` with something signed (step != 0), the height
  // was under way, so the machine skips the waiting step and starts directly in restored->round;
  // it does not propose again in that round if it already proposed there, and if it already
  // voted there it asks for the same vote again (CheckSign allows it) and continues from that
  // step, so it never asks for anything the guard refuses. `locked_block`: the locked block
  // itself, if the node kept it; when it is at `height` and hashes to the restored lock, it is
  // what this validator proposes (as getValue(), POL round -1) whenever it is the proposer and
  // has no valid value, instead of asking for a new block it would itself prevote nil for; by
  // line 22 it prevotes it (its locked value), so even a lone validator decides it. Without it,
  // the node asks for a new block (OnOwnBlock) and relies on peers re-gossiping the locked one.
  // If `restored` is at a later height, the machine signs nothing at `height`.
  Output StartHeight(uint64_t height, const std::optional<SignState>& restored,
                     const Block* locked_block = nullptr);
  // The same with `validators`, the set that commits `height` (PROTOCOL.md section 10): the
  // proposer order, the quorum, whose votes count and whether this node may sign all follow it
  // from this height on. A node whose key left the set only observes; one whose key joined votes.
  Output StartHeight(uint64_t height, ValidatorSet validators,
                     const std::optional<SignState>& restored, const Block* locked_block = nullptr);
  const ValidatorSet& validators() const { return validators_; }

  Output OnTxsAvailable();
  // REQUIRES: VerifyProposal(chain, validators(), p) is OK. `valid`: whether p.block is a valid
  // next block.
  Output OnProposal(const SignedProposal& p, bool valid);
  // REQUIRES: VerifyVote(chain, validators(), v) is OK. Votes for other heights are ignored.
  Output OnVote(const SignedVote& v);
  Output OnTimeout(TimeoutKind kind, uint64_t height, uint32_t round);
  // The block this node built for a ProposalRequest without a block. Ignored unless it is for
  // the current (height, round) and still awaited.
  Output OnOwnBlock(uint64_t height, uint32_t round, Block block);

  uint64_t height() const { return height_; }
  uint32_t round() const { return round_; }
  Step step() const { return step_; }
  bool decided() const { return decided_; }
  uint32_t locked_round() const { return locked_round_; }
  // The proposal of `round` for `block_hash` this machine holds, or nullptr.
  const SignedProposal* HeldProposal(uint32_t round, const Hash32& block_hash) const {
    const StoredProposal* sp = FindProposal(round, block_hash);
    return sp == nullptr ? nullptr : &sp->p;
  }
  Hash32 locked_hash() const;

  // Everything this node should re-send so that peers that missed it (a dropped link, a
  // restart) can progress: the proposals and votes of the current height this machine holds
  // (its own and others', equivocations included: relaying them is what keeps honest nodes
  // live), at most `max` items. Votes: the current round, then the pol_round of the current
  // round's proposal, then the other rounds newest first (precommits before prevotes).
  // Proposals: newest round first. Gossip is idempotent.
  std::vector<SignedVote> VotesForGossip(size_t max) const;
  std::vector<SignedProposal> ProposalsForGossip(size_t max) const;

 private:
  // Votes and senders of one round. Validators are named by their index in the set.
  // The votes of one type in one round. Validators are named by their index in the set.
  struct Tally {
    std::map<size_t, SignedVote> first;  // the first vote of each validator ("any" counts)
    // Counted votes by value: every validator once per value. An equivocating validator can
    // appear under two values (see OnVote); at most kMaxVotesPerValidator values each.
    std::map<Hash32, std::map<size_t, SignedVote>> by_hash;
    std::map<size_t, size_t> values;  // validator -> number of values it is counted under
    size_t Count(const Hash32& h) const {
      auto it = by_hash.find(h);
      return it == by_hash.end() ? 0 : it->second.size();
    }
  };
  struct RoundVotes {
    Tally prevotes, precommits;
    std::set<size_t> senders;  // validators with any message (vote or proposal) in this round
  };
  struct StoredProposal {
    SignedProposal p;
    bool valid = false;
  };
  struct RoundProposals {
    StoredProposal first;              // the one the rules of lines 22 and 28 use
    std::vector<StoredProposal> more;  // conflicting ones (<= kMaxConflictingProposals): only
                                       // used to find the block a quorum voted for
  };

  bool CanSign() const { return can_sign_; }
  bool IsProposer(uint32_t round) const;
  size_t Quorum() const { return validators_.QuorumSize(); }
  size_t FPlusOne() const { return validators_.size() - validators_.QuorumSize() + 1; }
  void SetValidators(ValidatorSet validators);
  std::optional<size_t> IndexOf(const PublicKey& key) const;
  uint64_t TimeoutMs(TimeoutKind kind, uint32_t round) const;
  void ScheduleTimeout(TimeoutKind kind, Output* out) const;
  void Vote(VoteType type, const Hash32& block_hash, Output* out) const;
  // A held proposal of `round` for `block_hash` (the first or a conflicting one), or nullptr.
  const StoredProposal* FindProposal(uint32_t round, const Hash32& block_hash) const;
  void WakeUp(Output* out);  // leaves the waiting step (starts the first round)

  void StartRound(uint32_t round, Output* out);
  void Upon(Output* out);                    // evaluates every rule of Algorithm 1 until none fires
  bool RuleDecide(Output* out);              // line 49
  bool RuleSkipRound(Output* out);           // line 55
  bool RuleProposal(Output* out);            // lines 22 and 28
  bool RulePrevoteQuorumValue(Output* out);  // line 36
  bool RulePrevoteQuorumNil(Output* out);    // line 44
  bool RulePrevoteQuorumAny(Output* out);    // line 34
  bool RulePrecommitQuorumAny(Output* out);  // line 47

  static constexpr size_t kMaxConflictingProposals = 2;
  static constexpr size_t kMaxVotesPerValidator = 4;  // values per (validator, round, type)

  std::string chain_id_;
  ValidatorSet validators_;  // the set that commits height_
  std::optional<PublicKey> self_;
  ConsensusParams params_;
  std::map<PublicKey, size_t> index_;  // validator key -> index in validators_
  bool can_sign_ = false;              // self_ is a validator, and may sign at this height
  uint64_t height_ = 0;
  uint32_t round_ = 0;
  Step step_ = Step::kWaiting;
  bool decided_ = false;
  uint32_t locked_round_ = kNoRound;
  std::optional<Hash32> locked_hash_;
  uint32_t valid_round_ = kNoRound;
  std::optional<Hash32> valid_hash_;
  std::optional<Block> valid_block_;
  std::optional<Block> restored_block_;  // the locked block kept across a restart (StartHeight)
  // Per-round "for the first time" flags of lines 34, 36 and 47 (reset by StartRound).
  bool prevote_timeout_scheduled_ = false;
  bool precommit_timeout_scheduled_ = false;
  bool valid_value_set_this_round_ = false;
  bool awaiting_own_block_ = false;  // a ProposalRequest without block is out for round_
  // Restart: the first round to start, and what was already signed in it.
  uint32_t first_round_ = 0;
  uint8_t resumed_step_ = 0;
  Hash32 resumed_hash_{};
  std::map<uint32_t, RoundVotes> votes_;          // rounds [0, round_ + kMaxRoundsAhead]
  std::map<uint32_t, RoundProposals> proposals_;  // same bound
  std::set<std::tuple<size_t, uint32_t, uint8_t>> equivocated_;  // (validator, round, type)
  std::set<uint32_t> conflicting_proposal_rounds_;
  std::set<Hash32> proposal_hashes_;  // block hashes of every held proposal of this height
  size_t evidence_count_ = 0;         // <= kMaxEvidencePerHeight
};

}  // namespace consent
