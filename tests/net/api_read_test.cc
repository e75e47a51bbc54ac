// The read routes over real sockets and a real backend: each route's success (proofs checked
// with the ledger's own verifiers), then bad input for each (bad hex, bad labels, bad integers,
// unknown parameters, wrong methods, unknown paths), checking the server keeps serving.
#include <chrono>
#include <thread>

#include "crypto/hex.h"
#include "ledger/block_json.h"
#include "ledger/consent_proof.h"
#include "ledger/merkle_log.h"
#include "tests/genesis_set.h"
#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

Hash32 HashFromHex(const Json& v) { return *FromHexFixed<32>(v.get<std::string>()); }

std::vector<Hash32> HashList(const Json& v) {
  std::vector<Hash32> out;
  for (const auto& h : v) out.push_back(HashFromHex(h));
  return out;
}

Header HeaderOf(const Json& certified) {
  auto h = HeaderFromJson(certified["header"], "header");
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  auto c = CommitFromJson(certified["commit"], "commit");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return h.ok() ? *h : Header{};
}

class ApiReadTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    uint64_t now = WallMs();
    register_ = Register(controller_, "Example Brand", now - 1000);
    grant_ = Grant(subject_, controller_.public_key(), {"email", "sms"}, now - 900);
    revoke_ = Revoke(subject_, controller_.public_key(), {"sms"}, now - 800);
    SubmitOk({register_});  // height 1, log 0
    SubmitOk({grant_});     // height 2, log 1
    SubmitOk({revoke_});    // height 3, log 2
    subject_hex_ = ToHex(subject_.public_key());
    controller_hex_ = ToHex(controller_.public_key());
  }

  void ExpectError(const std::string& target, unsigned status, const std::string& code) {
    Reply r = Get(port_, target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    EXPECT_EQ(r.error_code(), code) << target << ": " << r.body;
    EXPECT_FALSE(r.json()["error"]["message"].get<std::string>().empty()) << target;
    ExpectServing();
  }

  SigningKey subject_ = KeyFromByte(1);
  SigningKey controller_ = KeyFromByte(2);
  SignedTx register_, grant_, revoke_;
  std::string subject_hex_, controller_hex_;
};

TEST_F(ApiReadTest, TxWithInclusionProofAgainstCertifiedHead) {
  Reply r = Get(port_, "/v1/txs/" + ToHex(grant_.Id()));
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["status"], "committed");
  EXPECT_EQ(j["height"], 2);
  EXPECT_EQ(j["position"], 0);
  EXPECT_EQ(j["log_index"], 1);
  EXPECT_EQ(j["tx"].dump(), TxJ(grant_).dump());
  EXPECT_EQ(j["encoding"], ToHex(grant_.Encode()));
  Header head = HeaderOf(j["head"]);
  EXPECT_EQ(head.height, 3u);
  EXPECT_EQ(j["head"]["fields"]["log_size"], 3);
  EXPECT_TRUE(merkle::VerifyInclusion(1, head.log_size, grant_.Id(), HashList(j["inclusion"]),
                                      head.log_root)
                  .ok());
  Json jt = Get(port_, "/v1/txs/" + ToHex(grant_.Id())).json();
  auto commit = CommitFromJson(jt["head"]["commit"], "commit");
  ASSERT_TRUE(commit.ok());
  EXPECT_TRUE(VerifyCommit(backend_.genesis(), head.height, head.Hash(), *commit).ok());
}

TEST_F(ApiReadTest, TxBadInput) {
  ExpectError("/v1/txs/" + std::string(64, '0'), 404, "not_found");
  ExpectError("/v1/txs/" + std::string(63, '0'), 400, "invalid_request");
  ExpectError("/v1/txs/" + std::string(64, 'g'), 400, "invalid_request");
  ExpectError("/v1/txs/" + ToHex(grant_.Id()) + "?x=1", 400, "invalid_request");
  ExpectError("/v1/txs/" + ToHex(grant_.Id()) + "/more", 404, "not_found");
}

