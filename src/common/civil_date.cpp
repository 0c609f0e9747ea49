#include "common/civil_date.h"

#include <chrono>
#include <ctime>

namespace ward {

namespace chr = std::chrono;

int64_t days_from_civil(int year, int month, int day) {
    const chr::year_month_day ymd{chr::year{year}, chr::month{static_cast<unsigned>(month)},
                                  chr::day{static_cast<unsigned>(day)}};
    return chr::sys_days{ymd}.time_since_epoch().count();
}

CivilDate civil_from_days(int64_t days) {
    const chr::year_month_day ymd{chr::sys_days{chr::days{days}}};
    return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
            static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

int days_in_month(int year, int month) {
    const chr::year_month_day_last last{
        chr::year{year}, chr::month_day_last{chr::month{static_cast<unsigned>(month)}}};
    return static_cast<int>(static_cast<unsigned>(last.day()));
}

bool is_valid_date(int year, int month, int day) {
    if (month < 1 || month > 12 || day < 1 || day > 31) return false;
    return chr::year_month_day{chr::year{year}, chr::month{static_cast<unsigned>(month)},
                               chr::day{static_cast<unsigned>(day)}}
        .ok();
}

std::string format_utc(int64_t unix_seconds, const char* format) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    if (!gmtime_r(&t, &tm)) return std::to_string(unix_seconds);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

std::string utc_now(const char* format) {
    return format_utc(static_cast<int64_t>(std::time(nullptr)), format);
}

}  // namespace ward
