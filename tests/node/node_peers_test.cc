// A real Node (validator 0 of 4) with a test peer on a real loopback link: the peer holds another
// validator's key and sends what a byzantine validator would. Equivocation becomes evidence (API
// list, status, metric); an invalid block proposed by its proposer, and a block-sync answer with
// a bad commit, each cut the link and ban the key.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "crypto/keyfile.h"
#include "ledger/block_pipeline.h"
#include "ledger/consensus.h"
#include "ledger/p2p_messages.h"
#include "ledger/schema.h"
#include "net/peer_manager.h"
#include "node/node.h"
#include "node/sign_state.h"
#include "node_test_util.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

Seed32 SeedOf(uint8_t b) {
  Seed32 s;
  s.fill(b);
  return s;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

// The test peer's side: records links and messages.
class Recorder : public PeerHandler {
 public:
  void OnPeerConnected(const PeerInfo& p) override {
    std::lock_guard<std::mutex> l(mu_);
    peer_ = p.id;
    ++connects_;
  }
  void OnPeerMessage(PeerId, p2p::Message m) override {
    std::lock_guard<std::mutex> l(mu_);
    if (std::holds_alternative<p2p::BlockRequest>(m)) {
      requests_.push_back(std::get<p2p::BlockRequest>(m));
    }
    if (const auto* txs = std::get_if<p2p::TxsMsg>(&m)) {
      for (const SignedTx& tx : txs->txs) tx_ids_.push_back(tx.Id());
    }
    if (const auto* pm = std::get_if<p2p::ProposalMsg>(&m)) proposals_.push_back(pm->proposal);
    if (const auto* vm = std::get_if<p2p::VoteMsg>(&m)) votes_.push_back(vm->vote);
  }
  void OnPeerDisconnected(PeerId) override {
    std::lock_guard<std::mutex> l(mu_);
    ++disconnects_;
  }
  PeerId peer() {
    std::lock_guard<std::mutex> l(mu_);
    return peer_;
  }
  int connects() {
    std::lock_guard<std::mutex> l(mu_);
    return connects_;
  }
  int disconnects() {
    std::lock_guard<std::mutex> l(mu_);
    return disconnects_;
  }
  size_t requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_.size();
  }
  std::vector<SignedProposal> proposals() {
    std::lock_guard<std::mutex> l(mu_);
    return proposals_;
  }
  std::vector<SignedVote> votes() {
    std::lock_guard<std::mutex> l(mu_);
    return votes_;
  }
  size_t TimesReceived(const Hash32& tx_id) {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<size_t>(std::count(tx_ids_.begin(), tx_ids_.end(), tx_id));
  }

 private:
  std::mutex mu_;
  PeerId peer_ = 0;
  int connects_ = 0, disconnects_ = 0;
  std::vector<p2p::BlockRequest> requests_;
  std::vector<Hash32> tx_ids_;
  std::vector<SignedProposal> proposals_;
  std::vector<SignedVote> votes_;
};

class NodePeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    genesis_.chain_id = "node-peers-test";
    genesis_.genesis_time_ms = 1;
    for (uint8_t i = 0; i < 4; ++i) {
      keys_.push_back(SigningKey::FromSeed(SeedOf(static_cast<uint8_t>(i + 1))));
      genesis_.validators.push_back({"v" + std::to_string(i), keys_.back().public_key()});
    }
    NodeOptions& o = options_;
    o.genesis = genesis_;
    o.key = KeyFile::FromSecret(KeyKind::kValidator, SeedOf(1));
    o.data_dir = tmp_.path() + "/data";
    o.config.p2p_port = 0;
    o.config.consensus.propose_base_ms = 60000;  // no round change during a test
    auto node = Node::Open(o);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(node).value();
    ASSERT_NE(node_->p2p_port(), 0);
  }

  // A peer link from validator `index`'s key to the node.
  void Connect(size_t index) {
    peer_ = Link(index, &rec_);
    ASSERT_TRUE(WaitFor([&] { return rec_.connects() >= 1 && node_->Status().peers == 1; }));
  }

  std::unique_ptr<PeerManager> Link(size_t index, Recorder* rec) {
    PeerManagerOptions po;
    po.chain_id = genesis_.chain_id;
    po.genesis_hash = schema::GenesisHash(genesis_);
    po.node_seed = SeedOf(static_cast<uint8_t>(index + 1));
    po.listen = false;
    po.persistent_peers = {"127.0.0.1:" + std::to_string(node_->p2p_port())};
    po.backoff_min_ms = 50;
    po.backoff_max_ms = 200;
    po.current_height = [] { return uint64_t{0}; };
    auto peer = std::make_unique<PeerManager>(po, rec);
    EXPECT_TRUE(peer->Start().ok());
    return peer;
  }

  // A block 1 header by validator `proposer` with zero roots (so: invalid) and no transactions.
  Block BlockOneBy(size_t proposer) const {
    Block block;
    block.header.chain_id = genesis_.chain_id;
    block.header.height = 1;
    block.header.time_ms = NowMs();
    block.header.validators_hash = genesis_.ValidatorsHash();
    block.header.proposer = keys_[proposer].public_key();
    return block;
  }

  // A valid block 1 with `txs` (their roots over an empty state), built for round 0.
  Block BuiltBlockOne(const std::vector<SignedTx>& txs) const {
    MemoryKv empty;
    auto built = BuildBlock(empty, genesis_, ChainTip{}, NowMs(), 0, txs, 10);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    return built.ok() ? built->validated.block : Block{};
  }

  // Waits until `rec` received a proposal for height 1 `round`; returns it.
  static std::optional<SignedProposal> WaitForProposal(Recorder& rec, uint32_t round) {
    std::optional<SignedProposal> found;
    WaitFor([&] {
      for (const SignedProposal& sp : rec.proposals()) {
        if (sp.height == 1 && sp.round == round) found = sp;
      }
      return found.has_value();
    });
    return found;
  }

  void Send(const p2p::Message& m) {
    peer_->Send(rec_.peer(), std::make_shared<const Bytes>(p2p::Encode(m)));
  }

  void TearDown() override {
    if (peer_) peer_->Stop();
    node_.reset();
  }

  TempDir tmp_;
  NodeOptions options_;
  Genesis genesis_;
  std::vector<SigningKey> keys_;
  std::unique_ptr<Node> node_;
  Recorder rec_;
  std::unique_ptr<PeerManager> peer_;
};

// A transaction that a peer gossips is relayed to the node's other peers when it is still pending
// after p2p.relay_after_ms (here: the node is one validator of four, so nothing commits), and
// never back to the peer it came from. A copy that the second peer then sends back is a
// duplicate and is not relayed again.
TEST_F(NodePeersTest, PendingTransactionsFromAPeerAreRelayedToTheOthersOnly) {
  Connect(1);
  Recorder rec2;
  std::unique_ptr<PeerManager> peer2 = Link(2, &rec2);
  ASSERT_TRUE(WaitFor([&] { return rec2.connects() >= 1 && node_->Status().peers == 2; }));
  const SigningKey alice = testing::KeyFromLabel("alice");
  const SigningKey brand = testing::KeyFromLabel("brand");
  SignedTx tx = testing::SignedGrant(genesis_.chain_id, alice, brand.public_key(), {"analytics"},
                                     NowMs() - 1000);
  p2p::TxsMsg m;
  m.txs.push_back(tx);
  Send(m);
  ASSERT_TRUE(WaitFor([&] { return rec2.TimesReceived(tx.Id()) >= 1; }))
      << "the pending transaction was never relayed to the second peer";
  EXPECT_TRUE(node_->NodeMetrics().find("consent_txs_relayed_total 1\n") != std::string::npos)
      << node_->NodeMetrics();
  // The second peer sends it back: a duplicate, so no further relay to the first.
  peer2->Send(rec2.peer(), std::make_shared<const Bytes>(p2p::Encode(m)));
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_EQ(rec_.TimesReceived(tx.Id()), 0u) << "relayed back to the peer it came from";
  EXPECT_EQ(rec2.TimesReceived(tx.Id()), 1u);
  EXPECT_TRUE(node_->NodeMetrics().find("consent_txs_relayed_total 1\n") != std::string::npos);
  peer2->Stop();
}

