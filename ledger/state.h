// Consent state (PROTOCOL.md sections 2 and 3): state keys and values, the state rules as a pure
// function of (state, block time, tx), and the state transition. No I/O: the state is read
// through the StateView interface that each backing store (in-memory for tests and the
// reference, RocksDB for the node) implements. Thread-safety: as the StateView given.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/tx.h"
#include "ledger/validator_set.h"

namespace consent {

enum class ConsentStatus : uint8_t { kGranted = 1, kRevoked = 2 };

// A validator's approval of a set (PROTOCOL.md section 10), under ApprovalKey(validator):
// approval_value = u8 status (=3) || hash set_hash || hash tx_id || u64 issued_at_ms
inline constexpr uint8_t kApprovalStatus = 3;
inline constexpr size_t kApprovalValueBytes = 1 + 32 + 32 + 8;
struct ApprovalValue {
  Hash32 set_hash{};
  Hash32 tx_id{};
  uint64_t issued_at_ms = 0;
  bool operator==(const ApprovalValue&) const = default;
  Bytes Encode() const;
  static Result<ApprovalValue> Decode(ByteView bytes);  // exactly 73 bytes, status 3
};
// H(tag("consent-ledger/approval/v1") || validator)
Hash32 ApprovalKey(const PublicKey& validator);

// state_value = u8 status || hash tx_id || u64 issued_at_ms || u64 expires_at_ms || hash policy
struct StateValue {
  ConsentStatus status = ConsentStatus::kGranted;
  Hash32 tx_id{};
  uint64_t issued_at_ms = 0;
  uint64_t expires_at_ms = 0;
  Hash32 policy_hash{};
  bool operator==(const StateValue&) const = default;

