// Fuzzes the dose rail: any bytes (invalid UTF-8, NULs, huge numbers, runs of units) must give a
// result whose spans are sorted, non-empty and inside the input, a score in [0, 1], a rule from
// kDoseRules exactly when fired, and the same result for a paediatric checker with a weight;
// never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "safety/dose.h"

namespace {

void check_result(const ward::safety::RailResult& r, size_t size) {
    if (r.score < 0 || r.score > 1) std::abort();
    if (r.fired != !r.spans.empty()) std::abort();
    if (r.fired == r.rule.empty()) std::abort();
    if (r.fired) {
        bool known = false;
        for (auto rule : ward::safety::kDoseRules) known |= rule == r.rule;
        if (!known) std::abort();
    }
    size_t last = 0;
    for (const auto& s : r.spans) {
        if (s.end <= s.begin || s.end > size || s.begin < last || s.label.empty()) std::abort();
        last = s.begin;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto adult = ward::safety::DoseChecker::create({}).value();
    static const auto child =
        ward::safety::DoseChecker::create({.weight_kg = 12.5, .paediatric = true}).value();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    check_result(adult.check(text), size);
    check_result(child.check(text), size);
    return 0;
}
