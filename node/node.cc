// Node: store, mempool, peer links and the consensus driver; listeners and metrics.
#include "node/node.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "ledger/kv_state.h"
#include "ledger/queries.h"
#include "ledger/schema.h"
#include "node/evidence_log.h"
#include "node/sign_state.h"

namespace consent {
namespace {

// Upper bounds of the commit latency histogram, in seconds.
constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10};
constexpr size_t kLatencyBucketCount = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);

// How often the driver ticks (status broadcast, sync checks, re-gossip when stuck).
constexpr auto kTickInterval = std::chrono::milliseconds(250);
// Re-send the current height's proposals and votes when a height has not been decided for this
// long, at most this often.
constexpr auto kRegossipAfter = std::chrono::milliseconds(1000);
// A block request without an answer is retried (from any peer ahead) after this long.
constexpr auto kSyncTimeout = std::chrono::milliseconds(5000);
// A peer exactly one block ahead triggers block sync only after this long (consensus usually
// delivers that block itself a moment later).
constexpr auto kBehindGrace = std::chrono::milliseconds(1000);

std::string ShortHex(const Hash32& h) { return ToHex(h).substr(0, 16); }

uint8_t StepOf(VoteType t) { return t == VoteType::kPrevote ? 2 : 3; }

const char* StepName(uint8_t s) {
  switch (static_cast<Step>(s)) {
    case Step::kWaiting:
      return "waiting";
    case Step::kPropose:
      return "propose";
    case Step::kPrevote:
      return "prevote";
    case Step::kPrecommit:
      return "precommit";
  }
  return "unknown";
}

// The committed state the mempool checks against: a RocksDB snapshot and a KvStateView over it.
class SnapshotState : public CommittedState {
 public:
  explicit SnapshotState(std::unique_ptr<KvRead> kv) : kv_(std::move(kv)), view_(*kv_) {}
  const StateView& view() const override { return view_; }
  Status error() const override { return view_.error(); }

 private:
  std::unique_ptr<KvRead> kv_;
  KvStateView view_;
};

uint64_t MessageHeight(const p2p::Message& m) {
  if (const auto* p = std::get_if<p2p::ProposalMsg>(&m)) return p->proposal.height;
  if (const auto* v = std::get_if<p2p::VoteMsg>(&m)) return v->vote.height;
  return 0;
}

// The store's open error, with the data directory named once and, when the store's LOCK is held
// (by another process, or by this one), the likely cause.
consent::Status StoreOpenError(const consent::Status& st, const std::string& data_dir) {
  const std::string prefix = "cannot open the store at " + data_dir + ": ";
  std::string message = st.message();
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  const bool lock_held = message.find("/LOCK: ") != std::string::npos &&
                         (message.find("Resource temporarily unavailable") != std::string::npos ||
                          message.find("lock hold by current process") != std::string::npos);
  if (lock_held) {
    message = "another consentd is probably running on this home (LOCK held): " + message;
  }
  return consent::Status(st.code(), prefix + message);
}

}  // namespace

NodeOptions NodeOptionsFromHome(const Home& home) {
  NodeOptions o;
  o.genesis = home.genesis;
  o.key = home.key;
  o.data_dir = home.DataDir();
  o.config = home.config;
  return o;
}

Result<std::unique_ptr<Node>> Node::Open(NodeOptions options) {
  if (options.sign_state_path.empty())
    options.sign_state_path = options.data_dir + "/sign_state.json";
  ChainStoreOptions so;
  so.path = options.data_dir;
  so.block_cache_bytes = options.config.block_cache_mib << 20;
  so.page_cache_bytes = options.config.page_cache_mib << 20;
  // A data directory that cannot be searched is an error from Open (it once threw from a
  // std::filesystem probe and aborted consentd).
  auto store = ChainStore::Open(so, options.genesis);
  if (!store.ok()) return StoreOpenError(store.status(), options.data_dir);
  auto sign_state = LoadSignState(options.sign_state_path);
  if (!sign_state.ok()) return sign_state.status();
  std::unique_ptr<Node> node(
      new Node(std::move(options), std::move(store).value(), std::move(sign_state).value()));
  node->LoadEvidenceFile();
  RETURN_IF_ERROR(node->StartPeers());
  node->ready_ = true;
  node->driver_ = std::thread([n = node.get()] { n->DriverLoop(); });
  node->ingest_ = std::thread([n = node.get()] { n->IngestLoop(); });
  node->Post([n = node.get()] { n->StartNextHeight(); }, false);
  return node;
}

