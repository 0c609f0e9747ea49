// Fuzzes knowledge ingestion: the first byte picks the format (markdown, text, html, json,
// jsonl, csv, pdf, or detection from the content), the mapping's id ("id" or "@key") and the
// chunk cap; the rest is parsed and chunked. Any bytes must give documents or a clear error,
// never a crash, a leak or unbounded work.
#include <cstdint>
#include <string_view>

#include "knowledge/ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ward::knowledge;
    if (size == 0) return 0;
    static const char* const kFormats[] = {"markdown", "text", "html", "json",
                                           "jsonl",    "csv",  "pdf"};
    uint8_t selector = data[0];
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

    IngestOptions options;
    options.max_bytes = 1 << 20;
    unsigned format = selector & 7;
    if (format < 7) options.format = kFormats[format];
    FieldMapping mapping;
    mapping.id = (selector & 8) ? "@key" : "id";
    mapping.text = {"text", "body.sections"};
    mapping.title = "title";
    mapping.published = "date";
    mapping.location = "url";
    options.mapping = mapping;
    static const int kCaps[] = {256, 16, 3, 1};
    options.chunking.max_tokens = kCaps[(selector >> 4) & 3];
    options.chunking.overlap_tokens = (selector & 64) ? 0 : 8;

    auto documents = parse_documents(bytes, format < 7 ? "fuzz" : "fuzz.input", options);
    if (documents) {
        for (const Document& d : *documents) {
            // Invariants the store relies on.
            if (d.chunks.empty() || d.content_sha256.size() != 64) __builtin_trap();
            for (const Chunk& c : d.chunks) {
                if (c.text.empty() || c.tokens < 0) __builtin_trap();
            }
        }
    }
    (void)detect_format("fuzz", bytes);
    return 0;
}
