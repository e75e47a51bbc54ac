// The consent state's sparse Merkle tree (PROTOCOL.md section 3) stored in a KvRead/KvBatch
// (column kStateNodes) as 16-ary "nibble pages". The binary compact tree is cut every 4 levels:
// the page at depth d (a multiple of 4) and prefix p describes the binary subtree at (d, p) down
// to depth d + 4 by what each of its 16 positions at depth d + 4 (a "slot", numbered by the 4 key
// bits d..d+3) holds: nothing, one entry (stored in the page as a lone leaf, whatever depth its
// leaf ends at inside or below the page), or two or more entries (a child page at depth d + 4,
// named by its subtree hash). The page's up to 15 internal binary hashes are recomputed from its
// slots when read. Hashes, roots and proofs are exactly those of smt::ReferenceSmt; only the
// storage differs: a proof reads about log16(n) records and a key update rewrites as many.
// A block's changes are applied in one call: keys are sorted, only the touched pages are read and
// rewritten (each once per call), and pages that stop being reachable are deleted, so the stored
// records always equal those of a tree built afresh from the same entries.
//
// Record grammar (integers big-endian):
//   key   = u16 depth || 32-byte prefix          (depth a multiple of 4, <= 252; bits of the
//                                                  prefix at and after `depth` zero)
//   value = u16 leaf_mask || u16 child_mask || item for each slot s = 0..15 set in either mask
//           (bit s = 1 << s; the masks are disjoint), in slot order:
//             leaf slot:  key state_key || hash value_hash   (state_key lies under the slot)
//             child slot: hash of the subtree at depth d + 4 (its page is stored)
// A page exists for every subtree at a depth multiple of 4 that holds two or more entries, and
// for the root (depth 0, zero prefix) whenever the tree is not empty. An empty tree has no
// records.
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

// The key of the page at (depth, prefix); the root page is StateNodeKey(0, Hash32{}).
Bytes StateNodeKey(uint16_t depth, const Hash32& prefix);

}  // namespace consent
