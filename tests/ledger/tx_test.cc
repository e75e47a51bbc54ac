// Tests for ledger/tx: the byte layout of each kind, round trips, every syntax rule broken one at a
// time (in memory and through the decoder), strict decoding (truncation, trailing bytes, size
// cap, unknown kind and version), signatures and tx_id.
#include <gtest/gtest.h>

#include <functional>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/tx.h"
#include "tx_test_util.h"

namespace consent {
namespace {

using testing::FailsWith;
using testing::kChain;
using testing::KeyFor;
using testing::MustSign;
using testing::SampleGrant;
using testing::SampleRegister;
using testing::SampleRevoke;

// Big-endian helpers that do not use ledger/codec, so the layout is checked independently.
void Be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
void Be64(Bytes& b, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
void Str(Bytes& b, std::string_view s) {
  Be32(b, static_cast<uint32_t>(s.size()));
  Append(b, AsBytes(s));
}

class TxTest : public ::testing::Test {
 protected:
  SigningKey subject_ = KeyFor(1);
  SigningKey controller_ = KeyFor(2);
  SigningKey other_ = KeyFor(3);

  std::vector<SignedTx> AllKinds() {
    return {MustSign(SampleGrant(subject_.public_key(), controller_.public_key()), subject_),
            MustSign(SampleRevoke(subject_.public_key(), controller_.public_key()), subject_),
            MustSign(SampleRegister(controller_.public_key()), controller_)};
  }
};

TEST_F(TxTest, GrantByteLayout) {
  GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
  Bytes want = {1, 1};
  Append(want, subject_.public_key());
  Append(want, controller_.public_key());
  Be32(want, 2);
  Str(want, "analytics");
  Str(want, "marketing.email");
  Be32(want, 2);
  Str(want, "contact.email");
  Str(want, "device_id");
  Str(want, "EU-GDPR");
  Append(want, g.policy_hash);
  Be64(want, g.issued_at_ms);
  Be64(want, g.expires_at_ms);
  Be64(want, 7);
  EXPECT_EQ(ToHex(EncodeBody(g)), ToHex(want));

  Bytes msg;
  Append(msg, AsBytes("consent-ledger/tx/v1"));
  Str(msg, kChain);
  Append(msg, want);
  EXPECT_EQ(SigningMessage(kChain, want), msg);
}

TEST_F(TxTest, RevokeAndRegisterByteLayout) {
  RevokeTx r = SampleRevoke(subject_.public_key(), controller_.public_key());
  Bytes want = {2, 1};
  Append(want, subject_.public_key());
  Append(want, controller_.public_key());
  Be32(want, 1);
  Str(want, "marketing.email");
  Be64(want, r.issued_at_ms);
  Be64(want, 8);
  EXPECT_EQ(EncodeBody(r), want);

  RegisterControllerTx c = SampleRegister(controller_.public_key());
  want = {3, 1};
  Append(want, controller_.public_key());
  Str(want, c.name);
  Str(want, c.contact_uri);
  Be64(want, c.issued_at_ms);
  Be64(want, 1);
  EXPECT_EQ(EncodeBody(c), want);
}

TEST_F(TxTest, RoundTripEveryKind) {
  for (const SignedTx& tx : AllKinds()) {
    SCOPED_TRACE(TxKindName(KindOf(tx.body)));
    Bytes enc = tx.Encode();
    EXPECT_EQ(enc.size(), EncodeBody(tx.body).size() + 64);
    auto back = DecodeSignedTx(enc);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, tx);
    EXPECT_EQ(back->Encode(), enc);
    EXPECT_TRUE(VerifyTxSignature(kChain, *back).ok());
  }
  // Empty revoke list and empty optional strings round trip too.
  RevokeTx all = SampleRevoke(subject_.public_key(), controller_.public_key());
  all.purposes.clear();
  SignedTx tx = MustSign(all, subject_);
  EXPECT_EQ(DecodeSignedTx(tx.Encode()).value(), tx);
}

TEST_F(TxTest, Accessors) {
  auto txs = AllKinds();
  EXPECT_EQ(KindOf(txs[0].body), TxKind::kGrant);
  EXPECT_EQ(KindOf(txs[1].body), TxKind::kRevoke);
  EXPECT_EQ(KindOf(txs[2].body), TxKind::kRegisterController);
  EXPECT_STREQ(TxKindName(TxKind::kGrant), "grant");
  EXPECT_STREQ(TxKindName(TxKind::kRevoke), "revoke");
  EXPECT_STREQ(TxKindName(TxKind::kRegisterController), "register_controller");
  EXPECT_EQ(SignerOf(txs[0].body), subject_.public_key());
  EXPECT_EQ(SignerOf(txs[1].body), subject_.public_key());
  EXPECT_EQ(SignerOf(txs[2].body), controller_.public_key());
  EXPECT_EQ(IssuedAtOf(txs[1].body), testing::kT0 + 1000);
}

// One broken syntax rule: a mutation of a valid body and the message fragment it must produce,
// both from CheckSyntax and from decoding the (unchecked) encoding.
struct Broken {
  std::string name;
  std::function<void(GrantTx&, RevokeTx&, RegisterControllerTx&)> mutate;
  TxKind kind;
  std::string check_fragment;
  std::string decode_fragment;  // empty: same as check_fragment
};

std::vector<std::string> Labels(size_t n, size_t len = 5) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) {
    std::string s = (i < 10 ? "0" : "") + std::to_string(i);
    s.resize(len, 'a');
    v.push_back(s);
  }
  return v;
}

