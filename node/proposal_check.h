// Whether a proposed block's body is the one its header commits to. A proposer signs only the
// header hash; the header commits to the transactions through log_size (how many) and log_root
// (the global log's root after appending their ids, and a tx id hashes the whole signed
// encoding). Anyone can pair a signed header with other transactions: such a copy still passes
// VerifyProposal. This check tells the two apart before the block is judged, so that validity
// (which taints a header hash) is only ever decided for the body the proposer signed, and the
// peer that relayed a mismatching body (not the proposer) is blamed.
//
// Cost: one SHA-256 over each transaction's encoding and O(n/16) log tiles, in memory.
// Pure (reads the committed store through the KvRead only); thread-compatible.
#pragma once

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/block_pipeline.h"
#include "ledger/kv.h"

namespace consent {

// OK if `block`'s transactions are those its header commits to given the committed `tip`:
// header.log_size == tip.log_size + txs.size() and the log root after appending their ids equals
// header.log_root. kRejected ("body does not match its header: ...") otherwise; a storage error
// (any other code) if the committed log cannot be read.
Status CheckBodyMatchesHeader(const KvRead& committed, const ChainTip& tip, const Block& block);

}  // namespace consent
