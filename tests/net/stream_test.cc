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
