#include "common/time.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

TEST(Time, ParsesRfc3339WithMillisAndZ) {
  const auto t = ParseRfc3339("2026-04-22T10:00:00.123Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, 1776852000123LL);
  EXPECT_EQ(FormatRfc3339(*t), "2026-04-22T10:00:00.123Z");
}

TEST(Time, ParsesOffsetsAndSpaceSeparator) {
  EXPECT_EQ(ParseRfc3339("2026-04-22T12:00:00+02:00"), ParseRfc3339("2026-04-22T10:00:00Z"));
  EXPECT_EQ(ParseRfc3339("2026-04-22 10:00:00Z"), ParseRfc3339("2026-04-22T10:00:00Z"));
  EXPECT_EQ(ParseRfc3339("2026-04-22T10:00:00.5Z").value() % 1000, 500);
}

TEST(Time, RejectsMalformedAndOutOfRange) {
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-04-22T10:00:00"));  // no offset
  EXPECT_FALSE(ParseRfc3339("2026-04-22T25:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("yesterday"));
  EXPECT_FALSE(ParseRfc3339("1970-01-01T00:00:00Z"));  // before 1990
  EXPECT_FALSE(ParseRfc3339("2026-04-22T10:00:00Zjunk"));
}

TEST(Time, EpochSeconds) {
  EXPECT_EQ(EpochSecondsToMs(1776852000.123), 1776852000123LL);
  EXPECT_FALSE(EpochSecondsToMs(1e20));
  EXPECT_FALSE(EpochSecondsToMs(-5));
}

}  // namespace
}  // namespace dg
