// Shared fixtures for the block pipeline tests (tests/ledger and tests/store): validator sets
// from fixed seeds, transaction makers, a reference chain (MemoryState + ReferenceSmt + the
// in-memory Merkle log) to check roots against, a full dump of a store, the tip a store holds,
// and a scripted chain of blocks. Test-only; plain functions and values, thread-compatible.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "ledger/block_pipeline.h"
#include "ledger/kv_state.h"
#include "ledger/merkle_log.h"
#include "ledger/schema.h"
#include "ledger/smt.h"
#include "tests/ledger/tx_test_util.h"

namespace consent::testing {

struct Validators {
  std::vector<SigningKey> keys;
  Genesis genesis;
};

// n validators with seeds 0x61, 0x62, ... on chain kChain; genesis a minute before kT0.
inline Validators MakeValidators(size_t n) {
  Validators v;
  v.genesis.chain_id = std::string(kChain);
  v.genesis.genesis_time_ms = kT0 - 60'000;
  for (size_t i = 0; i < n; ++i) {
    v.keys.push_back(KeyFor(static_cast<uint8_t>(0x61 + i)));
    v.genesis.validators.push_back({"validator-" + std::to_string(i), v.keys[i].public_key()});
  }
  return v;
}

// A commit signed by the first `signers` validators.
inline Commit SignCommit(const Validators& v, uint64_t height, uint32_t round, const Hash32& hash,
                         size_t signers) {
  Commit c;
  c.round = round;
  for (size_t i = 0; i < signers; ++i) {
    c.signatures.push_back(SignPrecommit(v.keys[i], v.genesis.chain_id, height, round, hash));
  }
  return c;
}

// Subjects, controllers and purposes a scenario draws from.
struct Actors {
  std::vector<SigningKey> subjects;
  std::vector<SigningKey> controllers;
  std::vector<std::string> purposes = {"analytics", "marketing.email", "marketing.sms",
                                       "profiling"};
};

inline Actors MakeActors(size_t subjects, size_t controllers) {
  Actors a;
  for (size_t i = 0; i < subjects; ++i)
    a.subjects.push_back(KeyFor(static_cast<uint8_t>(0x10 + i)));
  for (size_t i = 0; i < controllers; ++i) {
    a.controllers.push_back(KeyFor(static_cast<uint8_t>(0x30 + i)));
  }
  return a;
}

inline SignedTx Grant(const SigningKey& subject, const SigningKey& controller,
                      std::vector<std::string> purposes, uint64_t issued, uint64_t nonce = 0,
                      uint64_t expires = 0) {
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = controller.public_key();
  g.purposes = std::move(purposes);
  g.jurisdiction = "EU-GDPR";
  g.policy_hash.fill(static_cast<uint8_t>(nonce));
  g.issued_at_ms = issued;
  g.expires_at_ms = expires;
  g.nonce = nonce;
  return MustSign(g, subject);
}

inline SignedTx Revoke(const SigningKey& subject, const SigningKey& controller,
                       std::vector<std::string> purposes, uint64_t issued, uint64_t nonce = 0) {
  RevokeTx r;
  r.subject = subject.public_key();
  r.controller = controller.public_key();
  r.purposes = std::move(purposes);
  r.issued_at_ms = issued;
  r.nonce = nonce;
  return MustSign(r, subject);
}

inline SignedTx Register(const SigningKey& controller, std::string name, uint64_t issued,
                         uint64_t nonce = 0) {
  RegisterControllerTx r;
  r.controller = controller.public_key();
  r.name = std::move(name);
  r.contact_uri = "mailto:dpo@example.com";
  r.issued_at_ms = issued;
  r.nonce = nonce;
  return MustSign(r, controller);
}

// The reference the stored chain must agree with.
struct ReferenceChain {
  MemoryState state;
  std::vector<Hash32> leaves;  // tx ids in commit order
  std::vector<Hash32> seen;    // every tx id ever offered (for TxCommitted probes)

  Hash32 StateRoot() const {
    smt::ReferenceSmt tree;
    for (const auto& [key, value] : state.consents()) tree.Set(key, value.Encode());
    return tree.Root();
  }
  Hash32 LogRoot() const { return merkle::RootFromLeafHashes(leaves); }

