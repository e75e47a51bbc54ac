// Tests of node/config: the defaults round trip through DefaultConfigToml, every setting can be
// changed, and each bad key, type or range is an error that names the key and the line.
#include "node/config.h"

#include <gtest/gtest.h>

#include <spdlog/fmt/fmt.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace consent {
namespace {

::testing::AssertionResult FailsWith(const Result<Config>& r, std::string_view fragment) {
  if (r.ok()) return ::testing::AssertionFailure() << "expected an error with '" << fragment << "'";
  if (r.status().message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "expected '" << fragment << "' in '" << r.status().message() << "'";
  }
  if (r.status().code() != StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << r.status().ToString();
  }
  return ::testing::AssertionSuccess();
}

TEST(ConfigTest, DefaultsMatchTheSpec) {
  Config c;
  EXPECT_EQ(c.api.listen_address, "127.0.0.1");
  EXPECT_EQ(c.api.port, 7800);
  EXPECT_EQ(c.p2p_listen_address, "127.0.0.1");
  EXPECT_EQ(c.p2p_port, 7801);
  EXPECT_EQ(c.block_interval_ms, 20u);
  EXPECT_EQ(c.max_txs_per_block, 4000u);
  EXPECT_EQ(c.mempool_capacity, 20000u);
  EXPECT_EQ(c.block_cache_mib, 64u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, LogFormat::kPlain);
  EXPECT_TRUE(c.p2p_listen);
  EXPECT_TRUE(c.p2p_persistent_peers.empty());
  EXPECT_EQ(c.p2p_max_peers, 50u);
  EXPECT_EQ(c.p2p_ban_seconds, 60u);
  EXPECT_EQ(c.p2p_max_msgs_per_sec, 20000u);
  EXPECT_EQ(c.p2p_relay_after_ms, 2000u);
  EXPECT_EQ(c.p2p_max_inbound_per_ip, 8u);
  EXPECT_EQ(c.p2p_max_pending_per_ip, 8u);
  EXPECT_EQ(c.p2p_handshakes_per_ip_per_sec, 10.0);
  EXPECT_EQ(c.p2p_guest_msgs_per_sec, 2000u);
  EXPECT_EQ(c.p2p_guest_bytes_per_sec, 4u << 20);
  EXPECT_EQ(c.consensus.propose_base_ms, 1000u);
  EXPECT_EQ(c.consensus.propose_delta_ms, 500u);
  EXPECT_EQ(c.consensus.prevote_base_ms, 500u);
  EXPECT_EQ(c.consensus.prevote_delta_ms, 500u);
  EXPECT_EQ(c.consensus.precommit_base_ms, 500u);
  EXPECT_EQ(c.consensus.precommit_delta_ms, 500u);
  EXPECT_EQ(c.consensus.max_timeout_ms, 30000u);
  EXPECT_GE(c.VerifyThreads(), 1u);
  c.verify_threads = 3;
  EXPECT_EQ(c.VerifyThreads(), 3u);
}

TEST(ConfigTest, DefaultTomlRoundTripsAndListsEverySetting) {
  std::string text = DefaultConfigToml();
  auto r = ParseConfig(text, "config.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << text;
  EXPECT_TRUE(*r == Config{});
  for (const char* key : {"[node]",
                          "[storage]",
                          "[log]",
                          "[api]",
                          "[p2p]",
                          "data_dir =",
                          "block_interval_ms = 20",
                          "max_txs_per_block = 4000",
                          "mempool_capacity = 20000",
                          "verify_threads = 0",
                          "block_cache_mib = 64",
                          "level = \"info\"",
                          "format = \"plain\"",
                          "port = 7800",
                          "port = 7801",
                          "threads = 2",
                          "max_connections = 1024",
                          "max_header_bytes = 16384",
                          "max_body_bytes = 1048576",
                          "request_timeout_ms = 10000",
                          "idle_timeout_ms = 60000",
                          "wait_commit_timeout_ms = 30000",
                          "max_txs_per_request = 1000",
                          "write_rate_per_s = 200.0",
                          "write_burst = 400.0",
                          "ws_max_message_bytes = 65536",
                          "ws_max_queue_bytes = 1048576",
                          "ws_max_streams = 256",
                          "[consensus]",
                          "listen = true",
                          "persistent_peers = []",
                          "max_peers = 50",
                          "ban_seconds = 60",
                          "max_msgs_per_sec = 20000",
                          "timeout_propose_ms = 1000",
                          "timeout_propose_delta_ms = 500",
                          "timeout_prevote_ms = 500",
                          "timeout_prevote_delta_ms = 500",
                          "timeout_precommit_ms = 500",
                          "timeout_precommit_delta_ms = 500",
                          "max_timeout_ms = 30000",
                          "max_connections_per_ip = 64",
                          "ws_max_streams_per_ip = 32",
                          "ws_idle_timeout_ms = 60000",
                          "write_tx_rate_per_s = 20000.0",
                          "write_tx_burst = 40000.0",
                          "write_bytes_per_s = 33554432.0",
                          "write_bytes_burst = 67108864.0"}) {
    EXPECT_NE(text.find(key), std::string::npos) << key;
  }
  // Every setting line is preceded by a comment line.
  size_t settings = 0, commented = 0;
  std::string prev, line;
  for (char ch : text + "\n") {
    if (ch != '\n') {
      line += ch;
      continue;
    }
    if (line.find(" = ") != std::string::npos && line[0] != '#') {
      ++settings;
      if (!prev.empty() && prev[0] == '#') ++commented;
    }
    prev = line;
    line.clear();
  }
  EXPECT_EQ(settings, 53u);  // 5 node, 2 storage, 2 log, 23 api, 13 p2p, 8 consensus
  EXPECT_EQ(commented, settings);
}

TEST(ConfigTest, EverySettingChangesAndRoundTrips) {
  Config c;
  c.data_dir = "/var/lib/consent \"x\"";
  c.block_interval_ms = 0;
  c.max_txs_per_block = 5000;
  c.mempool_capacity = 7;
  c.verify_threads = 4;
  c.block_cache_mib = 256;
  c.page_cache_mib = 0;
  c.p2p_relay_after_ms = 0;
  c.p2p_max_inbound_per_ip = 3;
  c.p2p_max_pending_per_ip = 4;
  c.p2p_handshakes_per_ip_per_sec = 2.5;
  c.p2p_guest_msgs_per_sec = 100;
  c.p2p_guest_bytes_per_sec = 65536;
  c.log_level = "debug";
  c.log_format = LogFormat::kJson;
  c.p2p_listen_address = "::1";
  c.p2p_port = 9001;
  c.api.listen_address = "0.0.0.0";
  c.api.port = 0;
  c.api.threads = 8;
  c.api.max_connections = 10;
  c.api.max_header_bytes = 4096;
  c.api.max_body_bytes = 2048;
  c.api.request_timeout_ms = 500;
  c.api.idle_timeout_ms = 700;
  c.api.wait_commit_timeout_ms = 900;
  c.api.max_txs_per_request = 3;
  c.api.write_rate_per_s = 12.5;
  c.api.write_burst = 3;
  c.api.ws_max_message_bytes = 2048;
  c.api.ws_max_queue_bytes = 1 << 20;
  c.api.ws_max_streams = 0;
  c.p2p_listen = false;
  c.p2p_persistent_peers = {"127.0.0.1:26601", "[::1]:26603", "10.0.0.7:1"};
  c.p2p_max_peers = 1000;
  c.p2p_ban_seconds = 0;
  c.p2p_max_msgs_per_sec = 1;
  c.consensus.propose_base_ms = 3000;
  c.consensus.propose_delta_ms = 0;
  c.consensus.prevote_base_ms = 1;
  c.consensus.prevote_delta_ms = 7;
  c.consensus.precommit_base_ms = 600000;
  c.consensus.precommit_delta_ms = 600000;
  c.consensus.max_timeout_ms = 600000;
  auto r = ParseConfig(ConfigToToml(c), "x.toml");
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << ConfigToToml(c);
  EXPECT_TRUE(*r == c);
  EXPECT_FALSE(*r == Config{});
}

// operator== sees every new field: changing any one of them makes the configs differ.
TEST(ConfigTest, EqualityCoversP2pAndConsensus) {
  std::vector<std::function<void(Config&)>> changes = {
      [](Config& c) { c.p2p_listen = false; },
      [](Config& c) { c.p2p_persistent_peers = {"127.0.0.1:1"}; },
      [](Config& c) { c.p2p_max_peers = 3; },
      [](Config& c) { c.p2p_ban_seconds = 3; },
      [](Config& c) { c.p2p_max_msgs_per_sec = 3; },
      [](Config& c) { c.p2p_max_inbound_per_ip = 3; },
      [](Config& c) { c.p2p_max_pending_per_ip = 3; },
      [](Config& c) { c.p2p_handshakes_per_ip_per_sec = 3; },
      [](Config& c) { c.p2p_guest_msgs_per_sec = 3; },
      [](Config& c) { c.p2p_guest_bytes_per_sec = 3000; },
      [](Config& c) { c.consensus.propose_base_ms = 3; },
      [](Config& c) { c.consensus.propose_delta_ms = 3; },
      [](Config& c) { c.consensus.prevote_base_ms = 3; },
      [](Config& c) { c.consensus.prevote_delta_ms = 3; },
      [](Config& c) { c.consensus.precommit_base_ms = 3; },
      [](Config& c) { c.consensus.precommit_delta_ms = 3; },
      [](Config& c) { c.consensus.max_timeout_ms = 3000; },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    Config c;
    changes[i](c);
    EXPECT_FALSE(c == Config{}) << i;
    auto r = ParseConfig(ConfigToToml(c), "c");
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    EXPECT_TRUE(*r == c) << i;
  }
}

TEST(ConfigTest, PersistentPeers) {
  auto r = ParseConfig(
      "[p2p]\npersistent_peers = [\"127.0.0.1:26601\", \"[::1]:26603\"]\nlisten = false\n", "c");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->p2p_persistent_peers, (std::vector<std::string>{"127.0.0.1:26601", "[::1]:26603"}));
  EXPECT_FALSE(r->p2p_listen);
  // A multi-line array with a trailing comma, as ConfigToToml writes it.
  r = ParseConfig("[p2p]\npersistent_peers = [\n  \"127.0.0.1:1\",\n  \"127.0.0.1:2\",\n]\n", "c");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->p2p_persistent_peers.size(), 2u);

  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = \"127.0.0.1:1\"\n", "c"),
                        "c:2: p2p.persistent_peers: must be an array"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"127.0.0.1:1\", 7]\n", "c"),
                        "p2p.persistent_peers: [1]: must be an \"IP:PORT\" string, got a integer"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"node1:26601\"]\n", "c"),
                        "[0]: 'node1:26601': host must be an IPv4 or IPv6 address"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"127.0.0.1\"]\n", "c"),
                        "expected HOST:PORT"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"127.0.0.1:70000\"]\n", "c"),
                        "port must be a number"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"127.0.0.1:0\"]\n", "c"),
                        "port must be in [1, 65535]"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"::1:5\"]\n", "c"),
                        "an IPv6 address must be in brackets"));
  // Duplicates, also when spelt differently.
  EXPECT_TRUE(FailsWith(
      ParseConfig("[p2p]\npersistent_peers = [\"127.0.0.1:5\", \"127.0.0.2:5\", \"127.0.0.1:5\"]\n",
                  "c"),
      "[2]: \"127.0.0.1:5\" is the same address as [0]"));
  EXPECT_TRUE(
      FailsWith(ParseConfig("[p2p]\npersistent_peers = [\"[::1]:5\", \"[0:0::1]:5\"]\n", "c"),
                "is the same address as [0]"));
  // This node's own address.
  EXPECT_TRUE(
      FailsWith(ParseConfig("[p2p]\nport = 9000\npersistent_peers = [\"127.0.0.1:9000\"]\n", "c"),
                "c:3: p2p.persistent_peers: [0]: \"127.0.0.1:9000\" is this node's own"));
  // At most 64.
  std::string many = "[p2p]\npersistent_peers = [";
  for (int i = 1; i <= 64; ++i) many += "\"127.0.0.1:" + std::to_string(i) + "\",";
  ASSERT_TRUE(ParseConfig(many + "]\n", "c").ok());
  EXPECT_TRUE(
      FailsWith(ParseConfig(many + "\"127.0.0.1:65\"]\n", "c"), "at most 64 peers, got 65"));
}

