// Reads the committed global log from a store snapshot, in log order, for the stream's catch-up:
// the leaf at log index i (LogTree::LeafHashAt, from Column::kLogNodes) is the tx id; its tx index
// entry gives the block height and position; then the block bodies are read in height order.
// The last block decoded is kept, so reading a long block in batches decodes it once.
// Thread-compatible (one reader per stream session).
#pragma once

#include <cstdint>
#include <vector>

#include "crypto/status.h"
#include "ledger/kv.h"
#include "ledger/tx.h"

namespace consent {

struct LoggedTx {
  SignedTx tx;
  Hash32 tx_id{};
  uint64_t height = 0;
  uint64_t log_index = 0;
};

class LogReader {
 public:
  // The committed txs with log indices [from, end), at most `max` of them. REQUIRES: `end` is at
  // most the log size of the snapshot `kv`. A record missing or disagreeing is Corruption.
  Result<std::vector<LoggedTx>> Read(const KvRead& kv, uint64_t from, uint64_t end, size_t max);

 private:
  uint64_t cached_height_ = 0;  // 0: nothing cached
  std::vector<SignedTx> cached_txs_;
};

}  // namespace consent
