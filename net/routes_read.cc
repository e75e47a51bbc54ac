// The read routes: committed transactions, blocks, headers, consistency and consent proofs,
// histories, the directory, the validator set in office and its changes, node status, health,
// readiness, metrics and the stream's upgrade check. Each reads one backend snapshot so that an
// answer is about one height.
#include <chrono>

#include "crypto/hex.h"
#include "ledger/block_json.h"
#include "ledger/consent_proof.h"
#include "ledger/queries.h"
#include "ledger/set_changes.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"
#include "ledger/validator_history.h"
#include "net/api_json.h"
#include "net/http_metrics.h"
#include "net/readiness.h"
#include "net/routes.h"

namespace consent {
namespace {

constexpr uint64_t kDefaultPageSize = 100;

HttpResponse BadRequest(const Status& st) {
  return ErrorResponse(400, "invalid_request", st.message());
}

json::OrderedJson CursorJson(const std::string& cursor) {
  return cursor.empty() ? json::OrderedJson(nullptr) : json::OrderedJson(cursor);
}

Status NotACursor(const std::string& why) {
  return Status::Invalid("cursor: not a cursor this API gave (" + why +
                         "); pass the previous page's next_cursor, or omit it for the first page");
}

// The directory's cursor: a controller key (64 hex digits); "" when absent.
Result<std::string> DirectoryCursor(const QueryParams& q) {
  auto it = q.find("cursor");
  if (it == q.end()) return std::string();
  if (!ParseHex32("cursor", it->second).ok()) return NotACursor("expected 64 hex digits");
  return it->second;
}

// A controller's consents cursor: the hex of a subject key and a purpose label; "" when absent.
Result<std::string> ConsentsCursor(const QueryParams& q) {
  auto it = q.find("cursor");
  if (it == q.end()) return std::string();
  auto bytes = FromHex(it->second);
  if (!bytes.ok()) return NotACursor(bytes.status().message());
  if (bytes->size() <= 32) return NotACursor("too short");
  const std::string purpose(bytes->begin() + 32, bytes->end());
  if (!CheckPurposeLabel("purpose", purpose).ok())
    return NotACursor("it does not end in a purpose");
  return it->second;
}

}  // namespace

// Each route below parses its parameters first (400 on any problem), then queries.
#define PARSE_OR_400(lhs, expr)                                \
  auto CONSENT_CONCAT(_p_, __LINE__) = (expr);                 \
  if (!CONSENT_CONCAT(_p_, __LINE__).ok())                     \
    return BadRequest(CONSENT_CONCAT(_p_, __LINE__).status()); \
  lhs = std::move(CONSENT_CONCAT(_p_, __LINE__)).value()
#define QUERY_OR_ERROR(lhs, expr)                                  \
  auto CONSENT_CONCAT(_q_, __LINE__) = (expr);                     \
  if (!CONSENT_CONCAT(_q_, __LINE__).ok())                         \
    return StatusResponse(CONSENT_CONCAT(_q_, __LINE__).status()); \
  lhs = std::move(CONSENT_CONCAT(_q_, __LINE__)).value()

HttpResponse GetTxRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  PARSE_OR_400(Hash32 id, ParseHex32("tx_id", c.params[0]));
  auto snap = c.ctx.backend.Snapshot();
  auto info = GetTx(*snap, id);
  if (!info.ok() && info.status().code() == StatusCode::kNotFound) {
    return ErrorResponse(
        404, "not_found",
        "no committed transaction " + ToHex(id) + " (pending transactions are not shown)");
  }
  if (!info.ok()) return StatusResponse(info.status());
  json::OrderedJson j = json::OrderedJson::object();
  j["tx_id"] = ToHex(id);
  j["status"] = "committed";
  json::OrderedJson fields = TxInfoJson(*info);
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (it.key() != "tx_id") j[it.key()] = it.value();
  }
  j["head"] = CertifiedHeaderJson(info->head);
  return JsonResponse(200, j);
}