TEST_F(ApiReadTest, Blocks) {
  Reply r = Get(port_, "/v1/blocks/latest");
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(HeaderOf(j).height, 3u);
  ASSERT_EQ(j["txs"].size(), 1u);
  EXPECT_EQ(j["txs"][0]["tx_id"], ToHex(revoke_.Id()));
  EXPECT_EQ(j["txs"][0]["log_index"], 2);
  Json b1 = Get(port_, "/v1/blocks/1").json();
  EXPECT_EQ(b1["txs"][0]["tx"].dump(), TxJ(register_).dump());
  EXPECT_EQ(HeaderOf(b1).height, 1u);
  ExpectError("/v1/blocks/0", 400, "invalid_request");
  ExpectError("/v1/blocks/4", 404, "not_found");
  ExpectError("/v1/blocks/-1", 400, "invalid_request");
  ExpectError("/v1/blocks/99999999999999999999999", 400, "invalid_request");
  ExpectError("/v1/blocks/18446744073709551616", 400, "invalid_request");
  ExpectError("/v1/blocks/1x", 400, "invalid_request");
  ExpectError("/v1/blocks/latest?verbose=1", 400, "invalid_request");
}

TEST_F(ApiReadTest, HeadersAndConsistency) {
  Json h = Get(port_, "/v1/headers?from=1&to=3").json();
  ASSERT_EQ(h["headers"].size(), 3u);
  EXPECT_EQ(HeaderOf(h["headers"][2]).height, 3u);
  EXPECT_EQ(Get(port_, "/v1/headers?from=2").json()["headers"].size(), 2u);
  Reply r = Get(port_, "/v1/log/consistency?from=1&to=3");
  ASSERT_EQ(r.status, 200u) << r.body;
  Json c = r.json();
  Header first = HeaderOf(c["first"]), second = HeaderOf(c["second"]);
  EXPECT_TRUE(merkle::VerifyConsistency(first.log_size, second.log_size, first.log_root,
                                        second.log_root, HashList(c["proof"]))
                  .ok());
  ExpectError("/v1/headers", 400, "invalid_request");
  ExpectError("/v1/headers?from=0&to=2", 400, "invalid_request");
  ExpectError("/v1/headers?from=3&to=2", 400, "invalid_request");
  ExpectError("/v1/headers?from=1&to=9", 404, "not_found");
  ExpectError("/v1/headers?from=1&to=2000", 400, "invalid_request");
  ExpectError("/v1/headers?from=1&from=2", 400, "invalid_request");
  ExpectError("/v1/headers?from=1&limit=2", 400, "invalid_request");
  ExpectError("/v1/headers?from=%zz", 400, "invalid_request");
  ExpectError("/v1/log/consistency?from=1", 400, "invalid_request");
  ExpectError("/v1/log/consistency?from=3&to=1", 400, "invalid_request");
  ExpectError("/v1/log/consistency?from=1&to=7", 404, "not_found");
  ExpectError("/v1/log/consistency?from=a&to=2", 400, "invalid_request");
}

