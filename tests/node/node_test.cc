// End-to-end tests of node/node in process: a real home, a real RocksDB store, the real producer
// thread. Grants and a revoke commit; the consent proofs from Snapshot() verify against the
// genesis; blocks respect max_txs_per_block; a restart on the same home keeps everything; a
// follower refuses submissions; shutdown with pending work leaves a store that reopens.
#include "node/node.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>

#include <filesystem>
#include <fstream>

#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "ledger/consent_proof.h"
#include "ledger/p2p_messages.h"
#include "ledger/queries.h"
#include "node/sign_state.h"
#include "node_test_util.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

using namespace std::chrono_literals;
using testing::KeyFromLabel;
using testing::SignedGrant;
using testing::SignedRegister;
using testing::SignedRevoke;
using testing::TempDir;

// Collects committed blocks; lets a test wait until some number of transactions committed.
class Collector : public CommitListener {
 public:
  void OnCommit(const std::shared_ptr<const CommittedBlock>& block) override {
    std::lock_guard<std::mutex> lock(mu_);
    blocks_.push_back(block);
    txs_ += block->txs.size();
    cv_.notify_all();
  }
  bool WaitForTxs(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return txs_ >= n; });
  }
  std::vector<std::shared_ptr<const CommittedBlock>> blocks() {
    std::lock_guard<std::mutex> lock(mu_);
    return blocks_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<const CommittedBlock>> blocks_;
  size_t txs_ = 0;
};

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions o;
    o.home = tmp_.path() + "/home";
    o.chain_id = "node-test";
    ASSERT_TRUE(InitHome(o).ok());
    auto home = LoadHome(o.home);
    ASSERT_TRUE(home.ok()) << home.status().ToString();
    home_ = *home;
    home_.config.block_interval_ms = 5;
    home_.config.p2p_port = 0;  // any free port: tests run in parallel
  }
  std::unique_ptr<Node> OpenNode() {
    auto node = Node::Open(NodeOptionsFromHome(home_));
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    return node.ok() ? std::move(node).value() : nullptr;
  }
  std::string Chain() const { return home_.genesis.chain_id; }

  TempDir tmp_;
  Home home_;
  SigningKey brand_ = KeyFromLabel("brand");
  SigningKey alice_ = KeyFromLabel("alice");
};

void ExpectProof(const Node& node, const PublicKey& subject, const PublicKey& controller,
                 const std::string& purpose, ProofStatus want) {
  std::unique_ptr<KvRead> snap = node.Snapshot();
  auto proof = ProveConsent(*snap, node.genesis(), subject, controller, purpose);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_EQ(proof->status, want) << purpose;
  // Through the JSON form, as an auditor receives it.
  auto parsed = ParseConsentProof(ConsentProofToJson(*proof));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto verdict = VerifyConsentProof(*parsed, node.genesis());
  ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
  EXPECT_EQ(verdict->status, want);
  // The commit is the validator's own precommit: one signature by the genesis key.
  ASSERT_EQ(parsed->commit.signatures.size(), 1u);
  EXPECT_EQ(parsed->commit.signatures[0].validator, node.genesis().validators[0].public_key);
}

