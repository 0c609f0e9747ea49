// Helpers shared by the deid tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "deid/deid.h"
#include "deid/eval.h"

#include <nlohmann/json.hpp>

namespace ward::deid::test {

inline const Deidentifier& shared_deid() {
    static const auto d = [] {
        DeidentifierOptions o;
        for (int i = 0; i < 32; ++i) o.secret.push_back(static_cast<uint8_t>(i * 7 + 1));
        return std::move(Deidentifier::create(o)).value();
    }();
    return *d;
}

struct CorpusNote {
    GoldDoc doc;
    std::string patient, type, split;
};

inline const std::vector<CorpusNote>& corpus() {
    static const std::vector<CorpusNote> notes = [] {
        std::string path = std::string(WARD_SOURCE_DIR) + "/tests/deid/data/corpus.jsonl";
        std::string content = read_file(path).value();
        auto docs = load_gold_jsonl(content, path).value();
        std::vector<CorpusNote> out;
        size_t line = 0, i = 0;
        while (i < content.size()) {
            size_t e = content.find('\n', i);
            if (e == std::string::npos) e = content.size();
            auto j = nlohmann::json::parse(content.substr(i, e - i));
            i = e + 1;
            out.push_back({docs[line++], j["patient"], j["type"], j["split"]});
        }
        return out;
    }();
    return notes;
}

}  // namespace ward::deid::test
