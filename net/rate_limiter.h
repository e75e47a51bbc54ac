// A token bucket per client (a ClientKey) for writes: each client holds up to `burst` tokens,
// refilled at `rate_per_s`; a write takes `cost` of them (the server keeps three: requests,
// transactions and body bytes). A refused request learns how many whole
// seconds to wait (the Retry-After header). The table of addresses is bounded: when it grows past
// max_clients, addresses whose bucket has refilled are forgotten (they are indistinguishable from
// new ones), and if none has, the oldest refill is dropped.
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace consent {

// The key that per-client budgets and caps use for a peer address: an IPv4 address as is (an
// IPv4-mapped IPv6 address as its IPv4 form), an IPv6 address by its /64 prefix (one host
// usually holds a whole /64, so keying single IPv6 addresses would give it 2^64 budgets), e.g.
// "2001:db8:1:2::/64". Anything unparsable is its own key.
std::string ClientKey(const std::string& address);

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double rate_per_s, double burst, size_t max_clients = 100000);

  // nullopt if `cost` tokens were taken; else the seconds (>= 1) after which they will be
  // available (nothing is taken). A cost over the burst is charged as the burst.
  std::optional<uint32_t> Take(const std::string& client, Clock::time_point now = Clock::now(),
                               double cost = 1.0);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void Prune(Clock::time_point now);

  const double rate_;
  const double burst_;
  const size_t max_clients_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace consent
