// Admission of inbound peer links, the part that needs no socket: the per-IP key under which an
// address is counted (IPv4 as is, an IPv4-mapped IPv6 address as its IPv4, any other IPv6 by its
// /64, since one host usually holds a whole /64), and a bounded map of per-IP token buckets
// that paces how often one IP may start a handshake (each costs this node a signature and a
// verification). The caps themselves are applied by the PeerManager (net/peer_manager.h).
//
// Thread-safety: IpKey is pure; a PerIpRate is not thread-safe (the manager holds it under its
// mutex).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace consent {

// "203.0.113.7" for IPv4 (and ::ffff:203.0.113.7), "2001:db8:1:2::/64" for IPv6.
std::string IpKey(const boost::asio::ip::address& address);

class PerIpRate {
 public:
  using Clock = std::chrono::steady_clock;
  // `per_sec` tokens a second, at most `burst` banked, for at most `max_ips` IPs at a time.
  // REQUIRES: per_sec > 0, burst >= 1, max_ips >= 1.
  PerIpRate(double per_sec, double burst, size_t max_ips);

  // Takes one token from `ip`'s bucket at `now`; false (nothing taken) if it has less than one.
  // When max_ips IPs are tracked, the idle ones (a full bucket: nothing to remember) are
  // forgotten first; if none is idle, the first one found is.
  bool Take(const std::string& ip, Clock::time_point now);
  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at;
  };
  double Level(const Bucket& b, Clock::time_point now) const;
  void MakeRoom(Clock::time_point now);

  const double per_sec_, burst_;
  const size_t max_ips_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace consent
