// Word tokens of a short message with the structure the crisis rail needs: which sentence and
// which clause each word is in, and the punctuation around it ("+SI", "-SI", "s/p", "SI: no").
// Words are runs of ASCII letters and digits; an apostrophe between two of them (', `, U+2018 or
// U+2019) stays inside the word and is dropped from its normalised forms, so "don't", "dont"
// and "don’t" all read "dont". Every other byte, including any non-ASCII or invalid UTF-8, only
// separates words, so word offsets always fall on UTF-8 boundaries.
//
// Sentences end at . ! ? ; and line breaks. A clause also starts at a contrastive or causal
// conjunction ("but", "though", "because", ...) and at a first-person subject after a comma or
// "and" ("..., I want", "and I'm"): a negation or a time cue reaches only its own clause.
//
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ward::safety {

struct Token {
    uint32_t begin = 0, end = 0;  // bytes [begin, end) of the text
    std::string norm;             // ASCII lower case, apostrophes dropped: "don't" -> "dont"
    std::string exact;            // original case, apostrophes dropped: "OD'd" -> "ODd"
    char before = 0;  // the last non-space byte between the previous word and this one (0: none)
    char after = 0;   // the first non-space byte between this word and the next (0: none)
    char after_last = 0;  // the last non-space byte before the next word or the end ("SI: -")
    bool minus = false;   // a '-' directly before the word, after a space or the start: "-SI"
    uint32_t sentence = 0;
    uint32_t clause = 0;  // clause numbers grow across the whole text, not per sentence
};

struct TokenizedText {
    std::vector<Token> tokens;
    // Per sentence number: the sentence ends with a question mark.
    std::vector<bool> question;
};

// Splits `text` into words, sentences and clauses. Bytes beyond the first `max_bytes` are not
// read (the crisis rail bounds its work per message this way).
TokenizedText tokenize(std::string_view text, size_t max_bytes = SIZE_MAX);

}  // namespace ward::safety
