// KvStateView: StateView over a KvRead in the schema.h layout. Each record read is decoded
// strictly and checked against the key it was found under (a consents key must be a controller,
// a subject and a 1..64-byte purpose; its value exactly one valid state_value), so a damaged
// store is reported as Corruption naming the column and key rather than answered wrongly.
// Thread-compatible (see kv_state.h).
#include "ledger/kv_state.h"

#include "ledger/schema.h"
#include "ledger/validator_history.h"

namespace consent {

bool KvStateView::Note(const Status& st) const {
  if (!st.ok() && error_.ok()) error_ = st;
  return st.ok();
}

std::optional<StateValue> KvStateView::GetConsent(const PublicKey& subject,
                                                  const PublicKey& controller,
                                                  std::string_view purpose) const {
  if (!error_.ok()) return std::nullopt;
  Bytes key = schema::ConsentKey(controller, subject, purpose);
  auto got = kv_.Get(Column::kConsents, key);
  if (!Note(got.status()) || !got->has_value()) return std::nullopt;
  auto value = schema::DecodeConsentValue(key, **got);
  if (!Note(value.status())) return std::nullopt;
  return *value;
}

std::vector<std::string> KvStateView::PurposesOf(const PublicKey& subject,
                                                 const PublicKey& controller) const {
  if (!error_.ok()) return {};
  Bytes prefix = schema::ConsentPrefix(controller, subject);
  std::vector<std::string> out;
  Status bad;
  Status st = kv_.Scan(Column::kConsents, prefix, {}, [&](ByteView key, ByteView value) {
    auto parts = schema::DecodeConsentKey(key);
    bad = parts.ok() ? schema::DecodeConsentValue(key, value).status() : parts.status();
    if (!bad.ok()) return false;
    out.push_back(std::move(parts->purpose));
    return true;
  });
  if (!Note(st) || !Note(bad)) return {};
  return out;
}

bool KvStateView::TxCommitted(const Hash32& tx_id) const {
  if (!error_.ok()) return false;
  auto got = kv_.Get(Column::kTxIndex, tx_id);
  if (!Note(got.status()) || !got->has_value()) return false;
  return Note(schema::DecodeTxLocation(**got).status());
}

std::optional<ControllerEntry> KvStateView::GetController(const PublicKey& controller) const {
  if (!error_.ok()) return std::nullopt;
  auto got = kv_.Get(Column::kDirectory, controller);
  if (!Note(got.status()) || !got->has_value()) return std::nullopt;
  auto entry = schema::DecodeControllerEntry(**got);
  if (!Note(entry.status())) return std::nullopt;
  return std::move(entry).value();
}

std::optional<ApprovalValue> KvStateView::GetApproval(const PublicKey& validator) const {
  if (!error_.ok()) return std::nullopt;
  auto got = ReadApproval(kv_, validator);
  if (!Note(got.status())) return std::nullopt;
  return *got;
}

}  // namespace consent
