// /readyz and the readiness rules (net/readiness.h): a follower with no peer link and a node whose
// head is older than api.ready_max_head_age_ms are not ready (503 with a JSON cause), the
// operator's warning is rate limited, and /metrics says the head's age. Issue 16 item 14.
#include "net/readiness.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/net/test_util.h"

namespace consent::testing {
namespace {

NodeStatus Live(uint64_t height, uint64_t time_ms) {
  NodeStatus s;
  s.ready = true;
  s.validator = true;
  s.peers = 3;
  s.height = height;
  s.time_ms = time_ms;
  return s;
}

TEST(ReadinessTest, AFreshValidatorIsReady) {
  Readiness r = JudgeReadiness(Live(10, 1'000'000), 1'004'000, 30'000);
  EXPECT_TRUE(r.ready) << r.reason;
  ASSERT_TRUE(r.head_age_ms.has_value());
  EXPECT_EQ(*r.head_age_ms, 4'000u);
}

TEST(ReadinessTest, AFollowerWithNoPeerIsNotReady) {
  NodeStatus s = Live(10, 1'000'000);
  s.validator = false;
  s.peers = 0;
  Readiness r = JudgeReadiness(s, 1'000'001, 30'000);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.cause, "no_peer");
  s.peers = 1;
  EXPECT_TRUE(JudgeReadiness(s, 1'000'001, 30'000).ready);
  // A lone validator (a one-validator chain) needs no peer.
  s.validator = true;
  s.peers = 0;
  EXPECT_TRUE(JudgeReadiness(s, 1'000'001, 30'000).ready);
}

TEST(ReadinessTest, AnOldHeadIsNotReadyOnlyFromBlockOneAndOnlyWithABound) {
  Readiness r = JudgeReadiness(Live(91, 1'000'000), 1'030'001, 30'000);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.cause, "stale_head");
  EXPECT_NE(r.reason.find("height 91"), std::string::npos) << r.reason;
  EXPECT_TRUE(JudgeReadiness(Live(91, 1'000'000), 1'030'000, 30'000).ready);  // at the bound
  EXPECT_TRUE(JudgeReadiness(Live(91, 1'000'000), 9'000'000, 0).ready);       // no bound
  EXPECT_TRUE(JudgeReadiness(Live(0, 0), 9'000'000, 30'000).ready);           // no block yet
  EXPECT_FALSE(JudgeReadiness(Live(0, 0), 9'000'000, 30'000).head_age_ms.has_value());
  // A head time ahead of this clock counts as age 0.
  EXPECT_EQ(*JudgeReadiness(Live(5, 2'000), 1'000, 30'000).head_age_ms, 0u);
}

TEST(ReadinessTest, TheWarningIsRateLimited) {
  ReadinessWatch w;
  const Readiness ok = JudgeReadiness(Live(5, 1'000), 1'000, 30'000);
  NodeStatus f = Live(5, 1'000);
  f.validator = false;
  f.peers = 0;
  const Readiness cut = JudgeReadiness(f, 1'000, 30'000);
  EXPECT_FALSE(w.Observe(ok, 0).has_value());
  auto first = w.Observe(cut, 1'000);
  ASSERT_TRUE(first.has_value());
  EXPECT_NE(first->find("not ready: a follower with no peer link"), std::string::npos) << *first;
  EXPECT_FALSE(w.Observe(cut, 6'000).has_value());
  EXPECT_FALSE(w.Observe(cut, 1'000 + ReadinessWatch::kRepeatMs - 1).has_value());
  EXPECT_TRUE(w.Observe(cut, 1'000 + ReadinessWatch::kRepeatMs).has_value());
  // Another cause is said at once.
  const Readiness stale = JudgeReadiness(Live(5, 1'000), 1'000'000, 30'000);
  EXPECT_TRUE(w.Observe(stale, 1'000 + ReadinessWatch::kRepeatMs + 1).has_value());
  auto again = w.Observe(ok, 1'000 + ReadinessWatch::kRepeatMs + 2);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->rfind("ready again", 0), 0u) << *again;
  EXPECT_FALSE(w.Observe(ok, 1'000 + 2 * ReadinessWatch::kRepeatMs + 5).has_value());
}

TEST(ReadinessTest, MetricsGiveTheHeadAge) {
  EXPECT_EQ(
      ReadinessMetrics(JudgeReadiness(Live(0, 0), 5'000, 30'000)).find("consent_head_age_seconds"),
      std::string::npos);
  std::string m = ReadinessMetrics(JudgeReadiness(Live(4, 1'000), 3'500, 30'000));
  EXPECT_NE(m.find("consent_head_age_seconds 2.500\n"), std::string::npos) << m;
  EXPECT_NE(m.find("consent_ready 1\n"), std::string::npos) << m;
}

// Through the real server over the test backend: the head ages past a 1 ms bound (a bounded
// wait for the outcome, not a timing threshold), /readyz is 503 with its cause, and /metrics
// gives the age.
class ReadyzServerTest : public ApiFixture {};

TEST_F(ReadyzServerTest, AnOldHeadMakesReadyz503WithTheCause) {
  SigningKey brand = KeyFromByte(7);
  SubmitOk({Register(brand, "Readiness Brand", WallMs() - 1000)});  // height 1
  ApiServerOptions o = DefaultOptions();
  o.ready_max_head_age_ms = 1;
  StartServer(o);
  Reply r;
  for (int i = 0; i < 500; ++i) {
    r = Get(port_, "/readyz");
    if (r.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(r.status, 503u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["error"]["code"], "not_ready");
  EXPECT_EQ(j["cause"], "stale_head");
  EXPECT_EQ(j["ready"], false);
  EXPECT_EQ(j["height"], 1);
  EXPECT_GE(j["head_age_ms"].get<uint64_t>(), 2u);
  Reply m = Get(port_, "/metrics");
  EXPECT_NE(m.body.find("\nconsent_head_age_seconds "), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\nconsent_ready 0\n"), std::string::npos) << m.body;
  // With the default bound (30 s) the same head is fresh: 200.
  StartServer(DefaultOptions());
  Reply ok = Get(port_, "/readyz");
  EXPECT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(ok.json()["ready"], true);
}

}  // namespace
}  // namespace consent::testing
