// A deterministic discrete-event simulation of n Consensus machines (ledger/consensus.h) with real
// Ed25519 keys over a simulated network: random delays (so reordering), message loss, a
// partition that heals at a given simulated time, one byzantine validator (equivocating votes,
// or conflicting proposals to the two halves of the network), and an honest validator that
// crashes and restarts from its persisted SignState. Every node has a driver that acts as the
// real node would: it builds a trivial block on a ProposalRequest, checks the double-sign guard
// (CheckSign) and persists before it signs, feeds its own messages back, schedules timeouts in
// simulated time, re-gossips VotesForGossip / ProposalsForGossip (so loss is survivable) and
// serves decided blocks with their commits to peers that are behind (a block-sync analog).
//
// Validator set changes (PROTOCOL.md section 10): a configuration may schedule changes (the block
// at height h decides the set of h + 1, named by its next_validators_hash); every node, the
// followers included (keys outside the set), starts each height with that height's set, as the
// node does with ChainStore::ValidatorsFor.
//
// Checked for every seed: no two honest nodes decide different blocks at one height (safety);
// every commit verifies (VerifyCommit); an honest node is never asked to sign what CheckSign
// refuses; and once the network heals every honest node decides every height up to the target
// within a bound of simulated time (liveness).
//
// Environment: CONSENT_SIM_SEEDS=<count> overrides the number of seeds of each test;
// CONSENT_SIM_SEED=<seed> runs just that seed (failure messages print the seed and config).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/chain_builder.h"
#include "ledger/codec.h"
#include "ledger/consensus.h"
#include "tests/genesis_set.h"

#if defined(__SANITIZE_ADDRESS__)
#define CONSENT_SIM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CONSENT_SIM_SANITIZED 1
#endif
#endif
#ifndef CONSENT_SIM_SANITIZED
#define CONSENT_SIM_SANITIZED 0
#endif

namespace consent {
namespace {

constexpr char kChain[] = "sim-chain";

enum class Byz { kNone, kEquivocateVotes, kConflictingProposals };

const char* ByzName(Byz b) {
  switch (b) {
    case Byz::kNone:
      return "none";
    case Byz::kEquivocateVotes:
      return "equivocate-votes";
    case Byz::kConflictingProposals:
      return "conflicting-proposals";
  }
  return "?";
}

struct SimConfig {
  size_t n = 4;
  uint64_t seed = 0;
  Byz byz = Byz::kNone;
  size_t byz_index = 0;
  uint32_t loss_percent = 0;
  uint64_t max_delay_ms = 50;
  uint64_t heal_ms = 0;   // a partition until this time (0 = none)
  std::vector<int> side;  // the partition side of each node
  bool restart = false;   // one honest node crashes and restarts
  size_t restart_node = 0;
  uint64_t restart_at_ms = 0, restart_down_ms = 0;
  uint64_t heights = 5;
  uint64_t liveness_bound_ms = 120000;  // after the heal
  // Nodes (keys) in all: the first n are the genesis set; the others start as followers.
  size_t universe = 0;  // 0 = n
  // Validator set changes: the block at `first` decides the set of `first` + 1: the keys of
  // `second` (node indexes), in ascending key order as SET_VALIDATORS sets are.
  std::vector<std::pair<uint64_t, std::vector<size_t>>> changes;

