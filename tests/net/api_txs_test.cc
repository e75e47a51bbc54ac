// POST /v1/txs over real sockets and a real backend: both JSON forms, arrays with per-tx
// results, every kind of refusal (malformed JSON, wrong types, unknown fields, bad signatures,
// another chain's signature, replays, stale grants, full mempool), ?wait=commit (immediate,
// delayed and timed out), and the per-client rate limit. The server keeps serving after each.
#include <thread>

#include "crypto/hex.h"
#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

class ApiTxsTest : public ApiFixture {
 protected:
  SigningKey subject_ = KeyFromByte(1);
  SigningKey controller_ = KeyFromByte(2);
  uint64_t now_ = WallMs();
};

TEST_F(ApiTxsTest, SingleGrantAcceptedThenCommitted) {
  SignedTx tx = Grant(subject_, controller_.public_key(), {"email"}, now_);
  Reply r = Post(port_, "/v1/txs", TxText(tx));
  ASSERT_EQ(r.status, 202u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["tx_id"], ToHex(tx.Id()));
  EXPECT_EQ(j["status"], "accepted");
  EXPECT_FALSE(j.contains("error"));
  EXPECT_EQ(backend_.height(), 1u);
  EXPECT_EQ(Get(port_, "/v1/txs/" + ToHex(tx.Id())).status, 200u);
}

TEST_F(ApiTxsTest, EncodingFormAccepted) {
  SignedTx tx = Grant(subject_, controller_.public_key(), {"email"}, now_);
  Reply r = Post(port_, "/v1/txs", TxToJsonEncoding(tx).dump());
  ASSERT_EQ(r.status, 202u) << r.body;
  EXPECT_EQ(r.json()["tx_id"], ToHex(tx.Id()));
}

TEST_F(ApiTxsTest, ArrayGivesPerTxResultsAndMalformedElementsDoNotStopOthers) {
  SignedTx good = Grant(subject_, controller_.public_key(), {"email"}, now_);
  SignedTx forged = Grant(subject_, controller_.public_key(), {"sms"}, now_);
  forged.signature[0] ^= 1;
  Json missing = TxJ(Grant(subject_, controller_.public_key(), {"x"}, now_));
  missing.erase("nonce");
  Json arr = Json::array({TxJ(good), missing, TxJ(forged), TxJ(good)});
  Reply r = Post(port_, "/v1/txs", arr.dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["status"], "accepted");
  EXPECT_EQ(j[1]["status"], "rejected");
  EXPECT_TRUE(j[1]["tx_id"].is_null());
  EXPECT_EQ(j[1]["error"]["code"], "invalid_tx");
  EXPECT_NE(j[1]["error"]["message"].get<std::string>().find("nonce"), std::string::npos);
  EXPECT_EQ(j[2]["error"]["code"], "invalid_signature");
  EXPECT_EQ(j[2]["tx_id"], ToHex(forged.Id()));
  EXPECT_EQ(j[3]["status"], "duplicate");
  EXPECT_EQ(backend_.log_size(), 1u);  // only the good one
}

TEST_F(ApiTxsTest, AllAcceptedArrayAnswers202) {
  Json arr = Json::array({TxJ(Grant(subject_, controller_.public_key(), {"a"}, now_)),
                          TxJ(Grant(KeyFromByte(9), controller_.public_key(), {"a"}, now_))});
  Reply r = Post(port_, "/v1/txs", arr.dump());
  ASSERT_EQ(r.status, 202u) << r.body;
  EXPECT_EQ(r.json()[1]["status"], "accepted");
}

