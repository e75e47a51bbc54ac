// Tests for ledger/merkle_log: the RFC 6962 / RFC 9162 hashing, proof builders and verifiers,
// checked against every vector in tests/vectors/ (rfc6962_merkle_tree.json, the derived
// all-proofs file for n = 1..8, and transparency-dev's 98 + 98 verifier probes; SOURCES.md says
// where each comes from), plus randomized property tests with fixed, printed seeds: every honest
// proof verifies, every mutated proof is rejected. Single-threaded.
#include "ledger/merkle_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "crypto/hex.h"
#include "crypto/sha256.h"

namespace consent::merkle {
namespace {

using Proof = std::vector<Hash32>;

nlohmann::json LoadVectors(const std::string& name) {
  std::ifstream in(std::string(CONSENT_SOURCE_DIR) + "/tests/vectors/" + name);
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

Hash32 H(const nlohmann::json& hex) { return FromHexFixed<32>(hex.get<std::string>()).value(); }

Proof HashList(const nlohmann::json& list) {
  Proof out;
  for (const auto& h : list) out.push_back(H(h));
  return out;
}

// Leaf hashes of the 8 RFC 6962 test inputs.
std::vector<Hash32> TestLeaves(const nlohmann::json& v) {
  std::vector<Hash32> leaves;
  for (const auto& in : v["leaf_inputs_hex"]) {
    leaves.push_back(LeafHash(FromHex(in.get<std::string>()).value()));
  }
  return leaves;
}

TEST(MerkleLog, HasherSmokeVectors) {
  auto v = LoadVectors("rfc6962_merkle_tree.json");
  int checked = 0;
  for (const auto& t : v["hasher_smoke_vectors"]) {
    SCOPED_TRACE(t["desc"].get<std::string>());
    std::string kind = t["kind"];
    Hash32 want = H(t["want_hex"]);
    if (kind == "empty_root") {
      EXPECT_EQ(EmptyRoot(), want);
      ++checked;
    } else if (kind == "leaf") {
      EXPECT_EQ(LeafHash(FromHex(t["input_hex"].get<std::string>()).value()), want);
      ++checked;
    }
    // kind "node" hashes 4-byte children; NodeHash takes 32-byte hashes only, so it cannot apply.
  }
  EXPECT_EQ(checked, 3);
  EXPECT_NE(EmptyRoot(), LeafHash(ByteView()));
}

TEST(MerkleLog, LeafHashesSubtreesAndRoots) {
  auto v = LoadVectors("rfc6962_merkle_tree.json");
  std::vector<Hash32> leaves = TestLeaves(v);
  ASSERT_EQ(leaves.size(), 8u);
  EXPECT_EQ(leaves, HashList(v["leaf_hashes_hex"]));
  const auto& levels = v["complete_subtree_hashes_hex"];
  for (uint64_t level = 0; level <= 3; ++level) {
    const auto& hashes = levels["level_" + std::to_string(level)];
    uint64_t width = uint64_t{1} << level;
    ASSERT_EQ(hashes.size(), 8 / width);
    for (uint64_t j = 0; j < hashes.size(); ++j) {
      EXPECT_EQ(RootFromLeafHashes(leaves, j * width, (j + 1) * width), H(hashes[j]))
          << "level " << level << " index " << j;
    }
  }
  const auto& roots = v["root_hash_by_tree_size_hex"];
  ASSERT_EQ(roots.size(), 9u);
  for (uint64_t n = 0; n <= 8; ++n) {
    Hash32 want = H(roots[std::to_string(n)]);
    EXPECT_EQ(RootFromLeafHashes(leaves, 0, n), want) << n;
    std::vector<Hash32> prefix(leaves.begin(), leaves.begin() + n);
    EXPECT_EQ(RootFromLeafHashes(prefix), want) << n;
  }
  EXPECT_EQ(RootFromLeafHashes({}), EmptyRoot());
}

// Checks every inclusion proof in `list`: the builder reproduces it and the verifier accepts it.
int CheckInclusionList(const nlohmann::json& list, const std::vector<Hash32>& leaves) {
  int n = 0;
  for (const auto& t : list) {
    uint64_t index = t["leaf_index"], size = t["tree_size"];
    SCOPED_TRACE("inclusion " + std::to_string(index) + " of " + std::to_string(size));
    Proof want = HashList(t["proof_hex"]);
    Hash32 leaf = H(t["leaf_hash_hex"]), root = H(t["root_hex"]);
    EXPECT_EQ(leaf, leaves[index]);
    EXPECT_EQ(RootFromLeafHashes(leaves, 0, size), root);
    EXPECT_EQ(InclusionProof(leaves, index, size).value(), want);
    Status st = VerifyInclusion(index, size, leaf, want, root);
    EXPECT_TRUE(st.ok()) << st.ToString();
    ++n;
  }
  return n;
}

int CheckConsistencyList(const nlohmann::json& list, const std::vector<Hash32>& leaves) {
  int n = 0;
  for (const auto& t : list) {
    uint64_t size1 = t["size1"], size2 = t["size2"];
    SCOPED_TRACE("consistency " + std::to_string(size1) + " -> " + std::to_string(size2));
    Proof want = HashList(t["proof_hex"]);
    Hash32 root1 = H(t["root1_hex"]), root2 = H(t["root2_hex"]);
    EXPECT_EQ(RootFromLeafHashes(leaves, 0, size1), root1);
    EXPECT_EQ(RootFromLeafHashes(leaves, 0, size2), root2);
    EXPECT_EQ(ConsistencyProof(leaves, size1, size2).value(), want);
    Status st = VerifyConsistency(size1, size2, root1, root2, want);
    EXPECT_TRUE(st.ok()) << st.ToString();
    ++n;
  }
  return n;
}

TEST(MerkleLog, UpstreamProofs) {
  auto v = LoadVectors("rfc6962_merkle_tree.json");
  std::vector<Hash32> leaves = TestLeaves(v);
  EXPECT_EQ(CheckInclusionList(v["inclusion_proofs"], leaves), 7);
  EXPECT_EQ(CheckConsistencyList(v["consistency_proofs"], leaves), 5);
}

TEST(MerkleLog, AllDerivedProofsUpTo8) {
  auto v = LoadVectors("rfc6962_merkle_all_proofs_n1to8_derived.json");
  std::vector<Hash32> leaves = TestLeaves(v);
  for (const auto& [n, root] : v["root_hash_by_tree_size_hex"].items()) {
    EXPECT_EQ(RootFromLeafHashes(leaves, 0, std::stoull(n)), H(root)) << n;
  }
  EXPECT_EQ(CheckInclusionList(v["inclusion_proofs"], leaves), 36);
  EXPECT_EQ(CheckConsistencyList(v["consistency_proofs"], leaves), 36);
}

// Decoding of probe fields. Our API takes 32-byte hashes only, and upstream's probes include
// fields of other lengths. Upstream rejects a leaf hash or proof element that is not 32 bytes
// (so do we: such a probe is rejected at decoding and never reaches the verifier), but compares
// roots as opaque byte strings (its "sizes are equal (one) and proof is empty" probe passes two
// equal 12-byte roots and must be accepted). So a root that is not 32 bytes is mapped to the
// stand-in H(0xff || bytes): equal roots stay equal, different ones stay different, and none can
// equal a computed root. `*odd` counts the fields that are not 32 bytes.
std::optional<Hash32> ProbeHash(const nlohmann::json& hex, int* odd) {
  Bytes b = FromHex(hex.get<std::string>()).value();
  if (b.size() != 32) {
    ++*odd;
    return std::nullopt;
  }
  Hash32 h;
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

Hash32 ProbeRoot(const nlohmann::json& hex, int* odd) {
  if (std::optional<Hash32> h = ProbeHash(hex, odd)) return *h;
  const uint8_t tag = 0xff;
  return Sha256({ByteView(&tag, 1), FromHex(hex.get<std::string>()).value()});
}

std::optional<Proof> ProbeProof(const nlohmann::json& list, int* odd) {
  Proof out;
  if (list.is_null()) return out;
  bool ok = true;
  for (const auto& hex : list) {
    std::optional<Hash32> h = ProbeHash(hex, odd);
    if (h) out.push_back(*h);
    ok = ok && h.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

TEST(MerkleLog, InclusionProbes) {
  auto v = LoadVectors("merkle_inclusion_probes.json");
  int total = 0, want_err = 0, odd = 0, verified = 0;
  for (const auto& p : v["probes"]) {
    SCOPED_TRACE(p["source_path"].get<std::string>());
    bool expect_err = p["wantErr"];
    Hash32 root = ProbeRoot(p["root_hex"], &odd);
    std::optional<Hash32> leaf = ProbeHash(p["leafHash_hex"], &odd);
    std::optional<Proof> proof = ProbeProof(p["proof_hex"], &odd);
    bool accepted = false;
    if (leaf && proof) {
      accepted = VerifyInclusion(p["leafIdx"], p["treeSize"], *leaf, *proof, root).ok();
      ++verified;
    }
    EXPECT_EQ(accepted, !expect_err) << p["desc"].get<std::string>();
    ++total;
    want_err += expect_err;
  }
  EXPECT_EQ(total, v["count"].get<int>());
  EXPECT_EQ(want_err, v["want_error_count"].get<int>());
  EXPECT_EQ(total, 98);
  EXPECT_EQ(want_err, 92);
  // Hash fields that are not 32 bytes, and probes that reached the verifier (counted with
  // python3 from the file).
  EXPECT_EQ(odd, 27);
  EXPECT_EQ(verified, 98 - 21);
}

TEST(MerkleLog, ConsistencyProbes) {
  auto v = LoadVectors("merkle_consistency_probes.json");
  int total = 0, want_err = 0, odd = 0, verified = 0;
  for (const auto& p : v["probes"]) {
    SCOPED_TRACE(p["source_path"].get<std::string>());
    bool expect_err = p["wantErr"];
    Hash32 root1 = ProbeRoot(p["root1_hex"], &odd);
    Hash32 root2 = ProbeRoot(p["root2_hex"], &odd);
    std::optional<Proof> proof = ProbeProof(p["proof_hex"], &odd);
    bool accepted = false;
    if (proof) {
      accepted = VerifyConsistency(p["size1"], p["size2"], root1, root2, *proof).ok();
      ++verified;
    }
    EXPECT_EQ(accepted, !expect_err) << p["desc"].get<std::string>();
    ++total;
    want_err += expect_err;
  }
  EXPECT_EQ(total, v["count"].get<int>());
  EXPECT_EQ(want_err, v["want_error_count"].get<int>());
  EXPECT_EQ(total, 98);
  EXPECT_EQ(want_err, 92);
  EXPECT_EQ(odd, 35);
  EXPECT_EQ(verified, 98 - 8);
}

TEST(MerkleLog, BuilderArgumentErrors) {
  std::vector<Hash32> leaves(5);
  for (size_t i = 0; i < leaves.size(); ++i) leaves[i] = LeafHash(Bytes{uint8_t(i)});
  EXPECT_FALSE(InclusionProof(leaves, 0, 0).ok());
  EXPECT_FALSE(InclusionProof(leaves, 5, 5).ok());
  EXPECT_FALSE(InclusionProof(leaves, 0, 6).ok());
  EXPECT_TRUE(InclusionProof(leaves, 4, 5).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 0, 3).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 4, 3).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 3, 6).ok());
  EXPECT_TRUE(ConsistencyProof(leaves, 5, 5).value().empty());
  EXPECT_EQ(InclusionProof(leaves, 0, 1).value().size(), 0u);
}

TEST(MerkleLog, VerifierArgumentErrors) {
  Hash32 leaf = LeafHash(AsBytes("x"));
  EXPECT_FALSE(VerifyInclusion(0, 0, leaf, {}, leaf).ok());
  EXPECT_FALSE(VerifyInclusion(1, 1, leaf, {}, leaf).ok());
  EXPECT_TRUE(VerifyInclusion(0, 1, leaf, {}, leaf).ok());
  EXPECT_FALSE(VerifyInclusion(0, 1, leaf, {leaf}, leaf).ok());
  // Size 0, shrinking trees and equal sizes with a proof or different roots.
  Hash32 other = LeafHash(AsBytes("y"));
  EXPECT_FALSE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 1, EmptyRoot(), leaf, {}).ok());
  EXPECT_FALSE(VerifyConsistency(2, 1, leaf, leaf, {}).ok());
  EXPECT_TRUE(VerifyConsistency(3, 3, leaf, leaf, {}).ok());
  EXPECT_FALSE(VerifyConsistency(3, 3, leaf, other, {}).ok());
  EXPECT_FALSE(VerifyConsistency(3, 3, leaf, leaf, {leaf}).ok());
  EXPECT_FALSE(VerifyConsistency(1, 2, leaf, NodeHash(leaf, other), {}).ok());
  EXPECT_TRUE(VerifyConsistency(1, 2, leaf, NodeHash(leaf, other), {other}).ok());
}

// For huge trees (no leaves needed), exactly one proof length is accepted for each index, and
// the verifier neither overflows nor loops: sizes near 2^63 and 2^64.
TEST(MerkleLog, HugeSizesAcceptExactlyOneProofLength) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t sizes[] = {uint64_t{1} << 63, (uint64_t{1} << 63) + 1, kMax - 1, kMax, 3, 1};
  Hash32 leaf = LeafHash(AsBytes("leaf"));
  for (uint64_t size : sizes) {
    for (uint64_t index : {uint64_t{0}, size / 2, size - 1, size / 3}) {
      int accepted_lengths = 0;
      for (size_t len = 0; len <= 66; ++len) {
        Proof proof(len);
        for (size_t i = 0; i < len; ++i) proof[i] = LeafHash(Bytes{uint8_t(i)});
        Result<Hash32> root = RootFromInclusionProof(index, size, leaf, proof);
        if (!root.ok()) continue;
        ++accepted_lengths;
        EXPECT_TRUE(VerifyInclusion(index, size, leaf, proof, *root).ok());
        Hash32 bad_leaf = leaf;
        bad_leaf[0] ^= 1;
        EXPECT_FALSE(VerifyInclusion(index, size, bad_leaf, proof, *root).ok());
        if (len > 0) {
          proof.back()[0] ^= 1;
          EXPECT_FALSE(VerifyInclusion(index, size, leaf, proof, *root).ok());
        }
      }
      EXPECT_EQ(accepted_lengths, 1) << index << " of " << size;
    }
    EXPECT_FALSE(RootFromInclusionProof(size, size, leaf, {}).ok());
  }
  EXPECT_FALSE(VerifyConsistency(kMax, kMax - 1, leaf, leaf, {leaf}).ok());
  EXPECT_FALSE(VerifyConsistency(kMax - 1, kMax, leaf, leaf, Proof(64, leaf)).ok());
}

