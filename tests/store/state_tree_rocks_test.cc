// StateTree and LogTree over a real RocksKv in a temporary directory: roots and proofs agree with
// the in-memory references (smt::ReferenceSmt, ledger/merkle_log.h) across random update batches,
// and still agree after the store is closed and reopened. Fixed seeds; single-threaded.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "crypto/sha256.h"
#include "ledger/log_tree.h"
#include "ledger/merkle_log.h"
#include "ledger/smt.h"
#include "ledger/state_tree.h"
#include "ledger/store/rocks_kv.h"
#include "rocks_fixture.h"

namespace consent {
namespace {

Hash32 RandomKey(std::mt19937_64& rng) {
  Hash32 k;
  for (auto& b : k) b = uint8_t(rng());
  return k;
}

class TreesOnRocksTest : public consent::testing::RocksFixture {
 protected:
};

void CheckState(const RocksKv& kv, const smt::ReferenceSmt& ref, const std::vector<Hash32>& keys,
                std::mt19937_64& rng) {
  StateTree tree(kv);
  ASSERT_EQ(tree.Root().value(), ref.Root());
  for (size_t i = 0; i < 12 && !keys.empty(); ++i) {
    const Hash32 key = i % 5 == 4 ? RandomKey(rng) : keys[rng() % keys.size()];
    auto proof = tree.Prove(key);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    ASSERT_EQ(proof.value(), ref.Prove(key));
    EXPECT_TRUE(smt::VerifyProof(ref.Root(), key, ref.Get(key), *proof).ok());
  }
}

TEST_F(TreesOnRocksTest, StateTreeMatchesReferenceAcrossReopen) {
  std::mt19937_64 rng(42);
  smt::ReferenceSmt ref;
  std::vector<Hash32> keys;  // every key ever set (some since deleted)
  auto kv = Open();
  ASSERT_NE(kv, nullptr);
  for (int round = 0; round < 40; ++round) {
    std::map<Hash32, std::optional<Bytes>> batch;
    for (size_t i = 0, n = 1 + rng() % 60; i < n; ++i) {
      const int what = int(rng() % 16);
      if (what >= 8 || keys.empty()) {
        Hash32 k = RandomKey(rng);
        keys.push_back(k);
        batch[k] = Bytes{uint8_t(rng()), 1};
      } else if (what == 0) {  // a near neighbour: differs in the last bit
        Hash32 k = keys[rng() % keys.size()];
        k[31] ^= 1;
        keys.push_back(k);
        batch[k] = Bytes{uint8_t(rng()), 2};
      } else if (what <= 3) {
        batch[keys[rng() % keys.size()]] = Bytes{uint8_t(rng()), 3};
      } else {
        batch[keys[rng() % keys.size()]] = std::nullopt;
      }
    }
    std::vector<StateTreeChange> changes;
    for (const auto& [k, v] : batch) {
      changes.push_back({k, v ? std::optional<Hash32>(Sha256(*v)) : std::nullopt});
      if (v) {
        ref.Set(k, *v);
      } else {
        ref.Erase(k);
      }
    }
    KvBatch writes;
    auto root = StateTree(*kv).Update(changes, &writes);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    ASSERT_EQ(root.value(), ref.Root());
    ASSERT_TRUE(kv->Write(writes, /*sync=*/false).ok());
    CheckState(*kv, ref, keys, rng);
    if (HasFatalFailure()) return;
    if (round % 10 == 9) {
      ASSERT_TRUE(kv->Flush().ok());
      kv.reset();
      kv = Open();
      ASSERT_NE(kv, nullptr);
      CheckState(*kv, ref, keys, rng);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_F(TreesOnRocksTest, LogTreeMatchesReferenceAcrossReopen) {
  std::mt19937_64 rng(7);
  std::vector<Hash32> leaves;
  auto kv = Open();
  ASSERT_NE(kv, nullptr);
  for (int round = 0; round < 30; ++round) {
    LogTree tree(*kv, leaves.size());
    std::vector<Hash32> add;
    for (size_t i = 0, n = 1 + rng() % 40; i < n; ++i) add.push_back(RandomKey(rng));
    KvBatch writes;
    ASSERT_TRUE(tree.Append(add, &writes).ok());
    ASSERT_TRUE(kv->Write(writes, /*sync=*/false).ok());
    leaves.insert(leaves.end(), add.begin(), add.end());
    if (round % 10 == 9) {
      kv.reset();
      kv = Open();
      ASSERT_NE(kv, nullptr);
    }
    LogTree reader(*kv, leaves.size());
    ASSERT_EQ(reader.Root().value(), merkle::RootFromLeafHashes(leaves));
    for (int t = 0; t < 10; ++t) {
      uint64_t s = 1 + rng() % leaves.size();
      uint64_t i = rng() % s;
      ASSERT_EQ(reader.InclusionProof(i, s).value(), merkle::InclusionProof(leaves, i, s).value());
      uint64_t s1 = 1 + rng() % s;
      ASSERT_EQ(reader.ConsistencyProof(s1, s).value(),
                merkle::ConsistencyProof(leaves, s1, s).value());
    }
  }
}

}  // namespace
}  // namespace consent