  // Applies candidates as BuildBlock must: in order, skipping duplicates, at most max_txs; returns
  // the accepted ones.
  std::vector<SignedTx> Apply(uint64_t time_ms, const std::vector<SignedTx>& candidates,
                              size_t max_txs) {
    std::vector<SignedTx> accepted;
    std::vector<Hash32> ids;
    for (const SignedTx& tx : candidates) {
      if (accepted.size() >= max_txs) break;
      Hash32 id = tx.Id();
      seen.push_back(id);
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      ids.push_back(id);
      if (state.Apply(time_ms, tx).ok()) {
        accepted.push_back(tx);
        leaves.push_back(id);
      }
    }
    return accepted;
  }
};

// The tip a store holds: meta "head" and the header at that height (what the store does on open).
inline ChainTip TipFromStore(const KvRead& kv) {
  ChainTip tip;
  auto head = kv.Get(Column::kMeta, AsBytes(schema::kMetaHead));
  EXPECT_TRUE(head.ok());
  if (!head.ok() || !head->has_value()) return tip;
  auto height = schema::DecodeU64(**head, "head");
  EXPECT_TRUE(height.ok());
  auto enc = kv.Get(Column::kHeaders, schema::U64Key(*height));
  EXPECT_TRUE(enc.ok() && enc->has_value());
  auto header = DecodeHeader(**enc);
  EXPECT_TRUE(header.ok()) << header.status().ToString();
  tip.head = *header;
  tip.log_size = header->log_size;
  return tip;
}

using StoreDump = std::vector<std::tuple<Column, Bytes, Bytes>>;

// Every record of every column, in order.
inline StoreDump DumpStore(const KvRead& kv) {
  StoreDump out;
  for (size_t c = 0; c < kColumnCount; ++c) {
    Column col = static_cast<Column>(c);
    EXPECT_TRUE(kv.Scan(col, {}, {}, [&](ByteView k, ByteView v) {
                    out.emplace_back(col, Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
                    return true;
                  }).ok());
  }
  return out;
}

inline bool SameOps(const KvBatch& a, const KvBatch& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& x = a.ops()[i];
    const auto& y = b.ops()[i];
    if (x.column != y.column || x.key != y.key || x.value != y.value) return false;
  }
  return true;
}

// A KvStateView over `kv` answers exactly as `ref` does for every actor combination and every
// tx id in `probe`, and the consents column holds exactly ref's entries, one record each, under
// controller || subject || purpose.
inline void ExpectSameState(const KvRead& kv, const MemoryState& ref, const Actors& a,
                            const std::vector<Hash32>& probe) {
  KvStateView view(kv);
  for (const auto& s : a.subjects) {
    for (const auto& c : a.controllers) {
      EXPECT_EQ(view.PurposesOf(s.public_key(), c.public_key()),
                ref.PurposesOf(s.public_key(), c.public_key()));
      for (const auto& p : a.purposes) {
        EXPECT_EQ(view.GetConsent(s.public_key(), c.public_key(), p),
                  ref.GetConsent(s.public_key(), c.public_key(), p))
            << p;
      }
    }
  }
  size_t records = 0;
  EXPECT_TRUE(kv.Scan(Column::kConsents, {}, {}, [&](ByteView k, ByteView v) {
                  ++records;
                  auto parts = schema::DecodeConsentKey(k);
                  EXPECT_TRUE(parts.ok()) << parts.status().ToString();
                  if (!parts.ok()) return true;
                  auto value = schema::DecodeConsentValue(k, v);
                  EXPECT_TRUE(value.ok()) << value.status().ToString();
                  auto it = ref.consents().find(
                      StateKey(parts->subject, parts->controller, parts->purpose));
                  EXPECT_TRUE(it != ref.consents().end()) << parts->purpose;
                  if (value.ok() && it != ref.consents().end()) {
                    EXPECT_EQ(*value, it->second);
                  }
                  return true;
                }).ok());
  EXPECT_EQ(records, ref.consents().size());
  for (const auto& c : a.controllers) {
    EXPECT_EQ(view.GetController(c.public_key()), ref.GetController(c.public_key()));
  }
  for (const Hash32& id : probe) EXPECT_EQ(view.TxCommitted(id), ref.TxCommitted(id));
  EXPECT_TRUE(view.error().ok()) << view.error().ToString();
}

struct ScriptedBlock {
  uint64_t time_ms = 0;
  uint32_t round = 0;
  std::vector<SignedTx> candidates;
};

// Six blocks touching every kind of record: registrations and re-registration, grants, a revoke
// by name, a revoke of a purpose with no entry, revoke-all (with and without entries), an empty
// block, a grant and a revoke of the same purpose in one block, and a re-grant after a revoke.
inline std::vector<ScriptedBlock> ScriptedChain(const Actors& a) {
  const auto& s = a.subjects;
  const auto& c = a.controllers;
  auto t = [](int h) { return kT0 + static_cast<uint64_t>(h) * 1000; };
  std::vector<ScriptedBlock> blocks(6);
  blocks[0] = {t(1),
               0,
               {Register(c[0], "Acme", t(1) - 10), Register(c[1], "Globex", t(1) - 9),
                Grant(s[0], c[0], {"analytics", "marketing.email"}, t(1) - 8, 1, t(1) + 86'400'000),
                Grant(s[1], c[0], {"marketing.sms"}, t(1) - 7, 2),
                Grant(s[0], c[1], {"profiling"}, t(1) - 6, 3)}};
  blocks[1] = {t(2),
               1,
               {Revoke(s[0], c[0], {"marketing.email"}, t(2) - 10, 4),
                Grant(s[2], c[1], {"analytics", "profiling"}, t(2) - 9, 5, t(2) + 5000),
                Register(c[0], "Acme Europe", t(2) - 8, 6)}};
  blocks[2] = {t(3), 0, {}};
  blocks[3] = {t(4),
               2,
               {Revoke(s[0], c[0], {}, t(4) - 10, 7),
                Grant(s[1], c[0], {"analytics", "marketing.sms"}, t(4) - 9, 8),
                Revoke(s[2], c[1], {"marketing.email"}, t(4) - 8, 9)}};
  blocks[4] = {
      t(5),
      0,
      {Grant(s[0], c[0], {"marketing.email"}, t(5) - 10, 10), Revoke(s[1], c[1], {}, t(5) - 9, 11),
       Grant(s[2], c[0], {"analytics"}, t(5) - 8, 12),
       Revoke(s[2], c[0], {"analytics"}, t(5) - 7, 13)}};
  blocks[5] = {t(6),
               3,
               {Grant(s[1], c[1], {"analytics", "marketing.email", "marketing.sms", "profiling"},
                      t(6) - 10, 14),
                Revoke(s[1], c[1], {}, t(6) - 9, 15)}};
  return blocks;
}

// Builds the next block from `b` on `kv`, checks that ValidateBlock accepts it with the same
// writes, finalizes it with a quorum commit and returns the batch to write.
inline void MakeNextBlock(const KvRead& kv, const Validators& v, const ScriptedBlock& b,
                          size_t max_txs, BuiltBlock* built, KvBatch* batch) {
  ChainTip tip = TipFromStore(kv);
  auto got = BuildBlock(kv, v.genesis, tip, b.time_ms, b.round, b.candidates, max_txs);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  *built = std::move(got).value();
  BlockCheck check;
  auto validated = ValidateBlock(kv, v.genesis, tip, built->validated.block, b.round,
                                 /*verify_signatures=*/true, &check);
  ASSERT_TRUE(validated.ok()) << validated.status().ToString();
  EXPECT_TRUE(check.ok());
  EXPECT_EQ(validated->block_hash, built->validated.block_hash);
  EXPECT_TRUE(SameOps(validated->writes, built->validated.writes));
  EXPECT_EQ(validated->tx_ids, built->validated.tx_ids);  // both the block's tx ids, in order
  const Header& h = validated->block.header;
  Commit commit = SignCommit(v, h.height, b.round, validated->block_hash, v.genesis.QuorumSize());
  auto finalized = FinalizeBlock(v.genesis, std::move(validated).value(), commit);
  ASSERT_TRUE(finalized.ok()) << finalized.status().ToString();
  *batch = std::move(finalized).value();
}

}  // namespace consent::testing
