// Tests of the consentd executable as a real process: init/start/dev, CONSENT_HOME, exit codes
// (0 clean, 1 runtime error, 2 usage), the start-up log line, the API answering for this node,
// JSON log lines, a clean shutdown on SIGTERM and SIGINT that leaves a store that reopens, and
// `consentd testnet` (its homes, its summary, its refusals, and the homes starting).
// The binary is found beside the test binary (build/node/consentd); node_tests does not depend on
// it in CMake, so build it first (`ninja consentd node_tests`); if it is missing these tests are
// skipped and say why.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "crypto/hex.h"
#include "node/home.h"
#include "node/node.h"
#include "node/sign_state.h"
#include "node_test_util.h"

namespace consent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TempDir;

std::string ConsentdPath() {
  return (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "node" / "consentd")
      .string();
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts consentd with `args`, stdout and stderr to `log`, extra environment `env`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::string>& env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    std::string bin = ConsentdPath();
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, std::chrono::seconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
}

int RunConsentd(const std::vector<std::string>& args, const std::string& log,
                const std::vector<std::string>& env = {}) {
  return WaitExit(Spawn(args, log, env));
}

bool WaitForLog(const std::string& log, const std::string& text, std::chrono::seconds t = 20s) {
  auto deadline = std::chrono::steady_clock::now() + t;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Slurp(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// The port in the start-up line "API http://127.0.0.1:PORT,", or 0.
uint16_t ApiPort(const std::string& log_text) {
  const std::string marker = "API http://127.0.0.1:";
  size_t at = log_text.find(marker);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(log_text.substr(at + marker.size())));
}

// A minimal HTTP/1.1 GET over loopback; returns the whole response, or "" on failure.
std::string HttpGet(uint16_t port, const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

class ConsentdProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(ConsentdPath())) {
      GTEST_SKIP() << ConsentdPath() << " not built (it links once net/ provides ApiServer)";
    }
  }
  // `consentd init` of tmp_/h with the API and peer links on ephemeral loopback ports; the home.
  std::string InitEphemeralHome() {
    const std::string home = tmp_.path() + "/h";
    const std::string log = tmp_.path() + "/init.log";
    EXPECT_EQ(
        RunConsentd({"init", "--home", home, "--api", "127.0.0.1:0", "--p2p", "127.0.0.1:0"}, log),
        0)
        << Slurp(log);
    return home;
  }
  TempDir tmp_;
};

TEST_F(ConsentdProcessTest, UsageErrorsExitTwo) {
  const std::string log = tmp_.path() + "/log";
  EXPECT_EQ(RunConsentd({}, log), 2);
  EXPECT_EQ(RunConsentd({"frobnicate"}, log), 2);
  EXPECT_EQ(RunConsentd({"start"}, log), 2);  // --home missing
  EXPECT_EQ(RunConsentd({"init", "--home", tmp_.path() + "/h", "--bogus"}, log), 2);
  EXPECT_EQ(RunConsentd({"--help"}, log), 0);
  EXPECT_NE(Slurp(log).find("init"), std::string::npos);
}

TEST_F(ConsentdProcessTest, RuntimeErrorsExitOneWithAMessage) {
  const std::string log = tmp_.path() + "/log";
  EXPECT_EQ(RunConsentd({"start", "--home", tmp_.path() + "/missing"}, log), 1);
  EXPECT_NE(Slurp(log).find("consentd init"), std::string::npos) << Slurp(log);
  const std::string home = tmp_.path() + "/h";
  EXPECT_EQ(RunConsentd({"init", "--home", home}, log), 0);
  EXPECT_EQ(RunConsentd({"init", "--home", home}, log), 1);
  EXPECT_NE(Slurp(log).find("refusing to overwrite"), std::string::npos) << Slurp(log);
}

// Bad values of init's and testnet's arguments are usage errors (2), like missing ones; nothing
// is created.
TEST_F(ConsentdProcessTest, BadArgumentValuesExitTwo) {
  const std::string log = tmp_.path() + "/log";
  const std::string home = tmp_.path() + "/h";
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{
           {"--chain-id", "Bad Id"},
           {"--api", "127.0.0.1"},
           {"--api", "localhost:1"},
           {"--api", "127.0.0.1:99999"},
           {"--p2p", "127.0.0.1:"},
           {"--api", "127.0.0.1:7000", "--p2p", "127.0.0.1:7000"}}) {
    std::vector<std::string> args = {"init", "--home", home};
    args.insert(args.end(), extra.begin(), extra.end());
    EXPECT_EQ(RunConsentd(args, log), 2) << extra[0] << " " << extra[1] << ": " << Slurp(log);
    EXPECT_NE(Slurp(log).find("consentd: "), std::string::npos) << Slurp(log);  // a message
  }
  EXPECT_FALSE(fs::exists(home));
  const std::string out = tmp_.path() + "/net";
  EXPECT_EQ(RunConsentd({"testnet", "--validators", "2", "--out", out, "--chain-id", "BAD"}, log),
            2)
      << Slurp(log);
  EXPECT_EQ(
      RunConsentd({"testnet", "--validators", "2", "--out", out, "--base-port", "65534"}, log), 2)
      << Slurp(log);
  EXPECT_NE(Slurp(log).find("--base-port"), std::string::npos) << Slurp(log);
  EXPECT_FALSE(fs::exists(out));
}

