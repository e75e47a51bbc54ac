// StateTree: the compact sparse Merkle tree of PROTOCOL.md section 3 kept as 16-ary nibble pages
// in column kStateNodes (grammar in state_tree.h).
//
// A page is decoded into its 16 slots; its 31 binary nodes (the page's root at depth d, down to
// the 16 slots at depth d + 4) are then computed bottom-up, each with how many entries it holds
// (0, 1, or "two or more"): a node with one entry hashes to that entry's leaf hash, whatever its
// depth (the compact form), a node with none to zeros, any other node to H(0x03 || left || right).
// A proof walks the key's path through these nodes, page by page, and stops at the first node
// that holds at most one entry, so its siblings equal the binary tree's.
//
// Update sorts the changes and recurses from the root page. A page's changes are split by slot;
// a child page is read (and checked against the hash its parent names) only when changes reach
// it, and a page without changes is neither read nor rewritten. A slot holding nothing or a lone
// leaf is merged with its changes: two or more resulting entries become a new child page. A page
// (other than the root) left with at most one entry collapses: its lone leaf moves up into the
// parent's slot. Every page read is remembered; at the end, each one that the new tree no longer
// has is deleted and each new or changed page is written, so the stored records always equal
// those of a tree built afresh from the same entries.
//
// When the KvRead offers a page cache (ledger/page_cache.h), a child page is looked up there by
// its key and the hash its parent names before it is read, and every page read or written is
// offered to it; a hit skips the read and the page's hashing. Results never depend on it.
//
// Pure (reads through KvRead, writes into KvBatch); thread-compatible.
#include "ledger/state_tree.h"

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/hex.h"
#include "ledger/codec.h"
#include "ledger/page_cache.h"

