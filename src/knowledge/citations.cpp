#include "knowledge/citations.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

namespace ward::knowledge {
namespace {

constexpr int kMaxRange = 20;
constexpr size_t kMaxMarkerBytes = 64;  // "[passage 1, 2, 3, ...]" longer than this is prose

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
// Bytes of multi-byte UTF-8 characters count as letters, so accented words stay whole.
bool is_word_byte(char c) {
    return is_alpha(c) || is_digit(c) || static_cast<unsigned char>(c) >= 0x80;
}

// Parses the inside of one bracket as a list of passage numbers; nullopt when it is not one.
std::optional<std::vector<int>> parse_marker_body(std::string_view body) {
    size_t i = 0;
    auto skip_spaces = [&] {
        while (i < body.size() && is_space(body[i])) ++i;
    };
    skip_spaces();
    // An optional leading word "passage"/"passages" (any case).
    for (std::string_view word : {"passages", "passage"}) {
        if (body.size() - i >= word.size()) {
            bool match = true;
            for (size_t j = 0; j < word.size(); ++j) {
                if (lower(body[i + j]) != word[j]) {
                    match = false;
                    break;
                }
            }
            if (match) {
                i += word.size();
                break;
            }
        }
    }
    std::vector<int> numbers;
    auto read_number = [&](int& out) -> bool {
        skip_spaces();
        if (i < body.size() && body[i] == '#') ++i;
        size_t start = i;
        while (i < body.size() && is_digit(body[i])) ++i;
        if (i == start || i - start > 6) return false;
        std::from_chars(body.data() + start, body.data() + i, out);
        return true;
    };
    while (true) {
        int first = 0;
        if (!read_number(first)) return std::nullopt;
        skip_spaces();
        // A range: "-", or the en dash U+2013 (E2 80 93).
        bool range = false;
        if (i < body.size() && body[i] == '-') {
            range = true;
            ++i;
        } else if (body.substr(i, 3) == "\xE2\x80\x93") {
            range = true;
            i += 3;
        }
        if (range) {
            int last = 0;
            if (!read_number(last) || last < first) return std::nullopt;
            if (last - first + 1 <= kMaxRange) {
                for (int n = first; n <= last; ++n) numbers.push_back(n);
            } else {
                numbers.push_back(first);
                numbers.push_back(last);
            }
            skip_spaces();
        } else {
            numbers.push_back(first);
        }
        if (i == body.size()) break;
        if (body[i] != ',' && body[i] != ';') return std::nullopt;
        ++i;
    }
    return numbers;
}

// English function words and words every clinical answer uses; they say nothing about which
// passage a sentence rests on.
const std::unordered_set<std::string_view>& stopwords() {
    static const std::unordered_set<std::string_view> words = {
        "the",         "and",
        "for",         "are",
        "but",         "not",
        "you",         "all",
        "any",         "can",
        "had",         "her",
        "was",         "one",
        "our",         "out",
        "has",         "him",
        "his",         "how",
        "its",         "may",
        "new",         "now",
        "own",         "per",
        "see",         "she",
        "than",        "that",
        "this",        "with",
        "from",        "they",
        "them",        "then",
        "there",       "these",
        "those",       "their",
        "were",        "been",
        "being",       "have",
        "having",      "does",
        "did",         "doing",
        "done",        "into",
        "onto",        "upon",
        "over",        "under",
        "also",        "only",
        "such",        "more",
        "most",        "less",
        "least",       "some",
        "each",        "other",
        "what",        "which",
        "who",         "whom",
        "whose",       "when",
        "where",       "why",
        "while",       "will",
        "would",       "should",
        "could",       "might",
        "must",        "shall",
        "about",       "above",
        "below",       "after",
        "before",      "between",
        "during",      "through",
        "within",      "without",
        "because",     "however",
        "therefore",   "thus",
        "although",    "though",
        "very",        "well",
        "both",        "either",
        "neither",     "nor",
        "whether",     "here",
        "based",       "according",
        "include",     "includes",
        "including",   "included",
        "use",         "used",
        "uses",        "using",
        "usually",     "often",
        "generally",   "typically",
        "recommend",   "recommended",
        "recommends",  "recommendation",
        "consider",    "considered",
        "passage",     "passages",
        "source",      "sources",
        "state",       "states",
        "stated",      "say",
        "says",        "said",
        "note",        "notes",
        "noted",       "patient",
        "patients",    "people",
        "person",      "someone",
        "answer",      "question",
        "information", "available",
        "provided",    "given",
        "like",        "just",
        "yes",         "way",
        "ways",        "make",
        "makes",       "made",
        "get",         "gets",
        "take",        "takes",
        "taken",       "show",
        "shows",       "shown",
        "showed",      "found",
        "find",        "finds",
        "report",      "reported",
        "suggest",     "suggests",
        "suggested",   "indicate",
        "indicates",   "indicated",
        "important",   "likely",
        "associated",  "related",
        "common",      "commonly",
        "certain",     "several",
        "many",        "much",
        "few",         "first",
        "second",      "third",
        "two",         "three",
        "another",     "same",
        "different",
    };
    return words;
}

bool is_unit(std::string_view word) {
    static const std::unordered_set<std::string_view> units = {
        "mg",    "mcg",    "ug",    "g",    "kg",    "ml",    "l",      "mmol",  "mol",     "meq",
        "iu",    "units",  "unit",  "mmhg", "bpm",   "h",     "hr",     "hrs",   "hours",   "days",
        "weeks", "months", "years", "min",  "mg/kg", "mg/dl", "mmol/l", "ng/ml", "percent",
    };
    return units.count(word) > 0;
}

// A light suffix stemmer: enough that "infarctions"/"infarction", "treated"/"treating"/"treat"
// and "therapies"/"therapy" meet; applied identically to sentences and passages.
std::string stem(std::string word) {
    auto ends = [&](std::string_view s) {
        return word.size() > s.size() + 2 && std::string_view(word).ends_with(s);
    };
    if (ends("ies")) {
        word.replace(word.size() - 3, 3, "y");
    } else if (ends("sses")) {
        word.resize(word.size() - 2);
    } else if (ends("s") && !ends("ss") && !ends("us") && !ends("is")) {
        word.pop_back();
    }
    if (ends("ing")) {
        word.resize(word.size() - 3);
    } else if (ends("ed") && !ends("eed")) {
        word.resize(word.size() - 2);
    } else if (ends("ly")) {
        word.resize(word.size() - 2);
    }
    if (ends("e")) word.pop_back();  // "dose"/"dosing" → "dos"
    return word;
}

struct Token {
    std::string_view text;
    size_t begin = 0;
};

std::vector<Token> tokens_of(std::string_view text) {
    std::vector<Token> out;
    size_t i = 0;
    while (i < text.size()) {
        if (!is_word_byte(text[i])) {
            ++i;
            continue;
        }
        size_t start = i;
        while (i < text.size() && (is_word_byte(text[i]) ||
                                   // keep "2.5" and "mg/kg" in one token
                                   ((text[i] == '.' || text[i] == '/') && i + 1 < text.size() &&
                                    is_word_byte(text[i + 1]) && i > start))) {
            ++i;
        }
        out.push_back({text.substr(start, i - start), start});
    }
    return out;
}

bool is_number(std::string_view t) {
    return !t.empty() &&
           std::all_of(t.begin(), t.end(), [](char c) { return is_digit(c) || c == '.'; }) &&
           is_digit(t.front());
}

bool is_abbreviation(std::string_view t) {
    if (t.size() < 2 || t.size() > 8) return false;
    int capitals = 0;
    for (char c : t) {
        if (c >= 'A' && c <= 'Z') {
            ++capitals;
        } else if (!is_digit(c) && c != '/') {
            return false;
        }
    }
    return capitals >= 2;
}

std::string lowercase(std::string_view t) {
    std::string s(t);
    for (char& c : s) c = lower(c);
    return s;
}

// Sentence ends: ".", "!" or "?" followed by space or end (not in "2.5", "e.g.", "Dr."), and
// line breaks. Markers right after the full stop belong to the sentence before it.
std::vector<std::pair<size_t, size_t>> sentences_of(std::string_view text,
                                                    const std::vector<CitationMarker>& markers) {
    static const std::array<std::string_view, 12> kAbbrev = {
        "e.g", "i.e", "dr", "vs", "etc", "approx", "fig", "no", "mr", "mrs", "ms", "st"};
    std::vector<std::pair<size_t, size_t>> out;
    size_t start = 0;
    size_t m = 0;  // next marker
    auto push = [&](size_t end) {
        size_t b = start;
        while (b < end && is_space(text[b])) ++b;
        size_t e = end;
        while (e > b && is_space(text[e - 1])) --e;
        if (e > b) out.push_back({b, e});
        start = end;
    };
    for (size_t i = 0; i < text.size(); ++i) {
        while (m < markers.size() && markers[m].end <= i) ++m;
        if (m < markers.size() && markers[m].begin == i) {
            i = markers[m].end - 1;  // never split inside a marker
            continue;
        }
        char c = text[i];
        if (c == '\n') {
            push(i + 1);
            continue;
        }
        if (c != '.' && c != '!' && c != '?') continue;
        if (i + 1 < text.size() && !is_space(text[i + 1]) && text[i + 1] != '[') continue;
        if (c == '.') {
            // the word before the stop
            size_t w = i;
            while (w > start && (is_word_byte(text[w - 1]) || text[w - 1] == '.')) --w;
            std::string word = lowercase(text.substr(w, i - w));
            if (std::find(kAbbrev.begin(), kAbbrev.end(), word) != kAbbrev.end()) continue;
        }
        size_t end = i + 1;
        // Markers after the stop ("... infarction. [1][2]") stay with this sentence.
        size_t j = end;
        size_t mm = m;
        while (true) {
            size_t k = j;
            while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
            while (mm < markers.size() && markers[mm].begin < k) ++mm;
            if (mm < markers.size() && markers[mm].begin == k) {
                j = markers[mm].end;
                ++mm;
                continue;
            }
            break;
        }
        if (j > end) end = j;
        push(end);
        i = end - 1;
    }
    push(text.size());
    return out;
}

}  // namespace

std::string_view citation_flag_name(CitationFlagKind kind) {
    switch (kind) {
        case CitationFlagKind::kMissingPassage:
            return "missing_passage";
        case CitationFlagKind::kUnsupported:
            return "unsupported";
    }
    return "unknown";
}

std::vector<CitationMarker> parse_citation_markers(std::string_view answer) {
    std::vector<CitationMarker> out;
    size_t i = 0;
    while (i < answer.size()) {
        size_t open = answer.find('[', i);
        if (open == std::string_view::npos) break;
        size_t limit = std::min(answer.size(), open + kMaxMarkerBytes);
        size_t close = std::string_view::npos;
        for (size_t j = open + 1; j < limit; ++j) {
            if (answer[j] == ']') {
                close = j;
                break;
            }
            if (answer[j] == '[' || answer[j] == '\n') break;
        }
        if (close == std::string_view::npos) {
            i = open + 1;
            continue;
        }
        auto numbers = parse_marker_body(answer.substr(open + 1, close - open - 1));
        if (numbers) out.push_back({open, close + 1, std::move(*numbers)});
        i = close + 1;
    }
    return out;
}

std::vector<std::string> key_terms(std::string_view text) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    auto add = [&](std::string term) {
        if (seen.insert(term).second) out.push_back(std::move(term));
    };
    std::vector<Token> tokens = tokens_of(text);
    for (size_t t = 0; t < tokens.size(); ++t) {
        std::string_view raw = tokens[t].text;
        while (!raw.empty() && (raw.back() == '.' || raw.back() == '/')) raw.remove_suffix(1);
        if (raw.empty()) continue;
        if (is_number(raw)) {
            std::string term(raw);
            if (t + 1 < tokens.size() && is_unit(lowercase(tokens[t + 1].text))) {
                term += lowercase(tokens[t + 1].text);
                ++t;
            }
            add(std::move(term));
            continue;
        }
        if (is_abbreviation(raw)) {
            add(lowercase(raw));
            continue;
        }
        std::string word = lowercase(raw);
        if (is_digit(word.front())) {  // "5mg", "2nd"
            add(std::move(word));
            continue;
        }
        if (word.size() < 3 || stopwords().count(word) > 0) continue;
        add(stem(std::move(word)));
    }
    return out;
}