  std::string Describe() const {
    std::ostringstream o;
    o << "n=" << n << " seed=" << seed << " byz=" << ByzName(byz);
    if (byz != Byz::kNone) o << "@" << byz_index;
    o << " loss=" << loss_percent << "% max_delay=" << max_delay_ms << "ms";
    if (heal_ms) {
      o << " partition[";
      for (int s : side) o << s;
      o << "] heals@" << heal_ms << "ms";
    }
    if (restart) {
      o << " restart node " << restart_node << " @" << restart_at_ms << "ms down "
        << restart_down_ms << "ms";
    }
    o << " heights=" << heights;
    for (const auto& [h, members] : changes) {
      o << " change@" << h << "{";
      for (size_t m : members) o << m << ",";
      o << "}";
    }
    return o.str();
  }
};

SimConfig RandomConfig(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + n);
  SimConfig c;
  c.n = n;
  c.seed = seed;
  const uint64_t delays[] = {10, 40, 120, 300};
  c.max_delay_ms = delays[rng() % 4];
  const uint32_t losses[] = {0, 0, 5, 20};
  c.loss_percent = losses[rng() % 4];
  if (n >= 4) {
    const uint64_t k = rng() % 3;
    c.byz = k == 0 ? Byz::kNone : (k == 1 ? Byz::kEquivocateVotes : Byz::kConflictingProposals);
    c.byz_index = rng() % n;
    if (rng() % 2) {
      c.heal_ms = 500 + rng() % 8000;
      c.side.assign(n, 0);
      for (size_t i = 0; i < n; ++i) c.side[i] = static_cast<int>(rng() % 2);
    }
  }
  if (rng() % 3 == 0) {
    c.restart = true;
    do {
      c.restart_node = rng() % n;
    } while (c.byz != Byz::kNone && c.restart_node == c.byz_index);
    c.restart_at_ms = 100 + rng() % 4000;
    c.restart_down_ms = rng() % 1500;
  }
  return c;
}

struct Record {
  Block block;
  Hash32 hash{};
  Commit commit;
};

struct Msg {
  enum Kind { kProposal, kVote, kStatus, kSync } kind = kVote;
  size_t from = 0;
  SignedProposal proposal;
  SignedVote vote;
  uint64_t height = 0;          // kStatus: the sender's current height
  std::vector<Record> records;  // kSync
};

struct Event {
  enum Type { kDeliver, kTimeout, kOwnBlock, kTxs, kGossip, kCrash, kRestart } type = kDeliver;
  uint64_t time = 0;
  uint64_t seq = 0;
  size_t node = 0;
  uint64_t incarnation = 0;
  std::shared_ptr<const Msg> msg;
  TimeoutRequest timeout;
  uint64_t height = 0;
  uint32_t round = 0;
};
Event MakeEvent(Event::Type type, uint64_t time, size_t node, uint64_t incarnation = 0,
                std::shared_ptr<const Msg> msg = nullptr) {
  Event e;
  e.type = type;
  e.time = time;
  e.node = node;
  e.incarnation = incarnation;
  e.msg = std::move(msg);
  return e;
}
struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
};

struct Node {
  size_t index = 0;
  bool byzantine = false;
  bool down = false;
  uint64_t incarnation = 0;
  std::unique_ptr<Consensus> machine;
  SignState sign_state;                       // "persisted" before each signature
  std::vector<SignedProposal> own_proposals;  // "persisted": this height's signed proposals
  std::vector<Record> chain;                  // decided blocks: chain[i] is height i + 1
  uint64_t last_sync_sent_ms = 0;
  uint64_t height() const { return chain.size() + 1; }
};

ConsensusParams SimParams() {
  ConsensusParams p;
  p.propose_base_ms = 300;
  p.propose_delta_ms = 100;
  p.prevote_base_ms = 150;
  p.prevote_delta_ms = 100;
  p.precommit_base_ms = 150;
  p.precommit_delta_ms = 100;
  p.max_timeout_ms = 3000;
  return p;
}

class Sim {
 public:
  Sim(const ChainBuilder& chain, SimConfig cfg)
      : chain_(chain), cfg_(std::move(cfg)), rng_(cfg_.seed * 7919 + cfg_.n * 104729 + 1) {
    if (cfg_.universe < cfg_.n) cfg_.universe = cfg_.n;
    for (const SigningKey& k : chain_.keys()) keys_.push_back(&k);
    for (size_t i = cfg_.n; i < cfg_.universe; ++i) {
      extra_keys_.push_back(std::make_unique<SigningKey>(
          SigningKey::FromSeed(Sha256(AsBytes("sim extra key " + std::to_string(i))))));
      keys_.push_back(extra_keys_.back().get());
    }
    if (cfg_.heal_ms != 0) {
      while (cfg_.side.size() < cfg_.universe) cfg_.side.push_back(static_cast<int>(Rand(2)));
    }
  }