HttpResponse GetBlockRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(std::optional<uint64_t> head, HeadHeight(*snap));
  uint64_t height = 0;
  if (c.params[0] == "latest") {
    if (!head) return ErrorResponse(404, "not_found", "the ledger has no block yet");
    height = *head;
  } else {
    PARSE_OR_400(height, ParseDecimal("height", c.params[0], kMaxJsonInteger));
    if (height == 0) {
      return ErrorResponse(400, "invalid_request", "height: the first block is 1");
    }
    if (height > head.value_or(0)) {
      return ErrorResponse(404, "not_found",
                           "no block at height " + std::to_string(height) + " (the head is " +
                               std::to_string(head.value_or(0)) + ")");
    }
  }
  QUERY_OR_ERROR(CertifiedHeader ch, GetCertifiedHeader(*snap, height));
  QUERY_OR_ERROR(BlockBody body, GetBlockBody(*snap, height));
  const std::vector<SignedTx>& txs = body.txs;
  json::OrderedJson j = CertifiedHeaderJson(ch);
  json::OrderedJson list = json::OrderedJson::array();
  uint64_t first = ch.header.log_size - txs.size();
  for (size_t i = 0; i < txs.size(); ++i) {
    json::OrderedJson e = json::OrderedJson::object();
    e["tx_id"] = ToHex(txs[i].Id());
    e["log_index"] = first + i;
    e["tx"] = TxToJson(txs[i]);
    list.push_back(std::move(e));
  }
  j["txs"] = std::move(list);
  return JsonResponse(200, j);
}

HttpResponse GetHeadersRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"from", "to"}));
  if (!q.count("from")) return ErrorResponse(400, "invalid_request", "from: required");
  PARSE_OR_400(uint64_t from, ParseDecimal("from", q["from"], kMaxJsonInteger));
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(std::optional<uint64_t> head, HeadHeight(*snap));
  uint64_t def_to = std::min(from + kMaxHeaderRange - 1, std::max(head.value_or(0), from));
  PARSE_OR_400(uint64_t to, OptionalDecimal(q, "to", def_to, kMaxJsonInteger));
  if (to >= from && to - from >= kMaxHeaderRange) {
    return ErrorResponse(400, "invalid_request",
                         "at most " + std::to_string(kMaxHeaderRange) + " headers per request");
  }
  QUERY_OR_ERROR(std::vector<CertifiedHeader> headers, Headers(*snap, from, to));
  json::OrderedJson list = json::OrderedJson::array();
  for (const CertifiedHeader& h : headers) list.push_back(CertifiedHeaderJson(h));
  json::OrderedJson j = json::OrderedJson::object();
  j["headers"] = std::move(list);
  return JsonResponse(200, j);
}

HttpResponse GetConsistencyRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"from", "to"}));
  if (!q.count("from") || !q.count("to")) {
    return ErrorResponse(400, "invalid_request", "from and to (block heights) are required");
  }
  PARSE_OR_400(uint64_t from, ParseDecimal("from", q["from"], kMaxJsonInteger));
  PARSE_OR_400(uint64_t to, ParseDecimal("to", q["to"], kMaxJsonInteger));
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(ConsistencyInfo info, ConsistencyBetweenHeights(*snap, from, to));
  json::OrderedJson j = json::OrderedJson::object();
  j["first"] = CertifiedHeaderJson(info.first);
  j["second"] = CertifiedHeaderJson(info.second);
  j["proof"] = HashListJson(info.proof);
  return JsonResponse(200, j);
}

HttpResponse GetConsentRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"at_ms"}));
  PARSE_OR_400(PublicKey subject, ParseHex32("subject", c.params[0]));
  PARSE_OR_400(PublicKey controller, ParseHex32("controller", c.params[1]));
  Status label = CheckPurposeLabel("purpose", c.params[2]);
  if (!label.ok()) return BadRequest(label);
  std::optional<uint64_t> at_ms;
  if (q.count("at_ms")) {
    PARSE_OR_400(at_ms, ParseDecimal("at_ms", q["at_ms"], kMaxJsonInteger));
  }
  auto snap = c.ctx.backend.Snapshot();
  // Without at_ms: now, by this node's clock (or the head's time if that is later), so that a
  // grant that expired since the last block is reported expired even on an idle chain.
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  QUERY_OR_ERROR(ConsentProof proof, ProveConsent(*snap, c.ctx.backend.genesis(), subject,
                                                  controller, c.params[2], at_ms, now_ms));
  HttpResponse r;
  r.body = ConsentProofToJson(proof);
  return r;
}

