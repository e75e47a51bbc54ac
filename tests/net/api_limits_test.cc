// The server's limits with real sockets: oversize header (431), oversize body (413), too many
// transactions in one request (413), a client that sends part of a request and stalls (408
// after request_timeout_ms), an idle connection (closed without an answer), the connection cap
// (503 at once), and the stream cap. The server keeps serving after each.
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

// Milliseconds since `start`.
long ElapsedMs(std::chrono::steady_clock::time_point start) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count());
}

// The answer to a request that stalled: one 408 with the JSON error naming the limit, then the
// connection closed.
void Expect408(const std::string& answer, uint32_t timeout_ms) {
  EXPECT_EQ(answer.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << answer;
  size_t body = answer.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << answer;
  Json j = Json::parse(answer.substr(body + 4), nullptr, false);
  ASSERT_TRUE(j.is_object()) << answer;
  EXPECT_EQ(j["error"]["code"], "request_timeout") << answer;
  EXPECT_NE(j["error"]["message"].get<std::string>().find(std::to_string(timeout_ms) + " ms"),
            std::string::npos)
      << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << answer;  // one answer only
}

// A client that sends part of a request and stalls gets 408 once request_timeout_ms passes
// (not earlier, and well before the test's own 10 s bound), whether it stalls in the header,
// in the body, or in a WebSocket upgrade request; nothing is submitted and the server keeps
// serving. Each is counted in the metrics as other refusals from the header are: under the
// template of the route its request line names, or "unmatched" before a request line.
TEST_F(ApiLimitsTest, ARequestThatStallsIsAnswered408) {
  ApiServerOptions o = DefaultOptions();
  o.request_timeout_ms = 300;
  StartServer(o);
  const std::string partial_body =
      "POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{\"kind\":";
  for (const std::string& partial :
       {std::string("GET /v1/status HTTP/1.1\r\nHost: x\r\n"), std::string("G"), partial_body,
        std::string("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")}) {
    SCOPED_TRACE(partial);
    auto start = std::chrono::steady_clock::now();
    std::string answer = RawExchange(port_, partial);
    const long ms = ElapsedMs(start);
    Expect408(answer, o.request_timeout_ms);
    EXPECT_GE(ms, 250);  // a timer never fires early: the partial request was waited for
    EXPECT_LT(ms, 8000);
  }
  EXPECT_EQ(backend_.height(), 0u);
  const std::string m = Get(port_, "/metrics").body;
  for (const char* route : {"unmatched", "/v1/status", "/v1/txs", "/v1/stream"}) {
    EXPECT_EQ(MetricValue(m, std::string("consent_http_requests_total{route=\"") + route +
                                 "\",code=\"408\"}"),
              1u)
        << route << "\n"
        << m;
  }
  ExpectServing();
  SigningKey s = KeyFromByte(1);
  PublicKey c = KeyFromByte(2).public_key();
  EXPECT_EQ(Post(port_, "/v1/txs", TxText(Grant(s, c, {"email"}, WallMs()))).status, 202u);
}

// The deadline is for the whole request: a client that trickles bytes (each well within the
// timeout) still gets 408 when the request is not complete in time.
TEST_F(ApiLimitsTest, ATricklingClientIsAnswered408) {
  ApiServerOptions o = DefaultOptions();
  o.request_timeout_ms = 400;
  StartServer(o);
  asio::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  sock.non_blocking(true);
  const std::string request =
      "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
  std::string answer;
  size_t sent = 0;
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    beast::error_code ec;
    if (sent < request.size()) {
      sent += sock.write_some(asio::buffer(request.data() + sent, 1), ec);
    }
    char buf[4096];
    size_t n = sock.read_some(asio::buffer(buf), ec);
    answer.append(buf, n);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) break;  // closed
    if (ElapsedMs(start) > 8000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LT(sent, request.size());  // the whole request would have taken ~10 s
  Expect408(answer, o.request_timeout_ms);
  ExpectServing();
}

// A connection that sends nothing is closed without an answer: a new one after
// request_timeout_ms, a keep-alive one after idle_timeout_ms (normal HTTP: there is no request
// to answer). Neither is counted as a request.
TEST_F(ApiLimitsTest, AnIdleConnectionIsClosedWithoutAnAnswer) {
  ApiServerOptions o = DefaultOptions();
  o.request_timeout_ms = 300;
  o.idle_timeout_ms = 500;
  StartServer(o);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RawExchange(port_, ""), "");
  long ms = ElapsedMs(start);
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 8000);
  // One complete request on a keep-alive connection: its answer, then nothing, then the close.
  start = std::chrono::steady_clock::now();
  std::string answer = RawExchange(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ms = ElapsedMs(start);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << answer;
  EXPECT_EQ(answer.find("408"), std::string::npos) << answer;
  EXPECT_GE(ms, 450);
  EXPECT_LT(ms, 8000);
  const std::string m = Get(port_, "/metrics").body;
  EXPECT_EQ(m.find("code=\"408\""), std::string::npos) << m;
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
