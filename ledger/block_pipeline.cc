// The block pipeline: BuildBlock, ValidateBlock and FinalizeBlock over one internal
// BlockExecutor, so that a proposer and a receiver run literally the same code for the state
// rules, the records of every accepted transaction, the log append, the state tree update and the
// block records, and therefore produce the same KvBatch for the same block. Pure (reads through
// KvRead, writes into KvBatch); thread-compatible.
//
// Decisions where the header and PROTOCOL.md are silent:
// - BuildBlock takes at most min(max_txs, kMaxBlockTxs) transactions and stops looking at
//   candidates once the block is full; candidates it never looked at are not in `rejected`.
// - A candidate whose tx_id repeats an earlier candidate of the same call is rejected as kReplay
//   with a message saying "duplicate", whether or not the earlier one was accepted.
// - Block faults return Status code kRejected, except kBadTxSignature (kInvalidSignature);
//   kStorage keeps the storage error's own code (kIoError, kCorruption, ...); kBadCommit keeps
//   VerifyCommit's code. Every message starts with the reason's name and ": ".
// - ChainTip::log_size is trusted as the committed log size (the store builds it from the head
//   header); the block's transactions get log indexes from it.
#include "ledger/block_pipeline.h"

#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/kv_state.h"
#include "ledger/log_tree.h"
#include "ledger/schema.h"
#include "ledger/state_tree.h"
#include "ledger/validator_history.h"

namespace consent {

const char* BlockRejectReasonName(BlockRejectReason r) {
  switch (r) {
    case BlockRejectReason::kNone:
      return "none";
    case BlockRejectReason::kWrongChainId:
      return "wrong_chain_id";
    case BlockRejectReason::kHeightNotNext:
      return "height_not_next";
    case BlockRejectReason::kTimeNotIncreasing:
      return "time_not_increasing";
    case BlockRejectReason::kPrevHashMismatch:
      return "prev_hash_mismatch";
    case BlockRejectReason::kWrongValidatorsHash:
      return "wrong_validators_hash";
    case BlockRejectReason::kWrongNextValidatorsHash:
      return "wrong_next_validators_hash";
    case BlockRejectReason::kWrongProposer:
      return "wrong_proposer";
    case BlockRejectReason::kTooManyTxs:
      return "too_many_txs";
    case BlockRejectReason::kBadTxSignature:
      return "bad_tx_signature";
    case BlockRejectReason::kInvalidTx:
      return "invalid_tx";
    case BlockRejectReason::kLogSizeMismatch:
      return "log_size_mismatch";
    case BlockRejectReason::kLogRootMismatch:
      return "log_root_mismatch";
    case BlockRejectReason::kStateRootMismatch:
      return "state_root_mismatch";
    case BlockRejectReason::kBadCommit:
      return "bad_commit";
    case BlockRejectReason::kStorage:
      return "storage";
  }
  return "unknown";
}

namespace {

uint64_t NextHeight(const ChainTip& tip) { return tip.head ? tip.head->height + 1 : 1; }

// The time the next block must exceed.
uint64_t MinExclusiveTime(const Genesis& genesis, const ChainTip& tip) {
  return tip.head ? tip.head->time_ms : genesis.genesis_time_ms;
}

Hash32 PrevHash(const ChainTip& tip) { return tip.head ? tip.head->Hash() : Hash32{}; }

std::string Short(const Hash32& h) { return ToHex(ByteView(h.data(), 8)); }

// The records one accepted transaction adds (schema.h), in a fixed order:
//   tx_index; per changed state key: consents (one record, whether the key is new or not);
//   directory (REGISTER_CONTROLLER); validators approval (SET_VALIDATORS); subject_index (GRANT
//   and REVOKE).
// The state tree change of each key is recorded in `state_changes`, a later value replacing an
// earlier one. BuildBlock and ValidateBlock both reach this only through BlockExecutor::TryAdd.
void WriteTxRecords(const SignedTx& tx, const Hash32& tx_id, ByteView encoding,
                    const StateChanges& changes, const schema::TxLocation& location,
                    KvBatch* writes, std::map<Hash32, std::optional<Hash32>>* state_changes) {
  writes->Put(Column::kTxIndex, tx_id, schema::EncodeTxRecord(location, encoding));
  for (const ConsentWrite& w : changes.consents) {
    Bytes value = w.value.Encode();
    writes->Put(Column::kConsents, schema::ConsentKey(w.controller, w.subject, w.purpose), value);
    (*state_changes)[w.state_key] = Sha256(value);
  }
  if (changes.controller) {
    writes->Put(Column::kDirectory, changes.controller->first,
                schema::EncodeControllerEntry(changes.controller->second));
  }
  if (changes.approval) {
    Bytes value = changes.approval->value.Encode();
    writes->Put(Column::kValidators, schema::ApprovalRecordKey(changes.approval->validator), value);
    (*state_changes)[changes.approval->state_key] = Sha256(value);
  }
  const TxKind kind = KindOf(tx.body);
  if (kind == TxKind::kGrant || kind == TxKind::kRevoke) {
    writes->Put(Column::kSubjectIndex,
                schema::SubjectIndexKey(SignerOf(tx.body), location.log_index), tx_id);
  }
}

// Runs one block's transactions, in order, against the committed state plus the block's own
// earlier writes, and collects every record the block adds. Not copyable or movable (the overlay
// and the view point into it).
class BlockExecutor {
 public:
  BlockExecutor(const KvRead& committed, const ValidatorSet& validators, uint64_t height,
                uint64_t time_ms, uint64_t log_size)
      : committed_(committed),
        validators_(validators),
        height_(height),
        time_ms_(time_ms),
        log_size_(log_size),
        overlay_(committed, writes_),
        view_(overlay_) {}
  BlockExecutor(const BlockExecutor&) = delete;
  BlockExecutor& operator=(const BlockExecutor&) = delete;

