// The server's limits with real sockets: oversize header (431), oversize body (413), too many
// transactions in one request (413), a client that sends half a request and stalls (closed
// after request_timeout_ms), the connection cap (503 at once), and the stream cap. The server
// keeps serving after each.
#include <thread>

#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

class ApiLimitsTest : public ApiFixture {};

TEST_F(ApiLimitsTest, OversizeHeaderIs431) {
  HttpClient c(port_);
  Reply r = c.Request(http::verb::get, "/v1/status", "",
                      {{"X-Padding", std::string(options_.max_header_bytes + 10, 'a')}});
  EXPECT_EQ(r.status, 431u) << r.body;
  EXPECT_EQ(r.error_code(), "header_too_large");
  ExpectServing();
}

TEST_F(ApiLimitsTest, OversizeBodyIs413) {
  ApiServerOptions o = DefaultOptions();
  o.max_body_bytes = 1000;
  StartServer(o);
  // Declared length over the limit: refused from the header alone.
  std::string head =
      "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 5000\r\n\r\n";
  std::string answer = RawExchange(port_, head + std::string(5000, ' '));
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("payload_too_large"), std::string::npos);
  // Chunked, with no declared length.
  std::string chunked = "POST /v1/txs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "1f4\r\n" + std::string(500, ' ') + "\r\n";
  chunked += "0\r\n\r\n";
  std::string answer2 = RawExchange(port_, chunked);
  EXPECT_EQ(answer2.rfind("HTTP/1.1 413", 0), 0u) << answer2;
  ExpectServing();
}

// A request refused from its header alone (413 from Content-Length, 400 for a bad one) is
// counted under its route's template when the target names a route, else "unmatched".
TEST_F(ApiLimitsTest, RefusalsFromTheHeaderAreCountedUnderTheirRoute) {
  ApiServerOptions o = DefaultOptions();
  o.max_body_bytes = 1000;
  StartServer(o);
  const std::string txs413 = "consent_http_requests_total{route=\"/v1/txs\",code=\"413\"}";
  const std::string txs400 = "consent_http_requests_total{route=\"/v1/txs\",code=\"400\"}";
  const std::string unmatched413 = "consent_http_requests_total{route=\"unmatched\",code=\"413\"}";
  std::string answer =
      RawExchange(port_, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  answer = RawExchange(port_, "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: x1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  answer =
      RawExchange(port_, "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  const std::string m = Get(port_, "/metrics").body;
  EXPECT_EQ(MetricValue(m, txs413), 1u) << m;
  EXPECT_EQ(MetricValue(m, txs400), 1u) << m;
  EXPECT_EQ(MetricValue(m, unmatched413), 1u) << m;
}

TEST_F(ApiLimitsTest, TooManyTxsInOneRequestIs413) {
  ApiServerOptions o = DefaultOptions();
  o.max_txs_per_request = 2;
  StartServer(o);
  SigningKey s = KeyFromByte(1);
  PublicKey c = KeyFromByte(2).public_key();
  Json arr = Json::array();
  for (int i = 0; i < 3; ++i)
    arr.push_back(TxJ(Grant(s, c, {"p" + std::to_string(i)}, WallMs(), "net-test", i)));
  Reply r = Post(port_, "/v1/txs", arr.dump());
  EXPECT_EQ(r.status, 413u) << r.body;
  EXPECT_EQ(r.error_code(), "payload_too_large");
  EXPECT_EQ(backend_.height(), 0u);
  arr.erase(2);
  EXPECT_EQ(Post(port_, "/v1/txs", arr.dump()).status, 202u);
}

TEST_F(ApiLimitsTest, MalformedHttpIs400) {
  std::string answer = RawExchange(port_, "BLAH\x01 / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  ExpectServing();
}

TEST_F(ApiLimitsTest, SlowClientIsDisconnectedAfterTheRequestTimeout) {
  ApiServerOptions o = DefaultOptions();
  o.request_timeout_ms = 300;
  StartServer(o);
  for (std::string partial :
       {std::string("GET /v1/status HTTP/1.1\r\nHost: x\r\n"), std::string("")}) {
    auto start = std::chrono::steady_clock::now();
    std::string answer = RawExchange(port_, partial);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    EXPECT_EQ(answer, "");  // closed without an answer
    EXPECT_GE(ms, 250);
    EXPECT_LT(ms, 3000);
  }
  // A keep-alive client that goes idle past the idle timeout is closed too, and a prompt one
  // is served.
  ExpectServing();
}

TEST_F(ApiLimitsTest, KeepAliveRestsUpToTheIdleTimeoutNotTheRequestTimeout) {
  ApiServerOptions o = DefaultOptions();
  o.request_timeout_ms = 200;
  o.idle_timeout_ms = 800;
  StartServer(o);
  HttpClient c(port_);
  ASSERT_EQ(c.Get("/healthz").status, 200u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // > request, < idle timeout
  ASSERT_EQ(c.Get("/healthz").status, 200u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // > idle timeout
  beast::error_code ec;
  http::request<http::string_body> req{http::verb::get, "/healthz", 11};
  http::write(c.stream(), req, ec);
  Reply r = c.Read();
  EXPECT_EQ(r.status, 0u) << r.body;  // the server had closed the connection
  ExpectServing();
}

TEST_F(ApiLimitsTest, ConnectionCapAnswers503AtOnce) {
  ApiServerOptions o = DefaultOptions();
  o.max_connections = 2;
  StartServer(o);
  auto a = std::make_unique<HttpClient>(port_);
  auto b = std::make_unique<HttpClient>(port_);
  ASSERT_EQ(a->Get("/healthz").status, 200u);
  ASSERT_EQ(b->Get("/healthz").status, 200u);
  HttpClient c(port_);
  Reply r = c.Read();  // answered without sending anything
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(r.error_code(), "unavailable");
  a.reset();
  // Once a slot frees, new connections are served.
  Reply ok;
  for (int i = 0; i < 200 && ok.status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ok = Get(port_, "/healthz");
  }
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(b->Get("/healthz").status, 200u);
}

TEST_F(ApiLimitsTest, StreamCapAnswers503) {
  ApiServerOptions o = DefaultOptions();
  o.ws_max_streams = 1;
  StartServer(o);
  WsClient first(port_, "/v1/stream");
  ASSERT_TRUE(first.ok());
  // Wait until the first is counted (the upgrade completes on the server's strand).
  for (int i = 0; i < 200; ++i) {
    if (Get(port_, "/metrics").body.find("consent_http_open_streams 1\n") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  WsClient second(port_, "/v1/stream");
  EXPECT_FALSE(second.ok());
  // The refusal is the JSON error, with Retry-After as for the connection cap.
  std::string answer = RawExchange(port_,
                                   "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade, close\r\nSec-WebSocket-Version: 13\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Content-Type: application/json\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"code\":\"unavailable\""), std::string::npos) << answer;
  ExpectServing();
}

}  // namespace
}  // namespace consent::testing
