// StateTree: the compact sparse Merkle tree of PROTOCOL.md section 3 kept as one record per
// reachable non-empty subtree in column kStateNodes (grammar in state_tree.h).
//
// Update sorts the changes and recurses from the root record. A subtree without changes is
// neither read nor rewritten (its hash comes from the parent's record), with one exception: when
// its sibling becomes empty, its root record is read to learn whether it is a lone leaf, which
// must then move up. A leaf record that meets changes is merged with them and the subtree is
// rebuilt from the resulting entries; an internal record splits the changes by the bit at its
// depth. A subtree that ends up holding one entry is reported upwards as a leaf, and the highest
// subtree holding only that entry stores it. Every record read is remembered; at the end, each
// one that the new tree no longer has is deleted and each new or changed record is written, so
// the stored records always equal those of a tree built afresh from the same entries.
//
// Pure (reads through KvRead, writes into KvBatch); thread-compatible.
#include "ledger/state_tree.h"

#include <algorithm>
#include <map>
#include <span>
#include <string>

#include "crypto/hex.h"
#include "ledger/codec.h"

namespace consent {
namespace {

constexpr uint8_t kInternalTag = 1;
constexpr uint8_t kLeafTag = 2;
constexpr size_t kRecordSize = 65;
constexpr Hash32 kEmpty{};

// The first `depth` bits of `key`, the rest zero.
Hash32 PrefixOf(const Hash32& key, size_t depth) {
  Hash32 p{};
  for (size_t i = 0; i < depth / 8; ++i) p[i] = key[i];
  if (depth % 8 != 0) p[depth / 8] = key[depth / 8] & uint8_t(0xff00 >> (depth % 8));
  return p;
}

Hash32 WithBit(Hash32 prefix, size_t depth) {
  prefix[depth / 8] |= uint8_t(0x80 >> (depth % 8));
  return prefix;
}

std::string Where(size_t depth, const Hash32& prefix) {
  return "state tree record at depth " + std::to_string(depth) + " prefix " + ToHex(prefix);
}

// A decoded record: internal (a = left hash, b = right hash) or leaf (a = key, b = value hash).
struct Record {
  bool leaf = false;
  Hash32 a{};
  Hash32 b{};
  Hash32 Hash() const { return leaf ? smt::LeafHash(a, b) : smt::NodeHash(a, b); }
};

Bytes Encode(const Record& r) {
  Writer w(kRecordSize);
  w.U8(r.leaf ? kLeafTag : kInternalTag).Fixed(r.a).Fixed(r.b);
  return std::move(w).Take();
}

Result<Record> Decode(ByteView value, size_t depth, const Hash32& prefix) {
  Reader r(value);
  Record rec;
  uint8_t tag = 0;
  Status st = r.U8(&tag, "tag");
  if (st.ok()) st = r.Fixed(&rec.a, "first hash");
  if (st.ok()) st = r.Fixed(&rec.b, "second hash");
  if (st.ok()) st = r.ExpectEnd("record");
  if (st.ok() && tag != kInternalTag && tag != kLeafTag) {
    st = Status::Invalid("unknown tag " + std::to_string(tag));
  }
  if (st.ok() && tag == kLeafTag && PrefixOf(rec.a, depth) != prefix) {
    st = Status::Invalid("leaf key " + ToHex(rec.a) + " does not lie under the prefix");
  }
  if (st.ok() && tag == kInternalTag && depth >= smt::kDepth) {
    st = Status::Invalid("internal record below the last level");
  }
  if (st.ok() && tag == kInternalTag && rec.a == kEmpty && rec.b == kEmpty) {
    st = Status::Invalid("internal record with two empty children");
  }
  if (!st.ok()) return Status::Corruption(Where(depth, prefix) + " is malformed: " + st.message());
  rec.leaf = tag == kLeafTag;
  return rec;
}

// Reads the record at (depth, prefix); nullopt when there is none.
Result<std::optional<Record>> ReadRecord(const KvRead& kv, size_t depth, const Hash32& prefix) {
  ASSIGN_OR_RETURN(std::optional<Bytes> value,
                   kv.Get(Column::kStateNodes, StateNodeKey(static_cast<uint16_t>(depth), prefix)));
  if (!value.has_value()) return std::optional<Record>();
  ASSIGN_OR_RETURN(Record rec, Decode(*value, depth, prefix));
  return std::optional<Record>(rec);
}

// Reads the record of a child whose parent gives its (non-empty) hash; a missing record or one
// with another hash is corruption.
Result<Record> ReadChild(const KvRead& kv, size_t depth, const Hash32& prefix,
                         const Hash32& expected) {
  ASSIGN_OR_RETURN(std::optional<Record> rec, ReadRecord(kv, depth, prefix));
  if (!rec.has_value()) {
    return Status::Corruption(Where(depth, prefix) + " is missing (its parent names a child)");
  }
  if (rec->Hash() != expected) {
    return Status::Corruption(Where(depth, prefix) + " does not hash to its parent's child hash");
  }
  return *rec;
}

// One Update call: the recursion and the records it read and produced.
class Updater {
 public:
  explicit Updater(const KvRead& kv) : kv_(kv) {}

