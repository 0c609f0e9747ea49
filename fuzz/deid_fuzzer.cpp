// Fuzzes the PHI detector and the replacement modes: any bytes must give spans (sorted, not
// overlapping, inside the input, on UTF-8 boundaries) or a clear error, never a crash, hang or
// out-of-bounds read.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "deid/deid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto deid = [] {
        ward::deid::DeidentifierOptions o;
        o.secret.assign(32, 7);
        return std::move(ward::deid::Deidentifier::create(o)).value();
    }();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto spans = deid->detect(text);
    if (!spans) return 0;
    size_t last = 0;
    for (const auto& s : *spans) {
        if (s.start < last || s.end <= s.start || s.end > size) std::abort();
        if (s.start < size && (data[s.start] & 0xC0) == 0x80) std::abort();
        if (s.end < size && (data[s.end] & 0xC0) == 0x80) std::abort();
        last = s.end;
    }
    for (auto mode :
         {ward::deid::Mode::kRedact, ward::deid::Mode::kMask, ward::deid::Mode::kSurrogate}) {
        auto r = deid->deidentify(text, mode, "fuzz-patient");
        if (!r) std::abort();  // detect() succeeded, so this must too
        if (!ward::deid::validate_utf8(r->text).ok()) std::abort();
    }
    return 0;
}
