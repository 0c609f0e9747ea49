#include "safety/text.h"

#include <array>
#include <cstring>

namespace ward::safety {
namespace {

bool is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Length of an apostrophe at text[i] (', `, U+2018, U+2019), or 0.
size_t apostrophe_len(std::string_view text, size_t i) {
    if (text[i] == '\'' || text[i] == '`') return 1;
    if (i + 2 < text.size() && static_cast<unsigned char>(text[i]) == 0xE2 &&
        static_cast<unsigned char>(text[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(text[i + 2]) == 0x98 ||
         static_cast<unsigned char>(text[i + 2]) == 0x99)) {
        return 3;
    }
    return 0;
}

bool is_sentence_end(char c) {
    return c == '.' || c == '!' || c == '?' || c == ';' || c == '\n' || c == '\r';
}

// Words that open a new clause: what follows is not negated or dated by what precedes.
constexpr std::array<std::string_view, 14> kClauseWords = {
    "but",   "however", "though", "although", "yet",    "except",   "because",
    "cause", "cuz",     "bc",     "whereas",  "except", "honestly", "tho"};
constexpr std::array<std::string_view, 6> kFirstPerson = {"i", "im", "ive", "id", "ill", "ima"};

template <size_t N>
bool in(const std::array<std::string_view, N>& words, std::string_view w) {
    for (auto x : words) {
        if (x == w) return true;
    }
    return false;
}

}  // namespace

TokenizedText tokenize(std::string_view text, size_t max_bytes) {
    if (text.size() > max_bytes) text = text.substr(0, max_bytes);
    TokenizedText out;
    out.question.push_back(false);
    uint32_t sentence = 0, clause = 0;
    size_t i = 0;
    size_t sep_begin = 0;  // start of the separator run before the next word
    while (i < text.size()) {
        if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        // The separator [sep_begin, i) between the previous word (if any) and this one.
        std::string_view sep = text.substr(sep_begin, i - sep_begin);
        bool new_sentence = false, comma = false;
        char first_punct = 0, last_punct = 0;
        for (char c : sep) {
            if (c == ' ' || c == '\t') continue;
            if (first_punct == 0) first_punct = c;
            last_punct = c;
            if (is_sentence_end(c)) {
                new_sentence = true;
                if (c == '?') out.question[sentence] = true;
            }
            if (c == ',' || c == ':') comma = true;
        }
        Token t;
        t.begin = static_cast<uint32_t>(i);
        size_t j = i;
        while (j < text.size()) {
            if (is_word_byte(static_cast<unsigned char>(text[j]))) {
                char c = text[j];
                t.exact.push_back(c);
                t.norm.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
                ++j;
                continue;
            }
            size_t a = apostrophe_len(text, j);
            if (a > 0 && j + a < text.size() &&
                is_word_byte(static_cast<unsigned char>(text[j + a]))) {
                j += a;
                continue;
            }
            break;
        }
        t.end = static_cast<uint32_t>(j);
        t.before = last_punct;
        t.minus = !sep.empty() && sep.back() == '-' &&
                  (sep.size() == 1 ? sep_begin == 0
                                   : (sep[sep.size() - 2] == ' ' || sep[sep.size() - 2] == '\t' ||
                                      sep[sep.size() - 2] == '\n'));
        if (!out.tokens.empty()) {
            Token& prev = out.tokens.back();
            prev.after = first_punct;
            prev.after_last = last_punct;
            bool clause_break =
                in(kClauseWords, t.norm) ||
                (in(kFirstPerson, t.norm) && (comma || prev.norm == "and" || prev.norm == "then" ||
                                              prev.norm == "so" || prev.norm == "now"));
            if (new_sentence) {
                ++sentence;
                out.question.push_back(false);
                ++clause;
            } else if (clause_break) {
                ++clause;
            }
        }
        t.sentence = sentence;
        t.clause = clause;
        out.tokens.push_back(std::move(t));
        i = j;
        sep_begin = j;
    }
    // Trailing punctuation: the last word's `after` and whether the last sentence is a question.
    if (!out.tokens.empty()) {
        for (size_t k = sep_begin; k < text.size(); ++k) {
            char c = text[k];
            if (c == ' ' || c == '\t') continue;
            if (out.tokens.back().after == 0) out.tokens.back().after = c;
            out.tokens.back().after_last = c;
            if (c == '?') out.question[sentence] = true;
        }
    }
    return out;
}

}  // namespace ward::safety
