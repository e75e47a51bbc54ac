// ChainStore: open-time consistency checks, atomic commits, whole-store verification.
#include "ledger/store/chain_store.h"

#include "ledger/validator_history.h"

#include <pthread.h>

#include <filesystem>

#include "crypto/hex.h"
#include "ledger/log_tree.h"
#include "ledger/queries.h"
#include "ledger/schema.h"
#include "ledger/state_tree.h"

namespace consent {
namespace {

Status Disagree(const std::string& what) {
  return Status::Corruption("the store disagrees with itself: " + what +
                            "; refusing to serve from it (restore from a backup or resync)");
}

}  // namespace

Result<std::unique_ptr<ChainStore>> ChainStore::Open(const ChainStoreOptions& o,
                                                     const Genesis& genesis) {
  // The error_code overload: a directory that cannot be read is an error to report, not an
  // exception that would abort the process.
  std::error_code ec;
  const auto current = std::filesystem::path(o.path) / "CURRENT";
  bool exists = std::filesystem::exists(current, ec);
  if (ec) {
    return Status::IoError("cannot open the store at " + o.path + ": cannot read " +
                           current.string() + ": " + ec.message());
  }
  if (o.read_only && !exists) return Status::NotFound("no store at " + o.path);
  RocksOptions ro;
  ro.path = o.path;
  ro.block_cache_bytes = o.block_cache_bytes;
  ro.page_cache_bytes = o.page_cache_bytes;
  ro.write_buffer_bytes = o.write_buffer_bytes;
  ro.read_only = o.read_only;
  ro.create_if_missing = !o.read_only;
  ASSIGN_OR_RETURN(std::unique_ptr<RocksKv> kv, RocksKv::Open(ro));
  std::unique_ptr<ChainStore> store(new ChainStore(genesis, std::move(kv)));
  RETURN_IF_ERROR(store->CheckOnOpen(!exists));
  return store;
}

Status ChainStore::CheckOnOpen(bool create) {
  const Hash32 genesis_hash = schema::GenesisHash(genesis_);
  ASSIGN_OR_RETURN(std::optional<Bytes> format,
                   kv_->Get(Column::kMeta, AsBytes(schema::kMetaFormat)));
  if (!format) {
    // A new store (or one created but never initialised): claim it for this genesis.
    ASSIGN_OR_RETURN(std::optional<uint64_t> head, HeadHeight(*kv_));
    if (head) return Disagree("it has blocks but no format record");
    KvBatch init;
    Bytes f = Bytes{0, 0, 0, static_cast<uint8_t>(schema::kStoreFormat)};
    init.Put(Column::kMeta, AsBytes(schema::kMetaFormat), f);
    init.Put(Column::kMeta, AsBytes(schema::kMetaGenesis), genesis_hash);
    RETURN_IF_ERROR(kv_->Write(init, /*sync=*/true));
    (void)create;
    return Status::Ok();
  }
  if (*format != Bytes{0, 0, 0, static_cast<uint8_t>(schema::kStoreFormat)}) {
    std::string why = "the store's format is " + ToHex(*format) + ", this build reads " +
                      std::to_string(schema::kStoreFormat);
    if (format->size() == 4 && (*format)[3] < 5) {
      // Formats 1..4 hold version 1 headers (a fixed validator set): their blocks cannot be
      // carried into a chain of version 2 headers without re-signing every commit.
      why +=
          " (formats up to 4 hold version 1 headers of a fixed validator set, which this "
          "release neither produces nor accepts: keep that store for the old release, and start "
          "this one on a new data directory and genesis; docs/operations.md, \"Upgrading to "
          "validator set changes\")";
    }
    return Status::Corruption(why);
  }
  ASSIGN_OR_RETURN(std::optional<Bytes> gh, kv_->Get(Column::kMeta, AsBytes(schema::kMetaGenesis)));
  if (!gh || *gh != Bytes(genesis_hash.begin(), genesis_hash.end())) {
    return Status::Invalid("the store belongs to another chain: its genesis hash is " +
                           (gh ? ToHex(*gh) : std::string("missing")) + ", this genesis is " +
                           ToHex(genesis_hash));
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> head, HeadHeight(*kv_));
  if (!head) {
    // Nothing committed: the trees must be empty too.
    LogTree log(*kv_, 0);
    ASSIGN_OR_RETURN(std::optional<Bytes> tile0, kv_->Get(Column::kLogNodes, LogTileKey(0, 0)));
    if (tile0) return Disagree("the log has leaves but no block is committed");
    ASSIGN_OR_RETURN(Hash32 sroot, StateTree(*kv_).Root());
    if (sroot != Hash32{}) return Disagree("the state tree is not empty before block 1");
    std::lock_guard<std::mutex> l(mu_);
    tip_ = ChainTip{};
    return Status::Ok();
  }
  auto certified = GetCertifiedHeader(*kv_, *head);
  if (!certified.ok()) {
    return Disagree("the head (height " + std::to_string(*head) +
                    ") cannot be read: " + certified.status().message());
  }
  const Header& h = certified->header;
  if (h.chain_id != genesis_.chain_id) return Disagree("the head's chain id is " + h.chain_id);
  auto changes = ReadSetChanges(*kv_);
  if (!changes.ok()) {
    return Disagree("the validator sets cannot be read: " + changes.status().message());
  }
  if (!changes->empty() && changes->back().from_height > h.height + 1) {
    return Disagree("a validator set change is recorded beyond the head");
  }
  auto validators = SetForHeight(*kv_, genesis_, h.height);
  if (!validators.ok()) {
    return Disagree("the validator sets cannot be read: " + validators.status().message());
  }
  if (h.next_validators_hash != SetForHeight(*kv_, genesis_, h.height + 1)->Hash()) {
    return Disagree("the head's next_validators_hash is not the recorded set of the next height");
  }
  Status cs = VerifyCommit(genesis_.chain_id, *validators, h.height, certified->block_hash,
                           certified->commit);
  if (!cs.ok()) return Disagree("the head's commit does not verify: " + cs.message());
  LogTree log(*kv_, h.log_size);
  auto lroot = log.Root();
  if (!lroot.ok()) return Disagree("the log tree cannot be read: " + lroot.status().message());
  if (*lroot != h.log_root) {
    return Disagree("the log root at size " + std::to_string(h.log_size) + " is " + ToHex(*lroot) +
                    " but the head header says " + ToHex(h.log_root));
  }
  auto beyond = LogHasLeaf(*kv_, h.log_size);
  if (!beyond.ok()) return Disagree("the log tree cannot be read: " + beyond.status().message());
  if (*beyond) return Disagree("the log has a leaf beyond the head's log size");
  auto sroot = StateTree(*kv_).Root();
  if (!sroot.ok()) return Disagree("the state tree cannot be read: " + sroot.status().message());
  if (*sroot != h.state_root) {
    return Disagree("the state root is " + ToHex(*sroot) + " but the head header says " +
                    ToHex(h.state_root));
  }
  std::lock_guard<std::mutex> l(mu_);
  tip_.head = h;
  tip_.log_size = h.log_size;
  changes_ = std::move(*changes);
  return Status::Ok();
}

ChainTip ChainStore::tip() const {
  std::lock_guard<std::mutex> l(mu_);
  return tip_;
}

ValidatorSet ChainStore::ValidatorsFor(uint64_t height) const {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
    if (it->from_height <= height) return it->set;
  }
  return genesis_.Set();
}

