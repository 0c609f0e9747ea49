// Helpers shared by the safety tests: one detector for the whole binary and the labelled sets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "safety/crisis.h"

namespace ward::safety::test {

inline const CrisisDetector& detector() {
    static const CrisisDetector d = [] {
        auto r = CrisisDetector::create({});
        if (!r) {
            std::fprintf(stderr, "crisis detector: %s\n", r.error().message().c_str());
            std::abort();
        }
        return std::move(r).value();
    }();
    return d;
}

struct Labelled {
    size_t line = 0;
    bool risk = false;
    std::string category;
    std::string message;
};

// Reads `label<TAB>category<TAB>message` lines of tests/safety/data/<name>.
inline std::vector<Labelled> load_labelled(const std::string& name) {
    std::string path = std::string(WARD_SOURCE_DIR) + "/tests/safety/data/" + name;
    std::string content = read_file(path).value();
    std::vector<Labelled> out;
    size_t i = 0, line = 0;
    while (i < content.size()) {
        size_t e = content.find('\n', i);
        if (e == std::string::npos) e = content.size();
        std::string row = content.substr(i, e - i);
        ++line;
        i = e + 1;
        if (row.empty()) continue;
        size_t t1 = row.find('\t'), t2 = row.find('\t', t1 + 1);
        if (t1 == std::string::npos || t2 == std::string::npos) continue;
        out.push_back(
            {line, row.substr(0, t1) == "1", row.substr(t1 + 1, t2 - t1 - 1), row.substr(t2 + 1)});
    }
    return out;
}

}  // namespace ward::safety::test
