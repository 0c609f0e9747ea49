// A lexicon of word patterns with categories, matched against tokenized text (safety/text.h).
// The crisis rail's lexicon (src/safety/data/crisis_lexicon.tsv) is written in this format; other
// rails can reuse it.
//
// File format, one entry per line, tab-separated: `category <TAB> pattern <TAB> origin`. Blank
// lines and lines starting with '#' are comments. `@set <TAB> name <TAB> a|b|c` defines a word
// set that patterns use as `@name`. A category may end in "/third" (a statement about someone
// else); the origin says where the entry comes from and is an example the pattern must match.
//
// Pattern syntax: steps separated by spaces, each matching words of one sentence in order.
//   want|wanna     one word out of alternatives; words_joined_by_underscore match several words
//   kill*          a word starting with "kill"
//   SI             a word with an upper-case letter matches that exact case only ("SI", not "si")
//   #  #many  #year   any number; a number >= 10; a year 1900-2099
//   @drugs         any alternative of the set "drugs" (may be mixed: @drugs|meds)
//   step?          the step may be skipped
//   +SI  /I        the word must follow a '+' ("+SI", "+ SI") or a '/' ("S/I")
//   ..             0 to 3 words of anything
//   $              the end of the clause (also an alternative: "it $|tonight")
//
// Thread safety: immutable after parse(); find_all() may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "safety/text.h"

namespace ward::safety {

class PhraseLexicon {
  public:
    struct Entry {
        std::string category;  // without the "/third" suffix
        bool third_party = false;
        std::string pattern;  // as written
        std::string origin;   // as written
        size_t line = 0;      // 1-based line in its source
    };
    struct Match {
        uint32_t entry = 0;
        uint32_t first = 0, last = 0;  // tokens [first, last)
        // Tokens inside [first, last) consumed by a ".." gap rather than by a word of the pattern.
        std::vector<uint32_t> gap_tokens;
    };

    // Parses lexicon text; `source` names it in errors ("crisis_lexicon.tsv line 12: ...").
    // Appending: entries of `more` join those already parsed, and may use their sets.
    static Result<PhraseLexicon> parse(std::string_view text, std::string_view source);
    Status add(std::string_view text, std::string_view source);

    // Every match of every entry, by start token then entry order. Matches never cross a
    // sentence. Work is bounded: at most 4 gap positions per ".." and patterns of <= 32 steps.
    std::vector<Match> find_all(const TokenizedText& text) const;
    // True when entry `index` matches `text` anywhere.
    bool matches(size_t index, const TokenizedText& text) const;

    const std::vector<Entry>& entries() const { return entries_; }

    PhraseLexicon();
    ~PhraseLexicon();
    PhraseLexicon(PhraseLexicon&&) noexcept;
    PhraseLexicon& operator=(PhraseLexicon&&) noexcept;

  private:
    struct Compiled;
    std::vector<Entry> entries_;
    std::unique_ptr<Compiled> compiled_;
};

}  // namespace ward::safety