// A data directory whose store probe fails (here a symlink loop, which stops root too; as QA saw
// it, a data/ the node's user cannot search) is a critical log line and exit 1, not an abort.
TEST_F(ConsentdProcessTest, UnreadableDataDirExitsOneWithAMessage) {
  const std::string home = tmp_.path() + "/h";
  const std::string log = tmp_.path() + "/log";
  ASSERT_EQ(RunConsentd({"init", "--home", home, "--api", "127.0.0.1:0"}, log), 0) << Slurp(log);
  fs::remove_all(home + "/data");
  fs::create_directory_symlink("data", home + "/data");
  EXPECT_EQ(RunConsentd({"start", "--home", home}, log), 1) << Slurp(log);
  const std::string text = Slurp(log);
  EXPECT_NE(text.find("critical cannot start: cannot open the store at " + home + "/data: "),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("terminate called"), std::string::npos) << text;
}

// Starting a home that is already running is refused with the likely cause, said once.
TEST_F(ConsentdProcessTest, SecondStartOnARunningHomeSaysItIsRunning) {
  const std::string home = InitEphemeralHome();
  const std::string log = tmp_.path() + "/log";
  ASSERT_FALSE(HasFailure());
  pid_t pid = Spawn({"start", "--home", home}, log);
  ASSERT_TRUE(WaitForLog(log, "consentd started")) << Slurp(log);
  const std::string log2 = tmp_.path() + "/log2";
  EXPECT_EQ(RunConsentd({"start", "--home", home}, log2), 1) << Slurp(log2);
  const std::string text = Slurp(log2);
  const std::string want = "another consentd is probably running on this home (LOCK held)";
  EXPECT_NE(text.find(want), std::string::npos) << text;
  const size_t first = text.find("cannot open the store at");
  EXPECT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("cannot open the store at", first + 1), std::string::npos) << text;
  EXPECT_EQ(text.find("opening the store"), std::string::npos) << text;
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0) << Slurp(log);
}

// Log lines name levels as log.level does: "warn", not spdlog's "warning". A taken p2p port is
// such a warning for the dev node (one validator, no peers), which still starts; with persistent
// peers configured the node needs its listener, and stops with exit 1 as for a taken API port.
TEST_F(ConsentdProcessTest, TakenP2pPortWarnsForADevNodeAndIsFatalWithPeers) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string taken = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const std::string home = tmp_.path() + "/h";
  const std::string log = tmp_.path() + "/log";
  ASSERT_EQ(RunConsentd({"init", "--home", home, "--api", "127.0.0.1:0", "--p2p", taken}, log), 0)
      << Slurp(log);
  pid_t pid = Spawn({"start", "--home", home}, log);
  ASSERT_TRUE(WaitForLog(log, "consentd started")) << Slurp(log);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0) << Slurp(log);
  std::string text = Slurp(log);
  EXPECT_NE(text.find("Z warn not accepting peer links"), std::string::npos) << text;
  EXPECT_EQ(text.find(" warning "), std::string::npos) << text;

  std::string config = Slurp(home + "/config.toml");
  const std::string peers = "persistent_peers = []";
  ASSERT_NE(config.find(peers), std::string::npos) << config;
  config.replace(config.find(peers), peers.size(), "persistent_peers = [\"127.0.0.1:1\"]");
  std::ofstream(home + "/config.toml", std::ios::trunc) << config;
  EXPECT_EQ(RunConsentd({"start", "--home", home}, log), 1) << Slurp(log);
  text = Slurp(log);
  EXPECT_NE(text.find("critical cannot start: p2p: cannot listen on " + taken), std::string::npos)
      << text;
  EXPECT_NE(text.find("this node needs inbound peer links"), std::string::npos) << text;
  close(fd);
}

