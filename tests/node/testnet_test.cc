// Tests of node/testnet (`consentd testnet`): the files and their modes, the genesis, the ports,
// the peers, distinct keys, followers outside the validator set, every home loading like an
// init-made one; refusals (a non-empty OUT, bad counts and ports) that change nothing.
#include "node/testnet.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "crypto/hex.h"
#include "node/home.h"
#include "node_test_util.h"

namespace consent {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned ModeOf(const std::string& path) {
  struct stat sb;
  EXPECT_EQ(::stat(path.c_str(), &sb), 0) << path;
  return sb.st_mode & 0777;
}

size_t Entries(const std::string& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(TestnetTest, FourValidatorsAndAFollower) {
  TempDir tmp;
  TestnetOptions o;
  o.out = tmp.path() + "/net";
  o.validators = 4;
  o.followers = 1;
  o.base_port = 30000;
  o.chain_id = "acme-testnet.1";
  const uint64_t before = NowMs();
  auto net = CreateTestnet(o);
  ASSERT_TRUE(net.ok()) << net.status().ToString();

  // OUT holds genesis.json and node0..node4, nothing else; no temp directory beside it.
  EXPECT_EQ(Entries(o.out), 6u);
  EXPECT_EQ(Entries(tmp.path()), 1u);
  EXPECT_EQ(ModeOf(o.out), 0755u);
  EXPECT_EQ(ModeOf(o.out + "/genesis.json"), 0644u);

  // The genesis: the chain id, a fresh time, validators node0..node3 in order.
  const Genesis& g = net->genesis;
  EXPECT_EQ(g.chain_id, "acme-testnet.1");
  EXPECT_GE(g.genesis_time_ms, before);
  EXPECT_LE(g.genesis_time_ms, NowMs());
  ASSERT_EQ(g.validators.size(), 4u);
  EXPECT_EQ(Slurp(o.out + "/genesis.json"), g.ToJson() + "\n");
  auto parsed = ParseGenesis(Slurp(o.out + "/genesis.json"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->ToJson(), g.ToJson());

  ASSERT_EQ(net->nodes.size(), 5u);
  std::set<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    const TestnetNode& n = net->nodes[i];
    SCOPED_TRACE(n.name);
    EXPECT_EQ(n.name, "node" + std::to_string(i));
    EXPECT_EQ(n.home, o.out + "/node" + std::to_string(i));
    EXPECT_EQ(n.validator, i < 4);
    EXPECT_EQ(n.api_port, 30000 + 2 * i);
    EXPECT_EQ(n.p2p_port, 30000 + 2 * i + 1);
    if (i < 4) {
      EXPECT_EQ(g.validators[i].name, n.name);
      EXPECT_EQ(g.validators[i].public_key, n.key);
    }

    // The home is what init makes: the same files and modes, and it loads.
    EXPECT_EQ(ModeOf(n.home), 0700u);
    EXPECT_EQ(ModeOf(n.home + "/node.key"), 0600u);
    EXPECT_EQ(ModeOf(n.home + "/config.toml"), 0600u);
    EXPECT_EQ(ModeOf(n.home + "/data"), 0700u);
    EXPECT_TRUE(fs::is_empty(n.home + "/data"));
    EXPECT_EQ(Entries(n.home), 4u);
    EXPECT_EQ(Slurp(n.home + "/genesis.json"), Slurp(o.out + "/genesis.json"));
    auto home = LoadHome(n.home);
    ASSERT_TRUE(home.ok()) << home.status().ToString();
    EXPECT_EQ(home->key.public_key, n.key);
    EXPECT_EQ(home->is_validator, i < 4);  // the follower's key is not in the set
    keys.insert(ToHex(home->key.public_key));

    // Its config: its own ports on 127.0.0.1, every other node as a peer, the rest default.
    const Config& c = home->config;
    EXPECT_EQ(c.api.listen_address, "127.0.0.1");
    EXPECT_EQ(c.api.port, n.api_port);
    EXPECT_EQ(c.p2p_listen_address, "127.0.0.1");
    EXPECT_EQ(c.p2p_port, n.p2p_port);
    EXPECT_TRUE(c.p2p_listen);
    std::vector<std::string> want;
    for (int j = 0; j < 5; ++j) {
      if (j != i) want.push_back("127.0.0.1:" + std::to_string(30000 + 2 * j + 1));
    }
    EXPECT_EQ(c.p2p_persistent_peers, want);
    EXPECT_EQ(n.persistent_peers, want);
    Config rest = c;
    rest.api.port = Config{}.api.port;
    rest.p2p_port = Config{}.p2p_port;
    rest.p2p_persistent_peers.clear();
    EXPECT_TRUE(rest == Config{});
  }
  EXPECT_EQ(keys.size(), 5u);  // all keys distinct
}

TEST(TestnetTest, DefaultsOneValidator) {
  TempDir tmp;
  TestnetOptions o;
  o.out = tmp.path() + "/a/b/net/";  // missing parents, trailing slash
  o.validators = 1;
  auto net = CreateTestnet(o);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  EXPECT_EQ(net->genesis.chain_id, "testnet");
  ASSERT_EQ(net->nodes.size(), 1u);
  auto home = LoadHome(tmp.path() + "/a/b/net/node0");
  ASSERT_TRUE(home.ok()) << home.status().ToString();
  EXPECT_TRUE(home->is_validator);
  EXPECT_EQ(home->config.api.port, 26600);
  EXPECT_EQ(home->config.p2p_port, 26601);
  EXPECT_TRUE(home->config.p2p_persistent_peers.empty());
  EXPECT_EQ(Entries(tmp.path() + "/a/b"), 1u);
}

TEST(TestnetTest, AnExistingEmptyDirectoryIsUsed) {
  TempDir tmp;
  fs::create_directories(tmp.path() + "/net");
  TestnetOptions o;
  o.out = tmp.path() + "/net";
  o.validators = 2;
  ASSERT_TRUE(CreateTestnet(o).ok());
  EXPECT_TRUE(LoadHome(o.out + "/node1").ok());
  EXPECT_EQ(Entries(tmp.path()), 1u);
}

TEST(TestnetTest, RefusesANonEmptyDirectoryAndChangesNothing) {
  TempDir tmp;
  TestnetOptions o;
  o.out = tmp.path() + "/net";
  o.validators = 2;
  ASSERT_TRUE(CreateTestnet(o).ok());
  const std::string genesis = Slurp(o.out + "/genesis.json");
  const std::string key = Slurp(o.out + "/node0/node.key");
  auto again = CreateTestnet(o);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("refusing to overwrite"), std::string::npos);
  EXPECT_EQ(Slurp(o.out + "/genesis.json"), genesis);
  EXPECT_EQ(Slurp(o.out + "/node0/node.key"), key);
  EXPECT_EQ(Entries(tmp.path()), 1u);

  // Any non-empty directory, and a file.
  fs::create_directories(tmp.path() + "/other");
  std::ofstream(tmp.path() + "/other/notes.txt") << "x";
  o.out = tmp.path() + "/other";
  EXPECT_EQ(CreateTestnet(o).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Entries(o.out), 1u);
  o.out = tmp.path() + "/other/notes.txt";
  EXPECT_EQ(CreateTestnet(o).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Slurp(o.out), "x");
  EXPECT_EQ(Entries(tmp.path()), 2u);
}

TEST(TestnetTest, BadOptionsAreRefusedAndLeaveNothing) {
  TempDir tmp;
  auto refused = [&](TestnetOptions o, const std::string& fragment) {
    o.out = o.out.empty() ? tmp.path() + "/net" : o.out;
    auto r = CreateTestnet(o);
    if (r.ok()) return ::testing::AssertionFailure() << "accepted; wanted " << fragment;
    if (r.status().code() != StatusCode::kInvalidArgument ||
        r.status().message().find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure() << r.status().ToString() << "; wanted " << fragment;
    }
    return ::testing::AssertionSuccess();
  };
  TestnetOptions o;
  o.validators = 0;
  EXPECT_TRUE(refused(o, "--validators: must be in [1, 64], got 0"));
  o.validators = 65;
  EXPECT_TRUE(refused(o, "got 65"));
  o.validators = -1;
  EXPECT_TRUE(refused(o, "--validators"));
  o.validators = 4;
  o.followers = 65;
  EXPECT_TRUE(refused(o, "--followers: must be in [0, 64], got 65"));
  o.followers = -1;
  EXPECT_TRUE(refused(o, "--followers"));
  o.followers = 0;
  o.base_port = 65530;  // 4 nodes need 8 ports: 65530..65537
  EXPECT_TRUE(refused(o, "--base-port: 4 nodes use ports 65530..65537"));
  o.base_port = 0;
  EXPECT_TRUE(refused(o, "--base-port"));
  o.base_port = 70000;
  EXPECT_TRUE(refused(o, "--base-port"));
  o.base_port = 65528;  // exactly fits
  o.chain_id = "Bad Chain";
  EXPECT_TRUE(refused(o, "--chain-id"));
  o.chain_id = "ok";
  ASSERT_TRUE(fs::is_empty(tmp.path()));
  o.out = tmp.path() + "/fits";
  ASSERT_TRUE(CreateTestnet(o).ok());
  EXPECT_EQ(LoadHome(o.out + "/node3")->config.p2p_port, 65535);
  TestnetOptions empty;
  empty.validators = 1;
  empty.out = "";
  EXPECT_EQ(CreateTestnet(empty).status().code(), StatusCode::kInvalidArgument);
}

// 64 validators and 64 followers: a full mesh would give followers 127 persistent peers, more
// than a config may hold; every node then lists every validator but itself.
TEST(TestnetTest, LargestNetworkListsTheValidators) {
  TempDir tmp;
  TestnetOptions o;
  o.out = tmp.path() + "/net";
  o.validators = 64;
  o.followers = 64;
  auto net = CreateTestnet(o);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  ASSERT_EQ(net->nodes.size(), 128u);
  ASSERT_EQ(net->genesis.validators.size(), 64u);
  auto v = LoadHome(o.out + "/node5");
  auto f = LoadHome(o.out + "/node127");
  ASSERT_TRUE(v.ok() && f.ok());
  EXPECT_TRUE(v->is_validator);
  EXPECT_FALSE(f->is_validator);
  EXPECT_EQ(v->config.p2p_persistent_peers.size(), 63u);
  EXPECT_EQ(f->config.p2p_persistent_peers.size(), 64u);
  EXPECT_EQ(f->config.p2p_persistent_peers.back(), "127.0.0.1:26727");  // node63's p2p port
  EXPECT_GE(v->config.p2p_max_peers, 127u);  // every node links to every validator
  EXPECT_EQ(f->config.api.port, 26600 + 2 * 127);

  // The largest full mesh: 65 nodes, 64 peers each.
  o.out = tmp.path() + "/mesh";
  o.validators = 64;
  o.followers = 1;
  ASSERT_TRUE(CreateTestnet(o).ok());
  EXPECT_EQ(LoadHome(o.out + "/node64")->config.p2p_persistent_peers.size(), 64u);
}

}  // namespace
}  // namespace consent
