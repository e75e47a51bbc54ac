// Fuzz target for the consensus-critical ValidateBlock: the input is a header and a block body
// (see block_fuzz_fixture.h), validated as block 2 of a small fixed chain held in a MemoryKv.
// It must never crash, and:
//  - a refusal names a reason (never kNone, never kStorage: the store is sound) and its message
//    starts with that reason's name;
//  - an accepted block validates again with identical writes, and BuildBlock given its txs as
//    candidates, at its time and round, builds exactly it with exactly those writes;
//  - whatever the txs, BuildBlock over them as candidates builds a block that ValidateBlock accepts
//    with identical writes (so a proposer never proposes a block the others refuse).
// Signatures are not checked first (so mutated transactions reach the state rules); an accepted
// block is checked again with signatures, which must agree with VerifyTxSignature.
#include <algorithm>
#include <cstdint>

#include "ledger/block_pipeline.h"
#include "tests/fuzz/block_fuzz_fixture.h"
#include "tests/fuzz/tx_fuzz_util.h"

namespace {

using namespace consent;

bool SameOps(const KvBatch& a, const KvBatch& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& x = a.ops()[i];
    const auto& y = b.ops()[i];
    if (x.column != y.column || x.key != y.key || x.value != y.value) return false;
  }
  return true;
}

void CheckRefusal(const Status& status, const BlockCheck& check) {
  FUZZ_CHECK(check.reason != BlockRejectReason::kNone);
  FUZZ_CHECK(check.reason != BlockRejectReason::kStorage);
  std::string prefix = std::string(BlockRejectReasonName(check.reason)) + ": ";
  FUZZ_CHECK(status.message().rfind(prefix, 0) == 0);
  FUZZ_CHECK(check.message == status.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::BlockFixture& f = fuzz::GetBlockFixture();
  Block block;
  if (!fuzz::DecodeFuzzInput(ByteView(data, size), &block)) return 0;
  const uint32_t round = 0;

  BlockCheck check;
  auto validated = ValidateBlock(f.kv, f.genesis, f.tip, block, round, false, &check);
  if (!validated.ok()) {
    CheckRefusal(validated.status(), check);
  } else {
    FUZZ_CHECK(check.ok());
    FUZZ_CHECK(validated->block == block);
    FUZZ_CHECK(validated->block_hash == block.header.Hash());
    // With signatures: accepted iff every signature verifies.
    bool all_signed = std::all_of(block.txs.begin(), block.txs.end(), [&](const SignedTx& tx) {
      return VerifyTxSignature(f.genesis.chain_id, tx).ok();
    });
    BlockCheck signed_check;
    auto with_sigs = ValidateBlock(f.kv, f.genesis, f.tip, block, round, true, &signed_check);
    FUZZ_CHECK(with_sigs.ok() == all_signed);
    if (with_sigs.ok()) FUZZ_CHECK(SameOps(with_sigs->writes, validated->writes));
    if (!with_sigs.ok()) FUZZ_CHECK(signed_check.reason == BlockRejectReason::kBadTxSignature);
    // The proposer's view of the same block.
    auto built =
        BuildBlock(f.kv, f.genesis, f.tip, block.header.time_ms, round, block.txs, kMaxBlockTxs);
    FUZZ_CHECK(built.ok());
    FUZZ_CHECK(built->rejected.empty());
    FUZZ_CHECK(built->validated.block == block);
    FUZZ_CHECK(SameOps(built->validated.writes, validated->writes));
  }

  // Whatever the candidates, a built block is accepted with the same writes.
  uint64_t time = std::max(block.header.time_ms, f.tip.head->time_ms + 1);
  auto built = BuildBlock(f.kv, f.genesis, f.tip, time, round, block.txs, kMaxBlockTxs);
  FUZZ_CHECK(built.ok());
  FUZZ_CHECK(built->validated.block.txs.size() + built->rejected.size() <= block.txs.size());
  BlockCheck rebuilt_check;
  auto rebuilt =
      ValidateBlock(f.kv, f.genesis, f.tip, built->validated.block, round, false, &rebuilt_check);
  FUZZ_CHECK(rebuilt.ok());
  FUZZ_CHECK(SameOps(rebuilt->writes, built->validated.writes));
  return 0;
}