TEST_F(TxTest, EverySyntaxRuleBrokenOneAtATime) {
  using G = GrantTx;
  using R = RevokeTx;
  using C = RegisterControllerTx;
  const TxKind kG = TxKind::kGrant, kR = TxKind::kRevoke, kC = TxKind::kRegisterController;
  std::vector<Broken> cases = {
      {"grant no purposes", [](G& g, R&, C&) { g.purposes.clear(); }, kG,
       "purposes: 0 items, GRANT needs 1..32", ""},
      {"grant 33 purposes", [](G& g, R&, C&) { g.purposes = Labels(33); }, kG, "purposes: 33 items",
       ""},
      {"purposes unsorted",
       [](G& g, R&, C&) {
         g.purposes = {"b", "a"};
       },
       kG, "purposes[1]: not sorted ascending by bytes", ""},
      {"purposes duplicate",
       [](G& g, R&, C&) {
         g.purposes = {"a", "a"};
       },
       kG, "purposes[1]: duplicate of the previous item", ""},
      {"purpose empty", [](G& g, R&, C&) { g.purposes = {""}; }, kG, "purposes[0]: empty", ""},
      {"purpose 65 bytes", [](G& g, R&, C&) { g.purposes = {std::string(65, 'a')}; }, kG,
       "purposes[0]: length 65 exceeds 64", ""},
      {"purpose upper case", [](G& g, R&, C&) { g.purposes = {"Marketing"}; }, kG,
       "purposes[0]: byte 0 ('M') is not in [a-z0-9._-]", ""},
      {"purpose space",
       [](G& g, R&, C&) {
         g.purposes = {"a", "b c"};
       },
       kG, "purposes[1]: byte 1 (' ') is not in [a-z0-9._-]", ""},
      {"purpose NUL", [](G& g, R&, C&) { g.purposes = {std::string("a\0b", 3)}; }, kG,
       "purposes[0]: byte 1 (0x00) is not in [a-z0-9._-]",
       "purposes[0]: not valid UTF-8 or contains a NUL byte"},
      {"33 categories", [](G& g, R&, C&) { g.data_categories = Labels(33); }, kG,
       "data_categories: 33 items", ""},
      {"categories unsorted",
       [](G& g, R&, C&) {
         g.data_categories = {"z", "y"};
       },
       kG, "data_categories[1]: not sorted ascending by bytes", ""},
      {"categories duplicate",
       [](G& g, R&, C&) {
         g.data_categories = {"y", "y"};
       },
       kG, "data_categories[1]: duplicate", ""},
      {"category bad byte", [](G& g, R&, C&) { g.data_categories = {"e/mail"}; }, kG,
       "data_categories[0]: byte 1 ('/') is not in [a-z0-9._-]", ""},
      {"jurisdiction 17 bytes", [](G& g, R&, C&) { g.jurisdiction = std::string(17, 'A'); }, kG,
       "jurisdiction: length 17 exceeds 16", ""},
      {"jurisdiction lower case", [](G& g, R&, C&) { g.jurisdiction = "EU-x"; }, kG,
       "jurisdiction: byte 3 ('x') is not in [A-Z0-9-]", ""},
      {"jurisdiction underscore", [](G& g, R&, C&) { g.jurisdiction = "US_CA"; }, kG,
       "jurisdiction: byte 2 ('_') is not in [A-Z0-9-]", ""},
      {"expires == issued", [](G& g, R&, C&) { g.expires_at_ms = g.issued_at_ms; }, kG,
       "expires_at_ms: " + std::to_string(testing::kT0) + " is not after issued_at_ms", ""},
      {"expires < issued", [](G& g, R&, C&) { g.expires_at_ms = 5; }, kG,
       "expires_at_ms: 5 is not after issued_at_ms", ""},
      {"revoke 33 purposes", [](G&, R& r, C&) { r.purposes = Labels(33); }, kR,
       "purposes: 33 items", ""},
      {"revoke unsorted",
       [](G&, R& r, C&) {
         r.purposes = {"x", "a"};
       },
       kR, "purposes[1]: not sorted ascending by bytes", ""},
      {"revoke bad label",
       [](G&, R& r, C&) {
         r.purposes = {"a", "b", "c!"};
       },
       kR, "purposes[2]: byte 1 ('!') is not in [a-z0-9._-]", ""},
      {"name empty", [](G&, R&, C& c) { c.name.clear(); }, kC, "name: empty (needs 1..128", ""},
      {"name 129 bytes", [](G&, R&, C& c) { c.name = std::string(129, 'n'); }, kC,
       "name: length 129 exceeds 128", ""},
      {"name not UTF-8", [](G&, R&, C& c) { c.name = "Acme \xff"; }, kC,
       "name: not valid UTF-8 or contains a NUL byte", ""},
      {"name overlong UTF-8", [](G&, R&, C& c) { c.name = "\xc0\xaf"; }, kC,
       "name: not valid UTF-8", ""},
      {"name NUL", [](G&, R&, C& c) { c.name = std::string("Ac\0me", 5); }, kC,
       "name: not valid UTF-8 or contains a NUL byte", ""},
      {"contact 257 bytes", [](G&, R&, C& c) { c.contact_uri = std::string(257, 'u'); }, kC,
       "contact_uri: length 257 exceeds 256", ""},
      {"contact not UTF-8", [](G&, R&, C& c) { c.contact_uri = "\xed\xa0\x80"; }, kC,
       "contact_uri: not valid UTF-8", ""},
  };
  for (const Broken& c : cases) {
    SCOPED_TRACE(c.name);
    GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
    RevokeTx r = SampleRevoke(subject_.public_key(), controller_.public_key());
    RegisterControllerTx reg = SampleRegister(controller_.public_key());
    c.mutate(g, r, reg);
    TxBody body = c.kind == TxKind::kGrant    ? TxBody(g)
                  : c.kind == TxKind::kRevoke ? TxBody(r)
                                              : TxBody(reg);
    EXPECT_TRUE(FailsWith(CheckSyntax(body), c.check_fragment));
    EXPECT_FALSE(
        SignTx(kChain, body, c.kind == TxKind::kRegisterController ? controller_ : subject_).ok());
    SignedTx unsigned_tx{body, {}};
    const std::string& frag = c.decode_fragment.empty() ? c.check_fragment : c.decode_fragment;
    EXPECT_TRUE(FailsWith(DecodeSignedTx(unsigned_tx.Encode()).status(), frag));
  }
}

