// Tests for ledger/subject_key (PROTOCOL.md section 7): derivation is deterministic, differs per
// controller and per master secret, and matches HMAC-SHA256 computed by hand and a known answer
// computed outside this code base (Python's hmac module and the OpenSSL CLI).
#include "ledger/subject_key.h"

#include <gtest/gtest.h>

#include "crypto/hex.h"
#include "crypto/sha256.h"

namespace consent {
namespace {

Seed32 Master() {
  Seed32 m;
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<uint8_t>(i);
  return m;
}

PublicKey Controller(uint8_t base) {
  PublicKey c;
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<uint8_t>(base + i % 16);
  return c;
}

TEST(SubjectKey, KnownAnswer) {
  // python3: hmac.new(bytes(range(32)), b"consent-ledger/subject/v1" + bytes([0xc0 + i % 16 for i
  // in range(32)]), sha256); public key from `openssl pkey` on the PKCS#8-wrapped seed.
  EXPECT_EQ(ToHex(DeriveSubjectSeed(Master(), Controller(0xc0))),
            "f39523c6fb379ac1e829450a4730cce3a1e06ea26b9521e94cc399afc9a0f6dc");
  EXPECT_EQ(ToHex(DeriveSubjectKey(Master(), Controller(0xc0)).public_key()),
            "1fbbd62180672ccfc6628e01ab3f0056659594d65119e228d288c9cca56bb48f");
}

TEST(SubjectKey, MatchesHandComputedHmac) {
  PublicKey c = Controller(0x10);
  Bytes data;
  std::string tag = "consent-ledger/subject/v1";
  data.insert(data.end(), tag.begin(), tag.end());
  data.insert(data.end(), c.begin(), c.end());
  Seed32 m = Master();
  Hash32 want = HmacSha256(ByteView(m.data(), m.size()), data);
  EXPECT_EQ(DeriveSubjectSeed(m, c), want);
  SigningKey key = DeriveSubjectKey(m, c);
  EXPECT_EQ(key.seed(), want);
  EXPECT_EQ(key.public_key(), SigningKey::FromSeed(want).public_key());
}

TEST(SubjectKey, DeterministicAndUnlinkable) {
  Seed32 m = Master();
  EXPECT_EQ(DeriveSubjectSeed(m, Controller(1)), DeriveSubjectSeed(m, Controller(1)));
  EXPECT_EQ(DeriveSubjectKey(m, Controller(1)).public_key(),
            DeriveSubjectKey(m, Controller(1)).public_key());
  EXPECT_NE(DeriveSubjectKey(m, Controller(1)).public_key(),
            DeriveSubjectKey(m, Controller(2)).public_key());
  Seed32 other = m;
  other[31] ^= 1;
  EXPECT_NE(DeriveSubjectSeed(other, Controller(1)), DeriveSubjectSeed(m, Controller(1)));
  // The seed is not the master secret nor the plain hash of anything public.
  EXPECT_NE(DeriveSubjectSeed(m, Controller(1)), m);
  // A derived key signs and verifies.
  SigningKey k = DeriveSubjectKey(m, Controller(3));
  EXPECT_TRUE(VerifySignature(k.public_key(), AsBytes("msg"), k.Sign(AsBytes("msg"))));
}

}  // namespace
}  // namespace consent