// Random leaves for the property tests, and the roots of every prefix.
struct RandomLog {
  std::vector<Hash32> leaves;
  std::vector<Hash32> roots;  // roots[n] = MTH of the first n leaves
};

RandomLog MakeLog(std::mt19937_64& rng, size_t n) {
  RandomLog log;
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = rng();
    log.leaves.push_back(LeafHash(ByteView(reinterpret_cast<const uint8_t*>(&x), sizeof x)));
  }
  for (size_t k = 0; k <= n; ++k) log.roots.push_back(RootFromLeafHashes(log.leaves, 0, k));
  return log;
}

// Every structural mutation of `proof` (bit flips, swaps, drops, an extra element), given to
// `accepts`, which must return false for each. Flips every bit when `all_bits`, else 3 per
// element. Returns how many mutations were tried.
template <typename Accepts>
int ExpectMutationsRejected(const Proof& proof, std::mt19937_64& rng, bool all_bits,
                            Accepts accepts) {
  int tried = 0;
  auto expect_rejected = [&](const Proof& p, const std::string& what) {
    ++tried;
    EXPECT_FALSE(accepts(p)) << what;
  };
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<size_t> bits;
    if (all_bits) {
      for (size_t b = 0; b < 256; ++b) bits.push_back(b);
    } else {
      bits = {0, 255, size_t(rng() % 256)};
    }
    for (size_t b : bits) {
      Proof p = proof;
      p[i][b / 8] ^= uint8_t(1 << (b % 8));
      expect_rejected(p, "flip bit " + std::to_string(b) + " of element " + std::to_string(i));
    }
    for (size_t j = i + 1; j < proof.size(); ++j) {
      if (proof[i] == proof[j]) continue;
      Proof p = proof;
      std::swap(p[i], p[j]);
      expect_rejected(p, "swap " + std::to_string(i) + "," + std::to_string(j));
    }
    Proof dropped = proof;
    dropped.erase(dropped.begin() + i);
    expect_rejected(dropped, "drop " + std::to_string(i));
  }
  Proof appended = proof;
  appended.push_back(LeafHash(AsBytes("extra")));
  expect_rejected(appended, "append");
  if (!proof.empty()) {
    Proof dup = proof;
    dup.push_back(proof.back());
    expect_rejected(dup, "append duplicate of last");
  }
  return tried;
}

