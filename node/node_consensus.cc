// Node, the consensus driver (node/node.h): starting heights, proposing (building a block from the
// mempool), validating proposals, voting behind the double-sign guard, committing decisions,
// equivocation evidence, and the periodic tick (status, relay, re-gossip, sync).
// Thread-safety: driver thread only.
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "node/evidence_log.h"
#include "node/node_internal.h"
#include "node/proposal_check.h"
#include "node/sign_state.h"

namespace consent {
namespace {

using node_internal::ShortHex;

// Re-send the current height's proposals and votes when a height has not been decided for this
// long, at most this often.
constexpr auto kRegossipAfter = std::chrono::milliseconds(1000);

uint8_t StepOf(VoteType t) { return t == VoteType::kPrevote ? 2 : 3; }

}  // namespace

void Node::UpdateConsensusInfo() {
  const bool active = consensus_->step() != Step::kWaiting;
  if (active && !active_) active_since_ = Clock::now();
  active_ = active;
  cons_height_ = consensus_->height();
  cons_round_ = consensus_->round();
  cons_step_ = static_cast<uint8_t>(consensus_->step());
}

void Node::StartNextHeight() {
  const ChainTip tip = store_->tip();
  const uint64_t h = tip.head ? tip.head->height + 1 : 1;
  validated_.clear();
  invalid_.clear();
  timers_.clear();
  height_started_ = Clock::now();
  last_regossip_ = height_started_;
  std::optional<SignState> restored;
  if (sign_state_ && sign_state_->height == h) restored = sign_state_;
  std::optional<Block> locked_block;
  if (restored && restored->locked_round != kNoRound) {
    locked_block = RestoreLockedBlock(h, *restored);
    if (!locked_block) {
      spdlog::warn(
          "this validator locked on block {} at height {} round {} before the restart, and {} does "
          "not hold that block: it prevotes nil for any other block at this height until a "
          "quorum of the other validators moves past the lock; a lone validator cannot, see "
          "docs/operations.md",
          ToHex(restored->locked_hash), h, restored->locked_round, locked_path_);
    }
  }
  // The set that commits h (PROTOCOL.md section 10): a change decided at h - 1 takes effect here.
  ValidatorSet validators = store_->ValidatorsFor(h);
  const bool member = validators.Contains(key_.public_key());
  if (member != validator_.load()) {
    spdlog::warn("this node's key {} the validator set at height {} ({} validators): {}",
                 member ? "joined" : "left", h, validators.size(),
                 member ? "it votes and proposes from this height on"
                        : "it runs as a follower from this height on");
  } else if (h > 1 && validators.Hash() != consensus_->validators().Hash()) {
    spdlog::info("the validator set changed at height {}: {} validators", h, validators.size());
  }
  validator_ = member;
  Handle(consensus_->StartHeight(h, std::move(validators), restored,
                                 locked_block ? &*locked_block : nullptr));
  // Messages that arrived early for this height.
  for (auto& [peer, m] : future_.Take(h)) {
    if (auto* p = std::get_if<p2p::ProposalMsg>(&m)) {
      OnProposalMsg(peer, p->proposal);
    } else if (auto* v = std::get_if<p2p::VoteMsg>(&m)) {
      OnVoteMsg(peer, v->vote);
    }
  }
  UpdateConsensusInfo();
  // Later, on the queue: so that a chain of decisions never recurses.
  Post([this] { MaybeTxsAvailable(); }, false);
}

void Node::MaybeTxsAvailable() {
  if (!validator_ || consensus_->step() != Step::kWaiting || consensus_->decided()) return;
  if (mempool_->size() == 0) {
    // Idle: a heartbeat block heartbeat_ms after this height started, so that the head of a live
    // chain is never much older than that and a stale head is provable (tools compare its time
    // with their clock). Every validator starts the round, so a proposer that is down is skipped
    // by the round timeouts as for any block.
    const uint32_t heartbeat = options_.config.heartbeat_ms;
    if (heartbeat == 0) return;
    const auto due = height_started_ + std::chrono::milliseconds(heartbeat);
    if (Clock::now() < due) {
      txs_wake_at_ = due;
      return;
    }
    Handle(consensus_->OnTxsAvailable());
    return;
  }
  const auto ready_at = last_commit_ + std::chrono::milliseconds(options_.config.block_interval_ms);
  if (Clock::now() < ready_at) {
    txs_wake_at_ = ready_at;
    return;
  }
  Handle(consensus_->OnTxsAvailable());
}

void Node::Handle(Output first) {
  // Breadth first, and within one Output: sign every vote (in order), then the proposal, and only
  // then feed the signed messages back. The machine's requests only move forward in (round,
  // step), so the double-sign guard sees them in increasing order.
  if (handle_depth_++ == 0 && !active_) handle_since_ = Clock::now();
  struct Depth {
    int& d;
    ~Depth() { --d; }
  } depth{handle_depth_};
  std::deque<Output> work;
  work.push_back(std::move(first));
  while (!work.empty() && !fatal_) {
    Output out = std::move(work.front());
    work.pop_front();
    for (const Evidence& e : out.evidence) {
      RecordEvidence(e);
      p2p::EvidenceMsg m;
      m.evidence = e;
      Broadcast(m);
    }
    for (const ProposalEvidence& pe : out.proposal_evidence) {
      // Kept, gossiped and served like vote evidence (p2p type 11, "duplicate_proposal").
      const Evidence e = ProposalEquivocation(pe.a, pe.b);
      RecordEvidence(e);
      p2p::EvidenceMsg m;
      m.evidence = e;
      Broadcast(m);
    }
    const auto now = Clock::now();
    for (const TimeoutRequest& t : out.timeouts) {
      timers_.emplace(now + std::chrono::milliseconds(t.delay_ms), t);
    }
    std::vector<SignedVote> votes;
    for (const VoteRequest& v : out.votes) {
      if (auto sv = DoVote(v)) votes.push_back(*sv);
      if (fatal_) return;
    }
    std::optional<SignedProposal> proposal;
    std::optional<Output> built;
    if (out.proposal) {
      if (out.proposal->block) {
        proposal = DoPropose(*out.proposal);
      } else {
        built = BuildProposal(*out.proposal);
      }
      if (fatal_) return;
    }
    if (out.decision) {
      DoDecide(std::move(*out.decision));
      return;  // anything left was for the decided height
    }
    for (const SignedVote& v : votes) work.push_back(consensus_->OnVote(v));
    if (proposal) work.push_back(consensus_->OnProposal(*proposal, /*valid=*/true));
    if (built) work.push_back(std::move(*built));
  }
  UpdateConsensusInfo();
}

Output Node::BuildProposal(const ProposalRequest& req) {
  if (!validator_) return {};
  const ChainTip tip = store_->tip();
  const uint64_t prev_time = tip.head ? tip.head->time_ms : genesis_.genesis_time_ms;
  const uint64_t time_ms = std::max(NowMs(), prev_time + 1);
  // Each with its id, computed once, when the mempool admitted it.
  std::vector<IdentifiedTx> candidates = mempool_->Candidates(options_.config.max_txs_per_block);
  const auto build_start = Clock::now();
  // A proposal travels in one peer frame: the block's body stays under kMaxBlockBytes.
  auto built = BuildBlock(store_->kv(), genesis_, tip, time_ms, req.round, std::move(candidates),
                          options_.config.max_txs_per_block, kMaxBlockBytes);
  spdlog::debug("built block for height {} round {}: {} txs in {:.1f} ms", req.height, req.round,
                built.ok() ? built->validated.block.txs.size() : 0,
                std::chrono::duration<double, std::milli>(Clock::now() - build_start).count());
  if (!built.ok()) {
    Fatal(built.status().Prefixed("building block " + std::to_string(req.height)));
    return {};
  }
  std::vector<Hash32> rejected;
  for (const RejectedTx& r : built->rejected) {
    spdlog::info("block building left out tx {}: {}", ShortHex(r.tx_id), r.message);
    rejected.push_back(r.tx_id);
  }
  if (!rejected.empty()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      txs_left_out_ += rejected.size();
    }
    mempool_->OnBlockCommitted({}, rejected);
  }
  Block block = built->validated.block;
  const Hash32 hash = built->validated.block_hash;
  validated_.emplace(hash, std::move(built->validated));
  return consensus_->OnOwnBlock(req.height, req.round, std::move(block));
}