TEST_F(TxTest, BoundaryValuesAccepted) {
  GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
  g.purposes = Labels(32, 64);
  g.data_categories.clear();
  g.jurisdiction = "ABCDEFGHIJKLM-09";  // 16 bytes, every class of [A-Z0-9-]
  g.expires_at_ms = g.issued_at_ms + 1;
  EXPECT_TRUE(CheckSyntax(g).ok()) << CheckSyntax(g).ToString();
  g.expires_at_ms = 0;
  g.jurisdiction.clear();
  g.purposes = {"a", "z._-09"};
  EXPECT_TRUE(CheckSyntax(g).ok());
  // Bytes compare unsigned: "-" (0x2d) < "." (0x2e) < "0" (0x30) < "_" (0x5f) < "a" (0x61).
  g.purposes = {"-", ".", "0", "_", "a"};
  EXPECT_TRUE(CheckSyntax(g).ok()) << CheckSyntax(g).ToString();

  RevokeTx r = SampleRevoke(subject_.public_key(), controller_.public_key());
  r.purposes = Labels(32);
  EXPECT_TRUE(CheckSyntax(r).ok());
  r.purposes.clear();
  EXPECT_TRUE(CheckSyntax(r).ok());

  RegisterControllerTx c = SampleRegister(controller_.public_key());
  c.name = std::string(128, 'n');
  c.contact_uri = std::string(256, 'u');
  EXPECT_TRUE(CheckSyntax(c).ok());
  c.name = "x";
  c.contact_uri.clear();
  EXPECT_TRUE(CheckSyntax(c).ok());
  SignedTx tx = MustSign(c, controller_);
  EXPECT_EQ(DecodeSignedTx(tx.Encode()).value(), tx);
}