Node::Node(NodeOptions options, std::unique_ptr<ChainStore> store,
           std::optional<SignState> sign_state)
    : options_(std::move(options)),
      genesis_(options_.genesis),
      key_(SigningKey::FromSeed(options_.key.secret)),
      validator_(
          std::any_of(genesis_.validators.begin(), genesis_.validators.end(),
                      [&](const Validator& v) { return v.public_key == key_.public_key(); })),
      store_(std::move(store)),
      sign_state_(std::move(sign_state)),
      evidence_path_(options_.data_dir + "/evidence.jsonl"),
      locked_path_(options_.data_dir + "/locked_proposal.bin"),
      latency_buckets_(kLatencyBucketCount, 0),
      rate_at_(std::chrono::steady_clock::now()) {
  MempoolOptions mo;
  mo.chain_id = genesis_.chain_id;
  mo.capacity = options_.config.mempool_capacity;
  mo.verify_threads = options_.config.VerifyThreads();
  mo.clock_ms = [this] { return NowMs(); };
  ChainStore* store_ptr = store_.get();
  mempool_ = std::make_unique<Mempool>(
      mo, [store_ptr] { return std::make_unique<SnapshotState>(store_ptr->Snapshot()); });
  std::optional<PublicKey> self;
  if (validator_) self = key_.public_key();
  consensus_ = std::make_unique<Consensus>(genesis_, self, options_.config.consensus);
  if (!validator_) {
    spdlog::info("node key {} is not in the genesis validator set: running as a follower",
                 ToHex(key_.public_key()));
  }
}

consent::Status Node::StartPeers() {
  PeerManagerOptions po;
  po.chain_id = genesis_.chain_id;
  po.genesis_hash = schema::GenesisHash(genesis_);
  po.node_seed = options_.key.secret;
  po.listen_address = options_.config.p2p_listen_address;
  po.listen_port = options_.config.p2p_port;
  po.listen = options_.config.p2p_listen;
  po.persistent_peers = options_.config.p2p_persistent_peers;
  po.max_peers = options_.config.p2p_max_peers;
  po.ban_seconds = options_.config.p2p_ban_seconds;
  po.max_msgs_per_sec = options_.config.p2p_max_msgs_per_sec;
  po.max_inbound_per_ip = options_.config.p2p_max_inbound_per_ip;
  po.max_pending_per_ip = options_.config.p2p_max_pending_per_ip;
  po.handshakes_per_ip_per_sec = options_.config.p2p_handshakes_per_ip_per_sec;
  po.guest_msgs_per_sec = options_.config.p2p_guest_msgs_per_sec;
  po.guest_bytes_per_sec = options_.config.p2p_guest_bytes_per_sec;
  po.is_validator = [vals = genesis_.validators](const PublicKey& k) {  // always get a slot
    return std::any_of(vals.begin(), vals.end(),
                       [&](const Validator& v) { return v.public_key == k; });
  };
  ChainStore* store = store_.get();
  po.current_height = [store] { return store->height(); };
  peers_ = std::make_unique<PeerManager>(po, static_cast<PeerHandler*>(this));
  consent::Status st = peers_->Start();
  if (st.ok()) {
    if (po.listen) {
      spdlog::info("p2p listening on {}:{}, {} persistent peers", po.listen_address,
                   peers_->listen_port(), po.persistent_peers.size());
    }
    return st;
  }
  // A node that others link to (any node of a chain of several validators, or a node with
  // persistent peers, which list it in turn) fails to start without its listener, as for a taken
  // API port. Only a node of a single-validator chain without peers (the dev node) runs on.
  const size_t n_peers = po.persistent_peers.size();
  if (genesis_.validators.size() > 1 || n_peers > 0) {
    const std::string why =
        genesis_.validators.size() > 1
            ? "the chain has " + std::to_string(genesis_.validators.size()) + " validators"
            : std::to_string(n_peers) +
                  (n_peers == 1 ? " persistent peer is" : " persistent peers are") + " configured";
    return consent::Status(st.code(), st.message() + " (this node needs inbound peer links: " +
                                          why + "; free the port or change [p2p] port)");
  }
  // Not fatal here: nobody links to this node.
  peers_.reset();
  po.listen = false;
  peers_ = std::make_unique<PeerManager>(po, static_cast<PeerHandler*>(this));
  if (consent::Status dial = peers_->Start(); !dial.ok()) {
    spdlog::warn("peer links not started ({}); this node runs without peers", dial.ToString());
    peers_.reset();
    return consent::Status::Ok();
  }
  spdlog::warn(
      "not accepting peer links ({}); a single-validator node without persistent peers "
      "runs without them",
      st.ToString());
  return consent::Status::Ok();
}

Node::~Node() {
  Shutdown();
  mempool_.reset();
  store_.reset();
  spdlog::info("store closed");
}

