// The router and its helpers without sockets: Handle() over a real backend, query and integer
// parsing, labels, method and path matching, the rate limiter's arithmetic, CommitWait, and the
// metrics text.
#include "net/router.h"
#include "ledger/tx.h"
#include "net/commit_hub.h"
#include "net/http_metrics.h"
#include "net/rate_limiter.h"
#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

HttpResponse Call(TestBackend& b, const std::string& method, const std::string& target,
                  const std::string& body = "", CommitHub* hub = nullptr) {
  static const ApiServerOptions options;
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.remote = "127.0.0.1";
  HttpResponse r = Handle(req, RouterContext{b, options, hub, nullptr, nullptr});
  // POST /v1/txs answers through a DeferredResponse; the test backend admits at once.
  if (r.deferred) {
    std::string route = r.route;
    r = r.deferred->Render(hub);
    r.route = route;
  }
  return r;
}

TEST(RouterTest, MatchesTemplatesAndReportsTheRoute) {
  TestBackend b;
  HttpResponse r = Call(b, "GET", "/v1/status");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.route, "/v1/status");
  HttpResponse tx = Call(b, "GET", "/v1/txs/" + std::string(64, 'a'));
  EXPECT_EQ(tx.status, 404u);
  EXPECT_EQ(tx.route, "/v1/txs/{tx_id}");
  HttpResponse m = Call(b, "PUT", "/v1/txs");
  EXPECT_EQ(m.status, 405u);
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.headers[0].second, "POST");
  EXPECT_EQ(Call(b, "GET", "/v1//status").status, 404u);
  EXPECT_EQ(Call(b, "GET", "v1/status").status, 400u);
  EXPECT_EQ(Call(b, "GET", "/nope").route, "unmatched");
}

TEST(RouterTest, HeadIsServedAsGetAndListedInAllow) {
  TestBackend b;
  HttpResponse h = Call(b, "HEAD", "/healthz");
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.route, "/healthz");
  EXPECT_EQ(h.body, Call(b, "GET", "/healthz").body);  // the transport drops it
  HttpResponse p = Call(b, "POST", "/v1/status");
  EXPECT_EQ(p.status, 405u);
  ASSERT_EQ(p.headers.size(), 1u);
  EXPECT_EQ(p.headers[0].second, "GET, HEAD");
  HttpResponse t = Call(b, "HEAD", "/v1/txs");
  EXPECT_EQ(t.status, 405u);
  ASSERT_EQ(t.headers.size(), 1u);
  EXPECT_EQ(t.headers[0].second, "POST");
}

TEST(RouterTest, RouteLabelNamesTheTemplateOfAKnownPath) {
  EXPECT_EQ(RouteLabel("/v1/txs"), "/v1/txs");
  EXPECT_EQ(RouteLabel("/v1/txs?wait=commit"), "/v1/txs");
  EXPECT_EQ(RouteLabel("/v1/txs/abc"), "/v1/txs/{tx_id}");
  EXPECT_EQ(RouteLabel("/v1/nothing"), "unmatched");
  EXPECT_EQ(RouteLabel(""), "unmatched");
  EXPECT_EQ(RouteLabel("*"), "unmatched");
  EXPECT_EQ(RouteLabel("/v1/%74xs"), "/v1/txs");  // decoded as the router decodes it
  EXPECT_EQ(RouteLabel("/v1/%zz"), "unmatched");
}

