#include "knowledge/normalize.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <unordered_set>

#include <utf8proc.h>

namespace ward::knowledge {
namespace data {
extern const std::string_view kAbbreviations;  // generated from data/abbreviations.tsv
}

namespace {

// English function words and question words: they carry no topic, and in an OR query every
// one of them would pull in most of the store. Negations ("no", "not") are listed too: BM25
// cannot use them, and "not" matches nearly every abstract. Kept short on purpose: clinical
// words ("patients", "treatment", "risk") stay, because BM25's IDF already weighs them down
// and in a clinical question they can be the point.
constexpr std::array kStopwords = {
    // articles, conjunctions, prepositions
    "a", "an", "the", "and", "or", "but", "nor", "so", "yet", "of", "in", "on", "at", "to", "for",
    "from", "by", "with", "without", "about", "as", "into", "onto", "over", "under", "than", "then",
    "there", "here", "via", "per", "vs", "versus", "between", "among", "within", "upon", "during",
    "after", "before", "through", "against",
    // pronouns and determiners
    "i", "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its",
    "they", "them", "their", "this", "that", "these", "those", "such", "any", "some", "each",
    "every", "all", "both", "either", "neither", "other", "another", "same", "own",
    // auxiliaries and copulas
    "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "done",
    "have", "has", "had", "having", "can", "could", "should", "would", "will", "shall", "may",
    "might", "must",
    // question words
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "whether", "if",
    // negations and fillers
    "no", "not", "also", "only", "just", "very", "more", "most", "less", "much", "many", "too",
    "well"};

bool is_word_category(utf8proc_category_t category) {
    switch (category) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
        case UTF8PROC_CATEGORY_CO:
        // With remove_diacritics, unicode61 keeps combining marks inside words ("x\u0301y" is
        // one word), so they do not separate here either.
        case UTF8PROC_CATEGORY_MN:
            return true;
        default:
            return false;
    }
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\r' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\r' || s[e - 1] == '\t')) --e;
    return std::string(s.substr(b, e - b));
}

std::string join_words(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

}  // namespace

std::vector<std::string> tokenize_query(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    auto flush = [&] {
        if (!word.empty() && word.size() <= kMaxTokenBytes) words.push_back(word);
        word.clear();
    };
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    size_t i = 0;
    while (i < text.size()) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t n =
            utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
        if (n <= 0 || cp < 0) {  // an invalid byte: a separator, skip one byte
            flush();
            ++i;
            continue;
        }
        i += static_cast<size_t>(n);
        if (!is_word_category(utf8proc_category(cp))) {
            flush();
            continue;
        }
        utf8proc_uint8_t buf[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), buf);
        word.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(m));
    }
    flush();
    return words;
}

bool is_stopword(std::string_view word) {
    static const std::unordered_set<std::string_view> set(kStopwords.begin(), kStopwords.end());
    return set.contains(word);
}

size_t AbbreviationTable::Hash::operator()(const std::vector<std::string>& words) const {
    size_t h = 0;
    for (const auto& w : words) h = h * 1000003u ^ std::hash<std::string>()(w);
    return h;
}

Result<AbbreviationTable> AbbreviationTable::parse(std::string_view tsv) {
    AbbreviationTable table;
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < tsv.size()) {
        size_t end = tsv.find('\n', pos);
        if (end == std::string_view::npos) end = tsv.size();
        std::string_view line = tsv.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        std::string trimmed = trim(line);
        if (trimmed.empty() || trimmed[0] == '#') continue;
        size_t tab = trimmed.find('\t');
        if (tab == std::string::npos || trimmed.find('\t', tab + 1) != std::string::npos) {
            return invalid_argument(
                "knowledge: abbreviation table line {}: expected abbreviation<TAB>expansion",
                line_no);
        }
        auto abbreviation = tokenize_query(trim(trimmed.substr(0, tab)));
        auto expansion = tokenize_query(trim(trimmed.substr(tab + 1)));
        if (abbreviation.empty() || expansion.empty()) {
            return invalid_argument("knowledge: abbreviation table line {}: an empty side",
                                    line_no);
        }
        if (abbreviation.size() == 1 && is_stopword(abbreviation[0])) {
            return invalid_argument(
                "knowledge: abbreviation table line {}: \"{}\" is a stopword and would expand in "
                "every question",
                line_no, abbreviation[0]);
        }
        if (abbreviation.size() > 8 || expansion.size() > 8) {
            return invalid_argument("knowledge: abbreviation table line {}: more than 8 words",
                                    line_no);
        }
        auto add_unique = [](std::vector<std::vector<std::string>>& list,
                             const std::vector<std::string>& words) {
            if (std::find(list.begin(), list.end(), words) == list.end()) list.push_back(words);
        };
        add_unique(table.by_abbreviation_[abbreviation], expansion);
        add_unique(table.by_expansion_[expansion], abbreviation);
        table.max_words_ = std::max({table.max_words_, abbreviation.size(), expansion.size()});
        ++table.n_rows_;
    }
    return table;
}