namespace consent {
namespace {

constexpr size_t kFanout = 16;
constexpr size_t kPageBits = 4;
constexpr size_t kMaxPageDepth = smt::kDepth - kPageBits;  // 252: its slots are full keys
constexpr size_t kNodes = 2 * kFanout - 1;                 // binary nodes in a page
constexpr Hash32 kEmpty{};

// The first `depth` bits of `key`, the rest zero.
Hash32 PrefixOf(const Hash32& key, size_t depth) {
  Hash32 p{};
  for (size_t i = 0; i < depth / 8; ++i) p[i] = key[i];
  if (depth % 8 != 0) p[depth / 8] = key[depth / 8] & uint8_t(0xff00 >> (depth % 8));
  return p;
}

// The 4 bits of `key` at depth..depth+3. REQUIRES: depth % 4 == 0, depth < 256.
size_t Nibble(const Hash32& key, size_t depth) {
  const uint8_t b = key[depth / 8];
  return depth % 8 == 0 ? b >> 4 : b & 0x0f;
}

// `prefix` (depth bits) extended by the nibble `slot`.
Hash32 WithNibble(Hash32 prefix, size_t depth, size_t slot) {
  prefix[depth / 8] |= uint8_t(depth % 8 == 0 ? slot << 4 : slot);
  return prefix;
}

std::string Where(size_t depth, const Hash32& prefix) {
  return "state tree page at depth " + std::to_string(depth) + " prefix " + ToHex(prefix);
}

Bytes PageKey(size_t depth, const Hash32& prefix) {
  return StateNodeKey(static_cast<uint16_t>(depth), prefix);
}

// A page's record key (StateNodeKey's 34 bytes) held inline, for the update's bookkeeping.
using PageId = std::array<uint8_t, 34>;
PageId IdOf(size_t depth, const Hash32& prefix) {
  PageId id;
  id[0] = static_cast<uint8_t>(depth >> 8);
  id[1] = static_cast<uint8_t>(depth);
  std::copy(prefix.begin(), prefix.end(), id.begin() + 2);
  return id;
}
ByteView ViewOf(const PageId& id) { return ByteView(id.data(), id.size()); }
struct PageIdHash {
  size_t operator()(const PageId& id) const {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
  }
};

// What a position at a page's slot depth holds: nothing, a lone leaf (a = state_key,
// b = value hash) or two or more entries (a child page; a = its subtree hash).
struct Slot {
  enum Kind : uint8_t { kNone, kLeaf, kChild } kind = kNone;
  Hash32 a{};
  Hash32 b{};
  Hash32 Hashed() const {
    switch (kind) {
      case kNone:
        return kEmpty;
      case kLeaf:
        return smt::LeafHash(a, b);
      default:
        return a;
    }
  }
};
using Page = std::array<Slot, kFanout>;

// A binary node inside a page: how many entries it holds (0, 1, or 2 for "two or more"), its
// hash, and, when it holds one entry, the slot of that lone leaf.
struct Node {
  uint8_t count = 0;
  uint8_t leaf_slot = 0;
  Hash32 hash{};
};
// Level L (0 = the page's root, 4 = the slots), node i of that level at index 2^L - 1 + i.
using Nodes = std::array<Node, kNodes>;
constexpr size_t NodeIndex(size_t level, size_t i) { return (size_t{1} << level) - 1 + i; }

Nodes ComputeNodes(const Page& page) {
  Nodes nodes;
  for (size_t s = 0; s < kFanout; ++s) {
    Node& n = nodes[NodeIndex(kPageBits, s)];
    n.count = page[s].kind == Slot::kNone ? 0 : page[s].kind == Slot::kLeaf ? 1 : 2;
    n.leaf_slot = static_cast<uint8_t>(s);
    n.hash = page[s].Hashed();
  }
  for (size_t level = kPageBits; level-- > 0;) {
    for (size_t i = 0; i < (size_t{1} << level); ++i) {
      const Node& l = nodes[NodeIndex(level + 1, 2 * i)];
      const Node& r = nodes[NodeIndex(level + 1, 2 * i + 1)];
      Node& n = nodes[NodeIndex(level, i)];
      const int count = l.count + r.count;
      if (count == 0) {
        n = Node{};
      } else if (count == 1) {
        n = l.count == 1 ? l : r;  // a lone leaf hashes the same at any depth
      } else {
        n = Node{2, 0, smt::NodeHash(l.hash, r.hash)};
      }
    }
  }
  return nodes;
}

Bytes Encode(const Page& page) {
  uint16_t leaf_mask = 0, child_mask = 0;
  size_t size = 4;
  for (size_t s = 0; s < kFanout; ++s) {
    if (page[s].kind == Slot::kLeaf) leaf_mask |= uint16_t(1u << s), size += 64;
    if (page[s].kind == Slot::kChild) child_mask |= uint16_t(1u << s), size += 32;
  }
  Writer w(size);
  w.U8(uint8_t(leaf_mask >> 8)).U8(uint8_t(leaf_mask));
  w.U8(uint8_t(child_mask >> 8)).U8(uint8_t(child_mask));
  for (const Slot& slot : page) {
    if (slot.kind == Slot::kLeaf) w.Fixed(slot.a).Fixed(slot.b);
    if (slot.kind == Slot::kChild) w.Fixed(slot.a);
  }
  return std::move(w).Take();
}

Status DecodeInto(ByteView value, size_t depth, const Hash32& prefix, Page* page) {
  Reader r(value);
  uint8_t m[4] = {};
  for (uint8_t& byte : m) RETURN_IF_ERROR(r.U8(&byte, "masks"));
  const uint16_t leaf_mask = uint16_t(m[0] << 8 | m[1]);
  const uint16_t child_mask = uint16_t(m[2] << 8 | m[3]);
  if ((leaf_mask & child_mask) != 0) return Status::Invalid("a slot is both leaf and child");
  if (child_mask != 0 && depth >= kMaxPageDepth) {
    return Status::Invalid("a child page below the last level");
  }
  for (size_t s = 0; s < kFanout; ++s) {
    Slot& slot = (*page)[s];
    if (leaf_mask & (1u << s)) {
      slot.kind = Slot::kLeaf;
      RETURN_IF_ERROR(r.Fixed(&slot.a, "leaf key"));
      RETURN_IF_ERROR(r.Fixed(&slot.b, "leaf value hash"));
      if (PrefixOf(slot.a, depth + kPageBits) != WithNibble(prefix, depth, s)) {
        return Status::Invalid("leaf key " + ToHex(slot.a) + " does not lie under slot " +
                               std::to_string(s));
      }
    } else if (child_mask & (1u << s)) {
      slot.kind = Slot::kChild;
      RETURN_IF_ERROR(r.Fixed(&slot.a, "child hash"));
      if (slot.a == kEmpty) return Status::Invalid("empty child hash in slot " + std::to_string(s));
    }
  }
  RETURN_IF_ERROR(r.ExpectEnd("page"));
  const int leaves = std::popcount(leaf_mask);
  if (child_mask == 0 && leaves < (depth == 0 ? 1 : 2)) {
    return Status::Invalid(depth == 0 ? std::string("empty root page")
                                      : "a page holding " + std::to_string(leaves) + " entries");
  }
  return Status::Ok();
}

Result<Page> Decode(ByteView value, size_t depth, const Hash32& prefix) {
  Page page;
  Status st = DecodeInto(value, depth, prefix, &page);
  if (!st.ok()) return Status::Corruption(Where(depth, prefix) + " is malformed: " + st.message());
  return page;
}

// A page read from the store: its raw value, slots and (when asked for) binary nodes.
struct Loaded {
  std::shared_ptr<const Bytes> raw;
  Page page;
  Nodes nodes;
};

// Reads the page at (depth, prefix); nullopt when there is none.
Result<std::optional<Loaded>> ReadPage(const KvRead& kv, size_t depth, const Hash32& prefix) {
  ASSIGN_OR_RETURN(std::optional<Bytes> value, kv.Get(Column::kStateNodes, PageKey(depth, prefix)));
  if (!value.has_value()) return std::optional<Loaded>();
  ASSIGN_OR_RETURN(Page page, Decode(*value, depth, prefix));
  return std::optional<Loaded>(
      Loaded{std::make_shared<const Bytes>(std::move(*value)), page, ComputeNodes(page)});
}

// Reads the child page whose parent names its subtree hash; a missing page or one with another
// hash is corruption. A page the store's page cache holds under that hash is taken from there
// (decoded again, its nodes computed only if `want_nodes`); a page read from the store is checked
// and then cached.
Result<Loaded> ReadChild(const KvRead& kv, size_t depth, const Hash32& prefix,
                         const Hash32& expected, bool want_nodes) {
  PageCache* cache = kv.page_cache();
  const Bytes key = PageKey(depth, prefix);
  if (cache != nullptr) {
    if (std::shared_ptr<const Bytes> raw = cache->Lookup(key, expected)) {
      ASSIGN_OR_RETURN(Page page, Decode(*raw, depth, prefix));
      Loaded hit{std::move(raw), page, {}};
      if (want_nodes) hit.nodes = ComputeNodes(hit.page);
      return hit;
    }
  }
  ASSIGN_OR_RETURN(std::optional<Loaded> page, ReadPage(kv, depth, prefix));
  if (!page.has_value()) {
    return Status::Corruption(Where(depth, prefix) + " is missing (its parent names a child)");
  }
  if (page->nodes[0].hash != expected) {
    return Status::Corruption(Where(depth, prefix) + " does not hash to its parent's child hash");
  }
  if (cache != nullptr) cache->Insert(key, expected, page->raw);
  return std::move(*page);
}

using Changes = std::span<const StateTreeChange>;

// One Update call: the recursion and the pages it read and produced.
class Updater {
 public:
  explicit Updater(const KvRead& kv) : kv_(kv) {}

