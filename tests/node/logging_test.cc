// Tests of node/logging: JSON lines are valid JSON with the message escaped (quotes, newlines,
// invalid UTF-8), levels are named as in log.level, and a bad level is refused.
#include "node/logging.h"

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace consent {
namespace {

TEST(LoggingTest, JsonLineEscapesTheMessage) {
  std::string msg = "tx \"abc\" said:\nline two\t\\ and \xff\xfe bytes";
  std::string line = JsonLogLine("2026-01-02T03:04:05.678Z", "info", msg);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(j["level"], "info");
  std::string got = j["msg"];
  EXPECT_EQ(got.substr(0, 30), msg.substr(0, 30));
  EXPECT_EQ(line.find("{\"ts\":"), 0u);  // fields in a fixed order
}

// Lines name the levels as log.level does: "warn", not spdlog's "warning".
TEST(LoggingTest, LinesNameLevelsAsTheConfigDoes) {
  for (LogFormat format : {LogFormat::kPlain, LogFormat::kJson}) {
    ASSERT_TRUE(SetupLogging("info", format).ok());
    ::testing::internal::CaptureStderr();
    spdlog::warn("careful");
    spdlog::info("fine");
    spdlog::default_logger()->flush();
    const std::string text = ::testing::internal::GetCapturedStderr();
    if (format == LogFormat::kPlain) {
      EXPECT_NE(text.find("Z warn careful\n"), std::string::npos) << text;
      EXPECT_NE(text.find("Z info fine\n"), std::string::npos) << text;
    } else {
      EXPECT_NE(text.find("\"level\":\"warn\",\"msg\":\"careful\""), std::string::npos) << text;
    }
    EXPECT_EQ(text.find("warning"), std::string::npos) << text;
  }
}

TEST(LoggingTest, LevelsAreChecked) {
  EXPECT_TRUE(SetupLogging("debug", LogFormat::kJson).ok());
  EXPECT_TRUE(SetupLogging("off", LogFormat::kPlain).ok());
  EXPECT_EQ(SetupLogging("loud", LogFormat::kPlain).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(SetupLogging("info", LogFormat::kPlain).ok());
}

}  // namespace
}  // namespace consent
