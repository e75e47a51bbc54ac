// Tests of node/home: init creates the files with their modes, refuses to overwrite, loads back;
// a tampered genesis is an error naming the file; a key outside the validator set is a follower.
#include "node/home.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "node_test_util.h"

namespace consent {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

unsigned ModeOf(const std::string& path) {
  struct stat sb;
  EXPECT_EQ(::stat(path.c_str(), &sb), 0) << path;
  return sb.st_mode & 0777;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void Overwrite(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

TEST(HomeTest, InitCreatesFilesWithModesAndLoadsBack) {
  TempDir tmp;
  const std::string home = tmp.path() + "/nested/home";
  InitOptions o;
  o.home = home;
  o.chain_id = "acme-test.1";
  o.api = "0.0.0.0:9100";
  o.p2p = "[::1]:9101";
  o.genesis_time_ms = 1'700'000'000'000;
  ASSERT_TRUE(InitHome(o).ok());

  EXPECT_EQ(ModeOf(home), 0700u);
  EXPECT_EQ(ModeOf(home + "/node.key"), 0600u);
  EXPECT_EQ(ModeOf(home + "/data"), 0700u);
  EXPECT_TRUE(fs::is_empty(home + "/data"));
  EXPECT_TRUE(fs::is_regular_file(home + "/genesis.json"));
  EXPECT_TRUE(fs::is_regular_file(home + "/config.toml"));
  // Nothing else, and no temp directory left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(home), fs::directory_iterator()), 4);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path() + "/nested"), fs::directory_iterator()),
            1);

  auto loaded = LoadHome(home);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->is_validator);
  EXPECT_EQ(loaded->genesis.chain_id, "acme-test.1");
  EXPECT_EQ(loaded->genesis.genesis_time_ms, 1'700'000'000'000u);
  ASSERT_EQ(loaded->genesis.validators.size(), 1u);
  EXPECT_EQ(loaded->genesis.validators[0].public_key, loaded->key.public_key);
  EXPECT_EQ(loaded->key.kind, KeyKind::kValidator);
  EXPECT_EQ(loaded->config.api.listen_address, "0.0.0.0");
  EXPECT_EQ(loaded->config.api.port, 9100);
  EXPECT_EQ(loaded->config.p2p_listen_address, "::1");
  EXPECT_EQ(loaded->config.p2p_port, 9101);
  EXPECT_EQ(loaded->DataDir(), home + "/data");
  // The genesis file is the canonical JSON of the loaded genesis.
  EXPECT_EQ(Slurp(home + "/genesis.json"), loaded->genesis.ToJson() + "\n");
}

TEST(HomeTest, DefaultsAndGenesisTimeNow) {
  TempDir tmp;
  InitOptions o;
  o.home = tmp.path() + "/h/";  // trailing slash
  uint64_t before = NowMs();
  ASSERT_TRUE(InitHome(o).ok());
  auto h = LoadHome(tmp.path() + "/h");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->genesis.chain_id, "consent-dev");
  EXPECT_GE(h->genesis.genesis_time_ms, before);
  EXPECT_LE(h->genesis.genesis_time_ms, NowMs());
  EXPECT_TRUE(h->config == Config{});
}

// The API and the peer links on one address, typed as flags: the message names the flag, not a
// line of a config.toml that does not exist yet, and nothing is created.
TEST(HomeTest, ApiAndP2pFlagsMayNotShareAnAddress) {
  TempDir tmp;
  InitOptions o;
  o.home = tmp.path() + "/home";
  o.api = "127.0.0.1:18140";
  o.p2p = "127.0.0.1:18140";
  Status st = InitHome(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "--p2p: the API and the peer links cannot share 127.0.0.1:18140");
  EXPECT_FALSE(fs::exists(o.home));
  o.p2p = "127.0.0.1:18141";
  EXPECT_TRUE(InitHome(o).ok());
}

