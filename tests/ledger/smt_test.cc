// Tests for ledger/smt: the compact sparse Merkle tree of PROTOCOL.md section 3. Hand-checked
// roots for small trees (hashes spelled out with Sha256, not with the code under test), a naive
// oracle for random trees, and randomized property tests with fixed, printed seeds: every
// honest membership and non-membership proof verifies, and every mutated proof or wrong claim is
// rejected. Single-threaded.
#include "ledger/smt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <set>
#include <string>

#include "crypto/sha256.h"

namespace consent::smt {
namespace {

const Hash32 kZero{};

Hash32 Leaf(const Hash32& key, ByteView value) {
  const uint8_t prefix = 0x02;
  return Sha256({ByteView(&prefix, 1), key, Sha256(value)});
}

Hash32 Node(const Hash32& left, const Hash32& right) {
  const uint8_t prefix = 0x03;
  return Sha256({ByteView(&prefix, 1), left, right});
}

Hash32 RandomKey(std::mt19937_64& rng) {
  Hash32 k;
  for (auto& b : k) b = uint8_t(rng());
  return k;
}

Bytes RandomValue(std::mt19937_64& rng) {
  Bytes v(1 + rng() % 40);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

void FlipBit(Hash32& h, size_t bit) { h[bit / 8] ^= uint8_t(0x80 >> (bit % 8)); }

// A key equal to `base` in its first `depth` bits, different at bit `depth`, random after.
Hash32 Neighbour(const Hash32& base, size_t depth, std::mt19937_64& rng) {
  Hash32 k = RandomKey(rng);
  for (size_t i = 0; i < depth; ++i) {
    if (Bit(k, i) != Bit(base, i)) FlipBit(k, i);
  }
  if (Bit(k, depth) == Bit(base, depth)) FlipBit(k, depth);
  return k;
}

// Naive oracle: the compact tree's definition applied literally, filtering at every level.
Hash32 NaiveRoot(const std::vector<std::pair<Hash32, Hash32>>& entries, size_t depth) {
  if (entries.empty()) return kZero;
  if (entries.size() == 1) {
    const uint8_t prefix = 0x02;
    return Sha256({ByteView(&prefix, 1), entries[0].first, entries[0].second});
  }
  std::vector<std::pair<Hash32, Hash32>> left, right;
  for (const auto& e : entries) (Bit(e.first, depth) == 0 ? left : right).push_back(e);
  return Node(NaiveRoot(left, depth + 1), NaiveRoot(right, depth + 1));
}

TEST(Smt, EmptyTree) {
  ReferenceSmt t;
  EXPECT_EQ(t.Root(), kZero);
  EXPECT_EQ(t.size(), 0u);
  Hash32 key = Sha256(AsBytes("k"));
  Proof p = t.Prove(key);
  EXPECT_TRUE(p.siblings.empty());
  EXPECT_FALSE(p.leaf.has_value());
  EXPECT_TRUE(VerifyProof(kZero, key, std::nullopt, p).ok());
  EXPECT_FALSE(VerifyProof(kZero, key, Bytes{1}, p).ok());
  EXPECT_FALSE(t.Get(key).has_value());
}

TEST(Smt, OneEntryRootIsItsLeaf) {
  ReferenceSmt t;
  Hash32 key = Sha256(AsBytes("a"));
  Bytes value = {1, 2, 3};
  t.Set(key, value);
  Hash32 root = Leaf(key, value);
  EXPECT_EQ(t.Root(), root);
  EXPECT_EQ(t.Get(key).value(), value);
  Proof own = t.Prove(key);
  EXPECT_TRUE(own.siblings.empty());
  ASSERT_TRUE(own.leaf.has_value());
  EXPECT_EQ(own.leaf->key, key);
  EXPECT_EQ(own.leaf->value_hash, Sha256(value));
  EXPECT_TRUE(VerifyProof(root, key, value, own).ok());
  EXPECT_FALSE(VerifyProof(root, key, Bytes{1, 2}, own).ok());
  EXPECT_FALSE(VerifyProof(root, key, std::nullopt, own).ok());
  // Any other key is absent, shown by the one leaf (it shares the first 0 bits).
  Hash32 other = Sha256(AsBytes("b"));
  Proof absent = t.Prove(other);
  EXPECT_EQ(absent, own);
  EXPECT_TRUE(VerifyProof(root, other, std::nullopt, absent).ok());
  EXPECT_FALSE(VerifyProof(root, other, value, absent).ok());
}

TEST(Smt, TwoEntriesSplitOnTheFirstBit) {
  Hash32 a{}, b{};
  a[0] = 0x12;  // first bit 0
  b[0] = 0x80;  // first bit 1
  Bytes va = {0xaa}, vb = {0xbb};
  ReferenceSmt t;
  t.Set(b, vb);
  t.Set(a, va);
  Hash32 root = Node(Leaf(a, va), Leaf(b, vb));
  EXPECT_EQ(t.Root(), root);
  Proof pa = t.Prove(a);
  EXPECT_EQ(pa.siblings, std::vector<Hash32>{Leaf(b, vb)});
  EXPECT_TRUE(VerifyProof(root, a, va, pa).ok());
  Proof pb = t.Prove(b);
  EXPECT_EQ(pb.siblings, std::vector<Hash32>{Leaf(a, va)});
  EXPECT_TRUE(VerifyProof(root, b, vb, pb).ok());
  // A key in b's half is absent: its terminal is b's lone leaf at depth 1.
  Hash32 c = b;
  c[31] = 1;
  Proof pc = t.Prove(c);
  EXPECT_EQ(pc, pb);
  EXPECT_TRUE(VerifyProof(root, c, std::nullopt, pc).ok());
  // Swapping the children changes the root.
  EXPECT_NE(root, Node(Leaf(b, vb), Leaf(a, va)));
}

TEST(Smt, LongSharedPrefix) {
  // a and b share their first 200 bits and differ at bit 200 (a has 0 there).
  std::mt19937_64 rng(200);
  Hash32 a = RandomKey(rng);
  if (Bit(a, 200) == 1) FlipBit(a, 200);
  Hash32 b = a;
  FlipBit(b, 200);
  FlipBit(b, 255);
  Bytes va = {1}, vb = {2};
  ReferenceSmt t;
  t.Set(a, va);
  t.Set(b, vb);
  Hash32 h = Node(Leaf(a, va), Leaf(b, vb));
  std::vector<Hash32> upper;  // hashes of the nodes at depths 200..0 on the shared path
  for (size_t d = 200; d-- > 0;) {
    upper.push_back(h);
    h = Bit(a, d) == 0 ? Node(h, kZero) : Node(kZero, h);
  }
  EXPECT_EQ(t.Root(), h);
  Proof pa = t.Prove(a);
  ASSERT_EQ(pa.siblings.size(), 201u);
  for (size_t d = 0; d < 200; ++d) EXPECT_EQ(pa.siblings[d], kZero) << d;
  EXPECT_EQ(pa.siblings[200], Leaf(b, vb));
  EXPECT_TRUE(VerifyProof(h, a, va, pa).ok());
  EXPECT_TRUE(VerifyProof(h, b, vb, t.Prove(b)).ok());
  // c leaves the shared path at bit 100: its terminal is the empty subtree at depth 101, its
  // last sibling the subtree at depth 101 that holds a and b.
  Hash32 c = Neighbour(a, 100, rng);
  Proof pc = t.Prove(c);
  ASSERT_EQ(pc.siblings.size(), 101u);
  EXPECT_FALSE(pc.leaf.has_value());
  EXPECT_EQ(pc.siblings.back(), upper[200 - 101]);
  EXPECT_TRUE(VerifyProof(h, c, std::nullopt, pc).ok());
  // d shares 230 bits with a: its terminal is a's lone leaf at depth 201.
  Hash32 d = Neighbour(a, 230, rng);
  Proof pd = t.Prove(d);
  EXPECT_EQ(pd, pa);
  EXPECT_TRUE(VerifyProof(h, d, std::nullopt, pd).ok());
}

TEST(Smt, KeysDifferingInTheLastBitGive256Siblings) {
  Hash32 a = Sha256(AsBytes("last bit"));
  a[31] &= 0xfe;
  Hash32 b = a;
  b[31] |= 1;
  ReferenceSmt t;
  t.Set(a, AsBytes("x"));
  t.Set(b, AsBytes("y"));
  Proof p = t.Prove(a);
  ASSERT_EQ(p.siblings.size(), kDepth);
  EXPECT_TRUE(VerifyProof(t.Root(), a, Bytes{'x'}, p).ok());
  EXPECT_TRUE(VerifyProof(t.Root(), b, Bytes{'y'}, t.Prove(b)).ok());
  Proof longer = p;
  longer.siblings.insert(longer.siblings.begin(), Sha256(AsBytes("extra")));
  Status st = VerifyProof(t.Root(), a, Bytes{'x'}, longer);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

// Proofs the compact tree can never produce are rejected even against a root computed from the
// proof itself (so only the shape check can catch them).
TEST(Smt, NonCanonicalTerminalsAreRejected) {
  Hash32 key = Sha256(AsBytes("shape"));
  Hash32 vh = Sha256(AsBytes("v"));
  // A lone leaf beside an empty sibling at depth 1: its parent would hold one entry.
  Proof leaf_beside_empty{{kZero}, ProofLeaf{key, vh}};
  Hash32 leaf = LeafHash(key, vh);
  Hash32 root = Bit(key, 0) == 0 ? NodeHash(leaf, kZero) : NodeHash(kZero, leaf);
  Status st = VerifyProofHashed(root, key, vh, leaf_beside_empty);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  // An empty terminal beside an empty sibling.
  Hash32 other = Sha256(AsBytes("other"));
  Proof empty_beside_empty{{other, kZero}, std::nullopt};
  Hash32 mid = NodeHash(kZero, kZero);
  root = Bit(key, 0) == 0 ? NodeHash(mid, other) : NodeHash(other, mid);
  st = VerifyProofHashed(root, key, std::nullopt, empty_beside_empty);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  // The same shapes with a non-empty last sibling pass (they are what the tree produces).
  Proof fine{{other}, ProofLeaf{key, vh}};
  root = Bit(key, 0) == 0 ? NodeHash(leaf, other) : NodeHash(other, leaf);
  EXPECT_TRUE(VerifyProofHashed(root, key, vh, fine).ok());
}

TEST(Smt, ClaimsThatContradictTheLeafAreRejected) {
  Hash32 key = Sha256(AsBytes("claim"));
  Hash32 vh = Sha256(AsBytes("v"));
  Proof own{{}, ProofLeaf{key, vh}};
  Hash32 root = LeafHash(key, vh);
  EXPECT_TRUE(VerifyProofHashed(root, key, vh, own).ok());
  EXPECT_FALSE(VerifyProofHashed(root, key, std::nullopt, own).ok());  // leaf is the key's own
  EXPECT_FALSE(VerifyProofHashed(root, key, Sha256(AsBytes("w")), own).ok());
  Proof none{{}, std::nullopt};
  EXPECT_FALSE(VerifyProofHashed(kZero, key, vh, none).ok());  // membership without a leaf
  // Non-membership by a leaf that is off the key's path at depth 1.
  Hash32 off = key;
  FlipBit(off, 0);
  Hash32 sib = Sha256(AsBytes("sibling"));
  Proof off_path{{sib}, ProofLeaf{off, vh}};
  Hash32 l = LeafHash(off, vh);
  root = Bit(key, 0) == 0 ? NodeHash(l, sib) : NodeHash(sib, l);
  Status st = VerifyProofHashed(root, key, std::nullopt, off_path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  // Membership by another key's leaf.
  EXPECT_FALSE(VerifyProofHashed(LeafHash(off, vh), key, vh, Proof{{}, ProofLeaf{off, vh}}).ok());
}

// A random tree whose keys come in clusters with long shared prefixes, so proofs have long
// chains of empty siblings, lone leaves deep down and empty terminals.
// The keys are distinct.
std::vector<Hash32> RandomKeys(std::mt19937_64& rng, size_t n) {
  std::vector<Hash32> keys;
  std::set<Hash32> seen;
  while (keys.size() < n) {
    Hash32 k;
    if (keys.empty() || rng() % 3 == 0) {
      k = RandomKey(rng);
    } else {
      // One rng() call per statement, so every compiler draws the same sequence.
      const Hash32& base = keys[rng() % keys.size()];
      const size_t depth = rng() % kDepth;
      k = Neighbour(base, depth, rng);
    }
    if (seen.insert(k).second) keys.push_back(k);
  }
  return keys;
}

// Returns true if `proof` verifies for (key, value_hash) against root.
bool Accepts(const Hash32& root, const Hash32& key, const std::optional<Hash32>& vh,
             const Proof& proof) {
  return VerifyProofHashed(root, key, vh, proof).ok();
}

// Every mutation of an honest proof must be rejected. Returns how many were tried.
int ExpectMutationsRejected(const Hash32& root, const Hash32& key, const std::optional<Hash32>& vh,
                            const Proof& proof, std::mt19937_64& rng) {
  int tried = 0;
  auto expect_rejected = [&](const Proof& p, const std::string& what) {
    ++tried;
    EXPECT_FALSE(Accepts(root, key, vh, p)) << what;
  };
  const size_t n = proof.siblings.size();
  for (size_t i = 0; i < n; ++i) {
    // Long proofs are mostly chains of empty siblings: mutate every non-empty sibling, and a
    // sample of the empty ones, to keep the test fast.
    if (n > 24 && proof.siblings[i] == kZero && rng() % 8 != 0) continue;
    for (size_t bit : {size_t{0}, size_t(rng() % 256)}) {
      Proof p = proof;
      FlipBit(p.siblings[i], bit);
      expect_rejected(p, "flip bit " + std::to_string(bit) + " of sibling " + std::to_string(i));
    }
    Proof dropped = proof;
    dropped.siblings.erase(dropped.siblings.begin() + i);
    expect_rejected(dropped, "drop sibling " + std::to_string(i));
  }
  // A sample of swaps.
  for (int s = 0; s < 20 && n >= 2; ++s) {
    size_t i = rng() % n, j = rng() % n;
    if (proof.siblings[i] == proof.siblings[j]) continue;
    Proof p = proof;
    std::swap(p.siblings[i], p.siblings[j]);
    expect_rejected(p, "swap siblings " + std::to_string(i) + "," + std::to_string(j));
  }
  for (const Hash32& extra : {Sha256(AsBytes("extra")), kZero}) {
    Proof front = proof, back = proof;
    front.siblings.insert(front.siblings.begin(), extra);
    back.siblings.push_back(extra);
    expect_rejected(front, "sibling added in front");
    expect_rejected(back, "sibling added at the end");
  }
  if (proof.leaf.has_value()) {
    for (size_t bit : {size_t{0}, size_t{255}, size_t(rng() % 256)}) {
      Proof p = proof;
      FlipBit(p.leaf->key, bit);
      expect_rejected(p, "flip bit " + std::to_string(bit) + " of the leaf key");
      p = proof;
      FlipBit(p.leaf->value_hash, bit);
      expect_rejected(p, "flip bit " + std::to_string(bit) + " of the leaf value hash");
    }
    Proof p = proof;
    p.leaf.reset();
    expect_rejected(p, "leaf removed");
  } else {
    Proof p = proof;
    p.leaf = ProofLeaf{Neighbour(key, kDepth - 1, rng), Sha256(AsBytes("forged"))};
    expect_rejected(p, "leaf added");
  }
  Hash32 bad_root = root;
  FlipBit(bad_root, rng() % 256);
  ++tried;
  EXPECT_FALSE(Accepts(bad_root, key, vh, proof)) << "wrong root";
  return tried;
}

TEST(Smt, RandomTreesProofsVerifyAndMutationsFail) {
  const uint64_t seed = 0x736d74;  // "smt"
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  int members = 0, absents = 0, mutations = 0;
  for (size_t n : {0, 1, 2, 3, 5, 8, 13, 40, 100, 200}) {
    SCOPED_TRACE("tree of " + std::to_string(n));
    ReferenceSmt t;
    std::vector<std::pair<Hash32, Hash32>> oracle;
    std::vector<Hash32> keys = RandomKeys(rng, n);
    for (const Hash32& k : keys) {
      Bytes v = RandomValue(rng);
      t.Set(k, v);
      oracle.emplace_back(k, Sha256(v));
    }
    ASSERT_EQ(t.size(), n);
    const Hash32 root = t.Root();
    EXPECT_EQ(root, NaiveRoot(oracle, 0));
    for (const Hash32& k : keys) {
      Bytes v = t.Get(k).value();
      Proof p = t.Prove(k);
      Status st = VerifyProof(root, k, v, p);
      ASSERT_TRUE(st.ok()) << st.ToString();
      ++members;
      EXPECT_FALSE(VerifyProof(root, k, std::nullopt, p).ok());
      Bytes wrong = v;
      wrong.push_back(0);
      EXPECT_FALSE(VerifyProof(root, k, wrong, p).ok());
      wrong.pop_back();
      wrong[0] ^= 1;
      EXPECT_FALSE(VerifyProof(root, k, wrong, p).ok());
      mutations += ExpectMutationsRejected(root, k, Sha256(v), p, rng);
    }
    // Absent keys: random ones and close neighbours of present keys at every kind of depth.
    std::set<Hash32> present(keys.begin(), keys.end());
    std::vector<Hash32> absent;
    for (int i = 0; i < 20; ++i) absent.push_back(RandomKey(rng));
    for (const Hash32& k : keys) {
      absent.push_back(Neighbour(k, kDepth - 1, rng));
      absent.push_back(Neighbour(k, rng() % kDepth, rng));
    }
    for (const Hash32& k : absent) {
      if (present.count(k) != 0) continue;
      Proof p = t.Prove(k);
      Status st = VerifyProof(root, k, std::nullopt, p);
      ASSERT_TRUE(st.ok()) << st.ToString();
      ++absents;
      EXPECT_FALSE(VerifyProof(root, k, Bytes{0}, p).ok());
      mutations += ExpectMutationsRejected(root, k, std::nullopt, p, rng);
    }
  }
  std::printf("%d membership and %d non-membership proofs verified, %d mutations rejected\n",
              members, absents, mutations);
  EXPECT_GT(members, 300);
  EXPECT_GT(absents, 600);
}

TEST(Smt, RootMatchesNaiveOracle) {
  const uint64_t seed = 0x6f7261636c65;  // "oracle"
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 50; ++round) {
    size_t n = rng() % 201;
    ReferenceSmt t;
    std::vector<std::pair<Hash32, Hash32>> oracle;
    for (const Hash32& k : RandomKeys(rng, n)) {
      Bytes v = RandomValue(rng);
      t.Set(k, v);
      oracle.emplace_back(k, Sha256(v));
    }
    ASSERT_EQ(t.Root(), NaiveRoot(oracle, 0)) << "round " << round << ", " << n << " entries";
  }
}

TEST(Smt, EraseAndOverwriteRestoreTheRoot) {
  const uint64_t seed = 0x6572617365;  // "erase"
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (size_t n : {0, 1, 2, 7, 60, 200}) {
    ReferenceSmt t;
    std::vector<Hash32> keys = RandomKeys(rng, n);
    for (const Hash32& k : keys) t.Set(k, RandomValue(rng));
    const Hash32 before = t.Root();
    // Insert then erase a new key (a neighbour of an existing one when there is one).
    Hash32 extra = keys.empty() ? RandomKey(rng) : Neighbour(keys[0], rng() % kDepth, rng);
    t.Set(extra, AsBytes("temporary"));
    EXPECT_NE(t.Root(), before);
    EXPECT_EQ(t.size(), n + 1);
    t.Erase(extra);
    EXPECT_EQ(t.Root(), before);
    EXPECT_EQ(t.size(), n);
    t.Erase(extra);  // erasing an absent key changes nothing
    EXPECT_EQ(t.Root(), before);
    // Overwrite a value, then put the old one back.
    if (!keys.empty()) {
      Bytes old = t.Get(keys.back()).value();
      const Bytes fresh = {'n', 'e', 'w'};
      t.Set(keys.back(), fresh);
      EXPECT_EQ(t.Get(keys.back()).value(), fresh);
      EXPECT_NE(t.Root(), before);
      EXPECT_EQ(t.size(), n);
      t.Set(keys.back(), old);
      EXPECT_EQ(t.Root(), before);
    }
    // Erasing everything gives the empty root.
    for (const Hash32& k : keys) t.Erase(k);
    EXPECT_EQ(t.Root(), kZero);
  }
}

TEST(Smt, RootIndependentOfInsertionOrder) {
  const uint64_t seed = 0x6f72646572;  // "order"
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<Hash32> keys = RandomKeys(rng, 150);
  std::vector<std::pair<Hash32, Bytes>> entries;
  for (const Hash32& k : keys) entries.emplace_back(k, RandomValue(rng));
  ReferenceSmt first;
  for (const auto& [k, v] : entries) first.Set(k, v);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(entries.begin(), entries.end(), rng);
    ReferenceSmt t;
    for (const auto& [k, v] : entries) t.Set(k, v);
    EXPECT_EQ(t.Root(), first.Root()) << "round " << round;
    EXPECT_EQ(t.Prove(keys[round]), first.Prove(keys[round]));
  }
}

}  // namespace
}  // namespace consent::smt