std::optional<SignedProposal> Node::DoPropose(const ProposalRequest& req) {
  if (!validator_ || !req.block) return std::nullopt;
  const Hash32 hash = req.block->header.Hash();
  const SignState last = sign_state_.value_or(SignState{});
  if (consent::Status st = CheckSign(last, req.height, req.round, 1, hash); !st.ok()) {
    spdlog::warn("not proposing at height {} round {}: {}", req.height, req.round, st.ToString());
    return std::nullopt;
  }
  SignState next{
      req.height, req.round, 1, hash, consensus_->locked_round(), consensus_->locked_hash()};
  if (consent::Status st = SaveSignState(options_.sign_state_path, next); !st.ok()) {
    Fatal(st.Prefixed("persisting the sign state"));
    return std::nullopt;
  }
  sign_state_ = next;
  if (options_.on_sign_state_saved) options_.on_sign_state_saved(next);
  SignedProposal p =
      SignProposal(key_, genesis_.chain_id, req.height, req.round, req.pol_round, *req.block);
  spdlog::debug("proposing block {} at height {} round {} ({} txs)", ShortHex(hash), req.height,
                req.round, p.block.txs.size());
  p2p::ProposalMsg m;
  m.proposal = p;
  Broadcast(m);
  return p;
}

std::optional<SignedVote> Node::DoVote(const VoteRequest& req) {
  if (!validator_) return std::nullopt;
  const uint8_t step = StepOf(req.type);
  const SignState last = sign_state_.value_or(SignState{});
  if (consent::Status st = CheckSign(last, req.height, req.round, step, req.block_hash); !st.ok()) {
    spdlog::warn("not voting at height {} round {}: {}", req.height, req.round, st.ToString());
    return std::nullopt;
  }
  SignState next{req.height,
                 req.round,
                 step,
                 req.block_hash,
                 consensus_->locked_round(),
                 consensus_->locked_hash()};
  // A precommit that just locked this validator on a block: keep that block's proposal, durably,
  // BEFORE the sign state that records the lock. A kill between the two writes then leaves the
  // block without the lock (harmless), never the lock without the block, which would stop a lone
  // validator for good: after the restart it prevotes nil for every block but the locked one.
  if (req.type == VoteType::kPrecommit && req.block_hash != Hash32{} &&
      consensus_->locked_round() == req.round && consensus_->locked_hash() == req.block_hash &&
      !(saved_lock_height_ == req.height && saved_lock_hash_ == req.block_hash)) {
    if (const SignedProposal* p = consensus_->HeldProposal(req.round, req.block_hash)) {
      if (consent::Status st = SaveLockedProposal(*p); !st.ok()) {
        // Signing stays safe (the sign state guards it); only a restart at this height could
        // not re-propose the block, so say so and go on.
        spdlog::warn("the locked block {} of height {} is not kept for a restart: {}",
                     ShortHex(req.block_hash), req.height, st.ToString());
      }
    }
  }
  if (!(next == last)) {
    if (consent::Status st = SaveSignState(options_.sign_state_path, next); !st.ok()) {
      Fatal(st.Prefixed("persisting the sign state"));
      return std::nullopt;
    }
    sign_state_ = next;
    if (options_.on_sign_state_saved) options_.on_sign_state_saved(next);
  }
  SignedVote v = SignVote(key_, genesis_.chain_id, req.type, req.height, req.round, req.block_hash);
  p2p::VoteMsg m;
  m.vote = v;
  Broadcast(m);
  return v;
}

