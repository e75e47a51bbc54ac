// The fixed chain the validator_changes fuzz target (and its seed test) follows changes on: a
// 4-validator genesis set (keys of seeds 0x61..0x64, chain "fuzz-chain"), built with the real block
// pipeline over a MemoryKv: height 1 empty; 2 decides S1 (the first key replaced by the key of
// seed 0xa1); 3 empty; 4 decides S2 (S1 without its first key); 5 empty. The proven height is 6.
// `changes` are the two change blocks as a consent proof carries them (GetValidatorChanges).
// Test-only; built once on first use (thread-safe static initialisation), read-only afterwards.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "ledger/block_pipeline.h"
#include "ledger/queries.h"
#include "ledger/set_changes.h"
#include "ledger/validator_history.h"

namespace consent::fuzz {

struct SetChangeFixture {
  Genesis genesis;
  MemoryKv kv;
  std::map<PublicKey, Seed32> seeds;
  std::vector<Header> headers;
  std::vector<ValidatorChange> changes;
  uint64_t proven_height = 6;
};

inline void SetChangeCheck(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "set change fixture: %s failed\n", what);
    std::abort();
  }
}

inline SigningKey SetChangeKey(SetChangeFixture* f, uint8_t b) {
  Seed32 seed;
  seed.fill(b);
  SigningKey k = SigningKey::FromSeed(seed);
  f->seeds[k.public_key()] = seed;
  return k;
}

// Builds, validates, commits (first quorum of the height's set) and applies the next block.
inline void SetChangeAddBlock(SetChangeFixture* f, const std::vector<SignedTx>& txs) {
  ChainTip tip;
  if (!f->headers.empty()) tip = {f->headers.back(), f->headers.back().log_size};
  const uint64_t time = f->genesis.genesis_time_ms + 1000 * (f->headers.size() + 1);
  auto built = BuildBlock(f->kv, f->genesis, tip, time, 0, txs, kMaxBlockTxs);
  SetChangeCheck(built.ok() && built->rejected.empty(), "building a block");
  const ValidatorSet& set = built->validated.validators;
  const Header header = built->validated.block.header;
  Commit commit;
  for (size_t i = 0; i < set.QuorumSize(); ++i) {
    SigningKey k = SigningKey::FromSeed(f->seeds.at(set.keys[i]));
    commit.signatures.push_back(
        SignPrecommit(k, f->genesis.chain_id, header.height, 0, built->validated.block_hash));
  }
  auto batch = FinalizeBlock(f->genesis, std::move(built->validated), commit);
  SetChangeCheck(batch.ok(), "finalizing a block");
  f->kv.Apply(*batch);
  f->headers.push_back(header);
}

// Approvals of `target` by the first quorum of the set in office.
inline std::vector<SignedTx> SetChangeApprovals(SetChangeFixture* f,
                                                std::vector<PublicKey> target) {
  std::sort(target.begin(), target.end());
  auto now = SetForHeight(f->kv, f->genesis, f->headers.size() + 1);
  SetChangeCheck(now.ok(), "reading the set in office");
  std::vector<SignedTx> txs;
  for (size_t i = 0; i < now->QuorumSize(); ++i) {
    SetValidatorsTx t{now->keys[i], target, f->genesis.genesis_time_ms + 1000 * f->headers.size(),
                      i};
    auto tx = SignTx(f->genesis.chain_id, t, SigningKey::FromSeed(f->seeds.at(now->keys[i])));
    SetChangeCheck(tx.ok(), "signing an approval");
    txs.push_back(std::move(tx).value());
  }
  return txs;
}

inline SetChangeFixture* MakeSetChangeFixture() {
  auto* f = new SetChangeFixture;
  f->genesis.chain_id = "fuzz-chain";
  f->genesis.genesis_time_ms = 1'700'000'000'000;
  std::vector<PublicKey> keys;
  for (uint8_t i = 0; i < 4; ++i) {
    keys.push_back(SetChangeKey(f, 0x61 + i).public_key());
    f->genesis.validators.push_back({"v" + std::to_string(i), keys[i]});
  }
  const PublicKey newcomer = SetChangeKey(f, 0xa1).public_key();
  std::vector<PublicKey> s1 = {newcomer, keys[1], keys[2], keys[3]};
  std::sort(s1.begin(), s1.end());
  std::vector<PublicKey> s2(s1.begin() + 1, s1.end());
  SetChangeAddBlock(f, {});
  SetChangeAddBlock(f, SetChangeApprovals(f, s1));
  SetChangeAddBlock(f, {});
  SetChangeAddBlock(f, SetChangeApprovals(f, s2));
  SetChangeAddBlock(f, {});
  SetChangeAddBlock(f, {});
  auto changes = GetValidatorChanges(f->kv, f->proven_height);
  SetChangeCheck(changes.ok() && changes->size() == 2, "reading the changes");
  f->changes = std::move(changes).value();
  return f;
}

inline const SetChangeFixture& GetSetChangeFixture() {
  static const SetChangeFixture* fixture = MakeSetChangeFixture();
  return *fixture;
}

}  // namespace consent::fuzz
