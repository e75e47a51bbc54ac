// The WebSocket stream over real sockets and a real backend: catch-up from the store then live
// commits, filtered by controller, with no gap and no duplicate while blocks commit during the
// hand-over; resuming from a log index; a slow consumer closed with a resumable reason; an
// oversize client frame; bad parameters; and "going away" on Stop.
#include <thread>

#include "crypto/hex.h"
#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

class StreamTest : public ApiFixture {
 protected:
  // Submits one block of `n` grants for `controller` (each its own purpose); returns their ids.
  std::vector<std::string> Block(const PublicKey& controller, int n) {
    Json arr = Json::array();
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      SignedTx tx =
          Grant(subject_, controller, {"p" + std::to_string(counter_)}, now_, "net-test", counter_);
      ++counter_;
      ids.push_back(ToHex(tx.Id()));
      arr.push_back(TxJ(tx));
    }
    Reply r = Post(port_, "/v1/txs", arr.dump());
    EXPECT_EQ(r.status, 202u) << r.body;
    return ids;
  }

  // Reads n messages; each must be valid JSON with a log_index.
  std::vector<Json> ReadN(WsClient& ws, size_t n) {
    std::vector<Json> out;
    while (out.size() < n) {
      beast::error_code ec;
      std::string m = ws.ReadMessage(&ec);
      if (ec) {
        ADD_FAILURE() << "stream ended after " << out.size() << " of " << n << ": " << ec.message();
        break;
      }
      out.push_back(Json::parse(m));
    }
    return out;
  }

  SigningKey subject_ = KeyFromByte(1);
  SigningKey brand_a_ = KeyFromByte(2);
  PublicKey a_ = brand_a_.public_key();
  PublicKey b_ = KeyFromByte(3).public_key();
  uint64_t now_ = WallMs();
  int counter_ = 0;
};

TEST_F(StreamTest, CatchUpThenLiveWithNoGapAndNoDuplicate) {
  std::vector<std::string> expected;  // A's changes in commit order
  SignedTx reg = Register(brand_a_, "Brand A", now_);
  SubmitOk({reg});
  expected.push_back(ToHex(reg.Id()));
  for (int i = 0; i < 20; ++i) {
    auto ids = Block(i % 3 == 0 ? b_ : a_, 1 + i % 3);
    if (i % 3 != 0) expected.insert(expected.end(), ids.begin(), ids.end());
  }
  // Blocks keep committing while the stream catches up and goes live.
  std::vector<std::string> live_expected;
  std::thread producer([&] {
    for (int i = 0; i < 30; ++i) {
      auto ids = Block(i % 2 ? a_ : b_, 2);
      if (i % 2) live_expected.insert(live_expected.end(), ids.begin(), ids.end());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  WsClient ws(port_, "/v1/stream?controller=" + ToHex(a_) + "&from_log_index=0");
  ASSERT_TRUE(ws.ok());
  producer.join();
  expected.insert(expected.end(), live_expected.begin(), live_expected.end());
  std::vector<Json> got = ReadN(ws, expected.size());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["tx_id"], expected[i]) << i;
    EXPECT_EQ(got[i]["controller"], ToHex(a_));
    if (i > 0) {
      EXPECT_GT(got[i]["log_index"], got[i - 1]["log_index"]);
    }
  }
  EXPECT_EQ(got[0]["kind"], "register_controller");
  EXPECT_EQ(got[0]["log_index"], 0);
  EXPECT_EQ(got[1]["kind"], "grant");
  EXPECT_EQ(got[1]["subject"], ToHex(subject_.public_key()));
  EXPECT_TRUE(got[1]["purposes"].is_array());
  EXPECT_TRUE(got[1]["tx"].is_object());
  // Nothing more: one more block for A arrives next, not a duplicate.
  auto last = Block(a_, 1);
  std::vector<Json> next = ReadN(ws, 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0]["tx_id"], last[0]);
}

TEST_F(StreamTest, UnfilteredStreamResumesFromALogIndex) {
  for (int i = 0; i < 5; ++i) Block(i % 2 ? a_ : b_, 2);  // log 0..9
  WsClient ws(port_, "/v1/stream?from_log_index=7");
  ASSERT_TRUE(ws.ok());
  std::vector<Json> got = ReadN(ws, 3);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got[i]["log_index"], 7 + i);
  Block(b_, 1);
  std::vector<Json> live = ReadN(ws, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0]["log_index"], 10);
  // From past the head: only what comes later.
  WsClient ahead(port_, "/v1/stream?from_log_index=12");
  ASSERT_TRUE(ahead.ok());
  Block(b_, 2);  // log 11, 12
  std::vector<Json> a = ReadN(ahead, 1);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["log_index"], 12);
}

TEST_F(StreamTest, SlowConsumerIsClosedWithAResumableReason) {
  ApiServerOptions o = DefaultOptions();
  o.ws_max_queue_bytes = 16 * 1024;
  StartServer(o);
  WsClient ws(port_, "/v1/stream", /*rcvbuf=*/2048);
  ASSERT_TRUE(ws.ok());
  // Do not read; commit until the server drops the stream.
  bool dropped = false;
  for (int i = 0; i < 200 && !dropped; ++i) {
    Block(a_, 50);
    dropped = Get(port_, "/metrics").body.find("consent_http_slow_consumers_dropped_total 1\n") !=
              std::string::npos;
  }
  ASSERT_TRUE(dropped);
  // Now read: the messages sent before the close, then the close with the resume point.
  int64_t last = -1;
  for (;;) {
    beast::error_code ec;
    std::string m = ws.ReadMessage(&ec);
    if (ec) {
      EXPECT_EQ(ec, beast::websocket::error::closed) << ec.message();
      break;
    }
    int64_t idx = Json::parse(m)["log_index"].get<int64_t>();
    EXPECT_EQ(idx, last + 1);
    last = idx;
  }
  EXPECT_EQ(ws.reason().code, 4000);
  std::string reason(ws.reason().reason.c_str());
  std::string resume = "from_log_index=" + std::to_string(last + 1);
  EXPECT_NE(reason.find(resume), std::string::npos) << reason << " (last read " << last << ")";
  // Resuming there gives the rest, from exactly that index.
  WsClient again(port_, "/v1/stream?" + resume);
  ASSERT_TRUE(again.ok());
  std::vector<Json> rest = ReadN(again, 5);
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest[0]["log_index"], last + 1);
  ExpectServing();
}

