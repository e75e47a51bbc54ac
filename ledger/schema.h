// The on-disk layout of a ledger store: the key and value of every record in every Column, with
// their encoders and strict decoders. The block pipeline writes these records and the queries
// read them; both go through this file only. A record that fails to decode is a Corruption error
// naming the column, so a damaged store stops the node loudly instead of serving wrong data.
//
// Grammar (all integers big-endian; `str` and `list` as in PROTOCOL.md section 1):
//   meta      "format"            -> u32 kStoreFormat
//             "genesis"           -> hash H(canonical genesis JSON)
//             "head"              -> u64 height (absent before block 1)
//   headers   u64 height          -> header encoding (PROTOCOL.md section 5)
//   blocks    u64 height          -> list<bytes> signed tx encodings, in block order
//   commits   u64 height          -> u32 round || list<key || sig>
//   tx_index  tx_id               -> u64 height || u32 position || u64 log_index
//                                    || bytes encoding (since format 3)
//   log_nodes                     -> see ledger/log_tree.h
//   state_nodes                   -> see ledger/state_tree.h (16-ary pages since format 2)
//   consents  controller || subject || purpose bytes -> state_value (81 bytes)
//             (the purpose runs to the end of the key, 1..64 bytes; its state key is
//             StateKey(subject, controller, purpose); a controller's entries are a prefix scan
//             ordered by (subject, purpose), a pair's purposes a scan of controller || subject)
//   subject_index  subject || u64 log_index -> tx_id
//   directory controller          -> str name || str contact_uri || u64 issued_at_ms || hash tx_id
//   validators "s" || u64 from_height -> list<key>: the set that commits heights from from_height
//             on (written by the change block at from_height - 1; the genesis set is not stored)
//             "a" || validator    -> approval_value (PROTOCOL.md section 10; removed when a
//             change is decided)
// Pure; thread-safe.
#pragma once

#include <string>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/state.h"
#include "ledger/tx.h"

namespace consent::schema {

// 1: one state_nodes record per binary node; 2: 16-ary state_nodes pages; 3: tx encodings in
// tx_index; 4: log tiles (16 nodes of levels 0, 4, 8, ... per log_nodes record) and one consents
// record per entry keyed controller || subject || purpose (no purposes, controller_index). A store
// of another format is refused on open (ChainStore::Open says which format it has and which this
// reads); 5: version 2 headers (next_validators_hash) and the validators column.
inline constexpr uint32_t kStoreFormat = 5;

extern const char kMetaFormat[];   // "format"
extern const char kMetaGenesis[];  // "genesis"
extern const char kMetaHead[];     // "head"

Bytes U64Key(uint64_t v);  // 8 bytes big-endian: heights
Result<uint64_t> DecodeU64(ByteView b, const char* what);

Bytes EncodeBlockBody(const std::vector<SignedTx>& txs);
// The same bytes from the transactions' encodings (SignedTx::Encode()), for a caller that has them.
Bytes EncodeBlockBodyFromEncodings(const std::vector<Bytes>& encodings);
Result<std::vector<SignedTx>> DecodeBlockBody(ByteView b);

Bytes EncodeCommit(const Commit& c);
Result<Commit> DecodeCommit(ByteView b);

struct TxLocation {
  uint64_t height = 0;
  uint32_t position = 0;
  uint64_t log_index = 0;
  bool operator==(const TxLocation&) const = default;
};
// The tx_index record: where a transaction is, and its signed encoding (so that a proof or a
// lookup reads one small record, not its whole block).
struct TxRecord {
  TxLocation location;
  Bytes encoding;
};
Bytes EncodeTxRecord(const TxLocation& l, ByteView encoding);
Result<TxRecord> DecodeTxRecord(ByteView b);
Result<TxLocation> DecodeTxLocation(ByteView b);  // the location part of a whole, valid record

// The consents record of (subject, controller, purpose). Its value is StateValue::Encode().
Bytes ConsentKey(const PublicKey& controller, const PublicKey& subject, std::string_view purpose);
Bytes ConsentPrefix(const PublicKey& controller);                            // 32 bytes
Bytes ConsentPrefix(const PublicKey& controller, const PublicKey& subject);  // 64 bytes
// The parts of a consents key found by a scan. Corruption (naming the column and the key) unless
// the key is 32 + 32 + 1..kMaxLabelBytes bytes.
struct ConsentKeyParts {
  PublicKey controller{};
  PublicKey subject{};
  std::string purpose;
};
Result<ConsentKeyParts> DecodeConsentKey(ByteView key);
// The value of the consents record under `key`: Corruption (naming the column and the key) unless
// it is a valid state_value of exactly 81 bytes.
Result<StateValue> DecodeConsentValue(ByteView key, ByteView value);

Bytes SubjectIndexKey(const PublicKey& subject, uint64_t log_index);

Bytes EncodeControllerEntry(const ControllerEntry& e);
Result<ControllerEntry> DecodeControllerEntry(ByteView b);

// The validators column's keys.
Bytes ValidatorSetKey(uint64_t from_height);          // "s" || u64
Bytes ApprovalRecordKey(const PublicKey& validator);  // "a" || validator
inline constexpr uint8_t kValidatorSetPrefix = 's';
inline constexpr uint8_t kApprovalPrefix = 'a';

// H(genesis.ToJson()): a store belongs to one chain.
Hash32 GenesisHash(const Genesis& g);

}  // namespace consent::schema
