// Fuzzes query text on its way into FTS5: any bytes must give a search result, or
// kInvalidArgument when the text has no word at all, never an SQLite error (an FTS5 syntax error
// would mean user text acted as query syntax), a crash or a hang. The expression builder's output
// must be quoted terms joined by " OR ".
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "knowledge/normalize.h"
#include "knowledge/store.h"

namespace {

std::filesystem::path store_dir() {
    return std::filesystem::temp_directory_path() /
           ("ward-knowledge-query-fuzzer-" + std::to_string(::getpid()));
}

ward::knowledge::Document make_doc(std::string id, std::string text) {
    ward::knowledge::Document doc;
    doc.doc_id = std::move(id);
    doc.source = "fuzz";
    doc.title = doc.doc_id;
    doc.format = "text";
    doc.content = text;
    doc.content_sha256 = ward::crypto::sha256_hex(text);
    doc.chunks.push_back({0, doc.title, text, 10});
    return doc;
}

std::shared_ptr<ward::knowledge::Store> make_store() {
    std::filesystem::remove_all(store_dir());
    std::filesystem::create_directories(store_dir());
    std::atexit([] { std::filesystem::remove_all(store_dir()); });
    auto store = ward::knowledge::Store::open((store_dir() / "kb.sqlite").string());
    if (!store) std::abort();
    std::vector<ward::knowledge::Document> docs = {
        make_doc("mi", "Aspirin after acute myocardial infarction (MI) lowers mortality."),
        make_doc("near", "NEAR AND OR NOT are words here: \"quoted\" text* with col:umns ^x."),
        make_doc("intl", "Ménière's disease; Δψm of mitochondria; 糖尿病 is diabetes.")};
    if (!(*store)->add(docs, "fuzz seed")) std::abort();
    return *store;
}

// "term" OR "term two" OR ...: quoted strings (quotes inside doubled) joined by " OR ".
bool well_formed(std::string_view e) {
    size_t i = 0;
    while (i < e.size()) {
        if (e[i] != '"') return false;
        ++i;
        while (true) {
            if (i >= e.size()) return false;
            if (e[i] == '"') {
                if (i + 1 < e.size() && e[i + 1] == '"') {
                    i += 2;
                    continue;
                }
                ++i;
                break;
            }
            ++i;
        }
        if (i == e.size()) return true;
        if (e.substr(i, 4) != " OR ") return false;
        i += 4;
    }
    return e.empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto store = make_store();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string expression = ward::knowledge::build_match_expression(text);
    if (!well_formed(expression)) std::abort();

    ward::knowledge::Query query;
    query.text = std::string(text);
    query.k = 3;
    auto result = store->search(query);
    if (result) {
        if (result->hits.size() > 3) std::abort();
    } else if (result.error().code() != ward::StatusCode::kInvalidArgument || !expression.empty()) {
        std::abort();
    }
    return 0;
}