TEST(ConfigTest, P2pAndConsensusRanges) {
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nlisten = 1\n", "c"),
                        "p2p.listen: must be true or false, got a integer"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nmax_peers = 0\n", "c"), "[1, 1000]"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nmax_peers = 1001\n", "c"), "got 1001"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nban_seconds = 86401\n", "c"), "[0, 86400]"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nban_seconds = -1\n", "c"), "p2p.ban_seconds"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nmax_msgs_per_sec = 0\n", "c"), "[1, 1000000]"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nmax_msgs_per_sec = 1000001\n", "c"), "1000001"));
  for (const char* key :
       {"timeout_propose_ms", "timeout_prevote_ms", "timeout_precommit_ms", "max_timeout_ms"}) {
    EXPECT_TRUE(FailsWith(ParseConfig(fmt::format("[consensus]\n{} = 0\n", key), "c"),
                          fmt::format("consensus.{}: must be an integer in [1, 600000]", key)));
    EXPECT_TRUE(
        FailsWith(ParseConfig(fmt::format("[consensus]\n{} = 600001\n", key), "c"), "got 600001"));
  }
  for (const char* key :
       {"timeout_propose_delta_ms", "timeout_prevote_delta_ms", "timeout_precommit_delta_ms"}) {
    auto r = ParseConfig(fmt::format("[consensus]\n{} = 0\n", key), "c");
    EXPECT_TRUE(r.ok()) << key;
    EXPECT_TRUE(FailsWith(ParseConfig(fmt::format("[consensus]\n{} = -1\n", key), "c"),
                          fmt::format("consensus.{}: must be an integer in [0, 600000]", key)));
    EXPECT_TRUE(
        FailsWith(ParseConfig(fmt::format("[consensus]\n{} = 600001\n", key), "c"), "got 600001"));
  }
  EXPECT_TRUE(
      FailsWith(ParseConfig("[consensus]\ntimeout_propose_ms = \"1s\"\n", "c"), "got a string"));
  EXPECT_TRUE(FailsWith(ParseConfig("[consensus]\ntimeout_commit_ms = 5\n", "c"),
                        "consensus.timeout_commit_ms: unknown key"));
}

