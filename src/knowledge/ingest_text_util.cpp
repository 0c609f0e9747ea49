// Text validation and normalisation shared by the format readers (ingest_internal.h).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <utf8proc.h>

#include "common/civil_date.h"
#include "knowledge/ingest_internal.h"

namespace ward::knowledge::detail {
namespace {

bool has_non_ascii(std::string_view text) {
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    }
    return false;
}

size_t decode(std::string_view text, size_t i, char32_t& cp);

// Whether `text` is certainly NFC already, without normalising it: true when every character
// below U+0300 (Latin-1 and Latin Extended; none of them changes under NFC and none is a
// combining mark) or one that has no canonical decomposition, no combining class, takes no
// part in canonical composition and is not Hangul (composed algorithmically). False sends the
// text through utf8proc, which is the slow part of ingestion.
bool certainly_nfc(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        char32_t cp = 0;
        i += decode(text, i, cp);
        if (cp < 0x300) continue;
        if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3130 && cp <= 0x318F) ||
            (cp >= 0xA960 && cp <= 0xA97F) || (cp >= 0xAC00 && cp <= 0xD7FF)) {
            return false;
        }
        const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
        if (p->combining_class != 0 || p->comb_index != UINT16_MAX || p->comp_exclusion ||
            (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0)) {
            return false;
        }
    }
    return true;
}

// NFC of valid UTF-8; text that is certainly NFC already (all ASCII, most Latin text) is
// returned as it is.
std::string to_nfc(std::string text) {
    if (!has_non_ascii(text) || certainly_nfc(text)) return text;
    utf8proc_uint8_t* mapped = nullptr;
    utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
    if (n < 0) return text;  // not reached for valid UTF-8; keep the text rather than lose it
    return std::string(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
}

// Decodes the character at text[i]; returns its length. Bytes that do not start a complete
// sequence decode as U+FFFD of length 1, so that text from a library is never read past its end.
size_t decode(std::string_view text, size_t i, char32_t& cp) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    unsigned char c = b(0);
    size_t len = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (len == 0 || i + len > text.size()) {
        cp = 0xFFFD;
        return 1;
    }
    for (size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xC0) != 0x80) {
            cp = 0xFFFD;
            return 1;
        }
    }
    if (len == 1) {
        cp = c;
    } else if (len == 2) {
        cp = ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    } else if (len == 3) {
        cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    } else {
        cp = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    }
    return len;
}

bool is_unicode_space(char32_t cp) {
    return (cp >= 0x80 && cp <= 0xA0) ||  // C1 controls, NEL, no-break space
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
bool is_invisible(char32_t cp) {
    return cp == 0x00AD || cp == 0x200B || cp == 0x2060 || cp == 0xFEFF;  // soft hyphen, ZW
}

}  // namespace

void append_utf8(std::string& out, uint32_t cp) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

size_t find_invalid_utf8(std::string_view bytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    size_t n = bytes.size();
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t word;
            std::memcpy(&word, p + i, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
        if (c < 0xC2) return i;  // a stray continuation byte or an overlong 2-byte form
        if (c < 0xE0) {
            if (!cont(1)) return i;
            i += 2;
        } else if (c < 0xF0) {
            if (!cont(1) || !cont(2)) return i;
            if (c == 0xE0 && p[i + 1] < 0xA0) return i;   // overlong
            if (c == 0xED && p[i + 1] >= 0xA0) return i;  // UTF-16 surrogate
            i += 3;
        } else if (c < 0xF5) {
            if (!cont(1) || !cont(2) || !cont(3)) return i;
            if (c == 0xF0 && p[i + 1] < 0x90) return i;   // overlong
            if (c == 0xF4 && p[i + 1] >= 0x90) return i;  // past U+10FFFF
            i += 4;
        } else {
            return i;
        }
    }
    return std::string_view::npos;
}

Status check_text(std::string_view bytes, std::string_view where) {
    if (const void* nul = std::memchr(bytes.data(), 0, bytes.size())) {
        return invalid_argument("{}: NUL byte at byte {}", where,
                                static_cast<const char*>(nul) - bytes.data());
    }
    size_t bad = find_invalid_utf8(bytes);
    if (bad != std::string_view::npos) {
        return invalid_argument("{}: invalid UTF-8 at byte {}", where, bad);
    }
    return ok_status();
}

