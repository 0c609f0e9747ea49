#include "safety/phrase_lexicon.h"

#include <algorithm>

namespace ward::safety {
namespace {

constexpr size_t kMaxSteps = 32;
constexpr uint32_t kMaxGap = 3;

enum class WordKind { kExact, kPrefix, kCase, kNumber, kNumberMany, kYear };

struct Word {
    WordKind kind = WordKind::kExact;
    std::string text;  // lower case for kExact/kPrefix, as written for kCase
};

// One alternative of a step: a sequence of words, or the end of the clause.
struct Alt {
    std::vector<Word> words;
    bool clause_end = false;
};

struct Step {
    bool gap = false;
    bool optional = false;
    char need_before = 0;  // '+' or '/' before the first word
    std::vector<Alt> alts;
};

struct Pattern {
    std::vector<Step> steps;
};

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

bool word_matches(const Word& w, const Token& t) {
    switch (w.kind) {
        case WordKind::kExact:
            return t.norm == w.text;
        case WordKind::kPrefix:
            return t.norm.size() >= w.text.size() && t.norm.compare(0, w.text.size(), w.text) == 0;
        case WordKind::kCase:
            return t.exact == w.text;
        case WordKind::kNumber:
            return all_digits(t.norm);
        case WordKind::kNumberMany:
            return all_digits(t.norm) && t.norm.size() <= 6 && std::stoi(t.norm) >= 10;
        case WordKind::kYear:
            return all_digits(t.norm) && t.norm.size() == 4 &&
                   (t.norm.compare(0, 2, "19") == 0 || t.norm.compare(0, 2, "20") == 0);
    }
    return false;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (true) {
        size_t j = s.find(sep, i);
        out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
        if (j == std::string_view::npos) break;
        i = j + 1;
    }
    return out;
}

std::string strip_apostrophes(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != '\'') out.push_back(c);
    }
    return out;
}

bool is_pattern_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'';
}

}  // namespace

struct PhraseLexicon::Compiled {
    std::unordered_map<std::string, std::vector<Alt>> sets;
    std::vector<Pattern> patterns;
    // Entries whose first step is a required word step of exact or case-sensitive words, by the
    // lower-case first word; every other entry is tried at every position.
    std::unordered_map<std::string, std::vector<uint32_t>> by_first_word;
    std::vector<uint32_t> unindexed;
};

PhraseLexicon::PhraseLexicon() : compiled_(std::make_unique<Compiled>()) {}
PhraseLexicon::~PhraseLexicon() = default;
PhraseLexicon::PhraseLexicon(PhraseLexicon&&) noexcept = default;
PhraseLexicon& PhraseLexicon::operator=(PhraseLexicon&&) noexcept = default;

