// Internals shared by detector.cpp, surrogate.cpp and deid.cpp. Not part of the API.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "deid/deid.h"
#include "deid/lexicon.h"

namespace ward::deid::internal {

// Where the fields of a date sit inside its span, so a surrogate can rewrite them in place.
struct DateFields {
    int year = -1, month = -1, day = -1;  // -1: absent
    int weekday = -1;                     // 0 = Monday; for a lone weekday name
    int holiday_month = -1, holiday_day = -1;
    // Offsets relative to the span start; len 0 when absent.
    uint16_t y_off = 0, y_len = 0, m_off = 0, m_len = 0, d_off = 0, d_len = 0;
    uint8_t month_style = 0;  // 0 numeric, 1 full name, 2 three-letter abbreviation
    bool month_upper = false, day_ordinal = false, zero_pad_month = false, zero_pad_day = false;
};

struct Candidate {
    size_t start = 0, end = 0;  // byte offsets
    Category category = Category::kId;
    float confidence = 0;
    uint8_t priority = 0;  // overlap winner: higher first, then longer
    uint16_t head = 0;     // facility/street: offset of the kept head words ("Hospital")
    int date_index = -1;   // into Detection::dates
};

struct Detection {
    std::vector<Candidate> spans;  // sorted, not overlapping, offsets in the whole input
    std::vector<DateFields> dates;
    // hash_lower() of every word and number of the input (in order, with repeats): surrogate
    // mode never picks a surrogate that is already a word of the input.
    std::vector<uint64_t> word_hashes;
};

// Runs every rule over `text`. REQUIRES: `text` is valid UTF-8 (validate_utf8). Texts above
// 1 MiB are split into chunks at line breaks; offsets in the result are into the whole text.
Detection detect_all(std::string_view text, const Lexicons& lex, float min_confidence);

}  // namespace ward::deid::internal
