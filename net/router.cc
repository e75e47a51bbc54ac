// Route matching and dispatch (net/router.h).
#include "net/router.h"

#include <exception>

#include "net/routes.h"

namespace consent {
namespace {

using Handler = HttpResponse (*)(const RouteCall&);

struct Route {
  RouteInfo info;
  Handler handler;
};

const std::vector<Route>& Routes() {
  static const std::vector<Route> routes = {
      {{"POST", "/v1/txs"}, &PostTxs},
      {{"GET", "/v1/txs/{tx_id}"}, &GetTxRoute},
      {{"GET", "/v1/blocks/{height}"}, &GetBlockRoute},
      {{"GET", "/v1/headers"}, &GetHeadersRoute},
      {{"GET", "/v1/log/consistency"}, &GetConsistencyRoute},
      {{"GET", "/v1/consents/{subject}/{controller}/{purpose}"}, &GetConsentRoute},
      {{"GET", "/v1/subjects/{subject}/history"}, &GetHistoryRoute},
      {{"GET", "/v1/controllers"}, &GetDirectoryRoute},
      {{"GET", "/v1/controllers/{controller}/consents"}, &GetControllerConsentsRoute},
      {{"GET", "/v1/validators"}, &GetValidatorsRoute},
      {{"GET", "/v1/validators/changes"}, &GetValidatorChangesRoute},
      {{"GET", "/v1/status"}, &GetStatusRoute},
      {{"GET", "/v1/evidence"}, &GetEvidenceRoute},
      {{"GET", "/v1/stream"}, &GetStreamRoute},
      {{"GET", "/healthz"}, &HealthzRoute},
      {{"GET", "/readyz"}, &ReadyzRoute},
      {{"GET", "/metrics"}, &MetricsRoute},
  };
  return routes;
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 1;  // skip the leading '/'
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

// The segments of `path` with their percent escapes decoded (split first, so that "%2F" stays
// inside its segment).
Result<std::vector<std::string>> DecodedSegments(std::string_view path) {
  std::vector<std::string> out;
  for (std::string_view raw : Split(path)) {
    ASSIGN_OR_RETURN(std::string s, DecodePathSegment(raw));
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string_view> Views(const std::vector<std::string>& strings) {
  return std::vector<std::string_view>(strings.begin(), strings.end());
}

// Whether `segments` matches the template; fills the parameters in order.
bool Match(std::string_view pattern, const std::vector<std::string_view>& segments,
           std::vector<std::string_view>* params) {
  std::vector<std::string_view> parts = Split(pattern);
  if (parts.size() != segments.size()) return false;
  params->clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].empty() && parts[i].front() == '{') {
      if (segments[i].empty()) return false;
      params->push_back(segments[i]);
    } else if (parts[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

const std::vector<RouteInfo>& RouteTable() {
  static const std::vector<RouteInfo> table = [] {
    std::vector<RouteInfo> t;
    for (const Route& r : Routes()) t.push_back(r.info);
    return t;
  }();
  return table;
}

HttpResponse StatusResponse(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, "invalid_request", status.message());
    case StatusCode::kNotFound:
      return ErrorResponse(404, "not_found", status.message());
    case StatusCode::kUnavailable:
      return ErrorResponse(503, "unavailable", status.message());
    default:
      return ErrorResponse(500, "internal", status.ToString());
  }
}

std::string RouteLabel(std::string_view target) {
  auto [path, query] = SplitTarget(target);
  if (path.empty() || path.front() != '/') return "unmatched";
  auto decoded = DecodedSegments(path);
  if (!decoded.ok()) return "unmatched";
  const std::vector<std::string_view> segments = Views(*decoded);
  std::vector<std::string_view> params;
  for (const Route& route : Routes()) {
    if (Match(route.info.path, segments, &params)) return std::string(route.info.path);
  }
  return "unmatched";
}

HttpResponse Handle(const HttpRequest& request, const RouterContext& ctx) {
  auto [path, query] = SplitTarget(request.target);
  if (path.empty() || path.front() != '/') {
    HttpResponse r = ErrorResponse(400, "invalid_request", "the request target must be a path");
    r.route = "unmatched";
    return r;
  }
  auto decoded = DecodedSegments(path);
  if (!decoded.ok()) {
    HttpResponse r = ErrorResponse(400, "invalid_request", decoded.status().message());
    r.route = "unmatched";
    return r;
  }
  const std::vector<std::string_view> segments = Views(*decoded);  // params point into decoded
  std::vector<std::string_view> params;
  std::string allow;
  const bool head = request.method == "HEAD";
  for (const Route& route : Routes()) {
    if (!Match(route.info.path, segments, &params)) continue;
    const bool get = route.info.method == "GET";
    if (route.info.method != request.method && !(head && get)) {
      if (allow.find(route.info.method) == std::string::npos) {
        allow += (allow.empty() ? "" : ", ") + std::string(route.info.method);
        if (get) allow += ", HEAD";
      }
      continue;
    }
    HttpResponse r;
    try {
      r = route.handler(RouteCall{request, ctx, params, query});
    } catch (const std::exception& e) {
      r = ErrorResponse(500, "internal", std::string("unexpected error: ") + e.what());
    }
    r.route = std::string(route.info.path);
    return r;
  }
  HttpResponse r;
  if (!allow.empty()) {
    r = ErrorResponse(
        405, "method_not_allowed",
        "method " + request.method.substr(0, 16) + " is not allowed here; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    r.route = RouteLabel(request.target);  // the route is known: count it under its template
    return r;
  }
  r = ErrorResponse(404, "not_found", "no route for this path (see docs/api.md)");
  r.route = "unmatched";
  return r;
}

}  // namespace consent