TEST_F(NodeTest, GrantRevokeProveAndRestart) {
  auto node = OpenNode();
  ASSERT_TRUE(node);
  EXPECT_TRUE(node->producing());
  Collector collector;
  node->AddCommitListener(&collector);
  const PublicKey c = brand_.public_key();
  const uint64_t t = NowMs();

  SignedTx reg = SignedRegister(Chain(), brand_, "Brand", t - 1000);
  SignedTx grant = SignedGrant(Chain(), alice_, c, {"analytics", "marketing.email"}, t - 900);
  auto out = node->Submit({reg, grant});
  ASSERT_TRUE(out[0].status.ok()) << out[0].status.ToString();
  ASSERT_TRUE(out[1].status.ok()) << out[1].status.ToString();
  ASSERT_TRUE(collector.WaitForTxs(2));

  SignedTx revoke = SignedRevoke(Chain(), alice_, c, {"marketing.email"}, t - 500);
  ASSERT_TRUE(node->Submit({revoke})[0].status.ok());
  ASSERT_TRUE(collector.WaitForTxs(3));

  // A stale grant is refused; a committed tx re-sent is AlreadyExists.
  SignedTx stale = SignedGrant(Chain(), alice_, c, {"marketing.email"}, t - 600);
  auto r = node->Submit({stale, grant});
  EXPECT_EQ(r[0].status.code(), StatusCode::kRejected);
  EXPECT_EQ(r[0].rule, "stale");
  EXPECT_EQ(r[1].status.code(), StatusCode::kAlreadyExists);

  // Listener data: heights consecutive, log indexes contiguous.
  auto blocks = collector.blocks();
  uint64_t log_index = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(blocks[i]->header.height, i + 1);
    EXPECT_EQ(blocks[i]->first_log_index, log_index);
    EXPECT_EQ(blocks[i]->block_hash, blocks[i]->header.Hash());
    log_index += blocks[i]->txs.size();
    EXPECT_EQ(blocks[i]->header.log_size, log_index);
  }
  EXPECT_EQ(log_index, 3u);

  // The double-sign guard on disk, beside node.key and not in data/, names the last block this
  // validator precommitted.
  EXPECT_FALSE(std::filesystem::exists(home_.DataDir() + "/sign_state.json"));
  auto guard = LoadSignState(home_.SignStatePath());
  ASSERT_TRUE(guard.ok()) << guard.status().ToString();
  ASSERT_TRUE(guard->has_value());
  EXPECT_EQ((*guard)->height, blocks.back()->header.height);
  EXPECT_EQ((*guard)->step, 3);  // precommit
  EXPECT_EQ((*guard)->block_hash, blocks.back()->block_hash);

  ExpectProof(*node, alice_.public_key(), c, "analytics", ProofStatus::kGranted);
  ExpectProof(*node, alice_.public_key(), c, "marketing.email", ProofStatus::kRevoked);
  ExpectProof(*node, alice_.public_key(), c, "sms", ProofStatus::kNone);

  NodeStatus st = node->Status();
  EXPECT_EQ(st.chain_id, "node-test");
  EXPECT_EQ(st.height, blocks.size());
  EXPECT_EQ(st.head_hash, blocks.back()->block_hash);
  EXPECT_EQ(st.log_size, 3u);
  EXPECT_EQ(st.mempool_size, 0u);
  EXPECT_EQ(st.mempool_capacity, 20000u);
  EXPECT_TRUE(st.ready);
  EXPECT_EQ(st.validators, home_.genesis.validators);

  std::string metrics = node->NodeMetrics();
  EXPECT_NE(metrics.find("consent_height " + std::to_string(st.height)), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("consent_txs_committed_total 3"), std::string::npos);
  EXPECT_NE(metrics.find("consent_signature_verifications_total 4"), std::string::npos);
  EXPECT_NE(metrics.find("consent_block_commit_seconds_count " + std::to_string(blocks.size())),
            std::string::npos);
  EXPECT_NE(metrics.find("consent_block_commit_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  // Each block's latency runs from its round's start to its durable commit: building, signing
  // and a synced write take time, so the sum is above 0 (it read 0 for every single-validator
  // block while the round's start was noted only after the block was already committed).
  const std::string sum_key = "consent_block_commit_seconds_sum ";
  const size_t sum_at = metrics.find(sum_key);
  ASSERT_NE(sum_at, std::string::npos);
  EXPECT_GT(std::stod(metrics.substr(sum_at + sum_key.size())), 0.0) << metrics;
  EXPECT_NE(metrics.find("consent_txs_relayed_total 0\n"), std::string::npos);  // no peers
  EXPECT_NE(metrics.find("# TYPE consent_page_cache_hits_total counter\n"), std::string::npos);
  EXPECT_NE(metrics.find("consent_page_cache_bytes "), std::string::npos);

  node->RemoveCommitListener(&collector);
  const uint64_t height = st.height;
  node->Shutdown();
  EXPECT_FALSE(node->Status().ready);
  EXPECT_EQ(node->Submit({SignedGrant(Chain(), alice_, c, {"x"}, t)})[0].status.code(),
            StatusCode::kUnavailable);
  node.reset();

  // Restart on the same home: everything is there, and production continues.
  node = OpenNode();
  ASSERT_TRUE(node);
  EXPECT_EQ(node->Status().height, height);
  ExpectProof(*node, alice_.public_key(), c, "marketing.email", ProofStatus::kRevoked);
  Collector after;
  node->AddCommitListener(&after);
  SignedTx regrant = SignedGrant(Chain(), alice_, c, {"marketing.email"}, t - 100);
  ASSERT_TRUE(node->Submit({regrant})[0].status.ok());
  ASSERT_TRUE(after.WaitForTxs(1));
  EXPECT_EQ(after.blocks()[0]->header.height, height + 1);
  EXPECT_EQ(after.blocks()[0]->first_log_index, 3u);
  ExpectProof(*node, alice_.public_key(), c, "marketing.email", ProofStatus::kGranted);
  // Replays across the restart are still refused.
  EXPECT_EQ(node->Submit({revoke})[0].status.code(), StatusCode::kAlreadyExists);
  node->RemoveCommitListener(&after);
}

TEST_F(NodeTest, BlocksRespectMaxTxsAndBlockTimesIncrease) {
  home_.config.max_txs_per_block = 3;
  home_.config.block_interval_ms = 20;
  auto node = OpenNode();
  ASSERT_TRUE(node);
  Collector collector;
  node->AddCommitListener(&collector);
  const uint64_t t = NowMs();
  std::vector<SignedTx> txs;
  for (int i = 0; i < 10; ++i) {
    txs.push_back(SignedGrant(Chain(), KeyFromLabel("s" + std::to_string(i)), brand_.public_key(),
                              {"p"}, t - 100));
  }
  for (const auto& o : node->Submit(txs)) ASSERT_TRUE(o.status.ok());
  ASSERT_TRUE(collector.WaitForTxs(10));
  auto blocks = collector.blocks();
  ASSERT_GE(blocks.size(), 4u);
  size_t i_tx = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_LE(blocks[i]->txs.size(), 3u);
    for (const auto& tx : blocks[i]->txs) EXPECT_EQ(tx, txs[i_tx++]);  // arrival order
    if (i > 0) {
      EXPECT_GT(blocks[i]->header.time_ms, blocks[i - 1]->header.time_ms);
      // At least block_interval_ms apart (on the wall clock the node read).
      EXPECT_GE(blocks[i]->header.time_ms, blocks[i - 1]->header.time_ms + 20);
    }
  }
  node->RemoveCommitListener(&collector);
}