  // A subtree after the update: empty, one entry (a leaf not yet placed: whoever knows the
  // highest subtree holding only it stores it), an internal node whose record is already in
  // new_, or an untouched subtree known only by its hash (possibly empty).
  struct Sub {
    enum Kind { kEmptySub, kLeaf, kNode, kUntouched } kind = kEmptySub;
    Hash32 hash{};  // kNode, kUntouched
    Hash32 key{};   // kLeaf
    Hash32 value_hash{};
    Hash32 Hashed() const {
      switch (kind) {
        case kEmptySub:
          return kEmpty;
        case kLeaf:
          return smt::LeafHash(key, value_hash);
        default:
          return hash;
      }
    }
  };
  using Changes = std::span<const StateTreeChange>;

  Result<Hash32> Run(const std::vector<StateTreeChange>& sorted, KvBatch* batch) {
    const Hash32 root_prefix{};
    ASSIGN_OR_RETURN(std::optional<Record> old, Read(0, root_prefix));
    ASSIGN_OR_RETURN(Sub sub, Apply(0, root_prefix, old, sorted));
    if (sub.kind == Sub::kLeaf) Place(0, sub);
    for (const auto& [key, value] : old_) {
      if (new_.find(key) == new_.end()) batch->Delete(Column::kStateNodes, key);
    }
    for (const auto& [key, value] : new_) {
      auto it = old_.find(key);
      if (it == old_.end() || it->second != value) batch->Put(Column::kStateNodes, key, value);
    }
    return sub.Hashed();
  }

 private:
  Result<std::optional<Record>> Read(size_t depth, const Hash32& prefix) {
    ASSIGN_OR_RETURN(std::optional<Record> rec, ReadRecord(kv_, depth, prefix));
    if (rec.has_value()) old_[Key(depth, prefix)] = Encode(*rec);
    return rec;
  }

  static Bytes Key(size_t depth, const Hash32& prefix) {
    return StateNodeKey(static_cast<uint16_t>(depth), prefix);
  }

  // Stores a one-entry subtree as a leaf record at `depth` on its key's path.
  void Place(size_t depth, const Sub& leaf) {
    new_[Key(depth, PrefixOf(leaf.key, depth))] = Encode({true, leaf.key, leaf.value_hash});
  }

  // The subtree at (depth, prefix) that held `old` (nullopt: empty), after `changes` (sorted,
  // all under the prefix).
  Result<Sub> Apply(size_t depth, const Hash32& prefix, const std::optional<Record>& old,
                    Changes changes) {
    if (!old.has_value() || old->leaf) {
      // Below a leaf or an empty subtree nothing is stored: rebuild from the merged entries.
      std::vector<std::pair<Hash32, Hash32>> entries;
      bool old_kept = !old.has_value();
      for (const StateTreeChange& c : changes) {
        if (!old_kept && old->a <= c.key) {
          if (old->a != c.key) entries.emplace_back(old->a, old->b);
          old_kept = true;
        }
        if (c.value_hash.has_value()) entries.emplace_back(c.key, *c.value_hash);
      }
      if (!old_kept) entries.emplace_back(old->a, old->b);
      return Build(depth, prefix, entries);
    }
    // Internal: split the changes by the bit at this depth.
    auto mid = std::partition_point(changes.begin(), changes.end(),
                                    [depth](const auto& c) { return smt::Bit(c.key, depth) == 0; });
    Changes left_changes(changes.begin(), mid), right_changes(mid, changes.end());
    ASSIGN_OR_RETURN(Sub left, ApplyChild(depth + 1, prefix, old->a, left_changes));
    ASSIGN_OR_RETURN(Sub right,
                     ApplyChild(depth + 1, WithBit(prefix, depth), old->b, right_changes));
    return Combine(depth, prefix, left, right);
  }

  Result<Sub> ApplyChild(size_t depth, const Hash32& prefix, const Hash32& old_hash,
                         Changes changes) {
    if (changes.empty()) return Sub{Sub::kUntouched, old_hash};
    std::optional<Record> old;
    if (old_hash != kEmpty) {
      ASSIGN_OR_RETURN(Record rec, ReadChild(kv_, depth, prefix, old_hash));
      old_[Key(depth, prefix)] = Encode(rec);
      old = rec;
    }
    return Apply(depth, prefix, old, changes);
  }

