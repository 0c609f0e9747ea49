#include "common/civil_date.h"

#include <gtest/gtest.h>

namespace ward {
namespace {

TEST(CivilDate, KnownDayNumbers) {
    EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
    EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
    EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
    EXPECT_EQ(days_from_civil(2024, 3, 14) - days_from_civil(2024, 2, 28), 15);  // leap year
    EXPECT_EQ(civil_from_days(11017), (CivilDate{2000, 3, 1}));
    EXPECT_EQ(civil_from_days(-1), (CivilDate{1969, 12, 31}));
}

TEST(CivilDate, RoundTripsEveryDayOverFourCenturies) {
    for (int64_t d = days_from_civil(1800, 1, 1); d < days_from_civil(2200, 1, 1); ++d) {
        CivilDate c = civil_from_days(d);
        ASSERT_EQ(days_from_civil(c.year, c.month, c.day), d);
        ASSERT_TRUE(is_valid_date(c.year, c.month, c.day));
    }
}

TEST(CivilDate, MonthLengthsAndValidity) {
    EXPECT_EQ(days_in_month(2024, 2), 29);
    EXPECT_EQ(days_in_month(2023, 2), 28);
    EXPECT_EQ(days_in_month(1900, 2), 28);
    EXPECT_EQ(days_in_month(2000, 2), 29);
    EXPECT_EQ(days_in_month(2024, 4), 30);
    EXPECT_FALSE(is_valid_date(2023, 2, 29));
    EXPECT_FALSE(is_valid_date(2024, 13, 1));
    EXPECT_FALSE(is_valid_date(2024, 0, 10));
    EXPECT_TRUE(is_valid_date(2024, 2, 29));
}

TEST(FormatUtc, TheSharedTimestampFormats) {
    // 2026-11-27T22:05:09Z
    const int64_t t = days_from_civil(2026, 11, 27) * 86400 + 22 * 3600 + 5 * 60 + 9;
    EXPECT_EQ(format_utc(t), "2026-11-27T22:05:09Z");
    EXPECT_EQ(format_utc(t, kIsoDate), "2026-11-27");
    EXPECT_EQ(format_utc(t, kHl7Timestamp), "20261127220509");
    EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(utc_now(kIsoDate).size(), 10u);
}

}  // namespace
}  // namespace ward
