// consentd: the consent-ledger node daemon.
//
//   consentd init --home DIR [--chain-id ID] [--api HOST:PORT] [--p2p HOST:PORT]
//   consentd start --home DIR
//   consentd dev [--home DIR]        (init if missing, then start; default home ./.consent-dev)
//   consentd testnet --validators N [--followers M] --out DIR [--base-port P] [--chain-id ID]
//                                    (the homes of an N+M node network on 127.0.0.1)
//
// CONSENT_HOME replaces --home. SIGINT and SIGTERM start a clean shutdown: the API stops, the
// block in progress finishes (its commit is atomic), the store is closed. Signals are taken by a
// dedicated thread with sigwait, so no work runs in a signal handler. Exit codes: 0 clean,
// 1 runtime error (with a message), 2 usage.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#ifdef CONSENT_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "crypto/hex.h"
#include "net/api_server.h"
#include "node/home.h"
#include "node/logging.h"
#include "node/node.h"
#include "node/testnet.h"

namespace consent {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr char kDevHome[] = "./.consent-dev";

// The allocator this binary was linked with, for the start-up log line (operators comparing
// figures across machines need to know; see CMakeLists.txt consent_malloc).
std::string AllocatorName() {
#ifdef CONSENT_WITH_JEMALLOC
  const char* version = nullptr;
  size_t len = sizeof version;
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version != nullptr) {
    std::string v = version;  // "5.3.0-0-g<commit>": keep the release number
    return "jemalloc " + v.substr(0, v.find('-'));
  }
  return "jemalloc";
#else
  return "glibc malloc";
#endif
}

// Before logging is configured: a plain message on stderr.
int Fail(const Status& st) {
  std::fprintf(stderr, "consentd: %s\n", st.message().c_str());
  return kExitError;
}

// For init and testnet, whose only inputs are the command line: a value the arguments got wrong
// (kInvalidArgument: a bad chain id, address or port) is a usage error; anything else (an
// existing home, a file-system failure) a runtime error.
int FailArgs(const Status& st) {
  Fail(st);
  return st.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError;
}

// After: through the configured logger (plain or JSON lines, on stderr).
int FailLogged(const std::string& what, const Status& st) {
  spdlog::critical("{}: {}", what, st.message());
  return kExitError;
}

// Waits for SIGINT/SIGTERM (on its own thread, with sigwait) or for a fatal node error.
class StopWaiter {
 public:
  // REQUIRES: SIGINT, SIGTERM and SIGUSR1 are blocked in every thread (BlockSignals()).
  StopWaiter() : thread_([this] { SignalLoop(); }) {}
  ~StopWaiter() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      exiting_ = true;
    }
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  static void BlockSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
  }
  void Fatal(const Status& st) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fatal_) fatal_ = st;
    cv_.notify_all();
  }
  // Returns the fatal error, or nullopt when a signal asked to stop.
  std::optional<Status> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return signal_ != 0 || fatal_.has_value(); });
    return fatal_;
  }

 private:
  void SignalLoop() {
    pthread_setname_np(pthread_self(), "consent-signals");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (exiting_) return;
      if (sig == SIGUSR1) continue;
      if (signal_ != 0) {
        spdlog::warn("already shutting down (received {} again)", strsignal(sig));
        continue;
      }
      // Logged here, under mu_, so that it precedes any "already shutting down" line.
      spdlog::info("received {}, shutting down", strsignal(sig));
      signal_ = sig;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int signal_ = 0;               // guarded by mu_
  std::optional<Status> fatal_;  // guarded by mu_
  bool exiting_ = false;         // guarded by mu_
  std::thread thread_;
};

