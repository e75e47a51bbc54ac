// The light verifier: everything a client that trusts only a genesis file (or an audit checkpoint)
// checks in a node's answers, apart from fetching them (like CometBFT's light client verifier).
// consentctl fetches and prints; this module decides. Its inputs are parsed JSON documents (read
// with the strict reader, ledger/json_strict.h: exact fields, exact hex lengths, errors naming the
// JSON path) or ledger types; it does no I/O.
//
// It follows validator set changes (PROTOCOL.md section 10): a header at height h is checked with
// the set that commits h, reached from the trust root (the genesis set from height 1, or a
// checkpoint's set from its height) through the change blocks below h (FollowChanges). The audit
// walk (ChainWalk) checks every header with the set in office, switches at each change block,
// and requires the node's list of changes (GET /v1/validators/changes) to be exactly the change
// blocks it meets.
//
// Another network is told apart from a forgery (CheckProofNetwork, CheckChainNetwork): input
// whose signed chain id or genesis hash is not the trusted genesis's, or whose first certified
// header from the start (a proof with no validator change: its header; a chain: block 1 or the
// checkpoint's block) is signed by none of the trusted set and names another set, is "not of this
// genesis" (a usage error for the caller, exit 2), not INVALID: it proves nothing about this
// chain either way.
//
// Pure functions and a single-owner walk object; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/block_pipeline.h"
#include "ledger/consent_proof.h"
#include "ledger/json_strict.h"
#include "ledger/queries.h"
#include "ledger/set_changes.h"

namespace consent::light {

// A checkpoint file is small and user-written: at most this many bytes.
inline constexpr size_t kMaxCheckpointBytes = 64 << 10;
// A node's JSON answer (at most 1,000 certified headers of up to 256 signatures): at most this.
inline constexpr size_t kMaxAnswerBytes = 32 << 20;
// Inclusion and consistency proofs: at most this many hashes (a log of 2^64 leaves needs 64;
// a consistency proof up to 2 * 64).
inline constexpr size_t kMaxProofHashes = 128;

// An audit checkpoint (PROTOCOL.md section 10): a certified height the verifier has seen, its
// block hash, and the set in office there (the set that commits `height`). JSON, exactly:
//   {"chain_id": "...", "height": n, "block_hash": "hex", "validators": ["hex", ...]}
struct Checkpoint {
  std::string chain_id;
  uint64_t height = 0;
  Hash32 block_hash{};
  ValidatorSet validators;
  bool operator==(const Checkpoint&) const = default;
};
// Strict: exactly those fields; height >= 1; 1..kMaxValidators distinct keys.
Result<Checkpoint> ParseCheckpoint(std::string_view text);
std::string CheckpointToJson(const Checkpoint& cp);

// Where verification starts: the genesis (set from height 1) or a checkpoint.
struct TrustRoot {
  std::string chain_id;
  Hash32 genesis_hash{};
  TrustedSet start;                        // {1, genesis set} or {checkpoint height, its set}
  std::optional<Hash32> start_block_hash;  // a checkpoint's block at start.from_height
  bool from_checkpoint() const { return start_block_hash.has_value(); }
  // "genesis 1a2b..." (full hash) or "checkpoint at height N".
  std::string Describe() const;
};
TrustRoot FromGenesis(const Genesis& genesis);
// The checkpoint must be of the genesis's chain.
Result<TrustRoot> FromCheckpoint(const Genesis& genesis, const Checkpoint& cp);

// ---- Reading node answers (strict) ----

// A certified header as the API serves it: {"header": {height, time_ms, encoding, block_hash},
// "fields": {...}, "commit": {...}}. The header comes from its encoding; every readable copy
// ("header" fields, each known member of the optional "fields") must agree with it.
Result<CertifiedHeader> ParseCertifiedHeader(const json::Json& v, std::string_view path);
// GET /v1/validators/changes: {"changes": [ValidatorChange JSON, ...]} in height order.
Result<std::vector<ValidatorChange>> ParseChangesAnswer(const json::Json& doc);

// ---- Headers ----

// The set that commits `height` (>= root.start.from_height): the root's set followed through
// the changes in [root height, height). Changes below the root's height are skipped; a change at
// the checkpoint's own height must be the checkpoint's block.
Result<ValidatorSet> SetForHeight(const TrustRoot& root,
                                  const std::vector<ValidatorChange>& changes, uint64_t height);

// A certified header checked against the root: its chain id, a height not below the root's (at
// the root's height: the checkpoint's block), validators_hash = the set that commits its height
// (SetForHeight), and a quorum of that set's precommits for its hash. Messages name the check.
Status VerifyHeader(const TrustRoot& root, const std::vector<ValidatorChange>& changes,
                    const CertifiedHeader& head);

// A committed transaction as GET /v1/txs/{id} serves it: its encoding hashes to `tx_id`, its
// "tx" is that encoding's JSON, its head verifies (VerifyHeader) and is not below its block, and
// its inclusion proof leads to the head's log root.
struct CommittedTx {
  SignedTx tx;
  uint64_t height = 0;
  uint64_t log_index = 0;
  Header head;
};
Result<CommittedTx> VerifyCommittedTx(const TrustRoot& root,
                                      const std::vector<ValidatorChange>& changes,
                                      const json::Json& answer, const Hash32& tx_id);

// One entry of GET /v1/subjects/{subject}/history against its page's verified head: the
// encoding is its tx_id, the tx is signed by `subject` for `chain_id`, and it is included at
// log_index under the head.
struct HistoryEntry {
  SignedTx tx;
  Hash32 tx_id{};
  uint64_t height = 0;
  uint64_t log_index = 0;
};
Result<HistoryEntry> VerifyHistoryEntry(std::string_view chain_id, const json::Json& entry,
                                        const PublicKey& subject, const Header& head);

// ---- The audit walk ----

// Walks a chain header by header from the root: each header must follow the one before it and be
// committed by the set in office (CheckCertifiedHeader); at each change block the set switches to
// the listed change's. `listed` is the node's list of changes; the walk meets exactly those at or
// above the root's height: a change block the list lacks, a listed change that is not the block
// at its height, or one never met (Finish) fails.
class ChainWalk {
 public:
  ChainWalk(const Genesis& genesis, TrustRoot root, std::vector<ValidatorChange> listed);
  // The next header (the first must be at the root's height, or 1 from genesis).
  Status Step(const CertifiedHeader& head);
  // After the last header: every listed change at or below the last height was met.
  Status Finish() const;
  const ChainTip& tip() const { return tip_; }
  const ValidatorSet& in_office() const { return set_; }  // the set that committed tip's head
  uint64_t changes_met() const { return met_; }
  // The checkpoint of the head walked so far. REQUIRES: at least one Step succeeded.
  Checkpoint ToCheckpoint() const;

