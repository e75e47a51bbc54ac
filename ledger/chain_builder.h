// ChainBuilder: a small in-memory chain for tests and test vectors. It holds a genesis with its
// validators' signing keys, the consent state (MemoryState), a ReferenceSmt mirror of that state
// and the global log's leaves, and turns lists of signed transactions into real blocks (header
// with every root, commit signed by every validator) from which it builds real consent proofs.
// It uses the same maths as the node (state rules, SMT, RFC 9162 log) with no I/O, so proofs it
// makes are what a node would serve. Not for production: it keeps everything in memory.
// Thread-compatible (one thread at a time).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/consent_proof.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace consent {

class ChainBuilder {
 public:
  struct BlockRecord {
    Header header;
    Hash32 block_hash{};
    Commit commit;
    std::vector<SignedTx> txs;
  };

  // Fails (InvalidArgument) unless there is one key per validator, in genesis order
  // (keys[i].public_key() == genesis.validators[i].public_key), and the genesis has a valid chain
  // id and 1..kMaxValidators distinct validators.
  static Result<ChainBuilder> Create(Genesis genesis, std::vector<SigningKey> keys);

  // A chain of n validators (1..kMaxValidators) named "validator-<i>" whose seeds are
  // H("consent-ledger/test-validator/" || decimal i): the same keys in every run.
  // REQUIRES: a valid chain id and 1 <= n <= kMaxValidators (aborts otherwise).
  static ChainBuilder ForTesting(std::string chain_id, size_t n, uint64_t genesis_time_ms = 0);

  // Appends a block at `time_ms` holding `txs` in order. Each tx must be well-formed (it
  // re-decodes from its encoding), signed by its signer for this chain, and valid against the
  // state rules in block order (MemoryState::Apply). On any failure nothing changes and the
  // Status names the tx ("txs[2]: stale: ..."). time_ms must exceed the previous block's
  // time_ms (the genesis_time_ms for block 1). The commit is round 0, signed by every validator.
  Result<BlockRecord> AddBlock(uint64_t time_ms, std::vector<SignedTx> txs);

  // A consent proof for (subject, controller, purpose) at the latest block, with the status as
  // of `at_ms` (default: the latest block's time_ms). REQUIRES: at least one block (aborts
  // otherwise) and a purpose that is a valid label.
  ConsentProof BuildProof(const PublicKey& subject, const PublicKey& controller,
                          std::string_view purpose, std::optional<uint64_t> at_ms = {}) const;

  const Genesis& genesis() const { return genesis_; }
  const std::vector<SigningKey>& keys() const { return keys_; }
  const MemoryState& state() const { return state_; }
  const smt::ReferenceSmt& tree() const { return tree_; }
  const std::vector<BlockRecord>& blocks() const { return blocks_; }
  // Leaf hashes of the global log, in commit order (leaf i is the tx_id of log index i).
  const std::vector<Hash32>& log_leaf_hashes() const { return log_leaves_; }

 private:
  ChainBuilder(Genesis genesis, std::vector<SigningKey> keys)
      : genesis_(std::move(genesis)), keys_(std::move(keys)) {}

  Genesis genesis_;
  std::vector<SigningKey> keys_;
  MemoryState state_;
  smt::ReferenceSmt tree_;
  std::vector<Hash32> log_leaves_;
  std::vector<Bytes> log_encodings_;
  std::map<Hash32, uint64_t> log_index_;  // tx_id -> log index
  std::vector<BlockRecord> blocks_;
};

}  // namespace consent