void Node::LoadEvidenceFile() {
  auto loaded = LoadEvidence(evidence_path_, genesis_);
  if (!loaded.ok()) {
    spdlog::warn("equivocation evidence not loaded: {}", loaded.status().ToString());
    return;
  }
  for (const std::string& w : loaded->warnings) spdlog::warn("{}", w);
  std::lock_guard<std::mutex> lock(evidence_mu_);
  for (Evidence& e : loaded->items) evidence_.push_back(std::move(e));
  while (evidence_.size() > kMaxEvidence) evidence_.pop_front();
  if (!evidence_.empty()) {
    spdlog::warn("{} equivocation evidence items on file ({})", loaded->items.size(),
                 evidence_path_);
  }
}

consent::Status Node::SaveLockedProposal(const SignedProposal& p) {
  p2p::ProposalMsg m;
  m.proposal = p;
  const Bytes bytes = p2p::Encode(m);
  RETURN_IF_ERROR(ReplaceFileDurably(
      locked_path_, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  saved_lock_height_ = p.height;
  saved_lock_hash_ = p.block_hash;
  return consent::Status::Ok();
}

std::optional<Block> Node::RestoreLockedBlock(uint64_t height, const SignState& restored) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(locked_path_, ec);
  if (ec) return std::nullopt;  // none kept
  auto ignore = [&](const std::string& why) -> std::optional<Block> {
    spdlog::warn("{}: not using the kept locked block: {}", locked_path_, why);
    return std::nullopt;
  };
  if (size > p2p::kMaxFrameBytes) return ignore("larger than a peer frame");
  std::ifstream in(locked_path_, std::ios::binary);
  Bytes bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) return ignore("cannot read it");
  auto msg = p2p::Decode(bytes);
  if (!msg.ok()) return ignore(msg.status().message());
  const auto* pm = std::get_if<p2p::ProposalMsg>(&*msg);
  if (pm == nullptr) return ignore("not a proposal");
  const SignedProposal& p = pm->proposal;
  if (p.height != height || p.block_hash != restored.locked_hash) {
    spdlog::debug("{} is for height {}, not the lock at height {}", locked_path_, p.height, height);
    return std::nullopt;  // an older height's: stale, not damaged
  }
  if (consent::Status st = VerifyProposal(genesis_, p); !st.ok()) return ignore(st.message());
  BlockCheck check;
  auto v = ValidateBlock(store_->kv(), genesis_, store_->tip(), p.block, p.round, false, &check);
  if (!v.ok()) return ignore(v.status().message());
  if (auto bad = mempool_->VerifyBlockSignatures(p.block.txs, v->tx_ids)) {
    return ignore("transaction " + std::to_string(*bad) + " has an invalid signature");
  }
  spdlog::info("restored the locked block {} of height {} (locked in round {}, {} txs)",
               ShortHex(p.block_hash), height, restored.locked_round, p.block.txs.size());
  Block block = p.block;
  validated_.emplace(p.block_hash, std::move(v).value());
  saved_lock_height_ = p.height;
  saved_lock_hash_ = p.block_hash;
  return block;
}

uint16_t Node::p2p_port() const { return peers_ ? peers_->listen_port() : 0; }

uint64_t Node::NowMs() const { return options_.clock_ms ? options_.clock_ms() : consent::NowMs(); }

void Node::Shutdown() {
  std::lock_guard<std::mutex> once(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  if (peers_) peers_->Stop();  // no peer callback runs after this
  mempool_->Close();
  {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    ingest_stop_ = true;
  }
  ingest_cv_.notify_all();
  if (ingest_.joinable()) ingest_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (driver_.joinable()) driver_.join();
  const size_t dropped = mempool_->size();
  if (dropped > 0) spdlog::info("shutdown: {} pending transactions dropped", dropped);
  if (consent::Status st = store_->rocks().Flush(); !st.ok()) {
    spdlog::warn("shutdown: flushing the store failed (the WAL still holds every block): {}",
                 st.ToString());
  }
}

// ---------------------------------------------------------------------------------------------
// Threads and queues.

void Node::Post(std::function<void()> fn, bool droppable) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    if (droppable && queue_.size() >= kMaxDriverQueue) {
      ++dropped_events_;
      return;
    }
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void Node::PostIngest(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    if (ingest_stop_ || ingest_queue_.size() >= kMaxIngestQueue) return;
    ingest_queue_.push_back(std::move(fn));
  }
  ingest_cv_.notify_one();
}

void Node::IngestLoop() {
  pthread_setname_np(pthread_self(), "consent-ingest");  // thread names show in top -H and perf
  std::unique_lock<std::mutex> lock(ingest_mu_);
  while (true) {
    ingest_cv_.wait(lock, [this] { return ingest_stop_ || !ingest_queue_.empty(); });
    if (ingest_stop_) return;
    std::function<void()> fn = std::move(ingest_queue_.front());
    ingest_queue_.pop_front();
    lock.unlock();
    fn();
    lock.lock();
  }
}

