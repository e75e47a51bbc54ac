// A chain whose validator set changes (PROTOCOL.md section 10), driven through the real block
// pipeline over a MemoryKv: every block is built with BuildBlock, accepted by ValidateBlock with
// identical writes, finalized with a quorum commit of the set that commits its height (read from
// the store, SetForHeight) and applied. Keeps every header and commit, the signing key of every
// key that ever was a validator, and helpers for SET_VALIDATORS transactions and for the
// reference state root (consents plus approvals). Test-only; thread-compatible.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/block_pipeline.h"
#include "ledger/kv.h"
#include "ledger/set_changes.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/validator_history.h"
#include "tests/ledger/tx_test_util.h"

namespace consent::testing {

// Keys in ascending byte order (the order a SET_VALIDATORS names them in).
inline std::vector<PublicKey> Sorted(std::vector<PublicKey> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

// A SET_VALIDATORS by `signer` approving `set` (sorted here).
inline SignedTx Approve(const SigningKey& signer, std::vector<PublicKey> set, uint64_t issued,
                        uint64_t nonce = 0) {
  SetValidatorsTx t;
  t.validator = signer.public_key();
  t.validators = Sorted(std::move(set));
  t.issued_at_ms = issued;
  t.nonce = nonce;
  return MustSign(t, signer);
}

// The state root of `state` as section 3 and 10 define it: consent entries and approvals.
inline Hash32 ReferenceRoot(const MemoryState& state) {
  smt::ReferenceSmt tree;
  for (const auto& [key, value] : state.consents()) tree.Set(key, value.Encode());
  for (const auto& [who, value] : state.approvals()) tree.Set(ApprovalKey(who), value.Encode());
  return tree.Root();
}

class SetChain {
 public:
  // n genesis validators with seeds first, first+1, ... (genesis order = seed order).
  explicit SetChain(size_t n, uint8_t first = 0x61, std::string chain_id = std::string(kChain)) {
    genesis_.chain_id = std::move(chain_id);
    genesis_.genesis_time_ms = kT0 - 60'000;
    for (size_t i = 0; i < n; ++i) {
      const SigningKey& k = NewKey(static_cast<uint8_t>(first + i));
      genesis_.validators.push_back({"validator-" + std::to_string(i), k.public_key()});
    }
  }

  const Genesis& genesis() const { return genesis_; }
  const MemoryKv& kv() const { return kv_; }
  const std::vector<Header>& headers() const { return headers_; }
  const std::vector<Commit>& commits() const { return commits_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  uint64_t height() const { return headers_.size(); }
  // The block time of `height`: one second apart from kT0.
  static uint64_t TimeOf(uint64_t height) { return kT0 + height * 1000; }
  uint64_t NextTime() const { return TimeOf(height() + 1); }

  // Registers (or returns) the key with seed 32 x `seed`.
  const SigningKey& NewKey(uint8_t seed) {
    SigningKey k = KeyFor(seed);
    const PublicKey pk = k.public_key();
    auto [it, unused] = keys_.try_emplace(pk, std::move(k));
    return it->second;
  }
  const SigningKey& Key(const PublicKey& pk) const { return keys_.at(pk); }

  // The set that commits `height` as the store records it.
  ValidatorSet SetAt(uint64_t height) const {
    auto s = SetForHeight(kv_, genesis_, height);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : ValidatorSet{};
  }
  ValidatorSet InOffice() const { return SetAt(height() + 1); }

  ChainTip Tip() const {
    ChainTip tip;
    if (!headers_.empty()) {
      tip.head = headers_.back();
      tip.log_size = headers_.back().log_size;
    }
    return tip;
  }

  // A commit of `hash` at `height` signed by the first `count` keys of `set` (all the keys we
  // know the secret of: every key of this chain).
  Commit SignBy(const ValidatorSet& set, uint64_t height, uint32_t round, const Hash32& hash,
                size_t count) const {
    Commit c;
    c.round = round;
    for (size_t i = 0; i < count && i < set.size(); ++i) {
      c.signatures.push_back(
          SignPrecommit(Key(set.keys[i]), genesis_.chain_id, height, round, hash));
    }
    return c;
  }

  // Builds the next block from `candidates`, checks that ValidateBlock accepts it with the same
  // writes, finalizes it with a quorum of its set and applies it. nullopt (and a test failure)
  // on any error.
  std::optional<BuiltBlock> Add(const std::vector<SignedTx>& candidates, uint32_t round = 0) {
    const ChainTip tip = Tip();
    auto built = BuildBlock(kv_, genesis_, tip, NextTime(), round, candidates, kMaxBlockTxs);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    if (!built.ok()) return std::nullopt;
    BlockCheck check;
    auto validated = ValidateBlock(kv_, genesis_, tip, built->validated.block, round,
                                   /*verify_signatures=*/true, &check);
    EXPECT_TRUE(validated.ok()) << validated.status().ToString();
    if (!validated.ok()) return std::nullopt;
    EXPECT_EQ(validated->block_hash, built->validated.block_hash);
    EXPECT_EQ(validated->next_validators, built->validated.next_validators);
    EXPECT_EQ(validated->validators, built->validated.validators);
    EXPECT_EQ(validated->writes.size(), built->validated.writes.size());
    const Header h = validated->block.header;
    Commit commit = SignBy(validated->validators, h.height, round, validated->block_hash,
                           validated->validators.QuorumSize());
    auto batch = FinalizeBlock(genesis_, std::move(validated).value(), commit);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) return std::nullopt;
    kv_.Apply(*batch);
    headers_.push_back(h);
    commits_.push_back(commit);
    blocks_.push_back(built->validated.block);
    return std::move(built).value();
  }

  // Every change block so far as a proof carries it (header, commit, the new set).
  std::vector<ValidatorChange> Changes() const {
    std::vector<ValidatorChange> out;
    for (size_t i = 0; i < headers_.size(); ++i) {
      if (!headers_[i].IsChangeBlock()) continue;
      out.push_back({headers_[i], commits_[i], SetAt(headers_[i].height + 1)});
    }
    return out;
  }

 private:
  Genesis genesis_;
  MemoryKv kv_;
  std::map<PublicKey, SigningKey> keys_;
  std::vector<Header> headers_;
  std::vector<Commit> commits_;
  std::vector<Block> blocks_;
};

}  // namespace consent::testing
