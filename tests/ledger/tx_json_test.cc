// Tests for ledger/tx_json: both JSON forms round trip to identical bytes; every missing, extra
// or mistyped field is an error naming it; integer range; malformed text.
#include <gtest/gtest.h>

#include "crypto/hex.h"
#include "ledger/tx_json.h"
#include "tx_test_util.h"

namespace consent {
namespace {

using nlohmann::json;
using testing::FailsWith;
using testing::KeyFor;
using testing::MustSign;

class TxJsonTest : public ::testing::Test {
 protected:
  SigningKey subject_ = KeyFor(1);
  SigningKey controller_ = KeyFor(2);

  std::vector<SignedTx> AllKinds() {
    RevokeTx all = testing::SampleRevoke(subject_.public_key(), controller_.public_key());
    all.purposes.clear();
    return {
        MustSign(testing::SampleGrant(subject_.public_key(), controller_.public_key()), subject_),
        MustSign(testing::SampleRevoke(subject_.public_key(), controller_.public_key()), subject_),
        MustSign(all, subject_),
        MustSign(testing::SampleRegister(controller_.public_key()), controller_)};
  }

  json GrantJson() { return json(TxToJson(AllKinds()[0])); }
};

TEST_F(TxJsonTest, FieldFormLayout) {
  SignedTx tx = AllKinds()[0];
  nlohmann::ordered_json j = TxToJson(tx);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"kind", "subject", "controller", "purposes",
                                      "data_categories", "jurisdiction", "policy_hash",
                                      "issued_at_ms", "expires_at_ms", "nonce", "signature"}));
  EXPECT_EQ(j["kind"], "grant");
  EXPECT_EQ(j["subject"], ToHex(subject_.public_key()));
  std::string abab;
  for (int i = 0; i < 32; ++i) abab += "ab";
  EXPECT_EQ(j["policy_hash"], abab);
  EXPECT_EQ(j["signature"].get<std::string>().size(), 128u);
  EXPECT_EQ(j["signature"], ToHex(tx.signature));
  EXPECT_TRUE(j["issued_at_ms"].is_number_unsigned());
  EXPECT_EQ(j["issued_at_ms"].get<uint64_t>(), testing::kT0);
  EXPECT_EQ(j["nonce"], 7);

  auto revoke = TxToJson(AllKinds()[2]);
  EXPECT_TRUE(revoke["purposes"].is_array());
  EXPECT_TRUE(revoke["purposes"].empty());
  EXPECT_EQ(revoke.dump().find("null"), std::string::npos);

  nlohmann::ordered_json reg = TxToJson(AllKinds()[3]);
  keys.clear();
  for (auto it = reg.begin(); it != reg.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"kind", "controller", "name", "contact_uri",
                                            "issued_at_ms", "nonce", "signature"}));
  EXPECT_EQ(reg["kind"], "register_controller");
}

TEST_F(TxJsonTest, HexIsLowercase) {
  for (const SignedTx& tx : AllKinds()) {
    nlohmann::ordered_json j = TxToJson(tx);
    for (const auto& [k, v] : j.items()) {
      if (k == "subject" || k == "controller" || k == "policy_hash" || k == "signature") {
        std::string s = v.get<std::string>();
        EXPECT_EQ(s.find_first_of("ABCDEF"), std::string::npos) << k;
      }
    }
    EXPECT_EQ(TxToJsonEncoding(tx)["encoding"].get<std::string>().find_first_of("ABCDEF"),
              std::string::npos);
  }
}

TEST_F(TxJsonTest, BothFormsRoundTripToIdenticalBytes) {
  for (const SignedTx& tx : AllKinds()) {
    SCOPED_TRACE(TxKindName(KindOf(tx.body)));
    Bytes enc = tx.Encode();
    auto from_fields = TxFromJsonText(TxToJson(tx).dump());
    ASSERT_TRUE(from_fields.ok()) << from_fields.status().ToString();
    EXPECT_EQ(from_fields->Encode(), enc);
    EXPECT_EQ(*from_fields, tx);
    auto from_encoding = TxFromJsonText(TxToJsonEncoding(tx).dump());
    ASSERT_TRUE(from_encoding.ok()) << from_encoding.status().ToString();
    EXPECT_EQ(from_encoding->Encode(), enc);
    // Directly from the in-memory objects too (both JSON flavours).
    EXPECT_EQ(TxFromJson(TxToJson(tx)).value(), tx);
    EXPECT_EQ(TxFromJson(json(TxToJson(tx))).value(), tx);
    // Key order does not matter on input.
    json shuffled = json::object();
    auto fields = TxToJson(tx);
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) shuffled[it.key()] = it.value();
    EXPECT_EQ(TxFromJson(shuffled).value(), tx);
  }
}

