// Node: store and mempool wiring, the block-producer loop, listeners and metrics.
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "ledger/kv_state.h"

namespace consent {
namespace {

// Upper bounds of the commit latency histogram, in seconds.
constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,    1,     2.5,  5,     10};
constexpr size_t kLatencyBucketCount = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);

std::string ShortHex(const Hash32& h) { return ToHex(h).substr(0, 16); }

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
  ChainStoreOptions so;
  so.path = options.data_dir;
  so.block_cache_bytes = options.config.block_cache_mib << 20;
  auto store = ChainStore::Open(so, options.genesis);
  if (!store.ok()) return store.status().Prefixed("opening the store at " + options.data_dir);
  std::unique_ptr<Node> node(new Node(std::move(options), std::move(store).value()));
  return node;
}

Node::Node(NodeOptions options, std::unique_ptr<ChainStore> store)
    : options_(std::move(options)),
      genesis_(options_.genesis),
      key_(SigningKey::FromSeed(options_.key.secret)),
      store_(std::move(store)),
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

  const auto& vs = genesis_.validators;
  producing_ = vs.size() == 1 && vs[0].public_key == key_.public_key();
  const bool in_set = std::any_of(
      vs.begin(), vs.end(), [&](const Validator& v) { return v.public_key == key_.public_key(); });
  if (!producing_) {
    if (in_set) {
      spdlog::warn(
          "this node is one of {} validators; multi-validator consensus is not built yet, "
          "so it produces no blocks and refuses submissions",
          vs.size());
    } else {
      spdlog::warn(
          "node key {} is not in the genesis validator set: running as a follower "
          "(serves queries, produces no blocks, refuses submissions)",
          ToHex(key_.public_key()));
    }
  }
  ready_ = true;
  if (producing_) producer_ = std::thread([this] { ProducerLoop(); });
}

Node::~Node() {
  Shutdown();
  mempool_.reset();
  store_.reset();
  spdlog::info("store closed");
}

uint64_t Node::NowMs() const { return options_.clock_ms ? options_.clock_ms() : consent::NowMs(); }

void Node::Shutdown() {
  std::lock_guard<std::mutex> once(shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  mempool_->Close();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
  const size_t dropped = mempool_->size();
  if (dropped > 0) spdlog::info("shutdown: {} pending transactions dropped", dropped);
  if (consent::Status st = store_->rocks().Flush(); !st.ok()) {
    spdlog::warn("shutdown: flushing the store failed (the WAL still holds every block): {}",
                 st.ToString());
  }
}

std::vector<SubmitOutcome> Node::Submit(std::vector<SignedTx> txs) {
  if (!producing_) {
    std::vector<SubmitOutcome> out(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) {
      out[i].tx_id = txs[i].Id();
      out[i].status = consent::Status::Unavailable(
          "this node does not produce blocks (it is not the sole validator of this chain); "
          "submit to the validator's node");
    }
    return out;
  }
  std::vector<SubmitOutcome> out = mempool_->Submit(std::move(txs));
  const bool admitted = std::any_of(
      out.begin(), out.end(), [](const SubmitOutcome& o) { return o.status.ok() && !o.duplicate; });
  if (admitted) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake_ = true;
    }
    cv_.notify_one();
  }
  return out;
}

void Node::ProducerLoop() {
  const auto interval = std::chrono::milliseconds(options_.config.block_interval_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (mempool_->size() == 0) {
      cv_.wait(lock, [this] { return stop_ || wake_; });
      wake_ = false;
      continue;
    }
    const auto next = last_block_ + interval;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lock, next, [this] { return stop_; });
      continue;
    }
    wake_ = false;
    lock.unlock();
    consent::Status st = ProduceBlock();
    lock.lock();
    if (!st.ok()) {
      spdlog::critical("block production stopped: {}", st.ToString());
      ready_ = false;
      mempool_->Close();
      lock.unlock();
      if (options_.on_fatal) options_.on_fatal(st);
      return;
    }
  }
}

