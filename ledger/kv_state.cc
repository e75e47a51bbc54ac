// KvStateView: StateView over a KvRead in the schema.h layout. Each record read is decoded
// strictly and cross-checked against the key it was found under (a consent record must hash to
// its state key; a purposes entry must name the state key of its own subject, controller and
// purpose), so a damaged store is reported as Corruption rather than answered wrongly. Thread-
// compatible (see kv_state.h).
#include "ledger/kv_state.h"

#include "crypto/hex.h"
#include "ledger/schema.h"

namespace consent {

bool KvStateView::Note(const Status& st) const {
  if (!st.ok() && error_.ok()) error_ = st;
  return st.ok();
}

std::optional<StateValue> KvStateView::GetConsent(const Hash32& state_key) const {
  if (!error_.ok()) return std::nullopt;
  auto got = kv_.Get(Column::kConsents, state_key);
  if (!Note(got.status()) || !got->has_value()) return std::nullopt;
  auto rec = schema::DecodeConsentRecord(**got);
  if (!Note(rec.status())) return std::nullopt;
  if (StateKey(rec->subject, rec->controller, rec->purpose) != state_key) {
    Note(Status::Corruption("stored consent record under " + ToHex(state_key) +
                            " belongs to another state key"));
    return std::nullopt;
  }
  return rec->value;
}

std::vector<std::string> KvStateView::PurposesOf(const PublicKey& subject,
                                                 const PublicKey& controller) const {
  if (!error_.ok()) return {};
  Bytes prefix = schema::PairPrefix(subject, controller);
  std::vector<std::string> out;
  Status bad;
  Status st = kv_.Scan(Column::kPurposes, prefix, {}, [&](ByteView key, ByteView value) {
    std::string purpose(key.begin() + prefix.size(), key.end());
    Hash32 expected = StateKey(subject, controller, purpose);
    if (purpose.empty() || purpose.size() > kMaxLabelBytes || value.size() != expected.size() ||
        !std::equal(value.begin(), value.end(), expected.begin())) {
      bad = Status::Corruption("stored purposes record for " + ToHex(key) + " is corrupt");
      return false;
    }
    out.push_back(std::move(purpose));
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

}  // namespace consent
