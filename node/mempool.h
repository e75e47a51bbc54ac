// The mempool: transactions admitted but not yet committed, in arrival order, bounded.
//
// Admission (Submit), per transaction, in this order: syntax (a cheap re-check; callers decode
// first); already pending (OK, `duplicate`); the signature, verified on the VerifyPool (an array
// fans out over it) through a VerifiedCache, so no tx_id is ever verified twice; capacity (a full
// pool answers kUnavailable); then the state rules (ledger/state.h) against the committed state
// PLUS the changes of every pending transaction before it, as a block built from the pool in
// order would see them. A replay of a committed transaction is kAlreadyExists; any other state
// rule is kRejected with `rule` set to its TxRejectReasonName.
//
// After each block (OnBlockCommitted): the block's transactions and the ones block building
// rejected leave the pool; every remaining transaction that touches a (subject, controller) pair
// or a controller the block touched, or that is close to leaving the 7-day window, is re-checked
// against the new committed state plus the pending ones before it, and dropped (with a log line)
// if now invalid. The others keep their computed changes: nothing they read has changed.
//
// Thread-safety: every method is thread-safe. Admission verifies signatures outside the pool's
// lock and applies the state rules under it, one committed-state snapshot per call, so two
// concurrent Submits see each other's pending changes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crypto/keyed_hash.h"
#include "ledger/state.h"
#include "ledger/tx.h"
#include "net/api_backend.h"
#include "node/verify_pool.h"

namespace consent {

// A view of the committed state that owns whatever it reads from (for the node: a RocksDB
// snapshot and a KvStateView over it).
class CommittedState {
 public:
  virtual ~CommittedState() = default;
  virtual const StateView& view() const = 0;
  // OK, or the first storage error met while reading: answers after it are meaningless.
  virtual Status error() const = 0;
};
using CommittedStateSource = std::function<std::unique_ptr<CommittedState>()>;

struct MempoolOptions {
  std::string chain_id;
  size_t capacity = 20000;
  size_t verify_threads = 1;
  // Entries in the verified-signature cache; 0 = 2 * capacity + 1024.
  size_t verify_cache_entries = 0;
  // The time the state rules are checked at (the next block's time, approximately). Default:
  // the system clock in ms.
  std::function<uint64_t()> clock_ms;
  // The validator set in office (the set that commits the next block): SET_VALIDATORS
  // transactions are checked against it (PROTOCOL.md section 10). Unset: every SET_VALIDATORS is
  // refused (not_validator).
  std::function<ValidatorSet()> validators;
};

class Mempool {
 public:
  // REQUIRES: committed() returns a non-null view of the latest committed state; it is called
  // under the mempool's lock and must not call back into the mempool.
  Mempool(MempoolOptions options, CommittedStateSource committed);
  ~Mempool();
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  // Admits each transaction (see the file comment). One outcome per tx, in order. A tx that
  // appears twice in `txs` is admitted once; the later copy is answered OK with `duplicate`.
  // After Close(): every outcome is kUnavailable.
  // `verdicts`: when given (one per tx), the signatures were verified already (VerifyForAdmission
  // through a FairVerifier): 1 = valid; no signature is verified here then.
  std::vector<SubmitOutcome> Submit(std::vector<IdentifiedTx> txs,
                                    const std::vector<char>* verdicts = nullptr);
  // The same, the ids computed here.
  std::vector<SubmitOutcome> Submit(std::vector<SignedTx> txs) {
    return Submit(Identify(std::move(txs)));
  }
  // One transaction's signature, for a later Submit with `verdicts`: through the verified cache,
  // counted as Submit counts; false without verifying when its syntax is broken (Submit refuses
  // it for that first). Thread-safe.
  bool VerifyForAdmission(const IdentifiedTx& tx);

  // The first (up to) `max` pending transactions in arrival order, with their ids as computed
  // at admission. They stay pending.
  std::vector<IdentifiedTx> Candidates(size_t max) const;
  // Copies of those of `ids` that are still pending, in the order of `ids` (the others are
  // skipped), under one lock.
  std::vector<SignedTx> Pending(const std::vector<Hash32>& ids) const;

  // A block committed `block_txs`; block building left out `rejected` (tx ids) as invalid.
  // Removes both and re-checks the rest as the file comment says. REQUIRES: the committed-state
  // source already reflects the block.
  // `block_ids`, when given, are block_txs[i].Id() (saves hashing them again).
  void OnBlockCommitted(const std::vector<SignedTx>& block_txs, const std::vector<Hash32>& rejected,
                        const std::vector<Hash32>* block_ids = nullptr);

  // From now on Submit answers kUnavailable ("shutting down"). Idempotent.
  void Close();

  // Verifies the signatures of a received block's transactions through the same verified cache
  // (a transaction this node admitted earlier is not verified again; the results are cached for
  // a later admission). Returns the index of the first transaction whose signature fails, or
  // nullopt if all verify. Thread-safe.
  // `ids`: txs[i].Id() for every i (ValidatedBlock::tx_ids), or empty to have them computed.
  std::optional<size_t> VerifyBlockSignatures(const std::vector<SignedTx>& txs,
                                              const std::vector<Hash32>& ids = {});

  bool Contains(const Hash32& tx_id) const;
  size_t size() const;
  size_t capacity() const { return options_.capacity; }
  // Signature verifications actually run (cache misses), and cache hits.
  uint64_t verifications() const { return verifications_.load(); }
  uint64_t verify_cache_hits() const { return cache_hits_.load(); }

 private:
  using Pair = std::pair<PublicKey, PublicKey>;  // (subject, controller)

  struct Entry {
    IdentifiedTx item;
    StateChanges changes;  // as computed against committed + the entries before it
    const SignedTx& tx() const { return item.tx(); }
    const Hash32& id() const { return item.id(); }
  };

  // The changes of the pending transactions, merged in order (the latest write wins).
  struct Layer {
    // (subject, controller) -> purpose -> the entry's latest pending value.
    // Hash maps (keyed SipHash: the keys are public keys anyone can pick): each admission looks
    // a pair up, and the pool holds up to `capacity` entries.
    std::unordered_map<Pair, std::map<std::string, StateValue, std::less<>>, PublicKeyPairHasher>
        consents;
    std::unordered_map<PublicKey, ControllerEntry, PublicKeyHasher> controllers;
    std::unordered_map<PublicKey, ApprovalValue, PublicKeyHasher> approvals;
    void Apply(const StateChanges& changes);
    void Clear();
  };
  class LayeredView;

  // Verifies signatures of txs[i] for i in `todo` (cache first); sets (*ok)[i].
  void VerifySignatures(const std::vector<const SignedTx*>& txs, const std::vector<Hash32>& ids,
                        const std::vector<size_t>& todo, std::vector<char>* ok);
  uint64_t Now() const;
  ValidatorSet InOffice() const;
  void EraseLocked(const Hash32& id);

  const MempoolOptions options_;
  const CommittedStateSource committed_;
  VerifyPool pool_;
  VerifiedCache cache_;
  std::atomic<uint64_t> verifications_{0};
  std::atomic<uint64_t> cache_hits_{0};

  mutable std::mutex mu_;
  bool closed_ = false;                                                         // guarded by mu_
  std::list<Entry> entries_;                                                    // guarded by mu_
  std::unordered_map<Hash32, std::list<Entry>::iterator, Hash32Hasher> index_;  // guarded by mu_
  Layer layer_;                                                                 // guarded by mu_
};

}  // namespace consent
