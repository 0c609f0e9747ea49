// The Markdown reader: CommonMark's block structure (ATX and setext headings, paragraphs,
// bullet and ordered lists with nesting, block quotes, fenced code, thematic breaks) plus GFM
// tables, with YAML front matter and HTML comments; inline markup is stripped to its text.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "knowledge/ingest_internal.h"

namespace ward::knowledge::detail {
namespace {

bool is_space_or_tab(char c) {
    return c == ' ' || c == '\t';
}
bool is_ascii_punct(char c) {
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}
bool is_ascii_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}
std::string_view trim(std::string_view s) {
    size_t b = 0;
    while (b < s.size() && is_space_or_tab(s[b])) ++b;
    size_t e = s.size();
    while (e > b && (is_space_or_tab(s[e - 1]) || s[e - 1] == '\r')) --e;
    return s.substr(b, e - b);
}

// Named character references worth decoding in prose; others stay as written.
struct NamedEntity {
    std::string_view name;
    std::string_view text;
};
constexpr std::array<NamedEntity, 20> kEntities = {{
    {"amp", "&"},         {"lt", "<"},         {"gt", ">"},         {"quot", "\""},
    {"apos", "'"},        {"nbsp", " "},       {"ndash", "\u2013"}, {"mdash", "\u2014"},
    {"hellip", "\u2026"}, {"copy", "\u00A9"},  {"reg", "\u00AE"},   {"deg", "\u00B0"},
    {"plusmn", "\u00B1"}, {"micro", "\u00B5"}, {"times", "\u00D7"}, {"middot", "\u00B7"},
    {"le", "\u2264"},     {"ge", "\u2265"},    {"rarr", "\u2192"},  {"larr", "\u2190"},
}};

// Decodes a character reference at s[i] == '&'; returns its length, or 0 when there is none.
size_t decode_entity(std::string_view s, size_t i, std::string& out) {
    size_t semi = s.substr(0, std::min(s.size(), i + 13)).find(';', i + 1);
    if (semi == std::string_view::npos || semi == i + 1) return 0;
    std::string_view body = s.substr(i + 1, semi - i - 1);
    if (body[0] == '#') {
        bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
        std::string_view digits = body.substr(hex ? 2 : 1);
        if (digits.empty() || digits.size() > 7) return 0;
        uint32_t cp = 0;
        for (char c : digits) {
            int v = is_ascii_digit(c)             ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
            if (v < 0) return 0;
            cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
        }
        append_utf8(out, cp);
        return semi - i + 1;
    }
    for (const auto& e : kEntities) {
        if (e.name == body) {
            out += e.text;
            return semi - i + 1;
        }
    }
    return 0;
}

// Length of an HTML tag (<name ...>, </name>, <name/>) at s[i] == '<', or 0.
size_t html_tag_length(std::string_view s, size_t i) {
    size_t j = i + 1;
    if (j < s.size() && s[j] == '/') ++j;
    if (j >= s.size() || !is_ascii_alpha(s[j])) return 0;
    while (j < s.size() && (is_ascii_alpha(s[j]) || is_ascii_digit(s[j]) || s[j] == '-')) ++j;
    if (j < s.size() && s[j] != '>' && s[j] != '/' && !is_space_or_tab(s[j]) && s[j] != '\n') {
        return 0;
    }
    size_t close = s.find_first_of("<>", j);
    if (close == std::string_view::npos || s[close] != '>') return 0;
    return close - i + 1;
}

// Length of an autolink <scheme:...> or <user@host> at s[i] == '<', or 0; `inner` is its text.
// The search stops at the first character an autolink cannot hold, so it is bounded by the
// next '<' and never rescans the rest of the text.
size_t autolink_length(std::string_view s, size_t i, std::string_view& inner) {
    size_t close = s.find_first_of(" \t\n<>", i + 1);
    if (close == std::string_view::npos || s[close] != '>') return 0;
    std::string_view body = s.substr(i + 1, close - i - 1);
    if (body.empty()) return 0;
    size_t colon = body.find(':');
    bool scheme = colon != std::string_view::npos && colon >= 2 && is_ascii_alpha(body[0]);
    bool email = body.find('@') != std::string_view::npos;
    if (!scheme && !email) return 0;
    inner = body;
    return close - i + 1;
}

// For every '[' and '(' of `s`, the index just past its matching bracket (0: none), found in
// one pass with a stack per bracket kind, so that links cost linear time whatever the input.
std::vector<uint32_t> match_brackets(std::string_view s) {
    std::vector<uint32_t> close(s.size(), 0);
    std::vector<uint32_t> squares, rounds;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\\') {
            ++i;
        } else if (c == '[') {
            squares.push_back(static_cast<uint32_t>(i));
        } else if (c == '(') {
            rounds.push_back(static_cast<uint32_t>(i));
        } else if (c == ']' && !squares.empty()) {
            close[squares.back()] = static_cast<uint32_t>(i + 1);
            squares.pop_back();
        } else if (c == ')' && !rounds.empty()) {
            close[rounds.back()] = static_cast<uint32_t>(i + 1);
            rounds.pop_back();
        }
    }
    return close;
}

