// ChainBuilder (see chain_builder.h): blocks and consent proofs over an in-memory chain.
// Thread-compatible.
#include "ledger/chain_builder.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "crypto/sha256.h"
#include "ledger/merkle_log.h"

namespace consent {
namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "ChainBuilder: %s\n", why.c_str());
  std::abort();
}

}  // namespace

Result<ChainBuilder> ChainBuilder::Create(Genesis genesis, std::vector<SigningKey> keys) {
  RETURN_IF_ERROR(CheckChainId(genesis.chain_id));
  if (genesis.validators.empty() || genesis.validators.size() > kMaxValidators) {
    return Status::Invalid("genesis: needs 1.." + std::to_string(kMaxValidators) + " validators");
  }
  if (keys.size() != genesis.validators.size()) {
    return Status::Invalid(std::to_string(keys.size()) + " keys for " +
                           std::to_string(genesis.validators.size()) + " validators");
  }
  std::set<PublicKey> seen;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].public_key() != genesis.validators[i].public_key) {
      return Status::Invalid("keys[" + std::to_string(i) + "]: not validator " + std::to_string(i) +
                             "'s key");
    }
    if (!seen.insert(keys[i].public_key()).second) {
      return Status::Invalid("keys[" + std::to_string(i) + "]: duplicate validator");
    }
  }
  return ChainBuilder(std::move(genesis), std::move(keys));
}

ChainBuilder ChainBuilder::ForTesting(std::string chain_id, size_t n, uint64_t genesis_time_ms) {
  Genesis g;
  g.chain_id = std::move(chain_id);
  g.genesis_time_ms = genesis_time_ms;
  std::vector<SigningKey> keys;
  for (size_t i = 0; i < n; ++i) {
    Seed32 seed = Sha256(AsBytes("consent-ledger/test-validator/" + std::to_string(i)));
    keys.push_back(SigningKey::FromSeed(seed));
    g.validators.push_back({"validator-" + std::to_string(i), keys.back().public_key()});
  }
  auto builder = Create(std::move(g), std::move(keys));
  if (!builder.ok()) Die(builder.status().ToString());
  return std::move(builder).value();
}

Result<ChainBuilder::BlockRecord> ChainBuilder::AddBlock(uint64_t time_ms,
                                                         std::vector<SignedTx> txs) {
  const uint64_t min_time =
      blocks_.empty() ? genesis_.genesis_time_ms : blocks_.back().header.time_ms;
  if (time_ms <= min_time) {
    return Status::Invalid("time_ms " + std::to_string(time_ms) + " does not exceed " +
                           std::to_string(min_time));
  }
  // Work on copies so that a refused block changes nothing.
  MemoryState state = state_;
  smt::ReferenceSmt tree = tree_;
  std::vector<Hash32> leaves = log_leaves_;
  for (size_t i = 0; i < txs.size(); ++i) {
    const std::string where = "txs[" + std::to_string(i) + "]";
    const Bytes encoding = txs[i].Encode();
    auto decoded = DecodeSignedTx(encoding);
    if (!decoded.ok()) return decoded.status().Prefixed(where);
    RETURN_IF_ERROR(VerifyTxSignature(genesis_.chain_id, *decoded).Prefixed(where));
    TxCheck check = CheckStateRules(state, time_ms, *decoded);
    if (!check.ok()) {
      return Status::Rejected(where + ": " + TxRejectReasonName(check.reason) + ": " +
                              check.message);
    }
    StateChanges changes = ComputeChanges(state, *decoded);
    TxCheck applied = state.Apply(time_ms, *decoded);
    if (!applied.ok()) return Status::Internal(where + ": Apply disagrees with CheckStateRules");
    for (const auto& w : changes.consents) tree.Set(w.state_key, w.value.Encode());
    leaves.push_back(TxIdOf(encoding));
  }

  BlockRecord rec;
  Header& h = rec.header;
  h.chain_id = genesis_.chain_id;
  h.height = blocks_.size() + 1;
  h.time_ms = time_ms;
  if (!blocks_.empty()) h.prev_block_hash = blocks_.back().block_hash;
  h.log_size = leaves.size();
  h.log_root = merkle::RootFromLeafHashes(leaves);
  h.state_root = tree.Root();
  h.validators_hash = genesis_.ValidatorsHash();
  h.next_validators_hash = h.validators_hash;  // the builder's chains never change their set
  h.proposer = genesis_.Set().Proposer(h.height, 0);
  rec.block_hash = h.Hash();
  rec.commit.round = 0;
  for (const auto& key : keys_) {
    rec.commit.signatures.push_back(
        SignPrecommit(key, genesis_.chain_id, h.height, 0, rec.block_hash));
  }
  rec.txs = std::move(txs);

  // Commit the block.
  for (const auto& tx : rec.txs) {
    Bytes encoding = tx.Encode();
    log_index_[TxIdOf(encoding)] = log_encodings_.size();
    log_encodings_.push_back(std::move(encoding));
  }
  state_ = std::move(state);
  tree_ = std::move(tree);
  log_leaves_ = std::move(leaves);
  blocks_.push_back(rec);
  return rec;
}

ConsentProof ChainBuilder::BuildProof(const PublicKey& subject, const PublicKey& controller,
                                      std::string_view purpose,
                                      std::optional<uint64_t> at_ms) const {
  if (blocks_.empty()) Die("BuildProof needs at least one block");
  const BlockRecord& head = blocks_.back();
  ConsentProof p;
  p.version = 1;
  p.chain_id = genesis_.chain_id;
  p.subject = subject;
  p.controller = controller;
  p.purpose = std::string(purpose);
  p.header = head.header;
  p.commit = head.commit;
  const Hash32 key = StateKey(subject, controller, purpose);
  p.value = state_.GetConsent(subject, controller, purpose);
  p.state = tree_.Prove(key);
  if (!p.value.has_value()) {
    p.status = ProofStatus::kNone;
    return p;
  }
  const uint64_t at = at_ms.value_or(head.header.time_ms);
  if (p.value->status == ConsentStatus::kRevoked) {
    p.status = ProofStatus::kRevoked;
  } else {
    p.status = IsExpired(*p.value, at) ? ProofStatus::kExpired : ProofStatus::kGranted;
  }
  auto it = log_index_.find(p.value->tx_id);
  if (it == log_index_.end()) Die("state names a tx that is not in the log");
  ConsentProof::TxPart tx;
  tx.encoding = log_encodings_[it->second];
  tx.log_index = it->second;
  auto inclusion = merkle::InclusionProof(log_leaves_, it->second, head.header.log_size);
  if (!inclusion.ok()) Die(inclusion.status().ToString());
  tx.inclusion = std::move(inclusion).value();
  p.tx = std::move(tx);
  return p;
}

}  // namespace consent
