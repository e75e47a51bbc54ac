// A small blocking HTTP/1.1 client for consentctl (Boost.Beast): one request per connection,
// with a connect/write/read timeout (each step runs asynchronously on a private io_context, so
// that Beast's timer applies: a node that accepts and never answers is a timeout, not a hang;
// resolving the host name counts towards the connect step's timeout)
// and a cap on the response body, errors as Status values with
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
  std::string host;  // an IPv6 address without its brackets
  std::string port;
  std::string base_path;  // without trailing '/'
  // "host:port", with an IPv6 host in brackets ("[::1]:7800").
  std::string Authority() const;
};
// Parses "http://host[:port][/path]", the host a name, an IPv4 address or an IPv6 address in
// brackets ("http://[::1]:7800"). Default port 80.
Result<HttpUrl> ParseHttpUrl(const std::string& url);

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // Retry-After header, if any
};

// method is "GET" or "POST"; target starts with '/'. A JSON body is sent with
// Content-Type: application/json. Fails only on transport errors (Unavailable; a step that takes
// longer than timeout_ms: "no answer from URL within N s", and "cannot resolve HOST within N s"
// or "cannot connect to URL within N s" when resolving and connecting together take longer);
// any HTTP status is returned. Uses one extra thread for name resolution.
Result<HttpResponse> HttpCall(const HttpUrl& url, const std::string& method,
                              const std::string& target, const std::string& body = "",
                              uint32_t timeout_ms = 35'000);

}  // namespace consent
