// State shared by the server's sessions (internal to net/): the options, the backend, the hub,
// the rate limiter, the metrics, connection accounting and the registry that Stop uses to close
// every live session. Sessions hold it by shared_ptr, so it outlives the last of them.
// Thread-safety: every member is thread-safe (atomics, or guarded by mu_).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "net/api_backend.h"
#include "net/api_server.h"
#include "net/commit_hub.h"
#include "net/http_metrics.h"
#include "net/rate_limiter.h"
#include "net/router.h"

namespace consent {

// A live session that Stop can close. Shutdown may be called from any thread; it posts to the
// session's strand.
class Session {
 public:
  virtual ~Session() = default;
  virtual void Shutdown() = 0;
};

class ServerState {
 public:
  ServerState(const ApiServerOptions& options, ApiBackend& backend)
      : options(options),
        backend(backend),
        limiter(options.write_rate_per_s, options.write_burst),
        hub(backend) {}

  RouterContext Router() { return RouterContext{backend, options, &hub, &limiter, &metrics}; }

  // One open connection, counted until the returned token is destroyed.
  std::shared_ptr<void> OpenConnection() {
    metrics.ConnectionOpened();
    return std::shared_ptr<void>(nullptr, [this](void*) { metrics.ConnectionClosed(); });
  }

  uint64_t Register(std::weak_ptr<Session> s) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[next_id_] = std::move(s);
    return next_id_++;
  }
  void Unregister(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(id);
  }
  size_t live_sessions() {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_.size();
  }
  void ShutdownAll() {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->Shutdown();
  }

  const ApiServerOptions options;
  ApiBackend& backend;
  HttpMetrics metrics;
  RateLimiter limiter;
  CommitHub hub;
  std::atomic<bool> stopping{false};

 private:
  std::mutex mu_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_;  // guarded by mu_
  uint64_t next_id_ = 1;                                 // guarded by mu_
};

}  // namespace consent
