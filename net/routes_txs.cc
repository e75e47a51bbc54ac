// POST /v1/txs: one transaction (either JSON form of PROTOCOL.md section 8) or an array of them.
// Per client (ClientKey: an IPv4 address or an IPv6 /64), three token buckets are charged before
// any signature is verified: one per request, one per body byte, one per transaction; a refusal
// is 429 with Retry-After.
// Each element is parsed strictly on its own (a malformed one gets its own error, the others are
// still submitted), the well-formed ones go to the backend in one SubmitAsync (its signatures
// are verified in the node's per-client fair queue, node/fair_verify.h; a full queue is 429 for
// this client's share, 503 for the whole), and the answer, one result per element in order, is
// deferred until the batch is admitted: no API thread waits for it. With ?wait=commit the
// accepted ones are awaited through the CommitHub (registered before submitting, so that no
// commit can be missed) and the transport answers when the wait completes or times out.
#include "crypto/hex.h"
#include "ledger/tx_json.h"
#include "net/commit_hub.h"
#include "net/http_metrics.h"
#include "net/rate_limiter.h"
#include "net/routes.h"

namespace consent {
namespace {

struct Outcome {
  json::OrderedJson result;
  unsigned http = 202;  // what a single-object request answers
  bool accepted = false;
};

json::OrderedJson TxError(std::string_view code, std::string_view message,
                          std::string_view rule = {}) {
  json::OrderedJson e = json::OrderedJson::object();
  e["code"] = std::string(code);
  e["message"] = std::string(message);
  if (!rule.empty()) e["rule"] = std::string(rule);
  return e;
}

Outcome Rejected(json::OrderedJson tx_id, unsigned http, json::OrderedJson error) {
  Outcome o;
  o.result = json::OrderedJson::object();
  o.result["tx_id"] = std::move(tx_id);
  o.result["status"] = "rejected";
  o.result["error"] = std::move(error);
  o.http = http;
  return o;
}

Outcome FromSubmit(const SubmitOutcome& s) {
  std::string id = ToHex(s.tx_id);
  switch (s.status.code()) {
    case StatusCode::kOk: {
      Outcome o;
      o.result = json::OrderedJson::object();
      o.result["tx_id"] = id;
      o.result["status"] = s.duplicate ? "duplicate" : "accepted";
      o.accepted = true;
      return o;
    }
    case StatusCode::kInvalidArgument:
      return Rejected(id, 400, TxError("invalid_tx", s.status.message()));
    case StatusCode::kInvalidSignature:
      return Rejected(id, 400, TxError("invalid_signature", s.status.message()));
    case StatusCode::kRejected:
      return Rejected(id, 409, TxError("rejected", s.status.message(), s.rule));
    case StatusCode::kAlreadyExists:
      return Rejected(id, 409, TxError("rejected", s.status.message(), "replay"));
    case StatusCode::kUnavailable:
      return Rejected(id, 503, TxError("mempool_full", s.status.message()));
    default:
      return Rejected(id, 500, TxError("internal", s.status.ToString()));
  }
}

// What the deferred answer of one POST needs once the node has admitted the batch.
struct PendingPost {
  std::vector<Outcome> outcomes;  // the malformed elements' already; the rest filled in
  std::vector<size_t> where;      // index in `outcomes` of each submitted tx
  std::vector<Hash32> ids;        // of each submitted tx
  bool single = false;
  std::shared_ptr<CommitWait> waiter;    // registered with the hub, or null
  std::vector<SubmitOutcome> submitted;  // set by the backend's completion
};

HttpResponse FinishPost(PendingPost& p, CommitHub* hub) {
  if (p.submitted.size() != p.ids.size()) {
    if (p.waiter && hub) hub->RemoveWait(p.waiter);
    return ErrorResponse(500, "internal",
                         "the node answered " + std::to_string(p.submitted.size()) +
                             " outcomes for " + std::to_string(p.ids.size()) + " transactions");
  }
  bool any_accepted = false, all_accepted = true;
  for (size_t k = 0; k < p.submitted.size(); ++k) {
    p.outcomes[p.where[k]] = FromSubmit(p.submitted[k]);
    if (!p.outcomes[p.where[k]].accepted && p.waiter) p.waiter->Drop(p.ids[k]);
  }
  json::OrderedJson results = json::OrderedJson::array();
  for (const Outcome& o : p.outcomes) {
    any_accepted = any_accepted || o.accepted;
    all_accepted = all_accepted && o.accepted;
    results.push_back(o.result);
  }
  if (p.waiter) {
    if (any_accepted) {
      p.waiter->SetResults(std::move(results));
      HttpResponse r;
      r.wait = p.waiter;
      return r;
    }
    if (hub) hub->RemoveWait(p.waiter);
  }
  if (p.single) {
    HttpResponse r = JsonResponse(p.outcomes[0].http, results[0]);
    if (p.outcomes[0].http == 503) r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  return JsonResponse(all_accepted ? 202 : 200, results);
}

}  // namespace

HttpResponse PostTxs(const RouteCall& c) {
  const ApiServerOptions& opt = c.ctx.options;
  auto q = ParseQuery(c.query, {"wait"});
  if (!q.ok()) return ErrorResponse(400, "invalid_request", q.status().message());
  bool wait = false;
  if (auto it = q->find("wait"); it != q->end()) {
    if (it->second != "commit") {
      return ErrorResponse(400, "invalid_request", "wait: the only value is 'commit'");
    }
    wait = true;
  }
  const std::string client = ClientKey(c.request.remote);
  auto limited = [&](const char* what, uint32_t retry) {
    if (c.ctx.metrics) c.ctx.metrics->RateLimited();
    HttpResponse r =
        ErrorResponse(429, "rate_limited",
                      std::string("too many ") + what + " from this address; retry in " +
                          std::to_string(retry) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(retry));
    return r;
  };
  if (c.ctx.limiter) {
    if (auto retry = c.ctx.limiter->Take(client)) return limited("write requests", *retry);
  }
  if (c.ctx.byte_limiter) {
    if (auto retry = c.ctx.byte_limiter->Take(client, RateLimiter::Clock::now(),
                                              static_cast<double>(c.request.body.size()))) {
      return limited("bytes of transactions (write_bytes_per_s)", *retry);
    }
  }
  if (c.request.body.size() > opt.max_body_bytes) {
    return ErrorResponse(413, "payload_too_large",
                         "body is " + std::to_string(c.request.body.size()) +
                             " bytes; the limit is " + std::to_string(opt.max_body_bytes));
  }
  // A full verification queue refuses before the body is decoded (429 for this client's
  // share, 503 for the whole), so that a flood of requests it cannot take costs little.
  auto queue_full = [&](const Status& st) {
    const bool mine = st.code() == StatusCode::kRejected;
    if (mine && c.ctx.metrics) c.ctx.metrics->RateLimited();
    HttpResponse r =
        ErrorResponse(mine ? 429 : 503, mine ? "rate_limited" : "unavailable", st.message());
    r.headers.emplace_back("Retry-After", "1");
    return r;
  };
  if (Status st = c.ctx.backend.CanQueue(client, c.request.body.size()); !st.ok()) {
    return queue_full(st);
  }
  auto parsed = json::ParseStrict(c.request.body, opt.max_body_bytes, "body");
  if (!parsed.ok()) return ErrorResponse(400, "invalid_json", parsed.status().message());
  const json::Json& body = *parsed;
  const bool single = body.is_object();
  std::vector<const json::Json*> elements;
  if (single) {
    elements.push_back(&body);
  } else if (body.is_array()) {
    if (body.empty()) return ErrorResponse(400, "invalid_tx", "empty array: nothing to submit");
    if (body.size() > opt.max_txs_per_request) {
      return ErrorResponse(413, "payload_too_large",
                           std::to_string(body.size()) +
                               " transactions in one request; the "
                               "limit is " +
                               std::to_string(opt.max_txs_per_request));
    }
    for (const json::Json& e : body) elements.push_back(&e);
  } else {
    return ErrorResponse(400, "invalid_json",
                         "body: expected a transaction object or an array of them");
  }

  // Charged per transaction before any is verified: a signature check is the costly part.
  if (c.ctx.tx_limiter) {
    if (auto retry = c.ctx.tx_limiter->Take(client, RateLimiter::Clock::now(),
                                            static_cast<double>(elements.size()))) {
      return limited("transactions (write_tx_rate_per_s)", *retry);
    }
  }
  std::vector<Outcome> outcomes(elements.size());
  std::vector<IdentifiedTx> txs;  // each id computed once, here, for the waiter and the node
  std::vector<size_t> where;      // index in `elements` of each tx in `txs`
  for (size_t i = 0; i < elements.size(); ++i) {
    auto tx = TxFromJson(*elements[i]);
    if (!tx.ok()) {
      std::string path = single ? "" : "[" + std::to_string(i) + "] ";
      outcomes[i] = Rejected(nullptr, 400, TxError("invalid_tx", path + tx.status().message()));
      continue;
    }
    txs.emplace_back(std::move(tx).value());
    where.push_back(i);
  }
  std::vector<Hash32> ids;  // of txs[k], for the answer
  ids.reserve(txs.size());
  for (const IdentifiedTx& tx : txs) ids.push_back(tx.id());
  std::shared_ptr<CommitWait> waiter;
  if (wait && !txs.empty()) {
    if (!c.ctx.hub) return ErrorResponse(503, "unavailable", "wait=commit is not available");
    waiter = std::make_shared<CommitWait>(single);
    for (size_t k = 0; k < txs.size(); ++k) waiter->Await(txs[k].id(), where[k]);
    c.ctx.hub->AddWait(waiter);
  }
  auto pending = std::make_shared<PendingPost>();
  pending->outcomes = std::move(outcomes);
  pending->where = std::move(where);
  pending->ids = std::move(ids);
  pending->single = single;
  pending->waiter = waiter;
  if (txs.empty()) return FinishPost(*pending, c.ctx.hub);  // every element was malformed
  auto deferred = std::make_shared<DeferredResponse>();
  deferred->wait = waiter;
  Status queued = c.ctx.backend.SubmitAsync(
      client, c.request.body.size(), std::move(txs),
      [pending, deferred](std::vector<SubmitOutcome> submitted) {
        pending->submitted = std::move(submitted);
        deferred->Complete([pending](CommitHub* hub) { return FinishPost(*pending, hub); });
      });
  if (!queued.ok()) {
    // Not queued: this client's share of the verification queue is full (429), or the whole
    // queue (503); nothing was submitted.
    if (waiter) c.ctx.hub->RemoveWait(waiter);
    return queue_full(queued);
  }
  HttpResponse r;
  r.deferred = std::move(deferred);
  return r;
}

}  // namespace consent
