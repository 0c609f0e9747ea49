#include "safety/pattern_set.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ward::safety {

namespace {

// Backtracking steps allowed per match attempt: far above what the written patterns need on
// ordinary text, low enough that hostile input cannot stall a rail.
constexpr uint32_t kMatchLimit = 200000;
constexpr uint32_t kDepthLimit = 10000;

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

struct MatchContextDeleter {
    void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};

pcre2_match_context* shared_match_context() {
    // Read-only during matching, so one context serves every thread.
    static const std::unique_ptr<pcre2_match_context, MatchContextDeleter> ctx = [] {
        pcre2_match_context* c = pcre2_match_context_create(nullptr);
        if (c != nullptr) {
            pcre2_set_match_limit(c, kMatchLimit);
            pcre2_set_depth_limit(c, kDepthLimit);
        }
        return std::unique_ptr<pcre2_match_context, MatchContextDeleter>(c);
    }();
    return ctx.get();
}

struct MatchDataDeleter {
    void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};

}  // namespace

struct PatternSet::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

Status PatternSet::define_set(std::string_view name, std::string_view alternatives,
                              std::string_view where) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_word_char)) {
        return invalid_argument("{}: set name \"{}\" must be letters, digits or _", where, name);
    }
    if (alternatives.empty()) return invalid_argument("{}: set @{} is empty", where, name);
    if (sets_.count(name) != 0) return invalid_argument("{}: set @{} defined twice", where, name);
    sets_.emplace(std::string(name), "(?:" + std::string(alternatives) + ")");
    return ok_status();
}

Status PatternSet::add(std::string rule, double weight, std::string_view pattern,
                       std::string example, std::string where) {
    if (rule.empty()) return invalid_argument("{}: empty rule name", where);
    if (!(weight > 0 && weight <= 1)) {
        return invalid_argument("{}: weight {} is outside (0, 1]", where, weight);
    }
    if (pattern.empty()) return invalid_argument("{}: empty pattern", where);
    // Rewrite: spaces outside character classes match whitespace runs; @set expands.
    std::string regex;
    bool in_class = false;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            regex += c;
            regex += pattern[++i];
            continue;
        }
        if (in_class) {
            if (c == ']') in_class = false;
            regex += c;
        } else if (c == '[') {
            in_class = true;
            regex += c;
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') regex += pattern[++i];
        } else if (c == ' ') {
            while (i + 1 < pattern.size() && pattern[i + 1] == ' ') ++i;
            if (i + 1 < pattern.size() && pattern[i + 1] == '?') {  // " ?": optional whitespace
                ++i;
                regex += "\\s*";
            } else {
                regex += "\\s+";
            }
        } else if (c == '@') {
            size_t j = i + 1;
            while (j < pattern.size() && is_word_char(pattern[j])) ++j;
            std::string_view name = pattern.substr(i + 1, j - i - 1);
            auto it = sets_.find(name);
            if (name.empty() || it == sets_.end()) {
                return invalid_argument("{}: unknown set @{} in pattern", where, name);
            }
            regex += it->second;
            i = j - 1;
        } else {
            regex += c;
        }
    }
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto compiled = std::make_shared<Compiled>();
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(),
                                   PCRE2_CASELESS | PCRE2_MULTILINE, &error, &offset, nullptr);
    if (compiled->code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        return invalid_argument("{}: pattern \"{}\" does not compile at offset {}: {}", where,
                                pattern, offset, reinterpret_cast<const char*>(message));
    }
    // JIT is an optimisation: when the platform has none, the interpreter runs instead.
    (void)pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);
    patterns_.push_back(
        {std::move(rule), weight, std::string(pattern), std::move(example), std::move(where)});
    compiled_.push_back(std::move(compiled));
    const Pattern& p = patterns_.back();
    if (!p.example.empty()) {
        // Only the new pattern: the example must match it, whatever the others do.
        std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
            pcre2_match_data_create(1, nullptr));
        int rc = data ? pcre2_match(compiled_.back()->code,
                                    reinterpret_cast<PCRE2_SPTR>(p.example.data()),
                                    p.example.size(), 0, 0, data.get(), shared_match_context())
                      : PCRE2_ERROR_NOMEMORY;
        if (rc < 0) {
            Status s = invalid_argument("{}: pattern \"{}\" does not match its example \"{}\"",
                                        p.where, p.source, p.example);
            patterns_.pop_back();
            compiled_.pop_back();
            return s;
        }
    }
    return ok_status();
}

Status PatternSet::add_text(std::string_view text, std::string_view source) {
    size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        std::vector<std::string_view> fields;
        size_t f = 0;
        while (true) {
            size_t t = line.find('\t', f);
            fields.push_back(line.substr(f, t == std::string_view::npos ? t : t - f));
            if (t == std::string_view::npos) break;
            f = t + 1;
        }
        std::string where = fmt::format("{} line {}", source, line_no);
        if (fields[0] == "@set") {
            if (fields.size() != 3) {
                return invalid_argument("{}: a set line has 3 fields (@set, name, a|b|c), not {}",
                                        where, fields.size());
            }
            WARD_TRY(define_set(fields[1], fields[2], where));
            continue;
        }
        if (fields.size() != 4) {
            return invalid_argument(
                "{}: a pattern line has 4 tab-separated fields (rule, weight, pattern, example), "
                "not {}",
                where, fields.size());
        }
        double weight = 0;
        auto [ptr, ec] =
            std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), weight);
        if (ec != std::errc() || ptr != fields[1].data() + fields[1].size()) {
            return invalid_argument("{}: weight \"{}\" is not a number", where, fields[1]);
        }
        if (fields[3].empty()) return invalid_argument("{}: the example is empty", where);
        WARD_TRY(add(std::string(fields[0]), weight, fields[2], std::string(fields[3]), where));
    }
    return ok_status();
}

std::vector<PatternSet::Match> PatternSet::find_all(std::string_view text, bool* incomplete) const {
    std::vector<Match> out;
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(pcre2_match_data_create(1, nullptr));
    if (!data) {
        if (incomplete != nullptr) *incomplete = true;
        return out;
    }
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    for (size_t p = 0; p < compiled_.size(); ++p) {
        size_t start = 0;
        while (start <= text.size()) {
            int rc = pcre2_match(compiled_[p]->code, subject, text.size(), start, 0, data.get(),
                                 shared_match_context());
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {  // match or depth limit: give up on this pattern for this text
                if (incomplete != nullptr) *incomplete = true;
                break;
            }
            PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
            size_t b = ov[0], e = ov[1];
            if (e > b) out.push_back({p, b, e});
            start = e > b ? e : e + 1;
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const Match& a, const Match& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.pattern < b.pattern;
    });
    return out;
}

}  // namespace ward::safety
