// The PDF reader, on Debian's poppler-cpp: the text of every page in poppler's reading order,
// split into paragraphs on blank lines; the title from the document information dictionary.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <limits>
#include <memory>
#include <mutex>

#include "knowledge/ingest_internal.h"

namespace ward::knowledge::detail {
namespace {

// poppler prints its complaints about damaged files to stderr; ingestion reports its own
// errors instead.
void ignore_poppler_message(const std::string& /*message*/, void* /*closure*/) {}

void silence_poppler() {
    static std::once_flag once;
    std::call_once(once,
                   [] { poppler::set_debug_error_function(ignore_poppler_message, nullptr); });
}

std::string to_utf8(const poppler::ustring& text) {
    if (text.empty()) return {};
    poppler::byte_array bytes = text.to_utf8();
    std::string out(bytes.begin(), bytes.end());
    // NUL characters (from broken font encodings) are no text.
    for (char& c : out) {
        if (c == '\0') c = ' ';
    }
    return out;
}

}  // namespace

Result<Extracted> read_pdf(std::string_view bytes, std::string_view where) {
    silence_poppler();
    if (bytes.substr(0, 5) != "%PDF-")
        return invalid_argument("{}: not a PDF (no %PDF- header)", where);
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
        return invalid_argument("{}: too large for the PDF reader", where);
    }
    // poppler reads the caller's bytes in place; they outlive `doc`.
    std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
    if (!doc) return invalid_argument("{}: a broken PDF (poppler cannot read it)", where);
    if (doc->is_locked()) {
        return invalid_argument("{}: the PDF is encrypted and needs a password", where);
    }
    Extracted out;
    std::string title = to_utf8(doc->info_key("Title"));
    if (find_invalid_utf8(title) == std::string_view::npos) out.title = normalise_inline(title);

    int n_pages = doc->pages();
    for (int i = 0; i < n_pages; ++i) {
        std::unique_ptr<poppler::page> page(doc->create_page(i));
        if (!page) return invalid_argument("{}: page {} cannot be read", where, i + 1);
        std::string text = to_utf8(page->text());
        if (size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
            return invalid_argument("{}: page {}: the extracted text is not valid UTF-8 (byte {})",
                                    where, i + 1, bad);
        }
        for (std::string_view paragraph : split_paragraphs(text)) {
            add_block(out.blocks, Block::Kind::kParagraph, 0, paragraph);
        }
    }
    return out;
}

}  // namespace ward::knowledge::detail