TEST_F(ApiTxsTest, MalformedBodies) {
  struct Case {
    std::string body;
    unsigned status;
    std::string code;
  } cases[] = {
      {"{", 400, "invalid_json"},
      {"", 400, "invalid_json"},
      {"42", 400, "invalid_json"},
      {"\"grant\"", 400, "invalid_json"},
      {"[]", 400, "invalid_tx"},
      {"{}", 400, "invalid_tx"},
      {R"({"encoding": "zz"})", 400, "invalid_tx"},
      {R"({"encoding": "00", "encoding": "01"})", 400, "invalid_json"},
      {std::string(40, '[') + std::string(40, ']'), 400, "invalid_json"},
  };
  for (const Case& c : cases) {
    Reply r = Post(port_, "/v1/txs", c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    Json j = r.json();
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["code"], c.code) << c.body << " -> " << r.body;
    ExpectServing();
  }
  // Wrong types and unknown fields, each named in the message.
  Json wrong_type = TxJ(Grant(subject_, controller_.public_key(), {"email"}, now_));
  wrong_type["purposes"] = Json::array({1});
  Json unknown = TxJ(Grant(subject_, controller_.public_key(), {"email"}, now_));
  unknown["extra"] = true;
  Json negative = TxJ(Grant(subject_, controller_.public_key(), {"email"}, now_));
  negative["issued_at_ms"] = -5;
  Json bad_hex = TxJ(Grant(subject_, controller_.public_key(), {"email"}, now_));
  bad_hex["subject"] = "xyz";
  for (const Json& j : {wrong_type, unknown, negative, bad_hex}) {
    Reply r = Post(port_, "/v1/txs", j.dump());
    EXPECT_EQ(r.status, 400u) << r.body;
    EXPECT_EQ(r.json()["error"]["code"], "invalid_tx") << r.body;
    ExpectServing();
  }
  EXPECT_EQ(backend_.height(), 0u);  // nothing changed
}

TEST_F(ApiTxsTest, SignatureRefusals) {
  SignedTx forged = Grant(subject_, controller_.public_key(), {"email"}, now_);
  forged.signature[10] ^= 0x40;
  Reply r = Post(port_, "/v1/txs", TxText(forged));
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.json()["error"]["code"], "invalid_signature");
  SignedTx other_chain =
      Grant(subject_, controller_.public_key(), {"email"}, now_, "another-chain");
  Reply oc = Post(port_, "/v1/txs", TxText(other_chain));
  EXPECT_EQ(oc.status, 400u) << oc.body;
  EXPECT_EQ(oc.json()["error"]["code"], "invalid_signature");
  EXPECT_EQ(backend_.height(), 0u);
  ExpectServing();
}

TEST_F(ApiTxsTest, ReplayAndStaleAreRejectedWithTheirRule) {
  SignedTx grant = Grant(subject_, controller_.public_key(), {"email"}, now_ - 100);
  SignedTx revoke = Revoke(subject_, controller_.public_key(), {"email"}, now_ - 50);
  SignedTx stale = Grant(subject_, controller_.public_key(), {"email"}, now_ - 80, "net-test", 2);
  ASSERT_EQ(Post(port_, "/v1/txs", TxText(grant)).status, 202u);
  ASSERT_EQ(Post(port_, "/v1/txs", TxText(revoke)).status, 202u);
  Reply replay = Post(port_, "/v1/txs", TxText(grant));
  EXPECT_EQ(replay.status, 409u) << replay.body;
  EXPECT_EQ(replay.json()["error"]["code"], "rejected");
  EXPECT_EQ(replay.json()["error"]["rule"], "replay");
  Reply st = Post(port_, "/v1/txs", TxText(stale));
  EXPECT_EQ(st.status, 409u) << st.body;
  EXPECT_EQ(st.json()["status"], "rejected");
  EXPECT_EQ(st.json()["error"]["rule"], "stale");
  // The message says what is wrong without repeating the rule (clients print both).
  const std::string message = st.json()["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("is not after the current state's"), std::string::npos) << message;
  EXPECT_NE(message.find("for purpose email"), std::string::npos) << message;
  EXPECT_EQ(message.find("stale"), std::string::npos) << message;
  EXPECT_EQ(backend_.height(), 2u);
  SignedTx old = Grant(KeyFromByte(5), controller_.public_key(), {"email"}, 1000);
  Reply too_old = Post(port_, "/v1/txs", TxText(old));
  EXPECT_EQ(too_old.status, 409u);
  EXPECT_EQ(too_old.json()["error"]["rule"], "too_old");
  ExpectServing();
}

TEST_F(ApiTxsTest, FullMempoolIs503WithRetryAfter) {
  backend_.set_mempool_full(true);
  Reply r = Post(port_, "/v1/txs", TxText(Grant(subject_, controller_.public_key(), {"a"}, now_)));
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.json()["error"]["code"], "mempool_full");
  EXPECT_EQ(r.raw[http::field::retry_after], "1");
}

