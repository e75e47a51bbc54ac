// The node's HTTP API and WebSocket stream (docs/api.md), served with Boost.Beast on a pool of
// threads. Every route is a plain function from request to response over an ApiBackend; the
// server adds the limits (header and body size, request timeouts, connection cap, per-client
// token bucket on writes), the JSON error format {"error": {"code", "message"}}, and HTTP
// metrics. Thread-safety: Start/Stop from one thread; the server runs on its own threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "crypto/status.h"
#include "net/api_backend.h"

namespace consent {

struct ApiServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 7800;  // 0 = any free port (see ApiServer::port())
  size_t threads = 2;
  size_t max_connections = 1024;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;           // POST /v1/txs
  uint32_t request_timeout_ms = 10'000;      // reading one request, writing one response
  uint32_t idle_timeout_ms = 60'000;         // keep-alive connection with no request
  uint32_t wait_commit_timeout_ms = 30'000;  // ?wait=commit
  size_t max_txs_per_request = 1000;
  double write_rate_per_s = 200;  // token bucket per client address, POST requests
  double write_burst = 400;
  size_t ws_max_message_bytes = 64 * 1024;
  size_t ws_max_queue_bytes = 1 << 20;  // per stream consumer; beyond it: closed, resumable
  size_t ws_max_streams = 256;
  // /readyz is 503 when the head is older than this (from block 1 on; 0 = no bound): six
  // heartbeats of the validators (consensus.heartbeat_ms, 5,000), see net/readiness.h.
  uint64_t ready_max_head_age_ms = 30'000;
  // Where the server's warnings go (a node that turned not ready, and again every minute while
  // it stays so); none: not logged. Set by consentd to its logger.
  std::function<void(const std::string&)> warn;
  // Per client key (an IPv4 address, or an IPv6 /64): open connections and open streams.
  size_t max_connections_per_ip = 64;
  size_t ws_max_streams_per_ip = 32;
  // A stream whose client sends nothing (not even the pong to the server's ping, sent after
  // half of it) for this long is closed: its slot is reclaimed.
  uint32_t ws_idle_timeout_ms = 60'000;
  // Per client key, POST /v1/txs is charged per transaction and per body byte (token buckets;
  // refused: 429 with Retry-After). The defaults let one client use a whole node.
  double write_tx_rate_per_s = 20'000;
  double write_tx_burst = 40'000;  // at least max_txs_per_request
  double write_bytes_per_s = 32 << 20;
  double write_bytes_burst = 64 << 20;  // at least max_body_bytes
};

class ApiServer {
 public:
  // Binds, listens and starts serving. Fails with a clear message if the address is in use.
  static Result<std::unique_ptr<ApiServer>> Start(const ApiServerOptions& options,
                                                  ApiBackend& backend);
  virtual ~ApiServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections and streams (with a "going away" close reason), joins
  // the threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace consent
