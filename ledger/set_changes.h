// Following validator set changes (PROTOCOL.md section 10, "Proofs across changes"): a verifier
// that knows one set (the genesis set, or the set of an audit checkpoint) walks the change blocks,
// each a certified header plus the new set's keys, to the set that commits a later height. This is
// the core of every proof and audit across changes; it needs no store and no network.
//
// JSON of one change (the items of a consent proof's "validator_changes"):
//   {"header": {height, time_ms, encoding, block_hash}, "commit": {round, signatures},
//    "validators": ["hex", ...]}
//
// Pure and deterministic; thread-safe.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/json_strict.h"
#include "ledger/validator_set.h"

namespace consent {

// The most changes one proof or answer may carry.
inline constexpr size_t kMaxValidatorChanges = 4096;

// A change block: its certified header and the set its next_validators_hash names.
struct ValidatorChange {
  Header header;
  Commit commit;
  ValidatorSet validators;  // ascending byte order, 1..kMaxSetValidators keys
  bool operator==(const ValidatorChange&) const = default;
};

// Where a walk starts: `validators` commits every height from `from_height` on until the first
// change at or after it. For genesis: the genesis set from height 1. For an audit checkpoint: the
// set in office at the checkpoint's height, from that height.
struct TrustedSet {
  uint64_t from_height = 1;
  ValidatorSet validators;
};

// Walks `changes` from `start` and returns the set that commits `height` (> every change's
// height). Each change, in order: its height is >= start.from_height, above the previous change's
// and below `height` (order); header.chain_id is `chain_id`; header.validators_hash is the hash of
// the set held (validators_hash); its commit verifies with the set held (commit); it is a change
// block (next_validators_hash != validators_hash) and H(list<key> validators) equals its
// next_validators_hash (next_validators_hash). Then validators is the set held. A missing, extra,
// reordered or altered change fails one of these; the Status message starts with
// "validator_changes[i]: " and names the check. The caller still checks that the proven header's
// validators_hash is the hash of the returned set, and its commit against it.
Result<ValidatorSet> FollowChanges(std::string_view chain_id, const TrustedSet& start,
                                   const std::vector<ValidatorChange>& changes, uint64_t height);

json::OrderedJson ValidatorChangeToJson(const ValidatorChange& change);
json::OrderedJson ValidatorChangesToJson(const std::vector<ValidatorChange>& changes);
// Strict: exactly the fields above; validators strictly ascending, 1..kMaxSetValidators keys.
Result<ValidatorChange> ValidatorChangeFromJson(const json::Json& v, std::string_view path);
Result<std::vector<ValidatorChange>> ValidatorChangesFromJson(const json::Json& v,
                                                              std::string_view path);

}  // namespace consent