  Result<Hash32> Run(const std::vector<StateTreeChange>& sorted, KvBatch* batch) {
    const Hash32 root_prefix{};
    ASSIGN_OR_RETURN(std::optional<Loaded> old, ReadPage(kv_, 0, root_prefix));
    Page page;
    if (old.has_value()) {
      old_[IdOf(0, root_prefix)] = old->raw;
      page = old->page;
    }
    ASSIGN_OR_RETURN(Slot root, Apply(0, root_prefix, page, sorted));
    // The writes go out in key order (deletes, then puts), whatever order the maps hold.
    std::vector<const PageId*> deleted;
    for (const auto& [id, value] : old_) {
      if (new_.find(id) == new_.end()) deleted.push_back(&id);
    }
    std::vector<std::pair<const PageId*, NewPage*>> written;
    written.reserve(new_.size());
    for (auto& [id, page] : new_) written.emplace_back(&id, &page);
    auto by_id = [](const auto& x, const auto& y) { return *x < *y; };
    std::sort(deleted.begin(), deleted.end(), by_id);
    std::sort(written.begin(), written.end(),
              [](const auto& x, const auto& y) { return *x.first < *y.first; });
    for (const PageId* id : deleted) batch->Delete(Column::kStateNodes, ViewOf(*id));
    // New pages go to the page cache too: the next block reads most of the upper ones.
    PageCache* cache = kv_.page_cache();
    for (auto& [id, page] : written) {
      auto it = old_.find(*id);
      if (it == old_.end() || *it->second != page->raw) {
        if (cache != nullptr) {
          auto shared = std::make_shared<const Bytes>(page->raw);
          cache->Insert(ViewOf(*id), page->hash, shared);
        }
        batch->Put(Column::kStateNodes, ViewOf(*id), std::move(page->raw));
      }
    }
    return root.Hashed();
  }