void Node::DoDecide(Decision d) {
  auto it = validated_.find(d.block_hash);
  ValidatedBlock vb;
  if (it != validated_.end()) {
    vb = std::move(it->second);
  } else {
    // Decided on a block this node did not validate (it saw the precommits, not the proposal's
    // validation): validate it now, signatures included.
    // (The state rules first: validating computes the tx ids the signature check then reuses.)
    BlockCheck check;
    auto v = ValidateBlock(store_->kv(), genesis_, store_->tip(), d.block, d.round, false, &check);
    if (!v.ok()) {
      Fatal(v.status().Prefixed("validating decided block " + std::to_string(d.height)));
      return;
    }
    if (mempool_->VerifyBlockSignatures(d.block.txs, v->tx_ids)) {
      spdlog::error("decided block {} at height {} has an invalid transaction signature",
                    ShortHex(d.block_hash), d.height);
      Fatal(consent::Status::Corruption("a decided block does not validate"));
      return;
    }
    vb = std::move(v).value();
  }
  CommitDecided(std::move(vb), d.commit);
}

void Node::CommitDecided(ValidatedBlock validated, const Commit& commit, bool synced) {
  auto block = std::make_shared<CommittedBlock>();
  block->header = validated.block.header;
  block->block_hash = validated.block_hash;
  block->first_log_index = store_->tip().log_size;
  // Committing needs only the header and the writes: the transactions and their ids move on to
  // the mempool and the listeners.
  block->txs = std::move(validated.block.txs);
  block->tx_ids = std::move(validated.tx_ids);
  const auto commit_start = Clock::now();
  if (consent::Status st = store_->CommitBlock(std::move(validated), commit); !st.ok()) {
    Fatal(st.Prefixed("committing block " + std::to_string(block->header.height)));
    return;
  }
  last_commit_ = Clock::now();
  spdlog::debug("wrote block {} in {:.1f} ms", block->header.height,
                std::chrono::duration<double, std::milli>(last_commit_ - commit_start).count());
  // From the first round's start (not the idle wait before it) to the durable commit. A height
  // that left waiting and was decided within one Handle call (UpdateConsensusInfo, which notes
  // the round's start, runs only at its end) started when that call began.
  std::optional<double> seconds;
  if (!synced) {
    seconds =
        std::chrono::duration<double>(last_commit_ - (active_ ? active_since_ : handle_since_))
            .count();
  }
  active_ = false;
  mempool_->OnBlockCommitted(block->txs, {}, &block->tx_ids);
  RecordCommit(*block, seconds);
  spdlog::debug("committed block {} ({} txs, log size {}, round {})", block->header.height,
                block->txs.size(), block->header.log_size, commit.round);
  {
    std::shared_ptr<const CommittedBlock> shared = block;
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (CommitListener* l : listeners_) l->OnCommit(shared);
  }
  p2p::StatusMsg s;
  s.height = block->header.height;
  s.head_hash = block->block_hash;
  Broadcast(s);
  StartNextHeight();
}