TEST_F(NodeTest, FollowerRefusesSubmissions) {
  // A genesis whose sole validator is someone else.
  Genesis g = home_.genesis;
  g.validators[0].public_key = KeyFromLabel("other validator").public_key();
  NodeOptions o = NodeOptionsFromHome(home_);
  o.genesis = g;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_FALSE((*node)->producing());
  auto out = (*node)->Submit({SignedGrant(Chain(), alice_, brand_.public_key(), {"p"}, NowMs())});
  EXPECT_EQ(out[0].status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE((*node)->Status().ready);
  EXPECT_EQ((*node)->Status().height, 0u);
}

TEST_F(NodeTest, StoreOfAnotherChainIsRefused) {
  { ASSERT_TRUE(OpenNode()); }
  NodeOptions o = NodeOptionsFromHome(home_);
  o.genesis.chain_id = "tampered-chain";
  auto node = Node::Open(o);
  ASSERT_FALSE(node.ok());
  EXPECT_NE(node.status().message().find("another chain"), std::string::npos)
      << node.status().message();
}

TEST_F(NodeTest, ShutdownUnderLoadLeavesAConsistentStore) {
  home_.config.block_interval_ms = 0;
  home_.config.max_txs_per_block = 7;
  uint64_t height = 0;
  {
    auto node = OpenNode();
    ASSERT_TRUE(node);
    const uint64_t t = NowMs();
    std::vector<SignedTx> txs;
    for (int i = 0; i < 200; ++i) {
      txs.push_back(SignedGrant(Chain(), KeyFromLabel("load" + std::to_string(i)),
                                brand_.public_key(), {"p"}, t - 100));
    }
    std::thread submitter([&] {
      for (size_t i = 0; i < txs.size(); i += 20) {
        std::vector<SignedTx> part(txs.begin() + i, txs.begin() + i + 20);
        (void)node->Submit(part);
      }
    });
    std::this_thread::sleep_for(20ms);
    node->Shutdown();
    submitter.join();
    height = node->Status().height;
  }
  // Reopening runs the store's consistency checks (head, commit, log and state roots).
  auto node = OpenNode();
  ASSERT_TRUE(node);
  EXPECT_EQ(node->Status().height, height);
  if (height > 0) {
    auto head = GetHead(*node->Snapshot());
    ASSERT_TRUE(head.ok());
    EXPECT_TRUE(
        VerifyCommit(node->genesis(), head->header.height, head->block_hash, head->commit).ok());
  }
}

// A store already open (here by this process; by another consentd in the field) is refused with
// the likely cause, and the data directory named once.
TEST_F(NodeTest, AStoreInUseIsRefusedWithTheLikelyCause) {
  auto first = OpenNode();
  ASSERT_TRUE(first);
  auto second = Node::Open(NodeOptionsFromHome(home_));
  ASSERT_FALSE(second.ok());
  const std::string m = second.status().message();
  EXPECT_NE(m.find("another consentd is probably running on this home (LOCK held)"),
            std::string::npos)
      << m;
  const std::string prefix = "cannot open the store at " + home_.DataDir() + ": ";
  EXPECT_EQ(m.rfind(prefix, 0), 0u) << m;
  EXPECT_EQ(m.find("cannot open the store", prefix.size()), std::string::npos) << m;
}

// A data directory that cannot be searched made the store's std::filesystem probe throw (an
// abort in consentd): it is an error with a message. A symlink loop fails that probe even for
// root; without root, so does a directory without permissions.
TEST_F(NodeTest, AnUnsearchableDataDirIsAnErrorNotAnException) {
  const std::string data = home_.DataDir();
  std::filesystem::remove_all(data);
  std::filesystem::create_directory_symlink(std::filesystem::path(data).filename(), data);
  auto node = Node::Open(NodeOptionsFromHome(home_));  // threw before
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.status().code(), StatusCode::kIoError);
  EXPECT_NE(node.status().message().find("cannot open the store at " + data), std::string::npos)
      << node.status().message();
  EXPECT_NE(node.status().message().find("symbolic links"), std::string::npos)
      << node.status().message();
  if (::geteuid() != 0) {
    std::filesystem::remove(data);
    std::filesystem::create_directory(data);
    std::filesystem::permissions(data, std::filesystem::perms::none);
    auto denied = Node::Open(NodeOptionsFromHome(home_));
    std::filesystem::permissions(data, std::filesystem::perms::owner_all);
    ASSERT_FALSE(denied.ok());
    EXPECT_NE(denied.status().message().find("Permission denied"), std::string::npos)
        << denied.status().message();
  }
}

