// Ed25519 (RFC 8032 PureEdDSA) through libsodium, whose verification rules are strict and fixed:
// it rejects non-canonical S (S >= L), non-canonical and small-order public keys and R values.
// Consensus depends on every node agreeing on validity, so there is exactly one verify function.
// All functions are thread-safe once InitCrypto() has run (it is idempotent and thread-safe; the
// other functions call it themselves).
#pragma once

#include "crypto/bytes.h"
#include "crypto/status.h"

namespace consent {

// Initialises libsodium. Aborts the process if it cannot (no usable randomness source).
void InitCrypto();

// A signing key: the 32-byte seed and the libsodium 64-byte secret (seed || public key).
// Movable, not copyable; the secret bytes are wiped on destruction.
class SigningKey {
 public:
  static SigningKey FromSeed(const Seed32& seed);
  static SigningKey Generate();  // from the OS's CSPRNG

  SigningKey(SigningKey&& other) noexcept;
  SigningKey& operator=(SigningKey&& other) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  const PublicKey& public_key() const { return public_key_; }
  const Seed32& seed() const { return seed_; }
  Signature Sign(ByteView message) const;

 private:
  SigningKey() = default;
  Seed32 seed_{};
  std::array<uint8_t, 64> secret_{};
  PublicKey public_key_{};
};

// True iff `sig` is a valid signature of `message` by `key` under libsodium's strict rules.
bool VerifySignature(const PublicKey& key, ByteView message, const Signature& sig);

// Fills `out` from the OS's CSPRNG.
void RandomBytes(uint8_t* out, size_t n);

// Constant-time equality for secrets (length is not secret).
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace consent