// Whether a run of emphasis characters s[b, e) is a delimiter (CommonMark's flanking rules):
// '*' and '~~' when left- or right-flanking; '_' only at a word boundary, so snake_case stays.
bool is_emphasis_delimiter(std::string_view s, size_t b, size_t e) {
    char before = b == 0 ? ' ' : s[b - 1];
    char after = e >= s.size() ? ' ' : s[e];
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
    bool left = !ws(after) && (!is_ascii_punct(after) || ws(before) || is_ascii_punct(before));
    bool right = !ws(before) && (!is_ascii_punct(before) || ws(after) || is_ascii_punct(after));
    if (s[b] == '_') {
        return (left && (!right || is_ascii_punct(before))) ||
               (right && (!left || is_ascii_punct(after)));
    }
    return left || right;
}

bool breaks_line(std::string_view tag) {
    static constexpr std::array<std::string_view, 13> kBreaking = {
        "br", "p", "div", "li", "tr", "td", "th", "hr", "h1", "h2", "h3", "h4", "h5"};
    std::string lower(tag);
    for (char& ch : lower) {
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    return lower == "h6" || std::find(kBreaking.begin(), kBreaking.end(), lower) != kBreaking.end();
}

// Inline markup to text: emphasis, strikethrough, code spans, links and images (their text),
// autolinks (their address), HTML tags (dropped), backslash escapes and character references.
// Linear in the text: brackets are matched once up front and a code-span opener whose length
// found no closer is not searched for again.
class InlineStripper {
  public:
    explicit InlineStripper(std::string_view s) : s_(s), close_(match_brackets(s)) {
        out_.reserve(s.size());
    }
    std::string run() {
        strip(0, s_.size(), 0);
        return std::move(out_);
    }

  private:
    void strip(size_t begin, size_t end, int depth) {
        std::string_view s = s_.substr(0, end);
        size_t i = begin;
        while (i < end) {
            char c = s[i];
            if (c == '\\' && i + 1 < end && is_ascii_punct(s[i + 1])) {
                out_ += s[i + 1];
                i += 2;
            } else if (c == '`') {
                i = code_span(s, i);
            } else if ((c == '[' || (c == '!' && i + 1 < end && s[i + 1] == '[')) && depth < 8) {
                size_t open = c == '!' ? i + 1 : i;
                size_t text_end = close_[open];
                if (text_end != 0 && text_end < end && (s[text_end] == '(' || s[text_end] == '[')) {
                    size_t target_end = close_[text_end];
                    if (target_end != 0 && target_end <= end) {
                        strip(open + 1, text_end - 1, depth + 1);
                        i = target_end;
                        continue;
                    }
                }
                out_ += c;
                ++i;
            } else if (c == '<') {
                std::string_view inner;
                if (size_t n = autolink_length(s, i, inner)) {
                    out_ += inner;
                    i += n;
                } else if (size_t tag = html_tag_length(s, i)) {
                    // Tags that break a line leave a space; inline ones (<b>, <span>) nothing.
                    std::string_view name = s.substr(i + 1, tag - 1);
                    if (!name.empty() && name[0] == '/') name.remove_prefix(1);
                    size_t name_end = 0;
                    while (name_end < name.size() &&
                           (is_ascii_alpha(name[name_end]) || is_ascii_digit(name[name_end]))) {
                        ++name_end;
                    }
                    if (breaks_line(name.substr(0, name_end))) out_ += ' ';
                    i += tag;
                } else {
                    out_ += c;
                    ++i;
                }
            } else if (c == '&') {
                if (size_t n = decode_entity(s, i, out_)) {
                    i += n;
                } else {
                    out_ += c;
                    ++i;
                }
            } else if (c == '*' || c == '_' || c == '~') {
                size_t run = s.find_first_not_of(c, i);
                if (run == std::string_view::npos) run = end;
                bool delimiter = (c != '~' || run - i >= 2) && is_emphasis_delimiter(s, i, run);
                if (!delimiter) out_ += s.substr(i, run - i);
                i = run;
            } else {
                out_ += c;
                ++i;
            }
        }
    }

    // A code span opening at s[i]: its content is kept as written. Returns where to go on.
    size_t code_span(std::string_view s, size_t i) {
        size_t run = s.find_first_not_of('`', i);
        if (run == std::string_view::npos) run = s.size();
        std::string_view fence = s.substr(i, run - i);
        size_t close = std::string_view::npos;
        if (fence.size() >= unclosed_.size() || !unclosed_[fence.size()]) {
            close = run;
            while (true) {
                close = s.find(fence, close);
                if (close == std::string_view::npos) break;
                size_t close_end = close + fence.size();
                if (close_end >= s.size() || s[close_end] != '`') break;
                close = s.find_first_not_of('`', close_end);
                if (close == std::string_view::npos) break;
            }
        }
        if (close == std::string_view::npos) {
            // No closer of this length up to the end of the text: later openers of it are
            // literal too. (Inside a link's text the search ends early and proves less.)
            if (s.size() == s_.size()) {
                if (fence.size() >= unclosed_.size()) unclosed_.resize(fence.size() + 1, false);
                unclosed_[fence.size()] = true;
            }
            out_ += fence;
            return run;
        }
        out_ += s.substr(run, close - run);
        return close + fence.size();
    }

    std::string_view s_;
    std::vector<uint32_t> close_;
    std::vector<bool> unclosed_;  // by opener length
    std::string out_;
};

std::string strip_inline(std::string_view s) {
    return InlineStripper(s).run();
}

// One input line after its block-quote markers.
struct Line {
    int quote_depth = 0;
    std::string_view content;
};

Line strip_quotes(std::string_view raw) {
    Line line;
    std::string_view s = raw;
    while (true) {
        size_t k = 0;
        while (k < s.size() && k < 3 && s[k] == ' ') ++k;
        if (k < s.size() && s[k] == '>') {
            ++line.quote_depth;
            s.remove_prefix(k + 1);
            if (!s.empty() && (s[0] == ' ' || s[0] == '\t')) s.remove_prefix(1);
        } else {
            break;
        }
    }
    line.content = s;
    return line;
}

// Leading indentation in columns (a tab is 4) and the offset of the first other character.
std::pair<int, size_t> indentation(std::string_view s) {
    int cols = 0;
    size_t k = 0;
    while (k < s.size() && is_space_or_tab(s[k])) {
        cols += s[k] == '\t' ? 4 - cols % 4 : 1;
        ++k;
    }
    return {cols, k};
}

bool is_thematic_break(std::string_view t) {
    if (t.empty() || (t[0] != '-' && t[0] != '*' && t[0] != '_')) return false;
    int n = 0;
    for (char c : t) {
        if (c == t[0]) {
            ++n;
        } else if (!is_space_or_tab(c)) {
            return false;
        }
    }
    return n >= 3;
}

// 1 or 2 for a setext underline ("===" or "---"), else 0.
int setext_level(std::string_view t) {
    if (t.empty() || (t[0] != '=' && t[0] != '-')) return 0;
    if (t.find_first_not_of(t[0]) != std::string_view::npos) return 0;
    return t[0] == '=' ? 1 : 2;
}

// Cells of a table row: split on '|' not escaped and not in a code span; outer pipes dropped.
std::vector<std::string_view> split_row(std::string_view t) {
    std::vector<std::string_view> cells;
    t = trim(t);
    if (!t.empty() && t[0] == '|') t.remove_prefix(1);
    if (!t.empty() && t.back() == '|' && (t.size() < 2 || t[t.size() - 2] != '\\')) {
        t.remove_suffix(1);
    }
    size_t start = 0;
    bool code = false;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '\\') {
            ++i;
        } else if (t[i] == '`') {
            code = !code;
        } else if (t[i] == '|' && !code) {
            cells.push_back(trim(t.substr(start, i - start)));
            start = i + 1;
        }
    }
    cells.push_back(trim(t.substr(start)));
    return cells;
}