TEST_F(ApiTxsTest, WaitCommitAnswersWithHeightAndLogIndex) {
  SubmitOk({Register(controller_, "Brand", now_)});
  SignedTx tx = Grant(subject_, controller_.public_key(), {"email"}, now_);
  Reply r = Post(port_, "/v1/txs?wait=commit", TxText(tx));
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["status"], "committed");
  EXPECT_EQ(j["height"], 2);
  EXPECT_EQ(j["log_index"], 1);
  Json arr = Json::array(
      {TxJ(Grant(KeyFromByte(3), controller_.public_key(), {"a"}, now_)), Json::object()});
  Reply ra = Post(port_, "/v1/txs?wait=commit", arr.dump());
  ASSERT_EQ(ra.status, 200u) << ra.body;
  EXPECT_EQ(ra.json()[0]["status"], "committed");
  EXPECT_EQ(ra.json()[0]["log_index"], 2);
  EXPECT_EQ(ra.json()[1]["status"], "rejected");
  // Nothing accepted: answered at once with the refusal.
  Reply rej = Post(port_, "/v1/txs?wait=commit", TxText(tx));
  EXPECT_EQ(rej.status, 409u);
  EXPECT_EQ(Post(port_, "/v1/txs?wait=soon", TxText(tx)).status, 400u);
  EXPECT_EQ(Post(port_, "/v1/txs?when=commit", TxText(tx)).status, 400u);
}

TEST_F(ApiTxsTest, WaitCommitCompletesWhenTheBlockComesLater) {
  backend_.set_hold_commits(true);
  SignedTx tx = Grant(subject_, controller_.public_key(), {"email"}, now_);
  std::thread committer([&] {
    while (backend_.Status().mempool_size == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(backend_.CommitPending().ok());
  });
  Reply r = Post(port_, "/v1/txs?wait=commit", TxText(tx));
  committer.join();
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["status"], "committed");
  EXPECT_EQ(r.json()["height"], 1);
  // A duplicate of a pending tx is awaited too.
  SignedTx tx2 = Grant(KeyFromByte(4), controller_.public_key(), {"email"}, now_);
  ASSERT_EQ(Post(port_, "/v1/txs", TxText(tx2)).status, 202u);
  std::thread committer2([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_TRUE(backend_.CommitPending().ok());
  });
  Reply d = Post(port_, "/v1/txs?wait=commit", TxText(tx2));
  committer2.join();
  ASSERT_EQ(d.status, 200u) << d.body;
  EXPECT_EQ(d.json()["status"], "committed");
}

TEST_F(ApiTxsTest, WaitCommitTimesOutWith504AndTheTxStaysPending) {
  ApiServerOptions o = DefaultOptions();
  o.wait_commit_timeout_ms = 300;
  StartServer(o);
  backend_.set_hold_commits(true);
  SignedTx tx = Grant(subject_, controller_.public_key(), {"email"}, now_);
  auto start = std::chrono::steady_clock::now();
  Reply r = Post(port_, "/v1/txs?wait=commit", TxText(tx));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_EQ(r.status, 504u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "commit_timeout");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("pending"), std::string::npos);
  EXPECT_EQ(r.json()["results"][0]["status"], "accepted");
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 5000);
  EXPECT_EQ(backend_.Status().mempool_size, 1u);
  ExpectServing();
}

TEST_F(ApiTxsTest, RateLimitPerClientIs429WithRetryAfter) {
  ApiServerOptions o = DefaultOptions();
  o.write_rate_per_s = 0.5;
  o.write_burst = 2;
  StartServer(o);
  std::string body = TxText(Grant(subject_, controller_.public_key(), {"email"}, now_));
  EXPECT_EQ(Post(port_, "/v1/txs", body).status, 202u);
  EXPECT_EQ(Post(port_, "/v1/txs", body).status, 409u);  // replay, but it took a token
  Reply r = Post(port_, "/v1/txs", body);
  EXPECT_EQ(r.status, 429u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "rate_limited");
  int retry = std::stoi(std::string(r.raw[http::field::retry_after]));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 2);
  EXPECT_EQ(Get(port_, "/v1/status").status, 200u);  // reads are not limited
  EXPECT_NE(Get(port_, "/metrics").body.find("consent_http_rate_limited_total 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace consent::testing
