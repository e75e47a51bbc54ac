// libFuzzer target for the proof verifiers of ledger/merkle_log and ledger/smt. The input is
// sliced into: u8 flags, u64 a, u64 b (big-endian), a 32-byte hash `h1`, a 32-byte hash `h2`,
// and then 32-byte proof hashes (missing bytes read as zero). Each input is used three ways:
//   1. raw: VerifyInclusion / RootFromInclusionProof / VerifyConsistency on (a, b, h1, h2, proof)
//      must not crash, and RootFromInclusionProof must agree with VerifyInclusion;
//   2. against a real log of 1..64 leaves (size and index derived from a and b): the builders'
//      proofs must verify, and a fuzzed proof that verifies must be the builder's proof (proofs
//      are unique unless SHA-256 collides);
//   3. smt::VerifyProofHashed on a proof made of the hashes, and against a small real
//      ReferenceSmt whose keys come from the proof hashes, with the same uniqueness check.
// Any violated expectation aborts. Stateless; each call is independent.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/merkle_log.h"
#include "ledger/smt.h"

namespace {

using consent::ByteView;
using consent::Hash32;

class Slicer {
 public:
  Slicer(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() {
    uint8_t b = 0;
    Take(&b, 1);
    return b;
  }
  uint64_t U64() {
    uint8_t b[8];
    Take(b, 8);
    uint64_t v = 0;
    for (uint8_t x : b) v = (v << 8) | x;
    return v;
  }
  Hash32 Hash() {
    Hash32 h{};
    Take(h.data(), h.size());
    return h;
  }
  size_t remaining() const { return size_ - pos_; }

 private:
  void Take(uint8_t* out, size_t n) {
    std::memset(out, 0, n);
    size_t k = n < remaining() ? n : remaining();
    if (k > 0) std::memcpy(out, data_ + pos_, k);
    pos_ += k;
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

void FuzzLog(uint8_t flags, uint64_t a, uint64_t b, const Hash32& h1, const Hash32& h2,
             const std::vector<Hash32>& proof) {
  namespace merkle = consent::merkle;
  // 1. Raw inputs.
  consent::Status inc = merkle::VerifyInclusion(a, b, h1, proof, h2);
  consent::Result<Hash32> root = merkle::RootFromInclusionProof(a, b, h1, proof);
  if (root.ok()) {
    Check(merkle::VerifyInclusion(a, b, h1, proof, *root).ok());
    Check(inc.ok() == (*root == h2));
  } else {
    Check(!inc.ok());
  }
  (void)merkle::VerifyConsistency(a, b, h1, h2, proof);

  // 2. A real log.
  const uint64_t n = 1 + b % 64;
  std::vector<Hash32> leaves;
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t data[2] = {uint8_t(i), flags};
    leaves.push_back(merkle::LeafHash(ByteView(data, 2)));
  }
  std::vector<Hash32> roots;
  for (uint64_t k = 0; k <= n; ++k) roots.push_back(merkle::RootFromLeafHashes(leaves, 0, k));
  const uint64_t index = a % n;
  std::vector<Hash32> honest = merkle::InclusionProof(leaves, index, n).value();
  Check(merkle::VerifyInclusion(index, n, leaves[index], honest, roots[n]).ok());
  if (merkle::VerifyInclusion(index, n, leaves[index], proof, roots[n]).ok()) {
    Check(proof == honest);
  }
  const uint64_t m = 1 + (a >> 8) % n;
  std::vector<Hash32> cons = merkle::ConsistencyProof(leaves, m, n).value();
  Check(merkle::VerifyConsistency(m, n, roots[m], roots[n], cons).ok());
  if (merkle::VerifyConsistency(m, n, roots[m], roots[n], proof).ok()) Check(proof == cons);
}

void FuzzSmt(uint8_t flags, const Hash32& key, const Hash32& h2,
             const std::vector<Hash32>& hashes) {
  namespace smt = consent::smt;
  // 3a. Raw: flags choose membership and whether the proof carries a leaf (the first two hashes).
  smt::Proof proof;
  size_t first = 0;
  if ((flags & 2) != 0 && hashes.size() >= 2) {
    proof.leaf = smt::ProofLeaf{hashes[0], hashes[1]};
    first = 2;
  }
  proof.siblings.assign(hashes.begin() + first, hashes.end());
  std::optional<Hash32> value_hash;
  if ((flags & 1) != 0) value_hash = h2;
  consent::Status st = smt::VerifyProofHashed(h2, key, value_hash, proof);
  if (st.ok()) {
    Check(proof.siblings.size() <= smt::kDepth);
    Check(value_hash.has_value() == (proof.leaf.has_value() && proof.leaf->key == key));
  }

  // 3b. A real tree whose keys are the fuzzed hashes (up to 8), values their positions.
  smt::ReferenceSmt tree;
  for (size_t i = 0; i < hashes.size() && i < 8; ++i) {
    const uint8_t v = uint8_t(i);
    tree.Set(hashes[i], ByteView(&v, 1));
  }
  const Hash32 root = tree.Root();
  std::optional<consent::Bytes> value = tree.Get(key);
  smt::Proof honest = tree.Prove(key);
  Check(smt::VerifyProof(root, key, value, honest).ok());
  if (smt::VerifyProof(root, key, value, proof).ok()) Check(proof == honest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Slicer in(data, size);
  const uint8_t flags = in.Byte();
  const uint64_t a = in.U64();
  const uint64_t b = in.U64();
  const Hash32 h1 = in.Hash();
  const Hash32 h2 = in.Hash();
  std::vector<Hash32> hashes;
  while (in.remaining() > 0 && hashes.size() < 260) hashes.push_back(in.Hash());
  FuzzLog(flags, a, b, h1, h2, hashes);
  FuzzSmt(flags, h1, h2, hashes);
  return 0;
}
