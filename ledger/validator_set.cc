// ValidatorSet: hashing, proposer order, quorum and the strict list<key> codec (see the header).
// Pure and deterministic; thread-safe.
#include "ledger/validator_set.h"

#include <algorithm>
#include <set>
#include <string>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"

namespace consent {

Hash32 SetHashOf(const std::vector<PublicKey>& keys) {
  Writer w(4 + 32 * keys.size());
  w.U32(static_cast<uint32_t>(keys.size()));
  for (const PublicKey& k : keys) w.Fixed(k);
  return Sha256(w.bytes());
}

Hash32 ValidatorSet::Hash() const { return SetHashOf(keys); }

const PublicKey& ValidatorSet::Proposer(uint64_t height, uint32_t round) const {
  // (height + round) mod n, computed without overflowing u64.
  const uint64_t n = keys.size();
  return keys[(height % n + round % n) % n];
}

std::optional<size_t> ValidatorSet::IndexOf(const PublicKey& key) const {
  auto it = std::find(keys.begin(), keys.end(), key);
  if (it == keys.end()) return std::nullopt;
  return static_cast<size_t>(it - keys.begin());
}

Bytes ValidatorSet::Encode() const {
  Writer w(4 + 32 * keys.size());
  w.U32(static_cast<uint32_t>(keys.size()));
  for (const PublicKey& k : keys) w.Fixed(k);
  return std::move(w).Take();
}

Result<ValidatorSet> DecodeValidatorSet(ByteView bytes, bool ascending) {
  Reader r(bytes);
  uint32_t n = 0;
  RETURN_IF_ERROR(r.U32(&n, "validators.count"));
  if (n == 0 || n > kMaxValidators) {
    return Status::Invalid("validators: " + std::to_string(n) + " keys is not in 1.." +
                           std::to_string(kMaxValidators));
  }
  ValidatorSet set;
  set.keys.resize(n);
  std::set<PublicKey> seen;
  for (uint32_t i = 0; i < n; ++i) {
    const std::string field = "validators[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(r.Fixed(&set.keys[i], field.c_str()));
    if (ascending && i > 0 && !(set.keys[i - 1] < set.keys[i])) {
      return Status::Invalid(field + ": keys are not in strictly ascending byte order");
    }
    if (!seen.insert(set.keys[i]).second) {
      return Status::Invalid(field + ": duplicate key " + ToHex(set.keys[i]));
    }
  }
  RETURN_IF_ERROR(r.ExpectEnd("validators"));
  return set;
}

std::string ShortKey(const PublicKey& key) { return ToHex(ByteView(key.data(), 8)); }

}  // namespace consent
