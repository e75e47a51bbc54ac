// The validator sets of a chain as the store keeps them (the validators column of
// ledger/schema.h): which set commits a height, every change so far, and the pending approvals.
// The block pipeline writes these records; this file is their one reader. Pure (reads through
// KvRead); thread-safe as the KvRead given.
#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/kv.h"
#include "ledger/state.h"
#include "ledger/validator_set.h"

namespace consent {

// One change: the set that commits heights from `from_height` on (decided by the block at
// from_height - 1).
struct SetChange {
  uint64_t from_height = 0;
  ValidatorSet set;
  bool operator==(const SetChange&) const = default;
};

// Every change recorded in `kv`, in height order (the genesis set is not one). A record that does
// not decode, or heights out of order, is a Corruption error.
Result<std::vector<SetChange>> ReadSetChanges(const KvRead& kv);

// The set that commits `height` (>= 1): the last change with from_height <= height, or the
// genesis set when there is none.
Result<ValidatorSet> SetForHeight(const KvRead& kv, const Genesis& genesis, uint64_t height);

// The approval record of `validator`, or nullopt.
Result<std::optional<ApprovalValue>> ReadApproval(const KvRead& kv, const PublicKey& validator);

// Every approval record, in key order.
Result<std::vector<std::pair<PublicKey, ApprovalValue>>> ReadApprovals(const KvRead& kv);

}  // namespace consent
