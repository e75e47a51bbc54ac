// Request routing for the API, apart from the transport: Handle() maps one HttpRequest to one
// HttpResponse over an ApiBackend, so every route can be tested without sockets. The route
// table (method, path template) is exported: docs/api.md lists the same table and a test checks
// they are equal. Unknown paths answer 404, a known path with another method 405 with Allow,
// unknown query parameters 400; every error is {"error": {"code", "message"}}.
// Thread-safety: Handle may run concurrently on any number of threads (the backend, hub, limiter
// and metrics are thread-safe).
#pragma once

#include <string_view>
#include <vector>

#include "net/api_backend.h"
#include "net/api_server.h"
#include "net/http_types.h"

namespace consent {

class CommitHub;
class RateLimiter;
class HttpMetrics;

struct RouteInfo {
  std::string_view method;
  std::string_view path;  // template: literal segments and {name} parameters
};
// Every route the API serves, in documentation order.
const std::vector<RouteInfo>& RouteTable();

struct RouterContext {
  ApiBackend& backend;
  const ApiServerOptions& options;
  CommitHub* hub = nullptr;             // needed by POST /v1/txs?wait=commit (else 503)
  RateLimiter* limiter = nullptr;       // POST rate limit; null: unlimited
  HttpMetrics* metrics = nullptr;       // rendered by /metrics; counts rate-limited requests
  RateLimiter* tx_limiter = nullptr;    // POST /v1/txs: charged per transaction; null: unlimited
  RateLimiter* byte_limiter = nullptr;  // POST /v1/txs: charged per body byte; null: unlimited
};

// HEAD is answered as GET on every GET route (the transport drops the body); 405 answers list
// HEAD beside GET in Allow. Path segments are percent-decoded before matching ("%65" is "e"); a
// bad escape is a 400.
HttpResponse Handle(const HttpRequest& request, const RouterContext& ctx);

// The template of the route whose path matches `target` (whatever the method), or "unmatched":
// the metrics label of a request refused from its header alone (413 from Content-Length).
std::string RouteLabel(std::string_view target);

// Maps a ledger query's failure to an HTTP error: InvalidArgument 400 "invalid_request",
// NotFound 404 "not_found", Unavailable 503 "unavailable", anything else 500 "internal".
HttpResponse StatusResponse(const Status& status);

}  // namespace consent