void Node::DriverLoop() {
  pthread_setname_np(pthread_self(), "consent-driver");
  std::unique_lock<std::mutex> lock(mu_);
  next_tick_ = Clock::now() + kTickInterval;
  while (!stop_) {
    Clock::time_point deadline = next_tick_;
    if (!timers_.empty()) deadline = std::min(deadline, timers_.begin()->first);
    if (txs_wake_at_) deadline = std::min(deadline, *txs_wake_at_);
    cv_.wait_until(lock, deadline, [this] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    std::deque<std::function<void()>> batch;
    batch.swap(queue_);
    lock.unlock();
    for (auto& fn : batch) {
      if (fatal_) break;
      fn();
    }
    const auto now = Clock::now();
    while (!fatal_ && !timers_.empty() && timers_.begin()->first <= now) {
      const TimeoutRequest t = timers_.begin()->second;
      timers_.erase(timers_.begin());
      Handle(consensus_->OnTimeout(t.kind, t.height, t.round));
    }
    if (!fatal_ && txs_wake_at_ && *txs_wake_at_ <= now) {
      txs_wake_at_.reset();
      MaybeTxsAvailable();
    }
    if (!fatal_ && now >= next_tick_) {
      next_tick_ = now + kTickInterval;
      Tick();
    }
    lock.lock();
  }
}

void Node::Fatal(const consent::Status& st) {
  if (fatal_.exchange(true)) return;
  spdlog::critical("consensus stopped: {}", st.ToString());
  ready_ = false;
  mempool_->Close();
  if (options_.on_fatal) options_.on_fatal(st);
}

// ---------------------------------------------------------------------------------------------
// Submissions and transaction gossip.

std::vector<SubmitOutcome> Node::Submit(std::vector<SignedTx> txs, std::vector<Hash32> ids) {
  if (!validator_ && (!peers_ || peers_->peer_count() == 0)) {
    std::vector<SubmitOutcome> out(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      out[i].tx_id = ids.size() == txs.size() ? ids[i] : txs[i].Id();
      out[i].status = consent::Status::Unavailable(
          "this follower has no peer link to forward transactions to a validator; submit to a "
          "validator's node or retry when it is connected");
    }
    return out;
  }
  // The accepted ones are gossiped; keep a copy only when there is somebody to send it to.
  const bool gossiping = peers_ && peers_->peer_count() > 0;
  std::vector<SignedTx> copy;
  if (gossiping) copy = txs;
  std::vector<SubmitOutcome> out = mempool_->Submit(std::move(txs), std::move(ids));
  p2p::TxsMsg gossip;
  bool any_new = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].status.ok() || out[i].duplicate) continue;
    any_new = true;
    if (gossiping) gossip.txs.push_back(std::move(copy[i]));
  }
  if (any_new) {
    if (!gossip.txs.empty()) {
      for (size_t i = 0; i < gossip.txs.size(); i += p2p::kMaxGossipTxs) {
        p2p::TxsMsg part;
        const size_t end = std::min(gossip.txs.size(), i + p2p::kMaxGossipTxs);
        part.txs.assign(gossip.txs.begin() + i, gossip.txs.begin() + end);
        peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(part)));
      }
    }
    Post([this] { MaybeTxsAvailable(); }, false);
  }
  return out;
}

void Node::IngestTxs(PeerId peer, std::vector<SignedTx> txs) {
  std::vector<SubmitOutcome> out = mempool_->Submit(std::move(txs));
  std::vector<Hash32> relay_ids;
  for (size_t i = 0; i < out.size(); ++i) {
    const StatusCode code = out[i].status.code();
    if (code == StatusCode::kInvalidSignature || code == StatusCode::kInvalidArgument) {
      // Honest nodes verify before they relay: this peer sends transactions nobody signed.
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ++bad_peer_messages_;
      }
      if (peers_) peers_->Disconnect(peer, "invalid transaction: " + out[i].status.message(), true);
      return;
    }
    if (out[i].status.ok() && !out[i].duplicate) relay_ids.push_back(out[i].tx_id);
  }
  if (relay_ids.empty()) return;
  Post([this] { MaybeTxsAvailable(); }, false);
  if (!peers_) return;
  // The sender normally broadcast these to all of its peers already, so relaying at once would
  // mostly send copies that every peer already holds (in a full mesh of 4, each node received
  // every transaction three times). They are relayed only if still pending when due: that still
  // carries a transaction across a partial mesh (a follower behind one validator, a cut link),
  // at the cost of that delay.
  const uint32_t after_ms = options_.config.p2p_relay_after_ms;
  if (after_ms > 0) {
    const auto due = Clock::now() + std::chrono::milliseconds(after_ms);
    std::lock_guard<std::mutex> lock(relay_mu_);
    size_t queued = 0;
    for (; queued < relay_ids.size() && relay_queue_.size() < options_.config.mempool_capacity;
         ++queued) {
      relay_queue_.push_back({due, peer, relay_ids[queued]});
    }
    relay_ids.erase(relay_ids.begin(), relay_ids.begin() + static_cast<std::ptrdiff_t>(queued));
  }
  if (relay_ids.empty()) return;
  // Relaying at once, or the queue is full: those still pending (a block may have taken some).
  p2p::TxsMsg relay;
  relay.txs = mempool_->Pending(relay_ids);
  if (!relay.txs.empty()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      txs_relayed_ += relay.txs.size();
    }
    peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(relay)), peer);
  }
}

