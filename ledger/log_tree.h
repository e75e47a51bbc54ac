// The global log stored in a KvRead/KvBatch (column kLogNodes), tile-style as transparency logs
// store it: every complete subtree hash is written once, when it becomes complete, and never
// changes. The node at (level L, index i) covers leaves [i * 2^L, (i + 1) * 2^L); level 0 holds the
// leaf hashes (= tx ids). Any subtree hash of a tree of size n is either one stored node or is
// folded from O(log n) of them, so the root, inclusion proofs (any index, any size up to the
// current one) and consistency proofs (any two sizes) cost O(log n) reads. Results are equal to
// the reference implementation in ledger/merkle_log.h.
//
// Record grammar: key = u8 level || u64 index (big-endian), value = hash (32 bytes).
// Pure (reads and writes only through the interfaces given); thread-compatible.
#pragma once

#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"

namespace consent {

class LogTree {
 public:
  // `kv` must reflect every append made so far (for appends within one uncommitted block, pass
  // an OverlayKv over the block's batch). REQUIRES: kv outlives the LogTree.
  LogTree(const KvRead& kv, uint64_t size) : kv_(kv), size_(size) {}

  uint64_t size() const { return size_; }

  // Appends leaf hashes at positions size(), size()+1, ...: writes the leaves and every subtree
  // that becomes complete into `batch`. Reads earlier nodes from kv (and, for nodes completed by
  // this call, from its own pending writes). Afterwards size() includes them.
  Status Append(const std::vector<Hash32>& leaf_hashes, KvBatch* batch);

  Result<Hash32> LeafHashAt(uint64_t index) const;
  // Root of the tree of the first `size` leaves. REQUIRES: size <= size().
  Result<Hash32> Root(uint64_t size) const;
  Result<Hash32> Root() const { return Root(size_); }
  // RFC 9162 proofs, identical to merkle::InclusionProof / ConsistencyProof.
  Result<std::vector<Hash32>> InclusionProof(uint64_t index, uint64_t size) const;
  Result<std::vector<Hash32>> ConsistencyProof(uint64_t size1, uint64_t size2) const;

 private:
  const KvRead& kv_;
  uint64_t size_;
};

Bytes LogNodeKey(uint8_t level, uint64_t index);

}  // namespace consent