 private:
  const Genesis& genesis_;
  TrustRoot root_;
  std::vector<ValidatorChange> listed_;
  size_t next_ = 0;  // first listed change not yet met
  ChainTip tip_;
  ValidatorSet set_;      // the set that commits tip_.head (or the root's height before any)
  ValidatorSet pending_;  // the set for the next height
  uint64_t met_ = 0;
};

// ---- Another network ----

// OK unless the proof is of another network than `genesis` (then kRejected, message "this proof
// is not of GENESIS (...)"): its header's (signed) chain id is not the genesis's, or it carries no
// validator change (at or above the root's height) and its header names a set other than the
// root's and carries no signature of any key of the root's set. Such a proof cannot be checked
// with this genesis at all; calling it INVALID would suggest a forgery of this chain. A proof
// that carries changes is judged by them (VerifyProof: INVALID naming the check). `genesis_name`
// is how messages name the genesis (its file).
Status CheckProofNetwork(const Genesis& genesis, const TrustRoot& root, const ConsentProof& proof,
                         std::string_view genesis_name);
// The same for a chain a node serves: `chain_id` and `genesis_hash` (if the node reports one)
// from its status, and its first header walked (nullptr if none): "this chain is not of ...".
Status CheckChainNetwork(const Genesis& genesis, const TrustRoot& root, std::string_view chain_id,
                         const std::optional<Hash32>& genesis_hash, const CertifiedHeader* first,
                         std::string_view genesis_name);

// VerifyConsentProof from the root: from a checkpoint, a header below its height is refused
// ("header: height N is below the checkpoint's height M"), and a header or change at its height
// must be its block.
Result<ProofVerdict> VerifyProof(const ConsentProof& proof, const Genesis& genesis,
                                 const TrustRoot& root, std::optional<uint64_t> at_ms);

}  // namespace consent::light