std::string Url(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int RunInit(const InitOptions& o) {
  if (Status st = InitHome(o); !st.ok()) return FailArgs(st);
  auto home = LoadHome(o.home);
  if (!home.ok()) return Fail(home.status());
  std::printf(
      "initialised %s\n  chain id:      %s\n  validator key: %s\n  API:           %s\n"
      "start it with:  consentd start --home %s\n",
      o.home.c_str(), home->genesis.chain_id.c_str(), ToHex(home->key.public_key).c_str(),
      Url(home->config.api.listen_address, home->config.api.port).c_str(), o.home.c_str());
  return kExitOk;
}

// File descriptors the node may hold at once with its configured limits: every API connection
// (a stream is one too), RocksDB's open table files (ledger/store/rocks_kv.cc: max_open_files),
// every peer link plus as many pending handshakes, and a margin for the store's logs, the
// listeners, the event fds of the threads and the logging.
constexpr uint64_t kRocksDbOpenFiles = 512;
constexpr uint64_t kFdMargin = 128;

uint64_t FdsNeeded(const Config& c) {
  return c.api.max_connections + kRocksDbOpenFiles + 2 * c.p2p_max_peers + kFdMargin;
}

// Raises the soft RLIMIT_NOFILE up to the hard limit as far as the configured limits need, or
// says, naming the numbers, why the node cannot start (an EMFILE inside RocksDB is fatal).
Status FitFileDescriptors(const Config& c) {
  const uint64_t need = FdsNeeded(c);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return Status::IoError(std::string("getrlimit(RLIMIT_NOFILE): ") + strerror(errno));
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    const rlim_t want = rl.rlim_max == RLIM_INFINITY ? need : std::min<rlim_t>(rl.rlim_max, need);
    rlimit raised = rl;
    raised.rlim_cur = want;
    if (want > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    return Status::Invalid(fmt::format(
        "too few file descriptors: the configured limits need {} (api.max_connections {} + "
        "RocksDB's {} open files + 2 x p2p.max_peers {} + {} spare) but the limit is {} (hard "
        "limit {}); raise it (ulimit -n, LimitNOFILE= in a systemd unit) or lower "
        "api.max_connections / p2p.max_peers",
        need, c.api.max_connections, kRocksDbOpenFiles, c.p2p_max_peers, kFdMargin,
        static_cast<uint64_t>(rl.rlim_cur),
        rl.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_max)));
  }
  spdlog::debug("file descriptors: {} needed, soft limit {}", need,
                static_cast<uint64_t>(rl.rlim_cur));
  return Status::Ok();
}

int RunStart(const std::string& dir) {
  auto home = LoadHome(dir);
  if (!home.ok()) return Fail(home.status());
  if (Status st = SetupLogging(home->config.log_level, home->config.log_format); !st.ok()) {
    return Fail(st);
  }
  if (Status st = FitFileDescriptors(home->config); !st.ok()) {
    return FailLogged("cannot start", st);
  }
  StopWaiter::BlockSignals();  // before any thread starts, so that every thread inherits it
  StopWaiter waiter;
  NodeOptions options = NodeOptionsFromHome(*home);
  options.on_fatal = [&waiter](const Status& st) { waiter.Fatal(st); };
  auto node = Node::Open(options);
  if (!node.ok()) return FailLogged("cannot start", node.status());
  ApiServerOptions api = home->config.api;
  api.warn = [](const std::string& line) { spdlog::warn("api: {}", line); };
  auto server = ApiServer::Start(api, **node);
  if (!server.ok()) return FailLogged("cannot start the API", server.status());
  const NodeStatus status = (*node)->Status();
  spdlog::info("consentd started: API {}, chain {}, height {}, {} key {}, home {}, allocator {}",
               Url(home->config.api.listen_address, (*server)->port()), status.chain_id,
               status.height, home->is_validator ? "validator" : "follower",
               ToHex(home->key.public_key), dir, AllocatorName());
  std::optional<Status> fatal = waiter.Wait();
  (*server)->Stop();
  (*node)->Shutdown();
  node->reset();
  if (fatal) return FailLogged("stopped on error", *fatal);
  spdlog::info("clean shutdown");
  return kExitOk;
}

int RunDev(const std::string& dir) {
  auto home = LoadHome(dir);
  std::error_code ec;
  if (!home.ok() && home.status().code() == StatusCode::kNotFound &&
      std::filesystem::status(dir, ec).type() == std::filesystem::file_type::not_found) {
    InitOptions o;
    o.home = dir;
    if (Status st = InitHome(o); !st.ok()) return Fail(st);
    std::fprintf(stderr, "consentd: initialised a development home at %s\n", dir.c_str());
  } else if (!home.ok()) {
    return Fail(home.status());
  }
  return RunStart(dir);
}

