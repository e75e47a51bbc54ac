// The route handlers behind net/router.h (internal to net/). Each takes the request, the
// router's context, the path parameters in template order and the raw query string, and returns
// the full response. Thread-safety: as Handle.
#pragma once

#include <string_view>
#include <vector>

#include "net/router.h"

namespace consent {

struct RouteCall {
  const HttpRequest& request;
  const RouterContext& ctx;
  std::vector<std::string_view> params;
  std::string_view query;
};

HttpResponse PostTxs(const RouteCall& c);
HttpResponse GetTxRoute(const RouteCall& c);
HttpResponse GetBlockRoute(const RouteCall& c);
HttpResponse GetHeadersRoute(const RouteCall& c);
HttpResponse GetConsistencyRoute(const RouteCall& c);
HttpResponse GetConsentRoute(const RouteCall& c);
HttpResponse GetHistoryRoute(const RouteCall& c);
HttpResponse GetDirectoryRoute(const RouteCall& c);
HttpResponse GetControllerConsentsRoute(const RouteCall& c);
HttpResponse GetValidatorsRoute(const RouteCall& c);
HttpResponse GetValidatorChangesRoute(const RouteCall& c);
HttpResponse GetStatusRoute(const RouteCall& c);
HttpResponse GetEvidenceRoute(const RouteCall& c);
HttpResponse GetStreamRoute(const RouteCall& c);
HttpResponse HealthzRoute(const RouteCall& c);
HttpResponse ReadyzRoute(const RouteCall& c);
HttpResponse MetricsRoute(const RouteCall& c);

}  // namespace consent
