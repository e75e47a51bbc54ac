// A small synchronous HTTP/1.1 client for consentctl (Boost.Beast): one request per connection,
// with a connect/read/write timeout and a cap on the response body, errors as Status values with
// messages a user can act on ("cannot connect to http://127.0.0.1:7800: Connection refused").
// Only plain http:// URLs (a node's API listens on loopback unless configured otherwise; put a
// TLS-terminating proxy in front for remote access). Thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/status.h"

namespace consent {

inline constexpr size_t kMaxResponseBytes = 32 << 20;

struct HttpUrl {
  std::string host;
  std::string port;
  std::string base_path;  // without trailing '/'
};
// Parses "http://host[:port][/path]". Default port 80.
Result<HttpUrl> ParseHttpUrl(const std::string& url);

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // Retry-After header, if any
};

// method is "GET" or "POST"; target starts with '/'. A JSON body is sent with
// Content-Type: application/json. Fails only on transport errors; any HTTP status is returned.
Result<HttpResponse> HttpCall(const HttpUrl& url, const std::string& method,
                              const std::string& target, const std::string& body = "",
                              uint32_t timeout_ms = 35'000);

}  // namespace consent
