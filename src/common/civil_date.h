// Calendar arithmetic on civil (proleptic Gregorian) dates, on C++20 <chrono>: day numbers for
// date shifting and interval trends, month lengths, validity. Used by deid (shifting a
// patient's dates by one offset) and interop (trends over time). Also the one formatter of UTC
// timestamps (ISO 8601, FHIR instants, HL7 TS) the parts share.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

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

inline constexpr const char* kIsoSecondsUtc = "%Y-%m-%dT%H:%M:%SZ";  // 2026-11-27T22:05:00Z
inline constexpr const char* kIsoDate = "%Y-%m-%d";                  // 2026-11-27
inline constexpr const char* kHl7Timestamp = "%Y%m%d%H%M%S";         // 20261127220500

// `unix_seconds` formatted in UTC with a strftime format (at most 63 bytes of output); the
// number itself when the time cannot be represented.
std::string format_utc(int64_t unix_seconds, const char* format = kIsoSecondsUtc);
// The current time, so formatted.
std::string utc_now(const char* format = kIsoSecondsUtc);

}  // namespace ward