TEST_F(TxJsonTest, EachMissingFieldIsNamed) {
  for (const SignedTx& tx : AllKinds()) {
    json full = json(TxToJson(tx));
    for (const auto& [key, value] : full.items()) {
      SCOPED_TRACE(key);
      json j = full;
      j.erase(key);
      EXPECT_TRUE(FailsWith(TxFromJson(j).status(), key + ": missing field"));
    }
  }
  EXPECT_TRUE(FailsWith(TxFromJson(json::object()).status(), "kind: missing field"));
}

TEST_F(TxJsonTest, ExtraFieldsAreNamed) {
  for (const SignedTx& tx : AllKinds()) {
    json j = json(TxToJson(tx));
    j["zzz_extra"] = 1;
    EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "zzz_extra: unexpected field"));
  }
  // A field of another kind is extra too.
  json j = json(TxToJson(AllKinds()[1]));
  j["expires_at_ms"] = 0;
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "expires_at_ms: unexpected field"));
  // The encoding form has nothing but "encoding".
  json e = json(TxToJsonEncoding(AllKinds()[0]));
  e["kind"] = "grant";
  EXPECT_TRUE(FailsWith(TxFromJson(e).status(), "kind: unexpected field in the encoding form"));
}

TEST_F(TxJsonTest, EachMistypedFieldIsNamed) {
  for (const SignedTx& tx : AllKinds()) {
    json full = json(TxToJson(tx));
    for (const auto& [key, value] : full.items()) {
      SCOPED_TRACE(key);
      std::vector<json> wrong;
      if (value.is_string()) wrong = {5, json::array(), nullptr, true, json::object()};
      if (value.is_number()) wrong = {"5", 1.5, json::array(), nullptr, false};
      if (value.is_array()) wrong = {"a", 3, json::object(), nullptr};
      ASSERT_FALSE(wrong.empty());
      for (const json& w : wrong) {
        json j = full;
        j[key] = w;
        EXPECT_TRUE(FailsWith(TxFromJson(j).status(), key + ": ")) << w.dump();
      }
    }
  }
  json j = GrantJson();
  j["purposes"] = json::array({"a", 7});
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "purposes[1]: expected a string, got number"));
  j = GrantJson();
  j["subject"] = "abcd";
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "subject: expected 64 hex digits"));
  j["subject"] = std::string(64, 'g');
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "subject: "));
  j = GrantJson();
  j["signature"] = std::string(126, '0');
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "signature: expected 128 hex digits"));
  j = GrantJson();
  j["kind"] = "delete";
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "kind: unknown transaction kind 'delete'"));
  EXPECT_TRUE(FailsWith(TxFromJson(json::array()).status(), "expected an object, got array"));
  EXPECT_TRUE(FailsWith(TxFromJson(json(5)).status(), "expected an object, got number"));
}

TEST_F(TxJsonTest, IntegerRange) {
  json j = GrantJson();
  j["nonce"] = (uint64_t{1} << 53) - 1;
  auto ok = TxFromJson(j);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(std::get<GrantTx>(ok->body).nonce, (uint64_t{1} << 53) - 1);

  j["nonce"] = uint64_t{1} << 53;
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "nonce: 9007199254740992 is not below 2^53"));
  j["nonce"] = -1;
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "nonce: -1 is negative"));
  j["nonce"] = 3.0;
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "nonce: expected an unsigned integer, got a"));
  j["nonce"] = 7;  // a signed-storage non-negative integer is fine
  EXPECT_TRUE(TxFromJson(j).ok());

  // The same through text: negative, float, exponent, and beyond u64.
  std::string base = GrantJson().dump();
  auto with = [&](const std::string& v) {
    std::string t = base;
    size_t at = t.find("\"nonce\":7");
    EXPECT_NE(at, std::string::npos);
    return t.replace(at, 9, "\"nonce\":" + v);
  };
  EXPECT_TRUE(TxFromJsonText(with("7")).ok());
  EXPECT_TRUE(FailsWith(TxFromJsonText(with("-7")).status(), "nonce: -7 is negative"));
  EXPECT_TRUE(FailsWith(TxFromJsonText(with("7.0")).status(), "nonce: expected an unsigned"));
  EXPECT_TRUE(FailsWith(TxFromJsonText(with("7e0")).status(), "nonce: expected an unsigned"));
  EXPECT_TRUE(FailsWith(TxFromJsonText(with("9007199254740992")).status(), "not below 2^53"));
  // Beyond u64 the parser holds a floating-point number: still reported as out of range.
  EXPECT_TRUE(FailsWith(TxFromJsonText(with("18446744073709551616")).status(),
                        "nonce: out of range: must be below 2^53"));
  EXPECT_TRUE(FailsWith(TxFromJsonText(with("1e300")).status(), "nonce: out of range"));
}

