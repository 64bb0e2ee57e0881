#include "tessera/clock.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795329804123)), "2026-11-22T06:43:24.123Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(1795395599009)), "2026-11-23T00:59:59.009Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(253402300799999)), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(253402300800000)), "10000-01-01T00:00:00.000Z");  // past four digits
  EXPECT_EQ(FormatRfc3339(FromUnixMillis(-1)), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339, ParsesZuluOffsetsAndFractions) {
  EXPECT_EQ(ToUnixMillis(*ParseRfc3339("2026-11-22T06:43:24Z")), 1795329804000);
  EXPECT_EQ(ToUnixMillis(*ParseRfc3339("2026-11-22T06:43:24.5Z")), 1795329804500);
  EXPECT_EQ(ToUnixMillis(*ParseRfc3339("2026-11-22T15:43:24+09:00")), 1795329804000);
  EXPECT_EQ(ToUnixMillis(*ParseRfc3339("2026-11-21T23:43:24-07:00")), 1795329804000);
}

TEST(Rfc3339, RejectsNonsense) {
  for (const char* bad : {"", "2026-11-22", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                          "2026-11-22T24:00:00Z", "2026-11-22T06:43:24", "2026-11-22T06:43:24Zjunk",
                          "2026-11-22 06:43:24Z", "2026-11-22T06:43:24.Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(FromUnixMillis(1000));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 1000);
  clock.Advance(std::chrono::hours(24));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 1000 + 86400000);
  clock.Set(FromUnixMillis(5));
  EXPECT_EQ(ToUnixMillis(clock.Now()), 5);
}

}  // namespace
}  // namespace tessera
