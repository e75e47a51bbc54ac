// Per-IP keys and handshake pacing for inbound peer links (net/peer_admission.h).
#include "net/peer_admission.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace consent {

std::string IpKey(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_v4().to_string();
  const boost::asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  }
  std::array<unsigned char, 16> bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

PerIpRate::PerIpRate(double per_sec, double burst, size_t max_ips)
    : per_sec_(per_sec), burst_(burst), max_ips_(max_ips) {}

double PerIpRate::Level(const Bucket& b, Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  return std::min(burst_, b.tokens + std::max(0.0, elapsed) * per_sec_);
}

void PerIpRate::MakeRoom(Clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = Level(it->second, now) >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() >= max_ips_) buckets_.erase(buckets_.begin());
}

bool PerIpRate::Take(const std::string& ip, Clock::time_point now) {
  auto it = buckets_.find(ip);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_ips_) MakeRoom(now);
    it = buckets_.emplace(ip, Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = Level(b, now);
  b.at = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

}  // namespace consent
