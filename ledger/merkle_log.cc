// RFC 6962 / RFC 9162 Merkle tree maths for the global log (PROTOCOL.md section 4), written from
// the RFC 9162 text: MTH (2.1.1), PATH (2.1.3.1), PROOF/SUBPROOF (2.1.4.1) and the two verifiers
// (2.1.3.2, 2.1.4.2). Pure functions with no shared state; thread-safe.
//
// Sizes and indices are uint64_t. The only arithmetic on them is `size - 1` (after checking
// size > 0), subtraction of a smaller value, right shifts and std::bit_floor, so nothing
// overflows for any 64-bit input. Status codes: kInvalidArgument for arguments or a proof of the
// wrong shape (index out of range, wrong length), kRejected for a well-formed proof whose hashes
// do not match.
#include "ledger/merkle_log.h"

#include <bit>
#include <cassert>
#include <string>

#include "crypto/sha256.h"

namespace consent::merkle {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

// The largest power of two strictly less than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) {
  assert(n >= 2);
  return std::bit_floor(n - 1);
}

// MTH(D[begin:end]) with begin < end (the empty case is handled by the caller).
Hash32 SubtreeRoot(const std::vector<Hash32>& leaves, uint64_t begin, uint64_t end) {
  uint64_t n = end - begin;
  if (n == 1) return leaves[begin];
  uint64_t k = SplitPoint(n);
  return NodeHash(SubtreeRoot(leaves, begin, begin + k), SubtreeRoot(leaves, begin + k, end));
}

// PATH(m, D[begin:end]) appended to `out` bottom-up. REQUIRES: begin <= m < end.
void AppendPath(const std::vector<Hash32>& leaves, uint64_t m, uint64_t begin, uint64_t end,
                std::vector<Hash32>& out) {
  uint64_t n = end - begin;
  if (n == 1) return;
  uint64_t k = SplitPoint(n);
  if (m - begin < k) {
    AppendPath(leaves, m, begin, begin + k, out);
    out.push_back(SubtreeRoot(leaves, begin + k, end));
  } else {
    AppendPath(leaves, m, begin + k, end, out);
    out.push_back(SubtreeRoot(leaves, begin, begin + k));
  }
}

// SUBPROOF(m, D[begin:end], b) appended to `out`. REQUIRES: 0 < m <= end - begin.
void AppendSubproof(const std::vector<Hash32>& leaves, uint64_t m, uint64_t begin, uint64_t end,
                    bool complete, std::vector<Hash32>& out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out.push_back(SubtreeRoot(leaves, begin, end));
    return;
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    AppendSubproof(leaves, m, begin, begin + k, complete, out);
    out.push_back(SubtreeRoot(leaves, begin + k, end));
  } else {
    AppendSubproof(leaves, m - k, begin + k, end, /*complete=*/false, out);
    out.push_back(SubtreeRoot(leaves, begin, begin + k));
  }
}

bool IsPowerOfTwo(uint64_t x) { return std::has_single_bit(x); }

}  // namespace

Hash32 LeafHash(ByteView leaf_data) {
  const uint8_t prefix = kLeafPrefix;
  return Sha256({ByteView(&prefix, 1), leaf_data});
}

Hash32 NodeHash(const Hash32& left, const Hash32& right) {
  const uint8_t prefix = kNodePrefix;
  return Sha256({ByteView(&prefix, 1), left, right});
}

Hash32 EmptyRoot() { return Sha256(ByteView()); }

Hash32 RootFromLeafHashes(const std::vector<Hash32>& leaf_hashes, uint64_t begin, uint64_t end) {
  assert(begin <= end && end <= leaf_hashes.size());
  if (begin == end) return EmptyRoot();
  return SubtreeRoot(leaf_hashes, begin, end);
}

Hash32 RootFromLeafHashes(const std::vector<Hash32>& leaf_hashes) {
  return RootFromLeafHashes(leaf_hashes, 0, leaf_hashes.size());
}