TEST_F(TxJsonTest, ValuesBeyond2To53AreRejectedInBothForms) {
  // Such a value cannot be signed through SignTx; build the bytes by hand.
  GrantTx g = testing::SampleGrant(subject_.public_key(), controller_.public_key());
  g.nonce = UINT64_MAX;
  Bytes enc = EncodeBody(g);
  Append(enc, subject_.Sign(SigningMessage(testing::kChain, enc)));
  json j = {{"encoding", ToHex(enc)}};
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "nonce: 18446744073709551615 is not below 2^53"));
}

TEST_F(TxJsonTest, SyntaxRulesApplyToTheFieldForm) {
  json j = GrantJson();
  j["purposes"] = json::array({"b", "a"});
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "purposes[1]: not sorted ascending by bytes"));
  j = GrantJson();
  j["jurisdiction"] = "eu";
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "jurisdiction: byte 0 ('e')"));
  j = GrantJson();
  j["purposes"] = json::array();
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "purposes: 0 items, GRANT needs 1..32"));
  j = GrantJson();
  j["purposes"] = json(std::vector<std::string>(40, "a"));
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "purposes: 40 items exceed the limit of 32"));
  j = json(TxToJson(AllKinds()[3]));
  j["name"] = std::string(100000, 'n');
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "name: length 100000 exceeds 128"));
  j["name"] = std::string("a\0b", 3);
  EXPECT_TRUE(FailsWith(TxFromJson(j).status(), "name: not valid UTF-8 or contains a NUL"));
  // The \u0000 escape reaches the same rule through text.
  std::string text = json(TxToJson(AllKinds()[3])).dump();
  size_t at = text.find("Acme");
  text.replace(at, 4, "Ac\\u0000me");
  EXPECT_TRUE(FailsWith(TxFromJsonText(text).status(), "name: not valid UTF-8"));
}

TEST_F(TxJsonTest, EncodingFormErrors) {
  Bytes enc = AllKinds()[0].Encode();
  EXPECT_TRUE(FailsWith(TxFromJson(json{{"encoding", 5}}).status(),
                        "encoding: expected a string, got number"));
  EXPECT_TRUE(FailsWith(TxFromJson(json{{"encoding", "abc"}}).status(), "encoding: "));
  EXPECT_TRUE(FailsWith(TxFromJson(json{{"encoding", ToHex(enc) + "00"}}).status(),
                        "encoding: 1 trailing bytes"));
  EXPECT_TRUE(
      FailsWith(TxFromJson(json{{"encoding", ToHex(enc).substr(0, 20)}}).status(), "truncated"));
  EXPECT_TRUE(FailsWith(TxFromJson(json{{"encoding", std::string(2 * 4096 + 2, '0')}}).status(),
                        "encoding: 8194 hex digits exceed"));
  // Upper-case hex is accepted on input (decision: as crypto/hex.h decodes).
  std::string upper = ToHex(enc);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(TxFromJson(json{{"encoding", upper}}).value(), AllKinds()[0]);
}

TEST_F(TxJsonTest, MalformedText) {
  for (std::string bad : {"", " ", "{", "}", "[]", "null", "\"grant\"", "{\"kind\":", "{,}",
                          "{\"kind\":\"grant\"} x", "{'kind':'grant'}", "{\"a\":\xff}",
                          "{\"kind\":\"gr\xc3\"}", "{\"kind\":\"\\ud800\"}", "tru", "1e99999"}) {
    SCOPED_TRACE(bad);
    auto r = TxFromJsonText(bad);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(FailsWith(TxFromJsonText("{").status(), "transaction JSON: "));
  std::string big(kMaxTxJsonBytes + 1, ' ');
  EXPECT_TRUE(FailsWith(TxFromJsonText(big).status(), "65537 bytes exceed the limit of 65536"));
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_TRUE(FailsWith(TxFromJsonText(deep).status(), "nesting deeper than 8"));
  std::string dup = GrantJson().dump();
  dup.insert(1, "\"nonce\":1,");
  EXPECT_TRUE(FailsWith(TxFromJsonText(dup).status(), "duplicate key \"nonce\""));
  // Whitespace and a trailing newline are fine.
  EXPECT_TRUE(TxFromJsonText("\n " + GrantJson().dump(2) + "\n").ok());
}

}  // namespace
}  // namespace consent