bool Node::EvaluateProposal(const SignedProposal& p) {
  if (validated_.count(p.block_hash)) return true;
  if (invalid_.count(p.block_hash)) return false;
  auto invalid = [&](const std::string& why) {
    spdlog::warn("proposal {} for height {} round {} is invalid: {}", ShortHex(p.block_hash),
                 p.height, p.round, why);
    invalid_.insert(p.block_hash);
    return false;
  };
  if (p.block.header.time_ms > NowMs() + kMaxFutureMs) {
    return invalid("its time " + std::to_string(p.block.header.time_ms) + " is more than " +
                   std::to_string(kMaxFutureMs) + " ms ahead of this node's clock");
  }
  // The state rules and roots first, then the signatures: validating computes each tx id once
  // and the signature check (mostly cache hits: the txs were gossiped) reuses them.
  BlockCheck check;
  const auto validate_start = Clock::now();
  auto v = ValidateBlock(store_->kv(), genesis_, store_->tip(), p.block, p.round, false, &check);
  spdlog::debug("validated proposal for height {} round {}: {} txs in {:.1f} ms", p.height, p.round,
                p.block.txs.size(),
                std::chrono::duration<double, std::milli>(Clock::now() - validate_start).count());
  if (!v.ok()) {
    if (check.reason == BlockRejectReason::kStorage) {
      Fatal(v.status().Prefixed("validating a proposal"));
      return false;
    }
    return invalid(v.status().message());
  }
  if (auto bad = mempool_->VerifyBlockSignatures(p.block.txs, v->tx_ids)) {
    return invalid("transaction " + std::to_string(*bad) + " has an invalid signature");
  }
  validated_.emplace(p.block_hash, std::move(v).value());
  return true;
}