TEST_F(ApiReadTest, ConsentProofIsSection9AndVerifies) {
  std::string base = "/v1/consents/" + subject_hex_ + "/" + controller_hex_ + "/";
  struct Case {
    std::string purpose;
    ProofStatus status;
  } cases[] = {{"email", ProofStatus::kGranted},
               {"sms", ProofStatus::kRevoked},
               {"phone", ProofStatus::kNone}};
  for (const Case& c : cases) {
    Reply r = Get(port_, base + c.purpose);
    ASSERT_EQ(r.status, 200u) << r.body;
    auto proof = ParseConsentProof(r.body);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(r.body, ConsentProofToJson(*proof));  // byte for byte the section 9 JSON
    auto verdict = VerifyConsentProof(*proof, backend_.genesis());
    ASSERT_TRUE(verdict.ok()) << verdict.status().ToString();
    EXPECT_EQ(verdict->status, c.status) << c.purpose;
  }
  // at_ms is passed through: the status is computed at that time. Not before the head's time:
  // the head's state may not have held then.
  Reply later = Get(port_, base + "email?at_ms=" + std::to_string(WallMs() + 1000));
  ASSERT_EQ(later.status, 200u) << later.body;
  auto head = ParseConsentProof(later.body);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  ASSERT_EQ(Get(port_, base + "email?at_ms=" + std::to_string(head->header.time_ms)).status, 200u);
  ExpectError(base + "email?at_ms=" + std::to_string(head->header.time_ms - 1), 400,
              "invalid_request");
  ExpectError(base + "email?at_ms=0", 400, "invalid_request");
  ExpectError(base + "EMAIL", 400, "invalid_request");
  ExpectError(base + std::string(65, 'a'), 400, "invalid_request");
  ExpectError(base + "email?at=1", 400, "invalid_request");
  ExpectError(base + "email?at_ms=1.5", 400, "invalid_request");
  ExpectError(base + "email?at_ms=9007199254740992", 400, "invalid_request");
  ExpectError("/v1/consents/" + subject_hex_.substr(2) + "/" + controller_hex_ + "/email", 400,
              "invalid_request");
  ExpectError("/v1/consents/" + subject_hex_ + "/zz" + controller_hex_.substr(2) + "/email", 400,
              "invalid_request");
  ExpectError("/v1/consents/" + subject_hex_ + "/" + controller_hex_, 404, "not_found");
}

TEST_F(ApiReadTest, SubjectHistoryPages) {
  Json h = Get(port_, "/v1/subjects/" + subject_hex_ + "/history").json();
  ASSERT_EQ(h["entries"].size(), 2u) << h.dump();
  EXPECT_EQ(h["entries"][0]["tx_id"], ToHex(grant_.Id()));
  EXPECT_EQ(h["entries"][1]["tx_id"], ToHex(revoke_.Id()));
  EXPECT_TRUE(h["next"].is_null());
  Header head = HeaderOf(h["head"]);
  EXPECT_TRUE(merkle::VerifyInclusion(2, head.log_size, revoke_.Id(),
                                      HashList(h["entries"][1]["inclusion"]), head.log_root)
                  .ok());
  Json p1 = Get(port_, "/v1/subjects/" + subject_hex_ + "/history?limit=1").json();
  ASSERT_EQ(p1["entries"].size(), 1u);
  ASSERT_EQ(p1["next"], 2);
  Json p2 = Get(port_, "/v1/subjects/" + subject_hex_ + "/history?limit=1&from=2").json();
  ASSERT_EQ(p2["entries"].size(), 1u);
  EXPECT_EQ(p2["entries"][0]["tx_id"], ToHex(revoke_.Id()));
  Json none = Get(port_, "/v1/subjects/" + controller_hex_ + "/history").json();
  EXPECT_EQ(none["entries"].size(), 0u);
  std::string base = "/v1/subjects/" + subject_hex_ + "/history";
  ExpectError(base + "?limit=0", 400, "invalid_request");
  ExpectError(base + "?limit=1001", 400, "invalid_request");
  ExpectError(base + "?from=-1", 400, "invalid_request");
  ExpectError(base + "?cursor=00", 400, "invalid_request");
  ExpectError("/v1/subjects/xyz/history", 400, "invalid_request");
}