void Node::RelayDue() {
  if (!peers_) return;
  std::vector<RelayItem> due;
  {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(relay_mu_);
    while (!relay_queue_.empty() && relay_queue_.front().due <= now) {
      due.push_back(std::move(relay_queue_.front()));
      relay_queue_.pop_front();
    }
  }
  std::map<PeerId, std::vector<Hash32>> by_source;
  for (const RelayItem& item : due) by_source[item.from].push_back(item.id);
  for (auto& [from, ids] : by_source) {
    std::vector<SignedTx> txs = mempool_->Pending(ids);  // those a block has not taken yet
    if (txs.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      txs_relayed_ += txs.size();
    }
    for (size_t i = 0; i < txs.size(); i += p2p::kMaxGossipTxs) {
      p2p::TxsMsg part;
      const size_t end = std::min(txs.size(), i + p2p::kMaxGossipTxs);
      part.txs.assign(std::make_move_iterator(txs.begin() + static_cast<std::ptrdiff_t>(i)),
                      std::make_move_iterator(txs.begin() + static_cast<std::ptrdiff_t>(end)));
      peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(part)), from);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Peer callbacks (peer I/O thread).

void Node::OnPeerConnected(const PeerInfo& peer) {
  spdlog::info("peer {} connected: key {} at {} ({}), height {}", peer.id,
               ToHex(peer.key).substr(0, 16), peer.address, peer.outbound ? "outbound" : "inbound",
               peer.height);
  Post(
      [this, id = peer.id, h = peer.height] {
        peer_heights_[id] = h;
        p2p::StatusMsg s;
        const ChainTip tip = store_->tip();
        s.height = tip.head ? tip.head->height : 0;
        if (tip.head) s.head_hash = tip.head->Hash();
        SendTo(id, s);
        GossipCurrentHeight(id);
        MaybeSync();
      },
      false);
}

void Node::OnPeerDisconnected(PeerId peer) {
  spdlog::info("peer {} disconnected", peer);
  Post(
      [this, peer] {
        peer_heights_.erase(peer);
        if (sync_ && sync_->peer == peer) sync_.reset();
      },
      false);
}

void Node::OnPeerMessage(PeerId peer, p2p::Message message) {
  if (auto* txs = std::get_if<p2p::TxsMsg>(&message)) {
    PostIngest([this, peer, t = std::move(txs->txs)]() mutable { IngestTxs(peer, std::move(t)); });
    return;
  }
  if (auto* req = std::get_if<p2p::BlockRequest>(&message)) {
    PostIngest([this, peer, r = *req] { ServeBlocks(peer, r); });
    return;
  }
  auto msg = std::make_shared<p2p::Message>(std::move(message));
  Post(
      [this, peer, msg] {
        if (auto* p = std::get_if<p2p::ProposalMsg>(msg.get())) {
          OnProposalMsg(peer, p->proposal);
        } else if (auto* v = std::get_if<p2p::VoteMsg>(msg.get())) {
          OnVoteMsg(peer, v->vote);
        } else if (auto* s = std::get_if<p2p::StatusMsg>(msg.get())) {
          OnStatusMsg(peer, *s);
        } else if (auto* r = std::get_if<p2p::BlockResponse>(msg.get())) {
          OnBlockResponse(peer, std::move(*r));
        } else if (auto* e = std::get_if<p2p::EvidenceMsg>(msg.get())) {
          OnEvidenceMsg(peer, e->evidence);
        }
      },
      /*droppable=*/true);
}

void Node::Broadcast(const p2p::Message& m, PeerId except) {
  if (peers_) peers_->Broadcast(std::make_shared<const Bytes>(p2p::Encode(m)), except);
}

void Node::SendTo(PeerId peer, const p2p::Message& m) {
  if (peers_) peers_->Send(peer, std::make_shared<const Bytes>(p2p::Encode(m)));
}

// ---------------------------------------------------------------------------------------------
// The consensus driver (driver thread).

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
  Handle(consensus_->StartHeight(h, restored, locked_block ? &*locked_block : nullptr));
  // Messages that arrived early for this height.
  std::vector<std::pair<PeerId, p2p::Message>> early;
  early.swap(future_);
  for (auto& [peer, m] : early) {
    if (MessageHeight(m) != h) continue;
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
  if (mempool_->size() == 0) return;
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
    for (const ProposalEvidence& e : out.proposal_evidence) {
      spdlog::warn("EQUIVOCATION: proposer {} signed two different proposals at height {} round {}",
                   ToHex(e.a.proposer), e.a.height, e.a.round);
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
  std::vector<Hash32> ids;  // computed once, when the mempool admitted each tx
  std::vector<SignedTx> candidates = mempool_->Candidates(options_.config.max_txs_per_block, &ids);
  const auto build_start = Clock::now();
  // A proposal travels in one peer frame: the block's body stays under kMaxBlockBytes.
  auto built = BuildBlock(store_->kv(), genesis_, tip, time_ms, req.round, std::move(candidates),
                          ids, options_.config.max_txs_per_block, kMaxBlockBytes);
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
  if (p.height != h) {
    if (p.height == h + 1 && future_.size() < kMaxFutureMessages) {
      future_.emplace_back(peer, p2p::ProposalMsg{p});
    }
    return;
  }
  if (consent::Status st = VerifyProposal(genesis_, p); !st.ok()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
    }
    if (peers_ && peer != 0) peers_->Disconnect(peer, "invalid proposal: " + st.message(), true);
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
  if (v.height != h) {
    if (v.height == h + 1 && future_.size() < kMaxFutureMessages) {
      future_.emplace_back(peer, p2p::VoteMsg{v});
    }
    return;
  }
  if (consent::Status st = VerifyVote(genesis_, v); !st.ok()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
    }
    if (peers_ && peer != 0) peers_->Disconnect(peer, "invalid vote: " + st.message(), true);
    return;
  }
  Handle(consensus_->OnVote(v));
}

void Node::OnEvidenceMsg(PeerId peer, const Evidence& e) {
  const SignedVote& a = e.a;
  const SignedVote& b = e.b;
  consent::Status st = VerifyVote(genesis_, a);
  if (st.ok()) st = VerifyVote(genesis_, b);
  if (st.ok() && !(a.validator == b.validator && a.height == b.height && a.round == b.round &&
                   a.type == b.type && a.block_hash != b.block_hash)) {
    st = consent::Status::Invalid("the two votes do not conflict");
  }
  if (!st.ok()) {
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++bad_peer_messages_;
    }
    if (peers_) peers_->Disconnect(peer, "invalid evidence: " + st.message(), true);
    return;
  }
  RecordEvidence(e);
}

