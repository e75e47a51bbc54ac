// LogTree: the global log's RFC 9162 tree kept as complete-subtree records in column kLogNodes.
// Append writes each new leaf and every node that the new leaves complete, hashing parents from
// their children (children completed in the same call come from a local map, older ones from
// kv). Root and the proofs follow RFC 9162's recursive definitions (MTH, PATH, SUBPROOF) over
// SubtreeRoot(begin, end), which reads one record for a complete aligned subtree and otherwise
// splits at the largest power of two below its size. In those recursions every left part is a
// complete aligned subtree (one read) and at most one ragged right-edge subtree is expanded per
// proof (at most one read per level), so a proof costs at most about 2 * log2(n) reads.
// Pure (reads through KvRead, writes into KvBatch); thread-compatible.
#include "ledger/log_tree.h"

#include <bit>
#include <map>
#include <string>
#include <utility>

#include "ledger/codec.h"
#include "ledger/merkle_log.h"

namespace consent {
namespace {

constexpr int kMaxLevel = 63;  // a u64 size has complete subtrees up to level 63

std::string NodeName(uint8_t level, uint64_t index) {
  return "log tree node at level " + std::to_string(level) + " index " + std::to_string(index);
}

// The complete aligned subtree [begin, end) as (level, index), if it is one.
bool AsCompleteNode(uint64_t begin, uint64_t end, uint8_t* level, uint64_t* index) {
  uint64_t n = end - begin;
  if (!std::has_single_bit(n) || begin % n != 0) return false;
  *level = static_cast<uint8_t>(std::countr_zero(n));
  *index = begin / n;
  return true;
}

// The largest power of two strictly below n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// Reads and checks one stored node.
Result<Hash32> ReadNode(const KvRead& kv, uint8_t level, uint64_t index) {
  ASSIGN_OR_RETURN(std::optional<Bytes> value, kv.Get(Column::kLogNodes, LogNodeKey(level, index)));
  if (!value.has_value()) return Status::Corruption(NodeName(level, index) + " is missing");
  if (value->size() != 32) {
    return Status::Corruption(NodeName(level, index) + " has " + std::to_string(value->size()) +
                              " bytes, expected 32");
  }
  Hash32 h;
  std::copy(value->begin(), value->end(), h.begin());
  return h;
}

// MTH(D[begin:end]). REQUIRES: begin < end <= the tree's size.
Result<Hash32> SubtreeRoot(const KvRead& kv, uint64_t begin, uint64_t end) {
  uint8_t level;
  uint64_t index;
  if (AsCompleteNode(begin, end, &level, &index)) return ReadNode(kv, level, index);
  uint64_t k = SplitPoint(end - begin);
  ASSIGN_OR_RETURN(Hash32 left, SubtreeRoot(kv, begin, begin + k));
  ASSIGN_OR_RETURN(Hash32 right, SubtreeRoot(kv, begin + k, end));
  return merkle::NodeHash(left, right);
}

// PATH(m, D[begin:end]) appended bottom-up. REQUIRES: begin <= m < end.
Status AppendPath(const KvRead& kv, uint64_t m, uint64_t begin, uint64_t end,
                  std::vector<Hash32>& out) {
  uint64_t n = end - begin;
  if (n == 1) return Status::Ok();
  uint64_t k = SplitPoint(n);
  uint64_t sib_begin = begin + k, sib_end = end;
  if (m - begin < k) {
    RETURN_IF_ERROR(AppendPath(kv, m, begin, begin + k, out));
  } else {
    RETURN_IF_ERROR(AppendPath(kv, m, begin + k, end, out));
    sib_begin = begin;
    sib_end = begin + k;
  }
  ASSIGN_OR_RETURN(Hash32 sibling, SubtreeRoot(kv, sib_begin, sib_end));
  out.push_back(sibling);
  return Status::Ok();
}

// SUBPROOF(m, D[begin:end], complete) appended. REQUIRES: 0 < m <= end - begin.
Status AppendSubproof(const KvRead& kv, uint64_t m, uint64_t begin, uint64_t end, bool complete,
                      std::vector<Hash32>& out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (!complete) {
      ASSIGN_OR_RETURN(Hash32 h, SubtreeRoot(kv, begin, end));
      out.push_back(h);
    }
    return Status::Ok();
  }
  uint64_t k = SplitPoint(n);
  uint64_t sib_begin = begin + k, sib_end = end;
  if (m <= k) {
    RETURN_IF_ERROR(AppendSubproof(kv, m, begin, begin + k, complete, out));
  } else {
    RETURN_IF_ERROR(AppendSubproof(kv, m - k, begin + k, end, /*complete=*/false, out));
    sib_begin = begin;
    sib_end = begin + k;
  }
  ASSIGN_OR_RETURN(Hash32 sibling, SubtreeRoot(kv, sib_begin, sib_end));
  out.push_back(sibling);
  return Status::Ok();
}

}  // namespace

