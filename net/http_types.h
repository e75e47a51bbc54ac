// Transport-independent HTTP values for the API: the request the router sees, the response it
// produces, the JSON error body {"error": {"code", "message"}}, and strict parsers for the parts
// of a URL a route takes (query parameters, decimal integers, hex keys, purpose labels), and the
// check of a WebSocket handshake's headers. The router and its handlers use only these, so they
// can be unit-tested without sockets.
// Pure functions and plain values; thread-compatible (but DeferredResponse and PostGate, which are
// thread-safe).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/status.h"
#include "ledger/json_strict.h"

namespace consent {

class CommitWait;
class CommitHub;
class DeferredResponse;

// The request headers a WebSocket opening handshake needs (RFC 6455 section 4.2.1), as sent:
// nullopt when absent; a repeated header's values joined with ", ".
struct WebSocketHeaders {
  bool host = false;  // a Host header is present
  std::optional<std::string> connection, upgrade, key, version;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent; HEAD is answered as GET, without the body
  std::string target;  // origin-form: path[?query]
  std::string body;
  std::string remote;          // client address without the port (rate limiting)
  unsigned version = 11;       // HTTP/1.0: 10, HTTP/1.1: 11
  WebSocketHeaders websocket;  // read by GET /v1/stream only
};

// What GET /v1/stream asked for, validated; the transport performs the upgrade.
struct StreamRequest {
  std::optional<PublicKey> controller;  // nullopt: every committed change
  uint64_t from_log_index = 0;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Retry-After)
  std::string route;  // the matched route template ("unmatched" if none), for metrics
  // Set by POST /v1/txs?wait=commit: the answer is rendered by `wait` once it completes or times
  // out; `body` and `status` are then ignored.
  std::shared_ptr<CommitWait> wait;
  // Set by GET /v1/stream when its parameters are valid: the transport upgrades.
  std::optional<StreamRequest> upgrade;
  // Set by POST /v1/txs once its batch is queued for verification: the answer comes later,
  // through `deferred`; `body` and `status` are then ignored.
  std::shared_ptr<DeferredResponse> deferred;
  bool close = false;  // close the connection after this response
};

// Runs callbacks until closed, never after Close has returned: what a thread outside the API
// server (the node's verify workers) goes through to post onto the server's io_context, which
// the server closes before that io_context goes away.
class PostGate {
 public:
  bool Run(const std::function<void()>& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    fn();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

 private:
  std::mutex mu_;
  bool closed_ = false;  // guarded by mu_
};

// A response computed on another thread (POST /v1/txs: once the node has verified the batch).
// The producer calls Complete once with a renderer; the transport calls OnReady once, and
// Render on its own thread after `ready` ran. Render gets the transport's CommitHub (the
// renderer may register or remove a commit wait there). Thread-safe.
class DeferredResponse {
 public:
  using Renderer = std::function<HttpResponse(CommitHub* hub)>;
  // A commit wait the route registered with the hub before submitting: the transport removes
  // it if it gives up on this response (the connection closed). Set before the producer runs.
  std::shared_ptr<CommitWait> wait;

  void Complete(Renderer render) {
    std::function<void()> ready;
    {
      std::lock_guard<std::mutex> lock(mu_);
      render_ = std::move(render);
      ready = std::move(ready_);
      ready_ = nullptr;
    }
    if (ready) ready();
  }
  // `ready` runs once, when completed (here, if already); never after Cancel.
  void OnReady(std::function<void()> ready) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return;
      if (!render_) {
        ready_ = std::move(ready);
        return;
      }
    }
    ready();
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    ready_ = nullptr;
  }
  // The response; REQUIRES: completed.
  HttpResponse Render(CommitHub* hub) {
    Renderer render;
    {
      std::lock_guard<std::mutex> lock(mu_);
      render = std::move(render_);
    }
    return render(hub);
  }

 private:
  std::mutex mu_;
  Renderer render_;              // guarded by mu_
  std::function<void()> ready_;  // guarded by mu_
  bool cancelled_ = false;       // guarded by mu_
};

json::OrderedJson ErrorJson(std::string_view code, std::string_view message);
HttpResponse JsonResponse(unsigned status, const json::OrderedJson& body);
HttpResponse ErrorResponse(unsigned status, std::string_view code, std::string_view message);

// Splits an origin-form target into its path and raw query (without '?').
std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target);

// Parses "a=1&b=x" with percent-decoding ('+' is a space). Fails on a parameter not in
// `allowed`, a repeated parameter, a parameter without '=' or with an empty value, or a bad
// percent escape.
using QueryParams = std::map<std::string, std::string, std::less<>>;
Result<QueryParams> ParseQuery(std::string_view query,
                               const std::vector<std::string_view>& allowed);

// One path segment with its percent escapes decoded (RFC 3986: "%65" is "e"; '+' stays '+').
// Fails on a truncated or non-hex escape.
Result<std::string> DecodePathSegment(std::string_view segment);

// A decimal integer: 1..20 ASCII digits, no sign, no leading zero (but "0"), at most `max`.
// The message names `name`.
Result<uint64_t> ParseDecimal(std::string_view name, std::string_view s, uint64_t max);
// The value of an optional decimal parameter, or `def` when absent.
Result<uint64_t> OptionalDecimal(const QueryParams& q, std::string_view name, uint64_t def,
                                 uint64_t max);
// 64 hex digits (either case): a key or a hash.
Result<std::array<uint8_t, 32>> ParseHex32(std::string_view name, std::string_view s);

// Whether the comma-separated header value `list` holds `token` (case-insensitive).
bool HasToken(std::string_view list, std::string_view token);

// Checks a WebSocket opening handshake (RFC 6455 section 4.2.1): nullopt when the transport may
// accept it, else the error answer. 426 upgrade_required (with Upgrade: websocket) for a request
// that is not an upgrade: not GET, or without "Upgrade: websocket" or "Connection: Upgrade";
// 426 with Sec-WebSocket-Version: 13 for another version; 400 invalid_request for HTTP/1.0, no
// Host, no Sec-WebSocket-Version, or a Sec-WebSocket-Key that is missing or not 16 bytes in
// base64.
std::optional<HttpResponse> CheckWebSocketHandshake(const HttpRequest& request);

}  // namespace consent
