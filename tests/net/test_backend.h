// A real single-validator mini-node implementing ApiBackend for the net/ tests (no mocks): a
// ChainStore (RocksDB) in a fresh temporary directory, one validator key, and a Submit that
// checks what the node's mempool checks (replay of a committed tx, the signature for this chain,
// the state rules by building a block with BuildBlock against the store) and then commits that
// block at once with the validator's own precommit as its commit, notifying the listeners after
// the store has it. So each Submit that accepts anything commits exactly one block.
// Test knobs: hold commits (accepted txs stay pending until CommitPending), a full mempool, and
// readiness. Several validators: give their seeds (the first is this node's key); every block is
// then committed by the precommits of every validator of the set that commits its height whose
// seed the backend holds (AddSigner adds the seed of a key that joins later), so validator set
// changes (SET_VALIDATORS) go through the real pipeline. Thread-safety: every method is
// thread-safe (Submit and CommitPending serialised).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "ledger/store/chain_store.h"
#include "net/api_backend.h"

namespace consent::testing {

inline uint64_t WallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

class TestBackend : public ApiBackend {
 public:
  explicit TestBackend(std::string chain_id = "net-test", std::vector<Seed32> validators = {})
      : key_(SigningKey::FromSeed(validators.empty() ? Seed32{7} : validators.front())) {
    genesis_.chain_id = std::move(chain_id);
    genesis_.genesis_time_ms = 1;
    if (validators.empty()) validators.push_back(Seed32{7});
    for (size_t i = 0; i < validators.size(); ++i) {
      SigningKey k = SigningKey::FromSeed(validators[i]);
      genesis_.validators.push_back(Validator{"v" + std::to_string(i), k.public_key()});
      signers_[k.public_key()] = validators[i];
    }
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("consent_net_test_" + std::to_string(rd()) + std::to_string(rd()));
    auto store = ChainStore::Open(ChainStoreOptions{dir_.string()}, genesis_);
    if (!store.ok()) std::abort();
    store_ = std::move(store).value();
  }
  ~TestBackend() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const Genesis& genesis() const override { return genesis_; }
  std::unique_ptr<KvRead> Snapshot() const override { return store_->Snapshot(); }

  using ApiBackend::Submit;
  std::vector<SubmitOutcome> Submit(std::vector<IdentifiedTx> items) override {
    std::vector<SignedTx> txs;
    std::vector<Hash32> ids;
    for (IdentifiedTx& item : items) {
      ids.push_back(item.id());
      txs.push_back(std::move(item).Take());
    }
    std::lock_guard<std::mutex> lock(submit_mu_);
    std::vector<SubmitOutcome> out(txs.size());
    std::vector<SignedTx> candidates;
    std::map<Hash32, size_t> candidate_at;  // tx id -> index in `out` of its first occurrence
    for (size_t i = 0; i < txs.size(); ++i) {
      SubmitOutcome& o = out[i];
      o.tx_id = txs[i].Id();
      // The route hands in the ids it computed: they must be the txs' own.
      if (ids.size() == txs.size()) {
        EXPECT_EQ(ids[i], o.tx_id) << "tx " << i;
      }
      if (candidate_at.count(o.tx_id) || pending_ids_.count(o.tx_id)) {
        o.duplicate = true;
        continue;
      }
      auto committed = store_->kv().Get(Column::kTxIndex, o.tx_id);
      if (!committed.ok()) {
        o.status = committed.status();
        continue;
      }
      if (*committed) {
        o.status = ::consent::Status::AlreadyExists("transaction " + ToHex(o.tx_id) +
                                                    " is already committed");
        continue;
      }
      ::consent::Status sig = VerifyTxSignature(genesis_.chain_id, txs[i]);
      if (!sig.ok()) {
        o.status = sig;
        continue;
      }
      if (mempool_full_.load()) {
        o.status = ::consent::Status::Unavailable("mempool full: retry later");
        continue;
      }
      candidate_at[o.tx_id] = i;
      candidates.push_back(txs[i]);
    }
    if (candidates.empty()) return out;
    // The state rules against committed state plus what is pending.
    std::vector<SignedTx> all = pending_;
    all.insert(all.end(), candidates.begin(), candidates.end());
    auto built =
        BuildBlock(store_->kv(), genesis_, store_->tip(), NextTime(), 0, all, kMaxBlockTxs);
    if (!built.ok()) {
      for (auto& [id, i] : candidate_at) out[i].status = built.status();
      return out;
    }
    for (const RejectedTx& r : built->rejected) {
      auto it = candidate_at.find(r.tx_id);
      if (it == candidate_at.end()) continue;
      out[it->second].status = ::consent::Status::Rejected(r.message);
      out[it->second].rule = TxRejectReasonName(r.reason);
      candidate_at.erase(it);
    }
    if (hold_commits_.load()) {
      for (const auto& tx : candidates) {
        if (candidate_at.count(tx.Id())) {
          pending_.push_back(tx);
          pending_ids_.insert(tx.Id());
        }
      }
      return out;
    }
    pending_.clear();
    pending_ids_.clear();
    ::consent::Status st = CommitBuilt(std::move(built).value());
    if (!st.ok()) {
      for (auto& [id, i] : candidate_at) out[i].status = st;
    }
    return out;
  }