TEST(RouterTest, StreamHandshakeIsCheckedBeforeTheUpgrade) {
  TestBackend b;
  static const ApiServerOptions options;
  auto call = [&](auto change) {
    HttpRequest req;
    req.method = "GET";
    req.target = "/v1/stream";
    req.websocket.host = true;
    req.websocket.connection = "keep-alive, Upgrade";
    req.websocket.upgrade = "WebSocket";
    req.websocket.version = "13";
    req.websocket.key = "dGhlIHNhbXBsZSBub25jZQ==";
    change(req);
    return Handle(req, RouterContext{b, options, nullptr, nullptr, nullptr});
  };
  auto message = [](const HttpResponse& r) {
    return Json::parse(r.body)["error"]["message"].get<std::string>();
  };
  HttpResponse ok = call([](HttpRequest&) {});
  EXPECT_EQ(ok.status, 101u);
  EXPECT_TRUE(ok.upgrade);
  HttpResponse no_upgrade = call([](HttpRequest& r) { r.websocket.upgrade.reset(); });
  EXPECT_EQ(no_upgrade.status, 426u);
  EXPECT_NE(message(no_upgrade).find("send Upgrade: websocket"), std::string::npos);
  HttpResponse no_connection = call([](HttpRequest& r) { r.websocket.connection = "close"; });
  EXPECT_EQ(no_connection.status, 426u);
  EXPECT_NE(message(no_connection).find("send Connection: Upgrade"), std::string::npos);
  HttpResponse head = call([](HttpRequest& r) { r.method = "HEAD"; });
  EXPECT_EQ(head.status, 426u);
  EXPECT_FALSE(head.upgrade);
  HttpResponse v8 = call([](HttpRequest& r) { r.websocket.version = "8"; });
  EXPECT_EQ(v8.status, 426u);
  EXPECT_EQ(v8.headers,
            (std::vector<std::pair<std::string, std::string>>{{"Sec-WebSocket-Version", "13"}}));
  EXPECT_EQ(call([](HttpRequest& r) { r.websocket.version.reset(); }).status, 400u);
  EXPECT_EQ(call([](HttpRequest& r) { r.websocket.key.reset(); }).status, 400u);
  EXPECT_EQ(call([](HttpRequest& r) { r.websocket.key = "short"; }).status, 400u);
  EXPECT_EQ(call([](HttpRequest& r) {
              r.websocket.key =
                  "dGhlIHNhbXBsZSBub25jZQ=="
                  ", dGhlIHNhbXBsZSBub25jZQ==";
            }).status,
            400u);
  EXPECT_EQ(call([](HttpRequest& r) { r.websocket.key = "dGhlIHNhbXBsZSBub25jZ*=="; }).status,
            400u);
  EXPECT_EQ(call([](HttpRequest& r) { r.version = 10; }).status, 400u);
  EXPECT_EQ(call([](HttpRequest& r) { r.websocket.host = false; }).status, 400u);
  for (const HttpResponse& r : {no_upgrade, no_connection, v8}) {
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.route, "/v1/stream");
    EXPECT_EQ(Json::parse(r.body)["error"]["code"], "upgrade_required");
  }
  // Bad parameters are refused first, as before.
  EXPECT_EQ(call([](HttpRequest& r) { r.target = "/v1/stream?since=1"; }).status, 400u);
}

TEST(RouterTest, WaitCommitThroughTheHubWithoutSockets) {
  TestBackend b;
  CommitHub hub(b);
  SignedTx tx = Grant(KeyFromByte(1), KeyFromByte(2).public_key(), {"email"}, WallMs());
  HttpResponse r = Call(b, "POST", "/v1/txs?wait=commit", TxText(tx), &hub);
  ASSERT_TRUE(r.wait);
  EXPECT_TRUE(r.wait->complete());  // the test backend commits inside Submit
  HttpResponse done = r.wait->Render(false, 1000);
  EXPECT_EQ(done.status, 200u);
  Json j = Json::parse(done.body);
  EXPECT_EQ(j["status"], "committed");
  EXPECT_EQ(j["height"], 1);
  EXPECT_EQ(Call(b, "POST", "/v1/txs?wait=commit", TxText(tx), &hub).status, 409u);  // replay
  EXPECT_EQ(Call(b, "POST", "/v1/txs?wait=commit", TxText(tx)).status, 503u);        // no hub
}

