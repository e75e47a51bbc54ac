// Tests for ledger/state_tree: the stored compact SMT (16-ary nibble pages) against
// smt::ReferenceSmt over a MemoryKv. Random sequences of Update batches (inserts, overwrites,
// deletes, deletes of absent keys, clustered keys with long shared prefixes, keys differing only
// in the last bit) are checked after every batch: same root, same proofs for present and absent
// keys, exactly one record read per page on the key's path, and the stored records equal, exactly,
// those a naive builder in this file derives from the entries with the header's grammar (so no
// stale record survives). Also updates through an OverlayKv, reads per proof and per update, the
// record layout, and errors.
// Fixed seeds; single-threaded.
#include "ledger/state_tree.h"
#include "ledger/page_cache.h"

#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <random>

#include "crypto/sha256.h"

namespace consent {
namespace {

using Records = std::map<Bytes, Bytes>;

class CountingKv : public KvRead {
 public:
  explicit CountingKv(const KvRead& base) : base_(base) {}
  Result<std::optional<Bytes>> Get(Column c, ByteView key) const override {
    ++gets_;
    return base_.Get(c, key);
  }
  Status Scan(Column c, ByteView prefix, ByteView start, const KvVisitor& fn) const override {
    return base_.Scan(c, prefix, start, fn);
  }
  uint64_t gets() const { return gets_; }
  void Reset() { gets_ = 0; }