const AbbreviationTable& AbbreviationTable::builtin() {
    static const AbbreviationTable table = [] {
        auto parsed = parse(data::kAbbreviations);
        if (!parsed) std::abort();  // the compiled-in table is checked by normalize_test
        return std::move(parsed).value();
    }();
    return table;
}

const std::vector<std::vector<std::string>>& AbbreviationTable::expansions(
    const std::vector<std::string>& abbreviation) const {
    static const std::vector<std::vector<std::string>> kNone;
    auto it = by_abbreviation_.find(abbreviation);
    return it == by_abbreviation_.end() ? kNone : it->second;
}

const std::vector<std::vector<std::string>>& AbbreviationTable::abbreviations(
    const std::vector<std::string>& expansion) const {
    static const std::vector<std::vector<std::string>> kNone;
    auto it = by_expansion_.find(expansion);
    return it == by_expansion_.end() ? kNone : it->second;
}

std::string quote_fts5(const std::vector<std::string>& words) {
    std::string out = "\"";
    for (size_t i = 0; i < words.size(); ++i) {
        if (i) out += ' ';
        for (char c : words[i]) {
            if (c == '"') out += '"';
            out += c;
        }
    }
    out += '"';
    return out;
}

std::vector<Term> query_terms(std::string_view text, const AbbreviationTable& table) {
    std::vector<std::string> words = tokenize_query(text);
    std::vector<Term> terms;
    if (words.empty()) return terms;
    std::unordered_set<std::string> seen;
    auto add_term = [&](const std::vector<std::string>& phrase) {
        if (terms.size() >= kMaxQueryTerms) return;
        std::string key = join_words(phrase);
        if (seen.insert(key).second) terms.push_back(phrase);
    };

    for (size_t i = 0; i < words.size() && terms.size() < kMaxQueryTerms;) {
        // The longest abbreviation or expansion starting here wins ("st elevation myocardial
        // infarction" before "myocardial infarction").
        size_t matched = 0;
        for (size_t len = std::min(table.max_words(), words.size() - i); len > 0; --len) {
            std::vector<std::string> span(words.begin() + static_cast<ptrdiff_t>(i),
                                          words.begin() + static_cast<ptrdiff_t>(i + len));
            const auto& expansions = table.expansions(span);
            const auto& abbreviations = table.abbreviations(span);
            if (expansions.empty() && abbreviations.empty()) continue;
            add_term(span);
            for (const auto& e : expansions) add_term(e);
            for (const auto& a : abbreviations) add_term(a);
            // The phrase's own words count too, so a passage that words it differently
            // ("infarction of the myocardium") still matches.
            if (len > 1) {
                for (const auto& w : span) {
                    if (!is_stopword(w)) add_term({w});
                }
            }
            matched = len;
            break;
        }
        if (matched) {
            i += matched;
            continue;
        }
        if (!is_stopword(words[i])) add_term({words[i]});
        ++i;
    }
    if (terms.empty()) {  // only stopwords: search for them rather than for nothing
        for (const auto& w : words) add_term({w});
    }
    return terms;
}

std::string match_expression(const std::vector<Term>& terms) {
    std::string expression;
    for (const auto& t : terms) {
        if (!expression.empty()) expression += " OR ";
        expression += quote_fts5(t);
    }
    return expression;
}

std::string build_match_expression(std::string_view text, const AbbreviationTable& table) {
    return match_expression(query_terms(text, table));
}

}  // namespace ward::knowledge
