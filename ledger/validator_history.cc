// Readers of the validators column (see validator_history.h). Pure; thread-safe as the KvRead.
#include "ledger/validator_history.h"

#include "crypto/hex.h"
#include "ledger/schema.h"

namespace consent {
namespace {

Status Corrupt(ByteView key, const std::string& what) {
  return Status::Corruption("validators column, key " + ToHex(key) + ": " + what);
}

}  // namespace

Result<std::vector<SetChange>> ReadSetChanges(const KvRead& kv) {
  std::vector<SetChange> out;
  Status bad;
  const Bytes prefix{schema::kValidatorSetPrefix};
  Status st = kv.Scan(Column::kValidators, prefix, prefix, [&](ByteView key, ByteView value) {
    if (key.size() != 9) {
      bad = Corrupt(key, "a set record's key is not 's' || u64");
      return false;
    }
    Result<uint64_t> h = schema::DecodeU64(key.subspan(1), "validators.from_height");
    if (!h.ok() || *h < 2 || (!out.empty() && *h <= out.back().from_height)) {
      bad = Corrupt(key, "from_height is not above 1 and increasing");
      return false;
    }
    Result<ValidatorSet> set = DecodeValidatorSet(value, /*ascending=*/true);
    if (!set.ok()) {
      bad = Corrupt(key, set.status().message());
      return false;
    }
    out.push_back({*h, std::move(*set)});
    return true;
  });
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(bad);
  return out;
}

Result<ValidatorSet> SetForHeight(const KvRead& kv, const Genesis& genesis, uint64_t height) {
  ASSIGN_OR_RETURN(std::vector<SetChange> changes, ReadSetChanges(kv));
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    if (it->from_height <= height) return std::move(it->set);
  }
  return genesis.Set();
}

Result<std::optional<ApprovalValue>> ReadApproval(const KvRead& kv, const PublicKey& validator) {
  const Bytes key = schema::ApprovalRecordKey(validator);
  ASSIGN_OR_RETURN(std::optional<Bytes> got, kv.Get(Column::kValidators, key));
  if (!got) return std::optional<ApprovalValue>();
  Result<ApprovalValue> v = ApprovalValue::Decode(*got);
  if (!v.ok()) return Corrupt(key, v.status().message());
  return std::optional<ApprovalValue>(*v);
}

Result<std::vector<std::pair<PublicKey, ApprovalValue>>> ReadApprovals(const KvRead& kv) {
  std::vector<std::pair<PublicKey, ApprovalValue>> out;
  Status bad;
  const Bytes prefix{schema::kApprovalPrefix};
  Status st = kv.Scan(Column::kValidators, prefix, prefix, [&](ByteView key, ByteView value) {
    Result<ApprovalValue> v = ApprovalValue::Decode(value);
    if (key.size() != 33 || !v.ok()) {
      bad = Corrupt(key,
                    key.size() != 33 ? "an approval key is not 'a' || key" : v.status().message());
      return false;
    }
    PublicKey who{};
    std::copy(key.begin() + 1, key.end(), who.begin());
    out.emplace_back(who, *v);
    return true;
  });
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(bad);
  return out;
}

}  // namespace consent