TEST(ConfigTest, MaxTimeoutMustCoverEveryBase) {
  auto r = ParseConfig("[consensus]\ntimeout_propose_ms = 30000\nmax_timeout_ms = 30000\n", "c");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->consensus.propose_base_ms, 30000u);
  // A base above the default max: the base's line is named.
  EXPECT_TRUE(FailsWith(ParseConfig("[consensus]\n\ntimeout_prevote_ms = 40000\n", "c"),
                        "c:3: consensus.timeout_prevote_ms: consensus.max_timeout_ms (30000) "
                        "must be at least consensus.timeout_prevote_ms (40000)"));
  // A max below a default base: the max's line is named.
  EXPECT_TRUE(FailsWith(ParseConfig("[consensus]\nmax_timeout_ms = 999\n", "c"),
                        "c:2: consensus.max_timeout_ms: consensus.max_timeout_ms (999) must be at "
                        "least consensus.timeout_propose_ms (1000)"));
  EXPECT_TRUE(FailsWith(ParseConfig("[consensus]\ntimeout_propose_ms = 100\ntimeout_precommit_ms = "
                                    "800\nmax_timeout_ms = 700\n",
                                    "c"),
                        "timeout_precommit_ms (800)"));
  // Deltas are not bounded by the max (the max caps the grown timeout).
  EXPECT_TRUE(ParseConfig("[consensus]\ntimeout_propose_delta_ms = 600000\n", "c").ok());
}