  // "" when every property held, else what failed.
  std::string Run() {
    const size_t n = cfg_.universe;
    nodes_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      Node& nd = nodes_[i];
      nd.index = i;
      nd.byzantine = cfg_.byz != Byz::kNone && i == cfg_.byz_index;
      Boot(nd);
    }
    if (cfg_.restart) Push(MakeEvent(Event::kCrash, cfg_.restart_at_ms, cfg_.restart_node));
    const uint64_t deadline = cfg_.heal_ms + cfg_.liveness_bound_ms;
    size_t steps = 0;
    while (!queue_.empty() && error_.empty()) {
      Event e = queue_.top();
      queue_.pop();
      now_ = e.time;
      if (now_ > deadline) break;
      if (++steps > 20'000'000) return Fail("event budget exhausted");
      Dispatch(e);
      if (AllHonestDone()) break;
    }
    if (!error_.empty()) return error_;
    if (!AllHonestDone()) {
      std::ostringstream o;
      o << "liveness: by " << now_ << "ms not every honest node decided " << cfg_.heights
        << " heights:";
      for (const Node& nd : nodes_) {
        if (nd.byzantine) continue;
        o << " node" << nd.index << "@h" << nd.height();
        if (nd.machine) o << "r" << nd.machine->round() << "s" << int(nd.machine->step());
      }
      return o.str();
    }
    return "";
  }

  uint64_t sim_time_ms() const { return now_; }
  size_t decisions() const { return decisions_; }

 private:
  const Genesis& genesis() const { return chain_.genesis(); }
  const SigningKey& key(size_t i) const { return *keys_[i]; }
  // The set that commits height h: genesis, then each scheduled change from its next height.
  ValidatorSet SetFor(uint64_t h) const {
    ValidatorSet set = genesis().Set();
    for (const auto& [decided_at, members] : cfg_.changes) {
      if (decided_at + 1 > h) continue;
      set.keys.clear();
      for (size_t m : members) set.keys.push_back(key(m).public_key());
      std::sort(set.keys.begin(), set.keys.end());
    }
    return set;
  }
  uint64_t Rand(uint64_t bound) { return bound == 0 ? 0 : rng_() % bound; }

  std::string Fail(const std::string& m) {
    if (error_.empty()) error_ = m + " at " + std::to_string(now_) + "ms";
    return error_;
  }

  void Push(Event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  bool AllHonestDone() const {
    for (const Node& nd : nodes_) {
      if (!nd.byzantine && nd.chain.size() < cfg_.heights) return false;
    }
    return true;
  }

  // Creates the machine (again, after a crash) and starts the node's current height.
  void Boot(Node& nd) {
    nd.machine = std::make_unique<Consensus>(genesis(), key(nd.index).public_key(), SimParams());
    const uint64_t h = nd.height();
    Handle(nd, nd.machine->StartHeight(h, SetFor(h), nd.sign_state));
    // A node persists the proposals it signs: feed back this height's.
    std::vector<SignedProposal> mine = nd.own_proposals;
    for (const SignedProposal& p : mine) {
      if (p.height == h && nd.machine) Handle(nd, nd.machine->OnProposal(p, Valid(nd, p.block)));
    }
    ScheduleTxs(nd);
    Push(MakeEvent(Event::kGossip, now_ + 1 + Rand(100), nd.index, nd.incarnation));
  }

  void ScheduleTxs(Node& nd) {
    // Transactions reach some nodes (always the first honest member of the height's set) at a
    // random time.
    const ValidatorSet set = SetFor(nd.height());
    size_t first_honest = 0;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].byzantine || !set.Contains(key(i).public_key())) continue;
      first_honest = i;
      break;
    }
    if (nd.index == first_honest || Rand(10) < 7) {
      Event e = MakeEvent(Event::kTxs, now_ + Rand(60), nd.index, nd.incarnation);
      e.height = nd.height();
      Push(e);
    }
  }

  // ---- network
  bool LinkUp(size_t a, size_t b) const {
    return cfg_.heal_ms == 0 || now_ >= cfg_.heal_ms || cfg_.side[a] == cfg_.side[b];
  }
  void Send(size_t from, size_t to, std::shared_ptr<const Msg> m) {
    if (from == to) {
      Event e = MakeEvent(Event::kDeliver, now_, to, 0, std::move(m));
      Push(e);
      return;
    }
    if (!LinkUp(from, to) || Rand(100) < cfg_.loss_percent) return;
    Event e = MakeEvent(Event::kDeliver, now_ + 1 + Rand(cfg_.max_delay_ms), to, 0, std::move(m));
    Push(e);
  }
  void Broadcast(size_t from, const std::shared_ptr<const Msg>& m, bool include_self) {
    for (size_t to = 0; to < nodes_.size(); ++to) {
      if (to != from || include_self) Send(from, to, m);
    }
  }

  // ---- blocks
  Block BuildBlock(const Node& nd, uint64_t h, uint32_t round, uint64_t variant) const {
    Block b;
    b.header.chain_id = kChain;
    b.header.height = h;
    b.header.time_ms = 1000 * h + 10 * round + variant;
    b.header.prev_block_hash = nd.chain.empty() ? Hash32{} : nd.chain.back().hash;
    b.header.log_size = h;
    b.header.validators_hash = SetFor(h).Hash();
    b.header.next_validators_hash = SetFor(h + 1).Hash();
    b.header.proposer = SetFor(h).Proposer(h, round);
    return b;
  }
  // The deterministic validity predicate: the next block on this node's chain, by a validator.
  bool Valid(const Node& nd, const Block& b) const {
    const Header& h = b.header;
    if (h.chain_id != kChain || h.height != nd.height() || h.log_size != h.height) return false;
    if (h.prev_block_hash != (nd.chain.empty() ? Hash32{} : nd.chain.back().hash)) return false;
    if (!nd.chain.empty() && h.time_ms <= nd.chain.back().block.header.time_ms) return false;
    const ValidatorSet set = SetFor(h.height);
    if (h.validators_hash != set.Hash()) return false;
    if (h.next_validators_hash != SetFor(h.height + 1).Hash()) return false;
    return set.Contains(h.proposer);
  }

  // ---- the driver
  void Dispatch(const Event& e) {
    Node& nd = nodes_[e.node];
    switch (e.type) {
      case Event::kDeliver:
        if (!nd.down) Deliver(nd, *e.msg);
        break;
      case Event::kTimeout:
        if (!nd.down && e.incarnation == nd.incarnation) {
          Handle(nd, nd.machine->OnTimeout(e.timeout.kind, e.timeout.height, e.timeout.round));
        }
        break;
      case Event::kOwnBlock:
        if (!nd.down && e.incarnation == nd.incarnation) {
          Handle(nd,
                 nd.machine->OnOwnBlock(e.height, e.round, BuildBlock(nd, e.height, e.round, 0)));
        }
        break;
      case Event::kTxs:
        if (!nd.down && e.incarnation == nd.incarnation && e.height == nd.height()) {
          Handle(nd, nd.machine->OnTxsAvailable());
        }
        break;
      case Event::kGossip:
        if (!nd.down && e.incarnation == nd.incarnation) Gossip(nd);
        break;
      case Event::kCrash:
        nd.down = true;
        ++nd.incarnation;
        nd.machine.reset();
        Push(MakeEvent(Event::kRestart, now_ + cfg_.restart_down_ms, nd.index));
        break;
      case Event::kRestart:
        nd.down = false;
        Boot(nd);
        break;
    }
  }

  void Gossip(Node& nd) {
    const size_t to = Rand(nodes_.size());
    if (to != nd.index) {
      for (const SignedVote& v : nd.machine->VotesForGossip(4 * nodes_.size())) {
        auto m = std::make_shared<Msg>();
        m->kind = Msg::kVote;
        m->from = nd.index;
        m->vote = v;
        Send(nd.index, to, m);
      }
      for (const SignedProposal& p : nd.machine->ProposalsForGossip(2)) {
        auto m = std::make_shared<Msg>();
        m->kind = Msg::kProposal;
        m->from = nd.index;
        m->proposal = p;
        Send(nd.index, to, m);
      }
    }
    auto status = std::make_shared<Msg>();
    status->kind = Msg::kStatus;
    status->from = nd.index;
    status->height = nd.height();
    Broadcast(nd.index, status, false);
    Push(MakeEvent(Event::kGossip, now_ + 100 + Rand(50), nd.index, nd.incarnation));
  }

  // A peer is behind: send it what it misses (honest nodes only, rate-limited).
  void MaybeServeSync(Node& nd, size_t peer, uint64_t peer_height) {
    if (nd.byzantine || peer_height >= nd.height() || now_ < nd.last_sync_sent_ms + 50) return;
    nd.last_sync_sent_ms = now_;
    auto m = std::make_shared<Msg>();
    m->kind = Msg::kSync;
    m->from = nd.index;
    for (uint64_t h = peer_height; h < nd.height() && m->records.size() < 4; ++h) {
      m->records.push_back(nd.chain[h - 1]);
    }
    Send(nd.index, peer, m);
  }

  void Deliver(Node& nd, const Msg& m) {
    switch (m.kind) {
      case Msg::kProposal:
        if (m.proposal.height < nd.height()) return MaybeServeSync(nd, m.from, m.proposal.height);
        // (The driver skips VerifyProposal's signature check: the simulation made the message.
        // It keeps the scheduled-proposer check of the height's set, as the node does.)
        if (m.proposal.height == nd.height() &&
            SetFor(nd.height()).Proposer(m.proposal.height, m.proposal.round) ==
                m.proposal.proposer) {
          Handle(nd, nd.machine->OnProposal(m.proposal, Valid(nd, m.proposal.block)));
        }
        return;
      case Msg::kVote:
        if (m.vote.height < nd.height()) return MaybeServeSync(nd, m.from, m.vote.height);
        if (m.vote.height == nd.height() && SetFor(nd.height()).Contains(m.vote.validator)) {
          Handle(nd, nd.machine->OnVote(m.vote));
        }
        return;
      case Msg::kStatus:
        return MaybeServeSync(nd, m.from, m.height);
      case Msg::kSync:
        for (const Record& r : m.records) {
          if (r.block.header.height != nd.height()) continue;
          if (!Valid(nd, r.block) || r.block.header.Hash() != r.hash) {
            if (nd.byzantine) return;  // its own chain may differ: not checked
            const Hash32& prev = r.block.header.prev_block_hash;
            const bool fork = !nd.chain.empty() && prev != nd.chain.back().hash;
            Fail(std::string(fork ? "SAFETY: " : "") + "sync: node " + std::to_string(m.from) +
                 " served a block for height " + std::to_string(nd.height()) +
                 (fork ? " on another chain than node " + std::to_string(nd.index) + "'s"
                       : " that is invalid"));
            return;
          }
          if (!CommitVerifies(r.block.header.height, r.hash, r.commit)) return;
          CommitBlock(nd, r, "sync");
        }
        return;
    }
  }

  bool CommitVerifies(uint64_t h, const Hash32& hash, const Commit& commit) {
    Writer w;
    w.U64(h).Fixed(hash).U32(commit.round);
    for (const auto& cs : commit.signatures) w.Fixed(cs.validator).Fixed(cs.signature);
    Bytes key = std::move(w).Take();
    if (verified_commits_.count(key)) return true;
    Status st = VerifyCommit(kChain, SetFor(h), h, hash, commit);
    if (!st.ok()) {
      Fail("commit for height " + std::to_string(h) + " does not verify: " + st.ToString());
      return false;
    }
    verified_commits_.insert(std::move(key));
    return true;
  }

  // Commits a decided block on `nd` (after the safety check) and starts the next height.
  void CommitBlock(Node& nd, const Record& r, const char* how) {
    const uint64_t h = r.block.header.height;
    if (!nd.byzantine) {
      auto [it, inserted] = decided_.emplace(h, r.hash);
      if (!inserted && it->second != r.hash) {
        Fail(std::string("SAFETY: node ") + std::to_string(nd.index) + " decided (" + how +
             ") block " + ToHex(r.hash).substr(0, 16) + " at height " + std::to_string(h) +
             ", another honest node decided " + ToHex(it->second).substr(0, 16));
        return;
      }
    }
    ++decisions_;
    nd.chain.push_back(r);
    nd.own_proposals.clear();
    Handle(nd, nd.machine->StartHeight(nd.height(), SetFor(nd.height()), nd.sign_state));
    ScheduleTxs(nd);
  }

  void Handle(Node& nd, Output out) {
    if (!error_.empty() || !nd.machine) return;
    const uint64_t incarnation = nd.incarnation;
    for (const VoteRequest& v : out.votes) SignVoteAndSend(nd, v);
    if (out.proposal) {
      if (out.proposal->block) {
        SignProposalAndSend(nd, *out.proposal);
      } else {
        Event e = MakeEvent(Event::kOwnBlock, now_ + 1 + Rand(15), nd.index, incarnation);
        e.height = out.proposal->height;
        e.round = out.proposal->round;
        Push(e);
      }
    }
    for (const TimeoutRequest& t : out.timeouts) {
      Event e = MakeEvent(Event::kTimeout, now_ + t.delay_ms, nd.index, incarnation);
      e.timeout = t;
      Push(e);
    }
    if (out.decision) {
      const Decision& d = *out.decision;
      if (d.block.header.Hash() != d.block_hash || d.commit.round != d.round) {
        Fail("decision does not match its block or round");
        return;
      }
      if (!CommitVerifies(d.height, d.block_hash, d.commit)) return;
      CommitBlock(nd, Record{d.block, d.block_hash, d.commit}, "consensus");
    }
  }

  // The double-sign guard as the node runs it: check, persist, then sign.
  bool Guard(Node& nd, uint64_t h, uint32_t r, uint8_t step, const Hash32& hash) {
    if (nd.byzantine) return true;
    Status st = CheckSign(nd.sign_state, h, r, step, hash);
    if (!st.ok()) {
      Fail("honest node " + std::to_string(nd.index) +
           " was asked to double-sign: " + st.ToString());
      return false;
    }
    nd.sign_state = {h, r, step, hash, nd.machine->locked_round(), nd.machine->locked_hash()};
    return true;
  }

  void SignVoteAndSend(Node& nd, const VoteRequest& req) {
    const uint8_t step = req.type == VoteType::kPrevote ? 2 : 3;
    if (!Guard(nd, req.height, req.round, step, req.block_hash)) return;
    auto m = std::make_shared<Msg>();
    m->kind = Msg::kVote;
    m->from = nd.index;
    m->vote = SignVote(key(nd.index), kChain, req.type, req.height, req.round, req.block_hash);
    if (nd.byzantine && cfg_.byz == Byz::kEquivocateVotes) {
      // Sign a conflicting vote too and send each to a different part of the network.
      Hash32 other{};
      if (req.block_hash == Hash32{}) other = Sha256(AsBytes("phantom" + std::to_string(now_)));
      auto m2 = std::make_shared<Msg>(*m);
      m2->vote = SignVote(key(nd.index), kChain, req.type, req.height, req.round, other);
      Send(nd.index, nd.index, m);
      for (size_t to = 0; to < nodes_.size(); ++to) {
        if (to != nd.index) Send(nd.index, to, Rand(2) ? m : m2);
      }
      return;
    }
    Broadcast(nd.index, m, true);
  }

  void SignProposalAndSend(Node& nd, const ProposalRequest& req) {
    const Hash32 hash = req.block->header.Hash();
    if (!Guard(nd, req.height, req.round, 1, hash)) return;
    auto m = std::make_shared<Msg>();
    m->kind = Msg::kProposal;
    m->from = nd.index;
    m->proposal =
        SignProposal(key(nd.index), kChain, req.height, req.round, req.pol_round, *req.block);
    nd.own_proposals.push_back(m->proposal);
    if (nd.byzantine && cfg_.byz == Byz::kConflictingProposals) {
      // A second, conflicting block (new, without pol_round) for the other half.
      auto m2 = std::make_shared<Msg>(*m);
      m2->proposal = SignProposal(key(nd.index), kChain, req.height, req.round, kNoRound,
                                  BuildBlock(nd, req.height, req.round, 5));
      Send(nd.index, nd.index, m);
      for (size_t to = 0; to < nodes_.size(); ++to) {
        if (to != nd.index) Send(nd.index, to, (to % 2) ? m : m2);
      }
      return;
    }
    Broadcast(nd.index, m, true);
  }

  const ChainBuilder& chain_;
  SimConfig cfg_;
  std::vector<const SigningKey*> keys_;  // chain_.keys(), then the extra keys of the universe
  std::vector<std::unique_ptr<SigningKey>> extra_keys_;
  std::mt19937_64 rng_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  std::vector<Node> nodes_;
  std::map<uint64_t, Hash32> decided_;  // height -> the block honest nodes decided
  std::set<Bytes> verified_commits_;
  size_t decisions_ = 0;
  std::string error_;
};