// The hub hands each wait the positions of its own txs in a committed block: results get the
// right height and log index, a wait completes only once all of its txs are committed (across
// blocks), a tx awaited by two waits completes both, and a block of others' txs changes nothing.
TEST(RouterTest, CommitHubCompletesEachWaitWithItsOwnPositions) {
  TestBackend b;
  CommitHub hub(b);
  const PublicKey brand = KeyFromByte(9).public_key();
  std::vector<SignedTx> tx;
  for (uint8_t k = 0; k < 5; ++k) tx.push_back(Grant(KeyFromByte(20 + k), brand, {"email"}, 1000));
  // w1 awaits tx0 and tx1; w2 awaits tx1 and tx2; w3 awaits tx3. tx4 is nobody's.
  auto make = [&](std::vector<size_t> which) {
    auto w = std::make_shared<CommitWait>(false);
    json::OrderedJson results = json::OrderedJson::array();
    for (size_t k = 0; k < which.size(); ++k) {
      w->Await(tx[which[k]].Id(), k);
      results.push_back(json::OrderedJson{{"tx_id", ToHex(tx[which[k]].Id())}});
    }
    w->SetResults(results);
    hub.AddWait(w);
    return w;
  };
  auto w1 = make({0, 1}), w2 = make({1, 2}), w3 = make({3});
  int fired1 = 0, fired2 = 0, fired3 = 0;
  w1->OnComplete([&] { ++fired1; });
  w2->OnComplete([&] { ++fired2; });
  w3->OnComplete([&] { ++fired3; });
  auto block = [&](uint64_t height, uint64_t first, std::vector<size_t> which) {
    auto blk = std::make_shared<CommittedBlock>();
    blk->header.height = height;
    blk->first_log_index = first;
    for (size_t k : which) blk->txs.push_back(tx[k]);
    return blk;
  };
  hub.OnCommit(block(5, 100, {4}));
  EXPECT_FALSE(w1->complete() || w2->complete() || w3->complete());
  hub.OnCommit(block(6, 101, {2, 0}));  // tx2 at 101, tx0 at 102
  EXPECT_FALSE(w1->complete());
  EXPECT_FALSE(w2->complete());
  EXPECT_EQ(fired1 + fired2 + fired3, 0);
  hub.OnCommit(block(7, 103, {4, 1}));  // tx1 at 104
  EXPECT_TRUE(w1->complete());
  EXPECT_TRUE(w2->complete());
  EXPECT_FALSE(w3->complete());
  EXPECT_EQ(fired1, 1);
  EXPECT_EQ(fired2, 1);
  EXPECT_EQ(fired3, 0);
  Json r1 = Json::parse(w1->Render(false, 1000).body);
  ASSERT_EQ(r1.size(), 2u);
  EXPECT_EQ(r1[0]["tx_id"], ToHex(tx[0].Id()));
  EXPECT_EQ(r1[0]["height"], 6);
  EXPECT_EQ(r1[0]["log_index"], 102);
  EXPECT_EQ(r1[1]["height"], 7);
  EXPECT_EQ(r1[1]["log_index"], 104);
  Json r2 = Json::parse(w2->Render(false, 1000).body);
  EXPECT_EQ(r2[0]["log_index"], 104);
  EXPECT_EQ(r2[1]["tx_id"], ToHex(tx[2].Id()));
  EXPECT_EQ(r2[1]["log_index"], 101);
  // A second copy of a committed block completes nothing more and fires nothing twice.
  hub.OnCommit(block(7, 103, {4, 1}));
  EXPECT_EQ(fired1, 1);
  EXPECT_EQ(w3->Render(true, 50).status, 504u);
  hub.OnCommit(block(8, 105, {3}));
  EXPECT_EQ(fired3, 1);
  EXPECT_EQ(Json::parse(w3->Render(false, 1000).body)[0]["log_index"], 105);
}

TEST(RouterTest, QueryParsing) {
  auto q = ParseQuery("a=1&b=x%20y&c=%2B+", {"a", "b", "c"});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)["b"], "x y");
  EXPECT_EQ((*q)["c"], "+ ");
  // An empty value is refused, not taken as absent: omit the parameter for its default.
  auto empty = ParseQuery("a=1&c=", {"a", "c"});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "c: empty value (omit the parameter for its default)");
  EXPECT_FALSE(ParseQuery("a=1&a=2", {"a"}).ok());
  EXPECT_FALSE(ParseQuery("z=1", {"a"}).ok());
  EXPECT_FALSE(ParseQuery("a", {"a"}).ok());
  EXPECT_FALSE(ParseQuery("a=%2", {"a"}).ok());
  EXPECT_FALSE(ParseQuery("a=%g0", {"a"}).ok());
  EXPECT_TRUE(ParseQuery("", {}).ok());
}