  // Checks `tx` (whose id and encoding the caller computed) against the state so far (a tx
  // already in the block fails as a replay, since its tx_index record is pending); if valid,
  // records its writes and appends its id and encoding to the block (the caller keeps the tx
  // itself). A non-OK status is a storage error.
  Result<TxCheck> TryAdd(const SignedTx& tx, const Hash32& id, Bytes&& encoding) {
    const BlockContext context{time_ms_, &validators_, next_validators_.has_value()};
    TxCheck check = CheckStateRules(view_, context, tx, id);
    RETURN_IF_ERROR(view_.error());
    if (!check.ok()) return check;
    StateChanges changes = ComputeChanges(view_, tx, id);
    RETURN_IF_ERROR(view_.error());
    uint32_t position = static_cast<uint32_t>(ids_.size());
    WriteTxRecords(tx, id, encoding, changes, {height_, position, log_size_ + position}, &writes_,
                   &state_changes_);
    overlay_.Refresh();
    // Section 10's decision: does the approval just recorded bring its set to a quorum?
    if (changes.approval) {
      const bool decided =
          ChangeReachesQuorum(view_, validators_, changes.approval->value.set_hash);
      RETURN_IF_ERROR(view_.error());
      if (decided) next_validators_ = ValidatorSet{changes.approval->set};
    }
    ids_.push_back(id);
    encodings_.push_back(std::move(encoding));
    return check;
  }

  size_t size() const { return ids_.size(); }
  const std::vector<Hash32>& ids() const { return ids_; }
  std::vector<Hash32> TakeIds() { return std::move(ids_); }

  // The set this block decides, if any.
  const std::optional<ValidatorSet>& next_validators() const { return next_validators_; }

