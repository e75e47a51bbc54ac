// libsodium wrappers. Thread-safe after InitCrypto().
#include "crypto/ed25519.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace consent {

static_assert(crypto_sign_PUBLICKEYBYTES == 32);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == 32);
static_assert(crypto_sign_BYTES == 64);

void InitCrypto() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "fatal: libsodium failed to initialise\n");
      std::abort();
    }
  });
}

SigningKey SigningKey::FromSeed(const Seed32& seed) {
  InitCrypto();
  SigningKey k;
  k.seed_ = seed;
  if (crypto_sign_seed_keypair(k.public_key_.data(), k.secret_.data(), seed.data()) != 0) {
    std::abort();  // cannot fail for a 32-byte seed
  }
  return k;
}

SigningKey SigningKey::Generate() {
  Seed32 seed;
  RandomBytes(seed.data(), seed.size());
  SigningKey k = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return k;
}

SigningKey::SigningKey(SigningKey&& other) noexcept
    : seed_(other.seed_), secret_(other.secret_), public_key_(other.public_key_) {
  sodium_memzero(other.seed_.data(), other.seed_.size());
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
  if (this != &other) {
    seed_ = other.seed_;
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    sodium_memzero(other.seed_.data(), other.seed_.size());
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

SigningKey::~SigningKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(secret_.data(), secret_.size());
}

Signature SigningKey::Sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

bool VerifySignature(const PublicKey& key, ByteView message, const Signature& sig) {
  InitCrypto();
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

void RandomBytes(uint8_t* out, size_t n) {
  InitCrypto();
  randombytes_buf(out, n);
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace consent