void Node::OnProposalMsg(PeerId peer, const SignedProposal& p) {
  const uint64_t h = consensus_->height();
  if (p.height != h && p.height != h + 1) return;
  // The set of h + 1 is known only once h is committed (h may change it): an early message that
  // fails the membership or proposer check is dropped, not held against the peer.
  const bool early = p.height == h + 1;
  const ValidatorSet next = early ? store_->ValidatorsFor(p.height) : ValidatorSet{};
  if (consent::Status st =
          VerifyProposal(genesis_.chain_id, early ? next : consensus_->validators(), p);
      !st.ok()) {
    if (early && st.code() == StatusCode::kRejected) return;
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
    }
    if (peers_ && peer != 0) peers_->Disconnect(peer, "invalid proposal: " + st.message(), true);
    return;
  }
  if (p.height == h + 1) {
    // Early, from a peer that committed h already: kept (bounded) until this node gets there.
    // Its body is checked against its header then, against the state it builds on.
    future_.AddProposal(peer, p);
    return;
  }
  // The signature covers the header only. A body other than the one the header commits to is
  // not the proposer's block: it must not be judged (that would taint the header's hash and so
  // the honest block), must not reach the machine, and is the fault of the peer that relayed it
  // (honest nodes relay only proposals they validated).
  // (A copy equal to a block already validated needs no hashing: gossip repeats proposals.)
  auto known = validated_.find(p.block_hash);
  const bool same_as_validated =
      known != validated_.end() && known->second.block.txs == p.block.txs;
  if (consent::Status st = same_as_validated
                               ? consent::Status::Ok()
                               : CheckBodyMatchesHeader(store_->kv(), store_->tip(), p.block);
      !st.ok()) {
    if (st.code() != StatusCode::kRejected) return Fatal(st.Prefixed("checking a proposal"));
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
      ++proposal_body_mismatches_;
    }
    spdlog::warn("peer {} relayed a proposal for height {} round {} whose {}", peer, p.height,
                 p.round, st.message());
    if (peers_ && peer != 0) {
      peers_->Disconnect(peer, "relayed a proposal whose " + st.message(), true);
    }
    return;
  }
  const bool valid = EvaluateProposal(p);
  if (fatal_) return;
  if (!valid && peers_ && peer != 0) {
    // The proposer signed an invalid block. Cut the link if it came from the proposer itself.
    for (const PeerInfo& info : peers_->Peers()) {
      if (info.id == peer && info.key == p.proposer) {
        {
          std::lock_guard<std::mutex> lock(metrics_mu_);
          ++bad_peer_messages_;
        }
        peers_->Disconnect(peer, "proposed an invalid block", true);
      }
    }
  }
  Handle(consensus_->OnProposal(p, valid));
}