std::vector<SetChange> ChainStore::SetChanges() const {
  std::lock_guard<std::mutex> l(mu_);
  return changes_;
}

void ChainStore::NoteDurable(const Header& header, const std::optional<ValidatorSet>& next) {
  tip_.head = header;
  tip_.log_size = header.log_size;
  if (next) changes_.push_back(SetChange{header.height + 1, *next});
}

uint64_t ChainStore::height() const {
  std::lock_guard<std::mutex> l(mu_);
  return tip_.head ? tip_.head->height : 0;
}

ChainStore::~ChainStore() {
  (void)FinishCommit();
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> l(wmu_);
      stop_ = true;
    }
    wcv_.notify_all();
    writer_.join();
  }
}

ChainTip ChainStore::build_tip() const {
  if (in_flight_) {
    ChainTip t;
    t.head = in_flight_->header;
    t.log_size = in_flight_->header.log_size;
    return t;
  }
  return tip();
}

const KvRead& ChainStore::build_view() const {
  if (in_flight_) return *in_flight_->view;
  return *kv_;
}

Status ChainStore::CheckNextHeight(const Header& header) const {
  const ChainTip t = build_tip();
  uint64_t next = t.head ? t.head->height + 1 : 1;
  if (header.height != next) {
    return Status::Invalid("block height " + std::to_string(header.height) +
                           " does not follow the head (" + std::to_string(next - 1) + ")");
  }
  return Status::Ok();
}

