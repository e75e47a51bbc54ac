// The child process of tests/store/crash_test.cc: opens the store at argv[1] and commits blocks
// of 20 grants forever on the crash-test chain, writing each height (u64, native order) to file
// descriptor argv[2] only after CommitBlock returned, i.e. after the block was synced. Exits
// non-zero on any error; normally it runs until the parent kills it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "ledger/store/chain_store.h"
#include "store_test_util.h"

int main(int argc, char** argv) {
  using namespace consent;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s STORE_PATH FD\n", argv[0]);
    return 2;
  }
  int fd = std::atoi(argv[2]);
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
  for (;;) {
    uint64_t h = (*store)->height() + 1;
    uint64_t t = consent::testing::kT0 + h * 1000;
    std::vector<SignedTx> txs;
    for (int i = 0; i < 20; ++i) {
      txs.push_back(consent::testing::Grant("crash-test", static_cast<int>(h * 100 + i), brand,
                                            {"analytics"}, t - 1));
    }
    auto header = consent::testing::CommitTxs(**store, chain.keys(), t, txs);
    if (!header.ok()) {
      std::fprintf(stderr, "crash child: %s\n", header.status().ToString().c_str());
      return 4;
    }
    if (write(fd, &h, sizeof h) != static_cast<ssize_t>(sizeof h)) return 5;
  }
}