void Node::RecordEvidence(const Evidence& e) {
  std::lock_guard<std::mutex> lock(evidence_mu_);
  for (const Evidence& have : evidence_) {
    if (have.a.validator == e.a.validator && have.a.height == e.a.height &&
        have.a.round == e.a.round && have.a.type == e.a.type) {
      return;
    }
  }
  spdlog::warn(
      "EQUIVOCATION: validator {} signed two different {}s at height {} round {}: {} and {}",
      ToHex(e.a.validator), e.a.type == VoteType::kPrevote ? "prevote" : "precommit", e.a.height,
      e.a.round, ShortHex(e.a.block_hash), ShortHex(e.b.block_hash));
  evidence_.push_back(e);
  ++evidence_total_;
  while (evidence_.size() > kMaxEvidence) evidence_.pop_front();
  if (consent::Status st = AppendEvidence(evidence_path_, e); !st.ok()) {
    spdlog::warn("evidence not written to disk: {}", st.ToString());
  }
}

void Node::OnStatusMsg(PeerId peer, const p2p::StatusMsg& s) {
  peer_heights_[peer] = s.height;
  if (peers_) peers_->SetPeerHeight(peer, s.height);
  MaybeSync();
}

void Node::MaybeSync() {
  const uint64_t mine = store_->height();
  uint64_t best = 0;
  PeerId best_peer = 0;
  for (const auto& [id, h] : peer_heights_) {
    if (h > best) {
      best = h;
      best_peer = id;
    }
  }
  const auto now = Clock::now();
  catching_up_ = best > mine + 1;
  if (best <= mine) {
    behind_since_.reset();
    return;
  }
  if (!behind_since_) behind_since_ = now;
  if (best == mine + 1 && now - *behind_since_ < kBehindGrace) return;
  if (sync_ && now - sync_->at < kSyncTimeout) return;
  p2p::BlockRequest req;
  req.from_height = mine + 1;
  req.count = static_cast<uint32_t>(std::min<uint64_t>(best - mine, p2p::kMaxBlocksPerResponse));
  sync_ = SyncRequest{best_peer, req.from_height, now};
  spdlog::debug("block sync: requesting {} blocks from height {} of peer {} (at {})", req.count,
                req.from_height, best_peer, best);
  SendTo(best_peer, req);
}

