// The global log stored in a KvRead/KvBatch (column kLogNodes) as tiles, the way transparency logs
// store it. The node at (level L, index i) covers leaves [i * 2^L, (i + 1) * 2^L); level 0 holds
// the leaf hashes (= tx ids). Only the levels 0, 4, 8, ... are stored, 16 consecutive complete
// nodes to a record (a tile); a node at level 4k + r (r = 1..3) is folded from its 2^r
// descendants at level 4k, which lie in one tile. The rightmost tile of a level holds fewer than
// 16 nodes and is rewritten as it grows; the stored records are a function of the size alone, so
// appending in any batches writes the same records. Appending n leaves writes about n/16 + n/256
// + ... records. Any subtree hash of a tree of size n comes from O(log n) nodes, at most about
// one tile per 4 levels, so the root, inclusion proofs (any index, any size up to the current one)
// and consistency proofs (any two sizes) cost O(log n) reads. Results are equal to the reference
// implementation in ledger/merkle_log.h.
//
// Record grammar (a tile; k = tile level, t = tile index):
//   key   = u8 k || u64 t (big-endian; 9 bytes), 0 <= k <= 15
//   value = hash(4k, 16t) || hash(4k, 16t + 1) || ... || hash(4k, 16t + count - 1)
//           (32 bytes each, 1 <= count <= 16; count < 16 only for the last tile of a level)
// where hash(L, i) is the RFC 9162 hash of the complete subtree at level L, index i. For a log of
// size n, tile (k, t) exists iff 16t < n >> 4k and holds min(16, (n >> 4k) - 16t) hashes. Every
// read checks the value (a multiple of 32 bytes, 1..16 hashes, holding the node asked for) and
// reports Corruption naming the tile otherwise.
//
// Pure (reads and writes only through the interfaces given); thread-compatible.
#pragma once

#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/kv.h"

namespace consent {

inline constexpr int kLogTileHeight = 4;                         // levels per tile
inline constexpr uint64_t kLogTileWidth = 1u << kLogTileHeight;  // nodes per tile
inline constexpr int kLogTileLevels = 64 / kLogTileHeight;       // tile levels 0..15

class LogTree {
 public:
  // `kv` must reflect every append made so far (for appends within one uncommitted block, pass
  // an OverlayKv over the block's batch). REQUIRES: kv outlives the LogTree.
  LogTree(const KvRead& kv, uint64_t size) : kv_(kv), size_(size) {}

  uint64_t size() const { return size_; }

  // Appends leaf hashes at positions size(), size()+1, ...: writes into `batch` every tile that
  // gains nodes (the leaves, and the level-4k nodes they complete). Reads the rightmost tile of
  // each level that already holds nodes from kv. On error (Corruption of such a tile) the batch
  // is left as it was and size() does not change; otherwise size() includes the new leaves.
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

// The key of tile (tile_level, tile_index), as in the grammar above.
Bytes LogTileKey(uint8_t tile_level, uint64_t tile_index);

// Whether the stored log holds a leaf at `index` (its tile exists and reaches that far), whatever
// size the caller believes the log has; for the store's open-time checks. Corruption if that
// tile is malformed.
Result<bool> LogHasLeaf(const KvRead& kv, uint64_t index);

}  // namespace consent