TEST_F(TxTest, SizeCapExactly4096AndOneMore) {
  GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
  g.purposes = Labels(32, 64);
  g.data_categories.clear();
  g.jurisdiction.clear();
  auto signed_size = [&] { return EncodeBody(g).size() + 64; };
  // Fill with 64-byte categories, then one shorter category to land exactly on 4096.
  for (size_t i = 0; signed_size() + 4 + 64 <= kMaxTxBytes; ++i) {
    g.data_categories.push_back(Labels(i + 1, 64).back());
  }
  size_t last_len = kMaxTxBytes - signed_size() - 4;
  ASSERT_GE(last_len, 1u);
  ASSERT_LT(last_len, 64u);
  g.data_categories.push_back(Labels(g.data_categories.size() + 1, last_len).back());
  ASSERT_EQ(signed_size(), kMaxTxBytes);
  ASSERT_LE(g.data_categories.size(), kMaxCategories);
  SignedTx tx = MustSign(g, subject_);
  EXPECT_EQ(DecodeSignedTx(tx.Encode()).value(), tx);

  g.data_categories.back().push_back('z');
  EXPECT_TRUE(FailsWith(CheckSyntax(g), "encoding: 4097 bytes exceed the limit of 4096"));
  SignedTx big{g, {}};
  EXPECT_TRUE(FailsWith(DecodeSignedTx(big.Encode()).status(), "encoding: 4097 bytes exceed"));

  // Every cap at its maximum does not fit, so the size rule is reachable from valid fields.
  g.data_categories = Labels(32, 64);
  EXPECT_TRUE(FailsWith(CheckSyntax(g), "bytes exceed the limit of 4096"));
  // The cap is checked before anything else: garbage of 4097 bytes reports the size.
  Bytes junk(4097, 0xff);
  EXPECT_TRUE(FailsWith(DecodeSignedTx(junk).status(), "encoding: 4097 bytes exceed"));
}

TEST_F(TxTest, TruncationAtEveryOffsetFails) {
  for (const SignedTx& tx : AllKinds()) {
    SCOPED_TRACE(TxKindName(KindOf(tx.body)));
    Bytes enc = tx.Encode();
    for (size_t n = 0; n < enc.size(); ++n) {
      auto r = DecodeSignedTx(ByteView(enc.data(), n));
      EXPECT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    }
    EXPECT_TRUE(FailsWith(DecodeSignedTx(ByteView(enc.data(), enc.size() - 1)).status(),
                          "signature: truncated"));
  }
}

TEST_F(TxTest, AnyTrailingByteFails) {
  for (const SignedTx& tx : AllKinds()) {
    for (int b : {0x00, 0x01, 0x7f, 0xff}) {
      Bytes enc = tx.Encode();
      enc.push_back(static_cast<uint8_t>(b));
      EXPECT_TRUE(FailsWith(DecodeSignedTx(enc).status(), "encoding: 1 trailing bytes"));
    }
  }
}

TEST_F(TxTest, UnknownKindAndVersion) {
  Bytes enc = AllKinds()[0].Encode();
  for (int k : {0, 5, 6, 16, 255}) {  // 1..4 are GRANT..SET_VALIDATORS
    Bytes e = enc;
    e[0] = static_cast<uint8_t>(k);
    EXPECT_TRUE(FailsWith(DecodeSignedTx(e).status(),
                          "kind: unknown transaction kind " + std::to_string(k)));
  }
  for (int v : {0, 2, 255}) {
    Bytes e = enc;
    e[1] = static_cast<uint8_t>(v);
    EXPECT_TRUE(FailsWith(DecodeSignedTx(e).status(),
                          "version: " + std::to_string(v) + " is not supported (expected 1)"));
  }
  EXPECT_TRUE(FailsWith(DecodeSignedTx(Bytes{}).status(), "kind: truncated"));
}

