// The consent state's sparse Merkle tree (PROTOCOL.md section 3): a binary tree of depth 256 over
// the bits of a 32-byte state_key (most significant bit of byte 0 first), in compact form:
//   empty subtree            -> 32 zero bytes
//   subtree with one entry   -> H(0x02 || state_key || H(state_value))   (at any depth)
//   any other subtree        -> H(0x03 || left || right)
//
// `ReferenceSmt` is the in-memory reference implementation (an ordered map): simple and obviously
// right, used by tests, vector generation and as the oracle for the RocksDB-backed tree. The proof
// format and the verifier are shared by every implementation. Pure and deterministic; a
// ReferenceSmt is thread-compatible; the free functions are thread-safe.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent::smt {

inline constexpr size_t kDepth = 256;

// H(0x02 || key || value_hash)
Hash32 LeafHash(const Hash32& key, const Hash32& value_hash);
// H(0x03 || left || right)
Hash32 NodeHash(const Hash32& left, const Hash32& right);
// Bit `depth` of key (0 = most significant bit of byte 0). REQUIRES: depth < 256.
inline int Bit(const Hash32& key, size_t depth) { return (key[depth / 8] >> (7 - depth % 8)) & 1; }

// What the first subtree on the key's path with at most one entry holds.
struct ProofLeaf {
  Hash32 key{};
  Hash32 value_hash{};
  bool operator==(const ProofLeaf&) const = default;
};

struct Proof {
  // Sibling hashes from the root down: siblings[0] is the root's other child.
  std::vector<Hash32> siblings;
  // The single leaf in the terminal subtree, or nullopt when it is empty.
  std::optional<ProofLeaf> leaf;
  bool operator==(const Proof&) const = default;
};

// Verifies `proof` for `key` against `root`.
//  - value present: membership of (key, H(value)) — proof.leaf must be the key's own leaf with
//    value_hash == H(value);
//  - value absent: non-membership — proof.leaf empty, or a leaf for another key that shares the
//    first siblings.size() bits with `key`.
// Rebuilds the root bottom-up and compares. Rejects more than 256 siblings, a leaf that does not
// lie on the key's path, and (since the tree is compact) a proof whose last sibling is the empty
// hash: with an empty terminal its parent would be empty, and with a lone leaf its parent would
// itself hold one entry, so no honest proof has one. (Whether a non-empty sibling is a lone leaf
// cannot be seen from its hash; such a forged shape simply fails the root comparison.)
// In the JSON of PROTOCOL.md section 9 a membership proof's leaf is null (implied by key and
// value); parsers fill `leaf` in before calling this. Returns a Status naming the reason.
Status VerifyProof(const Hash32& root, const Hash32& key, const std::optional<Bytes>& value,
                   const Proof& proof);

// Like VerifyProof, but with the value already hashed (membership) or absent.
Status VerifyProofHashed(const Hash32& root, const Hash32& key,
                         const std::optional<Hash32>& value_hash, const Proof& proof);

class ReferenceSmt {
 public:
  // Inserts or replaces the value for key.
  void Set(const Hash32& key, ByteView value);
  void Erase(const Hash32& key);
  std::optional<Bytes> Get(const Hash32& key) const;
  size_t size() const { return entries_.size(); }

  Hash32 Root() const;
  Proof Prove(const Hash32& key) const;

 private:
  // key -> (value, H(value))
  std::map<Hash32, std::pair<Bytes, Hash32>> entries_;
};

}  // namespace consent::smt