const ChainBuilder& ChainFor(size_t n) {
  static std::map<size_t, ChainBuilder>* chains = new std::map<size_t, ChainBuilder>();
  auto it = chains->find(n);
  if (it == chains->end()) it = chains->emplace(n, ChainBuilder::ForTesting(kChain, n)).first;
  return it->second;
}

uint64_t SeedCount(uint64_t default_count) {
  if (const char* s = std::getenv("CONSENT_SIM_SEEDS")) return std::strtoull(s, nullptr, 10);
  return CONSENT_SIM_SANITIZED ? std::max<uint64_t>(1, default_count / 3) : default_count;
}

// Runs the seeds of one configuration family; returns the number run.
void RunSeeds(size_t n, uint64_t default_count,
              const std::function<void(SimConfig&)>& adjust = nullptr) {
  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("CONSENT_SIM_SEED")) {
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    for (uint64_t s = 0, count = SeedCount(default_count); s < count; ++s) seeds.push_back(s);
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t sim_ms = 0;
  size_t decisions = 0;
  for (uint64_t seed : seeds) {
    SimConfig cfg = RandomConfig(n, seed);
    if (adjust) adjust(cfg);
    Sim sim(ChainFor(n), cfg);
    std::string error = sim.Run();
    ASSERT_EQ(error, "")
        << cfg.Describe() << "\n  rerun: CONSENT_SIM_SEED=" << seed
        << " ledger_tests --gtest_filter="
        << ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() << "."
        << ::testing::UnitTest::GetInstance()->current_test_info()->name();
    sim_ms += sim.sim_time_ms();
    decisions += sim.decisions();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  n=%zu: %zu seeds, %zu decisions, %.1f s simulated, %.2f s wall\n", n, seeds.size(),
              decisions, sim_ms / 1000.0, secs);
}

