// consent-bench: end-to-end throughput of a running node.
//
// 1. Measures this machine's limit in the same run: libsodium Ed25519 verifications per second on
//    one core (the fastest 100 ms window of a 1.5 s loop, run before and again after the
//    submissions; the higher counts),
//    times the number of cores, divided by --nodes-share (the number of nodes on this machine
//    that must each verify every transaction: 4 for a local 4-validator network).
// 2. Pre-signs --txs grants over many subjects (derived keys) and --controllers brands.
// 3. Submits them over --connections keep-alive HTTP connections (spread round-robin over the
//    comma-separated --node URLs, so load reaches every node), --batch txs per POST, each POST
//    with ?wait=commit, so the time from sending a batch to its answer is every tx's
//    submit-to-commit latency.
// 4. Prints committed tx/s, p50/p99 latency, the ratio of committed tx/s to the limit, the
//    bench's own CPU time (it shares the machine with the node: signing and JSON encoding happen
//    before the clock starts, HTTP runs during it), and how busy the whole machine was.
// 5. Splits the machine's CPU per committed tx (busy share x cores x seconds / committed) into
//    signature verification (--nodes-share / the one-core rate: every node verifies every tx
//    once) and everything else (HTTP, JSON, mempool, block building, storage, consensus, and this
//    bench), next to what the goal ratio would leave for everything else when every core is busy:
//    nodes-share x (1 / goal - 1) / the one-core rate.
// Exit 0 when every tx committed, 1 otherwise. Threads: one per connection.
#include <sodium.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/sha256.h"
#include "ledger/subject_key.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "tools/arg_util.h"
#include "tools/consentctl/http_client.h"

namespace consent {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Busy and total jiffies of the whole machine (first line of /proc/stat), to report how much of
// both cores the run used: the node's share is the machine's minus the bench's own.
struct MachineTimes {
  unsigned long long busy = 0, total = 0;
  bool ok = false;
};

MachineTimes ReadMachineTimes() {
  MachineTimes t;
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return t;
  unsigned long long v[10] = {};
  const int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                            &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  std::fclose(f);
  if (n < 5) return t;
  for (int i = 0; i < n; ++i) t.total += v[i];
  t.busy = t.total - v[3] - v[4];  // minus idle and iowait
  t.ok = true;
  return t;
}

// libsodium Ed25519 verifications per second on this core: the fastest 100 ms window of a 1.5 s
// loop. This machine's speed can change by a third from one second to the next (another tenant,
// the host's clock); the fastest window is what the core can do, so a slow spell during the
// measurement cannot lower the limit and flatter the ratio.
double VerifiesPerSecondOneCore() {
  SigningKey k = SigningKey::FromSeed(Seed32{1});
  Bytes msg(300, 0x42);
  Signature sig = k.Sign(msg);
  double best = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::milliseconds(1500)) {
    size_t n = 0;
    const auto window = Clock::now();
    while (Clock::now() - window < std::chrono::milliseconds(100)) {
      for (int i = 0; i < 100; ++i) {
        if (crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(),
                                        k.public_key().data()) != 0) {
          std::abort();
        }
      }
      n += 100;
    }
    best = std::max(best, static_cast<double>(n) /
                              std::chrono::duration<double>(Clock::now() - window).count());
  }
  return best;
}

