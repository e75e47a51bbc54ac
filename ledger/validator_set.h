// A validator set (PROTOCOL.md sections 5, 6 and 10): the keys that commit a height, in proposer
// order, with the derived values every part of the ledger needs from it: validators_hash (also
// the set_hash of a SET_VALIDATORS transaction), the proposer of (height, round), the quorum, and
// the strict encoding list<key> under which a chosen set is stored. The genesis set keeps genesis
// order; a set chosen by SET_VALIDATORS is in ascending byte order (section 10).
//
// Pure and deterministic; thread-safe.
#pragma once
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace consent {

// The most validators a set may hold: genesis allows up to this many. A SET_VALIDATORS
// transaction names at most kMaxSetValidators (tx.h).
inline constexpr size_t kMaxValidators = 256;

struct ValidatorSet {
  std::vector<PublicKey> keys;  // proposer order; 1..kMaxValidators distinct keys

  bool operator==(const ValidatorSet&) const = default;
  size_t size() const { return keys.size(); }
  // H(list<key>) over keys in this order: validators_hash / set_hash.
  Hash32 Hash() const;
  // keys[(height + round) mod n]. REQUIRES: !keys.empty().
  const PublicKey& Proposer(uint64_t height, uint32_t round) const;
  // floor(2n/3) + 1
  size_t QuorumSize() const { return 2 * keys.size() / 3 + 1; }
  std::optional<size_t> IndexOf(const PublicKey& key) const;
  bool Contains(const PublicKey& key) const { return IndexOf(key).has_value(); }
  Bytes Encode() const;  // list<key>
};

// H(list<key>) of `keys` in the order given.
Hash32 SetHashOf(const std::vector<PublicKey>& keys);

// Strict decode of list<key>: 1..kMaxValidators distinct keys, no trailing bytes. `ascending`
// additionally requires strictly ascending byte order (a set chosen by SET_VALIDATORS).
Result<ValidatorSet> DecodeValidatorSet(ByteView bytes, bool ascending);

// The first 8 bytes of a key in hex: how messages name a validator.
std::string ShortKey(const PublicKey& key);

}  // namespace consent
