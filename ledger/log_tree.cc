// LogTree: the global log's RFC 9162 tree kept as tiles in column kLogNodes (grammar in
// log_tree.h). Append works tile level by tile level: the new nodes at level 4k (the leaves for
// k = 0) are added to the rightmost tile of tile level k, read back first if it already holds
// some; each tile that becomes full folds (15 node hashes) into one new node at level 4k + 4.
// Everything is collected before the batch is touched. Root and the proofs follow RFC 9162's
// recursive definitions (MTH, PATH, SUBPROOF) over SubtreeRoot(begin, end), which takes one node
// for a complete aligned subtree and otherwise splits at the largest power of two below its size;
// a node comes from one tile (folded from up to 8 of its hashes). Tiles read are cached for the
// call, so a proof reads at most about two tiles per 4 levels: one on the path to its leaf or
// size, one on the ragged right edge. Pure (reads through KvRead, writes into KvBatch);
// thread-compatible.
#include "ledger/log_tree.h"

#include <algorithm>
#include <bit>
#include <map>
#include <string>
#include <utility>

#include "ledger/codec.h"
#include "ledger/merkle_log.h"

namespace consent {
namespace {

static_assert(kLogTileWidth == 16 && kLogTileLevels * kLogTileHeight == 64,
              "a u64 size has complete subtrees up to level 63, in tile level 15");

std::string TileName(int tile_level, uint64_t tile_index) {
  return "log tile at tile level " + std::to_string(tile_level) + " index " +
         std::to_string(tile_index) + " (tree level " +
         std::to_string(tile_level * kLogTileHeight) + ")";
}

// The complete aligned subtree [begin, end) as (level, index), if it is one.
bool AsCompleteNode(uint64_t begin, uint64_t end, int* level, uint64_t* index) {
  uint64_t n = end - begin;
  if (!std::has_single_bit(n) || begin % n != 0) return false;
  *level = std::countr_zero(n);
  *index = begin / n;
  return true;
}

// The largest power of two strictly below n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// Reads tile (k, t) and checks its shape. nullopt when the tile is absent.
Result<std::optional<Bytes>> ReadTile(const KvRead& kv, int k, uint64_t t) {
  ASSIGN_OR_RETURN(std::optional<Bytes> value,
                   kv.Get(Column::kLogNodes, LogTileKey(static_cast<uint8_t>(k), t)));
  if (!value.has_value()) return value;
  if (value->size() % 32 != 0) {
    return Status::Corruption(TileName(k, t) + " has " + std::to_string(value->size()) +
                              " bytes, not a multiple of 32");
  }
  const size_t count = value->size() / 32;
  if (count == 0 || count > kLogTileWidth) {
    return Status::Corruption(TileName(k, t) + " holds " + std::to_string(count) +
                              " hashes, expected 1 to " + std::to_string(kLogTileWidth));
  }
  return value;
}

Hash32 HashAt(const Bytes& tile, size_t slot) {
  Hash32 h;
  std::copy(tile.begin() + 32 * slot, tile.begin() + 32 * (slot + 1), h.begin());
  return h;
}

// The root of `count` consecutive hashes of one tile from `slot` on, folded pairwise.
// REQUIRES: count is 1, 2, 4, 8 or 16 and the tile holds them.
Hash32 Fold(const Bytes& tile, size_t slot, size_t count) {
  Hash32 level[kLogTileWidth];
  for (size_t j = 0; j < count; ++j) level[j] = HashAt(tile, slot + j);
  for (; count > 1; count /= 2) {
    for (size_t j = 0; j < count / 2; ++j)
      level[j] = merkle::NodeHash(level[2 * j], level[2 * j + 1]);
  }
  return level[0];
}

// Complete nodes read from tiles, each tile fetched and checked once per reader. One reader
// serves one call (a root or a proof); its cache holds only the O(log n) tiles that call reads.
class TileReader {
 public:
  explicit TileReader(const KvRead& kv) : kv_(kv) {}

  // The hash of the complete node (level, index). Corruption if its tile is missing, malformed
  // or does not reach it.
  Result<Hash32> Node(int level, uint64_t index) {
    const int k = level / kLogTileHeight;
    const int r = level % kLogTileHeight;
    const uint64_t first = index << r;  // its first descendant at level 4k
    const size_t count = size_t{1} << r;
    const uint64_t t = first / kLogTileWidth;
    const size_t slot = first % kLogTileWidth;
    ASSIGN_OR_RETURN(const Bytes* tile, Tile(k, t));
    const size_t held = tile->size() / 32;
    if (slot + count > held) {
      return Status::Corruption(TileName(k, t) + " holds " + std::to_string(held) +
                                " hashes, not the node at level " + std::to_string(level) +
                                " index " + std::to_string(index));
    }
    return Fold(*tile, slot, count);
  }