  // The subtree at (depth, prefix) holding exactly `entries` (sorted, distinct, under prefix),
  // where nothing below this position is stored yet.
  Result<Sub> Build(size_t depth, const Hash32& prefix,
                    std::span<const std::pair<Hash32, Hash32>> entries) {
    if (entries.empty()) return Sub{};
    if (entries.size() == 1) return Sub{Sub::kLeaf, {}, entries[0].first, entries[0].second};
    // Two distinct keys under one prefix differ at a later bit, so depth < 256 here.
    auto mid = std::partition_point(entries.begin(), entries.end(), [depth](const auto& e) {
      return smt::Bit(e.first, depth) == 0;
    });
    ASSIGN_OR_RETURN(Sub left, Build(depth + 1, prefix, {entries.begin(), mid}));
    ASSIGN_OR_RETURN(Sub right, Build(depth + 1, WithBit(prefix, depth), {mid, entries.end()}));
    return Combine(depth, prefix, left, right);
  }

  // The subtree at (depth, prefix) with the given children.
  Result<Sub> Combine(size_t depth, const Hash32& prefix, Sub left, Sub right) {
    // An empty side: this subtree holds what the other side holds; if that is an untouched
    // subtree, read its record to learn whether it is a lone leaf that must move up.
    for (auto [side, other, child_prefix] :
         {std::tuple{&left, &right, WithBit(prefix, depth)}, std::tuple{&right, &left, prefix}}) {
      bool side_empty =
          side->kind == Sub::kEmptySub || (side->kind == Sub::kUntouched && side->hash == kEmpty);
      if (!side_empty) continue;
      if (other->kind == Sub::kUntouched) {
        if (other->hash == kEmpty) return Sub{};
        ASSIGN_OR_RETURN(Record rec, ReadChild(kv_, depth + 1, child_prefix, other->hash));
        old_[Key(depth + 1, child_prefix)] = Encode(rec);
        if (rec.leaf) return Sub{Sub::kLeaf, {}, rec.a, rec.b};
        // Stays where it is: declare it part of the new tree so it is not deleted.
        new_[Key(depth + 1, child_prefix)] = Encode(rec);
        break;
      }
      if (other->kind != Sub::kNode) return *other;  // empty or a lone leaf
      break;
    }
    if (left.kind == Sub::kLeaf) Place(depth + 1, left);
    if (right.kind == Sub::kLeaf) Place(depth + 1, right);
    Record rec{false, left.Hashed(), right.Hashed()};
    new_[Key(depth, prefix)] = Encode(rec);
    return Sub{Sub::kNode, rec.Hash()};
  }

  const KvRead& kv_;
  std::map<Bytes, Bytes> old_;  // every record read: position key -> encoding
  std::map<Bytes, Bytes> new_;  // records of the new tree in the region touched
};

}  // namespace

Bytes StateNodeKey(uint16_t depth, const Hash32& prefix) {
  Writer w(2 + 32);
  w.U8(static_cast<uint8_t>(depth >> 8)).U8(static_cast<uint8_t>(depth)).Fixed(prefix);
  return std::move(w).Take();
}

Result<Hash32> StateTree::Root() const {
  ASSIGN_OR_RETURN(std::optional<Record> rec, ReadRecord(kv_, 0, Hash32{}));
  if (!rec.has_value()) return kEmpty;
  return rec->Hash();
}

Result<Hash32> StateTree::Update(std::vector<StateTreeChange> changes, KvBatch* batch) const {
  std::sort(changes.begin(), changes.end(),
            [](const StateTreeChange& x, const StateTreeChange& y) { return x.key < y.key; });
  for (size_t i = 1; i < changes.size(); ++i) {
    if (changes[i].key == changes[i - 1].key) {
      return Status::Invalid("state tree update: key " + ToHex(changes[i].key) +
                             " appears more than once");
    }
  }
  if (changes.empty()) return Root();
  return Updater(kv_).Run(changes, batch);
}

Result<smt::Proof> StateTree::Prove(const Hash32& key) const {
  smt::Proof proof;
  Hash32 prefix{};
  ASSIGN_OR_RETURN(std::optional<Record> rec, ReadRecord(kv_, 0, prefix));
  for (size_t depth = 0; rec.has_value(); ++depth) {
    if (rec->leaf) {
      proof.leaf = smt::ProofLeaf{rec->a, rec->b};
      break;
    }
    const int bit = smt::Bit(key, depth);
    proof.siblings.push_back(bit == 0 ? rec->b : rec->a);
    const Hash32 child = bit == 0 ? rec->a : rec->b;
    if (child == kEmpty) break;
    prefix = PrefixOf(key, depth + 1);
    ASSIGN_OR_RETURN(rec, ReadChild(kv_, depth + 1, prefix, child));
  }
  return proof;
}

}  // namespace consent