Result<std::vector<Hash32>> InclusionProof(const std::vector<Hash32>& leaf_hashes, uint64_t index,
                                           uint64_t size) {
  if (size > leaf_hashes.size()) {
    return Status::Invalid("inclusion proof: tree size " + std::to_string(size) + " exceeds the " +
                           std::to_string(leaf_hashes.size()) + " known leaves");
  }
  if (index >= size) {
    return Status::Invalid("inclusion proof: leaf index " + std::to_string(index) +
                           " is not below tree size " + std::to_string(size));
  }
  std::vector<Hash32> proof;
  proof.reserve(64);
  AppendPath(leaf_hashes, index, 0, size, proof);
  return proof;
}

Result<std::vector<Hash32>> ConsistencyProof(const std::vector<Hash32>& leaf_hashes, uint64_t size1,
                                             uint64_t size2) {
  if (size1 == 0) return Status::Invalid("consistency proof: first tree size is 0");
  if (size1 > size2) {
    return Status::Invalid("consistency proof: first tree size " + std::to_string(size1) +
                           " exceeds second tree size " + std::to_string(size2));
  }
  if (size2 > leaf_hashes.size()) {
    return Status::Invalid("consistency proof: tree size " + std::to_string(size2) +
                           " exceeds the " + std::to_string(leaf_hashes.size()) + " known leaves");
  }
  std::vector<Hash32> proof;
  proof.reserve(64);
  AppendSubproof(leaf_hashes, size1, 0, size2, /*complete=*/true, proof);
  return proof;
}

Result<Hash32> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash32& leaf_hash,
                                      const std::vector<Hash32>& proof) {
  // RFC 9162 2.1.3.2, steps 1-5 (without the final root comparison).
  if (index >= size) {
    return Status::Invalid("inclusion: leaf index " + std::to_string(index) +
                           " is not below tree size " + std::to_string(size));
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash32 r = leaf_hash;
  for (const Hash32& p : proof) {
    if (sn == 0) {
      return Status::Invalid("inclusion: proof has " + std::to_string(proof.size()) +
                             " hashes, more than a tree of size " + std::to_string(size) +
                             " needs for index " + std::to_string(index));
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Status::Invalid("inclusion: proof has " + std::to_string(proof.size()) +
                           " hashes, fewer than a tree of size " + std::to_string(size) +
                           " needs for index " + std::to_string(index));
  }
  return r;
}

Status VerifyInclusion(uint64_t index, uint64_t size, const Hash32& leaf_hash,
                       const std::vector<Hash32>& proof, const Hash32& root) {
  ASSIGN_OR_RETURN(Hash32 computed, RootFromInclusionProof(index, size, leaf_hash, proof));
  if (computed != root) {
    return Status::Rejected("inclusion: computed root does not match the tree head");
  }
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash32& root1, const Hash32& root2,
                         const std::vector<Hash32>& proof) {
  if (size1 == 0) return Status::Invalid("consistency: first tree size is 0");
  if (size2 < size1) {
    return Status::Invalid("consistency: second tree size " + std::to_string(size2) +
                           " is smaller than first tree size " + std::to_string(size1));
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return Status::Invalid("consistency: equal tree sizes need an empty proof");
    }
    if (root1 != root2) return Status::Rejected("consistency: equal tree sizes, different roots");
    return Status::Ok();
  }
  // RFC 9162 2.1.4.2.
  if (proof.empty()) return Status::Invalid("consistency: empty proof for different sizes");
  size_t pos = 0;
  Hash32 first;
  if (IsPowerOfTwo(size1)) {
    first = root1;  // step 2: the old root is the implicit first element
  } else {
    first = proof[pos++];
  }
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash32 fr = first;
  Hash32 sr = first;
  for (; pos < proof.size(); ++pos) {
    const Hash32& c = proof[pos];
    if (sn == 0) {
      return Status::Invalid("consistency: proof has " + std::to_string(proof.size()) +
                             " hashes, more than sizes " + std::to_string(size1) + " -> " +
                             std::to_string(size2) + " need");
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return Status::Invalid("consistency: proof has " + std::to_string(proof.size()) +
                           " hashes, fewer than sizes " + std::to_string(size1) + " -> " +
                           std::to_string(size2) + " need");
  }
  if (fr != root1) return Status::Rejected("consistency: proof does not match the first root");
  if (sr != root2) return Status::Rejected("consistency: proof does not match the second root");
  return Status::Ok();
}

}  // namespace consent::merkle
