// The global log's Merkle maths (PROTOCOL.md section 4): RFC 6962 / RFC 9162 hashing, tree heads,
// inclusion proofs (RFC 9162 2.1.3) and consistency proofs (RFC 9162 2.1.4), and their verifiers.
//
// Everything here is pure and deterministic (no I/O); functions are thread-safe. The
// `*Proof` builders work on an in-memory list of leaf hashes: the reference implementation that
// the RocksDB-backed log tree must agree with. The verifiers are what an auditor runs.
#pragma once

#include <cstdint>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent::merkle {

// H(0x00 || leaf_data)
Hash32 LeafHash(ByteView leaf_data);
// H(0x01 || left || right)
Hash32 NodeHash(const Hash32& left, const Hash32& right);
// H() of nothing: the root of the empty tree.
Hash32 EmptyRoot();

// MTH over leaf_hashes[begin, end). Root of the whole list when called with (0, size()).
// REQUIRES: begin <= end <= leaf_hashes.size().
Hash32 RootFromLeafHashes(const std::vector<Hash32>& leaf_hashes, uint64_t begin, uint64_t end);
Hash32 RootFromLeafHashes(const std::vector<Hash32>& leaf_hashes);

// RFC 9162 2.1.3.1: the inclusion proof of leaf `index` in the tree of the first `size` leaves.
// Fails (InvalidArgument) unless index < size <= leaf_hashes.size().
Result<std::vector<Hash32>> InclusionProof(const std::vector<Hash32>& leaf_hashes, uint64_t index,
                                           uint64_t size);

// RFC 9162 2.1.4.1: the consistency proof between sizes size1 and size2.
// Fails unless 0 < size1 <= size2 <= leaf_hashes.size(). size1 == size2 gives an empty proof.
Result<std::vector<Hash32>> ConsistencyProof(const std::vector<Hash32>& leaf_hashes, uint64_t size1,
                                             uint64_t size2);

// RFC 9162 2.1.3.2. OK iff the proof shows leaf_hash at index in a tree of `size` with `root`;
// otherwise a Status saying why (index out of range, wrong proof length, root mismatch).
Status VerifyInclusion(uint64_t index, uint64_t size, const Hash32& leaf_hash,
                       const std::vector<Hash32>& proof, const Hash32& root);

// Recomputes the root from an inclusion proof (the verifier's core); fails on a bad index, size
// or proof length.
Result<Hash32> RootFromInclusionProof(uint64_t index, uint64_t size, const Hash32& leaf_hash,
                                      const std::vector<Hash32>& proof);

// RFC 9162 2.1.4.2. size1 == 0 is rejected (nothing to prove; as transparency-dev does);
// size1 == size2 requires an empty proof and root1 == root2; size2 < size1 is rejected.
Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash32& root1, const Hash32& root2,
                         const std::vector<Hash32>& proof);

}  // namespace consent::merkle