CitationCheck check_citations(std::string_view answer, const std::vector<std::string>& passages) {
    CitationCheck check;
    std::vector<CitationMarker> markers = parse_citation_markers(answer);
    const int n_passages = static_cast<int>(passages.size());
    std::set<int> cited_seen;
    for (const CitationMarker& m : markers) {
        for (int n : m.numbers) {
            if (n < 1 || n > n_passages) {
                check.flags.push_back(
                    {CitationFlagKind::kMissingPassage, n, m.begin, m.end,
                     n_passages == 0
                         ? fmt::format("cites passage {}, but no passages were given", n)
                         : fmt::format("cites passage {}, but only passages 1 to {} were given", n,
                                       n_passages)});
            } else if (cited_seen.insert(n).second) {
                check.cited.push_back(n);
            }
        }
    }

    std::vector<std::optional<std::unordered_set<std::string>>> passage_terms(passages.size());
    auto terms_of_passage = [&](int n) -> const std::unordered_set<std::string>& {
        auto& slot = passage_terms[static_cast<size_t>(n - 1)];
        if (!slot) {
            std::vector<std::string> terms = key_terms(passages[static_cast<size_t>(n - 1)]);
            slot.emplace(terms.begin(), terms.end());
        }
        return *slot;
    };

    for (auto [begin, end] : sentences_of(answer, markers)) {
        SentenceCitations s;
        s.begin = begin;
        s.end = end;
        std::string prose;  // the sentence without its markers
        size_t pos = begin;
        for (const CitationMarker& m : markers) {
            if (m.begin < begin || m.end > end) continue;
            prose.append(answer.substr(pos, m.begin - pos));
            prose.push_back(' ');
            pos = m.end;
            for (int n : m.numbers) {
                if (std::find(s.numbers.begin(), s.numbers.end(), n) == s.numbers.end()) {
                    s.numbers.push_back(n);
                }
            }
        }
        prose.append(answer.substr(pos, end - pos));
        s.key_terms = key_terms(prose);
        if (s.numbers.empty()) {
            if (!s.key_terms.empty()) ++check.uncited_sentences;
        } else if (!s.key_terms.empty()) {
            bool any_existing = false;
            bool overlap = false;
            for (int n : s.numbers) {
                if (n < 1 || n > n_passages) continue;
                any_existing = true;
                const auto& terms = terms_of_passage(n);
                for (const std::string& t : s.key_terms) {
                    if (terms.count(t) > 0) {
                        overlap = true;
                        break;
                    }
                }
                if (overlap) break;
            }
            if (!overlap) s.supported = false;
            if (any_existing && !overlap) {
                std::string cited;
                for (int n : s.numbers) {
                    if (n < 1 || n > n_passages) continue;
                    cited += cited.empty() ? fmt::format("{}", n) : fmt::format(", {}", n);
                }
                check.flags.push_back(
                    {CitationFlagKind::kUnsupported, 0, begin, end,
                     fmt::format("shares no key term with the passage{} it cites ({})",
                                 cited.find(',') == std::string::npos ? "" : "s", cited)});
            }
        }
        check.sentences.push_back(std::move(s));
    }
    std::stable_sort(
        check.flags.begin(), check.flags.end(),
        [](const CitationFlag& a, const CitationFlag& b) { return a.begin < b.begin; });
    return check;
}

}  // namespace ward::knowledge