void Node::OnBlockResponse(PeerId peer, p2p::BlockResponse resp) {
  if (sync_ && sync_->peer == peer) sync_.reset();
  size_t applied = 0;
  for (p2p::BlockWithCommit& bc : resp.blocks) {
    if (fatal_) return;
    const uint64_t mine = store_->height();
    const uint64_t h = bc.block.header.height;
    if (h <= mine) continue;  // already have it (consensus got there first)
    if (h != mine + 1) break;
    const Hash32 hash = bc.block.header.Hash();
    auto refuse = [&](const std::string& why) {
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ++bad_peer_messages_;
      }
      spdlog::warn("block sync: peer {} sent an invalid block {}: {}", peer, h, why);
      if (peers_) peers_->Disconnect(peer, "invalid block " + std::to_string(h) + ": " + why, true);
    };
    if (consent::Status st = VerifyCommit(genesis_, h, hash, bc.commit); !st.ok()) {
      return refuse(st.message());
    }
    BlockCheck check;
    auto v = ValidateBlock(store_->kv(), genesis_, store_->tip(), bc.block, bc.commit.round, false,
                           &check);
    if (!v.ok()) {
      if (check.reason == BlockRejectReason::kStorage) return Fatal(v.status());
      return refuse(v.status().message());
    }
    if (auto bad = mempool_->VerifyBlockSignatures(bc.block.txs, v->tx_ids)) {
      return refuse("transaction " + std::to_string(*bad) + " has an invalid signature");
    }
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++blocks_synced_;
    }
    ++applied;
    CommitDecided(std::move(v).value(), bc.commit, /*synced=*/true);
  }
  if (applied > 0) {
    spdlog::info("block sync: applied {} blocks from peer {}, now at height {}", applied, peer,
                 store_->height());
  }
  MaybeSync();
}

void Node::ServeBlocks(PeerId peer, p2p::BlockRequest req) {
  std::unique_ptr<KvRead> snap = store_->Snapshot();
  p2p::BlockResponse resp;
  size_t bytes = 0;
  const uint32_t count =
      std::min<uint32_t>(req.count, static_cast<uint32_t>(p2p::kMaxBlocksPerResponse));
  for (uint64_t h = req.from_height; h < req.from_height + count; ++h) {
    auto certified = GetCertifiedHeader(*snap, h);
    if (!certified.ok()) break;  // past the head (NotFound) or unreadable: send what we have
    auto got = snap->Get(Column::kBlocks, schema::U64Key(h));
    if (!got.ok() || !got->has_value()) break;
    const Bytes* body = &**got;
    auto txs = schema::DecodeBlockBody(*body);
    if (!txs.ok()) {
      spdlog::error("block sync: stored block {} does not decode: {}", h, txs.status().ToString());
      break;
    }
    bytes += body->size() + 1024;
    if (!resp.blocks.empty() && bytes > kMaxBlockResponseBytes) break;
    p2p::BlockWithCommit bc;
    bc.block.header = certified->header;
    bc.block.txs = std::move(txs).value();
    bc.commit = certified->commit;
    resp.blocks.push_back(std::move(bc));
  }
  SendTo(peer, resp);
}

void Node::GossipCurrentHeight(PeerId to) {
  if (!peers_ || consensus_->step() == Step::kWaiting) return;
  for (const SignedProposal& p : consensus_->ProposalsForGossip(2)) {
    p2p::ProposalMsg m;
    m.proposal = p;
    to ? SendTo(to, m) : Broadcast(m);
  }
  for (const SignedVote& v : consensus_->VotesForGossip(4 * genesis_.validators.size() + 8)) {
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

// ---------------------------------------------------------------------------------------------
// Status, listeners, metrics.

void Node::RecordCommit(const CommittedBlock& block, std::optional<double> seconds) {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++blocks_committed_;
  txs_committed_ += block.txs.size();
  if (!seconds) return;
  ++latency_count_;
  latency_sum_ += *seconds;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    if (*seconds <= kLatencyBuckets[i]) {
      ++latency_buckets_[i];
      break;
    }
  }
}

NodeStatus Node::Status() const {
  NodeStatus s;
  s.chain_id = genesis_.chain_id;
  const ChainTip tip = store_->tip();
  if (tip.head) {
    s.height = tip.head->height;
    s.head_hash = tip.head->Hash();
    s.time_ms = tip.head->time_ms;
  }
  s.log_size = tip.log_size;
  s.mempool_size = mempool_->size();
  s.mempool_capacity = mempool_->capacity();
  s.peers = peers_ ? peers_->peer_count() : 0;
  s.ready = ready_.load();
  s.catching_up = catching_up_.load();
  s.validators = genesis_.validators;
  s.node_key = key_.public_key();
  s.validator = validator_;
  s.consensus_height = cons_height_.load();
  s.consensus_round = cons_round_.load();
  s.consensus_step = StepName(cons_step_.load());
  {
    std::lock_guard<std::mutex> lock(evidence_mu_);
    s.evidence = evidence_.size();
  }
  return s;
}

std::vector<Evidence> Node::EvidenceList() const {
  std::lock_guard<std::mutex> lock(evidence_mu_);
  return {evidence_.begin(), evidence_.end()};
}

void Node::AddCommitListener(CommitListener* l) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  if (std::find(listeners_.begin(), listeners_.end(), l) == listeners_.end()) {
    listeners_.push_back(l);
  }
}