// A taken p2p port is fatal for a node that others link to (a chain of several validators, or
// persistent peers configured), and only a warning for a lone validator without peers.
TEST_F(NodeTest, ATakenP2pPortIsFatalWhenOthersLinkToThisNode) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  home_.config.p2p_port = ntohs(addr.sin_port);
  {
    auto alone = OpenNode();  // the dev node: runs on without peer links
    ASSERT_TRUE(alone);
    EXPECT_EQ(alone->p2p_port(), 0);
  }
  NodeOptions with_peers = NodeOptionsFromHome(home_);
  with_peers.config.p2p_persistent_peers = {"127.0.0.1:1"};
  auto a = Node::Open(with_peers);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("cannot listen on 127.0.0.1:" +
                                      std::to_string(home_.config.p2p_port)),
            std::string::npos)
      << a.status().message();
  EXPECT_NE(a.status().message().find("1 persistent peer is configured"), std::string::npos)
      << a.status().message();
  // A follower of a 2-validator chain (its own store: another genesis).
  NodeOptions follower = NodeOptionsFromHome(home_);
  follower.data_dir = tmp_.path() + "/follower-data";
  follower.genesis.validators = {{"a", KeyFromLabel("va").public_key()},
                                 {"b", KeyFromLabel("vb").public_key()}};
  auto f = Node::Open(follower);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("the chain has 2 validators"), std::string::npos)
      << f.status().message();
  ::close(fd);
}

