// Fuzzes citation checking with any model output: the first byte chooses how many passages were
// given (0..15), the rest is the answer, and the passages are slices of the answer itself (so
// term overlap is exercised). Every reported range must lie inside the answer and every cited
// number must be a passage that exists.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "knowledge/citations.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t n_passages = data[0] % 16;
    std::string_view answer(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string> passages;
    for (size_t i = 0; i < n_passages; ++i) {
        size_t from = answer.empty() ? 0 : (i * 37) % answer.size();
        passages.emplace_back(answer.substr(from, 64));
    }
    ward::knowledge::CitationCheck check = ward::knowledge::check_citations(answer, passages);
    for (const auto& s : check.sentences) {
        if (s.begin > s.end || s.end > answer.size()) std::abort();
    }
    for (const auto& f : check.flags) {
        if (f.begin > f.end || f.end > answer.size()) std::abort();
    }
    for (int n : check.cited) {
        if (n < 1 || static_cast<size_t>(n) > passages.size()) std::abort();
    }
    for (const auto& m : ward::knowledge::parse_citation_markers(answer)) {
        if (m.numbers.empty() || m.begin >= m.end || m.end > answer.size()) std::abort();
        if (answer[m.begin] != '[' || answer[m.end - 1] != ']') std::abort();
    }
    return 0;
}