Status ChainStore::CommitBlock(ValidatedBlock block, const Commit& commit) {
  RETURN_IF_ERROR(CheckNextHeight(block.block.header));
  RETURN_IF_ERROR(FinishCommit());
  Header header = block.block.header;
  std::optional<ValidatorSet> next = block.next_validators;
  ASSIGN_OR_RETURN(KvBatch batch, FinalizeBlock(genesis_, std::move(block), commit));
  RETURN_IF_ERROR(kv_->Write(batch, /*sync=*/true));
  std::lock_guard<std::mutex> l(mu_);
  NoteDurable(header, next);
  return Status::Ok();
}

Status ChainStore::BeginCommit(ValidatedBlock block, const Commit& commit,
                               std::function<void(const Status&)> on_done) {
  RETURN_IF_ERROR(CheckNextHeight(block.block.header));
  auto next = std::make_unique<InFlight>();
  next->header = block.block.header;
  next->next_validators = block.next_validators;
  next->on_done = std::move(on_done);
  // Pure work first, while the previous block may still be writing.
  ASSIGN_OR_RETURN(next->batch, FinalizeBlock(genesis_, std::move(block), commit));
  Status previous = FinishCommit();
  if (!previous.ok()) {
    return previous.Prefixed("block " + std::to_string(next->header.height) +
                             " not written: the write of the block before it failed");
  }
  next->view = std::make_unique<OverlayKv>(*kv_, next->batch);
  if (!writer_.joinable()) writer_ = std::thread([this] { WriterLoop(); });
  in_flight_ = std::move(next);
  {
    std::lock_guard<std::mutex> l(wmu_);
    job_ = in_flight_.get();
  }
  wcv_.notify_all();
  return Status::Ok();
}

Status ChainStore::FinishCommit() {
  if (!in_flight_) return Status::Ok();
  Status result;
  {
    std::unique_lock<std::mutex> l(wmu_);
    wcv_.wait(l, [this] { return in_flight_->done; });
    result = in_flight_->result;
  }
  in_flight_.reset();
  return result;
}

void ChainStore::WriterLoop() {
  pthread_setname_np(pthread_self(), "consent-writer");  // for top -H, perf and gdb
  for (;;) {
    InFlight* job = nullptr;
    {
      std::unique_lock<std::mutex> l(wmu_);
      wcv_.wait(l, [this] { return stop_ || job_ != nullptr; });
      if (job_ == nullptr) return;  // stopping, nothing handed over
      job = job_;
      job_ = nullptr;
    }
    // Encoding the RocksDB batch happens here too, off the producer's thread: at 1M entries the
    // producer (building) is the slower of the two.
    Status st = kv_->Write(job->batch, /*sync=*/true);
    if (st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      NoteDurable(job->header, job->next_validators);
    }
    if (job->on_done) job->on_done(st);
    {
      std::lock_guard<std::mutex> l(wmu_);
      job->done = true;
      job->result = st;
    }
    wcv_.notify_all();
  }
}

