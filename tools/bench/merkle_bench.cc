// Benchmarks for the Merkle maths at ledger scale: the state SMT (building a ReferenceSmt of 1M
// random keys and taking its root, proving a key in it, verifying a proof) and the global log
// (root of 1M leaves, an inclusion proof among 1M leaves, verifying it). Fixtures are built once
// outside the timed loops and the heavy cases run a fixed, small number of iterations, so the
// whole file runs in well under a minute. Single-threaded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/merkle_log.h"
#include "ledger/smt.h"

namespace consent {
namespace {

constexpr size_t kMillion = 1'000'000;

Hash32 RandomHash(std::mt19937_64& rng) {
  Hash32 h;
  for (size_t i = 0; i < h.size(); i += 8) {
    uint64_t x = rng();
    for (size_t j = 0; j < 8; ++j) h[i + j] = uint8_t(x >> (8 * j));
  }
  return h;
}

// 1M random keys with 48-byte values, as a state of 1M consent entries.
const std::vector<Hash32>& SmtKeys() {
  static const std::vector<Hash32> keys = [] {
    std::mt19937_64 rng(1);
    std::vector<Hash32> k(kMillion);
    for (auto& h : k) h = RandomHash(rng);
    return k;
  }();
  return keys;
}

smt::ReferenceSmt BuildSmt() {
  smt::ReferenceSmt tree;
  uint8_t value[48] = {1};
  for (const Hash32& k : SmtKeys()) {
    value[1] = k[0];
    tree.Set(k, ByteView(value, sizeof value));
  }
  return tree;
}

const smt::ReferenceSmt& SmtFixture() {
  static const smt::ReferenceSmt tree = BuildSmt();
  return tree;
}

// 1M log leaf hashes.
const std::vector<Hash32>& LogLeaves() {
  static const std::vector<Hash32> leaves = [] {
    std::vector<Hash32> l(kMillion);
    for (uint64_t i = 0; i < kMillion; ++i) {
      uint8_t data[8];
      for (int j = 0; j < 8; ++j) data[j] = uint8_t(i >> (8 * j));
      l[i] = merkle::LeafHash(ByteView(data, sizeof data));
    }
    return l;
  }();
  return leaves;
}

void BM_SmtBuildAndRoot1M(benchmark::State& state) {
  SmtKeys();  // key generation is not timed
  for (auto _ : state) {
    smt::ReferenceSmt tree = BuildSmt();
    benchmark::DoNotOptimize(tree.Root());
  }
  state.SetItemsProcessed(state.iterations() * kMillion);
}
BENCHMARK(BM_SmtBuildAndRoot1M)->Iterations(2)->Unit(benchmark::kMillisecond);

void BM_SmtRoot1M(benchmark::State& state) {
  const smt::ReferenceSmt& tree = SmtFixture();
  for (auto _ : state) benchmark::DoNotOptimize(tree.Root());
  state.SetItemsProcessed(state.iterations() * kMillion);
}
BENCHMARK(BM_SmtRoot1M)->Iterations(3)->Unit(benchmark::kMillisecond);

void BM_SmtProve1M(benchmark::State& state) {
  const smt::ReferenceSmt& tree = SmtFixture();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(tree.Prove(SmtKeys()[i++ * 7919 % kMillion]));
}
BENCHMARK(BM_SmtProve1M)->Iterations(5)->Unit(benchmark::kMillisecond);

void BM_SmtVerify1M(benchmark::State& state) {
  const smt::ReferenceSmt& tree = SmtFixture();
  const Hash32 root = tree.Root();
  const Hash32& key = SmtKeys()[12345];
  const smt::Proof proof = tree.Prove(key);
  const std::optional<Hash32> value_hash = Sha256(*tree.Get(key));
  for (auto _ : state) {
    benchmark::DoNotOptimize(smt::VerifyProofHashed(root, key, value_hash, proof).ok());
  }
  state.counters["siblings"] = double(proof.siblings.size());
}
BENCHMARK(BM_SmtVerify1M)->Unit(benchmark::kMicrosecond);

void BM_LogRoot1M(benchmark::State& state) {
  const std::vector<Hash32>& leaves = LogLeaves();
  for (auto _ : state) benchmark::DoNotOptimize(merkle::RootFromLeafHashes(leaves));
  state.SetItemsProcessed(state.iterations() * kMillion);
}
BENCHMARK(BM_LogRoot1M)->Iterations(5)->Unit(benchmark::kMillisecond);

void BM_LogInclusionProof1M(benchmark::State& state) {
  const std::vector<Hash32>& leaves = LogLeaves();
  uint64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(merkle::InclusionProof(leaves, i++ * 104729 % kMillion, kMillion));
  }
}
BENCHMARK(BM_LogInclusionProof1M)->Iterations(10)->Unit(benchmark::kMillisecond);

void BM_LogVerifyInclusion1M(benchmark::State& state) {
  const std::vector<Hash32>& leaves = LogLeaves();
  const Hash32 root = merkle::RootFromLeafHashes(leaves);
  const uint64_t index = 654321;
  const std::vector<Hash32> proof = merkle::InclusionProof(leaves, index, kMillion).value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        merkle::VerifyInclusion(index, kMillion, leaves[index], proof, root).ok());
  }
}
BENCHMARK(BM_LogVerifyInclusion1M)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace consent
