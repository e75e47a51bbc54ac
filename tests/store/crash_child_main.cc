// The child process of tests/store/crash_test.cc: opens the store at argv[1] and commits blocks
// of 20 grants forever on the crash-test chain, writing each height (u64, native order) to file
// descriptor argv[2] only after the block was synced. With argv[3] "sequential" each block is
// committed with CommitBlock and reported after it returns; with "pipelined" block h+1 is built
// on build_view() while block h is written by the store's writer thread (BeginCommit), and each
// height is reported from the on_done callback. Exits non-zero on any error; normally it runs
// until the parent kills it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ledger/store/chain_store.h"
#include "store_test_util.h"

int main(int argc, char** argv) {
  using namespace consent;
  if (argc != 4 || (std::string(argv[3]) != "sequential" && std::string(argv[3]) != "pipelined")) {
    std::fprintf(stderr, "usage: %s STORE_PATH FD sequential|pipelined\n", argv[0]);
    return 2;
  }
  const int fd = std::atoi(argv[2]);
  const bool pipelined = std::string(argv[3]) == "pipelined";
  ChainBuilder chain = ChainBuilder::ForTesting("crash-test", 1, consent::testing::kT0 - 1000);
  ChainStoreOptions o;
  o.path = argv[1];
  o.block_cache_bytes = 2 << 20;
  auto store = ChainStore::Open(o, chain.genesis());
  if (!store.ok()) {
    std::fprintf(stderr, "crash child: %s\n", store.status().ToString().c_str());
    return 3;
  }
  SigningKey brand = consent::testing::KeyFromLabel("crash brand");
  ChainStore& s = **store;
  for (;;) {
    const ChainTip tip = s.build_tip();
    uint64_t h = (tip.head ? tip.head->height : 0) + 1;
    uint64_t t = consent::testing::kT0 + h * 1000;
    std::vector<SignedTx> txs;
    for (int i = 0; i < 20; ++i) {
      txs.push_back(consent::testing::Grant("crash-test", static_cast<int>(h * 100 + i), brand,
                                            {"analytics"}, t - 1));
    }
    auto built = BuildBlock(s.build_view(), s.genesis(), tip, t, 0, txs, kMaxBlockTxs);
    if (!built.ok() || !built->rejected.empty()) {
      std::fprintf(stderr, "crash child: block %llu not built\n",
                   static_cast<unsigned long long>(h));
      return 4;
    }
    Commit commit;
    for (const auto& k : chain.keys()) {
      commit.signatures.push_back(
          SignPrecommit(k, s.genesis().chain_id, h, 0, built->validated.block_hash));
    }
    if (pipelined) {
      Status st = s.BeginCommit(std::move(built->validated), commit, [fd, h](const Status& r) {
        if (r.ok() && write(fd, &h, sizeof h) != static_cast<ssize_t>(sizeof h)) std::_Exit(5);
      });
      if (!st.ok()) {
        std::fprintf(stderr, "crash child: %s\n", st.ToString().c_str());
        return 4;
      }
    } else {
      Status st = s.CommitBlock(std::move(built->validated), commit);
      if (!st.ok()) {
        std::fprintf(stderr, "crash child: %s\n", st.ToString().c_str());
        return 4;
      }
      if (write(fd, &h, sizeof h) != static_cast<ssize_t>(sizeof h)) return 5;
    }
  }
}