TEST_F(ApiReadTest, DirectoryAndControllerConsents) {
  Json d = Get(port_, "/v1/controllers").json();
  ASSERT_EQ(d["controllers"].size(), 1u) << d.dump();
  EXPECT_EQ(d["controllers"][0]["controller"], controller_hex_);
  EXPECT_EQ(d["controllers"][0]["name"], "Example Brand");
  EXPECT_EQ(d["controllers"][0]["tx_id"], ToHex(register_.Id()));
  EXPECT_TRUE(d["next_cursor"].is_null());
  Json c = Get(port_, "/v1/controllers/" + controller_hex_ + "/consents").json();
  ASSERT_EQ(c["consents"].size(), 2u) << c.dump();
  EXPECT_EQ(c["consents"][0]["purpose"], "email");
  EXPECT_EQ(c["consents"][0]["status"], "granted");
  EXPECT_EQ(c["consents"][1]["purpose"], "sms");
  EXPECT_EQ(c["consents"][1]["status"], "revoked");
  Json c1 = Get(port_, "/v1/controllers/" + controller_hex_ + "/consents?limit=1").json();
  ASSERT_EQ(c1["consents"].size(), 1u);
  ASSERT_TRUE(c1["next_cursor"].is_string());
  Json c2 = Get(port_, "/v1/controllers/" + controller_hex_ +
                           "/consents?limit=1&cursor=" + c1["next_cursor"].get<std::string>())
                .json();
  ASSERT_EQ(c2["consents"].size(), 1u);
  EXPECT_EQ(c2["consents"][0]["purpose"], "sms");
  ExpectError("/v1/controllers?cursor=zz", 400, "invalid_request");
  ExpectError("/v1/controllers?limit=abc", 400, "invalid_request");
  ExpectError("/v1/controllers?limit=", 400, "invalid_request");
  ExpectError("/v1/controllers?page=2", 400, "invalid_request");
  ExpectError("/v1/controllers/" + controller_hex_ + "/consents?limit=5000", 400,
              "invalid_request");
  ExpectError("/v1/controllers/abc/consents", 400, "invalid_request");
}

TEST_F(ApiReadTest, EvidenceListsEquivocationsThatAnyoneCanCheck) {
  Json empty = Get(port_, "/v1/evidence").json();
  ASSERT_TRUE(empty["evidence"].is_array());
  EXPECT_TRUE(empty["evidence"].empty());
  const Evidence e = backend_.AddEquivocation(9, 2);
  Json j = Get(port_, "/v1/evidence").json();
  ASSERT_EQ(j["evidence"].size(), 1u);
  const Json& item = j["evidence"][0];
  EXPECT_EQ(item["kind"], "duplicate_vote");
  EXPECT_EQ(item["validator"], ToHex(e.a.validator));
  EXPECT_EQ(item["height"], 9);
  EXPECT_EQ(item["round"], 2);
  // Rebuild each vote from the JSON alone and check its signature with the genesis.
  for (const char* name : {"vote_a", "vote_b"}) {
    const Json& v = item[name];
    SignedVote vote;
    vote.type = v["type"] == "prevote" ? VoteType::kPrevote : VoteType::kPrecommit;
    vote.height = v["height"].get<uint64_t>();
    vote.round = v["round"].get<uint32_t>();
    vote.block_hash = *FromHexFixed<32>(v["block_hash"].get<std::string>());
    vote.validator = *FromHexFixed<32>(v["validator"].get<std::string>());
    vote.signature = *FromHexFixed<64>(v["signature"].get<std::string>());
    EXPECT_TRUE(VerifyVote(backend_.genesis(), vote).ok()) << name;
  }
  EXPECT_NE(item["vote_a"]["block_hash"], item["vote_b"]["block_hash"]);
  ExpectError("/v1/evidence?limit=5", 400, "invalid_request");
}