TEST(MerkleLog, RandomInclusionProofsVerifyAndMutationsFail) {
  const uint64_t seed = 0x6d65726b6c65;  // "merkle"
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<size_t> sizes = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33};
  for (int i = 0; i < 10; ++i) sizes.push_back(1 + rng() % 300);
  int proofs = 0, mutations = 0;
  for (size_t n : sizes) {
    RandomLog log = MakeLog(rng, n + 3);
    const Hash32& root = log.roots[n];
    for (uint64_t index = 0; index < n; ++index) {
      SCOPED_TRACE("index " + std::to_string(index) + " of " + std::to_string(n));
      Proof proof = InclusionProof(log.leaves, index, n).value();
      const Hash32& leaf = log.leaves[index];
      ASSERT_TRUE(VerifyInclusion(index, n, leaf, proof, root).ok());
      EXPECT_EQ(RootFromInclusionProof(index, n, leaf, proof).value(), root);
      ++proofs;
      mutations += ExpectMutationsRejected(proof, rng, n <= 9, [&](const Proof& p) {
        return VerifyInclusion(index, n, leaf, p, root).ok();
      });
      // Wrong leaf, wrong root, other indices and other tree sizes (with their own roots).
      Hash32 bad = leaf;
      bad[31] ^= 0x80;
      EXPECT_FALSE(VerifyInclusion(index, n, bad, proof, root).ok());
      EXPECT_FALSE(VerifyInclusion(index, n, leaf, proof, log.roots[n - 1]).ok());
      bad = root;
      bad[0] ^= 1;
      EXPECT_FALSE(VerifyInclusion(index, n, leaf, proof, bad).ok());
      for (uint64_t other : {index + 1, index - 1, index ^ 1, index + 2, n}) {
        if (other == index) continue;
        EXPECT_FALSE(VerifyInclusion(other, n, leaf, proof, root).ok()) << "index " << other;
      }
      for (uint64_t other : {n - 1, n + 1, n + 2, n + 3}) {
        if (other == n || other <= index) continue;
        EXPECT_FALSE(VerifyInclusion(index, other, leaf, proof, log.roots[other]).ok())
            << "size " << other;
      }
    }
  }
  std::printf("%d inclusion proofs verified, %d mutations rejected\n", proofs, mutations);
  EXPECT_GT(proofs, 100);
}

