// State shared by the server's sessions (internal to net/): the options, the backend, the hub,
// the rate limiter, the metrics, connection accounting and the registry that Stop uses to close
// every live session. Sessions hold it by shared_ptr, so it outlives the last of them.
// Thread-safety: every member is thread-safe (atomics, or guarded by mu_).
#pragma once

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

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

// Open connections and streams per client key (ClientKey: an IPv4 address or an IPv6 /64), and
// streams in all. TryOpen hands out a token that counts one until it is destroyed, or null when
// the cap is reached. The table holds only keys with something open (at most max_connections).
class ClientTable {
 public:
  enum Kind { kConnection = 0, kStream = 1 };
  std::shared_ptr<void> TryOpen(const std::string& key, Kind kind, size_t per_key_cap,
                                size_t total_cap) {
    std::lock_guard<std::mutex> lock(mu_);
    if (total_[kind] >= total_cap) return nullptr;
    auto& counts = counts_[key];
    if (counts[kind] >= per_key_cap) {
      if (counts[0] == 0 && counts[1] == 0) counts_.erase(key);
      return nullptr;
    }
    ++counts[kind];
    ++total_[kind];
    // Non-null (tested for truth); points at the table, which the holder never dereferences.
    return std::shared_ptr<void>(static_cast<void*>(this),
                                 [this, key, kind](void*) { Close(key, kind); });
  }
  size_t total(Kind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    return total_[kind];
  }

 private:
  void Close(const std::string& key, Kind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    --total_[kind];
    auto it = counts_.find(key);
    if (it == counts_.end()) return;
    --it->second[kind];
    if (it->second[0] == 0 && it->second[1] == 0) counts_.erase(it);
  }
  std::mutex mu_;
  std::unordered_map<std::string, std::array<size_t, 2>> counts_;  // guarded by mu_
  std::array<size_t, 2> total_{0, 0};                              // guarded by mu_
};

// One thread ("consent-stream") that runs the streams' catch-up steps (reading the store and
// serialising), so that no API thread scans the log. Each stream has at most one step queued,
// and re-queues itself after its step's results are handled, so the streams that catch up share
// the thread round-robin. The queue thus holds at most ws_max_streams tasks.
class CatchUpWorker {
 public:
  void Start() {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "consent-stream");
      Run();
    });
  }
  // Dropped once stopped.
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
  // Drops what is queued, waits for the running step, joins. Idempotent.
  void Stop() {
    std::deque<std::function<void()>> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      dropped.swap(tasks_);
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  ~CatchUpWorker() { Stop(); }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
        if (stop_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::thread thread_;
};

class ServerState {
 public:
  ServerState(const ApiServerOptions& options, ApiBackend& backend)
      : options(options),
        backend(backend),
        limiter(options.write_rate_per_s, options.write_burst),
        tx_limiter(options.write_tx_rate_per_s,
                   std::max(options.write_tx_burst, double(options.max_txs_per_request))),
        byte_limiter(options.write_bytes_per_s,
                     std::max(options.write_bytes_burst, double(options.max_body_bytes))),
        hub(backend) {}

  RouterContext Router() {
    return RouterContext{backend, options, &hub, &limiter, &metrics, &tx_limiter, &byte_limiter};
  }

  // One open connection from client `key`, counted until the returned token is destroyed; null
  // if max_connections or max_connections_per_ip is reached.
  std::shared_ptr<void> OpenConnection(const std::string& key) {
    std::shared_ptr<void> slot = clients.TryOpen(
        key, ClientTable::kConnection, options.max_connections_per_ip, options.max_connections);
    if (!slot) return nullptr;
    metrics.ConnectionOpened();
    return std::shared_ptr<void>(static_cast<void*>(this),
                                 [this, slot](void*) { metrics.ConnectionClosed(); });
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
  ClientTable clients;
  CatchUpWorker catchup;
  RateLimiter limiter;       // POST requests per client key
  RateLimiter tx_limiter;    // transactions per client key
  RateLimiter byte_limiter;  // POST /v1/txs body bytes per client key
  CommitHub hub;
  // The node's verify workers post deferred answers through it; Stop closes it before the
  // io_context goes away.
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();
  std::atomic<bool> stopping{false};

 private:
  std::mutex mu_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_;  // guarded by mu_
  uint64_t next_id_ = 1;                                 // guarded by mu_
};

}  // namespace consent
