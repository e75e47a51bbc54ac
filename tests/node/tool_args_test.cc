// tools/arg_util.h: the benchmark tools' strict number parsing.
#include "tools/arg_util.h"

#include <gtest/gtest.h>

namespace consent::tools {
namespace {

TEST(ToolArgs, ParseU64AcceptsOnlyWholeNumbersWithinTheBound) {
  uint64_t v = 7;
  EXPECT_TRUE(ParseU64("0", 10, &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(ParseU64("1000000", 1'000'000, &v));
  EXPECT_EQ(v, 1'000'000u);
  EXPECT_TRUE(ParseU64("010", 10, &v));  // decimal, never octal (as consentctl)
  EXPECT_EQ(v, 10u);
  EXPECT_TRUE(ParseU64("0000", 10, &v));
  EXPECT_EQ(v, 0u);
  v = 7;
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "x", "0x10", "1e3", "1000001",
                          "99999999999999999999999"}) {
    EXPECT_FALSE(ParseU64(bad, 1'000'000, &v)) << bad;
  }
  EXPECT_FALSE(ParseU64(nullptr, 10, &v));
  EXPECT_EQ(v, 7u);  // untouched by every refusal
}

TEST(ToolArgs, ParseDoubleAcceptsOnlyFiniteNumbersInRange) {
  double d = 0;
  EXPECT_TRUE(ParseDouble("0.5", 0, 1, &d));
  EXPECT_DOUBLE_EQ(d, 0.5);
  for (const char* bad : {"", "nan", "inf", "1.5", "-0.1", "0.5x", "abc"}) {
    EXPECT_FALSE(ParseDouble(bad, 0, 1, &d)) << bad;
  }
  EXPECT_DOUBLE_EQ(d, 0.5);
}

TEST(ToolArgs, FlagPairsNeedsAValueForEveryFlag) {
  std::vector<std::pair<std::string, const char*>> flags;
  char prog[] = "tool", f1[] = "--txs", v1[] = "10", f2[] = "--dir", v2[] = "/tmp/x";
  char* ok[] = {prog, f1, v1, f2, v2};
  EXPECT_EQ(FlagPairs(5, ok, "", &flags), -1);
  ASSERT_EQ(flags.size(), 2u);
  EXPECT_EQ(flags[1].first, "--dir");
  EXPECT_STREQ(flags[1].second, "/tmp/x");
  flags.clear();
  char* trailing[] = {prog, f1, v1, f2};
  EXPECT_EQ(FlagPairs(4, trailing, "", &flags), 2);
  char help[] = "--help";
  char* asks[] = {prog, help};
  EXPECT_EQ(FlagPairs(2, asks, "", &flags), 0);
}

}  // namespace
}  // namespace consent::tools
