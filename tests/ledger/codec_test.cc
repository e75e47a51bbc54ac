// Tests for ledger/codec: big-endian layout, length caps, truncation, trailing bytes, UTF-8
// validation and the sorted-list rule, each with the message the user sees.
#include "ledger/codec.h"

#include <gtest/gtest.h>

#include "crypto/hex.h"

namespace consent {
namespace {

bool Contains(const Status& st, const std::string& s) {
  return st.message().find(s) != std::string::npos;
}

TEST(Codec, WriterLayoutIsBigEndian) {
  Writer w;
  w.U8(0x01).U32(0x02030405).U64(0x060708090a0b0c0dULL).Str("hi").Tag("t");
  EXPECT_EQ(ToHex(w.bytes()),
            "01"
            "02030405"
            "060708090a0b0c0d"
            "00000002"
            "6869"
            "74");
  Writer l;
  l.StrList({"a", "bc"});
  EXPECT_EQ(ToHex(l.bytes()),
            "00000002"
            "00000001"
            "61"
            "00000002"
            "6263");
}

TEST(Codec, ReaderRoundTrip) {
  Writer w;
  Hash32 h;
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(i);
  w.U8(7).U32(0xfffffffe).U64(~0ULL).Fixed(h).Str("café").StrList({"a", "b"});
  Reader r(w.bytes());
  uint8_t a;
  uint32_t b;
  uint64_t c;
  Hash32 d;
  std::string e;
  std::vector<std::string> f;
  ASSERT_TRUE(r.U8(&a, "a").ok());
  ASSERT_TRUE(r.U32(&b, "b").ok());
  ASSERT_TRUE(r.U64(&c, "c").ok());
  ASSERT_TRUE(r.Fixed(&d, "d").ok());
  ASSERT_TRUE(r.Str(&e, 64, "e").ok());
  ASSERT_TRUE(r.SortedStrList(&f, 4, 8, "f").ok());
  EXPECT_TRUE(r.ExpectEnd("thing").ok());
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, 0xfffffffeu);
  EXPECT_EQ(c, ~0ULL);
  EXPECT_EQ(d, h);
  EXPECT_EQ(e, "café");
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b"}));
}

TEST(Codec, TruncationAtEveryOffsetFails) {
  Writer w;
  w.U8(1).U32(2).U64(3).Str("abc").Fixed(Hash32{});
  const Bytes& full = w.bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    Reader r(ByteView(full.data(), n));
    uint8_t a;
    uint32_t b;
    uint64_t c;
    std::string s;
    Hash32 h;
    Status st = r.U8(&a, "a");
    if (st.ok()) st = r.U32(&b, "b");
    if (st.ok()) st = r.U64(&c, "c");
    if (st.ok()) st = r.Str(&s, 16, "s");
    if (st.ok()) st = r.Fixed(&h, "h");
    EXPECT_FALSE(st.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_TRUE(Contains(st, "truncated")) << st.ToString();
  }
}

TEST(Codec, TrailingBytesRejected) {
  Bytes b = {1, 2};
  Reader r(b);
  uint8_t v;
  ASSERT_TRUE(r.U8(&v, "v").ok());
  Status st = r.ExpectEnd("header");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "header: 1 trailing bytes after the end");
}

TEST(Codec, LengthCapsCheckedBeforeReading) {
  Writer w;
  w.U32(65).Raw(Bytes(65, 'a'));
  Reader r(w.bytes());
  std::string s;
  Status st = r.Str(&s, 64, "purposes[0]");
  EXPECT_EQ(st.message(), "purposes[0]: length 65 exceeds 64");
  // A huge declared length fails on the cap without allocating.
  Writer huge;
  huge.U32(0xffffffff);
  Reader r2(huge.bytes());
  Bytes out;
  EXPECT_TRUE(Contains(r2.Bytes(&out, 4096, "x"), "exceeds 4096"));
}

TEST(Codec, CountCappedAndCheckedAgainstRemainingBytes) {
  Writer w;
  w.U32(33);
  Reader r(w.bytes());
  uint32_t n;
  EXPECT_TRUE(Contains(r.Count(&n, 32, 4, "purposes"), "33 items exceed the limit of 32"));
  Writer w2;
  w2.U32(10).U32(0);  // claims 10 items, has 4 bytes
  Reader r2(w2.bytes());
  EXPECT_TRUE(Contains(r2.Count(&n, 32, 4, "purposes"), "cannot fit"));
}

TEST(Codec, SortedStrListRules) {
  auto decode = [](const std::vector<std::string>& items) {
    Writer w;
    w.StrList(items);
    Reader r(w.bytes());
    std::vector<std::string> out;
    return r.SortedStrList(&out, 32, 64, "purposes");
  };
  EXPECT_TRUE(decode({}).ok());
  EXPECT_TRUE(decode({"a", "b", "ba"}).ok());
  EXPECT_EQ(decode({"b", "a"}).message(), "purposes[1]: not sorted ascending by bytes");
  EXPECT_EQ(decode({"a", "a"}).message(), "purposes[1]: duplicate of the previous item");
  // Byte order, not signed-char order: 0xc3... (é) sorts after 'z'.
  EXPECT_TRUE(decode({"z", "\xc3\xa9"}).ok());
  EXPECT_FALSE(decode({"\xc3\xa9", "z"}).ok());
}

TEST(Codec, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8NoNul(""));
  EXPECT_TRUE(IsValidUtf8NoNul("plain"));
  EXPECT_TRUE(IsValidUtf8NoNul("Caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8NoNul(std::string("a\0b", 3)));  // NUL
  EXPECT_FALSE(IsValidUtf8NoNul("\xc3"));                  // truncated sequence
  EXPECT_FALSE(IsValidUtf8NoNul("\xc3\x28"));              // bad continuation
  EXPECT_FALSE(IsValidUtf8NoNul("\x80"));                  // stray continuation
  EXPECT_FALSE(IsValidUtf8NoNul("\xc0\xaf"));              // overlong '/'
  EXPECT_FALSE(IsValidUtf8NoNul("\xe0\x80\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8NoNul("\xed\xa0\x80"));          // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8NoNul("\xf4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(IsValidUtf8NoNul("\xff"));
  Writer w;
  w.Str("\xc3\x28");
  Reader r(w.bytes());
  std::string s;
  EXPECT_EQ(r.Str(&s, 16, "name").message(), "name: not valid UTF-8 or contains a NUL byte");
}

}  // namespace
}  // namespace consent
