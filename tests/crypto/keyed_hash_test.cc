// KeyedHash: SipHash-2-4 under a per-process random key (crypto/keyed_hash.h).
#include "crypto/keyed_hash.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <unordered_set>

namespace consent {
namespace {

PublicKey Key(uint8_t fill) {
  PublicKey k{};
  k.fill(fill);
  return k;
}

TEST(KeyedHash, StableWithinAProcessAndSpreadsKeysThatShareAPrefix) {
  EXPECT_EQ(KeyedHash(ByteView(Key(1))), KeyedHash(ByteView(Key(1))));
  // Keys equal in their first 8 bytes (what Hash32Hasher looks at) still hash apart.
  std::unordered_set<size_t> seen;
  for (int i = 0; i < 1000; ++i) {
    PublicKey k{};
    k[31] = static_cast<uint8_t>(i);
    k[30] = static_cast<uint8_t>(i >> 8);
    seen.insert(PublicKeyHasher{}(k));
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(KeyedHash, IsSipHashUnderAKeyThatIsNotZero) {
  // The hash is libsodium's crypto_shorthash under some key; not under the all-zero key (so the
  // key was drawn, not left at its initial value).
  const PublicKey k = Key(7);
  unsigned char zero_key[crypto_shorthash_KEYBYTES] = {};
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, k.data(), k.size(), zero_key);
  uint64_t under_zero;
  std::memcpy(&under_zero, out, sizeof under_zero);
  EXPECT_NE(KeyedHash(ByteView(k)), static_cast<size_t>(under_zero));
}

TEST(KeyedHash, PairHashIsTheHashOfBothKeysInOrder) {
  const PublicKey a = Key(1), b = Key(2);
  std::array<uint8_t, 64> ab{};
  std::copy(a.begin(), a.end(), ab.begin());
  std::copy(b.begin(), b.end(), ab.begin() + 32);
  EXPECT_EQ(PublicKeyPairHasher{}({a, b}), KeyedHash(ByteView(ab)));
  EXPECT_NE(PublicKeyPairHasher{}({a, b}), PublicKeyPairHasher{}({b, a}));
}

}  // namespace
}  // namespace consent