// With p2p.relay_after_ms = 0 a new transaction from a peer is relayed at once (fetched back
// from the mempool, which holds the only copy), to the other peer only.
TEST_F(NodePeersTest, RelayAfterZeroRelaysAtOnceToTheOthersOnly) {
  node_.reset();
  options_.config.p2p_relay_after_ms = 0;
  options_.data_dir = tmp_.path() + "/data-relay0";
  auto node = Node::Open(options_);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  node_ = std::move(node).value();
  Connect(1);
  Recorder rec2;
  std::unique_ptr<PeerManager> peer2 = Link(2, &rec2);
  ASSERT_TRUE(WaitFor([&] { return rec2.connects() >= 1 && node_->Status().peers == 2; }));
  SignedTx tx =
      testing::SignedGrant(genesis_.chain_id, testing::KeyFromLabel("bob"),
                           testing::KeyFromLabel("brand").public_key(), {"ads"}, NowMs() - 1000);
  p2p::TxsMsg m;
  m.txs.push_back(tx);
  Send(m);
  ASSERT_TRUE(WaitFor([&] { return rec2.TimesReceived(tx.Id()) >= 1; }));
  EXPECT_NE(node_->NodeMetrics().find("consent_txs_relayed_total 1\n"), std::string::npos);
  EXPECT_EQ(rec_.TimesReceived(tx.Id()), 0u);
  peer2->Stop();
}

TEST_F(NodePeersTest, EquivocationBecomesEvidenceInTheApiAndMetrics) {
  Connect(1);
  Hash32 a{}, b{};
  a.fill(0x11);
  b.fill(0x22);
  p2p::VoteMsg first, second;
  first.vote = SignVote(keys_[1], genesis_.chain_id, VoteType::kPrevote, 1, 0, a);
  second.vote = SignVote(keys_[1], genesis_.chain_id, VoteType::kPrevote, 1, 0, b);
  Send(first);
  Send(second);
  ASSERT_TRUE(WaitFor([&] { return node_->EvidenceList().size() == 1; }));
  const Evidence e = node_->EvidenceList()[0];
  EXPECT_EQ(e.a.validator, keys_[1].public_key());
  EXPECT_NE(e.a.block_hash, e.b.block_hash);
  EXPECT_TRUE(VerifyVote(genesis_, e.a).ok());
  EXPECT_TRUE(VerifyVote(genesis_, e.b).ok());
  EXPECT_EQ(node_->Status().evidence, 1u);
  EXPECT_NE(node_->NodeMetrics().find("consent_evidence_total 1\n"), std::string::npos);
  // The same equivocation again is not a second item; the link stays up (it is not the
  // sender's fault that a validator equivocated).
  Send(second);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(node_->EvidenceList().size(), 1u);
  EXPECT_EQ(rec_.disconnects(), 0);

  // The evidence outlives a restart (data/evidence.jsonl), and a damaged line is skipped, kept.
  peer_->Stop();
  peer_.reset();
  node_.reset();
  const std::string file = options_.data_dir + "/evidence.jsonl";
  { std::ofstream(file, std::ios::app) << "{\"kind\": \"duplicate_vote\", \"truncated\n"; }
  auto again = Node::Open(options_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ((*again)->EvidenceList().size(), 1u);
  EXPECT_EQ((*again)->EvidenceList()[0].b.block_hash, e.b.block_hash);
  EXPECT_EQ((*again)->Status().evidence, 1u);
  std::ifstream in(file);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("truncated"), std::string::npos);  // left in place
}

TEST_F(NodePeersTest, AVoteWithABadSignatureCutsTheLink) {
  Connect(2);
  p2p::VoteMsg v;
  v.vote = SignVote(keys_[2], genesis_.chain_id, VoteType::kPrevote, 1, 0, Hash32{});
  v.vote.signature[0] ^= 1;
  Send(v);
  ASSERT_TRUE(WaitFor([&] { return rec_.disconnects() >= 1; }));
  // Banned: the redial does not get a link back for ban_seconds.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(node_->Status().peers, 0u);
  EXPECT_NE(node_->NodeMetrics().find("consent_peer_misbehaviour_total 1\n"), std::string::npos);
}

