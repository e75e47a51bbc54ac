// The double-sign guard's file: round trip, strict parsing, a missing file, atomic replacement,
// and a node that refuses to start on a damaged file.
#include "node/sign_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "crypto/sha256.h"

#include "node/node.h"
#include "node_test_util.h"

namespace consent {
namespace {

using testing::TempDir;

SignState Sample() {
  SignState s;
  s.height = 12;
  s.round = 3;
  s.step = 3;
  s.block_hash.fill(0xab);
  s.locked_round = 2;
  s.locked_hash.fill(0xcd);
  return s;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(SignStateTest, RoundTripsThroughTheFile) {
  TempDir dir;
  const std::string path = dir.path() + "/sign_state.json";
  auto none = LoadSignState(path);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(SaveSignState(path, Sample()).ok());
  auto got = LoadSignState(path);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, Sample());

  SignState unlocked = Sample();
  unlocked.height = 13;
  unlocked.locked_round = kNoRound;
  unlocked.locked_hash = Hash32{};
  ASSERT_TRUE(SaveSignState(path, unlocked).ok());  // replaces the previous file
  got = LoadSignState(path);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, unlocked);
  EXPECT_NE(SignStateToJson(unlocked).find("\"locked_round\":null"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(SignStateTest, DamagedFilesAreCorruptionNamingTheProblem) {
  TempDir dir;
  const std::string path = dir.path() + "/sign_state.json";
  const std::string good = SignStateToJson(Sample());
  struct Case {
    std::string text, fragment;
  };
  std::vector<Case> cases = {
      {"", ""},
      {"{", ""},
      {good.substr(0, good.size() / 2), ""},
      {R"({"height":1,"round":0,"step":4,"block_hash":")" + std::string(64, '0') +
           R"(","locked_round":null,"locked_hash":")" + std::string(64, '0') + "\"}",
       "step"},
      {R"({"height":1,"round":0,"step":1,"block_hash":"zz","locked_round":null,"locked_hash":")" +
           std::string(64, '0') + "\"}",
       "block_hash"},
      {R"({"height":1,"round":0,"step":1,"block_hash":")" + std::string(64, '0') +
           R"(","locked_round":null})",
       "locked_hash"},
      {R"({"height":1,"round":0,"step":1,"block_hash":")" + std::string(64, '0') +
           R"(","locked_round":null,"locked_hash":")" + std::string(64, '0') + R"(","extra":1})",
       "extra"},
      {R"({"height":1,"round":0,"step":1,"block_hash":")" + std::string(64, '0') +
           R"(","locked_round":5,"locked_hash":")" + std::string(64, '0') + "\"}",
       "locked_round"},
      {R"({"height":-1,"round":0,"step":1,"block_hash":")" + std::string(64, '0') +
           R"(","locked_round":null,"locked_hash":")" + std::string(64, '0') + "\"}",
       "height"},
  };
  for (const Case& c : cases) {
    WriteText(path, c.text);
    auto got = LoadSignState(path);
    ASSERT_FALSE(got.ok()) << "accepted: " << c.text;
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << got.status().ToString();
    EXPECT_NE(got.status().message().find(path), std::string::npos);
    EXPECT_NE(got.status().message().find(c.fragment), std::string::npos) << got.status().message();
  }
}

TEST(SignStateTest, ANodeRefusesToStartOnADamagedGuard) {
  TempDir tmp;
  InitOptions o;
  o.home = tmp.path() + "/home";
  o.chain_id = "sign-state-test";
  ASSERT_TRUE(InitHome(o).ok());
  auto home = LoadHome(o.home);
  ASSERT_TRUE(home.ok());
  home->config.p2p_port = 0;
  NodeOptions options = NodeOptionsFromHome(*home);
  // Beside node.key (where it lives), and at data/ (where homes made before kept it).
  for (const std::string& path : {home->SignStatePath(), home->DataDir() + "/sign_state.json"}) {
    WriteText(path, "{\"height\": 1");
    auto node = Node::Open(options);
    ASSERT_FALSE(node.ok()) << path;
    EXPECT_EQ(node.status().code(), StatusCode::kCorruption) << path;
    EXPECT_NE(node.status().message().find("double-sign guard"), std::string::npos) << path;
    EXPECT_TRUE(std::filesystem::exists(path)) << "a damaged guard is left for the operator";
    std::filesystem::remove(path);
  }
}

// Homes made before the guard moved beside node.key kept it in data/: it is moved at start,
// keeping whichever of two guards signed later, and a missing legacy file changes nothing.
TEST(SignStateTest, MigrateMovesTheLegacyGuardAndKeepsTheLaterOne) {
  TempDir tmp;
  const std::string legacy = tmp.path() + "/legacy.json", path = tmp.path() + "/guard.json";
  const Hash32 a = Sha256(AsBytes("a")), b = Sha256(AsBytes("b"));
  auto moved = MigrateSignState(legacy, path);
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(moved->empty());
  EXPECT_FALSE(std::filesystem::exists(path));

  ASSERT_TRUE(SaveSignState(legacy, SignState{7, 1, 2, a, kNoRound, Hash32{}}).ok());
  moved = MigrateSignState(legacy, path);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_NE(moved->find("moved"), std::string::npos) << *moved;
  EXPECT_FALSE(std::filesystem::exists(legacy));
  auto got = LoadSignState(path);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->height, 7u);

  // A legacy guard that signed later (a node that ran an old binary after the move) wins.
  ASSERT_TRUE(SaveSignState(legacy, SignState{9, 0, 1, b, kNoRound, Hash32{}}).ok());
  ASSERT_TRUE(MigrateSignState(legacy, path).ok());
  got = LoadSignState(path);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->height, 9u);
  EXPECT_EQ((*got)->block_hash, b);

  // An older legacy guard (a restored data/) is removed; the current one stays.
  ASSERT_TRUE(SaveSignState(legacy, SignState{3, 0, 3, a, kNoRound, Hash32{}}).ok());
  moved = MigrateSignState(legacy, path);
  ASSERT_TRUE(moved.ok());
  EXPECT_NE(moved->find("stale"), std::string::npos) << *moved;
  EXPECT_FALSE(std::filesystem::exists(legacy));
  got = LoadSignState(path);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->height, 9u);

  // A damaged current guard: an error, and the legacy file is left where it was.
  ASSERT_TRUE(SaveSignState(legacy, SignState{3, 0, 3, a, kNoRound, Hash32{}}).ok());
  WriteText(path, "not json");
  EXPECT_FALSE(MigrateSignState(legacy, path).ok());
  EXPECT_TRUE(std::filesystem::exists(legacy));
}

}  // namespace
}  // namespace consent