TEST_F(TxTest, IntegersMustStayBelow2To53) {
  const uint64_t limit = uint64_t{1} << 53;
  GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
  g.nonce = limit - 1;
  g.expires_at_ms = limit - 1;
  EXPECT_TRUE(CheckSyntax(g).ok());
  for (int field = 0; field < 3; ++field) {
    GrantTx bad = SampleGrant(subject_.public_key(), controller_.public_key());
    const char* name = field == 0 ? "nonce" : field == 1 ? "expires_at_ms" : "issued_at_ms";
    if (field == 0) bad.nonce = limit;
    if (field == 1) bad.expires_at_ms = ~uint64_t{0};
    if (field == 2) {
      bad.issued_at_ms = limit;
      bad.expires_at_ms = 0;
    }
    EXPECT_TRUE(FailsWith(CheckSyntax(bad), std::string(name) + ": ")) << name;
    EXPECT_TRUE(FailsWith(CheckSyntax(bad), "is not below 2^53")) << name;
    // The decoder applies the same rule to bytes that carry such a value.
    Bytes body = EncodeBody(bad);
    Append(body, subject_.Sign(SigningMessage(kChain, body)));
    EXPECT_TRUE(FailsWith(DecodeSignedTx(body).status(), "is not below 2^53")) << name;
  }
  RevokeTx r = SampleRevoke(subject_.public_key(), controller_.public_key());
  r.nonce = limit;
  EXPECT_TRUE(FailsWith(CheckSyntax(r), "nonce: 9007199254740992 is not below 2^53"));
  RegisterControllerTx reg = SampleRegister(controller_.public_key());
  reg.issued_at_ms = limit;
  EXPECT_TRUE(FailsWith(CheckSyntax(reg), "issued_at_ms: 9007199254740992 is not below 2^53"));
}

TEST_F(TxTest, HugeCountsFailWithoutAllocating) {
  Bytes e = {2, 1};
  Append(e, subject_.public_key());
  Append(e, controller_.public_key());
  Be32(e, 0xffffffff);
  EXPECT_TRUE(FailsWith(DecodeSignedTx(e).status(), "purposes: 4294967295 items exceed"));
  e.resize(e.size() - 4);
  Be32(e, 3);  // within the cap, but no bytes follow
  EXPECT_TRUE(FailsWith(DecodeSignedTx(e).status(), "purposes: truncated"));
}

