// Tests for ledger/json_strict.h: what the strict parser refuses that plain nlohmann accepts, and
// the typed accessors' path-naming errors.
#include "ledger/json_strict.h"

#include <gtest/gtest.h>

#include <string>

namespace consent::json {
namespace {

bool Contains(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

TEST(JsonStrict, ParsesOrdinaryJson) {
  auto v = ParseStrict(R"({"a": [1, {"b": null}], "c": "x\u00e9", "d": -2, "e": 1.5})", 1000, "t");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["a"][1]["b"], nullptr);
  EXPECT_EQ((*v)["c"], "x\xc3\xa9");
  EXPECT_EQ((*v)["d"], -2);
  EXPECT_TRUE(ParseStrict("7", 10, "t").ok());
}

TEST(JsonStrict, RejectsDuplicateKeysAtAnyDepth) {
  EXPECT_TRUE(Contains(ParseStrict(R"({"a": 1, "a": 1})", 100, "t").status(), "duplicate key"));
  EXPECT_TRUE(
      Contains(ParseStrict(R"([{"x": {"k": 1, "k": 2}}])", 100, "t").status(), "duplicate key"));
  EXPECT_TRUE(ParseStrict(R"([{"k": 1}, {"k": 2}])", 100, "t").ok());  // siblings may share
}

TEST(JsonStrict, RejectsDepthSizeAndSyntax) {
  std::string ok_depth = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  EXPECT_TRUE(ParseStrict(ok_depth, 1000, "t").ok());
  std::string too_deep = "[" + ok_depth + "]";
  EXPECT_TRUE(Contains(ParseStrict(too_deep, 1000, "t").status(), "nesting deeper than 32"));
  EXPECT_TRUE(Contains(ParseStrict("[1, 2]", 5, "what").status(),
                       "what: input is 6 bytes, over the limit of 5"));
  auto bad = ParseStrict("{\"a\": }", 100, "t");
  EXPECT_TRUE(Contains(bad.status(), "t: parse error")) << bad.status().message();
  EXPECT_FALSE(ParseStrict("[1] [2]", 100, "t").ok());
  EXPECT_FALSE(ParseStrict("", 100, "t").ok());
  EXPECT_FALSE(ParseStrict("\"\xff\"", 100, "t").ok());  // invalid UTF-8
}

TEST(JsonStrict, TypedAccessorsNameThePath) {
  Json v = ParseStrict(R"({"n": 5, "neg": -1, "f": 2.0, "s": "ab", "big": 18446744073709551615})",
                       1000, "t")
               .value();
  EXPECT_EQ(GetUint(v["n"], "x.n").value(), 5u);
  EXPECT_TRUE(Contains(GetUint(v["n"], "x.n", 4).status(), "x.n: 5 exceeds the maximum 4"));
  EXPECT_TRUE(Contains(GetUint(v["neg"], "x.neg").status(), "x.neg: expected a non-negative"));
  EXPECT_TRUE(Contains(GetUint(v["f"], "x.f").status(), "got a non-integer number"));
  EXPECT_TRUE(Contains(GetUint(v["s"], "x.s").status(),
                       "x.s: expected a non-negative integer, "
                       "got a string"));
  EXPECT_TRUE(Contains(GetUint(v["big"], "big").status(), "exceeds the maximum 9007199254740991"));
  EXPECT_EQ(GetHex(v["s"], "s", 1).value(), Bytes{0xab});
  EXPECT_TRUE(Contains(GetHex(v["s"], "s", 0).status(), "s: 2 hex digits exceed"));
  EXPECT_TRUE(Contains(GetHexFixed<2>(v["s"], "s").status(), "s: expected 4 hex digits"));
  EXPECT_EQ(GetHex(Json("aB"), "h", 4).value(), Bytes{0xab});  // upper case accepted on input
  EXPECT_TRUE(Contains(GetHex(Json("ag"), "h", 4).status(), "h: invalid hex digit"));
  EXPECT_TRUE(Contains(GetHex(Json("abc"), "h", 4).status(), "h: "));
  EXPECT_TRUE(Contains(GetArray(Json::array({1, 2}), "arr", 1).status(), "arr: 2 items exceed"));
  EXPECT_TRUE(Contains(ExpectObject(v, "", {"n"}), "big: unknown field"));
  EXPECT_TRUE(
      Contains(ExpectObject(v, "p", {"n", "zz", "neg", "f", "s", "big"}), "p.zz: missing field"));
  EXPECT_TRUE(Contains(ExpectObject(Json::array(), "", {}), "top level: expected an object"));
}

}  // namespace
}  // namespace consent::json