HttpResponse GetHistoryRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"from", "limit"}));
  PARSE_OR_400(PublicKey subject, ParseHex32("subject", c.params[0]));
  PARSE_OR_400(uint64_t from, OptionalDecimal(q, "from", 0, kMaxJsonInteger));
  PARSE_OR_400(uint64_t limit, OptionalDecimal(q, "limit", kDefaultPageSize, kMaxPageSize));
  if (limit == 0) return ErrorResponse(400, "invalid_request", "limit: must be at least 1");
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(HistoryPage page, SubjectHistory(*snap, subject, from, limit));
  json::OrderedJson j = json::OrderedJson::object();
  j["subject"] = ToHex(subject);
  json::OrderedJson entries = json::OrderedJson::array();
  for (const TxInfo& e : page.entries) entries.push_back(TxInfoJson(e));
  j["entries"] = std::move(entries);
  j["next"] = page.next ? json::OrderedJson(*page.next) : json::OrderedJson(nullptr);
  if (!page.entries.empty()) {
    j["head"] = CertifiedHeaderJson(page.entries.front().head);
  } else {
    auto head = GetHead(*snap);
    j["head"] = head.ok() ? CertifiedHeaderJson(*head) : json::OrderedJson(nullptr);
  }
  return JsonResponse(200, j);
}

HttpResponse GetDirectoryRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"cursor", "limit"}));
  PARSE_OR_400(uint64_t limit, OptionalDecimal(q, "limit", kDefaultPageSize, kMaxPageSize));
  if (limit == 0) return ErrorResponse(400, "invalid_request", "limit: must be at least 1");
  PARSE_OR_400(std::string cursor, DirectoryCursor(q));
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(DirectoryPage page, Directory(*snap, cursor, limit));
  json::OrderedJson list = json::OrderedJson::array();
  for (const DirectoryEntry& e : page.entries) {
    json::OrderedJson o = json::OrderedJson::object();
    o["controller"] = ToHex(e.controller);
    o["name"] = e.entry.name;
    o["contact_uri"] = e.entry.contact_uri;
    o["issued_at_ms"] = e.entry.issued_at_ms;
    o["tx_id"] = ToHex(e.entry.tx_id);
    list.push_back(std::move(o));
  }
  json::OrderedJson j = json::OrderedJson::object();
  j["controllers"] = std::move(list);
  j["next_cursor"] = CursorJson(page.next_cursor);
  return JsonResponse(200, j);
}

HttpResponse GetControllerConsentsRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"cursor", "limit"}));
  PARSE_OR_400(PublicKey controller, ParseHex32("controller", c.params[0]));
  PARSE_OR_400(uint64_t limit, OptionalDecimal(q, "limit", kDefaultPageSize, kMaxPageSize));
  if (limit == 0) return ErrorResponse(400, "invalid_request", "limit: must be at least 1");
  PARSE_OR_400(std::string cursor, ConsentsCursor(q));
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(ControllerPage page, ControllerConsents(*snap, controller, cursor, limit));
  json::OrderedJson list = json::OrderedJson::array();
  for (const ControllerConsent& e : page.entries) {
    json::OrderedJson o = json::OrderedJson::object();
    o["subject"] = ToHex(e.subject);
    o["purpose"] = e.purpose;
    o["state_key"] = ToHex(e.state_key);
    o["status"] = e.value.status == ConsentStatus::kGranted ? "granted" : "revoked";
    o["tx_id"] = ToHex(e.value.tx_id);
    o["issued_at_ms"] = e.value.issued_at_ms;
    o["expires_at_ms"] = e.value.expires_at_ms;
    o["policy_hash"] = ToHex(e.value.policy_hash);
    list.push_back(std::move(o));
  }
  json::OrderedJson j = json::OrderedJson::object();
  j["controller"] = ToHex(controller);
  j["consents"] = std::move(list);
  j["next_cursor"] = CursorJson(page.next_cursor);
  return JsonResponse(200, j);
}

