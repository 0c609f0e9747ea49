// Query normalisation for retrieval: natural-language text in, an FTS5 MATCH expression out.
//
// The text is split into words the way the store's FTS5 tokenizer splits them (unicode61:
// letters, digits, combining marks and private-use characters make words, anything else separates;
// case folded), stopwords are dropped, and medical abbreviations are expanded both ways through
// a table compiled into the library (src/knowledge/data/abbreviations.tsv): "MI" becomes
// ("mi" OR "myocardial infarction") and "myocardial infarction" also adds "mi". Every term is
// emitted as a quoted FTS5 string, so nothing a user types can act as an FTS5 operator
// (AND, NOT, NEAR, *, ^, column filters): any bytes give a valid expression or an empty one.
//
// Thread safety: free functions over immutable data; the built-in table is built once, on first
// use, and is safe to share.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace ward::knowledge {

// Splits UTF-8 text into words as the FTS5 unicode61 tokenizer would, each in lower case
// (Unicode simple lower-case mapping; diacritics kept, FTS5 folds them itself). Invalid UTF-8
// bytes separate words. Words longer than kMaxTokenBytes are dropped (no clinical term is that
// long).
constexpr size_t kMaxTokenBytes = 64;
std::vector<std::string> tokenize_query(std::string_view text);

// True for the built-in English stopwords and question words ("the", "of", "what", "does",
// ...): see kStopwords in normalize.cpp for the list. `word` is folded (lower case).
bool is_stopword(std::string_view word);

// The abbreviation table: abbreviation <-> one or more expansions, both kept as folded word
// sequences ("N/V" is {"n", "v"}).
class AbbreviationTable {
  public:
    // Parses "abbreviation<TAB>expansion" lines; '#' starts a comment line; blank lines are
    // skipped; an abbreviation may appear on several lines (ambiguous ones: PE, MS, RA).
    // Errors (kInvalidArgument, naming the line): a line without exactly one TAB, an empty
    // side, an abbreviation that is a stopword, a side longer than 8 words.
    static Result<AbbreviationTable> parse(std::string_view tsv);
    // The table compiled into the library. Aborts if it does not parse (a build defect that
    // the tests catch).
    static const AbbreviationTable& builtin();

    // Expansions of an abbreviation's words; empty when it is not one.
    const std::vector<std::vector<std::string>>& expansions(
        const std::vector<std::string>& abbreviation) const;
    // Abbreviations of an expansion's words; empty when it is not one.
    const std::vector<std::vector<std::string>>& abbreviations(
        const std::vector<std::string>& expansion) const;
    // The longest abbreviation or expansion, in words (how far a match may reach).
    size_t max_words() const { return max_words_; }
    size_t size() const { return n_rows_; }

  private:
    struct Hash {
        size_t operator()(const std::vector<std::string>& words) const;
    };
    using Map =
        std::unordered_map<std::vector<std::string>, std::vector<std::vector<std::string>>, Hash>;
    Map by_abbreviation_;
    Map by_expansion_;
    size_t max_words_ = 0;
    size_t n_rows_ = 0;
};

// At most this many terms (words, phrases) in one expression; the rest of a long text is
// ignored so a pasted page cannot make one search arbitrarily slow.
constexpr size_t kMaxQueryTerms = 64;

// The search terms of `text`, in order: each a word or a phrase (its words in order). Stopwords
// are dropped; an abbreviation or expansion found in the text brings its counterparts ("mi",
// "myocardial infarction"), and a multi-word match also brings its own non-stopword words.
// Repeated terms appear once. When every word is a stopword the stopwords are used, so "the
// who" still searches; empty only when the text has no words at all.
using Term = std::vector<std::string>;
std::vector<Term> query_terms(std::string_view text,
                              const AbbreviationTable& table = AbbreviationTable::builtin());

// The terms as an FTS5 MATCH expression: each quoted, joined by OR; "" for no terms.
std::string match_expression(const std::vector<Term>& terms);

// match_expression(query_terms(text, table)).
std::string build_match_expression(std::string_view text,
                                   const AbbreviationTable& table = AbbreviationTable::builtin());

// A word or phrase as an FTS5 string: "word" or "several words" (double quotes doubled).
std::string quote_fts5(const std::vector<std::string>& words);

}  // namespace ward::knowledge
