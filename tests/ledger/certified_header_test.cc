// Tests for CheckCertifiedHeader (ledger/block_pipeline.h), the check behind `consentctl audit`:
// a real chain of certified headers over 1 and 4 validators passes header by header, and each
// field of a header or its commit altered in turn is refused with its reason.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/block_pipeline.h"
#include "ledger/chain_builder.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

constexpr uint64_t kT0 = 1700000000000;

SignedTx GrantFor(const std::string& chain, int who, uint64_t issued) {
  SigningKey subject =
      SigningKey::FromSeed(Sha256(AsBytes("certified-header/" + std::to_string(who))));
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = SigningKey::FromSeed(Sha256(AsBytes("certified-header/brand"))).public_key();
  g.purposes = {"marketing.email"};
  g.data_categories = {"email"};
  g.jurisdiction = "EU-GDPR";
  g.policy_hash = Sha256(AsBytes("privacy notice"));
  g.issued_at_ms = issued;
  g.expires_at_ms = issued + 1'000'000;
  g.nonce = 1;
  return SignTx(chain, g, subject).value();
}

// A chain of `blocks` blocks, each with `per_block` grants.
std::vector<ChainBuilder::BlockRecord> MakeChain(ChainBuilder& chain, int blocks, int per_block) {
  std::vector<ChainBuilder::BlockRecord> out;
  int who = 0;
  for (int b = 1; b <= blocks; ++b) {
    std::vector<SignedTx> txs;
    for (int i = 0; i < per_block; ++i) {
      txs.push_back(GrantFor(chain.genesis().chain_id, ++who, kT0 + 1000 * b - 1));
    }
    auto rec = chain.AddBlock(kT0 + 1000 * b, std::move(txs));
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    out.push_back(*rec);
  }
  return out;
}

ChainTip TipOf(const std::vector<ChainBuilder::BlockRecord>& blocks, size_t n) {
  ChainTip tip;
  if (n > 0) {
    tip.head = blocks[n - 1].header;
    tip.log_size = blocks[n - 1].header.log_size;
  }
  return tip;
}

TEST(CertifiedHeaderTest, ARealChainPassesHeaderByHeader) {
  for (size_t validators : {1, 4}) {
    ChainBuilder chain = ChainBuilder::ForTesting("audit-test", validators, kT0);
    auto blocks = MakeChain(chain, 5, 3);
    for (size_t i = 0; i < blocks.size(); ++i) {
      BlockCheck check;
      Status st = CheckCertifiedHeader(chain.genesis(), TipOf(blocks, i), blocks[i].header,
                                       blocks[i].commit, &check);
      EXPECT_TRUE(st.ok()) << validators << " validators, height " << i + 1 << ": "
                           << st.ToString();
      EXPECT_TRUE(check.ok());
    }
  }
}

TEST(CertifiedHeaderTest, EachAlteredFieldIsRefusedWithItsReason) {
  ChainBuilder chain = ChainBuilder::ForTesting("audit-test", 4, kT0);
  auto blocks = MakeChain(chain, 3, 2);
  const ChainTip tip = TipOf(blocks, 2);  // checking block 3
  const Header good = blocks[2].header;
  const Commit commit = blocks[2].commit;

  struct Case {
    const char* name;
    std::function<void(Header&, Commit&, ChainTip&)> alter;
    BlockRejectReason want;
  };
  const std::vector<Case> cases = {
      {"chain id", [](Header& h, Commit&, ChainTip&) { h.chain_id = "other-chain"; },
       BlockRejectReason::kWrongChainId},
      {"height skips one", [](Header& h, Commit&, ChainTip&) { h.height += 1; },
       BlockRejectReason::kHeightNotNext},
      {"the same height again", [](Header& h, Commit&, ChainTip&) { h.height -= 1; },
       BlockRejectReason::kHeightNotNext},
      {"time not after the previous",
       [&](Header& h, Commit&, ChainTip&) { h.time_ms = blocks[1].header.time_ms; },
       BlockRejectReason::kTimeNotIncreasing},
      {"prev_block_hash", [](Header& h, Commit&, ChainTip&) { h.prev_block_hash[0] ^= 1; },
       BlockRejectReason::kPrevHashMismatch},
      {"a gap: the tip is block 1", [&](Header&, Commit&, ChainTip& t) { t = TipOf(blocks, 1); },
       BlockRejectReason::kHeightNotNext},
      {"validators_hash", [](Header& h, Commit&, ChainTip&) { h.validators_hash[5] ^= 1; },
       BlockRejectReason::kWrongValidatorsHash},
      {"proposer not a validator", [](Header& h, Commit&, ChainTip&) { h.proposer[0] ^= 1; },
       BlockRejectReason::kWrongProposer},
      {"log shrinks", [](Header& h, Commit&, ChainTip& t) { h.log_size = t.log_size - 1; },
       BlockRejectReason::kLogSizeMismatch},
      {"log_root (the commit no longer signs it)",
       [](Header& h, Commit&, ChainTip&) { h.log_root[31] ^= 1; }, BlockRejectReason::kBadCommit},
      {"state_root (the commit no longer signs it)",
       [](Header& h, Commit&, ChainTip&) { h.state_root[0] ^= 1; }, BlockRejectReason::kBadCommit},
      {"a commit signature",
       [](Header&, Commit& c, ChainTip&) { c.signatures[0].signature[9] ^= 1; },
       BlockRejectReason::kBadCommit},
      {"a commit without a quorum", [](Header&, Commit& c, ChainTip&) { c.signatures.resize(2); },
       BlockRejectReason::kBadCommit},
      {"another block's commit", [&](Header&, Commit& c, ChainTip&) { c = blocks[1].commit; },
       BlockRejectReason::kBadCommit},
  };
  for (const Case& c : cases) {
    Header h = good;
    Commit cm = commit;
    ChainTip t = tip;
    c.alter(h, cm, t);
    BlockCheck check;
    Status st = CheckCertifiedHeader(chain.genesis(), t, h, cm, &check);
    EXPECT_FALSE(st.ok()) << c.name;
    EXPECT_EQ(check.reason, c.want) << c.name << ": " << st.ToString();
    EXPECT_EQ(st.message().rfind(BlockRejectReasonName(c.want), 0), 0u)
        << c.name << ": " << st.message();
  }
  // Unaltered, the same header passes: the refusals above are the alterations'.
  EXPECT_TRUE(CheckCertifiedHeader(chain.genesis(), tip, good, commit, nullptr).ok());
}

}  // namespace
}  // namespace consent
