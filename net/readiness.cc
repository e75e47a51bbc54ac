// Readiness of the node for clients (net/readiness.h). Pure functions; ReadinessWatch is
// thread-compatible.
#include "net/readiness.h"

#include <chrono>
#include <cstdio>

namespace consent {

uint64_t WallClockMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Readiness JudgeReadiness(const NodeStatus& s, uint64_t now_ms, uint64_t max_head_age_ms) {
  Readiness r;
  if (s.height > 0) r.head_age_ms = now_ms > s.time_ms ? now_ms - s.time_ms : 0;
  if (!s.ready) {
    r.ready = false;
    r.cause = s.catching_up ? "catching_up" : "not_serving";
    r.reason = s.catching_up ? "the node is catching up" : "the node is not ready";
  } else if (!s.validator && s.peers == 0) {
    r.ready = false;
    r.cause = "no_peer";
    r.reason = "a follower with no peer link: it cannot learn new blocks";
  } else if (max_head_age_ms > 0 && r.head_age_ms && *r.head_age_ms > max_head_age_ms) {
    r.ready = false;
    r.cause = "stale_head";
    r.reason = "the head (height " + std::to_string(s.height) + ") is " +
               std::to_string(*r.head_age_ms / 1000) + " s old, more than " +
               "api.ready_max_head_age_ms " + std::to_string(max_head_age_ms) +
               ": this node is cut off from the validators, or the chain has stopped (" +
               std::to_string(s.peers) + " peer links)";
  }
  return r;
}

std::optional<std::string> ReadinessWatch::Observe(const Readiness& r, uint64_t now_ms) {
  std::optional<std::string> line;
  if (r.ready) {
    if (!was_ready_) line = "ready again (was: " + last_reason_ + ")";
    was_ready_ = true;
    last_cause_.clear();
    last_reason_.clear();
    return line;
  }
  const bool changed = was_ready_ || r.cause != last_cause_;
  if (changed || now_ms - last_logged_ms_ >= kRepeatMs) {
    line = "not ready: " + r.reason + "; /readyz answers 503";
    last_logged_ms_ = now_ms;
  }
  was_ready_ = false;
  last_cause_ = r.cause;
  last_reason_ = r.reason;
  return line;
}

std::string ReadinessMetrics(const Readiness& r) {
  std::string out =
      "# HELP consent_ready 1 when /readyz answers 200, else 0.\n"
      "# TYPE consent_ready gauge\n"
      "consent_ready " +
      std::string(r.ready ? "1" : "0") + "\n";
  if (r.head_age_ms) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(*r.head_age_ms) / 1000.0);
    out +=
        "# HELP consent_head_age_seconds Seconds since the committed head's block time.\n"
        "# TYPE consent_head_age_seconds gauge\n"
        "consent_head_age_seconds " +
        std::string(buf) + "\n";
  }
  return out;
}

}  // namespace consent
