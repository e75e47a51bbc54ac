// Tendermint consensus (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure state machine, plus
// the proposal/vote signing helpers and the double-sign guard. See consensus.h for the contract.
//
// Mapping to the paper (line numbers of Algorithm 1):
//   StartRound           lines 11-21   (also schedules the propose timeout for the proposer: see
//                                       StartRound below)
//   RuleProposal         lines 22-27 (pol_round = none) and 28-33 (pol_round < round)
//   RulePrevoteQuorumAny lines 34-35    RulePrevoteQuorumValue lines 36-43
//   RulePrevoteQuorumNil lines 44-46    RulePrecommitQuorumAny lines 47-48
//   RuleDecide           lines 49-54    RuleSkipRound          lines 55-56
//   OnTimeout            lines 57-66
// Values are compared by block_hash; `valid(v)` is the flag the caller passes with a proposal.
// Deterministic: ordered containers only, no clock, no randomness, no I/O.
#include "ledger/consensus.h"

#include <algorithm>
#include <utility>

#include "crypto/hex.h"
#include "ledger/codec.h"

namespace consent {
namespace {

constexpr std::string_view kProposalTag = "consent-ledger/proposal/v1";
constexpr Hash32 kNil{};

// kNoRound is the paper's -1.
int64_t AsSigned(uint32_t round) { return round == kNoRound ? -1 : static_cast<int64_t>(round); }

std::string KeyPrefix(const PublicKey& key) { return ToHex(ByteView(key.data(), 8)); }
std::string HashPrefix(const Hash32& h) { return ToHex(ByteView(h.data(), 8)); }

const char* StepName(uint8_t step) {
  switch (step) {
    case 0:
      return "nothing";
    case 1:
      return "proposal";
    case 2:
      return "prevote";
    case 3:
      return "precommit";
    default:
      return "unknown";
  }
}

std::string DescribeSign(uint64_t height, uint32_t round, uint8_t step, const Hash32& hash) {
  return std::string(StepName(step)) + " at height " + std::to_string(height) + ", round " +
         std::to_string(round) + " for " + (hash == kNil ? std::string("nil") : HashPrefix(hash));
}

}  // namespace

Bytes ProposalMessage(std::string_view chain_id, uint64_t height, uint32_t round,
                      uint32_t pol_round, const Hash32& block_hash) {
  Writer w(kProposalTag.size() + 4 + chain_id.size() + 8 + 4 + 4 + 32);
  w.Tag(kProposalTag).Str(chain_id).U64(height).U32(round).U32(pol_round).Fixed(block_hash);
  return std::move(w).Take();
}

SignedVote SignVote(const SigningKey& key, std::string_view chain_id, VoteType type,
                    uint64_t height, uint32_t round, const Hash32& block_hash) {
  SignedVote v;
  v.type = type;
  v.height = height;
  v.round = round;
  v.block_hash = block_hash;
  v.validator = key.public_key();
  v.signature = key.Sign(VoteMessage(chain_id, type, height, round, block_hash));
  return v;
}

Status VerifyVote(std::string_view chain_id, const ValidatorSet& validators,
                  const SignedVote& vote) {
  if (vote.type != VoteType::kPrevote && vote.type != VoteType::kPrecommit) {
    return Status::Invalid("vote: type " + std::to_string(static_cast<int>(vote.type)) +
                           " is neither prevote (1) nor precommit (2)");
  }
  if (!validators.Contains(vote.validator)) {
    return Status::Rejected("vote: signer " + KeyPrefix(vote.validator) +
                            " is not in the validator set of height " +
                            std::to_string(vote.height));
  }
  Bytes msg = VoteMessage(chain_id, vote.type, vote.height, vote.round, vote.block_hash);
  if (!VerifySignature(vote.validator, msg, vote.signature)) {
    return Status::BadSignature("vote: invalid signature by " + KeyPrefix(vote.validator) +
                                " for height " + std::to_string(vote.height) + ", round " +
                                std::to_string(vote.round));
  }
  return Status::Ok();
}

SignedProposal SignProposal(const SigningKey& key, std::string_view chain_id, uint64_t height,
                            uint32_t round, uint32_t pol_round, Block block) {
  SignedProposal p;
  p.height = height;
  p.round = round;
  p.pol_round = pol_round;
  p.block_hash = block.header.Hash();
  p.block = std::move(block);
  p.proposer = key.public_key();
  p.signature = key.Sign(ProposalMessage(chain_id, height, round, pol_round, p.block_hash));
  return p;
}

SignedProposalRef RefOf(const SignedProposal& p) {
  return SignedProposalRef{p.height, p.round, p.pol_round, p.block_hash, p.proposer, p.signature};
}

Evidence VoteEquivocation(const SignedVote& a, const SignedVote& b) {
  Evidence e;
  e.a = a;
  e.b = b;
  return e;
}

Evidence ProposalEquivocation(const SignedProposal& a, const SignedProposal& b) {
  Evidence e;
  e.kind = EvidenceKind::kDuplicateProposal;
  e.pa = RefOf(a);
  e.pb = RefOf(b);
  return e;
}

namespace {

// The two checks of a proposal's signed part, shared by VerifyProposal and CheckEvidence.
Status CheckScheduledProposer(const ValidatorSet& validators, uint64_t height, uint32_t round,
                              const PublicKey& proposer) {
  const PublicKey& expected = validators.Proposer(height, round);
  if (proposer == expected) return Status::Ok();
  return Status::Rejected("proposal: signer " + KeyPrefix(proposer) +
                          " is not the proposer of height " + std::to_string(height) + ", round " +
                          std::to_string(round) + " (" + KeyPrefix(expected) + ")");
}

Status CheckProposalSignature(std::string_view chain_id, const SignedProposalRef& p) {
  Bytes msg = ProposalMessage(chain_id, p.height, p.round, p.pol_round, p.block_hash);
  if (VerifySignature(p.proposer, msg, p.signature)) return Status::Ok();
  return Status::BadSignature("proposal: invalid signature by " + KeyPrefix(p.proposer) +
                              " for height " + std::to_string(p.height) + ", round " +
                              std::to_string(p.round));
}

Status VerifyProposalRef(std::string_view chain_id, const ValidatorSet& validators,
                         const SignedProposalRef& p) {
  if (validators.keys.empty()) return Status::Invalid("proposal: the validator set is empty");
  RETURN_IF_ERROR(CheckScheduledProposer(validators, p.height, p.round, p.proposer));
  return CheckProposalSignature(chain_id, p);
}

}  // namespace

Status CheckEvidence(std::string_view chain_id, const ValidatorSet& validators, const Evidence& e) {
  if (e.kind == EvidenceKind::kDuplicateVote) {
    const SignedVote& a = e.a;
    const SignedVote& b = e.b;
    if (!(a.validator == b.validator && a.height == b.height && a.round == b.round &&
          a.type == b.type && a.block_hash != b.block_hash)) {
      return Status::Invalid("the two votes do not conflict");
    }
    RETURN_IF_ERROR(VerifyVote(chain_id, validators, a).Prefixed("vote_a"));
    return VerifyVote(chain_id, validators, b).Prefixed("vote_b");
  }
  if (e.kind != EvidenceKind::kDuplicateProposal) return Status::Invalid("unknown evidence kind");
  const SignedProposalRef& a = e.pa;
  const SignedProposalRef& b = e.pb;
  if (!(a.proposer == b.proposer && a.height == b.height && a.round == b.round &&
        (a.block_hash != b.block_hash || a.pol_round != b.pol_round))) {
    return Status::Invalid("the two proposals do not conflict");
  }
  RETURN_IF_ERROR(VerifyProposalRef(chain_id, validators, a).Prefixed("proposal_a"));
  return VerifyProposalRef(chain_id, validators, b).Prefixed("proposal_b");
}

Status VerifyProposal(std::string_view chain_id, const ValidatorSet& validators,
                      const SignedProposal& p) {
  if (validators.keys.empty()) return Status::Invalid("proposal: the validator set is empty");
  if (p.block.header.Hash() != p.block_hash) {
    return Status::Invalid("proposal: block_hash " + HashPrefix(p.block_hash) +
                           " is not the hash of the block's header");
  }
  if (p.block.header.height != p.height) {
    return Status::Invalid("proposal: block height " + std::to_string(p.block.header.height) +
                           " differs from the proposal height " + std::to_string(p.height));
  }
  RETURN_IF_ERROR(CheckScheduledProposer(validators, p.height, p.round, p.proposer));
  if (p.pol_round != kNoRound && p.pol_round >= p.round) {
    return Status::Invalid("proposal: pol_round " + std::to_string(p.pol_round) +
                           " is not before round " + std::to_string(p.round));
  }
  if (p.pol_round == kNoRound) {
    // A new block: built by this round's proposer.
    if (p.block.header.proposer != p.proposer) {
      return Status::Rejected("proposal: header proposer " + KeyPrefix(p.block.header.proposer) +
                              " is not the signer " + KeyPrefix(p.proposer));
    }
  } else {
    // A re-proposed valid value (Algorithm 1 line 16): the block is unchanged, so its header
    // names the proposer of the round it was first proposed in, some round <= pol_round.
    bool found = false;
    const uint64_t last = std::min<uint64_t>(p.pol_round, validators.size() - 1);
    for (uint64_t r = 0; r <= last && !found; ++r) {
      found = validators.Proposer(p.height, static_cast<uint32_t>(r)) == p.block.header.proposer;
    }
    if (!found) {
      return Status::Rejected("proposal: header proposer " + KeyPrefix(p.block.header.proposer) +
                              " is not the proposer of any round up to pol_round " +
                              std::to_string(p.pol_round));
    }
  }
  return CheckProposalSignature(chain_id, RefOf(p));
}

Status CheckSign(const SignState& last, uint64_t height, uint32_t round, uint8_t step,
                 const Hash32& block_hash) {
  if (step < 1 || step > 3) {
    return Status::Invalid("sign step " + std::to_string(step) + " is not 1, 2 or 3");
  }
  auto next = std::make_tuple(height, round, step);
  auto prev = std::make_tuple(last.height, last.round, last.step);
  if (next > prev) return Status::Ok();
  if (next == prev && block_hash == last.block_hash) return Status::Ok();
  return Status::Rejected("refusing to sign " + DescribeSign(height, round, step, block_hash) +
                          ": already signed " +
                          DescribeSign(last.height, last.round, last.step, last.block_hash));
}

// ---------------------------------------------------------------------------------------------
// Consensus

Consensus::Consensus(const Genesis& genesis, std::optional<PublicKey> self, ConsensusParams params)
    : chain_id_(genesis.chain_id), self_(self), params_(params) {
  SetValidators(genesis.Set());
}

void Consensus::SetValidators(ValidatorSet validators) {
  validators_ = std::move(validators);
  index_.clear();
  for (size_t i = 0; i < validators_.size(); ++i) index_.emplace(validators_.keys[i], i);
}

Output Consensus::StartHeight(uint64_t height, ValidatorSet validators,
                              const std::optional<SignState>& restored, const Block* locked_block) {
  SetValidators(std::move(validators));
  return StartHeight(height, restored, locked_block);
}

Hash32 Consensus::locked_hash() const { return locked_hash_.value_or(kNil); }

std::optional<size_t> Consensus::IndexOf(const PublicKey& key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

bool Consensus::IsProposer(uint32_t round) const {
  return can_sign_ && validators_.Proposer(height_, round) == *self_;
}

uint64_t Consensus::TimeoutMs(TimeoutKind kind, uint32_t round) const {
  uint64_t base = 0, delta = 0;
  switch (kind) {
    case TimeoutKind::kPropose:
      base = params_.propose_base_ms, delta = params_.propose_delta_ms;
      break;
    case TimeoutKind::kPrevote:
      base = params_.prevote_base_ms, delta = params_.prevote_delta_ms;
      break;
    case TimeoutKind::kPrecommit:
      base = params_.precommit_base_ms, delta = params_.precommit_delta_ms;
      break;
  }
  const uint64_t cap = params_.max_timeout_ms;
  if (base >= cap) return cap;
  // base + round * delta, capped, without overflow.
  if (delta != 0 && round > (cap - base) / delta) return cap;
  return std::min(cap, base + static_cast<uint64_t>(round) * delta);
}

void Consensus::ScheduleTimeout(TimeoutKind kind, Output* out) const {
  out->timeouts.push_back({kind, height_, round_, TimeoutMs(kind, round_)});
}

void Consensus::Vote(VoteType type, const Hash32& block_hash, Output* out) const {
  if (!can_sign_) return;  // a follower only observes
  out->votes.push_back({type, height_, round_, block_hash});
}

const Consensus::StoredProposal* Consensus::FindProposal(uint32_t round,
                                                         const Hash32& block_hash) const {
  auto it = proposals_.find(round);
  if (it == proposals_.end()) return nullptr;
  if (it->second.first.p.block_hash == block_hash) return &it->second.first;
  for (const auto& sp : it->second.more) {
    if (sp.p.block_hash == block_hash) return &sp;
  }
  return nullptr;
}

Output Consensus::StartHeight(uint64_t height, const std::optional<SignState>& restored,
                              const Block* locked_block) {
  height_ = height;
  round_ = 0;
  step_ = Step::kWaiting;
  decided_ = false;
  locked_round_ = kNoRound;
  locked_hash_.reset();
  valid_round_ = kNoRound;
  valid_hash_.reset();
  valid_block_.reset();
  restored_block_.reset();
  prevote_timeout_scheduled_ = precommit_timeout_scheduled_ = false;
  valid_value_set_this_round_ = false;
  awaiting_own_block_ = false;
  first_round_ = 0;
  resumed_step_ = 0;
  resumed_hash_ = kNil;
  votes_.clear();
  proposals_.clear();
  equivocated_.clear();
  conflicting_proposal_rounds_.clear();
  proposal_hashes_.clear();
  evidence_count_ = 0;
  can_sign_ = self_.has_value() && index_.count(*self_) != 0;

  Output out;
  if (!restored || !can_sign_) return out;
  if (restored->height > height) {
    // This validator already signed at a later height (its store is behind its sign state):
    // anything it signed here would be refused by the guard, so it only observes this height.
    can_sign_ = false;
    return out;
  }
  if (restored->height < height || restored->step == 0) return out;
  // Same height: restore the lock, and resume in the round it last signed in, without asking
  // again for anything before what it signed (CheckSign would refuse it).
  if (restored->locked_round != kNoRound && restored->locked_round <= restored->round) {
    locked_round_ = restored->locked_round;
    locked_hash_ = restored->locked_hash;
    if (locked_block != nullptr && locked_block->header.height == height &&
        locked_block->header.Hash() == restored->locked_hash) {
      restored_block_ = *locked_block;
    }
  }
  first_round_ = restored->round;
  resumed_step_ = std::min<uint8_t>(restored->step, 3);
  resumed_hash_ = restored->block_hash;
  // The height was under way: no waiting for transactions.
  WakeUp(&out);
  return out;
}

void Consensus::WakeUp(Output* out) {
  if (step_ != Step::kWaiting || decided_ || height_ == 0) return;
  StartRound(first_round_, out);
  if (round_ == first_round_ && resumed_step_ >= 2) {
    // Already prevoted (or precommitted) in this round before the restart: ask for the same
    // vote again (re-signing the same message is harmless and re-sends it) and move on.
    step_ = Step::kPrevote;
    if (resumed_step_ == 2) {
      Vote(VoteType::kPrevote, resumed_hash_, out);
    } else {
      step_ = Step::kPrecommit;
      Vote(VoteType::kPrecommit, resumed_hash_, out);
    }
  }
}

// Lines 11-21. Deviation: the proposer also schedules the propose timeout. Algorithm 1 does not
// need it because the proposer broadcasts at once; here the node must still build (and may fail
// to sign) its block, and after a restart it may not re-propose at all, so without the timeout a
// lone validator (n = 1) could wait forever. Prevoting nil on a timeout is always safe.
void Consensus::StartRound(uint32_t round, Output* out) {
  round_ = round;
  step_ = Step::kPropose;
  prevote_timeout_scheduled_ = precommit_timeout_scheduled_ = false;
  valid_value_set_this_round_ = false;
  awaiting_own_block_ = false;
  // A proposal request of an earlier round in this Output is stale: the machine has moved on.
  out->proposal.reset();
  // Never a second proposal in a round: not after a restart that had proposed here, nor when a
  // proposal of this round signed with this node's key is already held (a previous incarnation's,
  // gossiped back): a new one would be an equivocation.
  const bool already_proposed =
      (round == first_round_ && resumed_step_ >= 1) || proposals_.count(round) != 0;
  if (IsProposer(round) && !already_proposed) {
    ProposalRequest req;
    req.height = height_;
    req.round = round;
    if (valid_hash_ && valid_block_) {
      req.pol_round = valid_round_;
      req.block = *valid_block_;
    } else if (restored_block_) {
      // getValue() after a restart with a lock whose block the node kept: that block, as a new
      // proposal (POL round -1: the prevotes that justified the lock were lost with the process).
      // This validator prevotes it by line 22 (its locked value), so even a lone validator
      // decides it; a validator locked on something else prevotes nil, as for any new value.
      req.pol_round = kNoRound;
      req.block = *restored_block_;
    } else {
      // No valid value: ask the node for a new block (OnOwnBlock). After a restart with a lock
      // whose block the node did not keep this is also the case: the new block is proposed, and
      // this validator itself prevotes nil for it unless it is the locked block (line 22).
      req.pol_round = kNoRound;
      awaiting_own_block_ = true;
    }
    out->proposal = std::move(req);
  }
  ScheduleTimeout(TimeoutKind::kPropose, out);
}

Output Consensus::OnTxsAvailable() {
  Output out;
  if (step_ != Step::kWaiting) return out;
  WakeUp(&out);
  Upon(&out);
  return out;
}

Output Consensus::OnOwnBlock(uint64_t height, uint32_t round, Block block) {
  Output out;
  if (decided_ || !awaiting_own_block_ || height != height_ || round != round_ ||
      step_ != Step::kPropose || proposals_.count(round_) != 0) {
    return out;
  }
  awaiting_own_block_ = false;
  ProposalRequest req;
  req.height = height_;
  req.round = round_;
  req.pol_round = kNoRound;  // no valid value, else StartRound re-proposed it
  req.block = std::move(block);
  out.proposal = std::move(req);
  return out;
}

Output Consensus::OnProposal(const SignedProposal& p, bool valid) {
  Output out;
  if (height_ == 0 || p.height != height_) return out;
  // Defensive checks of what the caller verified (cheap; the signature is trusted).
  if (validators_.Proposer(p.height, p.round) != p.proposer) return out;
  if (p.pol_round != kNoRound && p.pol_round >= p.round) return out;
  if (p.block.header.Hash() != p.block_hash) return out;
  if (static_cast<uint64_t>(p.round) > static_cast<uint64_t>(round_) + kMaxRoundsAhead) {
    return out;
  }
  const size_t proposer_index = *IndexOf(p.proposer);

  auto it = proposals_.find(p.round);
  if (it == proposals_.end()) {
    proposals_.emplace(p.round, RoundProposals{StoredProposal{p, valid}, {}});
    votes_[p.round].senders.insert(proposer_index);
  } else {
    RoundProposals& rp = it->second;
    const bool same = rp.first.p.block_hash == p.block_hash && rp.first.p.pol_round == p.pol_round;
    if (same) {
      // The same proposal again. Validity is a pure function of the block, and the header hash
      // commits to the transactions only through log_root: a copy with other transactions is
      // invalid, so a valid copy may replace an invalid one.
      if (!rp.first.valid && valid) rp.first = StoredProposal{p, valid};
    } else {
      // A second, different proposal signed by the proposer of this round (equivocation). It
      // is ignored by the rules of lines 22 and 28, which keep using the first one; it is kept
      // (bounded) only so that a block a quorum precommitted can still be found (line 49).
      bool known = false;
      for (auto& sp : rp.more) {
        if (sp.p.block_hash == p.block_hash && sp.p.pol_round == p.pol_round) {
          if (!sp.valid && valid) sp = StoredProposal{p, valid};
          known = true;
        }
      }
      if (!known && rp.more.size() < kMaxConflictingProposals) {
        rp.more.push_back(StoredProposal{p, valid});
      }
      if (!known && conflicting_proposal_rounds_.insert(p.round).second &&
          evidence_count_ < kMaxEvidencePerHeight) {
        ++evidence_count_;
        out.proposal_evidence.push_back({rp.first.p, p});
      }
    }
  }
  if (FindProposal(p.round, p.block_hash) != nullptr) proposal_hashes_.insert(p.block_hash);
  WakeUp(&out);
  Upon(&out);
  return out;
}

Output Consensus::OnVote(const SignedVote& v) {
  Output out;
  if (height_ == 0 || v.height != height_) return out;
  if (v.type != VoteType::kPrevote && v.type != VoteType::kPrecommit) return out;
  std::optional<size_t> who = IndexOf(v.validator);
  if (!who) return out;  // not a validator: the caller should have refused it
  if (static_cast<uint64_t>(v.round) > static_cast<uint64_t>(round_) + kMaxRoundsAhead) {
    return out;
  }
  RoundVotes& rv = votes_[v.round];
  Tally& tally = v.type == VoteType::kPrevote ? rv.prevotes : rv.precommits;
  auto it = tally.first.find(*who);
  if (it == tally.first.end()) {
    tally.first.emplace(*who, v);
    tally.by_hash[v.block_hash].emplace(*who, v);
    tally.values[*who] = 1;
    rv.senders.insert(*who);
  } else {
    if (it->second.block_hash == v.block_hash) return out;  // a duplicate: counted once
    auto& voters = tally.by_hash[v.block_hash];
    if (voters.count(*who) != 0) return out;  // this conflicting vote again
    // Equivocation: two different votes for one (height, round, type). Reported once per
    // (validator, round, type).
    auto key = std::make_tuple(*who, v.round, static_cast<uint8_t>(v.type));
    if (evidence_count_ < kMaxEvidencePerHeight && equivocated_.insert(key).second) {
      ++evidence_count_;
      out.evidence.push_back(VoteEquivocation(it->second, v));
    }
    // Counted for its value too when that value can matter (see the header), bounded.
    const bool relevant = v.block_hash == kNil || proposal_hashes_.count(v.block_hash) != 0;
    if (!relevant || tally.values[*who] >= kMaxVotesPerValidator) {
      if (voters.empty()) tally.by_hash.erase(v.block_hash);
      return out;
    }
    voters.emplace(*who, v);
    ++tally.values[*who];
  }
  WakeUp(&out);
  Upon(&out);
  return out;
}

Output Consensus::OnTimeout(TimeoutKind kind, uint64_t height, uint32_t round) {
  Output out;
  if (decided_ || height != height_ || round != round_ || step_ == Step::kWaiting) return out;
  switch (kind) {
    case TimeoutKind::kPropose:  // lines 57-60
      if (step_ != Step::kPropose) return out;
      Vote(VoteType::kPrevote, kNil, &out);
      step_ = Step::kPrevote;
      awaiting_own_block_ = false;
      break;
    case TimeoutKind::kPrevote:  // lines 61-64
      if (step_ != Step::kPrevote) return out;
      Vote(VoteType::kPrecommit, kNil, &out);
      step_ = Step::kPrecommit;
      break;
    case TimeoutKind::kPrecommit:              // lines 65-67
      if (round_ == kNoRound - 1) return out;  // no round after the last
      StartRound(round_ + 1, &out);
      break;
    default:
      return out;
  }
  Upon(&out);
  return out;
}

void Consensus::Upon(Output* out) {
  if (step_ == Step::kWaiting) return;
  // Every rule either changes the step or the round, or sets a per-round flag, so this ends.
  while (!decided_) {
    if (RuleDecide(out)) return;
    if (RuleSkipRound(out)) continue;
    if (RuleProposal(out)) continue;
    if (RulePrevoteQuorumValue(out)) continue;
    if (RulePrevoteQuorumNil(out)) continue;
    if (RulePrevoteQuorumAny(out)) continue;
    if (RulePrecommitQuorumAny(out)) continue;
    break;
  }
}

// Lines 49-54: a proposal of ANY round r and 2f+1 precommits for it in r: decide (if valid).
bool Consensus::RuleDecide(Output* out) {
  for (const auto& [r, rv] : votes_) {
    for (const auto& [hash, voters] : rv.precommits.by_hash) {
      if (hash == kNil || voters.size() < Quorum()) continue;
      const StoredProposal* sp = FindProposal(r, hash);
      if (sp == nullptr || !sp->valid) continue;
      Decision d;
      d.height = height_;
      d.round = r;
      d.block = sp->p.block;
      d.block_hash = hash;
      d.commit.round = r;
      for (const auto& [idx, vote] : voters) {  // the set's order
        d.commit.signatures.push_back({vote.validator, vote.signature});
      }
      out->decision = std::move(d);
      decided_ = true;
      awaiting_own_block_ = false;
      return true;
    }
  }
  return false;
}

// Lines 55-56: f+1 validators sent something for a round above ours: go there (the highest such).
bool Consensus::RuleSkipRound(Output* out) {
  for (auto it = votes_.rbegin(); it != votes_.rend() && it->first > round_; ++it) {
    if (it->second.senders.size() >= FPlusOne()) {
      StartRound(it->first, out);
      return true;
    }
  }
  return false;
}

// Lines 22-27 and 28-33: the proposal of this round, while in the propose step.
bool Consensus::RuleProposal(Output* out) {
  if (step_ != Step::kPropose) return false;
  auto it = proposals_.find(round_);
  if (it == proposals_.end()) return false;
  const StoredProposal& sp = it->second.first;
  const Hash32& v = sp.p.block_hash;
  const uint32_t vr = sp.p.pol_round;
  bool prevote_value = false;
  if (vr == kNoRound) {
    // Line 22.
    prevote_value = sp.valid && (locked_round_ == kNoRound || locked_hash_ == v);
  } else {
    // Line 28: needs 2f+1 prevotes for v in round vr < round.
    if (vr >= round_) return false;
    auto vit = votes_.find(vr);
    if (vit == votes_.end()) return false;
    if (vit->second.prevotes.Count(v) < Quorum()) return false;
    prevote_value = sp.valid && (AsSigned(locked_round_) <= AsSigned(vr) || locked_hash_ == v);
  }
  Vote(VoteType::kPrevote, prevote_value ? v : kNil, out);
  step_ = Step::kPrevote;
  awaiting_own_block_ = false;
  return true;
}

// Lines 36-43: the proposal of this round and 2f+1 prevotes for it, step >= prevote, first time.
bool Consensus::RulePrevoteQuorumValue(Output* out) {
  if (valid_value_set_this_round_ || step_ < Step::kPrevote) return false;
  auto vit = votes_.find(round_);
  if (vit == votes_.end()) return false;
  for (const auto& [hash, voters] : vit->second.prevotes.by_hash) {
    if (hash == kNil || voters.size() < Quorum()) continue;
    const StoredProposal* sp = FindProposal(round_, hash);
    if (sp == nullptr || !sp->valid) continue;
    valid_value_set_this_round_ = true;
    if (step_ == Step::kPrevote) {
      locked_hash_ = hash;
      locked_round_ = round_;
      Vote(VoteType::kPrecommit, hash, out);
      step_ = Step::kPrecommit;
    }
    valid_hash_ = hash;
    valid_block_ = sp->p.block;
    valid_round_ = round_;
    return true;
  }
  return false;
}

// Lines 44-46: 2f+1 nil prevotes in this round while in the prevote step.
bool Consensus::RulePrevoteQuorumNil(Output* out) {
  if (step_ != Step::kPrevote) return false;
  auto vit = votes_.find(round_);
  if (vit == votes_.end()) return false;
  if (vit->second.prevotes.Count(kNil) < Quorum()) return false;
  Vote(VoteType::kPrecommit, kNil, out);
  step_ = Step::kPrecommit;
  return true;
}

// Lines 34-35: 2f+1 prevotes of any kind in this round while in the prevote step, first time.
bool Consensus::RulePrevoteQuorumAny(Output* out) {
  if (prevote_timeout_scheduled_ || step_ != Step::kPrevote) return false;
  auto vit = votes_.find(round_);
  if (vit == votes_.end() || vit->second.prevotes.first.size() < Quorum()) return false;
  prevote_timeout_scheduled_ = true;
  ScheduleTimeout(TimeoutKind::kPrevote, out);
  return true;
}

// Lines 47-48: 2f+1 precommits of any kind in this round, first time.
bool Consensus::RulePrecommitQuorumAny(Output* out) {
  if (precommit_timeout_scheduled_) return false;
  auto vit = votes_.find(round_);
  if (vit == votes_.end() || vit->second.precommits.first.size() < Quorum()) return false;
  precommit_timeout_scheduled_ = true;
  ScheduleTimeout(TimeoutKind::kPrecommit, out);
  return true;
}

std::vector<SignedVote> Consensus::VotesForGossip(size_t max) const {
  std::vector<SignedVote> out;
  // Rounds in order of use to a peer: the current one, the pol_round of its proposal (line 28
  // needs those prevotes), then the others newest first.
  std::vector<uint32_t> order;
  order.push_back(round_);
  auto pit = proposals_.find(round_);
  if (pit != proposals_.end() && pit->second.first.p.pol_round != kNoRound) {
    order.push_back(pit->second.first.p.pol_round);
  }
  for (auto it = votes_.rbegin(); it != votes_.rend(); ++it) {
    if (std::find(order.begin(), order.end(), it->first) == order.end()) order.push_back(it->first);
  }
  for (uint32_t r : order) {
    auto it = votes_.find(r);
    if (it == votes_.end()) continue;
    for (const Tally* tally : {&it->second.precommits, &it->second.prevotes}) {
      for (const auto& [hash, voters] : tally->by_hash) {
        for (const auto& [idx, vote] : voters) {
          if (out.size() >= max) return out;
          out.push_back(vote);
        }
      }
    }
  }
  return out;
}

std::vector<SignedProposal> Consensus::ProposalsForGossip(size_t max) const {
  std::vector<SignedProposal> out;
  for (auto it = proposals_.rbegin(); it != proposals_.rend() && out.size() < max; ++it) {
    out.push_back(it->second.first.p);
  }
  return out;
}

}  // namespace consent