 private:
  // The subtree at (depth, prefix), whose page held `page` (all slots empty: nothing stored
  // there), after `changes` (sorted, all under the prefix). Stores the new page in new_ unless
  // the subtree holds at most one entry (the root page is stored whenever it holds one); returns
  // what the parent's slot must hold.
  Result<Slot> Apply(size_t depth, const Hash32& prefix, Page page, Changes changes) {
    for (auto it = changes.begin(); it != changes.end();) {
      const size_t s = Nibble(it->key, depth);
      auto stop = std::find_if(it, changes.end(),
                               [&](const StateTreeChange& c) { return Nibble(c.key, depth) != s; });
      const Changes part(it, stop);
      it = stop;
      const Hash32 child_prefix = WithNibble(prefix, depth, s);
      Slot& slot = page[s];
      if (slot.kind == Slot::kChild) {
        ASSIGN_OR_RETURN(Loaded child, ReadChild(kv_, depth + kPageBits, child_prefix, slot.a,
                                                 /*want_nodes=*/false));
        old_[IdOf(depth + kPageBits, child_prefix)] = std::move(child.raw);
        ASSIGN_OR_RETURN(slot, Apply(depth + kPageBits, child_prefix, child.page, part));
      } else {
        ASSIGN_OR_RETURN(slot, FromEntries(depth + kPageBits, child_prefix, Merge(slot, part)));
      }
    }
    size_t leaves = 0, children = 0;
    Slot lone;
    for (const Slot& slot : page) {
      if (slot.kind == Slot::kLeaf) ++leaves, lone = slot;
      if (slot.kind == Slot::kChild) ++children;
    }
    if (children == 0 && (leaves == 0 || (leaves == 1 && depth > 0))) return lone;
    const Hash32 hash = ComputeNodes(page)[0].hash;
    new_[IdOf(depth, prefix)] = NewPage{Encode(page), hash};
    return Slot{Slot::kChild, hash};
  }

  // The entries of a slot holding nothing or a lone leaf, after `changes`: sorted, each with a
  // value hash.
  static std::vector<StateTreeChange> Merge(const Slot& slot, Changes changes) {
    std::vector<StateTreeChange> entries;
    bool old_kept = slot.kind != Slot::kLeaf;
    for (const StateTreeChange& c : changes) {
      if (!old_kept && slot.a <= c.key) {
        if (slot.a != c.key) entries.push_back({slot.a, slot.b});
        old_kept = true;
      }
      if (c.value_hash.has_value()) entries.push_back(c);
    }
    if (!old_kept) entries.push_back({slot.a, slot.b});
    return entries;
  }

  // A slot at (depth, prefix) holding exactly `entries` (sorted, distinct, under the prefix),
  // where nothing is stored yet.
  Result<Slot> FromEntries(size_t depth, const Hash32& prefix,
                           const std::vector<StateTreeChange>& entries) {
    if (entries.empty()) return Slot{};
    if (entries.size() == 1) return Slot{Slot::kLeaf, entries[0].key, *entries[0].value_hash};
    // Two distinct keys under one prefix differ at a later bit, so depth < 256 here.
    return Apply(depth, prefix, Page{}, entries);
  }

  struct NewPage {
    Bytes raw;
    Hash32 hash{};
  };
  const KvRead& kv_;
  // every page read: key -> stored value
  std::unordered_map<PageId, std::shared_ptr<const Bytes>, PageIdHash> old_;
  std::unordered_map<PageId, NewPage, PageIdHash> new_;  // pages of the new tree in the region
};

}  // namespace

Bytes StateNodeKey(uint16_t depth, const Hash32& prefix) {
  Writer w(2 + 32);
  w.U8(static_cast<uint8_t>(depth >> 8)).U8(static_cast<uint8_t>(depth)).Fixed(prefix);
  return std::move(w).Take();
}

Result<Hash32> StateTree::Root() const {
  ASSIGN_OR_RETURN(std::optional<Loaded> root, ReadPage(kv_, 0, Hash32{}));
  if (!root.has_value()) return kEmpty;
  return root->nodes[0].hash;
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
  ASSIGN_OR_RETURN(std::optional<Loaded> page, ReadPage(kv_, 0, Hash32{}));
  if (!page.has_value()) return proof;
  for (size_t depth = 0;; depth += kPageBits) {
    const size_t s = Nibble(key, depth);
    // Down the page's binary nodes to the first one on the path holding at most one entry.
    for (size_t level = 0; level <= kPageBits; ++level) {
      const Node& n = page->nodes[NodeIndex(level, s >> (kPageBits - level))];
      if (n.count == 0) return proof;
      if (n.count == 1) {
        const Slot& leaf = page->page[n.leaf_slot];
        proof.leaf = smt::ProofLeaf{leaf.a, leaf.b};
        return proof;
      }
      if (level == kPageBits) break;  // a child page
      const size_t child = s >> (kPageBits - level - 1);
      proof.siblings.push_back(page->nodes[NodeIndex(level + 1, child ^ 1)].hash);
    }
    const Hash32 child_hash = page->page[s].a;
    ASSIGN_OR_RETURN(Loaded child,
                     ReadChild(kv_, depth + kPageBits, PrefixOf(key, depth + kPageBits), child_hash,
                               /*want_nodes=*/true));
    page = std::move(child);
  }
}

}  // namespace consent