TEST(HomeTest, RefusesToOverwrite) {
  TempDir tmp;
  const std::string home = tmp.path() + "/home";
  InitOptions o;
  o.home = home;
  ASSERT_TRUE(InitHome(o).ok());
  const std::string key_before = Slurp(home + "/node.key");
  Status st = InitHome(o);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("refusing to overwrite"), std::string::npos) << st.message();
  EXPECT_EQ(Slurp(home + "/node.key"), key_before);

  // A non-empty directory that is not a home is refused too; a file as well.
  fs::create_directories(tmp.path() + "/other");
  Overwrite(tmp.path() + "/other/notes.txt", "x");
  o.home = tmp.path() + "/other";
  EXPECT_EQ(InitHome(o).code(), StatusCode::kAlreadyExists);
  o.home = tmp.path() + "/other/notes.txt";
  EXPECT_EQ(InitHome(o).code(), StatusCode::kAlreadyExists);
  // An empty regular file is not "not empty": the message says what it is.
  Overwrite(tmp.path() + "/afile", "");
  o.home = tmp.path() + "/afile";
  st = InitHome(o);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("exists and is not a directory"), std::string::npos) << st.message();
  EXPECT_EQ(Slurp(tmp.path() + "/afile"), "");

  // An existing empty directory is used.
  fs::create_directories(tmp.path() + "/empty");
  o.home = tmp.path() + "/empty";
  ASSERT_TRUE(InitHome(o).ok());
  EXPECT_EQ(ModeOf(tmp.path() + "/empty"), 0700u);
  EXPECT_TRUE(LoadHome(tmp.path() + "/empty").ok());
}

TEST(HomeTest, BadOptionsLeaveNothingBehind) {
  TempDir tmp;
  InitOptions o;
  o.home = tmp.path() + "/h";
  o.chain_id = "Bad Chain";
  EXPECT_EQ(InitHome(o).code(), StatusCode::kInvalidArgument);
  o.chain_id = "ok";
  o.api = "localhost:1";
  Status st = InitHome(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--api"), std::string::npos);
  o.api.reset();
  o.p2p = "127.0.0.1:99999";
  EXPECT_EQ(InitHome(o).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(HomeTest, MissingOrIncompleteHome) {
  TempDir tmp;
  auto r = LoadHome(tmp.path() + "/nope");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("consentd init"), std::string::npos);
  InitOptions o;
  o.home = tmp.path() + "/h";
  ASSERT_TRUE(InitHome(o).ok());
  fs::remove(o.home + "/config.toml");
  r = LoadHome(o.home);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("config.toml is missing"), std::string::npos);
}

TEST(HomeTest, TamperedFilesAreClearErrors) {
  TempDir tmp;
  InitOptions o;
  o.home = tmp.path() + "/h";
  ASSERT_TRUE(InitHome(o).ok());
  const std::string genesis = Slurp(o.home + "/genesis.json");

  // Unparseable genesis: an error naming the file.
  Overwrite(o.home + "/genesis.json", genesis.substr(0, genesis.size() / 2));
  auto r = LoadHome(o.home);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("genesis.json"), std::string::npos) << r.status().message();

  // An extra field.
  std::string extra = genesis;
  extra.insert(1, "\"admin\": true, ");
  Overwrite(o.home + "/genesis.json", extra);
  EXPECT_FALSE(LoadHome(o.home).ok());

  // A config typo.
  Overwrite(o.home + "/genesis.json", genesis);
  ASSERT_TRUE(LoadHome(o.home).ok());
  Overwrite(o.home + "/config.toml", "[node]\nblock_intervl_ms = 5\n");
  r = LoadHome(o.home);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("config.toml:2: node.block_intervl_ms: unknown key"),
            std::string::npos)
      << r.status().message();

  // A key readable by others.
  Overwrite(o.home + "/config.toml", "");
  ASSERT_TRUE(LoadHome(o.home).ok());
  ::chmod((o.home + "/node.key").c_str(), 0644);
  EXPECT_EQ(LoadHome(o.home).status().code(), StatusCode::kPermissionDenied);
}

