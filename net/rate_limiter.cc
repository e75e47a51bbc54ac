// Implementation of RateLimiter (net/rate_limiter.h).
#include "net/rate_limiter.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cmath>

namespace consent {

std::string ClientKey(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  if (ec) return address;
  if (a.is_v4()) return a.to_v4().to_string();
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  auto bytes = v6.to_bytes();
  for (size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

RateLimiter::RateLimiter(double rate_per_s, double burst, size_t max_clients)
    : rate_(std::max(rate_per_s, 1e-9)), burst_(std::max(burst, 1.0)), max_clients_(max_clients) {}

std::optional<uint32_t> RateLimiter::Take(const std::string& client, Clock::time_point now,
                                          double cost) {
  cost = std::clamp(cost, 0.0, burst_);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) Prune(now);
    it = buckets_.emplace(client, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.updated = now;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return std::nullopt;
  }
  double wait = (cost - b.tokens) / rate_;
  return static_cast<uint32_t>(std::clamp(std::ceil(wait), 1.0, 86400.0));
}

void RateLimiter::Prune(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (it->second.tokens + elapsed * rate_ >= burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() >= max_clients_) {
    auto oldest = std::min_element(
        buckets_.begin(), buckets_.end(),
        [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
    buckets_.erase(oldest);
  }
}

}  // namespace consent