namespace {

// Parses one alternative ("dont", "do_not", "kill*", "SI", "#many", "$"); `where` names it.
Result<Alt> parse_alt(std::string_view text, const std::string& where) {
    Alt alt;
    if (text == "$") {
        alt.clause_end = true;
        return alt;
    }
    for (std::string_view part : split(text, '_')) {
        Word w;
        if (part == "#") {
            w.kind = WordKind::kNumber;
        } else if (part == "#many") {
            w.kind = WordKind::kNumberMany;
        } else if (part == "#year") {
            w.kind = WordKind::kYear;
        } else {
            bool prefix = !part.empty() && part.back() == '*';
            if (prefix) part.remove_suffix(1);
            if (part.empty()) return invalid_argument("{}: empty word in \"{}\"", where, text);
            bool upper = false;
            for (char c : part) {
                if (!is_pattern_char(c)) {
                    return invalid_argument("{}: unexpected character '{}' in \"{}\"", where, c,
                                            text);
                }
                if (c >= 'A' && c <= 'Z') upper = true;
            }
            if (upper && prefix) {
                return invalid_argument("{}: a prefix (\"{}\") cannot be case-sensitive", where,
                                        text);
            }
            w.kind = prefix ? WordKind::kPrefix : upper ? WordKind::kCase : WordKind::kExact;
            w.text = strip_apostrophes(part);
        }
        alt.words.push_back(std::move(w));
    }
    return alt;
}

Result<std::vector<Alt>> parse_alts(std::string_view group, const std::string& where,
                                    const std::unordered_map<std::string, std::vector<Alt>>& sets) {
    std::vector<Alt> alts;
    for (std::string_view a : split(group, '|')) {
        if (a.empty()) return invalid_argument("{}: empty alternative in \"{}\"", where, group);
        if (a[0] == '@') {
            auto it = sets.find(std::string(a.substr(1)));
            if (it == sets.end()) return invalid_argument("{}: unknown set \"{}\"", where, a);
            alts.insert(alts.end(), it->second.begin(), it->second.end());
            continue;
        }
        WARD_ASSIGN_OR_RETURN(Alt alt, parse_alt(a, where));
        alts.push_back(std::move(alt));
    }
    return alts;
}

Result<Pattern> parse_pattern(std::string_view text, const std::string& where,
                              const std::unordered_map<std::string, std::vector<Alt>>& sets) {
    Pattern p;
    for (std::string_view tok : split(text, ' ')) {
        if (tok.empty()) continue;
        Step step;
        if (tok == "..") {
            step.gap = true;
            p.steps.push_back(std::move(step));
            continue;
        }
        if (tok.size() > 1 && tok.back() == '?') {
            step.optional = true;
            tok.remove_suffix(1);
        }
        if (tok.size() > 1 && (tok[0] == '+' || tok[0] == '/')) {
            step.need_before = tok[0];
            tok.remove_prefix(1);
        }
        WARD_ASSIGN_OR_RETURN(step.alts, parse_alts(tok, where, sets));
        p.steps.push_back(std::move(step));
    }
    if (p.steps.empty()) return invalid_argument("{}: empty pattern", where);
    if (p.steps.size() > kMaxSteps) {
        return invalid_argument("{}: pattern has {} steps (at most {})", where, p.steps.size(),
                                kMaxSteps);
    }
    const Step& first = p.steps.front();
    if (first.gap || first.optional) {
        return invalid_argument("{}: a pattern must start with a required word", where);
    }
    for (const Alt& a : first.alts) {
        if (a.clause_end) return invalid_argument("{}: a pattern cannot start with $", where);
    }
    if (p.steps.back().gap) return invalid_argument("{}: a pattern cannot end with ..", where);
    return p;
}

bool at_clause_end(const std::vector<Token>& toks, size_t pos) {
    return pos == toks.size() || (pos > 0 && toks[pos].clause != toks[pos - 1].clause);
}

// Matches steps[si..] at token `pos` of sentence ending at `limit`; returns the end token or -1.
// `gaps` collects the tokens consumed by ".." steps on the successful path.
long match_from(const Pattern& p, size_t si, size_t pos, size_t limit,
                const std::vector<Token>& toks, std::vector<uint32_t>& gaps) {
    if (si == p.steps.size()) return static_cast<long>(pos);
    const Step& step = p.steps[si];
    if (step.gap) {
        for (uint32_t k = 0; k <= kMaxGap && pos + k <= limit; ++k) {
            size_t mark = gaps.size();
            for (uint32_t g = 0; g < k; ++g) gaps.push_back(static_cast<uint32_t>(pos + g));
            long r = match_from(p, si + 1, pos + k, limit, toks, gaps);
            if (r >= 0) return r;
            gaps.resize(mark);
        }
        return -1;
    }
    for (const Alt& alt : step.alts) {
        if (alt.clause_end) {
            if (at_clause_end(toks, pos)) {
                long r = match_from(p, si + 1, pos, limit, toks, gaps);
                if (r >= 0) return r;
            }
            continue;
        }
        if (pos + alt.words.size() > limit) continue;
        if (step.need_before != 0 && toks[pos].before != step.need_before) continue;
        bool ok = true;
        for (size_t w = 0; w < alt.words.size() && ok; ++w) {
            ok = word_matches(alt.words[w], toks[pos + w]);
        }
        if (!ok) continue;
        long r = match_from(p, si + 1, pos + alt.words.size(), limit, toks, gaps);
        if (r >= 0) return r;
    }
    if (step.optional) return match_from(p, si + 1, pos, limit, toks, gaps);
    return -1;
}

}  // namespace

Result<PhraseLexicon> PhraseLexicon::parse(std::string_view text, std::string_view source) {
    PhraseLexicon lex;
    WARD_TRY(lex.add(text, source));
    return lex;
}

