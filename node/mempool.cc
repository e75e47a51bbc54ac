// Mempool: admission (parallel signature checks through a cache, then the state rules under the
// lock against committed state layered with the pending changes), candidates for block building,
// and the targeted re-check after each block.
#include "node/mempool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <variant>

#include "crypto/hex.h"
#include "node/home.h"

namespace consent {
namespace {

std::string ShortId(const Hash32& id) { return ToHex(id).substr(0, 16); }

// The (subject, controller) pair a GRANT or REVOKE touches, or the controller a registration
// touches.
struct Touches {
  std::optional<std::pair<PublicKey, PublicKey>> pair;
  std::optional<PublicKey> controller;
  bool approval = false;  // SET_VALIDATORS: re-checked after every block (the set may change)
};
Touches TouchesOf(const SignedTx& tx) {
  Touches t;
  if (const auto* g = std::get_if<GrantTx>(&tx.body)) {
    t.pair = {g->subject, g->controller};
  } else if (const auto* r = std::get_if<RevokeTx>(&tx.body)) {
    t.pair = {r->subject, r->controller};
  } else if (std::holds_alternative<SetValidatorsTx>(tx.body)) {
    t.approval = true;
  } else {
    t.controller = std::get<RegisterControllerTx>(tx.body).controller;
  }
  return t;
}

}  // namespace

// Committed state with the pending layer on top: what the next transaction in the pool sees.
class Mempool::LayeredView : public StateView {
 public:
  LayeredView(const StateView& base, const Layer& layer) : base_(base), layer_(layer) {}
  std::optional<StateValue> GetConsent(const PublicKey& subject, const PublicKey& controller,
                                       std::string_view purpose) const override {
    auto pair = layer_.consents.find({subject, controller});
    if (pair != layer_.consents.end()) {
      auto it = pair->second.find(purpose);
      if (it != pair->second.end()) return it->second;
    }
    return base_.GetConsent(subject, controller, purpose);
  }
  std::vector<std::string> PurposesOf(const PublicKey& subject,
                                      const PublicKey& controller) const override {
    std::vector<std::string> out = base_.PurposesOf(subject, controller);
    auto it = layer_.consents.find({subject, controller});
    if (it == layer_.consents.end()) return out;
    std::set<std::string> merged(out.begin(), out.end());
    for (const auto& [purpose, value] : it->second) merged.insert(purpose);
    return std::vector<std::string>(merged.begin(), merged.end());
  }
  bool TxCommitted(const Hash32& tx_id) const override { return base_.TxCommitted(tx_id); }
  std::optional<ControllerEntry> GetController(const PublicKey& controller) const override {
    auto it = layer_.controllers.find(controller);
    if (it != layer_.controllers.end()) return it->second;
    return base_.GetController(controller);
  }
  std::optional<ApprovalValue> GetApproval(const PublicKey& validator) const override {
    auto it = layer_.approvals.find(validator);
    if (it != layer_.approvals.end()) return it->second;
    return base_.GetApproval(validator);
  }

