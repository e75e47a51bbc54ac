// Property test of the block pipeline: random candidate streams (grants, revokes, revoke-alls,
// registrations; fresh, stale, too old, from the future, replayed and duplicated) over a few
// subjects, controllers and purposes, built into blocks of random sizes and rounds. For every
// block: ValidateBlock accepts what BuildBlock built and produces identical writes; BuildBlock
// took exactly the candidates the reference state accepts; after the block is committed the
// roots equal the reference and the stored state answers as the reference does.
#include <gtest/gtest.h>

#include <random>

#include "ledger/block_pipeline.h"
#include "tests/ledger/pipeline_test_util.h"

namespace consent {
namespace {

using namespace consent::testing;

class CandidateGen {
 public:
  CandidateGen(uint64_t seed, const Actors& actors) : rng_(seed), a_(actors) {}

  uint64_t Below(uint64_t n) { return rng_() % n; }

  std::vector<std::string> Purposes(bool allow_empty) {
    std::vector<std::string> out;
    for (const auto& p : a_.purposes) {
      if (Below(2) == 0) out.push_back(p);
    }
    if (out.empty() && !allow_empty) out.push_back(a_.purposes[Below(a_.purposes.size())]);
    return out;  // a_.purposes is sorted, so out is too
  }

  uint64_t IssuedAt(uint64_t block_time) {
    switch (Below(16)) {
      case 0:
        return block_time - kMaxTxAgeMs - 1 - Below(1000);  // too old
      case 1:
        return block_time + kMaxTxFutureMs + 1 + Below(1000);  // from the future
      case 2:
        return block_time + Below(kMaxTxFutureMs);  // ahead, but inside the window
      default:
        return block_time - Below(30'000);  // recent: often newer, sometimes stale
    }
  }

  SignedTx Next(uint64_t block_time) {
    ++nonce_;
    if (!history_.empty() && Below(10) == 0) return history_[Below(history_.size())];
    const SigningKey& s = a_.subjects[Below(a_.subjects.size())];
    const SigningKey& c = a_.controllers[Below(a_.controllers.size())];
    SignedTx tx;
    switch (Below(10)) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4: {
        uint64_t issued = IssuedAt(block_time);
        tx = Grant(s, c, Purposes(false), issued, nonce_, Below(3) == 0 ? issued + 1 : 0);
        break;
      }
      case 5:
      case 6:
      case 7:
        tx = Revoke(s, c, Purposes(true), IssuedAt(block_time), nonce_);
        break;
      default:
        tx = Register(c, "Controller " + std::to_string(nonce_), IssuedAt(block_time), nonce_);
        break;
    }
    history_.push_back(tx);
    return tx;
  }

 private:
  std::mt19937_64 rng_;
  const Actors& a_;
  std::vector<SignedTx> history_;
  uint64_t nonce_ = 0;
};

TEST(BlockPipelineProperty, RandomStreamsMatchTheReference) {
  size_t total_accepted = 0, total_rejected = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Validators v = MakeValidators(seed % 2 == 0 ? 4 : 1);
    Actors a = MakeActors(3, 2);
    CandidateGen gen(seed, a);
    MemoryKv kv;
    ReferenceChain ref;
    uint64_t time = v.genesis.genesis_time_ms;
    for (int block = 0; block < 15; ++block) {
      time += 1 + gen.Below(20'000);
      ScriptedBlock b;
      b.time_ms = time;
      b.round = static_cast<uint32_t>(gen.Below(3));
      size_t n = gen.Below(14);
      for (size_t i = 0; i < n; ++i) b.candidates.push_back(gen.Next(time));
      size_t max_txs = 1 + gen.Below(10);

      BuiltBlock built;
      KvBatch batch;
      ASSERT_NO_FATAL_FAILURE(MakeNextBlock(kv, v, b, max_txs, &built, &batch));
      std::vector<SignedTx> expected = ref.Apply(time, b.candidates, max_txs);
      ASSERT_EQ(built.validated.block.txs, expected) << "block " << block;
      total_accepted += expected.size();
      total_rejected += built.rejected.size();
      kv.Apply(batch);

      const Header& h = built.validated.block.header;
      EXPECT_EQ(h.log_size, ref.leaves.size());
      EXPECT_EQ(h.log_root, ref.LogRoot());
      EXPECT_EQ(h.state_root, ref.StateRoot());
      ExpectSameState(kv, ref.state, a, ref.seen);
    }
  }
  // The generator exercises both outcomes in quantity.
  EXPECT_GT(total_accepted, 150u);
  EXPECT_GT(total_rejected, 60u);
}

}  // namespace
}  // namespace consent
