// Key files: created 0600, never overwritten, refused when readable by others, malformed
// contents rejected with a clear message. Uses a real temporary directory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "crypto/hex.h"
#include "crypto/keyfile.h"

namespace consent {
namespace {

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/consent-keyfile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) { return dir_ + "/" + name; }
  void WriteRaw(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
  }
  std::string dir_;
};

TEST_F(KeyFileTest, WriteReadRoundTripWithMode0600) {
  for (KeyKind kind : {KeyKind::kCustomer, KeyKind::kBrand, KeyKind::kValidator}) {
    KeyFile k = KeyFile::Generate(kind);
    std::string p = Path(std::string(KeyKindName(kind)) + ".key");
    ASSERT_TRUE(WriteKeyFile(p, k).ok());
    struct stat sb;
    ASSERT_EQ(stat(p.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u);
    auto back = ReadKeyFile(p);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->kind, kind);
    EXPECT_EQ(back->secret, k.secret);
    EXPECT_EQ(back->public_key, k.public_key);
  }
}

TEST_F(KeyFileTest, RefusesToOverwrite) {
  std::string p = Path("a.key");
  ASSERT_TRUE(WriteKeyFile(p, KeyFile::Generate(KeyKind::kBrand)).ok());
  auto before = ReadKeyFile(p).value();
  Status st = WriteKeyFile(p, KeyFile::Generate(KeyKind::kBrand));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadKeyFile(p)->secret, before.secret);
}

TEST_F(KeyFileTest, RefusesGroupOrOtherReadable) {
  std::string p = Path("open.key");
  WriteRaw(p, SerializeKeyFile(KeyFile::Generate(KeyKind::kCustomer)), 0644);
  auto r = ReadKeyFile(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("chmod 600 " + p), std::string::npos);
  chmod(p.c_str(), 0600);
  EXPECT_TRUE(ReadKeyFile(p).ok());
}

TEST_F(KeyFileTest, MalformedContents) {
  KeyFile good = KeyFile::Generate(KeyKind::kBrand);
  std::string text = SerializeKeyFile(good);
  struct Case {
    std::string text, expect;
  } cases[] = {
      {"not json", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"type":"consent-ledger-key","version":1,"kind":"brand"})", "no \"secret\""},
      {R"({"type":"x","version":1,"kind":"brand","secret":"00"})", "type is \"x\""},
      {R"({"type":"consent-ledger-key","version":2,"kind":"brand","secret":"00"})", "version"},
      {R"({"type":"consent-ledger-key","version":1,"kind":"alien","secret":"00"})",
       "unknown key kind"},
      {R"({"type":"consent-ledger-key","version":1,"kind":"customer","secret":"0011"})",
       "expected 64 hex digits"},
      {R"({"type":"consent-ledger-key","version":1,"kind":"customer","secret":"00","extra":1})",
       "unknown field \"extra\""},
      {std::string(5000, ' '), "larger than 4096"},
  };
  int i = 0;
  for (const auto& c : cases) {
    std::string p = Path("bad" + std::to_string(i++) + ".key");
    WriteRaw(p, c.text, 0600);
    auto r = ReadKeyFile(p);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().ToString();
  }
  // A public key that does not match the secret.
  KeyFile other = KeyFile::Generate(KeyKind::kBrand);
  std::string mismatched = text;
  std::string good_pk = ToHex(good.public_key);
  mismatched.replace(mismatched.find(good_pk), good_pk.size(), ToHex(other.public_key));
  std::string p = Path("mismatch.key");
  WriteRaw(p, mismatched, 0600);
  auto r = ReadKeyFile(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match its secret"), std::string::npos);
}

TEST_F(KeyFileTest, MissingFile) {
  auto r = ReadKeyFile(Path("nope.key"));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace consent
