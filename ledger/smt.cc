// The consent state's compact sparse Merkle tree (PROTOCOL.md section 3): hashing, the in-memory
// ReferenceSmt and the shared proof verifier. A ReferenceSmt is thread-compatible (const methods
// may run concurrently; Set/Erase need exclusive access); the free functions are thread-safe.
//
// Root() and Prove() recurse over ranges of the sorted entries. A range of 0 entries hashes to
// zeros and a range of 1 entry to its leaf hash at any depth, so recursion stops there; otherwise
// the range is split at the first key whose bit at this depth is 1 (a binary search, since the
// keys are sorted and share the bits above this depth). Each node with two or more entries
// below it is hashed once, so Root() costs O(n) hashes for random keys (O(n * log n) comparisons
// for the splits), not O(n * 256).
//
// Status codes of the verifier: kInvalidArgument for a proof of impossible shape (too many
// siblings, a leaf off the key's path, a terminal the compact tree cannot produce), kRejected for
// a proof that contradicts the claim (wrong leaf or value) or whose root does not match.
#include "ledger/smt.h"

#include <algorithm>
#include <string>

#include "crypto/sha256.h"

namespace consent::smt {
namespace {

constexpr uint8_t kLeafPrefix = 0x02;
constexpr uint8_t kNodePrefix = 0x03;
constexpr Hash32 kEmpty{};

using Entry = std::pair<const Hash32, std::pair<Bytes, Hash32>>;
using EntryIt = std::vector<const Entry*>::const_iterator;

// Random-access view of the sorted entries, so that splits are binary searches.
std::vector<const Entry*> SortedView(const std::map<Hash32, std::pair<Bytes, Hash32>>& entries) {
  std::vector<const Entry*> view;
  view.reserve(entries.size());
  for (const Entry& e : entries) view.push_back(&e);
  return view;
}

// The first entry in [begin, end) whose key has bit `depth` set. REQUIRES: the keys in the range
// are sorted and share their first `depth` bits.
EntryIt SplitAt(EntryIt begin, EntryIt end, size_t depth) {
  return std::partition_point(begin, end,
                              [depth](const Entry* e) { return Bit(e->first, depth) == 0; });
}

// Hash of the subtree at `depth` holding exactly the entries [begin, end).
Hash32 SubtreeHash(EntryIt begin, EntryIt end, size_t depth) {
  if (begin == end) return kEmpty;
  if (end - begin == 1) return LeafHash((*begin)->first, (*begin)->second.second);
  // Two or more distinct keys differ at some bit below 256, so depth < kDepth here.
  EntryIt mid = SplitAt(begin, end, depth);
  return NodeHash(SubtreeHash(begin, mid, depth + 1), SubtreeHash(mid, end, depth + 1));
}

bool SharesPrefix(const Hash32& a, const Hash32& b, size_t bits) {
  for (size_t i = 0; i < bits; ++i) {
    if (Bit(a, i) != Bit(b, i)) return false;
  }
  return true;
}

}  // namespace

Hash32 LeafHash(const Hash32& key, const Hash32& value_hash) {
  const uint8_t prefix = kLeafPrefix;
  return Sha256({ByteView(&prefix, 1), key, value_hash});
}

Hash32 NodeHash(const Hash32& left, const Hash32& right) {
  const uint8_t prefix = kNodePrefix;
  return Sha256({ByteView(&prefix, 1), left, right});
}

void ReferenceSmt::Set(const Hash32& key, ByteView value) {
  entries_[key] = {Bytes(value.begin(), value.end()), Sha256(value)};
}

void ReferenceSmt::Erase(const Hash32& key) { entries_.erase(key); }

std::optional<Bytes> ReferenceSmt::Get(const Hash32& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.first;
}

Hash32 ReferenceSmt::Root() const {
  std::vector<const Entry*> view = SortedView(entries_);
  return SubtreeHash(view.begin(), view.end(), 0);
}

Proof ReferenceSmt::Prove(const Hash32& key) const {
  std::vector<const Entry*> view = SortedView(entries_);
  Proof proof;
  EntryIt begin = view.begin();
  EntryIt end = view.end();
  size_t depth = 0;
  // Walk down the key's path until the subtree holds at most one entry.
  while (end - begin > 1) {
    EntryIt mid = SplitAt(begin, end, depth);
    if (Bit(key, depth) == 0) {
      proof.siblings.push_back(SubtreeHash(mid, end, depth + 1));
      end = mid;
    } else {
      proof.siblings.push_back(SubtreeHash(begin, mid, depth + 1));
      begin = mid;
    }
    ++depth;
  }
  if (begin != end) proof.leaf = ProofLeaf{(*begin)->first, (*begin)->second.second};
  return proof;
}

Status VerifyProofHashed(const Hash32& root, const Hash32& key,
                         const std::optional<Hash32>& value_hash, const Proof& proof) {
  const size_t depth = proof.siblings.size();
  if (depth > kDepth) {
    return Status::Invalid("state proof: " + std::to_string(depth) + " siblings, at most " +
                           std::to_string(kDepth) + " allowed");
  }
  if (value_hash.has_value()) {
    if (!proof.leaf.has_value()) {
      return Status::Rejected("state proof: membership claimed but the proof shows no leaf");
    }
    if (proof.leaf->key != key) {
      return Status::Rejected("state proof: membership claimed but the leaf has another key");
    }
    if (proof.leaf->value_hash != *value_hash) {
      return Status::Rejected("state proof: the leaf's value hash differs from the value's");
    }
  } else if (proof.leaf.has_value()) {
    if (proof.leaf->key == key) {
      return Status::Rejected("state proof: non-membership claimed but the leaf is the key's own");
    }
    if (!SharesPrefix(proof.leaf->key, key, depth)) {
      return Status::Invalid("state proof: the leaf does not lie on the key's path");
    }
  }
  // In the compact tree a subtree with at most one entry is never split, so the terminal's
  // sibling cannot be empty: the parent would itself hold at most one entry and be the terminal.
  // (An empty terminal beside a lone leaf cannot occur either, but a hash does not show that.)
  if (depth > 0 && proof.siblings.back() == kEmpty) {
    return Status::Invalid("state proof: terminal subtree beside an empty sibling cannot occur");
  }
  Hash32 h = proof.leaf.has_value() ? LeafHash(proof.leaf->key, proof.leaf->value_hash) : kEmpty;
  for (size_t i = depth; i-- > 0;) {
    h = Bit(key, i) == 0 ? NodeHash(h, proof.siblings[i]) : NodeHash(proof.siblings[i], h);
  }
  if (h != root) return Status::Rejected("state proof: computed root does not match");
  return Status::Ok();
}

Status VerifyProof(const Hash32& root, const Hash32& key, const std::optional<Bytes>& value,
                   const Proof& proof) {
  std::optional<Hash32> value_hash;
  if (value.has_value()) value_hash = Sha256(*value);
  return VerifyProofHashed(root, key, value_hash, proof);
}

}  // namespace consent::smt
