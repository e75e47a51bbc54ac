// The consent proof of PROTOCOL.md section 9: what a brand hands an auditor. This module parses
// the proof JSON strictly and verifies it offline against a genesis: commit -> header ->
// state_root -> state proof -> tx inclusion -> status. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/set_changes.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace consent {

inline constexpr size_t kMaxProofJsonBytes = 256 * 1024;

enum class ProofStatus { kGranted, kRevoked, kExpired, kNone };
const char* ProofStatusName(ProofStatus s);  // "granted", "revoked", "expired", "none"
Result<ProofStatus> ParseProofStatus(std::string_view s);

struct ConsentProof {
  uint32_t version = 1;
  std::string chain_id;
  PublicKey subject{};
  PublicKey controller{};
  std::string purpose;
  ProofStatus status = ProofStatus::kNone;
  Header header;  // from header.encoding; height/time_ms/block_hash must agree with it
  Commit commit;
  std::optional<StateValue> value;  // state.value
  smt::Proof state;                 // state.siblings, state.leaf
  // tx: absent iff status is none
  struct TxPart {
    Bytes encoding;
    uint64_t log_index = 0;
    std::vector<Hash32> inclusion;
    bool operator==(const TxPart&) const = default;
  };
  std::optional<TxPart> tx;
  // The change blocks from genesis to below header.height, in height order (section 10).
  std::vector<ValidatorChange> validator_changes;
  bool operator==(const ConsentProof&) const = default;
};

// Strict parse of the section 9 JSON (unknown, missing and mistyped fields are errors; hex is
// checked; header.height/time_ms/block_hash must match header.encoding).
Result<ConsentProof> ParseConsentProof(std::string_view json_text);
std::string ConsentProofToJson(const ConsentProof& proof);

struct ProofVerdict {
  ProofStatus status = ProofStatus::kNone;  // at `at_ms`
  uint64_t height = 0;
  uint64_t time_ms = 0;  // the header's: the proof shows the state at this time
  uint64_t at_ms = 0;    // the time `status` is judged at (>= time_ms)
  // The status the proof itself states. It was computed for the time the proof was asked for,
  // which the proof does not carry, so it may differ from `status` by expiry alone.
  ProofStatus claimed = ProofStatus::kNone;
  uint64_t expires_at_ms = 0;  // of a granted entry; 0 = never, or no granted entry
};

// Verifies everything the proof claims against the genesis alone (or an audit checkpoint):
//  chain id; validator_changes from the genesis set (FollowChanges; with `checkpoint`, from its
//  set: changes below its height are skipped, and a header below it is refused); the header's
//  validators_hash is the hash of the set so reached, and its commit is a quorum of that set over
//  the header's block_hash; the state proof against header.state_root for
//  StateKey(subject, controller, purpose) (membership iff value present); the tx decodes, is the
//  one the state value names (tx_id), is signed by the subject for this chain, touches this
//  (subject, controller, purpose), and is included at log_index under header.log_root/log_size;
//  the claimed status is one the entry has at some time at or after the header's time_ms (the
//  proof does not say which time it was asked for): none iff no entry, revoked iff a revoked
//  entry, granted iff a granted entry not expired at time_ms, expired iff a granted entry with an
//  expiry. The verdict's status is the entry's at `at_ms` (default: the header's time_ms): a
//  granted entry with expires_at_ms != 0 and expires_at_ms <= at_ms is expired.
// Returns the verdict, or a Status whose message is the precise reason the proof is invalid
// (Rejected), or InvalidArgument if `at_ms` is before the header's time_ms (the proof shows the
// state from that time on, not before).
Result<ProofVerdict> VerifyConsentProof(const ConsentProof& proof, const Genesis& genesis,
                                        std::optional<uint64_t> at_ms = std::nullopt,
                                        const TrustedSet* checkpoint = nullptr);

}  // namespace consent
