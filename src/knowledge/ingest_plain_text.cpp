// The plain-text reader: paragraphs split on blank lines, bulleted or numbered lines as list
// items, and two kinds of heading lines (docs/knowledge.md, "Ingestion"):
//   - an ALL-CAPS line (a paragraph of its own, or the first line of one): 3 to 80 bytes, at
//     most 10 words, at least 3 upper-case ASCII letters and no lower-case ones, no more digits
//     than letters, not ending in '.', ',' or ';' -> level 1;
//   - a one-line paragraph of at most 80 bytes and 10 words that ends with ':' -> level 2
//     (the colon dropped).
#include <algorithm>
#include <span>

#include "knowledge/ingest_internal.h"

namespace ward::knowledge::detail {
namespace {

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r\f\v");
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(" \t\r\f\v");
    return s.substr(b, e - b + 1);
}

size_t count_words(std::string_view s) {
    size_t words = 0;
    bool in_word = false;
    for (char c : s) {
        bool space = c == ' ' || c == '\t';
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return words;
}

bool is_caps_heading(std::string_view line) {
    if (line.size() < 3 || line.size() > 80 || count_words(line) > 10) return false;
    char last = line.back();
    if (last == '.' || last == ',' || last == ';') return false;
    size_t upper = 0, digits = 0;
    for (char c : line) {
        if (c >= 'a' && c <= 'z') return false;
        if (c >= 'A' && c <= 'Z') ++upper;
        if (c >= '0' && c <= '9') ++digits;
    }
    return upper >= 3 && digits <= upper;
}

bool is_colon_heading(std::string_view line) {
    return line.size() >= 2 && line.size() <= 80 && line.back() == ':' && count_words(line) <= 10;
}

// The length of a list marker ("- ", "* ", "+ ", "• ", "1. ", "1) ") at the start of `t`, or 0.
size_t bullet_length(std::string_view t) {
    if (t.size() >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && t[1] == ' ') return 2;
    if (t.substr(0, 4) == "\u2022 ") return 4;  // bullet
    size_t k = 0;
    while (k < t.size() && k < 3 && t[k] >= '0' && t[k] <= '9') ++k;
    if (k > 0 && k + 1 < t.size() && (t[k] == '.' || t[k] == ')') && t[k + 1] == ' ') {
        return k + 2;
    }
    return 0;
}

std::vector<std::string_view> split_lines(std::string_view paragraph) {
    std::vector<std::string_view> lines;
    size_t pos = 0;
    while (pos <= paragraph.size()) {
        size_t eol = paragraph.find('\n', pos);
        if (eol == std::string_view::npos) eol = paragraph.size();
        lines.push_back(paragraph.substr(pos, eol - pos));
        pos = eol + 1;
    }
    return lines;
}

// Lines of one paragraph (no heading among them): runs of lines become a paragraph, a line
// with a list marker starts a list item (nested by indentation, two spaces a level) that
// continues until the next marker.
void add_body(std::vector<Block>& blocks, std::span<const std::string_view> lines) {
    std::string text;
    Block::Kind kind = Block::Kind::kParagraph;
    int level = 0;
    for (std::string_view raw : lines) {
        size_t indent = raw.find_first_not_of(" \t");
        if (indent == std::string_view::npos) continue;
        std::string_view t = trim(raw);
        if (size_t marker = bullet_length(t)) {
            add_block(blocks, kind, level, text);
            text.assign(t.substr(marker));
            kind = Block::Kind::kListItem;
            level = static_cast<int>(std::min<size_t>(indent / 2, 8));
            continue;
        }
        if (!text.empty()) text += ' ';
        text += t;
    }
    add_block(blocks, kind, level, text);
}

}  // namespace

Result<Extracted> read_plain_text(std::string_view text, std::string_view /*where*/) {
    Extracted out;
    for (std::string_view paragraph : split_paragraphs(text)) {
        std::vector<std::string_view> lines = split_lines(paragraph);
        std::string_view first = trim(lines[0]);
        if (is_caps_heading(first) && bullet_length(first) == 0) {
            add_block(out.blocks, Block::Kind::kHeading, 1, first);
            lines.erase(lines.begin());
        } else if (lines.size() == 1 && is_colon_heading(first) && bullet_length(first) == 0) {
            first.remove_suffix(1);
            add_block(out.blocks, Block::Kind::kHeading, 2, first);
            continue;
        }
        add_body(out.blocks, lines);
    }
    out.title = first_heading(out.blocks);
    return out;
}

}  // namespace ward::knowledge::detail