  Bytes Encode() const;
  static Result<StateValue> Decode(ByteView bytes);  // exactly 81 bytes, status 1 or 2
};
inline constexpr size_t kStateValueBytes = 1 + 32 + 8 + 8 + 32;

// Whether a granted entry has expired at `at_ms`: expires_at_ms != 0 and at_ms >= expires_at_ms.
// A grant holds on the half-open interval [issued_at_ms, expires_at_ms), matching the syntax
// rule expires_at_ms > issued_at_ms. A revoked entry is never "expired" (it is revoked).
bool IsExpired(const StateValue& value, uint64_t at_ms);

// H(tag("consent-ledger/state/v1") || subject || controller || str purpose)
Hash32 StateKey(const PublicKey& subject, const PublicKey& controller, std::string_view purpose);

struct ControllerEntry {
  std::string name;
  std::string contact_uri;
  uint64_t issued_at_ms = 0;
  Hash32 tx_id{};
  bool operator==(const ControllerEntry&) const = default;
};

// Read access to the state a transaction is checked against.
class StateView {
 public:
  virtual ~StateView() = default;
  // The state entry of (subject, controller, purpose), i.e. the value under
  // StateKey(subject, controller, purpose), or nullopt when there is none.
  virtual std::optional<StateValue> GetConsent(const PublicKey& subject,
                                               const PublicKey& controller,
                                               std::string_view purpose) const = 0;
  // The purposes that (subject, controller) has a state entry for, sorted ascending by bytes.
  virtual std::vector<std::string> PurposesOf(const PublicKey& subject,
                                              const PublicKey& controller) const = 0;
  virtual bool TxCommitted(const Hash32& tx_id) const = 0;
  virtual std::optional<ControllerEntry> GetController(const PublicKey& controller) const = 0;
  // The approval `validator` holds (section 10), or nullopt.
  virtual std::optional<ApprovalValue> GetApproval(const PublicKey& validator) const = 0;
};

// What the state rules need of the block a transaction is checked for, beyond the state: its
// time, the set that commits it, and whether an earlier transaction of the same block decided a
// validator set change (section 10).
struct BlockContext {
  uint64_t time_ms = 0;
  // The set that commits the block. nullptr: unknown to the caller, and every SET_VALIDATORS is
  // then refused (kNotValidator); the other kinds do not need it.
  const ValidatorSet* validators = nullptr;
  bool change_decided = false;
};

// One state change a transaction makes: the entries it sets and the directory entry.
struct ConsentWrite {
  PublicKey subject{};
  PublicKey controller{};
  std::string purpose;
  Hash32 state_key{};
  StateValue value;
  bool operator==(const ConsentWrite&) const = default;
};
// The approval a SET_VALIDATORS transaction records: its signer's entry under ApprovalKey.
struct ApprovalWrite {
  PublicKey validator{};
  Hash32 state_key{};  // ApprovalKey(validator)
  ApprovalValue value;
  std::vector<PublicKey> set;  // the set the approval names (its hash is value.set_hash)
  bool operator==(const ApprovalWrite&) const = default;
};

struct StateChanges {
  std::vector<ConsentWrite> consents;  // in purpose order
  std::optional<std::pair<PublicKey, ControllerEntry>> controller;
  std::optional<ApprovalWrite> approval;
};

// Why a well-formed transaction is invalid against a state (section 2 state rules).
enum class TxRejectReason {
  kNone = 0,
  kReplay,             // tx_id committed before
  kTooOld,             // issued_at_ms < block time - 7 days
  kFromTheFuture,      // issued_at_ms > block time + 5 minutes
  kStale,              // not newer than a touched purpose's current state
  kStaleRegistration,  // not newer than the controller's current registration
  kNotValidator,       // SET_VALIDATORS signed by a key outside the set that commits the block
  kNoChange,           // SET_VALIDATORS naming the set already in office
  kStaleApproval,      // SET_VALIDATORS not newer than the signer's current approval
  kChangeDecided,      // SET_VALIDATORS after a change was decided earlier in the same block
};
const char* TxRejectReasonName(TxRejectReason r);

inline constexpr uint64_t kMaxTxAgeMs = 7ull * 24 * 60 * 60 * 1000;
inline constexpr uint64_t kMaxTxFutureMs = 5ull * 60 * 1000;

struct TxCheck {
  TxRejectReason reason = TxRejectReason::kNone;
  std::string message;  // empty when valid
  bool ok() const { return reason == TxRejectReason::kNone; }
};

// The state rules, checked against `state` for a block at `block_time_ms`. Pure.
// In order: replay (kReplay); block_time - 7 days <= issued_at_ms (kTooOld, the lower bound
// saturates at 0) and issued_at_ms <= block_time + 5 minutes (kFromTheFuture); for GRANT/REVOKE
// every touched purpose's current issued_at_ms is strictly older (kStale); for
// REGISTER_CONTROLLER any current registration is strictly older (kStaleRegistration); for
// SET_VALIDATORS (section 10): the signer is in block.validators (kNotValidator), the named set's
// hash differs from block.validators' (kNoChange), the signer's current approval, if any, is
// strictly older (kStaleApproval), and no earlier tx of the block decided a change
// (kChangeDecided).
// Does not check syntax or the signature (DecodeSignedTx and VerifyTxSignature do).
TxCheck CheckStateRules(const StateView& state, const BlockContext& block, const SignedTx& tx);
// The same with the tx's id (tx.Id()) already computed, as a mempool and the block pipeline have
// it: the rules then do not encode and hash the tx again. REQUIRES id == tx.Id().
TxCheck CheckStateRules(const StateView& state, const BlockContext& block, const SignedTx& tx,
                        const Hash32& id);
// For callers without a validator set (every SET_VALIDATORS is then kNotValidator).
inline TxCheck CheckStateRules(const StateView& state, uint64_t block_time_ms, const SignedTx& tx) {
  return CheckStateRules(state, BlockContext{block_time_ms, nullptr, false}, tx);
}
inline TxCheck CheckStateRules(const StateView& state, uint64_t block_time_ms, const SignedTx& tx,
                               const Hash32& id) {
  return CheckStateRules(state, BlockContext{block_time_ms, nullptr, false}, tx, id);
}

// The decision rule of section 10: whether at least QuorumSize() members of `in_office` hold an
// approval in `state` naming `set_hash`. Approvals of non-members never count. Pure.
bool ChangeReachesQuorum(const StateView& state, const ValidatorSet& in_office,
                         const Hash32& set_hash);

// The changes a valid transaction makes. REQUIRES: CheckStateRules(...).ok().
// GRANT: each purpose set to granted with the tx's id, issued_at, expiry and policy hash.
// REVOKE: each named purpose (or, with an empty list, each purpose PurposesOf the pair) set to
// revoked with the tx's id and issued_at, carrying over the expiry and policy hash of the entry it
// revokes (0 and the zero hash when there is none: a REVOKE naming a purpose without an entry
// still writes one, so no older GRANT can be replayed past it). A revoke-all for a pair with no
// entries is valid and changes nothing. REGISTER_CONTROLLER: sets the directory entry.
// SET_VALIDATORS: sets the signer's approval (replacing any older one).
StateChanges ComputeChanges(const StateView& state, const SignedTx& tx);
// The same with the tx's id already computed. REQUIRES id == tx.Id().
StateChanges ComputeChanges(const StateView& state, const SignedTx& tx, const Hash32& id);

// An in-memory StateView that can also apply changes: the reference state for tests, vector
// generation and block simulation. Thread-compatible.
class MemoryState : public StateView {
 public:
  std::optional<StateValue> GetConsent(const PublicKey& subject, const PublicKey& controller,
                                       std::string_view purpose) const override;
  std::vector<std::string> PurposesOf(const PublicKey& subject,
                                      const PublicKey& controller) const override;
  bool TxCommitted(const Hash32& tx_id) const override;
  std::optional<ControllerEntry> GetController(const PublicKey& controller) const override;
  std::optional<ApprovalValue> GetApproval(const PublicKey& validator) const override;

  // Checks the state rules and, if valid, applies the tx (marks it committed).
  TxCheck Apply(uint64_t block_time_ms, const SignedTx& tx);
  TxCheck Apply(const BlockContext& block, const SignedTx& tx);
  void ApplyChanges(const Hash32& tx_id, const StateChanges& changes);
  // The end of a block that decided a change: every approval is removed.
  void RemoveApprovals() { approvals_.clear(); }
  const std::map<PublicKey, ApprovalValue>& approvals() const { return approvals_; }

  // All consent entries (state_key -> value), for building the SMT.
  const std::map<Hash32, StateValue>& consents() const { return consents_; }

 private:
  std::map<Hash32, StateValue> consents_;
  std::map<std::pair<PublicKey, PublicKey>, std::vector<std::string>> purposes_;
  std::set<Hash32> committed_;
  std::map<PublicKey, ControllerEntry> controllers_;
  std::map<PublicKey, ApprovalValue> approvals_;
};

}  // namespace consent