TEST(RouterTest, DecimalsAndLabels) {
  EXPECT_EQ(*ParseDecimal("n", "18446744073709551615", UINT64_MAX), UINT64_MAX);
  EXPECT_FALSE(ParseDecimal("n", "18446744073709551616", UINT64_MAX).ok());
  EXPECT_FALSE(ParseDecimal("n", "99999999999999999999", UINT64_MAX).ok());
  EXPECT_FALSE(ParseDecimal("n", "+1", 10).ok());
  EXPECT_FALSE(ParseDecimal("n", "", 10).ok());
  EXPECT_FALSE(ParseDecimal("n", "11", 10).ok());
  // One spelling per number: "0" is zero, a leading zero is refused.
  EXPECT_EQ(*ParseDecimal("n", "0", 10), 0u);
  EXPECT_EQ(*ParseDecimal("n", "10", 10), 10u);
  for (const char* s : {"00", "01", "007", "0000000000000000000001"}) {
    EXPECT_FALSE(ParseDecimal("n", s, UINT64_MAX).ok()) << s;
  }
  EXPECT_EQ(ParseDecimal("n", "007", 10).status().message(),
            "n: leading zeros are not allowed (write 7)");
  // Path segments: escapes decoded, '+' kept (it is a space only in a query).
  EXPECT_EQ(*DecodePathSegment("%65mail"), "email");
  EXPECT_EQ(*DecodePathSegment("a+b%2Fc"), "a+b/c");
  EXPECT_FALSE(DecodePathSegment("a%2").ok());
  EXPECT_FALSE(DecodePathSegment("a%g1").ok());
  EXPECT_TRUE(CheckPurposeLabel("p", "marketing.email").ok());
  EXPECT_FALSE(CheckPurposeLabel("p", "Marketing").ok());
  EXPECT_FALSE(CheckPurposeLabel("p", "").ok());
  EXPECT_FALSE(CheckPurposeLabel("p", std::string(65, 'a')).ok());
  EXPECT_FALSE(CheckPurposeLabel("p", "a%2Fb").ok());
}

TEST(RateLimiterTest, BucketRefillsAndSaysWhenToRetry) {
  RateLimiter l(2.0, 3.0);
  auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(l.Take("a", t0).has_value());
  auto retry = l.Take("a", t0);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(*retry, 1u);
  EXPECT_FALSE(l.Take("b", t0).has_value());  // per client
  EXPECT_FALSE(l.Take("a", t0 + std::chrono::milliseconds(600)).has_value());
  RateLimiter tiny(1.0, 1.0, /*max_clients=*/2);
  for (int i = 0; i < 10; ++i) tiny.Take("c" + std::to_string(i), t0);  // bounded table
  EXPECT_FALSE(tiny.Take("new", t0).has_value());
}

TEST(HttpMetricsTest, PrometheusText) {
  HttpMetrics m;
  m.Record("/v1/status", 200, 0.003);
  m.Record("/v1/status", 200, 20);
  m.RateLimited();
  std::string t = m.Render();
  EXPECT_NE(t.find("consent_http_requests_total{route=\"/v1/status\",code=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(
      t.find("consent_http_request_duration_seconds_bucket{route=\"/v1/status\",le=\"0.005\"} 1\n"),
      std::string::npos)
      << t;
  EXPECT_NE(t.find("le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("# TYPE consent_http_request_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(t.find("consent_http_rate_limited_total 1\n"), std::string::npos);
}

// Issue 16 item 7: writes are charged per transaction, and IPv6 clients are keyed by /64.
TEST(RateLimiterTest, ACostTakesThatManyTokensAndSaysWhenTheyWillBeThere) {
  RateLimiter l(1000.0, 2000.0);
  auto t0 = RateLimiter::Clock::now();
  EXPECT_FALSE(l.Take("a", t0, 1500));
  auto retry = l.Take("a", t0, 1000);  // 500 left: 500 more take 0.5 s
  ASSERT_TRUE(retry);
  EXPECT_EQ(*retry, 1u);
  EXPECT_FALSE(l.Take("b", t0, 1000));  // another client has its own bucket
  EXPECT_FALSE(l.Take("a", t0 + std::chrono::milliseconds(500), 1000));
  // A cost over the burst is charged as the burst (a maximal request can always pass).
  EXPECT_FALSE(l.Take("c", t0, 5000));
  EXPECT_TRUE(l.Take("c", t0, 1));
}

TEST(ClientKeyTest, IPv6ByItsSlash64AndIPv4AsIs) {
  EXPECT_EQ(ClientKey("127.0.0.2"), "127.0.0.2");
  EXPECT_EQ(ClientKey("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(ClientKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  EXPECT_NE(ClientKey("2001:db8:1:3::1"), ClientKey("2001:db8:1:2::1"));
  EXPECT_EQ(ClientKey("::1"), "::/64");
  EXPECT_EQ(ClientKey("unknown"), "unknown");
}

}  // namespace
}  // namespace consent::testing