struct Args {
  std::string node = "http://127.0.0.1:7800";
  size_t txs = 20000, connections = 8, batch = 250, controllers = 50, nodes_share = 1;
  double goal = 0.7;
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int Main(int argc, char** argv) {
  Args a;
  const char* usage =
      "usage: consent-bench [--node URL[,URL...]] [--txs N] [--connections C] [--batch B] "
      "[--controllers K] [--nodes-share S] [--goal RATIO]\n";
  std::vector<std::pair<std::string, const char*>> flags;
  if (int rc = tools::FlagPairs(argc, argv, usage, &flags); rc >= 0) return rc;
  for (const auto& [k, v] : flags) {
    uint64_t n = 0;
    bool ok = true;
    if (k == "--node") {
      a.node = v;
    } else if (k == "--goal") {
      ok = tools::ParseDouble(v, 0.0, 1000.0, &a.goal);
    } else if (k == "--txs" || k == "--connections" || k == "--batch" || k == "--controllers" ||
               k == "--nodes-share") {
      ok = tools::ParseU64(v, 100'000'000, &n);
      if (k == "--txs") a.txs = n;
      if (k == "--connections") a.connections = n;
      if (k == "--batch") a.batch = n;
      if (k == "--controllers") a.controllers = n;
      if (k == "--nodes-share") a.nodes_share = n;
    } else {
      std::fprintf(stderr, "unknown option %s\n%s", k.c_str(), usage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "%s: '%s' is not a valid number\n%s", k.c_str(), v, usage);
      return 2;
    }
  }
  if (a.txs == 0 || a.connections == 0 || a.batch == 0 || a.batch > 1000 || a.controllers == 0 ||
      a.nodes_share == 0) {
    std::fprintf(stderr,
                 "need --txs, --connections, --controllers >= 1 and 1 <= --batch <= 1000\n");
    return 2;
  }
  InitCrypto();
  std::vector<HttpUrl> urls;
  for (const std::string& n : SplitCommas(a.node)) {
    auto u = ParseHttpUrl(n);
    if (!u.ok()) {
      std::fprintf(stderr, "%s\n", u.status().message().c_str());
      return 2;
    }
    urls.push_back(*u);
  }
  if (urls.empty()) {
    std::fprintf(stderr, "--node: no URL given\n");
    return 2;
  }
  const HttpUrl* url = &urls[0];
  auto status = HttpCall(*url, "GET", "/v1/status");
  if (!status.ok() || status->status != 200) {
    std::fprintf(stderr, "cannot reach the node at %s\n", a.node.c_str());
    return 2;
  }
  std::string chain = nlohmann::json::parse(status->body)["chain_id"].get<std::string>();

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // Measured before and again after the run; the higher figure counts. A measurement disturbed by
  // other work on the machine (nodes still starting, compactions) can only read low, and a low
  // limit would flatter the ratio.
  const double per_core_before = VerifiesPerSecondOneCore();

  // Pre-sign: subject i is derived for its controller from a per-customer master secret.
  std::vector<PublicKey> controllers;
  for (size_t c = 0; c < a.controllers; ++c) {
    controllers.push_back(
        SigningKey::FromSeed(Sha256(AsBytes("bench brand " + std::to_string(c)))).public_key());
  }
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  Seed32 run_salt;
  RandomBytes(run_salt.data(), run_salt.size());
  std::vector<std::string> bodies;  // one JSON array per batch
  {
    nlohmann::ordered_json batch = nlohmann::ordered_json::array();
    for (size_t i = 0; i < a.txs; ++i) {
      Seed32 master = Sha256({run_salt, AsBytes(std::to_string(i))});
      const PublicKey& controller = controllers[i % controllers.size()];
      SigningKey subject = DeriveSubjectKey(master, controller);
      GrantTx g;
      g.subject = subject.public_key();
      g.controller = controller;
      g.purposes = {"marketing.email"};
      g.jurisdiction = "EU-GDPR";
      g.issued_at_ms = now;
      g.expires_at_ms = now + 365ull * 86400 * 1000;
      g.nonce = i;
      batch.push_back(TxToJson(SignTx(chain, g, subject).value()));
      if (batch.size() == a.batch || i + 1 == a.txs) {
        bodies.push_back(batch.dump());
        batch = nlohmann::ordered_json::array();
      }
    }
  }

  std::atomic<size_t> next{0}, committed{0}, failed{0};
  std::mutex mu;
  std::vector<double> latencies_ms;  // per tx
  double cpu_before = CpuSeconds();
  const MachineTimes machine_before = ReadMachineTimes();
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (size_t w = 0; w < a.connections; ++w) {
    workers.emplace_back([&, url = &urls[w % urls.size()]] {
      asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      asio::ip::tcp::resolver resolver(ioc);
      beast::error_code ec;
      stream.connect(resolver.resolve(url->host, url->port, ec), ec);
      if (ec) {
        failed += 1;
        return;
      }
      beast::flat_buffer buffer;
      for (;;) {
        size_t b = next++;
        if (b >= bodies.size()) break;
        http::request<http::string_body> req(http::verb::post,
                                             url->base_path + "/v1/txs?wait=commit", 11);
        req.set(http::field::host, url->host);
        req.set(http::field::content_type, "application/json");
        req.keep_alive(true);
        req.body() = bodies[b];
        req.prepare_payload();
        auto t0 = Clock::now();
        stream.expires_after(std::chrono::seconds(60));
        http::write(stream, req, ec);
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 << 20);
        if (!ec) http::read(stream, buffer, parser, ec);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (ec) {
          std::fprintf(stderr, "batch %zu: %s\n", b, ec.message().c_str());
          failed += 1;
          return;
        }
        auto res = parser.release();
        auto j = nlohmann::json::parse(res.body(), nullptr, false);
        size_t ok = 0, n = 0;
        const nlohmann::json* list = &j;
        if (j.is_object() && j.contains("results")) list = &j["results"];
        if (list->is_array()) {
          for (const auto& r : *list) {
            ++n;
            if (r.is_object() && r.value("status", "") == "committed") ++ok;
          }
        }
        committed += ok;
        if (ok != n || n == 0) {
          failed += 1;
          std::fprintf(stderr, "batch %zu: HTTP %u, %zu of %zu committed: %.200s\n", b,
                       res.result_int(), ok, n, res.body().c_str());
        }
        std::lock_guard<std::mutex> l(mu);
        latencies_ms.insert(latencies_ms.end(), ok, ms);
      }
    });
  }
  for (auto& t : workers) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  double bench_cpu = CpuSeconds() - cpu_before;
  const MachineTimes machine_after = ReadMachineTimes();
  // Fraction of all cores busy during the run (any process), or -1 if /proc/stat is unreadable.
  double machine_busy = -1;
  if (machine_before.ok && machine_after.ok && machine_after.total > machine_before.total) {
    machine_busy = static_cast<double>(machine_after.busy - machine_before.busy) /
                   static_cast<double>(machine_after.total - machine_before.total);
  }
  const double per_core_after = VerifiesPerSecondOneCore();
  const double per_core = std::max(per_core_before, per_core_after);
  const double limit = per_core * cores / static_cast<double>(a.nodes_share);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[std::min(
        latencies_ms.size() - 1,
        static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  double tps = static_cast<double>(committed.load()) / secs;
  std::printf(
      "consent-bench: %zu grants, %zu connections over %zu nodes, %zu per request, %zu "
      "controllers\n",
      a.txs, a.connections, urls.size(), a.batch, a.controllers);
  std::printf(
      "  machine limit   %u cores x %.0f verifications/s / %zu = %.0f tx/s (one core measured "
      "before and after the run: %.0f, %.0f; the higher counts)\n",
      cores, per_core, a.nodes_share, limit, per_core_before, per_core_after);
  std::printf("  committed       %zu in %.2f s = %.0f tx/s   ratio to limit %.3f (goal >= %.2f)\n",
              committed.load(), secs, tps, tps / limit, a.goal);
  std::printf("  submit->commit  p50 %.0f ms, p99 %.0f ms\n", pct(0.5), pct(0.99));
  std::printf(
      "  bench CPU       %.2f s during the run (%.0f%% of one core); the node had the rest\n",
      bench_cpu, 100.0 * bench_cpu / secs);
  if (machine_busy >= 0) {
    std::printf(
        "  machine         %.0f%% of %u cores busy during the run (all processes; the bench's "
        "share is %.0f%% of the machine)\n",
        100.0 * machine_busy, cores, 100.0 * bench_cpu / (secs * cores));
  }
  // Where the machine's time per committed tx went (see the top). -1 when /proc/stat is unreadable
  // or nothing committed.
  const double share = static_cast<double>(a.nodes_share);
  const double verify_us = share * 1e6 / per_core;
  const double other_budget_us =
      a.goal > 0 ? share * (1.0 / a.goal - 1.0) * 1e6 / per_core : -1;  // -1: no goal
  double cpu_us = -1, other_us = -1;
  if (machine_busy >= 0 && committed.load() > 0) {
    cpu_us = 1e6 * machine_busy * cores * secs / static_cast<double>(committed.load());
    other_us = cpu_us - verify_us;
    std::printf(
        "  CPU per tx      %.1f us of the machine: %.1f us verifying its signature (%zu x 1 / "
        "%.0f per s), %.1f us everything else (HTTP, JSON, mempool, blocks, storage, this "
        "bench); the goal leaves %.1f us for everything else\n",
        cpu_us, verify_us, a.nodes_share, per_core, other_us, other_budget_us);
  }
  std::printf(
      "{\"committed\":%zu,\"tx_per_s\":%.0f,\"limit_tx_per_s\":%.0f,\"ratio\":%.4f,"
      "\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"bench_cpu_s\":%.2f,\"verify_per_core_before\":%.0f,"
      "\"verify_per_core_after\":%.0f,\"machine_busy\":%.3f,\"cpu_us_per_tx\":%.1f,"
      "\"verify_us_per_tx\":%.1f,\"other_us_per_tx\":%.1f,\"other_budget_us_per_tx\":%.1f}\n",
      committed.load(), tps, limit, tps / limit, pct(0.5), pct(0.99), bench_cpu, per_core_before,
      per_core_after, machine_busy, cpu_us, verify_us, other_us, other_budget_us);
  return failed == 0 && committed == a.txs ? 0 : 1;
}

}  // namespace
}  // namespace consent

int main(int argc, char** argv) { return consent::Main(argc, argv); }
