// Node wiring (node/node.h): opening the store, the mempool and the peer links, the driver and
// ingest threads and their queues, the peer callbacks that feed them, and shutdown. The
// consensus driver is in node_consensus.cc, transaction intake and gossip in node_txs.cc, block
// sync in node_sync.cc, status and metrics in node_metrics.cc.
// Thread-safety: as stated in node/node.h for each member.
#include "node/node.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "ledger/kv_state.h"
#include "ledger/schema.h"
#include "node/evidence_log.h"
#include "node/node_internal.h"
#include "node/sign_state.h"

namespace consent {
namespace {

using node_internal::kLatencyBucketCount;
using node_internal::ShortHex;

// How often the driver ticks (status broadcast, sync checks, re-gossip when stuck).
constexpr auto kTickInterval = std::chrono::milliseconds(250);

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
  o.sign_state_path = home.SignStatePath();
  o.config = home.config;
  return o;
}

Result<std::unique_ptr<Node>> Node::Open(NodeOptions options) {
  // Where homes made before the guard moved beside node.key kept it.
  const std::string legacy_sign_state = options.data_dir + "/" + kSignStateFileName;
  if (options.sign_state_path.empty()) options.sign_state_path = legacy_sign_state;
  ChainStoreOptions so;
  so.path = options.data_dir;
  so.block_cache_bytes = options.config.block_cache_mib << 20;
  so.page_cache_bytes = options.config.page_cache_mib << 20;
  // A data directory that cannot be searched is an error from Open (it once threw from a
  // std::filesystem probe and aborted consentd).
  auto store = ChainStore::Open(so, options.genesis);
  if (!store.ok()) return StoreOpenError(store.status(), options.data_dir);
  // After the store opened: a data directory that cannot be read is the store's error to name.
  auto moved = MigrateSignState(legacy_sign_state, options.sign_state_path);
  if (!moved.ok()) return moved.status().Prefixed("the double-sign guard");
  if (!moved->empty()) spdlog::warn("{}", *moved);
  auto sign_state = LoadSignState(options.sign_state_path);
  if (!sign_state.ok()) return sign_state.status();
  if (const auto& s = *sign_state; s && s->height > (*store)->height() + 1) {
    // The store is behind what this key signed: data/ was restored from a backup or wiped. The
    // guard refuses every signature at or below what it recorded, so the node syncs those heights
    // from its peers and signs again only past them.
    spdlog::warn(
        "this validator signed at height {} (round {}) but the store is at height {}: data/ was "
        "restored or wiped; it will not sign at or below height {} round {} (it syncs those "
        "blocks from its peers; see docs/operations.md, Backups)",
        s->height, s->round, (*store)->height(), s->height, s->round);
  }
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
  mo.validators = [store_ptr] { return store_ptr->ValidatorsFor(store_ptr->height() + 1); };
  mempool_ = std::make_unique<Mempool>(
      mo, [store_ptr] { return std::make_unique<SnapshotState>(store_ptr->Snapshot()); });
  Mempool* pool = mempool_.get();
  fair_ = std::make_unique<FairVerifier>(
      FairVerifyLimits{}, mo.verify_threads,
      [pool](const IdentifiedTx& tx) { return pool->VerifyForAdmission(tx); });
  // The machine decides at each height whether this key may sign (the set of that height).
  consensus_ = std::make_unique<Consensus>(genesis_, key_.public_key(), options_.config.consensus);
  validator_ = store_->ValidatorsFor(store_->height() + 1).Contains(key_.public_key());
  if (!validator_) {
    spdlog::info("node key {} is not in the validator set in office: running as a follower",
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
  ChainStore* store = store_.get();
  // Validators in office always get a slot (the set of the next height: section 10).
  po.is_validator = [store](const PublicKey& k) {
    return store->ValidatorsFor(store->height() + 1).Contains(k);
  };
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
  const size_t n_validators = store_->ValidatorsFor(store_->height() + 1).size();
  if (n_validators > 1 || n_peers > 0) {
    const std::string why =
        n_validators > 1
            ? "the chain has " + std::to_string(n_validators) + " validators"
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
  fair_.reset();  // joins its workers, which call into the mempool
  mempool_.reset();
  store_.reset();
  spdlog::info("store closed");
}

void Node::LoadEvidenceFile() {
  ChainStore* store = store_.get();
  auto loaded = LoadEvidence(evidence_path_, genesis_,
                             [store](uint64_t h) { return store->ValidatorsFor(h); });
  if (!loaded.ok()) {
    spdlog::warn("equivocation evidence not loaded: {}", loaded.status().ToString());
    return;
  }
  for (const std::string& w : loaded->warnings) spdlog::warn("{}", w);
  std::lock_guard<std::mutex> lock(evidence_mu_);
  for (Evidence& e : loaded->items) {
    if (EvidenceRoomLocked(e)) evidence_.push_back(std::move(e));
  }
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
  if (consent::Status st = VerifyProposal(genesis_.chain_id, store_->ValidatorsFor(height), p);
      !st.ok()) {
    return ignore(st.message());
  }
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
  fair_->Close();              // queued API submissions are answered "shutting down"
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

void Node::IngestLoop() {
  pthread_setname_np(pthread_self(), "consent-ingest");  // thread names show in top -H and perf
  std::unique_lock<std::mutex> lock(ingest_mu_);
  while (true) {
    ingest_cv_.wait(lock, [this] { return ingest_stop_ || !intake_.empty(); });
    if (ingest_stop_) return;
    std::optional<IntakeQueue::Item> item = intake_.Pop();
    if (!item) continue;
    lock.unlock();
    if (item->txs) {
      IngestTxs(item->peer, std::move(*item->txs));
    } else if (item->block_request) {
      ServeBlocks(item->peer, *item->block_request);
    }
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
// Peer callbacks (peer I/O thread).

void Node::OnPeerConnected(const PeerInfo& peer) {
  spdlog::info("peer {} connected: key {} at {} ({}), height {}", peer.id,
               ToHex(peer.key).substr(0, 16), peer.address, peer.outbound ? "outbound" : "inbound",
               peer.height);
  Post(
      [this, id = peer.id, h = peer.height] {
        sync_.SetPeerHeight(id, h);
        p2p::StatusMsg s;
        const ChainTip tip = store_->tip();
        s.height = tip.head ? tip.head->height : 0;
        if (tip.head) s.head_hash = tip.head->Hash();
        SendTo(id, s);
        GossipCurrentHeight(id);
        GossipPendingTo(id);
        MaybeSync();
      },
      false);
}

void Node::OnPeerDisconnected(PeerId peer) {
  spdlog::info("peer {} disconnected", peer);
  {
    std::lock_guard<std::mutex> lock(ingest_mu_);
    intake_.RemovePeer(peer);
  }
  Post([this, peer] { sync_.RemovePeer(peer); }, false);
}

void Node::OnPeerMessage(PeerId peer, p2p::Message message) {
  auto* txs = std::get_if<p2p::TxsMsg>(&message);
  auto* req = std::get_if<p2p::BlockRequest>(&message);
  if (txs || req) {
    // The ingest thread's work, queued per peer and served in turn (node/intake_queue.h): what
    // does not fit is dropped and counted (senders re-gossip; a syncing node asks again).
    {
      std::lock_guard<std::mutex> lock(ingest_mu_);
      if (ingest_stop_) return;
      if (txs) {
        intake_.PushTxs(peer, std::move(txs->txs));
      } else {
        intake_.PushBlockRequest(peer, *req, Clock::now());
      }
    }
    ingest_cv_.notify_one();
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

}  // namespace consent