  // Ends the block: when it decided a change, removes every approval (records and state entries)
  // and records the new set for the next height; then appends the block's tx ids to the log and
  // applies its state changes to the state tree (each against the committed trees, with all of
  // the block at once), and sets log_size, log_root, state_root and next_validators_hash of
  // `header`. Call once, after the last TryAdd. Errors are storage errors.
  Status ComputeRoots(Header* header) {
    header->next_validators_hash = validators_.Hash();
    if (next_validators_) {
      ASSIGN_OR_RETURN(auto approvals, ReadApprovals(overlay_));
      for (const auto& [who, value] : approvals) {
        writes_.Delete(Column::kValidators, schema::ApprovalRecordKey(who));
        state_changes_[ApprovalKey(who)] = std::nullopt;
      }
      writes_.Put(Column::kValidators, schema::ValidatorSetKey(height_ + 1),
                  next_validators_->Encode());
      overlay_.Refresh();
      header->next_validators_hash = next_validators_->Hash();
    }
    LogTree log(committed_, log_size_);
    RETURN_IF_ERROR(log.Append(ids_, &writes_));
    overlay_.Refresh();
    ASSIGN_OR_RETURN(Hash32 log_root, LogTree(overlay_, log.size()).Root());

    std::vector<StateTreeChange> changes;
    changes.reserve(state_changes_.size());
    for (const auto& [key, value_hash] : state_changes_) changes.push_back({key, value_hash});
    // (Removing a key the committed tree does not hold, one set and removed within this block,
    // changes nothing: StateTree::Update skips it.)
    StateTree tree(committed_);
    Result<Hash32> state_root = changes.empty() ? tree.Root() : tree.Update(changes, &writes_);
    RETURN_IF_ERROR(state_root.status());
    overlay_.Refresh();

    header->log_size = log.size();
    header->log_root = log_root;
    header->state_root = *state_root;
    return Status::Ok();
  }

  // Adds the block body and the header; returns everything the block writes.
  KvBatch TakeWrites(const Header& header) && {
    writes_.Put(Column::kBlocks, schema::U64Key(height_),
                schema::EncodeBlockBodyFromEncodings(encodings_));
    writes_.Put(Column::kHeaders, schema::U64Key(height_), header.Encode());
    return std::move(writes_);
  }

