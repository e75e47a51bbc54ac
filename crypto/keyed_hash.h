// Hashing for unordered containers keyed by bytes that others choose freely (public keys):
// SipHash-2-4 (libsodium's crypto_shorthash) under a key drawn at random once per process, so
// nobody can aim many keys at one bucket without knowing the key. Slower than Hash32Hasher
// (crypto/bytes.h) but safe for any key. Thread-safe. Not stable across processes: never store
// or send these values.
#pragma once

#include <cstddef>
#include <utility>

#include "crypto/bytes.h"

namespace consent {

size_t KeyedHash(ByteView data);

struct PublicKeyHasher {
  size_t operator()(const PublicKey& k) const noexcept { return KeyedHash(ByteView(k)); }
};

// For (PublicKey, PublicKey) pairs, hashed as their 64 bytes concatenated.
struct PublicKeyPairHasher {
  size_t operator()(const std::pair<PublicKey, PublicKey>& p) const noexcept;
};

}  // namespace consent
