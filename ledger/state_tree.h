// The consent state's sparse Merkle tree (PROTOCOL.md section 3) stored in a KvRead/KvBatch
// (column kStateNodes). Only the nodes of the compact tree are stored: one record per non-empty
// subtree that is reachable from the root, keyed by its position; an internal record holds both
// child hashes, so a proof costs one read per level (about log2(n) for n entries). A block's
// changes are applied in one call: keys are sorted, only the touched paths are recomputed, each
// internal node is hashed once per block, and records that stop being reachable are deleted.
// Roots and proofs equal those of smt::ReferenceSmt.
//
// Record grammar: key = u16 depth || 32-byte prefix (bits at and after `depth` zero);
//   value = u8 1 (internal) || hash left || hash right
//         | u8 2 (leaf)     || key state_key || hash value_hash
// The root record is at depth 0. An empty tree has no records.
// Pure (reads and writes only through the interfaces given); thread-compatible.
#pragma once

#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/smt.h"

namespace consent {

struct StateTreeChange {
  Hash32 key{};
  std::optional<Hash32> value_hash;  // nullopt = remove the entry
};

class StateTree {
 public:
  // REQUIRES: kv outlives the StateTree.
  explicit StateTree(const KvRead& kv) : kv_(kv) {}

  Result<Hash32> Root() const;
  // Applies the changes (any order; a key may appear once) and writes the new and deleted
  // records into `batch`. Returns the new root. Reads the current tree from kv, which must not
  // already contain the batch's writes. A corrupt record is a Corruption error.
  Result<Hash32> Update(std::vector<StateTreeChange> changes, KvBatch* batch) const;
  // The proof for `key` in the current tree, as smt::ReferenceSmt::Prove gives it.
  Result<smt::Proof> Prove(const Hash32& key) const;

 private:
  const KvRead& kv_;
};

Bytes StateNodeKey(uint16_t depth, const Hash32& prefix);

}  // namespace consent