 private:
  const KvRead& committed_;
  const ValidatorSet& validators_;
  const uint64_t height_;
  const uint64_t time_ms_;
  const uint64_t log_size_;
  KvBatch writes_;
  OverlayKv overlay_;  // committed_ + writes_
  KvStateView view_;   // over overlay_
  std::vector<Hash32> ids_;
  std::vector<Bytes> encodings_;  // SignedTx::Encode() of each accepted tx, in order
  // state key -> H(last state_value), or nullopt: removed (approvals at a decision)
  std::map<Hash32, std::optional<Hash32>> state_changes_;
  std::optional<ValidatorSet> next_validators_;  // set when a SET_VALIDATORS decided a change
};

Status StorageError(const Status& st) {
  return Status(st.code(), std::string(BlockRejectReasonName(BlockRejectReason::kStorage)) + ": " +
                               st.message());
}

// Fills `check` and returns the matching error Status.
Status Refuse(BlockCheck* check, BlockRejectReason reason, const std::string& detail,
              StatusCode code = StatusCode::kRejected) {
  std::string message = std::string(BlockRejectReasonName(reason)) + ": " + detail;
  if (check != nullptr) *check = {reason, message};
  return Status(code, message);
}

// The header checks that need only the tip and the genesis, in ValidateBlock's order.
Status CheckHeaderFields(const Genesis& genesis, const ValidatorSet& validators,
                         const ChainTip& tip, const Header& h, uint32_t round, BlockCheck* check) {
  if (h.chain_id != genesis.chain_id) {
    return Refuse(check, BlockRejectReason::kWrongChainId,
                  "chain id '" + h.chain_id + "', expected '" + genesis.chain_id + "'");
  }
  if (h.height != NextHeight(tip)) {
    return Refuse(
        check, BlockRejectReason::kHeightNotNext,
        "height " + std::to_string(h.height) + ", expected " + std::to_string(NextHeight(tip)));
  }
  if (h.time_ms <= MinExclusiveTime(genesis, tip)) {
    return Refuse(check, BlockRejectReason::kTimeNotIncreasing,
                  "time_ms " + std::to_string(h.time_ms) + " is not after " +
                      std::to_string(MinExclusiveTime(genesis, tip)));
  }
  if (h.prev_block_hash != PrevHash(tip)) {
    return Refuse(check, BlockRejectReason::kPrevHashMismatch,
                  "prev_block_hash " + Short(h.prev_block_hash) + "..., expected " +
                      Short(PrevHash(tip)) + "...");
  }
  if (h.validators_hash != validators.Hash() ||
      (tip.head && h.validators_hash != tip.head->next_validators_hash)) {
    return Refuse(check, BlockRejectReason::kWrongValidatorsHash,
                  "validators_hash " + Short(h.validators_hash) + "... is not the hash " +
                      Short(validators.Hash()) + "... of the set that commits height " +
                      std::to_string(h.height));
  }
  // The header names the validator that built the block: the proposer of the round it was first
  // proposed in. Tendermint may re-propose that block (its "valid value") and decide it in a later
  // round, so the rule is: the header's proposer is the proposer of some round r' <= round at this
  // height. Rounds whose proposer is validator i are r0, r0 + n, ... with
  // r0 = (i - height) mod n, so the check is r0 <= round (docs/protocol.md, "Decisions").
  const size_t n = validators.size();
  const size_t index = validators.IndexOf(h.proposer).value_or(n);
  const uint64_t first_round = index == n ? 0 : (index + n - static_cast<size_t>(h.height % n)) % n;
  if (index == n || first_round > round) {
    return Refuse(check, BlockRejectReason::kWrongProposer,
                  "proposer " + Short(h.proposer) + "... is not the proposer of round " +
                      std::to_string(round) + " or of an earlier round");
  }
  return Status::Ok();
}

}  // namespace

Result<BuiltBlock> BuildBlock(const KvRead& committed, const Genesis& genesis, const ChainTip& tip,
                              uint64_t time_ms, uint32_t round,
                              const std::vector<SignedTx>& candidates, size_t max_txs) {
  return BuildBlock(committed, genesis, tip, time_ms, round, Identify(candidates), max_txs,
                    std::numeric_limits<size_t>::max());
}

Result<BuiltBlock> BuildBlock(const KvRead& committed, const Genesis& genesis, const ChainTip& tip,
                              uint64_t time_ms, uint32_t round,
                              std::vector<IdentifiedTx>&& candidates, size_t max_txs,
                              size_t max_body_bytes) {
  if (time_ms <= MinExclusiveTime(genesis, tip)) {
    return Status::Rejected(
        std::string(BlockRejectReasonName(BlockRejectReason::kTimeNotIncreasing)) + ": time_ms " +
        std::to_string(time_ms) + " is not after " +
        std::to_string(MinExclusiveTime(genesis, tip)));
  }
  const uint64_t height = NextHeight(tip);
  const size_t limit = std::min(max_txs, kMaxBlockTxs);
  Result<ValidatorSet> validators = SetForHeight(committed, genesis, height);
  if (!validators.ok()) return StorageError(validators.status());
  BlockExecutor exec(committed, *validators, height, time_ms, tip.log_size);
  BuiltBlock built;
  std::vector<SignedTx>& accepted = built.validated.block.txs;
  // candidate tx_id -> first candidate index (only looked up, so its order does not matter)
  std::unordered_map<Hash32, size_t, Hash32Hasher> seen;
  seen.reserve(std::min(candidates.size(), 2 * limit));
  size_t body_bytes = 4;  // the body's u32 count
  for (size_t i = 0; i < candidates.size() && exec.size() < limit; ++i) {
    const Hash32 id = candidates[i].id();
    if (auto [it, fresh] = seen.emplace(id, i); !fresh) {
      built.rejected.push_back(
          {id, TxRejectReason::kReplay,
           "tx_id " + ToHex(id) + " is a duplicate of candidate " + std::to_string(it->second)});
      continue;
    }
    Bytes encoding = candidates[i].tx().Encode();
    // Full by size: stop here (like a block full by count), this candidate not looked at.
    if (body_bytes + 4 + encoding.size() > max_body_bytes) break;
    const size_t encoded = 4 + encoding.size();
    Result<TxCheck> check = exec.TryAdd(candidates[i].tx(), id, std::move(encoding));
    if (!check.ok()) return StorageError(check.status());
    if (!check->ok()) {
      built.rejected.push_back({id, check->reason, std::move(check->message)});
      continue;
    }
    body_bytes += encoded;
    accepted.push_back(std::move(candidates[i]).Take());
  }

  Header& h = built.validated.block.header;
  h.chain_id = genesis.chain_id;
  h.height = height;
  h.time_ms = time_ms;
  h.prev_block_hash = PrevHash(tip);
  h.validators_hash = validators->Hash();
  h.proposer = validators->Proposer(height, round);
  Status st = exec.ComputeRoots(&h);
  if (!st.ok()) return StorageError(st);
  built.validated.next_validators = exec.next_validators();
  built.validated.validators = std::move(*validators);
  built.validated.tx_ids = exec.TakeIds();
  built.validated.block_hash = h.Hash();
  built.validated.writes = std::move(exec).TakeWrites(h);
  return built;
}

Result<ValidatedBlock> ValidateBlock(const KvRead& committed, const Genesis& genesis,
                                     const ChainTip& tip, const Block& block, uint32_t round,
                                     bool verify_signatures, BlockCheck* check) {
  if (check != nullptr) *check = {};
  const Header& h = block.header;
  Result<ValidatorSet> validators = SetForHeight(committed, genesis, NextHeight(tip));
  if (!validators.ok()) {
    return Refuse(check, BlockRejectReason::kStorage, validators.status().message(),
                  validators.status().code());
  }
  RETURN_IF_ERROR(CheckHeaderFields(genesis, *validators, tip, h, round, check));

  if (block.txs.size() > kMaxBlockTxs) {
    return Refuse(check, BlockRejectReason::kTooManyTxs,
                  std::to_string(block.txs.size()) + " transactions, more than " +
                      std::to_string(kMaxBlockTxs));
  }
  // Each tx is encoded once: its id, its tx_index record and the block body use that encoding.
  std::vector<Bytes> encodings;
  std::vector<Hash32> ids;
  encodings.reserve(block.txs.size());
  ids.reserve(block.txs.size());
  for (const SignedTx& tx : block.txs) {
    encodings.push_back(tx.Encode());
    ids.push_back(TxIdOf(encodings.back()));
  }
  std::unordered_map<Hash32, size_t, Hash32Hasher> first_at;
  first_at.reserve(block.txs.size());
  for (size_t i = 0; i < block.txs.size(); ++i) {
    auto [it, fresh] = first_at.emplace(ids[i], i);
    if (!fresh) {
      return Refuse(check, BlockRejectReason::kInvalidTx,
                    "tx " + std::to_string(i) + " (" + Short(it->first) + "...) duplicates tx " +
                        std::to_string(it->second) + " (duplicate)");
    }
  }
  if (verify_signatures) {
    for (size_t i = 0; i < block.txs.size(); ++i) {
      Status st = VerifyTxSignature(genesis.chain_id, block.txs[i]);
      if (!st.ok()) {
        return Refuse(check, BlockRejectReason::kBadTxSignature,
                      "tx " + std::to_string(i) + ": " + st.message(),
                      StatusCode::kInvalidSignature);
      }
    }
  }

  BlockExecutor exec(committed, *validators, h.height, h.time_ms, tip.log_size);
  for (size_t i = 0; i < block.txs.size(); ++i) {
    Result<TxCheck> tx_check = exec.TryAdd(block.txs[i], ids[i], std::move(encodings[i]));
    if (!tx_check.ok()) {
      Status st = tx_check.status();
      return Refuse(check, BlockRejectReason::kStorage, st.message(), st.code());
    }
    if (!tx_check->ok()) {
      return Refuse(check, BlockRejectReason::kInvalidTx,
                    "tx " + std::to_string(i) + ": " + TxRejectReasonName(tx_check->reason) + ": " +
                        tx_check->message);
    }
  }

  Header expected = h;
  Status st = exec.ComputeRoots(&expected);
  if (!st.ok()) return Refuse(check, BlockRejectReason::kStorage, st.message(), st.code());
  if (h.log_size != expected.log_size) {
    return Refuse(check, BlockRejectReason::kLogSizeMismatch,
                  "log_size " + std::to_string(h.log_size) + ", expected " +
                      std::to_string(expected.log_size));
  }
  if (h.log_root != expected.log_root) {
    return Refuse(
        check, BlockRejectReason::kLogRootMismatch,
        "log_root " + Short(h.log_root) + "..., recomputed " + Short(expected.log_root) + "...");
  }
  if (h.state_root != expected.state_root) {
    return Refuse(check, BlockRejectReason::kStateRootMismatch,
                  "state_root " + Short(h.state_root) + "..., recomputed " +
                      Short(expected.state_root) + "...");
  }
  if (h.next_validators_hash != expected.next_validators_hash) {
    return Refuse(check, BlockRejectReason::kWrongNextValidatorsHash,
                  "next_validators_hash " + Short(h.next_validators_hash) + "..., expected " +
                      Short(expected.next_validators_hash) + "..." +
                      (exec.next_validators() ? " (this block decides a validator set change)"
                                              : " (this block decides no change)"));
  }

  ValidatedBlock out;
  out.block = block;
  out.block_hash = h.Hash();
  out.next_validators = exec.next_validators();
  out.validators = std::move(*validators);
  out.writes = std::move(exec).TakeWrites(h);
  out.tx_ids = std::move(ids);
  return out;
}

Result<KvBatch> FinalizeBlock(const Genesis& genesis, ValidatedBlock validated,
                              const Commit& commit) {
  const Header& h = validated.block.header;
  if (h.chain_id != genesis.chain_id) {
    return Status::Internal("FinalizeBlock: the block is not of this chain");
  }
  if (validated.block_hash != h.Hash()) {
    return Status::Internal("FinalizeBlock: block_hash does not match the block's header");
  }
  Status st =
      VerifyCommit(h.chain_id, validated.validators, h.height, validated.block_hash, commit);
  if (!st.ok()) {
    return Status(st.code(), std::string(BlockRejectReasonName(BlockRejectReason::kBadCommit)) +
                                 ": " + st.message());
  }
  KvBatch writes = std::move(validated.writes);
  writes.Put(Column::kCommits, schema::U64Key(h.height), schema::EncodeCommit(commit));
  writes.Put(Column::kMeta, AsBytes(schema::kMetaHead), schema::U64Key(h.height));
  return writes;
}

Status CheckCertifiedHeader(const Genesis& genesis, const ValidatorSet& validators,
                            const ChainTip& tip, const Header& header, const Commit& commit,
                            BlockCheck* check) {
  if (check != nullptr) *check = {};
  RETURN_IF_ERROR(CheckHeaderFields(genesis, validators, tip, header, commit.round, check));
  if (header.log_size < tip.log_size) {
    return Refuse(check, BlockRejectReason::kLogSizeMismatch,
                  "log_size " + std::to_string(header.log_size) + " is below the previous " +
                      std::to_string(tip.log_size) + ": the log only grows");
  }
  if (Status st = VerifyCommit(genesis.chain_id, validators, header.height, header.Hash(), commit);
      !st.ok()) {
    return Refuse(check, BlockRejectReason::kBadCommit, st.message());
  }
  return Status::Ok();
}

}  // namespace consent