TEST(ConsensusSim, OneValidator) { RunSeeds(1, 300); }
TEST(ConsensusSim, FourValidators) { RunSeeds(4, 1500); }
TEST(ConsensusSim, SevenValidators) { RunSeeds(7, 1000); }
// Every seed restarts an honest node (the families above do it for a third of the seeds).
TEST(ConsensusSim, RestartFromSignState) {
  RunSeeds(4, 200, [](SimConfig& c) {
    if (!c.restart) {
      c.restart = true;
      c.restart_node = (c.byz != Byz::kNone && c.byz_index == 0) ? 1 : 0;
      c.restart_at_ms = 50 + c.seed * 37 % 3000;
      c.restart_down_ms = c.seed * 13 % 800;
    }
  });
}

// Validator set changes (section 10). The byzantine validator is left out (kept honest) so that
// every key's presence in or absence from a set is by the schedule alone; delays, loss,
// partitions and restarts stay random.
void NoByzantine(SimConfig& c) { c.byz = Byz::kNone; }

TEST(ConsensusSim, AddValidator) {
  RunSeeds(4, 150, [](SimConfig& c) {
    NoByzantine(c);
    c.universe = 5;
    c.changes = {{2, {0, 1, 2, 3, 4}}};
    c.heights = 6;
  });
}