  // Commits every held tx in one block (REQUIRES: some are held).
  ::consent::Status CommitPending() {
    std::lock_guard<std::mutex> lock(submit_mu_);
    auto built =
        BuildBlock(store_->kv(), genesis_, store_->tip(), NextTime(), 0, pending_, kMaxBlockTxs);
    if (!built.ok()) return built.status();
    pending_.clear();
    pending_ids_.clear();
    return CommitBuilt(std::move(built).value());
  }

  NodeStatus Status() const override {
    NodeStatus s;
    s.chain_id = genesis_.chain_id;
    ChainTip tip = store_->tip();
    if (tip.head) {
      s.height = tip.head->height;
      s.head_hash = tip.head->Hash();
      s.time_ms = tip.head->time_ms;
    }
    s.log_size = tip.log_size;
    {
      std::lock_guard<std::mutex> lock(submit_mu_);
      s.mempool_size = pending_.size();
    }
    s.mempool_capacity = 1000;
    s.ready = ready_.load();
    // The set in office, named as in genesis (as the node does).
    const ValidatorSet in_office = store_->ValidatorsFor(s.height + 1);
    for (const PublicKey& k : in_office.keys) {
      Validator v{"", k};
      for (const Validator& g : genesis_.validators) {
        if (g.public_key == k) v.name = g.name;
      }
      s.validators.push_back(std::move(v));
    }
    s.validator = in_office.Contains(key_.public_key());
    return s;
  }

  void AddCommitListener(CommitListener* l) override {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    listeners_.insert(l);
  }
  void RemoveCommitListener(CommitListener* l) override {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    listeners_.erase(l);
  }
  size_t listener_count() const {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    return listeners_.size();
  }

  std::string NodeMetrics() const override {
    return "# HELP consent_node_height Height of the committed head.\n"
           "# TYPE consent_node_height gauge\nconsent_node_height " +
           std::to_string(store_->height()) + "\n";
  }

  std::vector<Evidence> EvidenceList() const override {
    std::lock_guard<std::mutex> lock(evidence_mu_);
    return evidence_;
  }
  // Makes the validator equivocate at (height, round): two prevotes for different blocks.
  Evidence AddEquivocation(uint64_t height, uint32_t round) {
    Hash32 a{}, b{};
    a.fill(0xa1);
    b.fill(0xb2);
    Evidence e =
        VoteEquivocation(SignVote(key_, genesis_.chain_id, VoteType::kPrevote, height, round, a),
                         SignVote(key_, genesis_.chain_id, VoteType::kPrevote, height, round, b));
    std::lock_guard<std::mutex> lock(evidence_mu_);
    evidence_.push_back(e);
    return e;
  }

  // The seed of a key that may join the set later: it then signs the commits of its heights.
  void AddSigner(const Seed32& seed) {
    std::lock_guard<std::mutex> lock(submit_mu_);
    signers_[SigningKey::FromSeed(seed).public_key()] = seed;
  }
  void set_ready(bool v) { ready_.store(v); }
  void set_mempool_full(bool v) { mempool_full_.store(v); }
  void set_hold_commits(bool v) { hold_commits_.store(v); }
  uint64_t height() const { return store_->height(); }
  uint64_t log_size() const { return store_->tip().log_size; }

 private:
  mutable std::mutex evidence_mu_;
  std::vector<Evidence> evidence_;  // guarded by evidence_mu_

  // REQUIRES: submit_mu_ held.
  uint64_t NextTime() {
    ChainTip tip = store_->tip();
    uint64_t last = tip.head ? tip.head->time_ms : genesis_.genesis_time_ms;
    return std::max(WallMs(), last + 1);
  }

  // REQUIRES: submit_mu_ held.
  ::consent::Status CommitBuilt(BuiltBlock built) {
    ValidatedBlock& v = built.validated;
    if (v.block.txs.empty()) return ::consent::Status::Ok();
    auto block = std::make_shared<CommittedBlock>();
    block->header = v.block.header;
    block->block_hash = v.block_hash;
    block->first_log_index = store_->tip().log_size;
    block->txs = v.block.txs;
    Commit commit;
    commit.round = 0;
    // Every member of the set that commits this height whose seed is held, in set order.
    for (const PublicKey& member : v.validators.keys) {
      auto it = signers_.find(member);
      if (it == signers_.end()) continue;
      commit.signatures.push_back(SignPrecommit(SigningKey::FromSeed(it->second), genesis_.chain_id,
                                                v.block.header.height, 0, v.block_hash));
    }
    RETURN_IF_ERROR(store_->CommitBlock(std::move(v), commit));
    std::shared_ptr<const CommittedBlock> shared = block;
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (CommitListener* l : listeners_) l->OnCommit(shared);
    return ::consent::Status::Ok();
  }

  Genesis genesis_;
  SigningKey key_;
  std::filesystem::path dir_;
  std::unique_ptr<ChainStore> store_;
  mutable std::mutex submit_mu_;
  std::map<PublicKey, Seed32> signers_;  // guarded by submit_mu_ (set in the constructor)
  std::vector<SignedTx> pending_;        // guarded by submit_mu_ (held commits)
  std::set<Hash32> pending_ids_;         // guarded by submit_mu_
  mutable std::mutex listeners_mu_;
  std::set<CommitListener*> listeners_;  // guarded by listeners_mu_
  std::atomic<bool> ready_{true};
  std::atomic<bool> mempool_full_{false};
  std::atomic<bool> hold_commits_{false};
};

}  // namespace consent::testing