// The first signal's "shutting down" line comes before any line about a later one.
TEST_F(ConsentdProcessTest, RepeatedSignalsAreLoggedInOrder) {
  const std::string home = InitEphemeralHome();
  const std::string log = tmp_.path() + "/log";
  ASSERT_FALSE(HasFailure());
  for (int run = 0; run < 3; ++run) {
    const std::string run_log = tmp_.path() + "/log." + std::to_string(run);  // fresh per run
    pid_t pid = Spawn({"start", "--home", home}, run_log);
    ASSERT_TRUE(WaitForLog(run_log, "consentd started")) << Slurp(run_log);
    kill(pid, SIGTERM);
    kill(pid, SIGINT);
    kill(pid, SIGTERM);
    EXPECT_EQ(WaitExit(pid), 0) << Slurp(run_log);
    const std::string text = Slurp(run_log);
    const size_t first = text.find(", shutting down");
    ASSERT_NE(first, std::string::npos) << text;
    const size_t again = text.find("already shutting down");
    if (again != std::string::npos) {
      EXPECT_LT(first, again) << text;
    }
  }
}

// A validator whose sign state holds a lock on a block it no longer has (locked_proposal.bin
// lost) says so at start, naming the block, rather than stalling silently at that height.
TEST_F(ConsentdProcessTest, ALockWithoutItsBlockIsNamedAtStart) {
  const std::string home = InitEphemeralHome();
  ASSERT_FALSE(HasFailure());
  Hash32 lost{};
  lost.fill(0xab);
  ASSERT_TRUE(
      SaveSignState(home + "/data/sign_state.json", SignState{1, 0, 3, lost, 0, lost}).ok());
  const std::string log = tmp_.path() + "/log";
  pid_t pid = Spawn({"start", "--home", home}, log);
  ASSERT_TRUE(WaitForLog(log, "consentd started")) << Slurp(log);
  EXPECT_TRUE(WaitForLog(log, "locked on block " + ToHex(lost) + " at height 1 round 0"))
      << Slurp(log);
  EXPECT_NE(Slurp(log).find("does not hold that block"), std::string::npos) << Slurp(log);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0) << Slurp(log);
}

TEST_F(ConsentdProcessTest, StartLogsAndShutsDownCleanlyOnSignals) {
  const std::string home = tmp_.path() + "/h";
  const std::string init_log = tmp_.path() + "/init.log";
  // CONSENT_HOME replaces --home; port 0 picks a free port.
  ASSERT_EQ(RunConsentd({"init", "--api", "127.0.0.1:0", "--chain-id", "proc-test"}, init_log,
                        {"CONSENT_HOME=" + home}),
            0)
      << Slurp(init_log);
  ASSERT_TRUE(LoadHome(home).ok());
  for (int sig : {SIGTERM, SIGINT}) {
    const std::string log = tmp_.path() + "/log." + std::to_string(sig);  // fresh per run
    pid_t pid = Spawn({"start"}, log, {"CONSENT_HOME=" + home});
    ASSERT_TRUE(WaitForLog(log, "consentd started")) << Slurp(log);
    std::string text = Slurp(log);
    EXPECT_NE(text.find("API http://127.0.0.1:"), std::string::npos) << text;
    EXPECT_NE(text.find("chain proc-test, height 0"), std::string::npos) << text;
    EXPECT_NE(text.find("validator key " + ToHex(LoadHome(home)->key.public_key)),
              std::string::npos)
        << text;
    // The API serves this node.
    const uint16_t port = ApiPort(text);
    ASSERT_NE(port, 0) << text;
    std::string status = HttpGet(port, "/v1/status");
    EXPECT_NE(status.find("200 OK"), std::string::npos) << status;
    EXPECT_NE(status.find("\"chain_id\":\"proc-test\""), std::string::npos) << status;
    EXPECT_NE(status.find("\"ready\":true"), std::string::npos) << status;
    kill(pid, sig);
    EXPECT_EQ(WaitExit(pid), 0) << Slurp(log);
    EXPECT_NE(Slurp(log).find("clean shutdown"), std::string::npos) << Slurp(log);
  }
  // The store reopens (its open-time checks pass).
  auto node = Node::Open(NodeOptionsFromHome(*LoadHome(home)));
  EXPECT_TRUE(node.ok()) << node.status().ToString();
}

TEST_F(ConsentdProcessTest, DevInitsOnceAndLogsJsonLines) {
  const std::string home = tmp_.path() + "/dev";
  const std::string log = tmp_.path() + "/log";
  ASSERT_EQ(RunConsentd({"init", "--home", home, "--api", "127.0.0.1:0"}, log), 0);
  std::string config = Slurp(home + "/config.toml");
  config.replace(config.find("format = \"plain\""), 16, "format = \"json\"");
  std::ofstream(home + "/config.toml", std::ios::trunc) << config;
  const std::string key_before = Slurp(home + "/node.key");
  pid_t pid = Spawn({"dev", "--home", home}, log);
  ASSERT_TRUE(WaitForLog(log, "consentd started")) << Slurp(log);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(Slurp(home + "/node.key"), key_before);  // dev did not re-init
  std::istringstream lines(Slurp(log));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << line;
    if (!j.is_discarded()) {
      EXPECT_TRUE(j.contains("msg") && j.contains("level")) << line;
    }
    ++n;
  }
  EXPECT_GE(n, 2);
}

