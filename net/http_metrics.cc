// Implementation of HttpMetrics (net/http_metrics.h).
#include "net/http_metrics.h"

#include <cstdio>

namespace consent {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

void HttpMetrics::Record(const std::string& route, unsigned status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
  Histogram& h = durations_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

std::string HttpMetrics::Render() const {
  std::string out;
  out +=
      "# HELP consent_http_requests_total HTTP requests answered, by route template and status "
      "code.\n# TYPE consent_http_requests_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, n] : requests_) {
    out += "consent_http_requests_total{route=\"" + key.first + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP consent_http_request_duration_seconds Time from a complete request to its answer "
      "being handed to the socket.\n# TYPE consent_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : durations_) {
    uint64_t cumulative = 0;
    std::string label = "route=\"" + route + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += "consent_http_request_duration_seconds_bucket{" + label + ",le=\"" + Num(kBuckets[i]) +
             "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "consent_http_request_duration_seconds_bucket{" + label + ",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "consent_http_request_duration_seconds_sum{" + label + "} " + Num(h.sum) + "\n";
    out += "consent_http_request_duration_seconds_count{" + label + "} " + std::to_string(h.count) +
           "\n";
  }
  auto gauge = [&](const char* name, const char* help, const char* type, int64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  gauge("consent_http_open_connections", "Open HTTP connections (streams included).", "gauge",
        connections_.load());
  gauge("consent_http_open_streams", "Open WebSocket streams of committed changes.", "gauge",
        streams_.load());
  gauge("consent_http_rate_limited_total", "Requests refused with 429 by the per-client limiter.",
        "counter", static_cast<int64_t>(rate_limited_.load()));
  gauge("consent_http_connections_refused_total",
        "Connections answered 503 because the connection cap was reached.", "counter",
        static_cast<int64_t>(refused_.load()));
  gauge("consent_http_slow_consumers_dropped_total",
        "Streams closed because their consumer fell behind the queue limit.", "counter",
        static_cast<int64_t>(slow_consumers_.load()));
  return out;
}

}  // namespace consent