TEST_F(TxTest, SignatureVerification) {
  for (const SignedTx& tx : AllKinds()) {
    SCOPED_TRACE(TxKindName(KindOf(tx.body)));
    EXPECT_TRUE(VerifyTxSignature(kChain, tx).ok());

    Status wrong_chain = VerifyTxSignature("other-chain", tx);
    EXPECT_EQ(wrong_chain.code(), StatusCode::kInvalidSignature);
    EXPECT_TRUE(FailsWith(wrong_chain, "signature: does not verify"));

    // Every bit of the signature matters.
    for (size_t bit = 0; bit < 512; bit += 37) {
      SignedTx t = tx;
      t.signature[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      EXPECT_FALSE(VerifyTxSignature(kChain, t).ok()) << "bit " << bit;
    }
    // So does every bit of the body: flip one bit of the encoding, and if it still decodes,
    // the signature must fail.
    Bytes enc = tx.Encode();
    size_t body_len = enc.size() - 64;
    for (size_t i = 0; i < body_len; ++i) {
      Bytes e = enc;
      e[i] ^= 0x01;
      auto d = DecodeSignedTx(e);
      if (d.ok()) {
        EXPECT_FALSE(VerifyTxSignature(kChain, *d).ok()) << "byte " << i;
      }
    }
  }
}

TEST_F(TxTest, SignatureByTheWrongKey) {
  GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
  EXPECT_TRUE(FailsWith(SignTx(kChain, g, controller_).status(), "is not the signer"));
  // Build a signature by the controller over the right message: it must not verify as the
  // subject's.
  SignedTx forged{g, controller_.Sign(SigningMessage(kChain, EncodeBody(g)))};
  EXPECT_EQ(VerifyTxSignature(kChain, forged).code(), StatusCode::kInvalidSignature);
  RegisterControllerTx c = SampleRegister(controller_.public_key());
  SignedTx by_subject{c, subject_.Sign(SigningMessage(kChain, EncodeBody(c)))};
  EXPECT_FALSE(VerifyTxSignature(kChain, by_subject).ok());
  EXPECT_FALSE(SignTx(kChain, c, subject_).ok());
}

TEST_F(TxTest, ChainIdRules) {
  EXPECT_TRUE(CheckChainId("consent-test.1").ok());
  EXPECT_TRUE(CheckChainId(std::string(64, 'a')).ok());
  EXPECT_TRUE(CheckChainId("a._-0").ok());
  EXPECT_TRUE(FailsWith(CheckChainId(""), "chain_id: empty"));
  EXPECT_TRUE(FailsWith(CheckChainId(std::string(65, 'a')), "chain_id: length 65 exceeds 64"));
  EXPECT_TRUE(FailsWith(CheckChainId("Main"), "chain_id: byte 0 ('M') is not in [a-z0-9._-]"));
  EXPECT_TRUE(FailsWith(CheckChainId("a b"), "byte 1 (' ')"));
  EXPECT_FALSE(SignTx("Bad Chain", SampleRegister(controller_.public_key()), controller_).ok());
  EXPECT_FALSE(VerifyTxSignature("", AllKinds()[2]).ok());
}

// The exported label rule is the one CheckSyntax applies to every purpose: for each candidate,
// the function and a grant with that one purpose agree, with the same message.
TEST_F(TxTest, PurposeLabelRuleIsTheGrantRule) {
  EXPECT_TRUE(CheckPurposeLabel("--purpose", "marketing.email").ok());
  EXPECT_TRUE(CheckPurposeLabel("p", std::string(64, 'z')).ok());
  EXPECT_TRUE(CheckPurposeLabel("p", "a._-09").ok());
  EXPECT_TRUE(FailsWith(CheckPurposeLabel("--purpose", ""), "--purpose: empty"));
  EXPECT_TRUE(FailsWith(CheckPurposeLabel("p", std::string(65, 'a')), "p: length 65 exceeds 64"));
  EXPECT_TRUE(
      FailsWith(CheckPurposeLabel("--purpose", "a b"), "--purpose: byte 1 (' ') is not in"));
  EXPECT_TRUE(FailsWith(CheckPurposeLabel("p", "x?at_ms=1"), "byte 1 ('?')"));
  EXPECT_TRUE(FailsWith(CheckPurposeLabel("p", "A"), "byte 0 ('A')"));
  EXPECT_TRUE(FailsWith(CheckPurposeLabel("p", std::string("a\0b", 3)), "byte 1 (0x00)"));
  for (std::string label : {std::string("ok"), std::string(), std::string(64, 'a'),
                            std::string(65, 'a'), std::string("Up"), std::string("a/b"),
                            std::string("caf\xc3\xa9"), std::string("a b"), std::string("-._")}) {
    GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
    g.purposes = {label};
    Status in_grant = CheckSyntax(g);
    Status alone = CheckPurposeLabel("purposes[0]", label);
    EXPECT_EQ(in_grant.ok(), alone.ok()) << label;
    if (!alone.ok()) EXPECT_EQ(in_grant.message(), alone.message()) << label;
  }
}

TEST_F(TxTest, TxIdIsRfc6962LeafHash) {
  for (const SignedTx& tx : AllKinds()) {
    Bytes enc = tx.Encode();
    Bytes prefixed = {0x00};
    Append(prefixed, enc);
    Hash32 want = Sha256(prefixed);
    EXPECT_EQ(tx.Id(), want);
    EXPECT_EQ(TxIdOf(enc), want);
    EXPECT_NE(want, Sha256(enc));  // the 0x00 prefix matters
  }
  auto txs = AllKinds();
  EXPECT_NE(txs[0].Id(), txs[1].Id());
}

TEST_F(TxTest, SigningIsDeterministic) {
  GrantTx g = SampleGrant(subject_.public_key(), controller_.public_key());
  EXPECT_EQ(MustSign(g, subject_), MustSign(g, subject_));
  g.nonce++;
  EXPECT_NE(
      MustSign(g, subject_).signature,
      MustSign(SampleGrant(subject_.public_key(), controller_.public_key()), subject_).signature);
}

}  // namespace
}  // namespace consent
