// Tests for crypto/: hex, SHA-256, HMAC-SHA256, Ed25519 against RFC 8032 section 7.1 and the
// full Wycheproof Ed25519 set (tests/vectors/SOURCES.md says where each file comes from).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/ed25519.h"
#include "crypto/hex.h"
#include "crypto/sha256.h"

namespace consent {
namespace {

nlohmann::json LoadVectors(const std::string& name) {
  std::ifstream in(std::string(CONSENT_SOURCE_DIR) + "/tests/vectors/" + name);
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

Bytes Unhex(const std::string& s) { return FromHex(s).value(); }

TEST(Hex, RoundTripAndErrors) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "0001abff");
  EXPECT_EQ(FromHex("0001ABff").value(), b);
  EXPECT_FALSE(FromHex("abc").ok());
  EXPECT_NE(FromHex("zz").status().message().find("invalid hex digit at position 0"),
            std::string::npos);
  EXPECT_FALSE(FromHexFixed<2>("0001ab").ok());
  EXPECT_TRUE(FromHexFixed<2>("0001").ok());
  EXPECT_TRUE(FromHex("").value().empty());
}

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and the empty string.
  EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256(AsBytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256({AsBytes("a"), AsBytes(""), AsBytes("bc")}), Sha256(AsBytes("abc")));
  Sha256Hasher h;
  h.Update(AsBytes("ab")).Update(AsBytes("c"));
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("abc")));
  h.Update(AsBytes(""));  // reusable after Finish
  EXPECT_EQ(h.Finish(), Sha256(AsBytes("")));
}

TEST(HmacSha256, Rfc4231) {
  // RFC 4231 test cases 1 and 2.
  Bytes key1(20, 0x0b);
  EXPECT_EQ(ToHex(HmacSha256(key1, AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(ToHex(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Ed25519, Rfc8032Section7_1) {
  auto v = LoadVectors("rfc8032_ed25519.json");
  ASSERT_EQ(v["vectors"].size(), 5u);
  for (const auto& t : v["vectors"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    auto seed = FromHexFixed<32>(t["secret_key"].get<std::string>()).value();
    auto key = SigningKey::FromSeed(seed);
    EXPECT_EQ(ToHex(key.public_key()), t["public_key"].get<std::string>());
    Bytes msg = Unhex(t["message"].get<std::string>());
    Signature sig = key.Sign(msg);
    EXPECT_EQ(ToHex(sig), t["signature"].get<std::string>());
    EXPECT_TRUE(VerifySignature(key.public_key(), msg, sig));
    sig[0] ^= 1;
    EXPECT_FALSE(VerifySignature(key.public_key(), msg, sig));
  }
}

TEST(Ed25519, WycheproofEveryCase) {
  auto v = LoadVectors("wycheproof_ed25519_test.json");
  int valid = 0, invalid = 0;
  for (const auto& group : v["testGroups"]) {
    Bytes pk = Unhex(group["publicKey"]["pk"].get<std::string>());
    for (const auto& t : group["tests"]) {
      SCOPED_TRACE("tcId " + std::to_string(t["tcId"].get<int>()));
      Bytes msg = Unhex(t["msg"].get<std::string>());
      Bytes sig_bytes = Unhex(t["sig"].get<std::string>());
      bool expect_valid = t["result"].get<std::string>() == "valid";
      // Our API takes exactly 32-byte keys and 64-byte signatures: any other length is
      // rejected before verification (as the codec would).
      bool ok = false;
      if (pk.size() == 32 && sig_bytes.size() == 64) {
        PublicKey key;
        Signature sig;
        std::copy(pk.begin(), pk.end(), key.begin());
        std::copy(sig_bytes.begin(), sig_bytes.end(), sig.begin());
        ok = VerifySignature(key, msg, sig);
      }
      EXPECT_EQ(ok, expect_valid) << t["comment"].get<std::string>();
      (expect_valid ? valid : invalid)++;
    }
  }
  EXPECT_EQ(valid, 88);
  EXPECT_EQ(invalid, 63);
}

TEST(Ed25519, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abc")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abd")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("ab")));
  EXPECT_TRUE(ConstantTimeEqual(AsBytes(""), AsBytes("")));
}

TEST(Ed25519, GenerateIsRandomAndSigns) {
  auto a = SigningKey::Generate();
  auto b = SigningKey::Generate();
  EXPECT_NE(a.public_key(), b.public_key());
  Signature s = a.Sign(AsBytes("m"));
  EXPECT_TRUE(VerifySignature(a.public_key(), AsBytes("m"), s));
  EXPECT_FALSE(VerifySignature(b.public_key(), AsBytes("m"), s));
}

}  // namespace
}  // namespace consent