 private:
  const KvRead& base_;
  mutable uint64_t gets_ = 0;
};

Hash32 RandomKey(std::mt19937_64& rng) {
  Hash32 k;
  for (auto& b : k) b = uint8_t(rng());
  return k;
}

void FlipBit(Hash32& h, size_t bit) { h[bit / 8] ^= uint8_t(0x80 >> (bit % 8)); }

// The record key spelled out from the header's grammar (not with the code under test).
Bytes NodeKey(size_t depth, const Hash32& key) {
  Bytes k = {uint8_t(depth >> 8), uint8_t(depth)};
  for (size_t i = 0; i < 32; ++i) {
    uint8_t keep = i * 8 + 8 <= depth ? 0xff : i * 8 >= depth ? 0 : uint8_t(0xff00 >> (depth % 8));
    k.push_back(key[i] & keep);
  }
  return k;
}

using Entries = std::vector<std::pair<Hash32, Hash32>>;  // (key, value hash)

// The compact binary hash of the subtree at `depth` holding `entries`, bit by bit.
Hash32 NaiveHash(const Entries& entries, size_t depth) {
  if (entries.empty()) return Hash32{};
  if (entries.size() == 1) return smt::LeafHash(entries[0].first, entries[0].second);
  Entries left, right;
  for (const auto& e : entries) (smt::Bit(e.first, depth) == 0 ? left : right).push_back(e);
  return smt::NodeHash(NaiveHash(left, depth + 1), NaiveHash(right, depth + 1));
}

void Append(Bytes& v, const Hash32& h) { v.insert(v.end(), h.begin(), h.end()); }

// A page value from the header's grammar: masks, then each set slot's item in slot order.
Bytes PageValue(const std::map<size_t, Bytes>& items, uint16_t leaf_mask, uint16_t child_mask) {
  Bytes v = {uint8_t(leaf_mask >> 8), uint8_t(leaf_mask), uint8_t(child_mask >> 8),
             uint8_t(child_mask)};
  for (const auto& [slot, item] : items) v.insert(v.end(), item.begin(), item.end());
  return v;
}

// The pages of a compact tree holding `entries` (all under one `depth`-bit prefix), built
// naively: a page for the root when non-empty and for every other subtree at a depth multiple of
// 4 holding two or more entries.
void NaivePages(const Entries& entries, size_t depth, Records& out) {
  if (entries.size() < (depth == 0 ? 1u : 2u)) return;
  std::map<size_t, Entries> groups;
  for (const auto& e : entries) {
    size_t nibble = 0;
    for (size_t i = 0; i < 4; ++i) nibble = 2 * nibble + size_t(smt::Bit(e.first, depth + i));
    groups[nibble].push_back(e);
  }
  std::map<size_t, Bytes> items;
  uint16_t leaf_mask = 0, child_mask = 0;
  for (const auto& [slot, group] : groups) {
    Bytes& item = items[slot];
    if (group.size() == 1) {
      leaf_mask |= uint16_t(1u << slot);
      Append(item, group[0].first);
      Append(item, group[0].second);
    } else {
      child_mask |= uint16_t(1u << slot);
      Append(item, NaiveHash(group, depth + 4));
      NaivePages(group, depth + 4, out);
    }
  }
  out[NodeKey(depth, entries[0].first)] = PageValue(items, leaf_mask, child_mask);
}

// Records read by a proof with `siblings` siblings: one page per 4 levels crossed.
uint64_t PagesOnPath(size_t siblings) { return siblings == 0 ? 1 : 1 + (siblings - 1) / 4; }

Records StoredRecords(const KvRead& kv) {
  Records out;
  EXPECT_TRUE(kv.Scan(Column::kStateNodes, {}, {}, [&](ByteView k, ByteView v) {
                  out[Bytes(k.begin(), k.end())] = Bytes(v.begin(), v.end());
                  return true;
                }).ok());
  return out;
}

// The model: entries by key, mirrored into a ReferenceSmt.
struct Model {
  std::map<Hash32, Bytes> values;
  smt::ReferenceSmt ref;
  void Apply(const Hash32& key, const std::optional<Bytes>& value) {
    if (value) {
      values[key] = *value;
      ref.Set(key, *value);
    } else {
      values.erase(key);
      ref.Erase(key);
    }
  }
  Records Expected() const {
    Entries entries;
    for (const auto& [k, v] : values) entries.emplace_back(k, Sha256(v));
    Records out;
    NaivePages(entries, 0, out);
    return out;
  }
};

// How fresh keys are drawn: uniformly at random, or all sharing their first `shared_bits` bits
// (a cluster: long chains of pages with one child).
struct KeyShape {
  size_t shared_bits = 0;
  Hash32 base{};
  int neighbour_percent = 3;  // share of changes that add a near neighbour of a present key
  Hash32 Fresh(std::mt19937_64& rng) const {
    Hash32 k = RandomKey(rng);
    for (size_t i = 0; i < shared_bits; ++i) {
      if (smt::Bit(k, i) != smt::Bit(base, i)) FlipBit(k, i);
    }
    return k;
  }
};

// Generates one batch of distinct keys: inserts of fresh keys and of near neighbours of present
// keys (differing only in the last bit, or below a long shared prefix), overwrites, deletes of
// present keys and deletes of absent ones.
std::vector<std::pair<Hash32, std::optional<Bytes>>> RandomBatch(std::mt19937_64& rng,
                                                                 const Model& model,
                                                                 const KeyShape& shape, size_t n) {
  std::map<Hash32, std::optional<Bytes>> batch;
  std::vector<Hash32> present;
  for (const auto& [k, v] : model.values) present.push_back(k);
  auto value = [&] {
    Bytes v(1 + rng() % 8);
    for (auto& b : v) b = uint8_t(rng());
    return v;
  };
  for (size_t i = 0; i < n; ++i) {
    const int what = int(rng() % 100);
    if (what < shape.neighbour_percent && !present.empty()) {
      Hash32 k = present[rng() % present.size()];
      size_t lo = std::max<size_t>(shape.shared_bits, 200);
      FlipBit(k, rng() % 2 == 0 ? 255 : lo + rng() % (256 - lo));
      batch[k] = value();
    } else if (what < 45 || present.empty()) {
      batch[shape.Fresh(rng)] = value();  // insert
    } else if (what < 55) {
      batch[shape.Fresh(rng)] = std::nullopt;  // delete an (almost surely) absent key
    } else if (what < 78) {
      batch[present[rng() % present.size()]] = value();  // overwrite
    } else {
      batch[present[rng() % present.size()]] = std::nullopt;  // delete a present key
    }
  }
  return {batch.begin(), batch.end()};
}

std::vector<StateTreeChange> ToChanges(
    const std::vector<std::pair<Hash32, std::optional<Bytes>>>& batch) {
  std::vector<StateTreeChange> changes;
  for (const auto& [k, v] : batch) {
    StateTreeChange c{k, std::nullopt};
    if (v) c.value_hash = Sha256(*v);
    changes.push_back(c);
  }
  return changes;
}

// Checks root and stored records; that the proofs of (up to about 200) present keys verify; and
// that proofs of `probes` present keys and some absent ones equal the reference's
// (ReferenceSmt::Prove costs O(n) hashes, so it is sampled).
void CheckAgainstModel(const MemoryKv& kv, const Model& model, std::mt19937_64& rng, size_t probes,
                       size_t* max_pages) {
  StateTree tree(kv);
  const Hash32 root = model.ref.Root();
  ASSERT_EQ(tree.Root().value(), root);
  ASSERT_EQ(StoredRecords(kv), model.Expected()) << "stored records differ from a fresh build";
  const size_t n = model.values.size();
  for (const auto& [k, v] : model.values) {
    if (n > 200 && rng() % n >= 200) continue;  // about 200 keys
    auto proof = tree.Prove(k);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_TRUE(smt::VerifyProof(root, k, v, *proof).ok());
  }
  std::vector<Hash32> keys;
  std::vector<Hash32> present;
  for (const auto& [k, v] : model.values) present.push_back(k);
  for (size_t i = 0; i < probes && !present.empty(); ++i) {
    keys.push_back(present[rng() % present.size()]);
    Hash32 near = keys.back();  // absent keys next to present ones
    FlipBit(near, i % 2 == 0 ? 255 : rng() % 256);
    keys.push_back(near);
  }
  keys.push_back(RandomKey(rng));
  CountingKv counting(kv);
  StateTree counted(counting);
  for (const Hash32& key : keys) {
    counting.Reset();
    auto proof = counted.Prove(key);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_EQ(proof.value(), model.ref.Prove(key));
    EXPECT_EQ(counting.gets(), PagesOnPath(proof->siblings.size()));
    *max_pages = std::max<size_t>(*max_pages, counting.gets());
    EXPECT_TRUE(smt::VerifyProof(root, key, model.ref.Get(key), *proof).ok());
  }
}

TEST(StateTree, EmptyTree) {
  MemoryKv kv;
  StateTree tree(kv);
  EXPECT_EQ(tree.Root().value(), Hash32{});
  auto proof = tree.Prove(Sha256(AsBytes("k")));
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(proof.value(), smt::Proof{});
  KvBatch batch;
  EXPECT_EQ(tree.Update({}, &batch).value(), Hash32{});
  EXPECT_EQ(tree.Update({{Sha256(AsBytes("absent")), std::nullopt}}, &batch).value(), Hash32{});
  EXPECT_TRUE(batch.empty());
}

// One entry is a lone leaf in the root page; two entries that differ only in the last bit hang
// below a chain of 63 one-child pages, down to a page at depth 252 holding both leaves.
TEST(StateTree, RecordLayout) {
  MemoryKv kv;
  Hash32 a = Sha256(AsBytes("a"));  // 0xca978112...: first nibble 12
  Hash32 va = Sha256(AsBytes("value a"));
  KvBatch batch;
  ASSERT_TRUE(StateTree(kv).Update({{a, va}}, &batch).ok());
  kv.Apply(batch);
  Bytes root_key(34, 0);
  EXPECT_EQ(StateNodeKey(0, Hash32{}), root_key);
  Bytes lone = {0x10, 0x00, 0, 0};  // leaf_mask bit 12
  Append(lone, a);
  Append(lone, va);
  EXPECT_EQ(StoredRecords(kv), (Records{{root_key, lone}}));
  EXPECT_EQ(StateTree(kv).Root().value(), smt::LeafHash(a, va));

  Hash32 b = a;
  FlipBit(b, 255);
  KvBatch batch2;
  Hash32 root = StateTree(kv).Update({{b, va}}, &batch2).value();
  kv.Apply(batch2);
  EXPECT_EQ(kv.Size(Column::kStateNodes), 64u);
  const Records stored = StoredRecords(kv);
  Bytes root_page = {0, 0, 0x10, 0x00};  // child_mask bit 12
  Append(root_page, NaiveHash({{a, va}, {b, va}}, 4));
  EXPECT_EQ(stored.at(root_key), root_page);
  Bytes last_page = {0x0c, 0x00, 0, 0};  // a's last nibble is 0xb (b's 0xa): slots 10 and 11
  ASSERT_EQ(a[31] & 0x0f, 0x0b);
  Append(last_page, b);
  Append(last_page, va);
  Append(last_page, a);
  Append(last_page, va);
  EXPECT_EQ(stored.at(NodeKey(252, a)), last_page);
  smt::ReferenceSmt ref;
  ref.Set(a, AsBytes("value a"));
  ref.Set(b, AsBytes("value a"));
  EXPECT_EQ(root, ref.Root());
  EXPECT_EQ(StateTree(kv).Prove(a).value(), ref.Prove(a));
  EXPECT_EQ(StateTree(kv).Prove(a).value().siblings.size(), 256u);

  // Deleting one of them collapses the chain back to a leaf at the root.
  KvBatch batch3;
  ASSERT_TRUE(StateTree(kv).Update({{b, std::nullopt}}, &batch3).ok());
  kv.Apply(batch3);
  EXPECT_EQ(StoredRecords(kv), (Records{{root_key, lone}}));
  KvBatch batch4;
  EXPECT_EQ(StateTree(kv).Update({{a, std::nullopt}}, &batch4).value(), Hash32{});
  kv.Apply(batch4);
  EXPECT_EQ(kv.Size(Column::kStateNodes), 0u);
}

// Runs `rounds` random Update batches under `shape`, checking everything after each batch.
// With `cache`, the store has a page cache attached and every third round first computes (and
// throws away) a decoy update from the same state, as a node does for a proposal that is never
// committed: the pages it cached must not change any later result.
void RunRandomBatches(uint64_t seed, const KeyShape& shape, int rounds, size_t probes,
                      size_t min_entries, PageCache* cache = nullptr) {
  std::mt19937_64 rng(seed);
  MemoryKv kv;
  kv.set_page_cache(cache);
  Model model;
  size_t max_pages = 0;
  for (int round = 0; round < rounds; ++round) {
    size_t n = round % 10 == 0 ? 100 + rng() % 200 : 1 + rng() % 40;
    if (cache != nullptr && round % 3 == 1) {
      KvBatch discarded;
      ASSERT_TRUE(
          StateTree(kv).Update(ToChanges(RandomBatch(rng, model, shape, n)), &discarded).ok());
    }
    auto batch = RandomBatch(rng, model, shape, n);
    KvBatch writes;
    auto root = StateTree(kv).Update(ToChanges(batch), &writes);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    kv.Apply(writes);
    for (const auto& [k, v] : batch) model.Apply(k, v);
    ASSERT_EQ(root.value(), model.ref.Root()) << "round " << round;
    CheckAgainstModel(kv, model, rng, probes, &max_pages);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GE(model.values.size(), min_entries);
  std::printf("state tree: %zu entries, %zu records, at most %zu reads per proof\n",
              model.values.size(), kv.Size(Column::kStateNodes), max_pages);
}

TEST(StateTree, RandomBatchesMatchReference) { RunRandomBatches(77, KeyShape{}, 50, 6, 500); }

// The same with a page cache large enough to hold every page, and with one so small that it
// evicts all the time: results, records and proofs are unchanged, and the cache is used.
TEST(StateTree, RandomBatchesMatchReferenceThroughPageCache) {
  PageCache big(64 << 20);
  RunRandomBatches(77, KeyShape{}, 25, 6, 200, &big);
  EXPECT_GT(big.stats().hits, 1000u);
  PageCache tiny(8 << 10);
  RunRandomBatches(79, KeyShape{}, 15, 6, 100, &tiny);
  EXPECT_LE(tiny.stats().bytes, size_t{8 << 10});
  KeyShape clustered;
  clustered.shared_bits = 240;
  clustered.base = Sha256(AsBytes("cluster"));
  clustered.neighbour_percent = 15;
  PageCache mid(256 << 10);
  RunRandomBatches(80, clustered, 15, 8, 50, &mid);
  EXPECT_GT(mid.stats().hits, 0u);
}

// A cached page answers only a parent naming its hash: after the stored page changes under the
// cache's nose, the new page is read from the store (and a damaged one is reported, not masked
// by the older cached copy).
TEST(StateTree, PageCacheNeverServesAnotherVersion) {
  std::mt19937_64 rng(11);
  MemoryKv kv;
  PageCache cache(1 << 20);
  kv.set_page_cache(&cache);
  std::vector<std::pair<Hash32, Bytes>> entries;
  for (size_t i = 0; i < 64; ++i) {
    Hash32 v = RandomKey(rng);
    entries.push_back({RandomKey(rng), Bytes(v.begin(), v.end())});
  }
  auto changes_of = [](const std::vector<std::pair<Hash32, Bytes>>& e) {
    std::vector<StateTreeChange> out;
    for (const auto& [k, v] : e) out.push_back({k, Sha256(v)});
    return out;
  };
  KvBatch first;
  ASSERT_TRUE(StateTree(kv).Update(changes_of(entries), &first).ok());
  kv.Apply(first);
  // Put first an entry whose path continues in a page at depth 4 (so a cached page is on it).
  for (size_t i = 0; i < entries.size(); ++i) {
    if (kv.Get(Column::kStateNodes, NodeKey(4, entries[i].first)).value().has_value()) {
      std::swap(entries[0], entries[i]);
      break;
    }
  }
  ASSERT_TRUE(kv.Get(Column::kStateNodes, NodeKey(4, entries[0].first)).value().has_value());
  const uint64_t hits_before = cache.stats().hits;
  ASSERT_TRUE(StateTree(kv).Prove(entries[0].first).ok());
  EXPECT_GT(cache.stats().hits, hits_before);  // the depth-4 page came from the cache
  // Store another version of the tree without going through the cache.
  entries[0].second.push_back(0x42);
  MemoryKv other;
  KvBatch second;
  ASSERT_TRUE(StateTree(other).Update(changes_of(entries), &second).ok());
  kv.Apply(second);
  smt::ReferenceSmt ref;
  for (const auto& [k, v] : entries) ref.Set(k, v);
  auto proof = StateTree(kv).Prove(entries[0].first);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_EQ(*proof, ref.Prove(entries[0].first));
  EXPECT_TRUE(smt::VerifyProof(ref.Root(), entries[0].first, entries[0].second, *proof).ok());
}

// Every key shares its first 240 bits: chains of 60 one-child pages, dense pages below.
TEST(StateTree, ClusteredBatchesMatchReference) {
  KeyShape shape;
  shape.shared_bits = 240;
  shape.base = Sha256(AsBytes("cluster"));
  shape.neighbour_percent = 15;
  RunRandomBatches(78, shape, 40, 8, 100);
}

// Reads per proof on random keys stay near log16(n): one read per page.
TEST(StateTree, ProveReadsAreLogarithmic) {
  std::mt19937_64 rng(5);
  MemoryKv kv;
  std::vector<StateTreeChange> changes;
  const size_t n = 4096;
  for (size_t i = 0; i < n; ++i) changes.push_back({RandomKey(rng), RandomKey(rng)});
  KvBatch batch;
  ASSERT_TRUE(StateTree(kv).Update(changes, &batch).ok());
  kv.Apply(batch);
  CountingKv counting(kv);
  StateTree tree(counting);
  uint64_t total = 0, worst = 0;
  const int probes = 500;
  for (int i = 0; i < probes; ++i) {
    counting.Reset();
    const Hash32 key = i % 2 == 0 ? changes[rng() % n].key : RandomKey(rng);
    ASSERT_TRUE(tree.Prove(key).ok());
    total += counting.gets();
    worst = std::max(worst, counting.gets());
  }
  const double mean = double(total) / probes;
  std::printf("state tree: n=%zu, reads per proof mean %.1f, max %llu (log16 n = 3)\n", n, mean,
              static_cast<unsigned long long>(worst));
  EXPECT_LE(mean, 3 + 1.5);
  EXPECT_LE(worst, 3u + 4u);
}

// Two updates within one block: the second reads the first's pending writes through an overlay.
TEST(StateTree, UpdatesThroughOverlay) {
  std::mt19937_64 rng(9);
  MemoryKv kv;
  Model model;
  size_t ignored = 0;
  for (int block = 0; block < 30; ++block) {
    KvBatch writes;
    OverlayKv overlay(kv, writes);
    for (int step = 0; step < 3; ++step) {
      auto batch = RandomBatch(rng, model, KeyShape{}, 1 + rng() % 30);
      auto root = StateTree(overlay).Update(ToChanges(batch), &writes);
      ASSERT_TRUE(root.ok()) << root.status().ToString();
      overlay.Refresh();
      for (const auto& [k, v] : batch) model.Apply(k, v);
      ASSERT_EQ(root.value(), model.ref.Root());
      ASSERT_EQ(StateTree(overlay).Root().value(), model.ref.Root());
    }
    kv.Apply(writes);
    CheckAgainstModel(kv, model, rng, 4, &ignored);
    if (HasFatalFailure()) return;
  }
}

// Unchanged subtrees are not read: an update of one key in a large tree reads and rewrites the
// pages on one path, once each.
TEST(StateTree, UpdateReadsOnlyTouchedPaths) {
  std::mt19937_64 rng(11);
  MemoryKv kv;
  std::vector<StateTreeChange> changes;
  for (size_t i = 0; i < 4096; ++i) changes.push_back({RandomKey(rng), RandomKey(rng)});
  KvBatch batch;
  ASSERT_TRUE(StateTree(kv).Update(changes, &batch).ok());
  kv.Apply(batch);
  CountingKv counting(kv);
  KvBatch one;
  ASSERT_TRUE(StateTree(counting).Update({{changes[7].key, RandomKey(rng)}}, &one).ok());
  const uint64_t pages = PagesOnPath(StateTree(kv).Prove(changes[7].key).value().siblings.size());
  EXPECT_GE(pages, 3u);
  EXPECT_EQ(counting.gets(), pages);
  EXPECT_EQ(one.size(), pages);  // the path's pages, rewritten once each
}

TEST(StateTree, DuplicateKeysRejected) {
  MemoryKv kv;
  Hash32 k = Sha256(AsBytes("k"));
  KvBatch batch;
  auto r = StateTree(kv).Update(
      {{k, Hash32{}}, {Sha256(AsBytes("x")), Hash32{}}, {k, std::nullopt}}, &batch);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(batch.empty());
}

TEST(StateTree, MalformedRecordsAreCorruption) {
  std::mt19937_64 rng(3);
  MemoryKv kv;
  std::vector<StateTreeChange> changes;
  for (size_t i = 0; i < 64; ++i) changes.push_back({RandomKey(rng), RandomKey(rng)});
  KvBatch batch;
  ASSERT_TRUE(StateTree(kv).Update(changes, &batch).ok());
  kv.Apply(batch);
  // A key whose path continues in a page at depth 4 (64 keys in 16 slots: most do).
  Hash32 key{};
  for (const auto& c : changes) {
    if (kv.Get(Column::kStateNodes, NodeKey(4, c.key)).value().has_value()) key = c.key;
  }
  ASSERT_NE(key, Hash32{});
  const Bytes child = NodeKey(4, key);
  const std::string prefix_hex = "depth 4 prefix ";
  auto expect_corrupt = [&](const char* what) {
    StateTree tree(kv);
    auto proof = tree.Prove(key);
    ASSERT_EQ(proof.status().code(), StatusCode::kCorruption) << what;
    EXPECT_NE(proof.status().message().find(prefix_hex), std::string::npos)
        << proof.status().message();
    KvBatch b;
    auto up = tree.Update({{key, std::nullopt}}, &b);
    EXPECT_EQ(up.status().code(), StatusCode::kCorruption) << what;
  };
  Bytes good = kv.Get(Column::kStateNodes, child).value().value();
  auto put = [&](const Bytes& v) {
    KvBatch b;
    b.Put(Column::kStateNodes, child, v);
    kv.Apply(b);
  };
  put(Bytes(good.begin(), good.end() - 1));
  expect_corrupt("short record");
  Bytes overlapping = good;
  overlapping[0] = overlapping[2] = overlapping[1] = overlapping[3] = 0xff;
  put(overlapping);
  expect_corrupt("slot both leaf and child");
  Bytes flipped = good;
  flipped[40] ^= 1;
  put(flipped);
  expect_corrupt("hash mismatch");
  // The page's first item alone: a page holding a single leaf (or one child) is not canonical.
  const uint16_t leaf_mask = uint16_t(good[0] << 8 | good[1]);
  const uint16_t child_mask = uint16_t(good[2] << 8 | good[3]);
  const int first = std::countr_zero(uint16_t(leaf_mask | child_mask));
  const bool first_is_leaf = (leaf_mask >> first) & 1;
  Bytes single = {0, 0, 0, 0};
  single[first_is_leaf ? 0 : 2] = uint8_t((1u << first) >> 8);
  single[first_is_leaf ? 1 : 3] = uint8_t(1u << first);
  single.insert(single.end(), good.begin() + 4, good.begin() + (first_is_leaf ? 68 : 36));
  put(single);
  expect_corrupt(first_is_leaf ? "page with one leaf" : "page with one child");
  KvBatch del;
  del.Delete(Column::kStateNodes, child);
  kv.Apply(del);
  expect_corrupt("missing child");
  Bytes root_value = kv.Get(Column::kStateNodes, NodeKey(0, key)).value().value();
  root_value.push_back(0);
  put(good);
  KvBatch b;
  b.Put(Column::kStateNodes, NodeKey(0, key), root_value);
  kv.Apply(b);
  auto root = StateTree(kv).Root();
  ASSERT_EQ(root.status().code(), StatusCode::kCorruption);
  EXPECT_NE(root.status().message().find("depth 0 prefix 0000"), std::string::npos);
}

}  // namespace
}  // namespace consent
