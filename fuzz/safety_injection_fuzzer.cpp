// Fuzzes the injection rail and the pipeline stages that run it: any bytes (invalid UTF-8, NULs,
// long runs of one phrase, unbalanced markup) must give a result whose spans are sorted, inside
// the input and non-empty, a score in [0, 1] that is 0 exactly when nothing fired, and a
// pipeline outcome whose action is flag exactly when the rail fired; never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "safety/injection.h"
#include "safety/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto detector = ward::safety::InjectionDetector::create({}).value();
    static const auto pipeline = [] {
        ward::safety::PipelineConfig c;
        c.tasks.push_back(
            {"t", {}, {{"injection", ward::safety::Action::kFlag}}, {}, {}, std::nullopt});
        return ward::safety::Pipeline::create(c).value();
    }();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    ward::safety::RailResult r = detector.check(text);
    if (r.score < 0 || r.score > 1) std::abort();
    if (r.fired != !r.spans.empty() || r.fired != (r.score > 0)) std::abort();
    if (r.fired == r.rule.empty()) std::abort();
    size_t last = 0;
    for (const auto& s : r.spans) {
        if (s.end <= s.begin || s.end > size || s.begin < last || s.label.empty()) std::abort();
        last = s.begin;
    }
    auto o = pipeline.run_data("t", text);
    if (!o) std::abort();
    if ((o->action == ward::safety::Action::kFlag) != r.fired) std::abort();
    return 0;
}
