// Consent state: state keys and values, the state rules of PROTOCOL.md section 2 and the state
// transition of section 3, plus the in-memory reference state. CheckStateRules and
// ComputeChanges are pure functions of (StateView, block time, tx); thread-safety is that of the
// StateView they read. MemoryState is thread-compatible.
//
// Decisions where the protocol is silent (also in the header comments):
// - A REVOKE with an empty purpose list for a pair that has no entries is valid and changes
//   nothing (it is still committed, so its tx_id cannot be replayed).
// - A REVOKE naming a purpose with no entry writes a revoked entry with expiry 0 and a zero
//   policy hash, so a later stale GRANT for that purpose is rejected.
// - SET_VALIDATORS (section 10): the rules are checked in the order not_validator, no_change,
//   stale_approval, change_decided, after replay and the time window.
// - A granted entry is expired at time t iff expires_at_ms != 0 and t >= expires_at_ms: validity
//   is the half-open interval [issued_at_ms, expires_at_ms), consistent with the syntax rule
//   expires_at_ms > issued_at_ms (a grant is never empty).
#include "ledger/state.h"

#include <algorithm>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"

namespace consent {
namespace {

constexpr std::string_view kStateKeyTag = "consent-ledger/state/v1";
constexpr std::string_view kApprovalKeyTag = "consent-ledger/approval/v1";

// The purposes a GRANT or REVOKE touches in `state`; empty for REGISTER_CONTROLLER.
std::vector<std::string> TouchedPurposes(const StateView& state, const TxBody& body) {
  if (const auto* g = std::get_if<GrantTx>(&body)) return g->purposes;
  if (const auto* r = std::get_if<RevokeTx>(&body)) {
    if (!r->purposes.empty()) return r->purposes;
    return state.PurposesOf(r->subject, r->controller);
  }
  return {};
}

TxCheck Reject(TxRejectReason reason, std::string message) {
  return TxCheck{reason, std::move(message)};
}

}  // namespace

Bytes StateValue::Encode() const {
  Writer w(kStateValueBytes);
  w.U8(static_cast<uint8_t>(status)).Fixed(tx_id).U64(issued_at_ms).U64(expires_at_ms);
  w.Fixed(policy_hash);
  return std::move(w).Take();
}

Result<StateValue> StateValue::Decode(ByteView bytes) {
  if (bytes.size() != kStateValueBytes) {
    return Status::Invalid("state_value: expected " + std::to_string(kStateValueBytes) +
                           " bytes, got " + std::to_string(bytes.size()));
  }
  Reader r(bytes);
  StateValue v;
  uint8_t status = 0;
  RETURN_IF_ERROR(r.U8(&status, "state_value.status"));
  if (status != static_cast<uint8_t>(ConsentStatus::kGranted) &&
      status != static_cast<uint8_t>(ConsentStatus::kRevoked)) {
    return Status::Invalid("state_value.status: " + std::to_string(status) +
                           " is not 1 (granted) or 2 (revoked)");
  }
  v.status = static_cast<ConsentStatus>(status);
  RETURN_IF_ERROR(r.Fixed(&v.tx_id, "state_value.tx_id"));
  RETURN_IF_ERROR(r.U64(&v.issued_at_ms, "state_value.issued_at_ms"));
  RETURN_IF_ERROR(r.U64(&v.expires_at_ms, "state_value.expires_at_ms"));
  RETURN_IF_ERROR(r.Fixed(&v.policy_hash, "state_value.policy_hash"));
  RETURN_IF_ERROR(r.ExpectEnd("state_value"));
  return v;
}

Bytes ApprovalValue::Encode() const {
  Writer w(kApprovalValueBytes);
  w.U8(kApprovalStatus).Fixed(set_hash).Fixed(tx_id).U64(issued_at_ms);
  return std::move(w).Take();
}

Result<ApprovalValue> ApprovalValue::Decode(ByteView bytes) {
  if (bytes.size() != kApprovalValueBytes) {
    return Status::Invalid("approval_value: expected " + std::to_string(kApprovalValueBytes) +
                           " bytes, got " + std::to_string(bytes.size()));
  }
  Reader r(bytes);
  uint8_t status = 0;
  RETURN_IF_ERROR(r.U8(&status, "approval_value.status"));
  if (status != kApprovalStatus) {
    return Status::Invalid("approval_value.status: " + std::to_string(status) +
                           " is not 3 (approval)");
  }
  ApprovalValue v;
  RETURN_IF_ERROR(r.Fixed(&v.set_hash, "approval_value.set_hash"));
  RETURN_IF_ERROR(r.Fixed(&v.tx_id, "approval_value.tx_id"));
  RETURN_IF_ERROR(r.U64(&v.issued_at_ms, "approval_value.issued_at_ms"));
  RETURN_IF_ERROR(r.ExpectEnd("approval_value"));
  return v;
}

Hash32 ApprovalKey(const PublicKey& validator) {
  Writer w(kApprovalKeyTag.size() + 32);
  w.Tag(kApprovalKeyTag).Fixed(validator);
  return Sha256(w.bytes());
}

bool IsExpired(const StateValue& value, uint64_t at_ms) {
  return value.status == ConsentStatus::kGranted && value.expires_at_ms != 0 &&
         at_ms >= value.expires_at_ms;
}

Hash32 StateKey(const PublicKey& subject, const PublicKey& controller, std::string_view purpose) {
  Writer w(kStateKeyTag.size() + 64 + 4 + purpose.size());
  w.Tag(kStateKeyTag).Fixed(subject).Fixed(controller).Str(purpose);
  return Sha256(w.bytes());
}

const char* TxRejectReasonName(TxRejectReason r) {
  switch (r) {
    case TxRejectReason::kNone:
      return "none";
    case TxRejectReason::kReplay:
      return "replay";
    case TxRejectReason::kTooOld:
      return "too_old";
    case TxRejectReason::kFromTheFuture:
      return "from_the_future";
    case TxRejectReason::kStale:
      return "stale";
    case TxRejectReason::kStaleRegistration:
      return "stale_registration";
    case TxRejectReason::kNotValidator:
      return "not_validator";
    case TxRejectReason::kNoChange:
      return "no_change";
    case TxRejectReason::kStaleApproval:
      return "stale_approval";
    case TxRejectReason::kChangeDecided:
      return "change_decided";
  }
  return "unknown";
}

TxCheck CheckStateRules(const StateView& state, const BlockContext& block, const SignedTx& tx) {
  return CheckStateRules(state, block, tx, tx.Id());
}

namespace {

TxCheck ReplayOf(const Hash32& id) {
  return Reject(TxRejectReason::kReplay, "tx_id " + ToHex(id) + " was already committed (replay)");
}

// Whether the rules after the replay check reject a committed tx by themselves. True for a
// REGISTER_CONTROLLER and for a GRANT or REVOKE that names its purposes: committing such a tx
// wrote an entry with its issued_at for each key it names, every later write to that key had to
// be strictly newer, and no entry is ever removed, so each such key holds an issued_at >= the
// tx's for good, and the tx is stale. A SET_VALIDATORS is not: its approval is removed at the
// next decision, after which the same tx would pass the later rules. False for a revoke-all (it
// names no key: the pair's entries may have changed, or there were none) and for anything without a
// key.
bool LaterRulesCatchAReplay(const TxBody& body) {
  if (std::holds_alternative<RegisterControllerTx>(body)) return true;
  if (const auto* g = std::get_if<GrantTx>(&body)) return !g->purposes.empty();
  if (const auto* r = std::get_if<RevokeTx>(&body)) return !r->purposes.empty();
  return false;
}

TxCheck CheckRulesAfterReplay(const StateView& state, const BlockContext& block,
                              const SignedTx& tx);

}  // namespace

// The replay check comes first in the rules' order (a committed tx is reported as a replay,
// whatever else is wrong with it). For a tx whose replay the later rules reject anyway
// (LaterRulesCatchAReplay), the tx_index lookup is made only when they reject it, to report the
// replay: a tx they accept cannot be committed. The answer is the same as checking it first; a
// new transaction, the common case, then costs no lookup of its id (one read that misses, in the
// mempool and again in the block).
TxCheck CheckStateRules(const StateView& state, const BlockContext& block, const SignedTx& tx,
                        const Hash32& id) {
  const bool deferred = LaterRulesCatchAReplay(tx.body);
  if (!deferred && state.TxCommitted(id)) return ReplayOf(id);
  TxCheck check = CheckRulesAfterReplay(state, block, tx);
  if (deferred && !check.ok() && state.TxCommitted(id)) return ReplayOf(id);
  return check;
}

namespace {

// Section 10's rules for a SET_VALIDATORS, after replay and the time window.
TxCheck CheckApprovalRules(const StateView& state, const BlockContext& block,
                           const SetValidatorsTx& t) {
  if (block.validators == nullptr || !block.validators->Contains(t.validator)) {
    return Reject(TxRejectReason::kNotValidator,
                  "signer " + ToHex(t.validator) +
                      " is not in the validator set that commits this block (not_validator)");
  }
  if (SetHashOf(t.validators) == block.validators->Hash()) {
    return Reject(TxRejectReason::kNoChange,
                  "the set named is the set already in office (no_change)");
  }
  if (std::optional<ApprovalValue> current = state.GetApproval(t.validator);
      current && t.issued_at_ms <= current->issued_at_ms) {
    return Reject(TxRejectReason::kStaleApproval,
                  "issued_at_ms " + std::to_string(t.issued_at_ms) +
                      " is not after the signer's current approval's " +
                      std::to_string(current->issued_at_ms) + " (stale_approval)");
  }
  if (block.change_decided) {
    return Reject(TxRejectReason::kChangeDecided,
                  "an earlier transaction of this block decided a validator set change "
                  "(change_decided)");
  }
  return {};
}

TxCheck CheckRulesAfterReplay(const StateView& state, const BlockContext& block,
                              const SignedTx& tx) {
  const uint64_t block_time_ms = block.time_ms;
  uint64_t issued = IssuedAtOf(tx.body);
  // Saturating bounds: block times below 7 days (tests, fresh chains) must not wrap around.
  uint64_t oldest = block_time_ms >= kMaxTxAgeMs ? block_time_ms - kMaxTxAgeMs : 0;
  uint64_t newest =
      block_time_ms <= UINT64_MAX - kMaxTxFutureMs ? block_time_ms + kMaxTxFutureMs : UINT64_MAX;
  if (issued < oldest) {
    return Reject(TxRejectReason::kTooOld,
                  "issued_at_ms " + std::to_string(issued) + " is more than 7 days (" +
                      std::to_string(kMaxTxAgeMs) + " ms) before the block time " +
                      std::to_string(block_time_ms) + " (too old)");
  }
  if (issued > newest) {
    return Reject(TxRejectReason::kFromTheFuture,
                  "issued_at_ms " + std::to_string(issued) + " is more than 5 minutes (" +
                      std::to_string(kMaxTxFutureMs) + " ms) after the block time " +
                      std::to_string(block_time_ms) + " (from the future)");
  }

  if (const auto* reg = std::get_if<RegisterControllerTx>(&tx.body)) {
    std::optional<ControllerEntry> current = state.GetController(reg->controller);
    if (current && issued <= current->issued_at_ms) {
      return Reject(
          TxRejectReason::kStaleRegistration,
          "issued_at_ms " + std::to_string(issued) + " is not after the current registration's " +
              std::to_string(current->issued_at_ms) + " for controller " + ToHex(reg->controller));
    }
    return {};
  }
  if (const auto* sv = std::get_if<SetValidatorsTx>(&tx.body)) {
    return CheckApprovalRules(state, block, *sv);
  }

  const PublicKey& subject = SignerOf(tx.body);
  const PublicKey& controller = std::holds_alternative<GrantTx>(tx.body)
                                    ? std::get<GrantTx>(tx.body).controller
                                    : std::get<RevokeTx>(tx.body).controller;
  for (const std::string& purpose : TouchedPurposes(state, tx.body)) {
    std::optional<StateValue> current = state.GetConsent(subject, controller, purpose);
    if (current && issued <= current->issued_at_ms) {
      return Reject(TxRejectReason::kStale, "issued_at_ms " + std::to_string(issued) +
                                                " is not after the current state's " +
                                                std::to_string(current->issued_at_ms) +
                                                " for purpose " + purpose);
    }
  }
  return {};
}

}  // namespace

StateChanges ComputeChanges(const StateView& state, const SignedTx& tx) {
  return ComputeChanges(state, tx, tx.Id());
}

StateChanges ComputeChanges(const StateView& state, const SignedTx& tx, const Hash32& id) {
  StateChanges changes;
  if (const auto* g = std::get_if<GrantTx>(&tx.body)) {
    for (const std::string& purpose : g->purposes) {
      ConsentWrite w;
      w.subject = g->subject;
      w.controller = g->controller;
      w.purpose = purpose;
      w.state_key = StateKey(g->subject, g->controller, purpose);
      w.value = StateValue{ConsentStatus::kGranted, id, g->issued_at_ms, g->expires_at_ms,
                           g->policy_hash};
      changes.consents.push_back(std::move(w));
    }
  } else if (const auto* r = std::get_if<RevokeTx>(&tx.body)) {
    for (const std::string& purpose : TouchedPurposes(state, tx.body)) {
      ConsentWrite w;
      w.subject = r->subject;
      w.controller = r->controller;
      w.purpose = purpose;
      w.state_key = StateKey(r->subject, r->controller, purpose);
      std::optional<StateValue> current = state.GetConsent(r->subject, r->controller, purpose);
      w.value = StateValue{ConsentStatus::kRevoked, id, r->issued_at_ms,
                           current ? current->expires_at_ms : 0,
                           current ? current->policy_hash : Hash32{}};
      changes.consents.push_back(std::move(w));
    }
  } else if (const auto* sv = std::get_if<SetValidatorsTx>(&tx.body)) {
    ApprovalWrite a;
    a.validator = sv->validator;
    a.state_key = ApprovalKey(sv->validator);
    a.value = ApprovalValue{SetHashOf(sv->validators), id, sv->issued_at_ms};
    a.set = sv->validators;
    changes.approval = std::move(a);
  } else {
    const auto& reg = std::get<RegisterControllerTx>(tx.body);
    changes.controller.emplace(reg.controller,
                               ControllerEntry{reg.name, reg.contact_uri, reg.issued_at_ms, id});
  }
  return changes;
}

bool ChangeReachesQuorum(const StateView& state, const ValidatorSet& in_office,
                         const Hash32& set_hash) {
  size_t count = 0;
  for (const PublicKey& member : in_office.keys) {
    std::optional<ApprovalValue> a = state.GetApproval(member);
    if (a && a->set_hash == set_hash) ++count;
  }
  return count >= in_office.QuorumSize();
}

std::optional<StateValue> MemoryState::GetConsent(const PublicKey& subject,
                                                  const PublicKey& controller,
                                                  std::string_view purpose) const {
  auto it = consents_.find(StateKey(subject, controller, purpose));
  if (it == consents_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> MemoryState::PurposesOf(const PublicKey& subject,
                                                 const PublicKey& controller) const {
  auto it = purposes_.find({subject, controller});
  if (it == purposes_.end()) return {};
  return it->second;
}

bool MemoryState::TxCommitted(const Hash32& tx_id) const { return committed_.count(tx_id) > 0; }

std::optional<ControllerEntry> MemoryState::GetController(const PublicKey& controller) const {
  auto it = controllers_.find(controller);
  if (it == controllers_.end()) return std::nullopt;
  return it->second;
}

std::optional<ApprovalValue> MemoryState::GetApproval(const PublicKey& validator) const {
  auto it = approvals_.find(validator);
  if (it == approvals_.end()) return std::nullopt;
  return it->second;
}

TxCheck MemoryState::Apply(uint64_t block_time_ms, const SignedTx& tx) {
  return Apply(BlockContext{block_time_ms, nullptr, false}, tx);
}

TxCheck MemoryState::Apply(const BlockContext& block, const SignedTx& tx) {
  const Hash32 id = tx.Id();
  TxCheck check = CheckStateRules(*this, block, tx, id);
  if (!check.ok()) return check;
  ApplyChanges(id, ComputeChanges(*this, tx, id));
  return check;
}

void MemoryState::ApplyChanges(const Hash32& tx_id, const StateChanges& changes) {
  for (const ConsentWrite& w : changes.consents) {
    consents_[w.state_key] = w.value;
    std::vector<std::string>& list = purposes_[{w.subject, w.controller}];
    auto pos = std::lower_bound(list.begin(), list.end(), w.purpose);
    if (pos == list.end() || *pos != w.purpose) list.insert(pos, w.purpose);
  }
  if (changes.controller) controllers_[changes.controller->first] = changes.controller->second;
  if (changes.approval) approvals_[changes.approval->validator] = changes.approval->value;
  committed_.insert(tx_id);
}

}  // namespace consent
