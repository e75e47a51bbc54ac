// Store record encoders and strict decoders, built on ledger/codec.
#include "ledger/schema.h"

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"

namespace consent::schema {

const char kMetaFormat[] = "format";
const char kMetaGenesis[] = "genesis";
const char kMetaHead[] = "head";

namespace {
Status Corrupt(const char* what, const Status& st) {
  return Status::Corruption(std::string("stored ") + what + " record is corrupt: " + st.message());
}
}  // namespace

Bytes U64Key(uint64_t v) { return Writer().U64(v).bytes(); }

Result<uint64_t> DecodeU64(ByteView b, const char* what) {
  Reader r(b);
  uint64_t v = 0;
  Status st = r.U64(&v, what);
  if (st.ok()) st = r.ExpectEnd(what);
  if (!st.ok()) return Corrupt(what, st);
  return v;
}

Bytes EncodeBlockBody(const std::vector<SignedTx>& txs) {
  std::vector<Bytes> encodings;
  encodings.reserve(txs.size());
  for (const auto& t : txs) encodings.push_back(t.Encode());
  return EncodeBlockBodyFromEncodings(encodings);
}

Bytes EncodeBlockBodyFromEncodings(const std::vector<Bytes>& encodings) {
  size_t size = 4;
  for (const Bytes& e : encodings) size += 4 + e.size();
  Writer w(size);
  w.U32(static_cast<uint32_t>(encodings.size()));
  for (const Bytes& e : encodings) w.Bytes(e);
  return std::move(w).Take();
}

Result<std::vector<SignedTx>> DecodeBlockBody(ByteView b) {
  Reader r(b);
  uint32_t n = 0;
  Status st = r.Count(&n, 1u << 20, 4, "block body");
  if (!st.ok()) return Corrupt("block body", st);
  std::vector<SignedTx> txs;
  txs.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Bytes enc;
    st = r.Bytes(&enc, kMaxTxBytes, "block tx");
    if (!st.ok()) return Corrupt("block body", st);
    auto tx = DecodeSignedTx(enc);
    if (!tx.ok()) return Corrupt("block body", tx.status());
    txs.push_back(std::move(tx).value());
  }
  st = r.ExpectEnd("block body");
  if (!st.ok()) return Corrupt("block body", st);
  return txs;
}

Bytes EncodeCommit(const Commit& c) {
  Writer w;
  w.U32(c.round).U32(static_cast<uint32_t>(c.signatures.size()));
  for (const auto& s : c.signatures) w.Fixed(s.validator).Fixed(s.signature);
  return std::move(w).Take();
}

Result<Commit> DecodeCommit(ByteView b) {
  Reader r(b);
  Commit c;
  uint32_t n = 0;
  Status st = r.U32(&c.round, "round");
  if (st.ok()) st = r.Count(&n, kMaxValidators, 96, "signatures");
  for (uint32_t i = 0; st.ok() && i < n; ++i) {
    CommitSig s;
    st = r.Fixed(&s.validator, "validator");
    if (st.ok()) st = r.Fixed(&s.signature, "signature");
    c.signatures.push_back(s);
  }
  if (st.ok()) st = r.ExpectEnd("commit");
  if (!st.ok()) return Corrupt("commit", st);
  return c;
}

Bytes EncodeTxRecord(const TxLocation& l, ByteView encoding) {
  Writer w;
  w.U64(l.height).U32(l.position).U64(l.log_index).Bytes(encoding);
  return std::move(w).Take();
}

Result<TxRecord> DecodeTxRecord(ByteView b) {
  Reader r(b);
  TxRecord rec;
  Status st = r.U64(&rec.location.height, "height");
  if (st.ok()) st = r.U32(&rec.location.position, "position");
  if (st.ok()) st = r.U64(&rec.location.log_index, "log_index");
  if (st.ok()) st = r.Bytes(&rec.encoding, kMaxTxBytes, "encoding");
  if (st.ok()) st = r.ExpectEnd("tx record");
  if (!st.ok()) return Corrupt("tx index", st);
  return rec;
}

Result<TxLocation> DecodeTxLocation(ByteView b) {
  ASSIGN_OR_RETURN(TxRecord rec, DecodeTxRecord(b));
  return rec.location;
}

Bytes ConsentKey(const PublicKey& controller, const PublicKey& subject, std::string_view purpose) {
  return Writer(64 + purpose.size()).Fixed(controller).Fixed(subject).Tag(purpose).bytes();
}

Bytes ConsentPrefix(const PublicKey& controller) { return Writer(32).Fixed(controller).bytes(); }

Bytes ConsentPrefix(const PublicKey& controller, const PublicKey& subject) {
  return Writer(64).Fixed(controller).Fixed(subject).bytes();
}

Result<ConsentKeyParts> DecodeConsentKey(ByteView key) {
  if (key.size() <= 64 || key.size() > 64 + kMaxLabelBytes) {
    return Status::Corruption("stored consents record " + ToHex(key) + " is corrupt: its key is " +
                              std::to_string(key.size()) + " bytes, not 64 + 1.." +
                              std::to_string(kMaxLabelBytes));
  }
  ConsentKeyParts parts;
  std::copy(key.begin(), key.begin() + 32, parts.controller.begin());
  std::copy(key.begin() + 32, key.begin() + 64, parts.subject.begin());
  parts.purpose.assign(key.begin() + 64, key.end());
  return parts;
}

Result<StateValue> DecodeConsentValue(ByteView key, ByteView value) {
  auto v = StateValue::Decode(value);
  if (!v.ok()) {
    return Status::Corruption("stored consents record " + ToHex(key) +
                              " is corrupt: " + v.status().message());
  }
  return std::move(v).value();
}

Bytes SubjectIndexKey(const PublicKey& subject, uint64_t log_index) {
  return Writer().Fixed(subject).U64(log_index).bytes();
}

Bytes EncodeControllerEntry(const ControllerEntry& e) {
  Writer w;
  w.Str(e.name).Str(e.contact_uri).U64(e.issued_at_ms).Fixed(e.tx_id);
  return std::move(w).Take();
}

Result<ControllerEntry> DecodeControllerEntry(ByteView b) {
  Reader r(b);
  ControllerEntry e;
  Status st = r.Str(&e.name, kMaxNameBytes, "name");
  if (st.ok()) st = r.Str(&e.contact_uri, kMaxContactUriBytes, "contact_uri");
  if (st.ok()) st = r.U64(&e.issued_at_ms, "issued_at_ms");
  if (st.ok()) st = r.Fixed(&e.tx_id, "tx_id");
  if (st.ok()) st = r.ExpectEnd("directory entry");
  if (!st.ok()) return Corrupt("directory", st);
  return e;
}

Hash32 GenesisHash(const Genesis& g) { return Sha256(AsBytes(g.ToJson())); }

Bytes ValidatorSetKey(uint64_t from_height) {
  Writer w(1 + 8);
  w.U8(kValidatorSetPrefix).U64(from_height);
  return std::move(w).Take();
}

Bytes ApprovalRecordKey(const PublicKey& validator) {
  Writer w(1 + 32);
  w.U8(kApprovalPrefix).Fixed(validator);
  return std::move(w).Take();
}

}  // namespace consent::schema
