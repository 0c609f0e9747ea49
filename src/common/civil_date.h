// Calendar arithmetic on civil (proleptic Gregorian) dates, on C++20 <chrono>: day numbers for
// date shifting and interval trends, month lengths, validity. Used by deid (shifting a
// patient's dates by one offset) and interop (trends over time).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace ward {

struct CivilDate {
    int year = 1970;
    int month = 1;  // 1-12
    int day = 1;    // 1-31
    friend bool operator==(const CivilDate&, const CivilDate&) = default;
};

// Days since 1970-01-01 (negative before). REQUIRES: month in 1..12 and day in 1..31; a day
// past the month's end counts on into the next month, as std::chrono defines it.
int64_t days_from_civil(int year, int month, int day);
// The date `days` after 1970-01-01.
CivilDate civil_from_days(int64_t days);
// 28-31. REQUIRES: month in 1..12.
int days_in_month(int year, int month);
bool is_valid_date(int year, int month, int day);

}  // namespace ward