bool is_delimiter_row(std::string_view t, size_t n_header_cells) {
    if (t.find('-') == std::string_view::npos) return false;
    auto cells = split_row(t);
    if (cells.size() != n_header_cells) return false;
    for (std::string_view cell : cells) {
        if (cell.empty()) return false;
        size_t b = cell[0] == ':' ? 1 : 0;
        size_t e = cell.size() - (cell.size() > b && cell.back() == ':' ? 1 : 0);
        if (e <= b) return false;
        for (size_t k = b; k < e; ++k) {
            if (cell[k] != '-') return false;
        }
    }
    return true;
}

struct ListMarker {
    size_t length = 0;  // marker plus the spaces after it
    bool ordered = false;
    bool starts_at_one = false;
};

std::optional<ListMarker> list_marker(std::string_view t) {
    if (t.empty()) return std::nullopt;
    size_t k = 0;
    ListMarker m;
    if (t[0] == '-' || t[0] == '*' || t[0] == '+') {
        k = 1;
    } else {
        while (k < t.size() && k < 9 && is_ascii_digit(t[k])) ++k;
        if (k == 0 || k >= t.size() || (t[k] != '.' && t[k] != ')')) return std::nullopt;
        m.ordered = true;
        m.starts_at_one = t.substr(0, k) == "1";
        ++k;
    }
    if (k < t.size() && !is_space_or_tab(t[k])) return std::nullopt;
    size_t spaces = 0;
    while (k + spaces < t.size() && is_space_or_tab(t[k + spaces])) ++spaces;
    if (spaces == 0 || spaces > 4 || k + spaces == t.size()) spaces = std::min<size_t>(spaces, 1);
    m.length = k + spaces;
    return m;
}

