// Whether the node is fit to answer clients (GET /readyz), and the warning an operator sees when
// it is not. A node can serve only what it has: a follower with no peer link, or a node whose head
// is old, keeps answering with valid proofs of an old state (a revocation committed elsewhere is
// missing). On a live chain the validators commit a block at least every heartbeat (5 s by
// default), so a head older than ApiServerOptions::ready_max_head_age_ms (30 s by default: six
// heartbeats) means this node is cut off or the chain has stopped. Readiness is judged from
// NodeStatus alone (pure functions); ReadinessWatch decides when to log (rate limited).
// Thread-safety: JudgeReadiness is pure; a ReadinessWatch is used from one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "net/api_backend.h"

namespace consent {

struct Readiness {
  bool ready = true;
  std::string cause;                    // "not_serving", "catching_up", "no_peer", "stale_head"
  std::string reason;                   // why not ready, in words (empty when ready)
  std::optional<uint64_t> head_age_ms;  // now - head time; none before block 1
};

// Not ready, in this order: the node is not serving (store, shutdown) or is catching up; it is a
// follower with no peer link; its head (from block 1 on) is older than `max_head_age_ms` (0: no
// bound). A head time after `now_ms` (clocks apart) counts as age 0.
Readiness JudgeReadiness(const NodeStatus& s, uint64_t now_ms, uint64_t max_head_age_ms);

// Rate limits the operator's warning: a line when the node turns not ready (or the reason
// changes), again every kRepeatMs while it stays so, and one when it is ready again.
class ReadinessWatch {
 public:
  static constexpr uint64_t kRepeatMs = 60'000;
  // The line to log now, if any ("not ready: ..." / "ready again: ...").
  std::optional<std::string> Observe(const Readiness& r, uint64_t now_ms);

 private:
  bool was_ready_ = true;
  std::string last_cause_, last_reason_;
  uint64_t last_logged_ms_ = 0;
};

// The Prometheus lines for readiness: consent_ready (1/0) and consent_head_age_seconds (only once
// there is a block).
std::string ReadinessMetrics(const Readiness& r);

// Milliseconds since the Unix epoch.
uint64_t WallClockMs();

}  // namespace consent
