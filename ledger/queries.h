// Read-only queries over a committed ledger store: what the node's API serves and what
// consentctl checks. Each function reads through a KvRead (pass a snapshot so that a query sees
// one height even while blocks commit) using the layout of ledger/schema.h, and answers at the
// store's latest height. Every answer that a client will verify carries its proof: the consent
// proof of PROTOCOL.md section 9, RFC 9162 inclusion and consistency proofs with the certified
// headers they are checked against.
//
// It also holds the one reader of each stored record that net/ and node/ need beyond those
// answers (block bodies: GetBlockBody; the global log in order: LogReader), so that they never
// decode schema:: records themselves.
//
// Limits: list queries are paged and capped (kMaxPageSize); header ranges are capped
// (kMaxHeaderRange). A record that fails to decode is a Corruption error.
// Pure (no I/O beyond the KvRead); thread-safe for concurrent calls on a thread-safe KvRead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/consent_proof.h"
#include "ledger/kv.h"
#include "ledger/schema.h"
#include "ledger/set_changes.h"
#include "ledger/tx.h"
#include "ledger/validator_history.h"

namespace consent {

inline constexpr size_t kMaxPageSize = 1000;
inline constexpr uint64_t kMaxHeaderRange = 1000;

// The latest committed block: its height, header and commit. NotFound before block 1.
struct CertifiedHeader {
  Header header;
  Hash32 block_hash{};
  Commit commit;
};
Result<std::optional<uint64_t>> HeadHeight(const KvRead& kv);
Result<CertifiedHeader> GetCertifiedHeader(const KvRead& kv, uint64_t height);
Result<CertifiedHeader> GetHead(const KvRead& kv);

// The section 9 proof for (subject, controller, purpose) at the latest height. `status` is
// computed at `at_ms`, which must not be before the head's time_ms (the head's state may not
// have held earlier: InvalidArgument); without it, at the later of `now_ms` and the head's
// time_ms (a node passes its clock, so that an entry that expired since the last block reads
// expired). NotFound if the ledger has no block yet; Corruption if the consents record does not
// decode or disagrees with the state tree's leaf.
Result<ConsentProof> ProveConsent(const KvRead& kv, const Genesis& genesis,
                                  const PublicKey& subject, const PublicKey& controller,
                                  std::string_view purpose,
                                  std::optional<uint64_t> at_ms = std::nullopt,
                                  uint64_t now_ms = 0);

// A committed transaction, where it is, and its inclusion proof against the head's log.
struct TxInfo {
  SignedTx tx;
  Hash32 tx_id{};
  schema::TxLocation location;
  std::vector<Hash32> inclusion;  // against head.header.log_root / log_size
  CertifiedHeader head;
};
Result<TxInfo> GetTx(const KvRead& kv, const Hash32& tx_id);  // NotFound if never committed

// A subject's grants and revocations in log order, from log index `from` (inclusive), at most
// `limit` (<= kMaxPageSize); `next` is the log index to continue from, if more remain.
struct HistoryPage {
  std::vector<TxInfo> entries;  // each with its inclusion proof against the same head
  std::optional<uint64_t> next;
};
Result<HistoryPage> SubjectHistory(const KvRead& kv, const PublicKey& subject, uint64_t from,
                                   size_t limit);

// A controller's consent entries, ordered by (subject, purpose), paged by an opaque cursor
// (hex of the last entry's key; empty = from the start).
struct ControllerConsent {
  PublicKey subject{};
  std::string purpose;
  Hash32 state_key{};
  StateValue value;
};
struct ControllerPage {
  std::vector<ControllerConsent> entries;
  std::string next_cursor;  // empty when no more
};
Result<ControllerPage> ControllerConsents(const KvRead& kv, const PublicKey& controller,
                                          std::string_view cursor, size_t limit);

// The controller directory, ordered by controller key, paged like ControllerConsents.
struct DirectoryEntry {
  PublicKey controller{};
  ControllerEntry entry;
};
struct DirectoryPage {
  std::vector<DirectoryEntry> entries;
  std::string next_cursor;
};
Result<DirectoryPage> Directory(const KvRead& kv, std::string_view cursor, size_t limit);

// Every validator set change below `below_height` (all of them with UINT64_MAX), in height order:
// the certified change block and the set it names (PROTOCOL.md section 10), as a consent proof's
// validator_changes and GET /v1/validators/changes carry them. Corruption if a recorded change has
// no certified header, or the header does not name the recorded set.
Result<std::vector<ValidatorChange>> GetValidatorChanges(const KvRead& kv, uint64_t below_height);

// The validator set in office (the set that commits the next height), since when, and the
// approvals pending (section 10), each with the set it names and how many members of the set in
// office approve that set.
struct PendingApproval {
  PublicKey validator{};
  ApprovalValue value;
  bool in_office = false;       // approvals of non-members never count
  size_t approvals_of_set = 0;  // members in office whose approval names value.set_hash
};
struct ValidatorsInOffice {
  ValidatorSet validators;
  uint64_t since_height = 1;  // the first height it commits
  size_t quorum = 0;
  std::vector<PendingApproval> pending;
};
Result<ValidatorsInOffice> GetValidatorsInOffice(const KvRead& kv, const Genesis& genesis);

// Certified headers [from, to] (inclusive; at most kMaxHeaderRange; to <= head).
Result<std::vector<CertifiedHeader>> Headers(const KvRead& kv, uint64_t from, uint64_t to);

// RFC 9162 consistency proof between the log sizes of two committed heights, with both
// certified headers so that a client can check the roots are the validators'.
struct ConsistencyInfo {
  CertifiedHeader first;
  CertifiedHeader second;
  std::vector<Hash32> proof;
};
Result<ConsistencyInfo> ConsistencyBetweenHeights(const KvRead& kv, uint64_t from_height,
                                                  uint64_t to_height);

// The transactions of the committed block at `height`, in block order, and the size of their
// stored encoding (for callers that budget bytes). REQUIRES: a block is committed at `height`
// (check the header first, e.g. GetCertifiedHeader): a missing body is Corruption, as is one that
// does not decode.
struct BlockBody {
  std::vector<SignedTx> txs;
  size_t encoded_bytes = 0;
};
Result<BlockBody> GetBlockBody(const KvRead& kv, uint64_t height);

// Reads the committed global log from a store snapshot, in log order, for a stream's catch-up:
// the leaf at log index i (LogTree::LeafHashAt) is the tx id; its tx index entry gives the block
// height and position; then the block bodies are read in height order. The last block decoded is
// kept, so reading a long block in batches decodes it once.
// Thread-compatible (one reader per stream session).
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