void Node::RemoveCommitListener(CommitListener* l) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), l), listeners_.end());
}

std::string Node::NodeMetrics() const {
  const ChainTip tip = store_->tip();
  const uint64_t verifications = mempool_->verifications();
  std::ostringstream m;
  auto metric = [&m](const char* name, const char* type, const char* help, auto value) {
    m << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
  };
  uint64_t evidence_total = 0;
  {
    std::lock_guard<std::mutex> lock(evidence_mu_);
    evidence_total = evidence_total_;
  }
  uint64_t dropped_events = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_events = dropped_events_;
  }
  std::lock_guard<std::mutex> lock(metrics_mu_);
  const auto now = std::chrono::steady_clock::now();
  const double dt = std::chrono::duration<double>(now - rate_at_).count();
  if (dt >= 1.0) {
    verify_rate_ = static_cast<double>(verifications - rate_verifications_) / dt;
    rate_verifications_ = verifications;
    rate_at_ = now;
  }
  metric("consent_height", "gauge", "Height of the latest committed block.",
         tip.head ? tip.head->height : 0);
  metric("consent_log_size", "gauge", "Transactions in the global log.", tip.log_size);
  metric("consent_consensus_round", "gauge", "The round consensus is in at the current height.",
         cons_round_.load());
  metric("consent_catching_up", "gauge", "1 while a peer is more than one block ahead.",
         catching_up_.load() ? 1 : 0);
  metric("consent_blocks_committed_total", "counter", "Blocks this process committed.",
         blocks_committed_);
  metric("consent_blocks_synced_total", "counter",
         "Blocks this process committed from block sync (not from its own consensus round).",
         blocks_synced_);
  metric("consent_txs_committed_total", "counter", "Transactions this process committed.",
         txs_committed_);
  metric("consent_txs_left_out_total", "counter",
         "Pending transactions block building found invalid and dropped.", txs_left_out_);
  metric("consent_evidence_total", "counter",
         "Equivocations (two different votes of one validator for one height, round and type) "
         "detected or received.",
         evidence_total);
  if (const PageCache* pc = store_->rocks().page_cache()) {
    const PageCache::Stats ps = pc->stats();
    metric("consent_page_cache_hits_total", "counter",
           "State-tree pages served from the page cache (storage.page_cache_mib).", ps.hits);
    metric("consent_page_cache_misses_total", "counter",
           "State-tree pages that had to be read from RocksDB.", ps.misses);
    metric("consent_page_cache_bytes", "gauge", "Bytes held by the page cache (estimate).",
           ps.bytes);
  }
  metric("consent_txs_relayed_total", "counter",
         "Transactions received from a peer and relayed to the other peers (still pending when "
         "p2p.relay_after_ms had passed).",
         txs_relayed_);
  metric("consent_peer_misbehaviour_total", "counter",
         "Peer messages refused at the consensus level (bad signature, invalid block).",
         bad_peer_messages_);
  metric("consent_driver_dropped_total", "counter",
         "Peer messages dropped because the consensus queue was full.", dropped_events);
  metric("consent_mempool_size", "gauge", "Pending transactions.", mempool_->size());
  metric("consent_mempool_capacity", "gauge", "Pending transactions held at most.",
         mempool_->capacity());
  metric("consent_signature_verifications_total", "counter",
         "Ed25519 signature verifications run at admission and block validation (cache misses).",
         verifications);
  metric("consent_signature_verify_cache_hits_total", "counter",
         "Signature checks answered from the verified-signature cache.",
         mempool_->verify_cache_hits());
  metric("consent_signature_verify_rate", "gauge",
         "Signature verifications per second, over the interval between scrapes (>= 1 s).",
         verify_rate_);
  m << "# HELP consent_block_commit_seconds Time from the start of a height to its commit.\n"
    << "# TYPE consent_block_commit_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    cumulative += latency_buckets_[i];
    m << "consent_block_commit_seconds_bucket{le=\"" << kLatencyBuckets[i] << "\"} " << cumulative
      << '\n';
  }
  m << "consent_block_commit_seconds_bucket{le=\"+Inf\"} " << latency_count_ << '\n'
    << "consent_block_commit_seconds_sum " << latency_sum_ << '\n'
    << "consent_block_commit_seconds_count " << latency_count_ << '\n';
  if (peers_) m << peers_->Metrics();
  return m.str();
}

}  // namespace consent