// A lone validator killed after it locked on a block (its sign state holds the lock) but before
// the block committed has nobody to get the block from. With the kept locked proposal it
// re-proposes and commits exactly that block; without it, its own lock made it prevote nil for
// every new block, so height 1 could never commit (this test then times out).
TEST_F(NodeTest, ALoneValidatorRestartedBetweenLockAndCommitCommitsTheLockedBlock) {
  const SigningKey validator = SigningKey::FromSeed(home_.key.secret);
  SignedTx g = SignedGrant(Chain(), alice_, brand_.public_key(), {"email"}, NowMs() - 1000);
  MemoryKv empty;
  auto built = BuildBlock(empty, home_.genesis, ChainTip{}, NowMs(), 0, {g}, 10);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const Block block = built->validated.block;
  const Hash32 hash = block.header.Hash();
  const std::string data = home_.DataDir();
  std::filesystem::create_directories(data);
  ASSERT_TRUE(SaveSignState(data + "/sign_state.json", SignState{1, 0, 3, hash, 0, hash}).ok());
  p2p::ProposalMsg m;
  m.proposal = SignProposal(validator, Chain(), 1, 0, kNoRound, block);
  const Bytes bytes = p2p::Encode(m);
  {
    std::ofstream out(data + "/locked_proposal.bin", std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  auto node = OpenNode();
  ASSERT_TRUE(node);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (node->Status().height < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(node->Status().height, 1u) << "height 1 never committed";
  EXPECT_EQ(node->Status().head_hash, hash);
  EXPECT_EQ(node->Status().log_size, 1u);
}

// An idle chain still commits: a heartbeat block heartbeat_ms after each height started, empty
// and certified like any other, so that a live chain's head time is recent (issue 16 item 14).
// Before heartbeats an idle chain made no block at all and this test timed out at height 0.
TEST_F(NodeTest, AnIdleChainCommitsHeartbeatBlocks) {
  NodeOptions o = NodeOptionsFromHome(home_);
  o.config.heartbeat_ms = 100;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((*node)->Status().height < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  const NodeStatus st = (*node)->Status();
  ASSERT_GE(st.height, 3u) << "no heartbeat blocks on an idle chain";
  EXPECT_EQ(st.log_size, 0u);  // empty blocks
  auto snap = (*node)->Snapshot();
  auto h1 = GetCertifiedHeader(*snap, 1);
  auto h2 = GetCertifiedHeader(*snap, 2);
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_GT(h2->header.time_ms, h1->header.time_ms);
  EXPECT_TRUE(VerifyCommit((*node)->genesis(), 2, h2->header.Hash(), h2->commit).ok());
}

// With heartbeat_ms = 0 an idle chain makes no block: after the block with the one grant, the
// next height stays waiting (were 0 read as "at once", a lone validator would commit empty
// blocks back to back and the height would run past 1).
TEST_F(NodeTest, HeartbeatZeroLeavesAnIdleChainIdle) {
  NodeOptions o = NodeOptionsFromHome(home_);
  o.config.heartbeat_ms = 0;
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  SignedTx g = SignedGrant(Chain(), alice_, brand_.public_key(), {"email"}, NowMs() - 1000);
  Collector c;
  (*node)->AddCommitListener(&c);
  ASSERT_TRUE((*node)->Submit({g})[0].status.ok());
  ASSERT_TRUE(c.WaitForTxs(1));
  // The block with the grant committed; the next height waits for transactions, in "waiting".
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((*node)->Status().consensus_step != "waiting" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ((*node)->Status().consensus_step, "waiting");
  EXPECT_EQ((*node)->Status().height, 1u);
  (*node)->RemoveCommitListener(&c);
}

// A validator whose data/ was restored from a backup (here: wiped) keeps its double-sign guard,
// which lives beside node.key: it refuses to sign at or below the height the guard records,
// even for a new block nobody else has seen. Before the guard moved out of data/, wiping data/
// wiped the guard too, and the node signed height 1 again at once.
TEST_F(NodeTest, ARestoredStoreCannotRollTheGuardBack) {
  const Hash32 other = Sha256(AsBytes("a block this key signed before the restore"));
  const SignState before{2, 0, 3, other, kNoRound, Hash32{}};
  ASSERT_TRUE(SaveSignState(home_.SignStatePath(), before).ok());
  auto node = OpenNode();
  ASSERT_TRUE(node);
  SignedTx g = SignedGrant(Chain(), alice_, brand_.public_key(), {"email"}, NowMs() - 1000);
  auto out = node->Submit({g});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].status.ok()) << out[0].status.ToString();
  // A lone validator that may sign proposes and commits height 1 at once. One that may not lets
  // the propose step time out and waits in prevote for a prevote it may not sign: wait for that
  // step, then nothing may have been signed.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (node->Status().consensus_step != "prevote" && node->Status().height == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(node->Status().consensus_step, "prevote");
  EXPECT_EQ(node->Status().height, 0u) << "signed below its guard after a restore";
  auto guard = LoadSignState(home_.SignStatePath());
  ASSERT_TRUE(guard.ok() && guard->has_value());
  EXPECT_EQ(**guard, before) << "the guard moved backwards";
}

// The order of the two files a lone validator needs after a kill: at every moment a new sign
// state becomes durable (where a kill -9 leaves exactly what is on disk), a sign state that
// records a lock finds the locked block's proposal already in locked_proposal.bin. The block
// used to be written after the sign state: a kill between the two left a lock without its block,
// and the restarted node prevoted nil for every other block at that height, for good (seen as a
// 504 commit_timeout in e2e.cli's kill -9 under load). That order fails this test.
TEST_F(NodeTest, EveryLockOnDiskHasItsBlockOnDisk) {
  const std::string locked_path = home_.DataDir() + "/locked_proposal.bin";
  std::mutex mu;
  size_t locks_seen = 0;
  std::vector<std::string> problems;
  NodeOptions o = NodeOptionsFromHome(home_);
  o.on_sign_state_saved = [&](const SignState& s) {
    if (s.locked_round == kNoRound) return;
    std::string problem;
    std::ifstream in(locked_path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto msg = p2p::Decode(Bytes(bytes.begin(), bytes.end()));
    const auto* pm = msg.ok() ? std::get_if<p2p::ProposalMsg>(&*msg) : nullptr;
    if (!in.is_open() && bytes.empty()) {
      problem = "no locked_proposal.bin";
    } else if (pm == nullptr) {
      problem = "locked_proposal.bin does not hold a proposal";
    } else if (pm->proposal.height != s.height || pm->proposal.block_hash != s.locked_hash) {
      problem = "locked_proposal.bin holds height " + std::to_string(pm->proposal.height) +
                " block " + ToHex(pm->proposal.block_hash);
    }
    std::lock_guard<std::mutex> lock(mu);
    ++locks_seen;
    if (!problem.empty()) {
      problems.push_back("lock at height " + std::to_string(s.height) + " on " +
                         ToHex(s.locked_hash) + ": " + problem);
    }
  };
  auto node = Node::Open(o);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  Collector collector;
  (*node)->AddCommitListener(&collector);
  const uint64_t t = NowMs();
  for (int i = 0; i < 5; ++i) {
    SignedTx g = SignedGrant(Chain(), KeyFromLabel("lock" + std::to_string(i)), brand_.public_key(),
                             {"p"}, t - 100);
    ASSERT_TRUE((*node)->Submit({g})[0].status.ok());
    ASSERT_TRUE(collector.WaitForTxs(static_cast<size_t>(i) + 1));
  }
  (*node)->Shutdown();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_GE(locks_seen, 5u) << "each block's precommit locks the lone validator";
  for (const std::string& p : problems) ADD_FAILURE() << p;
}

}  // namespace
}  // namespace consent