TEST(HomeTest, KeyNotInValidatorSetIsAFollower) {
  TempDir tmp;
  InitOptions a, b;
  a.home = tmp.path() + "/a";
  b.home = tmp.path() + "/b";
  ASSERT_TRUE(InitHome(a).ok());
  ASSERT_TRUE(InitHome(b).ok());
  // b takes a's chain: its own key is not in a's validator set.
  fs::copy_file(a.home + "/genesis.json", b.home + "/genesis.json",
                fs::copy_options::overwrite_existing);
  auto h = LoadHome(b.home);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_FALSE(h->is_validator);
  EXPECT_TRUE(LoadHome(a.home)->is_validator);
}

TEST(HomeTest, NonValidatorKeyKindIsRejected) {
  TempDir tmp;
  InitOptions o;
  o.home = tmp.path() + "/h";
  ASSERT_TRUE(InitHome(o).ok());
  fs::remove(o.home + "/node.key");
  ASSERT_TRUE(WriteKeyFile(o.home + "/node.key", KeyFile::Generate(KeyKind::kBrand)).ok());
  auto r = LoadHome(o.home);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"validator\""), std::string::npos);
}

// `consentd testnet` hands init the key, the genesis and the config of each node.
TEST(HomeTest, InitWithAGivenKeyGenesisAndConfig) {
  TempDir tmp;
  const KeyFile mine = KeyFile::Generate(KeyKind::kValidator);
  const KeyFile other = KeyFile::Generate(KeyKind::kValidator);
  Genesis g;
  g.chain_id = "shared.1";
  g.genesis_time_ms = 1'700'000'000'000;
  g.validators = {Validator{"node0", other.public_key}, Validator{"node1", mine.public_key}};
  Config config;
  config.api.port = 9200;
  config.p2p_port = 9201;
  config.p2p_persistent_peers = {"127.0.0.1:9203"};
  config.consensus.propose_base_ms = 2000;
  InitOptions o;
  o.home = tmp.path() + "/h";
  o.key = mine;
  o.genesis = g;
  o.config = config;
  o.chain_id = "ignored-when-a-genesis-is-given";
  ASSERT_TRUE(InitHome(o).ok());
  auto h = LoadHome(o.home);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->key.public_key, mine.public_key);
  EXPECT_EQ(h->key.secret, mine.secret);
  EXPECT_EQ(h->genesis.ToJson(), g.ToJson());
  EXPECT_TRUE(h->is_validator);
  EXPECT_TRUE(h->config == config);
  EXPECT_EQ(ModeOf(o.home + "/node.key"), 0600u);

  // --api / --p2p still override the given config's addresses.
  o.home = tmp.path() + "/h2";
  o.api = "127.0.0.1:9300";
  ASSERT_TRUE(InitHome(o).ok());
  EXPECT_EQ(LoadHome(o.home)->config.api.port, 9300);
  EXPECT_EQ(LoadHome(o.home)->config.p2p_port, 9201);

  // A key of another kind, a bad genesis or a contradictory config: refused, nothing left.
  o.api.reset();
  o.home = tmp.path() + "/bad";
  o.key = KeyFile::Generate(KeyKind::kBrand);
  EXPECT_EQ(InitHome(o).code(), StatusCode::kInvalidArgument);
  o.key = mine;
  Genesis dup = g;
  dup.validators[0].public_key = mine.public_key;  // duplicate keys
  o.genesis = dup;
  EXPECT_EQ(InitHome(o).code(), StatusCode::kInvalidArgument);
  o.genesis = g;
  o.config->p2p_persistent_peers = {"127.0.0.1:9201"};  // its own address
  Status st = InitHome(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("own"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(o.home));
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 2);
}

}  // namespace
}  // namespace consent