void Node::OnVoteMsg(PeerId peer, const SignedVote& v) {
  const uint64_t h = consensus_->height();
  if (v.height != h && v.height != h + 1) return;
  const bool early = v.height == h + 1;  // as for proposals: the set of h + 1 may still change
  const ValidatorSet next = early ? store_->ValidatorsFor(v.height) : ValidatorSet{};
  if (consent::Status st =
          VerifyVote(genesis_.chain_id, early ? next : consensus_->validators(), v);
      !st.ok()) {
    if (early && st.code() == StatusCode::kRejected) return;
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
    }
    if (peers_ && peer != 0) peers_->Disconnect(peer, "invalid vote: " + st.message(), true);
    return;
  }
  if (v.height == h + 1) {
    future_.AddVote(peer, v);  // bounded; checked again when the height starts
    return;
  }
  Handle(consensus_->OnVote(v));
}

void Node::OnEvidenceMsg(PeerId peer, const Evidence& e) {
  if (consent::Status st = CheckEvidence(genesis_.chain_id, store_->ValidatorsFor(e.height()), e);
      !st.ok()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
    }
    if (peers_) peers_->Disconnect(peer, "invalid evidence: " + st.message(), true);
    return;
  }
  RecordEvidence(e);
}

bool Node::EvidenceRoomLocked(const Evidence& e) const {
  size_t held = 0;
  for (const Evidence& have : evidence_) held += have.signer() == e.signer() ? 1 : 0;
  return held < kMaxEvidencePerValidator;
}

void Node::RecordEvidence(const Evidence& e) {
  std::lock_guard<std::mutex> lock(evidence_mu_);
  for (const Evidence& have : evidence_) {
    if (have.SameOffence(e)) return;
  }
  if (!EvidenceRoomLocked(e)) {
    ++evidence_over_cap_;  // that validator has enough evidence against it already
    return;
  }
  if (e.kind == EvidenceKind::kDuplicateProposal) {
    spdlog::warn(
        "EQUIVOCATION: proposer {} signed two different proposals at height {} round {}: {} "
        "and {}",
        ToHex(e.pa.proposer), e.pa.height, e.pa.round, ShortHex(e.pa.block_hash),
        ShortHex(e.pb.block_hash));
  } else {
    spdlog::warn(
        "EQUIVOCATION: validator {} signed two different {}s at height {} round {}: {} and {}",
        ToHex(e.a.validator), e.a.type == VoteType::kPrevote ? "prevote" : "precommit", e.a.height,
        e.a.round, ShortHex(e.a.block_hash), ShortHex(e.b.block_hash));
  }
  evidence_.push_back(e);
  ++evidence_total_;
  while (evidence_.size() > kMaxEvidence) evidence_.pop_front();
  if (consent::Status st = AppendEvidence(evidence_path_, e); !st.ok()) {
    spdlog::warn("evidence not written to disk: {}", st.ToString());
  }
}

void Node::GossipCurrentHeight(PeerId to) {
  if (!peers_ || consensus_->step() == Step::kWaiting) return;
  for (const SignedProposal& p : consensus_->ProposalsForGossip(2)) {
    if (!validated_.count(p.block_hash)) continue;  // only what this node found valid
    p2p::ProposalMsg m;
    m.proposal = p;
    to ? SendTo(to, m) : Broadcast(m);
  }
  for (const SignedVote& v : consensus_->VotesForGossip(4 * consensus_->validators().size() + 8)) {
    p2p::VoteMsg m;
    m.vote = v;
    to ? SendTo(to, m) : Broadcast(m);
  }
}

void Node::Tick() {
  if (!peers_) return;
  const auto now = Clock::now();
  p2p::StatusMsg s;
  const ChainTip tip = store_->tip();
  s.height = tip.head ? tip.head->height : 0;
  if (tip.head) s.head_hash = tip.head->Hash();
  Broadcast(s);
  RelayDue();
  if (now - height_started_ >= kRegossipAfter && now - last_regossip_ >= kRegossipAfter) {
    last_regossip_ = now;
    GossipCurrentHeight(0);
  }
  MaybeSync();
}

}  // namespace consent