TEST_F(ConsentdProcessTest, DevCreatesAMissingHome) {
  const std::string home = tmp_.path() + "/fresh";
  const std::string log = tmp_.path() + "/log";
  // dev on a missing home writes the defaults (API port 7800), which another process on a shared
  // machine may hold: both a clean start and "address in use" (exit 1) are accepted here.
  pid_t pid = Spawn({"dev"}, log, {"CONSENT_HOME=" + home});
  ASSERT_TRUE(WaitForLog(log, "initialised a development home")) << Slurp(log);
  EXPECT_TRUE(LoadHome(home).ok());
  if (WaitForLog(log, "consentd started", 10s)) {
    kill(pid, SIGTERM);
    EXPECT_EQ(WaitExit(pid), 0);
  } else {
    EXPECT_EQ(WaitExit(pid), 1) << Slurp(log);
  }
}

// A base port P such that P .. P+count-1 are free on 127.0.0.1 now (or 0).
uint16_t FreePortRange(int count) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int base = 20000 + static_cast<int>((getpid() * 7919 + attempt * 104729) % 40000);
    bool free = true;
    for (int p = base; free && p < base + count; ++p) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(p));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
    }
    if (free) return static_cast<uint16_t>(base);
  }
  return 0;
}

TEST_F(ConsentdProcessTest, TestnetCreatesHomesThatStart) {
  const std::string out = tmp_.path() + "/net";
  const std::string log = tmp_.path() + "/log";
  const uint16_t base = FreePortRange(6);
  ASSERT_NE(base, 0);
  ASSERT_EQ(RunConsentd({"testnet", "--validators", "2", "--followers", "1", "--out", out,
                         "--base-port", std::to_string(base), "--chain-id", "proc-net"},
                        log),
            0)
      << Slurp(log);
  // The summary: every home, its ports, and how to start and stop them.
  const std::string summary = Slurp(log);
  for (const std::string& want :
       {std::string("2 validators and 1 follower"), out + "/node2",
        "http://127.0.0.1:" + std::to_string(base + 4), "127.0.0.1:" + std::to_string(base + 5),
        std::string("follower"), " start --home " + out + "/node$i", std::string("kill -TERM")}) {
    EXPECT_NE(summary.find(want), std::string::npos) << want << "\n" << summary;
  }
  for (int i = 0; i < 3; ++i) {
    auto home = LoadHome(out + "/node" + std::to_string(i));
    ASSERT_TRUE(home.ok()) << home.status().ToString();
    EXPECT_EQ(home->is_validator, i < 2);
    EXPECT_EQ(home->config.api.port, base + 2 * i);
    EXPECT_EQ(home->config.p2p_persistent_peers.size(), 2u);
  }
  // Refusals: the same --out again (nothing changes), a usage error.
  const std::string genesis = Slurp(out + "/genesis.json");
  EXPECT_EQ(RunConsentd({"testnet", "--validators", "2", "--out", out}, log), 1);
  EXPECT_NE(Slurp(log).find("refusing to overwrite"), std::string::npos) << Slurp(log);
  EXPECT_EQ(Slurp(out + "/genesis.json"), genesis);
  EXPECT_EQ(RunConsentd({"testnet", "--validators", "0", "--out", tmp_.path() + "/x"}, log), 2);
  EXPECT_EQ(RunConsentd({"testnet", "--validators", "65", "--out", tmp_.path() + "/x"}, log), 2);
  EXPECT_EQ(RunConsentd({"testnet", "--out", tmp_.path() + "/x"}, log), 2);
  EXPECT_FALSE(fs::exists(tmp_.path() + "/x"));

  // Each home starts on its own ports (with the shared chain) and stops cleanly on SIGTERM.
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    pids.push_back(Spawn({"start", "--home", out + "/node" + std::to_string(i)},
                         tmp_.path() + "/node" + std::to_string(i) + ".log"));
  }
  for (int i = 0; i < 3; ++i) {
    const std::string node_log = tmp_.path() + "/node" + std::to_string(i) + ".log";
    ASSERT_TRUE(WaitForLog(node_log, "consentd started")) << Slurp(node_log);
    EXPECT_EQ(ApiPort(Slurp(node_log)), base + 2 * i) << Slurp(node_log);
    std::string status = HttpGet(static_cast<uint16_t>(base + 2 * i), "/v1/status");
    EXPECT_NE(status.find("\"chain_id\":\"proc-net\""), std::string::npos) << status;
    EXPECT_NE(status.find("\"name\":\"node1\""), std::string::npos) << status;
  }
  for (pid_t pid : pids) kill(pid, SIGTERM);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(WaitExit(pids[i]), 0) << Slurp(tmp_.path() + "/node" + std::to_string(i) + ".log");
  }
}

}  // namespace
}  // namespace consent