 private:
  Result<const Bytes*> Tile(int k, uint64_t t) {
    auto it = cache_.find({k, t});
    if (it != cache_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<Bytes> value, ReadTile(kv_, k, t));
    if (!value.has_value()) return Status::Corruption(TileName(k, t) + " is missing");
    return &cache_.emplace(std::make_pair(k, t), std::move(*value)).first->second;
  }

  const KvRead& kv_;
  std::map<std::pair<int, uint64_t>, Bytes> cache_;  // node addresses stay put as it grows
};

// MTH(D[begin:end]). REQUIRES: begin < end <= the tree's size.
Result<Hash32> SubtreeRoot(TileReader& tiles, uint64_t begin, uint64_t end) {
  int level;
  uint64_t index;
  if (AsCompleteNode(begin, end, &level, &index)) return tiles.Node(level, index);
  uint64_t k = SplitPoint(end - begin);
  ASSIGN_OR_RETURN(Hash32 left, SubtreeRoot(tiles, begin, begin + k));
  ASSIGN_OR_RETURN(Hash32 right, SubtreeRoot(tiles, begin + k, end));
  return merkle::NodeHash(left, right);
}

// PATH(m, D[begin:end]) appended bottom-up. REQUIRES: begin <= m < end.
Status AppendPath(TileReader& tiles, uint64_t m, uint64_t begin, uint64_t end,
                  std::vector<Hash32>& out) {
  uint64_t n = end - begin;
  if (n == 1) return Status::Ok();
  uint64_t k = SplitPoint(n);
  uint64_t sib_begin = begin + k, sib_end = end;
  if (m - begin < k) {
    RETURN_IF_ERROR(AppendPath(tiles, m, begin, begin + k, out));
  } else {
    RETURN_IF_ERROR(AppendPath(tiles, m, begin + k, end, out));
    sib_begin = begin;
    sib_end = begin + k;
  }
  ASSIGN_OR_RETURN(Hash32 sibling, SubtreeRoot(tiles, sib_begin, sib_end));
  out.push_back(sibling);
  return Status::Ok();
}

// SUBPROOF(m, D[begin:end], complete) appended. REQUIRES: 0 < m <= end - begin.
Status AppendSubproof(TileReader& tiles, uint64_t m, uint64_t begin, uint64_t end, bool complete,
                      std::vector<Hash32>& out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (!complete) {
      ASSIGN_OR_RETURN(Hash32 h, SubtreeRoot(tiles, begin, end));
      out.push_back(h);
    }
    return Status::Ok();
  }
  uint64_t k = SplitPoint(n);
  uint64_t sib_begin = begin + k, sib_end = end;
  if (m <= k) {
    RETURN_IF_ERROR(AppendSubproof(tiles, m, begin, begin + k, complete, out));
  } else {
    RETURN_IF_ERROR(AppendSubproof(tiles, m - k, begin + k, end, /*complete=*/false, out));
    sib_begin = begin;
    sib_end = begin + k;
  }
  ASSIGN_OR_RETURN(Hash32 sibling, SubtreeRoot(tiles, sib_begin, sib_end));
  out.push_back(sibling);
  return Status::Ok();
}

}  // namespace

Bytes LogTileKey(uint8_t tile_level, uint64_t tile_index) {
  Writer w(9);
  w.U8(tile_level).U64(tile_index);
  return std::move(w).Take();
}

Result<bool> LogHasLeaf(const KvRead& kv, uint64_t index) {
  ASSIGN_OR_RETURN(std::optional<Bytes> tile, ReadTile(kv, 0, index / kLogTileWidth));
  return tile.has_value() && index % kLogTileWidth < tile->size() / 32;
}