std::string unquote(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'') && v.back() == v[0]) {
        v = v.substr(1, v.size() - 2);
    }
    return normalise_inline(v);
}

class MarkdownReader {
  public:
    MarkdownReader(std::string_view text, std::string_view where) : where_(where) {
        size_t pos = 0;
        while (pos < text.size()) {
            size_t eol = text.find('\n', pos);
            if (eol == std::string_view::npos) eol = text.size();
            std::string_view line = text.substr(pos, eol - pos);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            lines_.push_back(line);
            pos = eol + 1;
        }
    }

    Result<Extracted> read() {
        size_t first = 0;
        WARD_ASSIGN_OR_RETURN(first, front_matter());
        for (size_t i = first; i < lines_.size(); ++i) i = line(i);
        if (in_fence_) end_fence();
        flush();
        out_.blocks = std::move(blocks_);
        if (out_.title.empty()) out_.title = first_heading(out_.blocks);
        return std::move(out_);
    }

  private:
    // YAML front matter between "---" lines at the very top: title, date, licence/license,
    // source, url. Returns the first body line.
    Result<size_t> front_matter() {
        if (lines_.empty() || trim(lines_[0]) != "---") return size_t{0};
        size_t end = 1;
        while (end < lines_.size() && trim(lines_[end]) != "---" && trim(lines_[end]) != "...") {
            ++end;
        }
        if (end == lines_.size()) return size_t{0};  // no closing line: a thematic break
        for (size_t i = 1; i < end; ++i) {
            std::string_view l = lines_[i];
            size_t colon = l.find(':');
            if (colon == std::string_view::npos || l.empty() || is_space_or_tab(l[0])) continue;
            std::string key(trim(l.substr(0, colon)));
            std::transform(key.begin(), key.end(), key.begin(),
                           [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
            std::string value = unquote(l.substr(colon + 1));
            if (value.empty()) continue;
            if (key == "title") {
                out_.title = value;
            } else if (key == "date") {
                auto date = normalise_date(value, "front matter date");
                if (!date) return date.error().with_context(where_);
                out_.published = *date;
            } else if (key == "licence" || key == "license") {
                out_.licence = value;
            } else if (key == "source") {
                out_.source = value;
            } else if (key == "url") {
                out_.location = value;
            }
        }
        return end + 1;
    }

    void flush() {
        if (para_.empty()) return;
        add_block(blocks_, para_kind_, para_level_, strip_inline(para_));
        para_.clear();
        para_kind_ = Block::Kind::kParagraph;
        para_level_ = 0;
    }

    void end_fence() {
        add_block(blocks_, Block::Kind::kCode, 0, code_);
        code_.clear();
        in_fence_ = false;
    }

    // Removes HTML comments from `content` across lines; false when nothing of the line is left
    // to read (it was all comment).
    bool drop_comments(std::string_view content, std::string& kept) {
        kept.clear();
        size_t i = 0;
        bool had_text = content.find_first_not_of(" \t") != std::string_view::npos;
        while (i < content.size()) {
            if (in_comment_) {
                size_t close = content.find("-->", i);
                if (close == std::string_view::npos) return !trim(kept).empty();
                in_comment_ = false;
                i = close + 3;
                continue;
            }
            size_t open = content.find("<!--", i);
            if (open == std::string_view::npos) {
                kept += content.substr(i);
                break;
            }
            kept += content.substr(i, open - i);
            in_comment_ = true;
            i = open + 4;
        }
        return !had_text || !trim(kept).empty();
    }

    // Handles line i; returns the last line consumed.
    size_t line(size_t i) {
        Line l = strip_quotes(lines_[i]);
        if (in_fence_) {
            auto [cols, off] = indentation(l.content);
            std::string_view t = trim(l.content.substr(off));
            if (cols < 4 && t.size() >= fence_length_ &&
                t.find_first_not_of(fence_char_) == std::string_view::npos) {
                end_fence();
                return i;
            }
            // Content lines lose up to the fence's own indentation.
            size_t drop = 0;
            while (drop < l.content.size() && drop < fence_indent_ && l.content[drop] == ' ') {
                ++drop;
            }
            code_ += l.content.substr(drop);
            code_ += '\n';
            return i;
        }
        std::string kept;
        if (!drop_comments(l.content, kept)) return i;
        std::string_view content = kept;

        if (l.quote_depth != quote_depth_) {
            flush();
            quote_depth_ = l.quote_depth;
        }
        auto [cols, off] = indentation(content);
        std::string_view t = trim(content.substr(off));
        if (t.empty()) {
            flush();
            return i;
        }
        int list_column = list_stack_.empty() ? 0 : list_stack_.back();

        // Fenced code.
        if (cols < 4 + list_column && t.size() >= 3 && (t[0] == '`' || t[0] == '~')) {
            size_t run = t.find_first_not_of(t[0]);
            if (run == std::string_view::npos) run = t.size();
            if (run >= 3 && (t[0] == '~' || t.find('`', run) == std::string_view::npos)) {
                flush();
                in_fence_ = true;
                fence_char_ = t[0];
                fence_length_ = run;
                fence_indent_ = static_cast<size_t>(cols);
                return i;
            }
        }
        // ATX heading.
        if (cols < 4 && t[0] == '#') {
            size_t hashes = t.find_first_not_of('#');
            if (hashes == std::string_view::npos) hashes = t.size();
            if (hashes <= 6 && (hashes == t.size() || is_space_or_tab(t[hashes]))) {
                flush();
                std::string_view text = trim(t.substr(hashes));
                size_t closing = text.find_last_not_of('#');
                if (closing == std::string_view::npos) {
                    text = {};
                } else if (closing + 1 < text.size() && is_space_or_tab(text[closing])) {
                    text = trim(text.substr(0, closing + 1));
                }
                add_block(blocks_, Block::Kind::kHeading, static_cast<int>(hashes),
                          strip_inline(text));
                list_stack_.clear();
                return i;
            }
        }
        // Setext heading underline.
        if (cols < 4 && !para_.empty() && para_kind_ == Block::Kind::kParagraph) {
            if (int level = setext_level(t)) {
                add_block(blocks_, Block::Kind::kHeading, level, strip_inline(para_));
                para_.clear();
                list_stack_.clear();
                return i;
            }
        }
        if (cols < 4 && is_thematic_break(t)) {
            flush();
            return i;
        }
        // GFM table: a row with pipes followed by a delimiter row.
        if (t.find('|') != std::string_view::npos && i + 1 < lines_.size()) {
            Line next = strip_quotes(lines_[i + 1]);
            auto header = split_row(t);
            if (next.quote_depth == l.quote_depth &&
                is_delimiter_row(trim(next.content), header.size())) {
                flush();
                table_row(header);
                size_t j = i + 2;
                for (; j < lines_.size(); ++j) {
                    Line row = strip_quotes(lines_[j]);
                    std::string_view rt = trim(row.content);
                    if (row.quote_depth != l.quote_depth || rt.empty() ||
                        rt.find('|') == std::string_view::npos) {
                        break;
                    }
                    table_row(split_row(rt));
                }
                return j - 1;
            }
        }
        // Link reference definitions carry no text.
        if (para_.empty() && cols < 4 && t[0] == '[') {
            size_t close = t.find("]:");
            if (close != std::string_view::npos && close > 1) return i;
        }
        // List item.
        if (auto marker = list_marker(t)) {
            bool interrupts = !para_.empty() && para_kind_ == Block::Kind::kParagraph;
            if (!interrupts || !marker->ordered || marker->starts_at_one) {
                flush();
                while (!list_stack_.empty() && cols < list_stack_.back()) list_stack_.pop_back();
                para_kind_ = Block::Kind::kListItem;
                para_level_ = static_cast<int>(list_stack_.size());
                list_stack_.push_back(cols + static_cast<int>(marker->length));
                para_ = std::string(t.substr(marker->length));
                if (para_.empty()) para_ = " ";  // an empty item may continue on the next line
                return i;
            }
        }
        // Paragraph text: a continuation, or a new paragraph (inside a list item when indented
        // to its content).
        if (para_.empty()) {
            while (!list_stack_.empty() && cols < list_stack_.back()) list_stack_.pop_back();
            para_kind_ = list_stack_.empty() ? Block::Kind::kParagraph : Block::Kind::kListItem;
            para_level_ = list_stack_.empty() ? 0 : static_cast<int>(list_stack_.size()) - 1;
            para_ = std::string(t);
        } else {
            para_ += '\n';
            para_ += t;
        }
        return i;
    }

    void table_row(const std::vector<std::string_view>& cells) {
        std::string row;
        for (size_t k = 0; k < cells.size(); ++k) {
            if (k) row += " | ";
            row += normalise_inline(strip_inline(cells[k]));
        }
        if (row.find_first_not_of(" |") == std::string::npos) return;
        add_block(blocks_, Block::Kind::kTable, 0, row);
    }

    std::string_view where_;
    std::vector<std::string_view> lines_;
    Extracted out_;
    std::vector<Block> blocks_;
    std::string para_;
    Block::Kind para_kind_ = Block::Kind::kParagraph;
    int para_level_ = 0;
    std::vector<int> list_stack_;  // content columns of the open list items
    int quote_depth_ = 0;
    bool in_comment_ = false;
    bool in_fence_ = false;
    char fence_char_ = '`';
    size_t fence_length_ = 3;
    size_t fence_indent_ = 0;
    std::string code_;
};

}  // namespace

Result<Extracted> read_markdown(std::string_view text, std::string_view where) {
    return MarkdownReader(text, where).read();
}

}  // namespace ward::knowledge::detail
