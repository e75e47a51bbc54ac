// The fixed chain the block_validate fuzz target validates against, and the encoding of its input:
// a genesis with 4 validators and a MemoryKv holding block 1 (a registration and two grants),
// built once; plus the candidates of a valid block 2, from which the seed corpus was made.
// Input grammar: u32 header_len || header encoding (header_len bytes) || block body
// (schema::EncodeBlockBody). Test-only; the fixture is built once on first use (thread-safe static
// initialisation) and read-only afterwards.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "ledger/block_pipeline.h"
#include "ledger/codec.h"
#include "ledger/schema.h"

namespace consent::fuzz {

struct BlockFixture {
  Genesis genesis;
  std::vector<SigningKey> validators;
  MemoryKv kv;
  ChainTip tip;
  uint64_t next_time_ms = 0;
  std::vector<SignedTx> next_candidates;  // all valid in block 2 at next_time_ms
};

inline void FixtureCheck(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "block fuzz fixture: %s failed\n", what);
    std::abort();
  }
}

inline SigningKey FixtureKey(uint8_t b) {
  Seed32 seed;
  seed.fill(b);
  return SigningKey::FromSeed(seed);
}

inline SignedTx FixtureSign(const Genesis& g, TxBody body, uint8_t key) {
  auto tx = SignTx(g.chain_id, std::move(body), FixtureKey(key));
  FixtureCheck(tx.ok(), "signing a tx");
  return std::move(tx).value();
}

inline BlockFixture* MakeBlockFixture() {
  auto* f = new BlockFixture;
  f->genesis.chain_id = "fuzz-chain";
  f->genesis.genesis_time_ms = 1'700'000'000'000;
  for (uint8_t i = 0; i < 4; ++i) {
    f->validators.push_back(FixtureKey(0x61 + i));
    f->genesis.validators.push_back({"v" + std::to_string(i), f->validators[i].public_key()});
  }
  const PublicKey s0 = FixtureKey(0x10).public_key(), s1 = FixtureKey(0x11).public_key();
  const PublicKey c0 = FixtureKey(0x30).public_key(), c1 = FixtureKey(0x31).public_key();
  const uint64_t t1 = f->genesis.genesis_time_ms + 1000;
  std::vector<SignedTx> block1 = {
      FixtureSign(f->genesis, RegisterControllerTx{c0, "Acme", "", t1 - 3, 1}, 0x30),
      FixtureSign(
          f->genesis,
          GrantTx{s0, c0, {"analytics", "marketing.email"}, {}, "EU-GDPR", {}, t1 - 2, 0, 2}, 0x10),
      FixtureSign(f->genesis, GrantTx{s1, c0, {"analytics"}, {}, "", {}, t1 - 1, t1 + 5000, 3},
                  0x11),
  };
  auto built = BuildBlock(f->kv, f->genesis, f->tip, t1, 0, block1, kMaxBlockTxs);
  FixtureCheck(built.ok() && built->rejected.empty(), "building block 1");
  const uint64_t h = built->validated.block.header.height;
  const Hash32 hash = built->validated.block_hash;
  Commit commit;
  for (size_t i = 0; i < 3; ++i) {
    commit.signatures.push_back(SignPrecommit(f->validators[i], f->genesis.chain_id, h, 0, hash));
  }
  auto batch = FinalizeBlock(f->genesis, std::move(built->validated), commit);
  FixtureCheck(batch.ok(), "finalizing block 1");
  f->kv.Apply(*batch);
  f->tip.head = built->validated.block.header;
  f->tip.log_size = f->tip.head->log_size;

  const uint64_t t2 = t1 + 1000;
  f->next_time_ms = t2;
  f->next_candidates = {
      FixtureSign(f->genesis, RevokeTx{s0, c0, {"marketing.email"}, t2 - 5, 4}, 0x10),
      FixtureSign(f->genesis, GrantTx{s1, c1, {"profiling"}, {"device_id"}, "", {}, t2 - 4, 0, 5},
                  0x11),
      FixtureSign(f->genesis, RegisterControllerTx{c1, "Globex", "https://x", t2 - 3, 6}, 0x31),
      FixtureSign(f->genesis, RevokeTx{s1, c0, {}, t2 - 2, 7}, 0x11),
  };
  return f;
}

inline const BlockFixture& GetBlockFixture() {
  static const BlockFixture* fixture = MakeBlockFixture();
  return *fixture;
}

inline Bytes EncodeFuzzInput(const Block& block) {
  Bytes header = block.header.Encode();
  Writer w;
  w.U32(static_cast<uint32_t>(header.size())).Raw(header).Raw(schema::EncodeBlockBody(block.txs));
  return std::move(w).Take();
}

// Splits and decodes an input; false when it does not decode.
inline bool DecodeFuzzInput(ByteView input, Block* block) {
  Reader r(input);
  uint32_t len = 0;
  if (!r.U32(&len, "header_len").ok() || len > r.remaining()) return false;
  auto header = DecodeHeader(input.subspan(4, len));
  if (!header.ok()) return false;
  auto txs = schema::DecodeBlockBody(input.subspan(4 + len));
  if (!txs.ok()) return false;
  block->header = std::move(header).value();
  block->txs = std::move(txs).value();
  return true;
}

}  // namespace consent::fuzz