HttpResponse GetValidatorsRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  auto snap = c.ctx.backend.Snapshot();
  QUERY_OR_ERROR(std::optional<uint64_t> head, HeadHeight(*snap));
  QUERY_OR_ERROR(ValidatorsInOffice v, GetValidatorsInOffice(*snap, c.ctx.backend.genesis()));
  json::OrderedJson pending = json::OrderedJson::array();
  for (const PendingApproval& p : v.pending) {
    json::OrderedJson o = json::OrderedJson::object();
    o["validator"] = ToHex(p.validator);
    o["set_hash"] = ToHex(p.value.set_hash);
    o["tx_id"] = ToHex(p.value.tx_id);
    o["issued_at_ms"] = p.value.issued_at_ms;
    o["in_office"] = p.in_office;
    o["approvals"] = p.approvals_of_set;
    pending.push_back(std::move(o));
  }
  json::OrderedJson j = json::OrderedJson::object();
  j["height"] = head.value_or(0);
  j["since_height"] = v.since_height;
  j["validators"] = HashListJson(v.validators.keys);
  j["validators_hash"] = ToHex(v.validators.Hash());
  j["quorum"] = v.quorum;
  j["pending"] = std::move(pending);
  return JsonResponse(200, j);
}

HttpResponse GetValidatorChangesRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  auto snap = c.ctx.backend.Snapshot();
  // Counted first (the set records only), so that an answer over the bound reads no header.
  QUERY_OR_ERROR(std::vector<SetChange> recorded, ReadSetChanges(*snap));
  if (recorded.size() > kMaxValidatorChanges) {
    return ErrorResponse(500, "internal",
                         "the chain has " + std::to_string(recorded.size()) +
                             " validator set changes, more than the " +
                             std::to_string(kMaxValidatorChanges) +
                             " one answer (or consent proof) may carry");
  }
  QUERY_OR_ERROR(std::vector<ValidatorChange> changes, GetValidatorChanges(*snap, UINT64_MAX));
  json::OrderedJson j = json::OrderedJson::object();
  j["changes"] = ValidatorChangesToJson(changes);
  return JsonResponse(200, j);
}

HttpResponse GetStatusRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  return JsonResponse(200, NodeStatusJson(c.ctx.backend.Status()));
}

HttpResponse GetEvidenceRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  const std::vector<Evidence> list = c.ctx.backend.EvidenceList();
  json::OrderedJson items = json::OrderedJson::array();
  for (const Evidence& e : list) items.push_back(EvidenceJson(e));
  json::OrderedJson j = json::OrderedJson::object();
  j["evidence"] = std::move(items);
  return JsonResponse(200, j);
}

HttpResponse GetStreamRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {"controller", "from_log_index"}));
  StreamRequest s;
  if (q.count("controller")) {
    PARSE_OR_400(s.controller, ParseHex32("controller", q["controller"]));
  }
  PARSE_OR_400(s.from_log_index, OptionalDecimal(q, "from_log_index", 0, kMaxJsonInteger));
  if (std::optional<HttpResponse> refused = CheckWebSocketHandshake(c.request)) return *refused;
  HttpResponse r;
  r.status = 101;
  r.upgrade = s;
  return r;
}

HttpResponse HealthzRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  json::OrderedJson j = json::OrderedJson::object();
  j["status"] = "ok";
  return JsonResponse(200, j);
}

HttpResponse ReadyzRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  NodeStatus s = c.ctx.backend.Status();
  const Readiness r = JudgeReadiness(s, WallClockMs(), c.ctx.options.ready_max_head_age_ms);
  json::OrderedJson j = r.ready ? json::OrderedJson::object() : ErrorJson("not_ready", r.reason);
  j["ready"] = r.ready;
  if (!r.ready) j["cause"] = r.cause;
  j["height"] = s.height;
  if (r.head_age_ms) j["head_age_ms"] = *r.head_age_ms;
  j["peers"] = s.peers;
  return JsonResponse(r.ready ? 200 : 503, j);
}

HttpResponse MetricsRoute(const RouteCall& c) {
  PARSE_OR_400(QueryParams q, ParseQuery(c.query, {}));
  (void)q;
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = c.ctx.backend.NodeMetrics();
  if (!r.body.empty() && r.body.back() != '\n') r.body.push_back('\n');
  r.body += ReadinessMetrics(
      JudgeReadiness(c.ctx.backend.Status(), WallClockMs(), c.ctx.options.ready_max_head_age_ms));
  if (c.ctx.metrics) r.body += c.ctx.metrics->Render();
  return r;
}

}  // namespace consent
