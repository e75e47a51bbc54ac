// Helpers for the net/ tests: signed transactions for a few fixed keys, a small synchronous
// Beast HTTP client and WebSocket client over real loopback sockets, and a fixture that runs a
// real ApiServer (port 0) over a real TestBackend. Test-only; thread-compatible.
#pragma once

#include <gtest/gtest.h>

// GCC 12 with -fsanitize reports -Wmaybe-uninitialized inside Beast's response parser (a false
// positive in a system header, instantiated by the client below); silenced for these headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#pragma GCC diagnostic pop
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ledger/tx_json.h"
#include "net/api_server.h"
#include "tests/net/test_backend.h"

namespace consent::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;

inline SigningKey KeyFromByte(uint8_t b) {
  Seed32 seed{};
  seed.fill(b);
  return SigningKey::FromSeed(seed);
}

inline SignedTx Grant(const SigningKey& subject, const PublicKey& controller,
                      std::vector<std::string> purposes, uint64_t issued_at_ms,
                      std::string_view chain_id = "net-test", uint64_t nonce = 1,
                      uint64_t expires_at_ms = 0) {
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = controller;
  g.purposes = std::move(purposes);
  g.jurisdiction = "EU-GDPR";
  g.issued_at_ms = issued_at_ms;
  g.expires_at_ms = expires_at_ms;
  g.nonce = nonce;
  auto tx = SignTx(chain_id, g, subject);
  EXPECT_TRUE(tx.ok()) << tx.status().ToString();
  return *tx;
}

inline SignedTx Revoke(const SigningKey& subject, const PublicKey& controller,
                       std::vector<std::string> purposes, uint64_t issued_at_ms,
                       uint64_t nonce = 1) {
  RevokeTx r;
  r.subject = subject.public_key();
  r.controller = controller;
  r.purposes = std::move(purposes);
  r.issued_at_ms = issued_at_ms;
  r.nonce = nonce;
  auto tx = SignTx("net-test", r, subject);
  EXPECT_TRUE(tx.ok()) << tx.status().ToString();
  return *tx;
}

inline SignedTx Register(const SigningKey& controller, std::string name, uint64_t issued_at_ms) {
  RegisterControllerTx r;
  r.controller = controller.public_key();
  r.name = std::move(name);
  r.contact_uri = "mailto:privacy@example.com";
  r.issued_at_ms = issued_at_ms;
  auto tx = SignTx("net-test", r, controller);
  EXPECT_TRUE(tx.ok()) << tx.status().ToString();
  return *tx;
}

inline std::string TxText(const SignedTx& tx) { return TxToJson(tx).dump(); }
// The field form as a plain (key-sorted) json value.
inline nlohmann::json TxJ(const SignedTx& tx) { return nlohmann::json::parse(TxText(tx)); }

struct Reply {
  unsigned status = 0;
  std::string body;
  http::response<http::string_body> raw;
  Json json() const { return Json::parse(body, nullptr, /*allow_exceptions=*/false); }
  std::string error_code() const {
    Json j = json();
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("code")) {
      return j["error"]["code"].get<std::string>();
    }
    return "";
  }
};

// A keep-alive HTTP/1.1 client on one connection.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : stream_(ioc_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.expires_after(std::chrono::seconds(20));
  }
  Reply Request(http::verb method, const std::string& target, const std::string& body = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty() || method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    for (const auto& [k, v] : headers) req.set(k, v);
    req.prepare_payload();
    stream_.expires_after(std::chrono::seconds(20));
    http::write(stream_, req);
    return Read();
  }
  Reply Read() {
    Reply r;
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    stream_.expires_after(std::chrono::seconds(40));
    http::read(stream_, buffer_, parser, ec);
    if (ec) {
      r.status = 0;
      r.body = "read failed: " + ec.message();
      return r;
    }
    r.raw = parser.release();
    r.status = r.raw.result_int();
    r.body = r.raw.body();
    return r;
  }
  Reply Get(const std::string& target) { return Request(http::verb::get, target); }
  Reply Post(const std::string& target, const std::string& body) {
    return Request(http::verb::post, target, body);
  }
  beast::tcp_stream& stream() { return stream_; }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

inline Reply Get(uint16_t port, const std::string& target) { return HttpClient(port).Get(target); }
inline Reply Post(uint16_t port, const std::string& target, const std::string& body) {
  return HttpClient(port).Post(target, body);
}

// Writes raw bytes and reads until the server closes; returns what it sent.
inline std::string RawExchange(uint16_t port, const std::string& bytes, int timeout_s = 10) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  s.expires_after(std::chrono::seconds(timeout_s));
  beast::error_code ec;
  if (!bytes.empty()) asio::write(s, asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

// The value of `series` ("name{labels}") in a Prometheus metrics text, or 0 if absent.
inline uint64_t MetricValue(const std::string& metrics, const std::string& series) {
  size_t at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(metrics.substr(at + series.size() + 2));
}

// A synchronous WebSocket client.
class WsClient {
 public:
  WsClient(uint16_t port, const std::string& target, int rcvbuf = 0) : ws_(ioc_) {
    auto& sock = beast::get_lowest_layer(ws_).socket();
    sock.open(tcp::v4());
    if (rcvbuf > 0) sock.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(20));
    ws_.handshake("127.0.0.1", target, ec_);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(beast::websocket::stream_base::timeout{std::chrono::seconds(20),
                                                          std::chrono::seconds(20), false});
  }
  bool ok() const { return !ec_; }
  // The next text message; empty with `*ec` set when the stream ends.
  std::string ReadMessage(beast::error_code* ec) {
    beast::flat_buffer b;
    ws_.read(b, *ec);
    return beast::buffers_to_string(b.data());
  }
  void Write(const std::string& s, beast::error_code* ec) { ws_.write(asio::buffer(s), *ec); }
  beast::websocket::close_reason reason() const { return ws_.reason(); }
  beast::websocket::stream<beast::tcp_stream>& ws() { return ws_; }

 private:
  asio::io_context ioc_;
  beast::websocket::stream<beast::tcp_stream> ws_;
  beast::error_code ec_;
};

// A real server over a real backend.
class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(DefaultOptions()); }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
  }
  static ApiServerOptions DefaultOptions() {
    ApiServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.request_timeout_ms = 2000;
    o.idle_timeout_ms = 5000;
    o.wait_commit_timeout_ms = 2000;
    o.write_rate_per_s = 1000;
    o.write_burst = 1000;
    return o;
  }
  void StartServer(const ApiServerOptions& o) {
    if (server_) server_->Stop();
    server_.reset();
    options_ = o;
    auto s = ApiServer::Start(o, backend_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    port_ = server_->port();
  }
  // Submits and expects every tx accepted (and so committed: one block).
  void SubmitOk(const std::vector<SignedTx>& txs) {
    Json arr = Json::array();
    for (const auto& tx : txs) arr.push_back(TxJ(tx));
    Reply r = Post(port_, "/v1/txs", arr.dump());
    ASSERT_EQ(r.status, 202u) << r.body;
  }
  void ExpectServing() {
    Reply r = Get(port_, "/healthz");
    EXPECT_EQ(r.status, 200u) << r.body;
  }

  TestBackend backend_;
  ApiServerOptions options_;
  std::unique_ptr<ApiServer> server_;
  uint16_t port_ = 0;
};

}  // namespace consent::testing
