// Fuzzes the crisis rail: any bytes (invalid UTF-8, NULs, huge runs of one word) must give a
// result whose spans are sorted, inside the input, and start and end on ASCII letters or digits
// (so never inside a UTF-8 character), a score in [0, 1], and an escalation text exactly when
// the rail fired; never a crash or a hang.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "safety/crisis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto detector = ward::safety::CrisisDetector::create({}).value();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    ward::safety::RailResult r = detector.check(text);
    if (r.score < 0 || r.score > 1) std::abort();
    if (r.fired != !r.spans.empty()) std::abort();
    if (r.fired == r.rule.empty()) std::abort();
    size_t last = 0;  // spans are sorted by begin; evidence may overlap
    for (const auto& s : r.spans) {
        if (s.end <= s.begin || s.end > size || s.begin < last) std::abort();
        // Evidence starts and ends on ASCII letters or digits, so it never splits a UTF-8
        // character of valid input (invalid input may have stray bytes right next to it).
        if (!std::isalnum(data[s.begin]) || !std::isalnum(data[s.end - 1])) std::abort();
        last = s.begin;
    }
    auto reply = ward::safety::escalation(r, detector.options());
    if (reply.escalate != r.fired || reply.text.empty() == r.fired) std::abort();
    return 0;
}
