#include "crypto/keyed_hash.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace consent {
namespace {

const unsigned char* ProcessKey() {
  static const std::array<unsigned char, crypto_shorthash_KEYBYTES> key = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "fatal: libsodium failed to initialise\n");
      std::abort();
    }
    std::array<unsigned char, crypto_shorthash_KEYBYTES> k{};
    randombytes_buf(k.data(), k.size());
    return k;
  }();
  return key.data();
}

}  // namespace

size_t KeyedHash(ByteView data) {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, data.data(), data.size(), ProcessKey());
  uint64_t v;
  std::memcpy(&v, out, sizeof v);
  return static_cast<size_t>(v);
}

size_t PublicKeyPairHasher::operator()(const std::pair<PublicKey, PublicKey>& p) const noexcept {
  std::array<uint8_t, 64> both;
  std::copy(p.first.begin(), p.first.end(), both.begin());
  std::copy(p.second.begin(), p.second.end(), both.begin() + 32);
  return KeyedHash(ByteView(both));
}

}  // namespace consent
