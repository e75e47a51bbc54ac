// Implementation of LogReader (net/log_reader.h).
#include "net/log_reader.h"

#include <algorithm>

#include "crypto/hex.h"
#include "ledger/log_tree.h"
#include "ledger/schema.h"

namespace consent {

Result<std::vector<LoggedTx>> LogReader::Read(const KvRead& kv, uint64_t from, uint64_t end,
                                              size_t max) {
  std::vector<LoggedTx> out;
  if (from >= end || max == 0) return out;
  // A missing or malformed leaf is Corruption naming its tile.
  ASSIGN_OR_RETURN(Hash32 first_id, LogTree(kv, end).LeafHashAt(from));
  ASSIGN_OR_RETURN(std::optional<Bytes> loc_bytes, kv.Get(Column::kTxIndex, first_id));
  if (!loc_bytes)
    return Status::Corruption("no tx index entry for log leaf " + std::to_string(from));
  ASSIGN_OR_RETURN(schema::TxLocation loc, schema::DecodeTxLocation(*loc_bytes));
  if (loc.log_index != from) {
    return Status::Corruption("tx index of log leaf " + std::to_string(from) + " says log index " +
                              std::to_string(loc.log_index));
  }
  uint64_t height = loc.height;
  size_t position = loc.position;
  uint64_t index = from;
  while (index < end && out.size() < max) {
    if (cached_height_ != height) {
      ASSIGN_OR_RETURN(std::optional<Bytes> body, kv.Get(Column::kBlocks, schema::U64Key(height)));
      if (!body) return Status::Corruption("no block body at height " + std::to_string(height));
      ASSIGN_OR_RETURN(cached_txs_, schema::DecodeBlockBody(*body));
      cached_height_ = height;
    }
    for (; position < cached_txs_.size() && index < end && out.size() < max; ++position) {
      LoggedTx t;
      t.tx = cached_txs_[position];
      t.tx_id = t.tx.Id();
      t.height = height;
      t.log_index = index++;
      out.push_back(std::move(t));
    }
    ++height;
    position = 0;
  }
  if (!out.empty() && out.front().tx_id != first_id) {
    return Status::Corruption("block " + std::to_string(out.front().height) +
                              " disagrees with log leaf " + std::to_string(from));
  }
  return out;
}

}  // namespace consent