Status LogTree::Append(const std::vector<Hash32>& leaf_hashes, KvBatch* batch) {
  if (leaf_hashes.size() > UINT64_MAX - size_) {
    return Status::Invalid("log tree: appending " + std::to_string(leaf_hashes.size()) +
                           " leaves overflows the size " + std::to_string(size_));
  }
  // Tiles to write, collected first and written to the batch only when every tile could be
  // read, so a failed call leaves the batch as it was.
  std::vector<std::pair<Bytes, Bytes>> writes;
  // The new nodes at level 4k, and the index of the first: the tree held `first` of them.
  std::vector<Hash32> fresh = leaf_hashes;
  uint64_t first = size_;
  for (int k = 0; !fresh.empty(); ++k) {
    if (k >= kLogTileLevels) {  // unreachable: level 64 would need 2^64 leaves
      return Status::Invalid("log tree: a node above level 63");
    }
    uint64_t t = first / kLogTileWidth;
    Bytes tile;
    tile.reserve(32 * kLogTileWidth);
    if (const size_t held = first % kLogTileWidth; held > 0) {
      // The rightmost tile already holds nodes [16t, first): keep them.
      ASSIGN_OR_RETURN(std::optional<Bytes> old, ReadTile(kv_, k, t));
      if (!old.has_value()) return Status::Corruption(TileName(k, t) + " is missing");
      if (old->size() / 32 < held) {
        return Status::Corruption(TileName(k, t) + " holds " + std::to_string(old->size() / 32) +
                                  " hashes, expected " + std::to_string(held));
      }
      tile.assign(old->begin(), old->begin() + 32 * held);
    }
    std::vector<Hash32> next;  // nodes at level 4k + 4 completed now: one per tile filled
    next.reserve(fresh.size() / kLogTileWidth + 1);
    for (size_t j = 0; j < fresh.size(); ++t) {
      for (; j < fresh.size() && tile.size() < 32 * kLogTileWidth; ++j)
        tile.insert(tile.end(), fresh[j].begin(), fresh[j].end());
      if (tile.size() == 32 * kLogTileWidth) next.push_back(Fold(tile, 0, kLogTileWidth));
      writes.emplace_back(LogTileKey(static_cast<uint8_t>(k), t), std::move(tile));
      tile = Bytes();
      tile.reserve(32 * kLogTileWidth);
    }
    fresh = std::move(next);
    first /= kLogTileWidth;
  }
  for (auto& [key, value] : writes) batch->Put(Column::kLogNodes, std::move(key), std::move(value));
  size_ += leaf_hashes.size();
  return Status::Ok();
}

Result<Hash32> LogTree::LeafHashAt(uint64_t index) const {
  if (index >= size_) {
    return Status::Invalid("log tree: leaf index " + std::to_string(index) +
                           " is not below the size " + std::to_string(size_));
  }
  TileReader tiles(kv_);
  return tiles.Node(0, index);
}

Result<Hash32> LogTree::Root(uint64_t size) const {
  if (size > size_) {
    return Status::Invalid("log tree: root of size " + std::to_string(size) +
                           " asked of a tree of size " + std::to_string(size_));
  }
  if (size == 0) return merkle::EmptyRoot();
  TileReader tiles(kv_);
  return SubtreeRoot(tiles, 0, size);
}

Result<std::vector<Hash32>> LogTree::InclusionProof(uint64_t index, uint64_t size) const {
  if (size > size_) {
    return Status::Invalid("inclusion proof: tree size " + std::to_string(size) +
                           " exceeds the log size " + std::to_string(size_));
  }
  if (index >= size) {
    return Status::Invalid("inclusion proof: leaf index " + std::to_string(index) +
                           " is not below tree size " + std::to_string(size));
  }
  std::vector<Hash32> proof;
  proof.reserve(64);
  TileReader tiles(kv_);
  RETURN_IF_ERROR(AppendPath(tiles, index, 0, size, proof));
  return proof;
}

Result<std::vector<Hash32>> LogTree::ConsistencyProof(uint64_t size1, uint64_t size2) const {
  if (size1 == 0) return Status::Invalid("consistency proof: first tree size is 0");
  if (size1 > size2) {
    return Status::Invalid("consistency proof: first tree size " + std::to_string(size1) +
                           " exceeds second tree size " + std::to_string(size2));
  }
  if (size2 > size_) {
    return Status::Invalid("consistency proof: tree size " + std::to_string(size2) +
                           " exceeds the log size " + std::to_string(size_));
  }
  std::vector<Hash32> proof;
  proof.reserve(64);
  TileReader tiles(kv_);
  RETURN_IF_ERROR(AppendSubproof(tiles, size1, 0, size2, /*complete=*/true, proof));
  return proof;
}

}  // namespace consent
