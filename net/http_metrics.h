// The API's own Prometheus metrics (text format 0.0.4): requests by route template and status
// code, a request duration histogram by route, open connections and streams, and requests
// refused by the rate limiter or the connection cap. Route labels are the templates of the
// route table (or "unmatched"), so the number of series stays bounded whatever clients send.
// Thread-safety: every method is thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace consent {

class HttpMetrics {
 public:
  static constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,  0.1,    0.5,   2.5,  10};

  void Record(const std::string& route, unsigned status, double seconds);
  void ConnectionOpened() { connections_.fetch_add(1); }
  void ConnectionClosed() { connections_.fetch_sub(1); }
  void StreamOpened() { streams_.fetch_add(1); }
  void StreamClosed() { streams_.fetch_sub(1); }
  void RateLimited() { rate_limited_.fetch_add(1); }
  void ConnectionRefused() { refused_.fetch_add(1); }
  void SlowConsumerDropped() { slow_consumers_.fetch_add(1); }

  int64_t open_connections() const { return connections_.load(); }
  int64_t open_streams() const { return streams_.load(); }
  uint64_t rate_limited() const { return rate_limited_.load(); }

  // The metrics in Prometheus text format, each family with HELP and TYPE lines.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // non-cumulative counts
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, uint64_t> requests_;  // guarded by mu_
  std::map<std::string, Histogram> durations_;                     // guarded by mu_
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> streams_{0};
  std::atomic<uint64_t> rate_limited_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> slow_consumers_{0};
};

}  // namespace consent