Bytes LogNodeKey(uint8_t level, uint64_t index) {
  Writer w(9);
  w.U8(level).U64(index);
  return std::move(w).Take();
}

Status LogTree::Append(const std::vector<Hash32>& leaf_hashes, KvBatch* batch) {
  if (leaf_hashes.size() > UINT64_MAX - size_) {
    return Status::Invalid("log tree: appending " + std::to_string(leaf_hashes.size()) +
                           " leaves overflows the size " + std::to_string(size_));
  }
  // Nodes completed by this call, keyed by (level, index). Collected first and written to the
  // batch only when every parent could be computed, so a failed call leaves the batch as it was.
  std::map<std::pair<uint8_t, uint64_t>, Hash32> pending;
  auto child = [&](uint8_t level, uint64_t index) -> Result<Hash32> {
    auto it = pending.find({level, index});
    if (it != pending.end()) return it->second;
    return ReadNode(kv_, level, index);
  };
  for (size_t j = 0; j < leaf_hashes.size(); ++j) {
    const uint64_t pos = size_ + j;
    pending[{0, pos}] = leaf_hashes[j];
    // Node (L, pos >> L) is complete once its last leaf, pos, is present: (pos + 1) is then a
    // multiple of 2^L. Its right child was completed just now; its left one possibly earlier.
    for (int level = 1; level <= kMaxLevel && ((pos + 1) & ((uint64_t{1} << level) - 1)) == 0;
         ++level) {
      const uint64_t index = pos >> level;
      const auto child_level = static_cast<uint8_t>(level - 1);
      ASSIGN_OR_RETURN(Hash32 left, child(child_level, 2 * index));
      ASSIGN_OR_RETURN(Hash32 right, child(child_level, 2 * index + 1));
      pending[{static_cast<uint8_t>(level), index}] = merkle::NodeHash(left, right);
    }
  }
  for (const auto& [pos, hash] : pending)
    batch->Put(Column::kLogNodes, LogNodeKey(pos.first, pos.second), hash);
  size_ += leaf_hashes.size();
  return Status::Ok();
}

Result<Hash32> LogTree::LeafHashAt(uint64_t index) const {
  if (index >= size_) {
    return Status::Invalid("log tree: leaf index " + std::to_string(index) +
                           " is not below the size " + std::to_string(size_));
  }
  return ReadNode(kv_, 0, index);
}

Result<Hash32> LogTree::Root(uint64_t size) const {
  if (size > size_) {
    return Status::Invalid("log tree: root of size " + std::to_string(size) +
                           " asked of a tree of size " + std::to_string(size_));
  }
  if (size == 0) return merkle::EmptyRoot();
  return SubtreeRoot(kv_, 0, size);
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
  RETURN_IF_ERROR(AppendPath(kv_, index, 0, size, proof));
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
  RETURN_IF_ERROR(AppendSubproof(kv_, size1, 0, size2, /*complete=*/true, proof));
  return proof;
}

}  // namespace consent