TEST_F(NodePeersTest, AnInvalidBlockFromItsProposerCutsTheLink) {
  Connect(1);  // validators[(1 + 0) mod 4]: the proposer of height 1, round 0
  ASSERT_EQ(genesis_.Proposer(1, 0), keys_[1].public_key());
  Block block = BlockOneBy(1);
  block.header.state_root.fill(7);  // wrong: not the root of an empty state (the log root of
                                    // no transactions is right: the body matches the header)
  p2p::ProposalMsg p;
  p.proposal = SignProposal(keys_[1], genesis_.chain_id, 1, 0, kNoRound, block);
  ASSERT_TRUE(VerifyProposal(genesis_, p.proposal).ok());  // well signed, invalid content
  Send(p);
  ASSERT_TRUE(WaitFor([&] { return rec_.disconnects() >= 1; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(node_->Status().peers, 0u);
  EXPECT_EQ(node_->Status().height, 0u);  // nothing committed
}

// A proposal whose header, roots and state rules are all right but one of whose txs carries a
// bad signature: the node refuses it (the signatures are checked after the block validates, with
// the tx ids validation computed), cuts the link and commits nothing.
TEST_F(NodePeersTest, AProposalWithABadTransactionSignatureCutsTheLink) {
  Connect(1);
  SigningKey alice = SigningKey::FromSeed(SeedOf(40));
  SignedTx tx =
      testing::SignedGrant(genesis_.chain_id, alice, keys_[2].public_key(), {"email"}, NowMs());
  tx.signature[5] ^= 0x20;
  const Block block = BuiltBlockOne({tx});
  ASSERT_EQ(block.txs.size(), 1u);  // BuildBlock trusts its mempool's checks
  p2p::ProposalMsg p;
  p.proposal = SignProposal(keys_[1], genesis_.chain_id, 1, 0, kNoRound, block);
  ASSERT_TRUE(VerifyProposal(genesis_, p.proposal).ok());
  Send(p);
  ASSERT_TRUE(WaitFor([&] { return rec_.disconnects() >= 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(node_->Status().height, 0u);
  EXPECT_NE(node_->NodeMetrics().find("consent_peer_misbehaviour_total 1\n"), std::string::npos);
}

// Evidence is bounded per validator (issue 16 item 12): a validator that equivocates in many
// rounds fills only its own kMaxEvidencePerValidator slots; evidence against another validator
// is still kept.
TEST_F(NodePeersTest, OneValidatorsEvidenceCannotCrowdOutAnothers) {
  Connect(2);
  Hash32 a{}, b{};
  a.fill(0x11);
  b.fill(0x22);
  auto send_equivocation = [&](size_t who, uint32_t round) {
    p2p::EvidenceMsg m;
    m.evidence.a = SignVote(keys_[who], genesis_.chain_id, VoteType::kPrevote, 7, round, a);
    m.evidence.b = SignVote(keys_[who], genesis_.chain_id, VoteType::kPrevote, 7, round, b);
    Send(m);
  };
  for (uint32_t r = 0; r < kMaxEvidencePerValidator + 10; ++r) send_equivocation(1, r);
  send_equivocation(3, 0);
  ASSERT_TRUE(WaitFor([&] {
    for (const Evidence& e : node_->EvidenceList()) {
      if (e.a.validator == keys_[3].public_key()) return true;
    }
    return false;
  }));
  size_t of_one = 0;
  for (const Evidence& e : node_->EvidenceList()) {
    of_one += e.a.validator == keys_[1].public_key() ? 1 : 0;
  }
  EXPECT_EQ(of_one, kMaxEvidencePerValidator);
  EXPECT_EQ(node_->EvidenceList().size(), kMaxEvidencePerValidator + 1);
  EXPECT_NE(node_->NodeMetrics().find("consent_evidence_over_cap_total 10\n"), std::string::npos);
  EXPECT_EQ(rec_.disconnects(), 0);
}

// Proposer equivocation (issue 16 item 12): the proposer of height 1, round 0 sends two
// different valid proposals. The node keeps it as evidence of kind duplicate_proposal (served by
// EvidenceList, counted), and relays it to its peers as a proposal_evidence frame; before, it was
// only logged.
TEST_F(NodePeersTest, AProposerThatSignsTwoProposalsIsKeptAsEvidence) {
  Connect(1);
  SigningKey alice = SigningKey::FromSeed(SeedOf(41));
  const Block empty = BuiltBlockOne({});
  const Block one = BuiltBlockOne(
      {testing::SignedGrant(genesis_.chain_id, alice, keys_[2].public_key(), {"email"}, NowMs())});
  ASSERT_NE(empty.header.Hash(), one.header.Hash());
  for (const Block* b : {&empty, &one}) {
    p2p::ProposalMsg p;
    p.proposal = SignProposal(keys_[1], genesis_.chain_id, 1, 0, kNoRound, *b);
    ASSERT_TRUE(VerifyProposal(genesis_, p.proposal).ok());
    Send(p);
  }
  ASSERT_TRUE(WaitFor([&] {
    for (const Evidence& e : node_->EvidenceList()) {
      if (e.kind == EvidenceKind::kDuplicateProposal) return true;
    }
    return false;
  })) << "proposer equivocation was not kept";
  for (const Evidence& e : node_->EvidenceList()) {
    if (e.kind != EvidenceKind::kDuplicateProposal) continue;
    EXPECT_EQ(e.signer(), keys_[1].public_key());
    EXPECT_EQ(e.height(), 1u);
    EXPECT_TRUE(CheckEvidence(genesis_, e).ok());
  }
  EXPECT_NE(node_->NodeMetrics().find("consent_evidence_total 1\n"), std::string::npos);
  EXPECT_EQ(rec_.disconnects(), 0);  // the relaying peer did nothing wrong
}

// Proposal poisoning (issue 16 item 2): the proposer signs only the header hash, so anyone can
// pair it with other transactions. Such a copy reaching the node first, from a peer that is not
// the proposer, cuts that peer off; the header is not tainted, so the honest proposal that
// follows is judged on its own: the node prevotes it and the proposer's link stays up.
TEST_F(NodePeersTest, AProposalCopyWithOtherTransactionsCutsTheRelayerNotTheProposer) {
  Connect(2);  // not the proposer of height 1 round 0
  SigningKey alice = SigningKey::FromSeed(SeedOf(41));
  SignedTx tx =
      testing::SignedGrant(genesis_.chain_id, alice, keys_[2].public_key(), {"email"}, NowMs());
  const Block block = BuiltBlockOne({tx});
  ASSERT_EQ(block.txs.size(), 1u);
  const SignedProposal honest = SignProposal(keys_[1], genesis_.chain_id, 1, 0, kNoRound, block);
  p2p::ProposalMsg copy;
  copy.proposal = honest;
  copy.proposal.block.txs.clear();  // stripped: same header, same signature
  ASSERT_TRUE(VerifyProposal(genesis_, copy.proposal).ok());
  Send(copy);
  ASSERT_TRUE(WaitFor([&] { return rec_.disconnects() >= 1; }));
  EXPECT_NE(node_->NodeMetrics().find("consent_proposal_body_mismatch_total 1\n"),
            std::string::npos);

  Recorder proposer;
  auto link = Link(1, &proposer);
  ASSERT_TRUE(WaitFor([&] { return proposer.connects() >= 1 && node_->Status().peers == 1; }));
  p2p::ProposalMsg m;
  m.proposal = honest;
  link->Send(proposer.peer(), std::make_shared<const Bytes>(p2p::Encode(m)));
  EXPECT_TRUE(WaitFor([&] {
    for (const SignedVote& v : proposer.votes()) {
      if (v.type == VoteType::kPrevote && v.height == 1 && v.round == 0 &&
          v.validator == keys_[0].public_key() && v.block_hash == honest.block_hash) {
        return true;
      }
    }
    return false;
  })) << "the node did not prevote the honest proposal";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(proposer.disconnects(), 0);
  EXPECT_EQ(node_->Status().peers, 1u);
  EXPECT_NE(node_->NodeMetrics().find("consent_peer_misbehaviour_total 1\n"), std::string::npos);
  link->Stop();
}

// Next-height messages are checked before they are kept: a proposal for height 2 with a bad
// signature cuts the link at once (it used to wait, unchecked, in the buffer).
TEST_F(NodePeersTest, ANextHeightProposalWithABadSignatureCutsTheLink) {
  Connect(2);
  Block block = BlockOneBy(2);
  block.header.height = 2;
  p2p::ProposalMsg p;
  p.proposal = SignProposal(keys_[2], genesis_.chain_id, 2, 0, kNoRound, block);
  ASSERT_EQ(genesis_.Proposer(2, 0), keys_[2].public_key());
  p.proposal.signature[0] ^= 1;
  Send(p);
  ASSERT_TRUE(WaitFor([&] { return rec_.disconnects() >= 1; }));
  EXPECT_NE(node_->NodeMetrics().find("consent_peer_misbehaviour_total 1\n"), std::string::npos);
}

// A validator that locked on a block keeps the block's proposal; restarted at that height, it
// proposes the locked block (as a new value, POL round -1) when it is next the proposer, instead
// of a new block that it would itself prevote nil for.
TEST_F(NodePeersTest, ARestartedValidatorReproposesItsLockedBlock) {
  Connect(1);  // validator 1 proposes height 1 round 0
  SignedTx tx = testing::SignedGrant(genesis_.chain_id, SigningKey::FromSeed(SeedOf(41)),
                                     keys_[2].public_key(), {"email"}, NowMs());
  const Block block = BuiltBlockOne({tx});
  ASSERT_EQ(block.txs.size(), 1u);
  const Hash32 hash = block.header.Hash();
  p2p::ProposalMsg p;
  p.proposal = SignProposal(keys_[1], genesis_.chain_id, 1, 0, kNoRound, block);
  Send(p);
  for (size_t i = 1; i < 4; ++i) {
    p2p::VoteMsg v;
    v.vote = SignVote(keys_[i], genesis_.chain_id, VoteType::kPrevote, 1, 0, hash);
    Send(v);
  }
  // Locked: the node precommits and keeps the proposal. No precommits arrive: nothing decides.
  const std::string kept = options_.data_dir + "/locked_proposal.bin";
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(kept); }));
  EXPECT_EQ(node_->Status().height, 0u);

  peer_->Stop();
  peer_.reset();
  node_.reset();
  auto reopened = Node::Open(options_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  node_ = std::move(reopened).value();
  Recorder rec;  // declared before its link, so that the link stops before it is destroyed
  std::unique_ptr<PeerManager> peer2 = Link(2, &rec);
  ASSERT_TRUE(WaitFor([&] { return rec.connects() >= 1 && node_->Status().peers == 1; }));
  // f + 1 = 2 validators in round 3 make it skip there; (1 + 3) mod 4 = 0: its turn to propose.
  for (size_t i : {2, 3}) {
    p2p::VoteMsg v;
    v.vote = SignVote(keys_[i], genesis_.chain_id, VoteType::kPrevote, 1, 3, Hash32{});
    peer2->Send(rec.peer(), std::make_shared<const Bytes>(p2p::Encode(v)));
  }
  std::optional<SignedProposal> sp = WaitForProposal(rec, 3);
  ASSERT_TRUE(sp);
  EXPECT_EQ(sp->proposer, keys_[0].public_key());
  EXPECT_EQ(sp->block_hash, hash) << "a new block instead of the locked one";
  EXPECT_EQ(sp->pol_round, kNoRound);
}

// A damaged kept proposal is ignored (logged): the validator starts with its lock from the sign
// state and, as proposer, asks for a new block, which it builds and proposes.
TEST_F(NodePeersTest, ADamagedKeptLockedProposalIsIgnored) {
  node_.reset();
  options_.data_dir = tmp_.path() + "/data-damaged";
  std::filesystem::create_directories(options_.data_dir);
  SignState st;
  st.height = 1;
  st.round = 2;
  st.step = 3;
  st.locked_round = 0;
  st.locked_hash.fill(0x42);
  ASSERT_TRUE(SaveSignState(options_.data_dir + "/sign_state.json", st).ok());
  {
    std::ofstream out(options_.data_dir + "/locked_proposal.bin", std::ios::binary);
    out << "not a proposal at all";
  }
  auto node = Node::Open(options_);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  node_ = std::move(node).value();
  Connect(2);
  for (size_t i : {2, 3}) {
    p2p::VoteMsg v;
    v.vote = SignVote(keys_[i], genesis_.chain_id, VoteType::kPrevote, 1, 3, Hash32{});
    Send(v);
  }
  std::optional<SignedProposal> sp = WaitForProposal(rec_, 3);
  ASSERT_TRUE(sp);
  EXPECT_EQ(sp->block.header.proposer, keys_[0].public_key());  // a block built now
}

TEST_F(NodePeersTest, ABlockSyncAnswerWithABadCommitCutsTheLink) {
  Connect(3);
  p2p::StatusMsg s;
  s.height = 5;  // claims to be ahead: the node asks it for blocks
  Send(s);
  ASSERT_TRUE(WaitFor([&] { return rec_.requests() >= 1; }));
  EXPECT_TRUE(node_->Status().catching_up);
  Block block = BlockOneBy(1);
  p2p::BlockResponse resp;
  p2p::BlockWithCommit bc;
  bc.block = block;
  bc.commit.round = 0;
  // Only one precommit (quorum is 3).
  bc.commit.signatures.push_back(
      SignPrecommit(keys_[3], genesis_.chain_id, 1, 0, block.header.Hash()));
  resp.blocks.push_back(bc);
  Send(resp);
  ASSERT_TRUE(WaitFor([&] { return rec_.disconnects() >= 1; }));
  EXPECT_EQ(node_->Status().height, 0u);
}

}  // namespace
}  // namespace consent