// `text` as one shell word.
std::string ShellQuote(const std::string& text) {
  if (!text.empty() &&
      text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                             "_-./:=+,@%") == std::string::npos) {
    return text;
  }
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int RunTestnet(const TestnetOptions& o, const std::string& consentd) {
  auto net = CreateTestnet(o);
  if (!net.ok()) return FailArgs(net.status());
  const int total = static_cast<int>(net->nodes.size());
  const int validators = static_cast<int>(net->genesis.validators.size());
  const std::string dir = ShellQuote(net->dir);
  std::printf("created a network of %d validator%s and %d follower%s in %s (chain %s)\n",
              validators, validators == 1 ? "" : "s", total - validators,
              total - validators == 1 ? "" : "s", net->dir.c_str(), net->genesis.chain_id.c_str());
  std::printf("  genesis: %s/%s\n", net->dir.c_str(), kGenesisFileName);
  std::printf("  %-7s %-10s %-23s %-16s %s\n", "node", "role", "API", "p2p", "home");
  for (const TestnetNode& n : net->nodes) {
    std::printf("  %-7s %-10s %-23s %-16s %s\n", n.name.c_str(),
                n.validator ? "validator" : "follower", Url(n.host, n.api_port).c_str(),
                (n.host + ":" + std::to_string(n.p2p_port)).c_str(), n.home.c_str());
  }
  std::printf(
      "start every node in the background (log and pid files in %s):\n"
      "  for i in $(seq 0 %d); do %s start --home %s/node$i 2>%s/node$i.log & echo $! "
      ">%s/node$i.pid; done\n"
      "stop them (SIGTERM: a clean shutdown):\n"
      "  kill -TERM $(cat %s/node*.pid)\n",
      net->dir.c_str(), total - 1, ShellQuote(consentd).c_str(), dir.c_str(), dir.c_str(),
      dir.c_str(), dir.c_str());
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"consentd: the consent-ledger node"};
  app.require_subcommand(1);

  InitOptions init;
  std::string api, p2p;
  auto* init_cmd = app.add_subcommand("init", "create a node home: key, genesis, config, data/");
  init_cmd->add_option("--home", init.home, "home directory to create")
      ->envname("CONSENT_HOME")
      ->required();
  init_cmd->add_option("--chain-id", init.chain_id, "chain id ([a-z0-9._-], 1..64 bytes)")
      ->capture_default_str();
  init_cmd->add_option("--api", api, "HTTP API address HOST:PORT (default 127.0.0.1:7800)");
  init_cmd->add_option("--p2p", p2p, "peer address HOST:PORT (default 127.0.0.1:7801)");

  std::string start_home;
  auto* start_cmd = app.add_subcommand("start", "run the node of an existing home");
  start_cmd->add_option("--home", start_home, "home directory")
      ->envname("CONSENT_HOME")
      ->required();

  std::string dev_home = kDevHome;
  auto* dev_cmd = app.add_subcommand("dev", "init a development home if missing, then start");
  dev_cmd->add_option("--home", dev_home, "home directory")
      ->envname("CONSENT_HOME")
      ->capture_default_str();

  TestnetOptions testnet;
  auto* testnet_cmd = app.add_subcommand(
      "testnet", "create the homes of a network on this machine (127.0.0.1), one per node");
  testnet_cmd->add_option("--validators", testnet.validators, "validators (node0 ..)")
      ->required()
      ->check(CLI::Range(1, kMaxTestnetValidators));
  testnet_cmd->add_option("--followers", testnet.followers, "followers (after the validators)")
      ->check(CLI::Range(0, kMaxTestnetFollowers))
      ->capture_default_str();
  testnet_cmd->add_option("--out", testnet.out, "directory to create (must not exist, or be empty)")
      ->required();
  testnet_cmd
      ->add_option("--base-port", testnet.base_port, "node i: API on P+2i, peer links on P+2i+1")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  testnet_cmd->add_option("--chain-id", testnet.chain_id, "chain id ([a-z0-9._-], 1..64 bytes)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*init_cmd) {
    if (!api.empty()) init.api = api;
    if (!p2p.empty()) init.p2p = p2p;
    return RunInit(init);
  }
  if (*start_cmd) return RunStart(start_home);
  if (*testnet_cmd) return RunTestnet(testnet, argv[0]);
  return RunDev(dev_home);
}

}  // namespace
}  // namespace consent

int main(int argc, char** argv) { return consent::Main(argc, argv); }