TEST_F(StreamTest, OversizeClientFrameClosesWith1009) {
  WsClient ws(port_, "/v1/stream");
  ASSERT_TRUE(ws.ok());
  beast::error_code ec;
  ws.Write("ping", &ec);  // small messages are read and ignored
  ASSERT_FALSE(ec);
  ws.Write(std::string(options_.ws_max_message_bytes + 1, 'x'), &ec);
  std::string m = ws.ReadMessage(&ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(ws.reason().code, beast::websocket::close_code::too_big);
  ExpectServing();
}

TEST_F(StreamTest, BadParametersAreRefusedBeforeTheUpgrade) {
  WsClient bad_hex(port_, "/v1/stream?controller=zz");
  EXPECT_FALSE(bad_hex.ok());
  WsClient bad_index(port_, "/v1/stream?from_log_index=-1");
  EXPECT_FALSE(bad_index.ok());
  WsClient unknown(port_, "/v1/stream?since=1");
  EXPECT_FALSE(unknown.ok());
  Reply plain = Get(port_, "/v1/stream");
  EXPECT_EQ(plain.status, 426u);
  EXPECT_EQ(plain.error_code(), "upgrade_required");
  ExpectServing();
}

// A handshake the server refuses is answered with the JSON error shape, counted under the
// stream's route: a wrong Sec-WebSocket-Version (426, naming 13), a missing or malformed
// Sec-WebSocket-Key (400), and a missing "Connection: Upgrade" (426 saying so).
TEST_F(StreamTest, HandshakeErrorsAreJsonErrors) {
  auto handshake = [&](const std::string& connection, const std::string& version,
                       const std::string& key) {
    std::string req = "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    req += "Connection: " + connection + "\r\n";
    if (!version.empty()) req += "Sec-WebSocket-Version: " + version + "\r\n";
    if (!key.empty()) req += "Sec-WebSocket-Key: " + key + "\r\n";
    return RawExchange(port_, req + "\r\n", 5);
  };
  auto body = [](const std::string& answer) {
    size_t at = answer.find("\r\n\r\n");
    return at == std::string::npos ? Json() : Json::parse(answer.substr(at + 4), nullptr, false);
  };
  const std::string good_key = "dGhlIHNhbXBsZSBub25jZQ==";
  struct Case {
    std::string connection, version, key;
    std::string status, code, message;
  };
  const std::vector<Case> cases = {
      {"Upgrade, close", "8", good_key, "426", "upgrade_required", "send 13"},
      {"Upgrade, close", "13", "", "400", "invalid_request", "Sec-WebSocket-Key: missing"},
      {"Upgrade, close", "13", "short", "400", "invalid_request", "16 bytes in base64"},
      {"Upgrade, close", "13", good_key + "AAAA", "400", "invalid_request", "16 bytes in base64"},
      {"Upgrade, close", "13", "dGhlIHNhbXBsZSBub25jZQ=A", "400", "invalid_request", "base64"},
      {"Upgrade, close", "", good_key, "400", "invalid_request", "Sec-WebSocket-Version: missing"},
      {"close", "13", good_key, "426", "upgrade_required", "send Connection: Upgrade"},
  };
  for (const Case& c : cases) {
    std::string answer = handshake(c.connection, c.version, c.key);
    EXPECT_EQ(answer.rfind("HTTP/1.1 " + c.status, 0), 0u) << answer;
    EXPECT_NE(answer.find("Content-Type: application/json\r\n"), std::string::npos) << answer;
    Json j = body(answer);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << answer;
    EXPECT_EQ(j["error"]["code"], c.code) << answer;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(c.message), std::string::npos)
        << answer;
    if (c.version == "8") {
      EXPECT_NE(answer.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << answer;
    }
  }
  // A well-formed handshake is still accepted.
  WsClient ok(port_, "/v1/stream");
  EXPECT_TRUE(ok.ok());
  const std::string m = Get(port_, "/metrics").body;
  EXPECT_EQ(MetricValue(m, "consent_http_requests_total{route=\"/v1/stream\",code=\"400\"}"), 5u)
      << m;
  EXPECT_EQ(MetricValue(m, "consent_http_requests_total{route=\"/v1/stream\",code=\"426\"}"), 2u)
      << m;
  ExpectServing();
}

TEST_F(StreamTest, StopClosesStreamsWithGoingAway) {
  WsClient ws(port_, "/v1/stream");
  ASSERT_TRUE(ws.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  beast::error_code ec;
  std::thread reader([&] { ws.ReadMessage(&ec); });  // answers the close handshake
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_TRUE(ec);
  EXPECT_EQ(ws.reason().code, beast::websocket::close_code::going_away);
  EXPECT_EQ(backend_.listener_count(), 0u);
}

}  // namespace
}  // namespace consent::testing