TEST(ConfigTest, ApiAndP2pCannotShareAPort) {
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nport = 7800\n", "c"),
                        "c:2: p2p.port: the API and the peer links cannot share 127.0.0.1:7800"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nport = 7801\n", "c"), "c:2: api.port: the API"));
  EXPECT_TRUE(ParseConfig("[p2p]\nport = 7800\nlisten_address = \"127.0.0.2\"\n", "c").ok());
  EXPECT_TRUE(ParseConfig("[p2p]\nport = 0\n[api]\nport = 0\n", "c").ok());
}

TEST(ConfigTest, EmptyFileAndPartialFilesTakeDefaults) {
  auto r = ParseConfig("", "c");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r == Config{});
  r = ParseConfig("[api]\nport = 9000\nwrite_rate_per_s = 50\n", "c");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->api.port, 9000);
  EXPECT_EQ(r->api.write_rate_per_s, 50.0);  // an integer is accepted for a float setting
  EXPECT_EQ(r->block_interval_ms, 20u);
}

TEST(ConfigTest, UnknownKeysAndTablesAreRejectedWithLine) {
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nport = 1\nprot = 2\n", "config.toml"),
                        "config.toml:3: api.prot: unknown key"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nblock_interval = 5\n", "c"), "node.block_interval"));
  EXPECT_TRUE(FailsWith(ParseConfig("[apii]\nport = 1\n", "c"), "unknown table"));
  EXPECT_TRUE(FailsWith(ParseConfig("port = 1\n", "c"), "c:1: port: unknown top-level key"));
  EXPECT_TRUE(FailsWith(ParseConfig("api = 3\n", "c"), "must be a table"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api.tls]\ncert = \"x\"\n", "c"), "api.tls: unknown key"));
}