 private:
  const StateView& base_;
  const Layer& layer_;
};

void Mempool::Layer::Apply(const StateChanges& changes) {
  for (const ConsentWrite& w : changes.consents) {
    consents[{w.subject, w.controller}][w.purpose] = w.value;
  }
  if (changes.controller) controllers[changes.controller->first] = changes.controller->second;
  if (changes.approval) approvals[changes.approval->validator] = changes.approval->value;
}

void Mempool::Layer::Clear() {
  consents.clear();
  controllers.clear();
  approvals.clear();
}

ValidatorSet Mempool::InOffice() const {
  return options_.validators ? options_.validators() : ValidatorSet{};
}

Mempool::Mempool(MempoolOptions options, CommittedStateSource committed)
    : options_(std::move(options)),
      committed_(std::move(committed)),
      pool_(std::max<size_t>(1, options_.verify_threads)),
      cache_(options_.verify_cache_entries != 0 ? options_.verify_cache_entries
                                                : 2 * options_.capacity + 1024) {}

Mempool::~Mempool() = default;

uint64_t Mempool::Now() const { return options_.clock_ms ? options_.clock_ms() : NowMs(); }

void Mempool::VerifySignatures(const std::vector<const SignedTx*>& txs,
                               const std::vector<Hash32>& ids, const std::vector<size_t>& todo,
                               std::vector<char>* ok) {
  pool_.ParallelFor(todo.size(), [&](size_t k) {
    const size_t i = todo[k];
    bool ran = false;
    (*ok)[i] = cache_.GetOrVerify(
        ids[i], [&] { return VerifyTxSignature(options_.chain_id, *txs[i]).ok(); }, &ran);
    (ran ? verifications_ : cache_hits_).fetch_add(1, std::memory_order_relaxed);
  });
}

std::optional<size_t> Mempool::VerifyBlockSignatures(const std::vector<SignedTx>& txs,
                                                     const std::vector<Hash32>& given_ids) {
  std::vector<Hash32> computed;
  if (given_ids.size() != txs.size()) {
    computed.resize(txs.size());
    for (size_t i = 0; i < txs.size(); ++i) computed[i] = txs[i].Id();
  }
  const std::vector<Hash32>& ids = computed.empty() ? given_ids : computed;
  std::vector<size_t> todo(txs.size());
  std::vector<const SignedTx*> txp(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    todo[i] = i;
    txp[i] = &txs[i];
  }
  std::vector<char> ok(txs.size(), 0);
  VerifySignatures(txp, ids, todo, &ok);
  for (size_t i = 0; i < txs.size(); ++i) {
    if (!ok[i]) return i;
  }
  return std::nullopt;
}

bool Mempool::VerifyForAdmission(const IdentifiedTx& item) {
  const SignedTx& tx = item.tx();
  if (!CheckSyntax(tx.body).ok()) return false;
  bool ran = false;
  const bool ok = cache_.GetOrVerify(
      item.id(), [&] { return VerifyTxSignature(options_.chain_id, tx).ok(); }, &ran);
  (ran ? verifications_ : cache_hits_).fetch_add(1, std::memory_order_relaxed);
  return ok;
}

std::vector<SubmitOutcome> Mempool::Submit(std::vector<IdentifiedTx> items,
                                           const std::vector<char>* verdicts) {
  const size_t n = items.size();
  std::vector<SubmitOutcome> out(n);
  // Views for the loops below (and VerifySignatures); items[i] is moved only when admitted.
  std::vector<const SignedTx*> txp(n);
  std::vector<Hash32> ids(n);
  for (size_t i = 0; i < n; ++i) {
    txp[i] = &items[i].tx();
    ids[i] = items[i].id();
  }
  std::vector<char> decided(n, 0);
  std::vector<size_t> first_copy(n);  // index of the first copy of the same tx in `txs`
  std::unordered_map<Hash32, size_t, Hash32Hasher> seen;
  for (size_t i = 0; i < n; ++i) {
    out[i].tx_id = ids[i];
    first_copy[i] = seen.emplace(ids[i], i).first->second;
  }
  auto unavailable = [](SubmitOutcome& o, const std::string& why) {
    o.status = Status::Unavailable(why);
  };
  const std::string closing = "the node is shutting down; retry against a running node";

  // Cheap answers first, so that a closed or full pool never spends CPU on signatures.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < n; ++i) {
      if (first_copy[i] != i) continue;
      if (closed_) {
        unavailable(out[i], closing);
      } else if (index_.count(ids[i]) != 0) {
        out[i].duplicate = true;
      } else if (entries_.size() >= options_.capacity) {
        unavailable(out[i], "mempool full (" + std::to_string(options_.capacity) +
                                " pending transactions): retry later");
      } else {
        continue;
      }
      decided[i] = 1;
    }
  }
  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i) {
    if (decided[i] || first_copy[i] != i) continue;
    Status syntax = CheckSyntax(txp[i]->body);
    if (!syntax.ok()) {
      out[i].status = syntax;
      decided[i] = 1;
      continue;
    }
    todo.push_back(i);
  }
  std::vector<char> sig_ok(n, 0);
  if (verdicts != nullptr && verdicts->size() == n) {
    for (size_t i : todo) sig_ok[i] = (*verdicts)[i];
  } else {
    VerifySignatures(txp, ids, todo, &sig_ok);
  }
  for (size_t i : todo) {
    if (!sig_ok[i]) {
      out[i].status = Status::BadSignature(
          "signature does not verify for this transaction's "
          "signer on chain " +
          options_.chain_id);
      decided[i] = 1;
    }
  }

  // State rules, in order, against committed state plus everything pending.
  bool any = false;
  for (size_t i : todo) any = any || !decided[i];
  if (any) {
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<CommittedState> committed = committed_();
    const uint64_t now = Now();
    for (size_t i : todo) {
      if (decided[i]) continue;
      decided[i] = 1;
      if (closed_) {
        unavailable(out[i], closing);
        continue;
      }
      if (index_.count(ids[i]) != 0) {
        out[i].duplicate = true;
        continue;
      }
      if (entries_.size() >= options_.capacity) {
        unavailable(out[i], "mempool full (" + std::to_string(options_.capacity) +
                                " pending transactions): retry later");
        continue;
      }
      LayeredView view(committed->view(), layer_);
      const bool approval = std::holds_alternative<SetValidatorsTx>(txp[i]->body);
      const ValidatorSet in_office = approval ? InOffice() : ValidatorSet{};
      TxCheck check = CheckStateRules(
          view, BlockContext{now, approval ? &in_office : nullptr, false}, *txp[i], ids[i]);
      StateChanges changes;
      if (check.ok()) changes = ComputeChanges(view, *txp[i], ids[i]);
      if (Status st = committed->error(); !st.ok()) {
        spdlog::error("mempool: reading committed state failed: {}", st.ToString());
        out[i].status = Status::Internal("reading committed state failed: " + st.message());
        continue;
      }
      if (check.reason == TxRejectReason::kReplay) {
        out[i].status =
            Status::AlreadyExists("transaction " + ToHex(ids[i]) + " is already committed");
        out[i].rule = TxRejectReasonName(check.reason);
        continue;
      }
      if (!check.ok()) {
        out[i].status = Status::Rejected(check.message);
        out[i].rule = TxRejectReasonName(check.reason);
        continue;
      }
      layer_.Apply(changes);
      entries_.push_back(Entry{std::move(items[i]), std::move(changes)});
      index_.emplace(ids[i], std::prev(entries_.end()));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (first_copy[i] == i) continue;
    out[i] = out[first_copy[i]];
    if (out[i].status.ok()) out[i].duplicate = true;
  }
  return out;
}