std::string normalise_inline(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    bool non_ascii = false;
    size_t i = 0;
    while (i < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            ++i;
            if (c <= 0x20 || c == 0x7F) {
                pending_space = true;
                continue;
            }
            // A run of printable ASCII is copied at once.
            size_t end = i;
            while (end < text.size() && static_cast<unsigned char>(text[end]) > 0x20 &&
                   static_cast<unsigned char>(text[end]) < 0x7F) {
                ++end;
            }
            if (pending_space && !out.empty()) out += ' ';
            pending_space = false;
            out.append(text.data() + i - 1, end - i + 1);
            i = end;
            continue;
        }
        char32_t cp = 0;
        size_t len = decode(text, i, cp);
        if (is_unicode_space(cp)) {
            pending_space = true;
        } else if (!is_invisible(cp)) {
            if (pending_space && !out.empty()) out += ' ';
            pending_space = false;
            out.append(text.substr(i, len));
            non_ascii = true;
        }
        i += len;
    }
    return non_ascii ? to_nfc(std::move(out)) : out;
}

std::string normalise_code(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t line_start = 0;  // in `out`
    auto end_line = [&] {
        while (out.size() > line_start && out.back() == ' ') out.pop_back();
        out += '\n';
        line_start = out.size();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '\r') {
            end_line();
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else if (c == '\n') {
            end_line();
        } else if (c == '\t') {
            out += '\t';
        } else if (c < 0x20 || c == 0x7F) {
            out += ' ';
        } else {
            out += static_cast<char>(c);
        }
    }
    while (out.size() > line_start && out.back() == ' ') out.pop_back();
    // Blank lines at both ends.
    size_t first = 0;
    while (first < out.size()) {
        size_t eol = out.find('\n', first);
        if (eol == std::string::npos) break;
        if (out.find_first_not_of(" \t", first) < eol) break;
        first = eol + 1;
    }
    out.erase(0, first);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\t')) {
        out.pop_back();
    }
    return to_nfc(std::move(out));
}

std::string first_heading(const std::vector<Block>& blocks) {
    for (const Block& b : blocks) {
        if (b.kind == Block::Kind::kHeading) return b.text;
    }
    return {};
}

void add_block(std::vector<Block>& blocks, Block::Kind kind, int level, std::string_view raw) {
    std::string text = kind == Block::Kind::kCode ? normalise_code(raw) : normalise_inline(raw);
    if (text.empty()) return;
    blocks.push_back(Block{kind, level, std::move(text)});
}

Result<std::string> normalise_date(std::string_view value, std::string_view what) {
    auto bad = [&] {
        return invalid_argument("{} \"{}\" is not an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)",
                                what, value.substr(0, 64));
    };
    auto digits = [&](size_t at, size_t n, int& out) {
        if (at + n > value.size()) return false;
        out = 0;
        for (size_t k = at; k < at + n; ++k) {
            if (value[k] < '0' || value[k] > '9') return false;
            out = out * 10 + (value[k] - '0');
        }
        return true;
    };
    int year = 0, month = 0, day = 0;
    if (!digits(0, 4, year)) return bad();
    if (value.size() == 4) return std::string(value);
    if (value[4] != '-' || !digits(5, 2, month) || month < 1 || month > 12) return bad();
    if (value.size() == 7) return std::string(value);
    if (value[7] != '-' || !digits(8, 2, day) || !is_valid_date(year, month, day)) return bad();
    if (value.size() > 10 && value[10] != 'T' && value[10] != ' ') return bad();
    return std::string(value.substr(0, 10));
}

std::vector<std::string_view> split_paragraphs(std::string_view text) {
    std::vector<std::string_view> paragraphs;
    size_t start = std::string_view::npos;  // of the current paragraph
    size_t end = 0;                         // of its last non-blank line
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        bool blank = line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
        if (blank) {
            if (start != std::string_view::npos)
                paragraphs.push_back(text.substr(start, end - start));
            start = std::string_view::npos;
        } else {
            if (start == std::string_view::npos) start = pos;
            end = eol;
        }
        pos = eol + 1;
    }
    if (start != std::string_view::npos) paragraphs.push_back(text.substr(start, end - start));
    return paragraphs;
}

}  // namespace ward::knowledge::detail