consent::Status Node::ProduceBlock() {
  std::vector<SignedTx> candidates = mempool_->Candidates(options_.config.max_txs_per_block);
  if (candidates.empty()) return consent::Status::Ok();
  const auto t0 = std::chrono::steady_clock::now();
  const ChainTip tip = store_->tip();
  const uint64_t prev_time = tip.head ? tip.head->time_ms : genesis_.genesis_time_ms;
  const uint64_t time_ms = std::max(NowMs(), prev_time + 1);
  ASSIGN_OR_RETURN(BuiltBlock built, BuildBlock(store_->kv(), genesis_, tip, time_ms, /*round=*/0,
                                                candidates, options_.config.max_txs_per_block));
  std::vector<Hash32> rejected;
  for (const RejectedTx& r : built.rejected) {
    spdlog::info("block building left out tx {}: {}", ShortHex(r.tx_id), r.message);
    rejected.push_back(r.tx_id);
  }
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    txs_left_out_ += rejected.size();
  }
  if (built.validated.block.txs.empty()) {
    mempool_->OnBlockCommitted({}, rejected);
    return consent::Status::Ok();
  }
  auto block = std::make_shared<CommittedBlock>();
  block->header = built.validated.block.header;
  block->block_hash = built.validated.block_hash;
  block->first_log_index = tip.log_size;
  block->txs = built.validated.block.txs;
  Commit commit;
  commit.round = 0;
  commit.signatures.push_back(SignPrecommit(key_, genesis_.chain_id, block->header.height,
                                            commit.round, block->block_hash));
  RETURN_IF_ERROR(store_->CommitBlock(std::move(built.validated), commit)
                      .Prefixed("committing block " + std::to_string(block->header.height)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  last_block_ = std::chrono::steady_clock::now();
  mempool_->OnBlockCommitted(block->txs, rejected);
  RecordCommit(*block, seconds);
  spdlog::debug("committed block {} ({} txs, log size {}) in {:.1f} ms", block->header.height,
                block->txs.size(), block->header.log_size, seconds * 1000);
  std::shared_ptr<const CommittedBlock> shared = block;
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (CommitListener* l : listeners_) l->OnCommit(shared);
  return consent::Status::Ok();
}

void Node::RecordCommit(const CommittedBlock& block, double seconds) {
  std::lock_guard<std::mutex> lock(metrics_mu_);
  ++blocks_committed_;
  txs_committed_ += block.txs.size();
  ++latency_count_;
  latency_sum_ += seconds;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    if (seconds <= kLatencyBuckets[i]) {
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
  s.peers = 0;
  s.ready = ready_.load();
  s.catching_up = false;
  s.validators = genesis_.validators;
  return s;
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
  metric("consent_blocks_committed_total", "counter", "Blocks this process committed.",
         blocks_committed_);
  metric("consent_txs_committed_total", "counter", "Transactions this process committed.",
         txs_committed_);
  metric("consent_txs_left_out_total", "counter",
         "Pending transactions block building found invalid and dropped.", txs_left_out_);
  metric("consent_mempool_size", "gauge", "Pending transactions.", mempool_->size());
  metric("consent_mempool_capacity", "gauge", "Pending transactions held at most.",
         mempool_->capacity());
  metric("consent_signature_verifications_total", "counter",
         "Ed25519 signature verifications run at admission (cache misses).", verifications);
  metric("consent_signature_verify_cache_hits_total", "counter",
         "Admissions answered from the verified-signature cache.", mempool_->verify_cache_hits());
  metric("consent_signature_verify_rate", "gauge",
         "Signature verifications per second, over the interval between scrapes (>= 1 s).",
         verify_rate_);
  m << "# HELP consent_block_commit_seconds Time to build, sign and durably commit one block.\n"
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
  return m.str();
}

}  // namespace consent