TEST(ConsensusSim, RemoveValidator) {
  RunSeeds(4, 150, [](SimConfig& c) {
    NoByzantine(c);
    c.changes = {{2, {0, 1, 2}}};
    c.heights = 6;
  });
}

// Every key of the genesis set replaced, one per height: from height 6 on no genesis key is in
// office (keys 4..7 commit), and the chain goes on.
TEST(ConsensusSim, RotateEveryKeyOneAtATime) {
  RunSeeds(4, 150, [](SimConfig& c) {
    NoByzantine(c);
    c.universe = 8;
    c.changes = {{1, {4, 1, 2, 3}}, {2, {4, 5, 2, 3}}, {3, {4, 5, 6, 3}}, {4, {4, 5, 6, 7}}};
    c.heights = 8;
  });
}

// A validator is down while the set changes (it crashes before the change and restarts after),
// and catches up onto the new set.
TEST(ConsensusSim, ChangeWhileAValidatorIsDown) {
  RunSeeds(4, 150, [](SimConfig& c) {
    NoByzantine(c);
    c.universe = 5;
    c.changes = {{2, {1, 2, 3, 4}}, {4, {0, 1, 2, 4}}};
    c.heights = 7;
    c.restart = true;
    c.restart_node = 1 + c.seed % 3;
    c.restart_at_ms = 500 + c.seed * 37 % 2000;
    c.restart_down_ms = 2000 + c.seed * 13 % 3000;
  });
}

}  // namespace
}  // namespace consent
