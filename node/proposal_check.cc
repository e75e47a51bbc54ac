// Implementation of CheckBodyMatchesHeader (node/proposal_check.h).
#include "node/proposal_check.h"

#include <string>
#include <vector>

#include "ledger/log_tree.h"

namespace consent {

Status CheckBodyMatchesHeader(const KvRead& committed, const ChainTip& tip, const Block& block) {
  const Header& h = block.header;
  auto mismatch = [](const std::string& why) {
    return Status(StatusCode::kRejected, "body does not match its header: " + why);
  };
  if (h.log_size < tip.log_size || h.log_size - tip.log_size != block.txs.size()) {
    return mismatch(std::to_string(block.txs.size()) +
                    " transactions, the header's log grows from " + std::to_string(tip.log_size) +
                    " to " + std::to_string(h.log_size));
  }
  std::vector<Hash32> ids;
  ids.reserve(block.txs.size());
  for (const SignedTx& tx : block.txs) ids.push_back(tx.Id());
  KvBatch batch;
  LogTree log(committed, tip.log_size);
  RETURN_IF_ERROR(log.Append(ids, &batch));
  OverlayKv overlay(committed, batch);
  ASSIGN_OR_RETURN(Hash32 root, LogTree(overlay, log.size()).Root());
  if (root != h.log_root) return mismatch("the log root over its transactions differs");
  return Status::Ok();
}

}  // namespace consent