std::vector<IdentifiedTx> Mempool::Candidates(size_t max) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<IdentifiedTx> out;
  out.reserve(std::min(max, entries_.size()));
  for (auto it = entries_.begin(); it != entries_.end() && out.size() < max; ++it) {
    out.push_back(it->item);
  }
  return out;
}

std::vector<SignedTx> Mempool::Pending(const std::vector<Hash32>& ids) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SignedTx> out;
  for (const Hash32& id : ids) {
    auto it = index_.find(id);
    if (it != index_.end()) out.push_back(it->second->tx());
  }
  return out;
}

void Mempool::EraseLocked(const Hash32& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  entries_.erase(it->second);
  index_.erase(it);
}

void Mempool::OnBlockCommitted(const std::vector<SignedTx>& block_txs,
                               const std::vector<Hash32>& rejected,
                               const std::vector<Hash32>* block_ids) {
  const bool have_ids = block_ids != nullptr && block_ids->size() == block_txs.size();
  std::lock_guard<std::mutex> lock(mu_);
  std::unordered_set<Pair, PublicKeyPairHasher> pairs;
  std::unordered_set<PublicKey, PublicKeyHasher> controllers;
  auto note = [&](const SignedTx& tx) {
    Touches t = TouchesOf(tx);
    if (t.pair) pairs.insert(*t.pair);
    if (t.controller) controllers.insert(*t.controller);
  };
  for (size_t i = 0; i < block_txs.size(); ++i) {
    note(block_txs[i]);
    EraseLocked(have_ids ? (*block_ids)[i] : block_txs[i].Id());
  }
  for (const Hash32& id : rejected) {
    auto it = index_.find(id);
    if (it == index_.end()) continue;
    note(it->second->tx());
    EraseLocked(id);
  }

  std::unique_ptr<CommittedState> committed = committed_();
  const uint64_t now = Now();
  // Transactions that aged out leave too: their pairs and controllers are affected as well.
  for (const Entry& e : entries_) {
    if (IssuedAtOf(e.tx().body) + kMaxTxAgeMs < now) note(e.tx());
  }
  // The layer is rebuilt only where the block (or an expiry) touched it: the values of the
  // affected pairs and controllers are dropped and then re-applied, in arrival order, from the
  // pending transactions that touch them, each re-checked first. The layer's other values come
  // from transactions that touch none of them, and stay as they are (rebuilding the whole layer
  // after every block cost O(pending) map inserts per block).
  for (const Pair& p : pairs) layer_.consents.erase(p);
  for (const PublicKey& c : controllers) layer_.controllers.erase(c);
  layer_.approvals.clear();
  const ValidatorSet in_office = InOffice();
  size_t rechecked = 0, dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Touches t = TouchesOf(it->tx());
    const bool affected = t.approval || (t.pair && pairs.count(*t.pair) != 0) ||
                          (t.controller && controllers.count(*t.controller) != 0);
    if (!affected) {
      ++it;
      continue;
    }
    ++rechecked;
    LayeredView view(committed->view(), layer_);
    TxCheck check = CheckStateRules(
        view, BlockContext{now, t.approval ? &in_office : nullptr, false}, it->tx(), it->id());
    if (Status st = committed->error(); !st.ok()) {
      // Keep the transaction: block building will meet the same error and stop the node.
      spdlog::error("mempool: re-check after a block could not read state: {}", st.ToString());
    } else if (!check.ok()) {
      spdlog::info("mempool: dropped tx {} after the new block: {}", ShortId(it->id()),
                   check.message);
      ++dropped;
      index_.erase(it->id());
      it = entries_.erase(it);
      continue;
    } else {
      it->changes = ComputeChanges(view, it->tx(), it->id());
    }
    layer_.Apply(it->changes);
    ++it;
  }
  spdlog::debug("mempool: block of {} txs ({} rejected): re-checked {}, dropped {}, {} pending",
                block_txs.size(), rejected.size(), rechecked, dropped, entries_.size());
}

void Mempool::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

bool Mempool::Contains(const Hash32& tx_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.count(tx_id) != 0;
}

size_t Mempool::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace consent
