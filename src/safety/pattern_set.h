// Case-insensitive PCRE2 patterns with rule names and weights, shared by the injection and scope
// rails. Patterns are written for readability and rewritten before compiling:
//   - a space matches any run of whitespace (a line break included), and " ?" an optional one;
//     write "\x20" for exactly one space;
//   - @name expands to the alternatives of the word set `name`, as (?:a|b|c);
//   - "^" and "$" match at line starts and ends (multiline).
// Matching is over bytes (no UTF mode), so invalid UTF-8 is tolerated and never raises an
// error; patterns are ASCII.
//
// Text format (one entry per line, tab-separated; '#' lines and blank lines are comments):
//   rule <TAB> weight <TAB> pattern <TAB> example
//   @set <TAB> name <TAB> alt1|alt2|alt3
// The example is a text the pattern must match; PatternSet::add() checks it, so a pattern cannot
// drift from what it was written for.
//
// Thread safety: immutable after construction; find_all() may run concurrently. Copies share
// the compiled patterns.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::safety {

class PatternSet {
  public:
    struct Pattern {
        std::string rule;
        double weight = 1;
        std::string source;   // as written
        std::string example;  // a text it must match; may be empty for configured patterns
        std::string where;    // "injection_patterns.tsv line 12", for errors and reports
    };
    struct Match {
        size_t pattern = 0;  // index into patterns()
        size_t begin = 0, end = 0;
    };

    // Defines the word set @name ("oxycodone|xanax|..."). InvalidArgument (naming `where`) for an
    // empty name or list, or a name defined twice.
    Status define_set(std::string_view name, std::string_view alternatives, std::string_view where);

    // Compiles one pattern. InvalidArgument naming `where` and the offset for a syntax error, an
    // unknown @set, a weight outside (0, 1], or a non-empty example the pattern does not match.
    Status add(std::string rule, double weight, std::string_view pattern, std::string example,
               std::string where);

    // Parses text in the format above; `source` names it in errors ("x.tsv line 4: ...").
    Status add_text(std::string_view text, std::string_view source);

    // Every match of every pattern (non-overlapping per pattern), sorted by begin, then by
    // pattern. Each pattern's work is bounded by PCRE2's match limit; a pattern that hits it
    // stops matching in that text and `*incomplete` (if given) is set.
    std::vector<Match> find_all(std::string_view text, bool* incomplete = nullptr) const;

    const std::vector<Pattern>& patterns() const { return patterns_; }

  private:
    struct Compiled;
    std::vector<Pattern> patterns_;
    std::vector<std::shared_ptr<const Compiled>> compiled_;
    std::map<std::string, std::string, std::less<>> sets_;
};

}  // namespace ward::safety