TEST(ConfigTest, WrongTypesAreRejected) {
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nport = \"7800\"\n", "c"),
                        "c:2: api.port: must be an integer in [0, 65535], got a string"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nmempool_capacity = 1.5\n", "c"), "got a float"));
  EXPECT_TRUE(FailsWith(ParseConfig("[log]\nlevel = 3\n", "c"), "log.level: must be a string"));
  EXPECT_TRUE(FailsWith(ParseConfig("[log]\nformat = true\n", "c"), "log.format"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nwrite_burst = \"x\"\n", "c"), "must be a number"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\ndata_dir = [1]\n", "c"), "got a array"));
}

TEST(ConfigTest, OutOfRangeValuesAreRejected) {
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nport = 70000\n", "c"), "got 70000"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nport = -1\n", "c"), "api.port"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nmax_txs_per_block = 0\n", "c"), "[1, 10000]"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nmax_txs_per_block = 10001\n", "c"), "got 10001"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nmempool_capacity = 0\n", "c"), "mempool_capacity"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nblock_interval_ms = 60001\n", "c"), "60001"));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\nverify_threads = 257\n", "c"), "verify_threads"));
  EXPECT_TRUE(FailsWith(ParseConfig("[storage]\nblock_cache_mib = 0\n", "c"), "block_cache_mib"));
  EXPECT_TRUE(FailsWith(ParseConfig("[storage]\npage_cache_mib = -1\n", "c"), "page_cache_mib"));
  EXPECT_TRUE(ParseConfig("[storage]\npage_cache_mib = 0\n", "c").ok());
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nwrite_rate_per_s = 0\n", "c"), "write_rate_per_s"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nwrite_burst = inf\n", "c"), "write_burst"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nrequest_timeout_ms = 99\n", "c"), "request_timeout"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nmax_header_bytes = 100\n", "c"), "max_header_bytes"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nthreads = 0\n", "c"), "api.threads"));
}

TEST(ConfigTest, BadStringsAreRejected) {
  EXPECT_TRUE(
      FailsWith(ParseConfig("[api]\nlisten_address = \"localhost\"\n", "c"), "no host names"));
  EXPECT_TRUE(FailsWith(ParseConfig("[p2p]\nlisten_address = \"1.2.3\"\n", "c"), "p2p.listen"));
  EXPECT_TRUE(FailsWith(ParseConfig("[log]\nlevel = \"verbose\"\n", "c"), "must be one of"));
  EXPECT_TRUE(FailsWith(ParseConfig("[log]\nformat = \"xml\"\n", "c"), "\"plain\" or \"json\""));
  EXPECT_TRUE(FailsWith(ParseConfig("[node]\ndata_dir = \"\"\n", "c"), "must not be empty"));
}

TEST(ConfigTest, SyntaxErrorsNameLineAndColumn) {
  auto r = ParseConfig("[api]\nport = 7800\nport = 7801\n", "dup.toml");
  EXPECT_TRUE(FailsWith(r, "dup.toml:3:"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api\n", "s.toml"), "s.toml:1:"));
  EXPECT_TRUE(FailsWith(ParseConfig("[api]\nport = \n", "s.toml"), "TOML syntax error"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto r = LoadConfigFile("/nonexistent/dir/config.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/config.toml"), std::string::npos);
}

TEST(ConfigTest, HostPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:7800", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7800);
  ASSERT_TRUE(ParseHostPort("[::1]:9", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9);
  EXPECT_FALSE(ParseHostPort("127.0.0.1", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("example.com:80", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:65536", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:-1", &host, &port).ok());
  // IPv6 only in brackets (is "::1:5" the address ::1:5 or ::1 port 5?), IPv4 never.
  EXPECT_FALSE(ParseHostPort("::1:5", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("[127.0.0.1]:5", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("[]:5", &host, &port).ok());
}

// docs/operations.md carries a copy of the default config.toml; it must be the current one.
TEST(ConfigTest, OperationsDocHasTheCurrentDefaults) {
  std::ifstream in(std::string(CONSENT_SOURCE_DIR) + "/docs/operations.md");
  ASSERT_TRUE(in) << "docs/operations.md missing";
  std::ostringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find("```toml\n" + DefaultConfigToml() + "```"), std::string::npos)
      << "update the config.toml block in docs/operations.md to:\n"
      << DefaultConfigToml();
}

}  // namespace
}  // namespace consent