TEST_F(ApiReadTest, StatusHealthReadyMetrics) {
  Json s = Get(port_, "/v1/status").json();
  EXPECT_EQ(s["chain_id"], "net-test");
  EXPECT_EQ(s["height"], 3);
  EXPECT_EQ(s["log_size"], 3);
  EXPECT_EQ(s["ready"], true);
  ASSERT_EQ(s["validators"].size(), 1u);
  for (const char* key :
       {"node_key", "validator", "consensus", "evidence", "peers", "catching_up"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_TRUE(s["consensus"].contains("round") && s["consensus"].contains("step"));
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
  EXPECT_EQ(Get(port_, "/readyz").status, 200u);
  backend_.set_ready(false);
  ExpectError("/readyz", 503, "not_ready");
  EXPECT_EQ(Get(port_, "/healthz").status, 200u);
  backend_.set_ready(true);
  EXPECT_EQ(Get(port_, "/readyz").status, 200u);
  Reply m = Get(port_, "/metrics");
  ASSERT_EQ(m.status, 200u);
  EXPECT_EQ(m.raw[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find("consent_node_height 3\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("consent_http_requests_total{route=\"/v1/status\",code=\"200\"} 1\n"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("consent_http_requests_total{route=\"/readyz\",code=\"503\"} 1\n"),
            std::string::npos);
  EXPECT_NE(
      m.body.find("consent_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}"),
      std::string::npos);
  // This connection at least (closed ones may not have been noticed yet).
  size_t at = m.body.find("\nconsent_http_open_connections ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(m.body.substr(at + 31)), 1);
  EXPECT_NE(m.body.find("consent_http_open_streams 0\n"), std::string::npos);
  ExpectError("/v1/status?x=1", 400, "invalid_request");
}

// The small parser rules, each with a message that says what to send instead: one spelling per
// number (no leading zeros, in the path or the query), no empty parameter values (omit the
// parameter), percent escapes decoded in the path as in the query, and cursors checked.
TEST_F(ApiReadTest, NumbersValuesEscapesAndCursorsAreParsedOneWay) {
  auto expect_message = [&](const std::string& target, const std::string& part) {
    Reply r = Get(port_, target);
    EXPECT_EQ(r.status, 400u) << target << ": " << r.body;
    EXPECT_EQ(r.error_code(), "invalid_request") << target;
    EXPECT_NE(r.body.find(part), std::string::npos) << target << ": " << r.body;
  };
  const std::string consent = "/v1/consents/" + subject_hex_ + "/" + controller_hex_ + "/email";
  const std::string history = "/v1/subjects/" + subject_hex_ + "/history";
  const std::string consents = "/v1/controllers/" + controller_hex_ + "/consents";
  // Leading zeros.
  expect_message("/v1/blocks/01", "height: leading zeros are not allowed (write 1)");
  expect_message(consent + "?at_ms=007", "at_ms: leading zeros are not allowed (write 7)");
  expect_message(history + "?from=01", "from: leading zeros are not allowed (write 1)");
  expect_message(history + "?limit=05", "limit: leading zeros are not allowed (write 5)");
  expect_message("/v1/headers?from=1&to=002", "to: leading zeros are not allowed (write 2)");
  expect_message("/v1/headers?from=%301", "from: leading zeros");  // decoded first: "01"
  EXPECT_EQ(Get(port_, history + "?from=0").status, 200u);
  EXPECT_EQ(Get(port_, "/v1/blocks/1").status, 200u);
  // Empty values: an error for every parameter, the cursor included.
  expect_message("/v1/controllers?cursor=", "cursor: empty value (omit the parameter");
  expect_message(consents + "?cursor=&limit=1", "cursor: empty value");
  expect_message(history + "?from=", "from: empty value");
  // Percent escapes in the path mean what they do in the query (RFC 3986): %65 is "e".
  Reply escaped = Get(port_, "/v1/consents/" + subject_hex_ + "/" + controller_hex_ + "/%65mail");
  EXPECT_EQ(escaped.status, 200u) << escaped.body;
  EXPECT_EQ(escaped.body, Get(port_, consent).body);
  EXPECT_EQ(Get(port_, "/v1/blocks/%31").status, 200u);
  expect_message(
      "/v1/consents/" + subject_hex_ + "/" + controller_hex_ + "/e%2Fmail",
      "purpose: byte 1 ('/') is not in [a-z0-9._-]");  // an escaped '/' stays in its segment
  expect_message("/v1/blocks/%3", "path: truncated percent escape");
  expect_message("/v1/blocks/%zz", "path: bad percent escape");
  // Cursors: what next_cursor gives, else 400.
  expect_message("/v1/controllers?cursor=ff", "cursor: not a cursor this API gave");
  expect_message("/v1/controllers?cursor=" + std::string(128, '0'), "cursor: not a cursor");
  expect_message(consents + "?cursor=" + std::string(64, '0'), "cursor: not a cursor");
  expect_message(consents + "?cursor=" + std::string(64, '0') + "4d", "cursor: not a cursor");
  expect_message(consents + "?cursor=zz", "cursor: not a cursor");
  Reply after_all = Get(port_, "/v1/controllers?cursor=" + std::string(64, 'f'));
  ASSERT_EQ(after_all.status, 200u) << after_all.body;
  EXPECT_TRUE(after_all.json()["controllers"].empty());
  // A consents cursor is a subject and a purpose: after (subject, "email") comes "sms".
  Reply next =
      Get(port_, consents + "?cursor=" + subject_hex_ + ToHex(Bytes{'e', 'm', 'a', 'i', 'l'}));
  ASSERT_EQ(next.status, 200u) << next.body;
  ASSERT_EQ(next.json()["consents"].size(), 1u) << next.body;
  EXPECT_EQ(next.json()["consents"][0]["purpose"], "sms");
  ExpectServing();
}

TEST_F(ApiReadTest, UnknownPathsAndWrongMethods) {
  ExpectError("/v1/nothing", 404, "not_found");
  ExpectError("/v1/status/", 404, "not_found");
  ExpectError("/", 404, "not_found");
  HttpClient c(port_);
  Reply r = c.Request(http::verb::post, "/v1/status", "{}");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.error_code(), "method_not_allowed");
  EXPECT_EQ(r.raw[http::field::allow], "GET, HEAD");
  Reply g = c.Request(http::verb::get, "/v1/txs");
  EXPECT_EQ(g.status, 405u);
  EXPECT_EQ(g.raw[http::field::allow], "POST");
  Reply d = c.Request(http::verb::delete_, "/v1/txs/" + std::string(64, 'a'));
  EXPECT_EQ(d.status, 405u);
  EXPECT_EQ(d.raw[http::field::allow], "GET, HEAD");
  // The same keep-alive connection still serves.
  EXPECT_EQ(c.Get("/healthz").status, 200u);
}

// HEAD is answered on every GET route: GET's status and headers (Content-Length included),
// no body; the keep-alive connection goes on with the next request.
TEST_F(ApiReadTest, HeadAnswersGetRoutesWithoutTheBody) {
  const std::vector<std::string> targets = {
      "/healthz",
      "/readyz",
      "/v1/status",
      "/v1/blocks/1",
      "/v1/blocks/99",  // 404, as for GET
      "/v1/consents/" + subject_hex_ + "/" + controller_hex_ + "/email",
      "/v1/stream",  // 426, as for GET without an upgrade
      "/metrics",
  };
  for (const std::string& target : targets) {
    Reply get = Get(port_, target);
    const std::string head = "HEAD " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string then = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    std::string answer = RawExchange(port_, head + then);
    EXPECT_EQ(answer.rfind("HTTP/1.1 " + std::to_string(get.status) + " ", 0), 0u)
        << target << ": " << answer;
    const std::string type = "Content-Type: " + std::string(get.raw[http::field::content_type]);
    EXPECT_NE(answer.find(type + "\r\n"), std::string::npos) << target << ": " << answer;
    EXPECT_NE(answer.find("Content-Length: "), std::string::npos) << answer;
    if (target == "/healthz" || target == "/v1/blocks/1") {  // bodies that do not change
      EXPECT_NE(answer.find("Content-Length: " + std::to_string(get.body.size()) + "\r\n"),
                std::string::npos)
          << target << ": " << answer;
    }
    // The HEAD answer ends with its header: the next bytes are the GET's answer.
    size_t end = answer.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << answer;
    EXPECT_EQ(answer.compare(end + 4, 15, "HTTP/1.1 200 OK"), 0) << target << ": " << answer;
    EXPECT_EQ(answer.substr(answer.size() - 15), "{\"status\":\"ok\"}") << answer;
  }
  // HEAD where only POST is served is 405, as GET.
  std::string answer =
      RawExchange(port_, "HEAD /v1/txs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << answer;
  EXPECT_NE(answer.find("Allow: POST\r\n"), std::string::npos) << answer;
  const std::string m = Get(port_, "/metrics").body;
  EXPECT_GE(MetricValue(m, "consent_http_requests_total{route=\"/healthz\",code=\"200\"}"), 2u);
}

TEST(ApiEmptyLedgerTest, RoutesAnswerNotFoundBeforeBlockOne) {
  TestBackend backend;
  ApiServerOptions o;
  o.port = 0;
  auto server = ApiServer::Start(o, backend);
  ASSERT_TRUE(server.ok());
  uint16_t port = (*server)->port();
  EXPECT_EQ(Get(port, "/v1/blocks/latest").status, 404u);
  EXPECT_EQ(
      Get(port, "/v1/consents/" + std::string(64, 'a') + "/" + std::string(64, 'b') + "/email")
          .status,
      404u);
  Json h = Get(port, "/v1/subjects/" + std::string(64, 'a') + "/history").json();
  EXPECT_EQ(h["entries"].size(), 0u);
  EXPECT_TRUE(h["head"].is_null());
  EXPECT_EQ(Get(port, "/v1/status").json()["height"], 0);
  (*server)->Stop();
  EXPECT_EQ(backend.listener_count(), 0u);
}

TEST(ApiServerStartTest, AddressInUseIsAClearError) {
  TestBackend backend;
  ApiServerOptions o;
  o.port = 0;
  auto a = ApiServer::Start(o, backend);
  ASSERT_TRUE(a.ok());
  o.port = (*a)->port();
  auto b = ApiServer::Start(o, backend);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos)
      << b.status().message();
  o.listen_address = "not-an-address";
  EXPECT_FALSE(ApiServer::Start(o, backend).ok());
}

}  // namespace
TEST_F(ApiReadTest, ConsentThatExpiredSinceTheLastBlockReadsExpired) {
  // A grant that expires half a second from now, then no more blocks (an idle chain): once the
  // expiry has passed, the proof (asked without at_ms, so for now by the node's clock) says
  // expired, although the head's time is before the expiry.
  const uint64_t expiry = WallMs() + 500;
  SubmitOk(
      {Grant(subject_, controller_.public_key(), {"post"}, WallMs() - 100, "net-test", 7, expiry)});
  while (WallMs() <= expiry + 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Reply r = Get(port_, "/v1/consents/" + subject_hex_ + "/" + controller_hex_ + "/post");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto proof = ParseConsentProof(r.body);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_EQ(proof->status, ProofStatus::kExpired) << r.body;
  // Judged at now, the verifier agrees; judged at the block's time (the library's default) it is
  // granted, and the proof's own "expired" is reported as the claim for a later time.
  auto now = VerifyConsentProof(*proof, backend_.genesis(), WallMs());
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(now->status, ProofStatus::kExpired);
  if (proof->header.time_ms < expiry) {
    auto then = VerifyConsentProof(*proof, backend_.genesis());
    ASSERT_TRUE(then.ok()) << then.status().ToString();
    EXPECT_EQ(then->status, ProofStatus::kGranted);
    EXPECT_EQ(then->claimed, ProofStatus::kExpired);
  }
}

}  // namespace consent::testing