Status PhraseLexicon::add(std::string_view text, std::string_view source) {
    Compiled& c = *compiled_;
    size_t line_no = 0;
    for (std::string_view line : split(text, '\n')) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        std::string where = fmt::format("{} line {}", source, line_no);
        auto cols = split(line, '\t');
        if (cols.size() != 3) {
            return invalid_argument("{}: expected 3 tab-separated columns, found {}", where,
                                    cols.size());
        }
        if (cols[0] == "@set") {
            if (cols[1].empty()) return invalid_argument("{}: a set needs a name", where);
            WARD_ASSIGN_OR_RETURN(auto alts, parse_alts(cols[2], where, c.sets));
            c.sets[std::string(cols[1])] = std::move(alts);
            continue;
        }
        Entry e;
        std::string_view category = cols[0];
        if (category.size() > 6 && category.substr(category.size() - 6) == "/third") {
            e.third_party = true;
            category.remove_suffix(6);
        }
        if (category.empty()) return invalid_argument("{}: empty category", where);
        for (char ch : category) {
            if (!((ch >= 'a' && ch <= 'z') || ch == '_')) {
                return invalid_argument("{}: category \"{}\" is not lower_case_with_underscores",
                                        where, cols[0]);
            }
        }
        e.category = std::string(category);
        e.pattern = std::string(cols[1]);
        e.origin = std::string(cols[2]);
        e.line = line_no;
        WARD_ASSIGN_OR_RETURN(Pattern p, parse_pattern(cols[1], where, c.sets));
        auto index = static_cast<uint32_t>(entries_.size());
        bool indexable = true;
        for (const Alt& a : p.steps[0].alts) {
            WordKind k = a.words[0].kind;
            if (k != WordKind::kExact && k != WordKind::kCase) indexable = false;
        }
        if (indexable && p.steps[0].need_before == 0) {
            std::vector<std::string> keys;
            for (const Alt& a : p.steps[0].alts) {
                std::string key = a.words[0].text;
                for (char& ch : key) {
                    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
                }
                if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
            }
            for (auto& key : keys) c.by_first_word[key].push_back(index);
        } else {
            c.unindexed.push_back(index);
        }
        c.patterns.push_back(std::move(p));
        entries_.push_back(std::move(e));
    }
    return ok_status();
}

namespace {

// For each token i: the end (exclusive) of the sentence it is in. Matches never cross it.
std::vector<size_t> sentence_ends(const std::vector<Token>& toks) {
    std::vector<size_t> ends(toks.size());
    size_t end = toks.size();
    for (size_t i = toks.size(); i-- > 0;) {
        if (i + 1 < toks.size() && toks[i + 1].sentence != toks[i].sentence) end = i + 1;
        ends[i] = end;
    }
    return ends;
}

}  // namespace

std::vector<PhraseLexicon::Match> PhraseLexicon::find_all(const TokenizedText& text) const {
    const auto& toks = text.tokens;
    const Compiled& c = *compiled_;
    const std::vector<size_t> ends = sentence_ends(toks);
    std::vector<Match> out;
    std::vector<uint32_t> candidates;
    std::vector<uint32_t> gaps;
    for (size_t i = 0; i < toks.size(); ++i) {
        candidates.clear();
        if (auto it = c.by_first_word.find(toks[i].norm); it != c.by_first_word.end()) {
            candidates = it->second;
        }
        candidates.insert(candidates.end(), c.unindexed.begin(), c.unindexed.end());
        std::sort(candidates.begin(), candidates.end());
        for (uint32_t e : candidates) {
            gaps.clear();
            long end = match_from(c.patterns[e], 0, i, ends[i], toks, gaps);
            if (end < 0) continue;
            out.push_back(Match{.entry = e,
                                .first = static_cast<uint32_t>(i),
                                .last = static_cast<uint32_t>(end),
                                .gap_tokens = gaps});
        }
    }
    return out;
}

bool PhraseLexicon::matches(size_t index, const TokenizedText& text) const {
    const std::vector<size_t> ends = sentence_ends(text.tokens);
    std::vector<uint32_t> gaps;
    for (size_t i = 0; i < text.tokens.size(); ++i) {
        gaps.clear();
        if (match_from(compiled_->patterns[index], 0, i, ends[i], text.tokens, gaps) >= 0) {
            return true;
        }
    }
    return false;
}

}  // namespace ward::safety
