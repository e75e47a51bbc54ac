// The seed corpora of the fuzz targets whose inputs hold headers or validator set changes, made
// from the targets' own fixtures, so that they stay real inputs (valid ones reach the deep checks)
// when a layout changes: tests/fuzz/corpus/block_validate (blocks 2 of block_fuzz_fixture.h's
// chain, including a block that decides a validator set change), validator_changes (lists of
// set_change_fixture.h's changes, real and tampered), and the SET_VALIDATORS seeds of tx_bytes
// and tx_json. Each test fails when a committed seed differs from what it makes; regenerate with
//   CONSENT_WRITE_FUZZ_SEEDS=1 ./build/release/tests/ledger_tests --gtest_filter='*Seeds.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ledger/json_strict.h"
#include "ledger/tx_json.h"
#include "tests/fuzz/block_fuzz_fixture.h"
#include "tests/fuzz/set_change_fixture.h"

namespace consent {
namespace {

// Writes (with CONSENT_WRITE_FUZZ_SEEDS) and compares one seed file.
void ExpectSeed(const std::string& corpus, const std::string& name, const std::string& bytes) {
  const std::string path =
      std::string(CONSENT_SOURCE_DIR) + "/tests/fuzz/corpus/" + corpus + "/" + name;
  if (std::getenv("CONSENT_WRITE_FUZZ_SEEDS") != nullptr) {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_EQ(committed.str(), bytes) << corpus << "/" << name << " is stale; regenerate the seeds";
}

std::string AsString(const Bytes& b) { return std::string(b.begin(), b.end()); }

TEST(BlockValidateSeeds, CorpusIsCurrent) {
  const fuzz::BlockFixture& f = fuzz::GetBlockFixture();
  auto built =
      BuildBlock(f.kv, f.genesis, f.tip, f.next_time_ms, 0, f.next_candidates, kMaxBlockTxs);
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE(built->rejected.empty());
  const Block valid = built->validated.block;
  BlockCheck check;
  ASSERT_TRUE(ValidateBlock(f.kv, f.genesis, f.tip, valid, 0, true, &check).ok()) << check.message;
  ExpectSeed("block_validate", "valid_block2.bin", AsString(fuzz::EncodeFuzzInput(valid)));
  Block reordered = valid;
  std::reverse(reordered.txs.begin(), reordered.txs.end());
  ExpectSeed("block_validate", "reordered_txs.bin", AsString(fuzz::EncodeFuzzInput(reordered)));
  Block duplicate = valid;
  duplicate.txs.push_back(valid.txs[0]);
  ExpectSeed("block_validate", "duplicate_tx_bad_root.bin",
             AsString(fuzz::EncodeFuzzInput(duplicate)));

  // Three of the four validators approve a set without the fourth: block 2 decides it.
  std::vector<PublicKey> target = {f.genesis.validators[0].public_key,
                                   f.genesis.validators[1].public_key,
                                   f.genesis.validators[2].public_key};
  std::sort(target.begin(), target.end());
  std::vector<SignedTx> approvals;
  for (size_t i = 0; i < 3; ++i) {
    SetValidatorsTx t{f.validators[i].public_key(), target, f.next_time_ms - 10, i};
    auto tx = SignTx(f.genesis.chain_id, t, f.validators[i]);
    ASSERT_TRUE(tx.ok());
    approvals.push_back(*tx);
  }
  auto change = BuildBlock(f.kv, f.genesis, f.tip, f.next_time_ms, 0, approvals, kMaxBlockTxs);
  ASSERT_TRUE(change.ok());
  ASSERT_TRUE(change->rejected.empty());
  const Block decided = change->validated.block;
  ASSERT_TRUE(decided.header.IsChangeBlock());
  ASSERT_TRUE(ValidateBlock(f.kv, f.genesis, f.tip, decided, 0, true, &check).ok());
  ExpectSeed("block_validate", "set_validators_change.bin",
             AsString(fuzz::EncodeFuzzInput(decided)));
  Block unclaimed = decided;
  unclaimed.header.next_validators_hash = unclaimed.header.validators_hash;
  ASSERT_FALSE(ValidateBlock(f.kv, f.genesis, f.tip, unclaimed, 0, true, &check).ok());
  EXPECT_EQ(check.reason, BlockRejectReason::kWrongNextValidatorsHash);
  ExpectSeed("block_validate", "set_validators_unclaimed.bin",
             AsString(fuzz::EncodeFuzzInput(unclaimed)));
  // Two approvals only, and one after the decision would be: change_decided.
  Block two = decided;
  two.txs.pop_back();
  ExpectSeed("block_validate", "set_validators_two.bin", AsString(fuzz::EncodeFuzzInput(two)));
}

TEST(ValidatorChangesSeeds, CorpusIsCurrent) {
  const fuzz::SetChangeFixture& f = fuzz::GetSetChangeFixture();
  ASSERT_EQ(f.changes.size(), 2u);
  const TrustedSet start{1, f.genesis.Set()};
  auto dump = [](const std::vector<ValidatorChange>& c) {
    return json::Dump(ValidatorChangesToJson(c)) + "\n";
  };
  ASSERT_TRUE(FollowChanges(f.genesis.chain_id, start, f.changes, f.proven_height).ok());
  ExpectSeed("validator_changes", "both.json", dump(f.changes));
  ExpectSeed("validator_changes", "first.json", dump({f.changes[0]}));
  ExpectSeed("validator_changes", "empty.json", "[]\n");
  ExpectSeed("validator_changes", "reordered.json", dump({f.changes[1], f.changes[0]}));
  ExpectSeed("validator_changes", "duplicate.json", dump({f.changes[0], f.changes[0]}));
  std::vector<ValidatorChange> wrong_set = f.changes;
  wrong_set[1].validators = wrong_set[0].validators;
  ExpectSeed("validator_changes", "wrong_set.json", dump(wrong_set));
  std::vector<ValidatorChange> no_change = {f.changes[0]};
  ValidatorChange plain = f.changes[0];
  plain.header = f.headers[2];  // height 3 decides nothing
  no_change.push_back(plain);
  ExpectSeed("validator_changes", "not_a_change.json", dump(no_change));
  for (const auto& bad : {dump({f.changes[1], f.changes[0]}), dump(wrong_set), dump(no_change)}) {
    auto parsed = ValidatorChangesFromJson(json::Json::parse(bad), "validator_changes");
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(FollowChanges(f.genesis.chain_id, start, *parsed, f.proven_height).ok());
  }
}

TEST(TxSeeds, SetValidatorsCorpusIsCurrent) {
  Seed32 seed;
  seed.fill(0x61);
  SigningKey signer = SigningKey::FromSeed(seed);
  std::vector<PublicKey> set;
  for (uint8_t b : {0x61, 0x62, 0x63, 0xa1}) {
    seed.fill(b);
    set.push_back(SigningKey::FromSeed(seed).public_key());
  }
  std::sort(set.begin(), set.end());
  SetValidatorsTx t{signer.public_key(), set, 1'700'000'000'000, 17};
  auto tx = SignTx("fuzz-chain", t, signer);
  ASSERT_TRUE(tx.ok());
  ExpectSeed("tx_bytes", "set_validators.bin", AsString(tx->Encode()));
  ExpectSeed("tx_json", "set_validators_fields.json", TxToJson(*tx).dump() + "\n");
  ExpectSeed("tx_json", "set_validators_encoding.json", TxToJsonEncoding(*tx).dump() + "\n");
}

}  // namespace
}  // namespace consent