TEST(MerkleLog, RandomConsistencyProofsVerifyAndMutationsFail) {
  const uint64_t seed = 0x636f6e73;  // "cons"
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  int proofs = 0, mutations = 0;
  for (int round = 0; round < 20; ++round) {
    size_t n = round < 4 ? 1 + round * 3 : 1 + rng() % 300;
    RandomLog log = MakeLog(rng, n + 2);
    // Every pair for small trees, a sample of pairs for larger ones.
    std::vector<std::pair<uint64_t, uint64_t>> pairs;
    for (uint64_t m = 1; m <= n; ++m) {
      if (n <= 16 || rng() % 8 == 0) pairs.emplace_back(m, n);
      if (n <= 16) pairs.emplace_back(m, std::min<uint64_t>(n, 1 + m + rng() % (n + 1 - m)));
    }
    for (const auto& pair : pairs) {
      const uint64_t m = pair.first, k = pair.second;
      SCOPED_TRACE("consistency " + std::to_string(m) + " -> " + std::to_string(k));
      Proof proof = ConsistencyProof(log.leaves, m, k).value();
      const Hash32& r1 = log.roots[m];
      const Hash32& r2 = log.roots[k];
      ASSERT_TRUE(VerifyConsistency(m, k, r1, r2, proof).ok());
      ++proofs;
      mutations += ExpectMutationsRejected(proof, rng, k <= 9, [&](const Proof& p) {
        return VerifyConsistency(m, k, r1, r2, p).ok();
      });
      Hash32 bad = r1;
      bad[7] ^= 4;
      EXPECT_FALSE(VerifyConsistency(m, k, bad, r2, proof).ok());
      bad = r2;
      bad[7] ^= 4;
      EXPECT_FALSE(VerifyConsistency(m, k, r1, bad, proof).ok());
      // Other sizes, each with its own (correct) root: the proof must not carry over.
      for (uint64_t m2 : {m - 1, m + 1, m + 2}) {
        if (m2 == m || m2 == 0 || m2 > k) continue;
        EXPECT_FALSE(VerifyConsistency(m2, k, log.roots[m2], r2, proof).ok()) << "size1 " << m2;
      }
      for (uint64_t k2 : {k - 1, k + 1, k + 2}) {
        if (k2 == k || k2 < m || k2 > n + 2) continue;
        EXPECT_FALSE(VerifyConsistency(m, k2, r1, log.roots[k2], proof).ok()) << "size2 " << k2;
      }
      if (m != k) {
        EXPECT_FALSE(VerifyConsistency(k, m, r2, r1, proof).ok());
      }
    }
  }
  std::printf("%d consistency proofs verified, %d mutations rejected\n", proofs, mutations);
  EXPECT_GT(proofs, 200);
}

}  // namespace
}  // namespace consent::merkle