namespace {

// Compares every record of one column in both stores, in key order.
Status CompareColumn(const KvRead& a, const KvRead& b, Column c) {
  std::vector<std::pair<Bytes, Bytes>> rb;
  RETURN_IF_ERROR(b.Scan(c, Bytes{}, Bytes{}, [&](ByteView k, ByteView v) {
    rb.emplace_back(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  }));
  size_t i = 0;
  Status diff;
  RETURN_IF_ERROR(a.Scan(c, Bytes{}, Bytes{}, [&](ByteView k, ByteView v) {
    if (i >= rb.size() || !std::equal(k.begin(), k.end(), rb[i].first.begin(), rb[i].first.end())) {
      diff = Status::Corruption(std::string("column ") + ColumnName(c) + " has a record " +
                                ToHex(k) + " that re-execution does not produce");
      return false;
    }
    if (!std::equal(v.begin(), v.end(), rb[i].second.begin(), rb[i].second.end())) {
      diff = Status::Corruption(std::string("column ") + ColumnName(c) + " record " + ToHex(k) +
                                " differs from re-execution");
      return false;
    }
    ++i;
    return true;
  }));
  RETURN_IF_ERROR(diff);
  if (i != rb.size()) {
    return Status::Corruption(std::string("column ") + ColumnName(c) + " lacks record " +
                              ToHex(rb[i].first) + " that re-execution produces");
  }
  return Status::Ok();
}

}  // namespace

Status VerifyChainStore(const KvRead& kv, const Genesis& genesis, const std::string& scratch_path,
                        const std::function<void(const VerifyProgress&)>& progress) {
  std::error_code exists_ec;
  if (std::filesystem::exists(scratch_path, exists_ec) || exists_ec) {
    return Status::AlreadyExists(
        "scratch path " + scratch_path +
        (exists_ec ? " cannot be checked: " + exists_ec.message() : " already exists"));
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> head, HeadHeight(kv));
  ChainStoreOptions so;
  so.path = scratch_path;
  so.block_cache_bytes = 16 << 20;
  Status result;
  {
    auto scratch = ChainStore::Open(so, genesis);
    if (!scratch.ok()) return scratch.status().Prefixed("cannot create the scratch store");
    VerifyProgress pr;
    pr.head = head.value_or(0);
    for (uint64_t h = 1; result.ok() && h <= pr.head; ++h) {
      auto certified = GetCertifiedHeader(kv, h);
      if (!certified.ok()) {
        result = certified.status().Prefixed("height " + std::to_string(h));
        break;
      }
      auto body = kv.Get(Column::kBlocks, schema::U64Key(h));
      if (!body.ok()) {  // present but unreadable (a checksum mismatch, an I/O error)
        result = body.status().Prefixed("height " + std::to_string(h) + ": block body");
        break;
      }
      if (!*body) {
        result = Status::Corruption("height " + std::to_string(h) + ": block body missing");
        break;
      }
      auto txs = schema::DecodeBlockBody(**body);
      if (!txs.ok()) {
        result = txs.status().Prefixed("height " + std::to_string(h));
        break;
      }
      Block block{certified->header, std::move(txs).value()};
      BlockCheck check;
      // Pipelined: block h is validated on the scratch chain with block h-1 still being written
      // (ChainStore::BeginCommit), so the scratch store's writes overlap the signature checks.
      auto validated =
          ValidateBlock((*scratch)->build_view(), genesis, (*scratch)->build_tip(), block,
                        certified->commit.round, /*verify_signatures=*/true, &check);
      if (!validated.ok()) {
        result = validated.status().Prefixed("height " + std::to_string(h));
        break;
      }
      pr.txs += block.txs.size();
      result = (*scratch)->BeginCommit(std::move(validated).value(), certified->commit);
      if (!result.ok()) {
        result = result.Prefixed("height " + std::to_string(h));
        break;
      }
      pr.height = h;
      if (progress) progress(pr);
    }
    if (Status written = (*scratch)->FinishCommit(); result.ok() && !written.ok()) {
      result = written.Prefixed("height " + std::to_string(pr.height));
    }
    for (size_t c = 0; result.ok() && c < kColumnCount; ++c) {
      result = CompareColumn(kv, (*scratch)->kv(), static_cast<Column>(c));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch_path, ec);
  return result;
}

}  // namespace consent
