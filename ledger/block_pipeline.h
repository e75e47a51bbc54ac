// The block pipeline (pure): build the next block from candidate transactions, validate a block
// received from elsewhere without changing anything, and turn a validated block plus its commit
// into the one KvBatch that the store writes atomically (block, header, commit, state tree, log
// tree, every index and the head pointer). The order is cometbft's: verify the commit, validate,
// save, apply, and validation never writes.
//
// The storage layout this module writes and ledger/chain_store.h reads is in ledger/schema.h.
// Pure (reads through KvRead, writes into KvBatch; no clock, no threads); thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/kv.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace consent {

inline constexpr size_t kMaxBlockTxs = 10000;

struct Block {
  Header header;
  std::vector<SignedTx> txs;  // exactly the log leaves [previous log_size, log_size)
  bool operator==(const Block&) const = default;
};

// Why a block is refused. A block refused for any reason changes nothing.
enum class BlockRejectReason {
  kNone = 0,
  kWrongChainId,
  kHeightNotNext,      // height != head height + 1
  kTimeNotIncreasing,  // time_ms <= head time_ms (or genesis_time_ms for height 1)
  kPrevHashMismatch,
  kWrongValidatorsHash,      // not the hash of the set that commits this height
  kWrongNextValidatorsHash,  // not the set this block decides (or its own, with no decision)
  kWrongProposer,            // not validators[(height + round) mod n]
  kTooManyTxs,
  kBadTxSignature,
  kInvalidTx,  // a state rule (replay, stale, time window, ...) or a duplicate in block
  kLogSizeMismatch,
  kLogRootMismatch,
  kStateRootMismatch,
  kBadCommit,
  kStorage,  // reading the committed state failed (not the block's fault)
};
const char* BlockRejectReasonName(BlockRejectReason r);

struct BlockCheck {
  BlockRejectReason reason = BlockRejectReason::kNone;
  std::string message;
  bool ok() const { return reason == BlockRejectReason::kNone; }
};

// The committed chain's tip, as the pipeline needs it.
struct ChainTip {
  std::optional<Header> head;  // nullopt before block 1
  uint64_t log_size = 0;
};

// A block whose contents are checked, with the writes it would make (not yet applied).
struct ValidatedBlock {
  Block block;
  Hash32 block_hash{};
  ValidatorSet validators;                      // the set that commits this block
  std::optional<ValidatorSet> next_validators;  // the set this block decides, if it decides one
  KvBatch writes;                               // everything but the commit and the head pointer
  std::vector<Hash32> tx_ids;                   // block.txs[i].Id(), computed once while validating
};

struct RejectedTx {
  Hash32 tx_id{};
  TxRejectReason reason = TxRejectReason::kNone;
  std::string message;
};

struct BuiltBlock {
  ValidatedBlock validated;
  std::vector<RejectedTx> rejected;  // candidates left out, each with its reason
};

// Proposer: builds the next block at `time_ms` for `round`, taking candidates in order (at most
// max_txs), dropping those that break a state rule against the state so far (reported in
// `rejected`). Signatures are NOT re-checked: candidates must come from a mempool that verified
// them. Fails only on storage errors or a non-increasing time.
Result<BuiltBlock> BuildBlock(const KvRead& committed, const Genesis& genesis, const ChainTip& tip,
                              uint64_t time_ms, uint32_t round,
                              const std::vector<SignedTx>& candidates, size_t max_txs);

// The same for a caller that owns the candidates with their tx ids (a mempool computes each id
// once, at admission): accepted candidates are moved into the block, and the ids are not
// recomputed. The block also stops short of a body (schema::EncodeBlockBody: a u32
// count, then per tx a u32 length and its encoding) longer than max_body_bytes, like a block full
// by count: the candidate that would overflow it and those after it are not looked at.
Result<BuiltBlock> BuildBlock(const KvRead& committed, const Genesis& genesis, const ChainTip& tip,
                              uint64_t time_ms, uint32_t round,
                              std::vector<IdentifiedTx>&& candidates, size_t max_txs,
                              size_t max_body_bytes);

// Both read the set that commits the next height from the store (SetForHeight), and apply
// section 10: after each SET_VALIDATORS the decision rule is checked; when a change is decided,
// every approval record and state entry is removed at the end of the block, the new set is
// recorded for the next height, and next_validators_hash names it (otherwise it equals
// validators_hash).
//
// Receiver: checks every header field against the tip and the genesis, every tx (signature when
// verify_signatures, then the state rules in block order), and recomputes log_size, log_root and
// state_root. Changes nothing. On failure the Status message starts with the reason's name.
Result<ValidatedBlock> ValidateBlock(const KvRead& committed, const Genesis& genesis,
                                     const ChainTip& tip, const Block& block, uint32_t round,
                                     bool verify_signatures, BlockCheck* check);

// Checks the commit against the set that commits this block (validated.validators) and adds the
// commit and the new head pointer to the writes. The result is what the store writes, in one synced
// batch.
Result<KvBatch> FinalizeBlock(const Genesis& genesis, ValidatedBlock validated,
                              const Commit& commit);

// An auditor's check of one certified header (a header with its commit) following `tip`, without
// the block: the header fields ValidateBlock checks that need no block contents (chain id, next
// height, increasing time, prev_block_hash, validators_hash = validators.Hash(), a proposer of the
// commit's round or an earlier one in `validators`), a log_size not below the tip's (the log only
// grows), and the commit: a quorum of `validators`' precommits for this header's hash.
// `validators` is the set that commits header.height, as the caller knows it (the genesis set, or
// the set named by the last change block it verified). Pure. On failure the Status message starts
// with the reason's name, as ValidateBlock's, and `check` (if given) holds it.
Status CheckCertifiedHeader(const Genesis& genesis, const ValidatorSet& validators,
                            const ChainTip& tip, const Header& header, const Commit& commit,
                            BlockCheck* check);

}  // namespace consent
