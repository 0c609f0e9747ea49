// Word lists used by the detector and the surrogate generator, compiled into the binary
// (src/deid/data/*.txt, see src/deid/data/README.md for sources and licences).
//
// Thread safety: a Lexicons value is immutable after build(); share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ward::deid {

// An open-addressing hash set of lowercase words; lookups fold ASCII case without allocating.
class WordSet {
  public:
    void insert(std::string_view word);
    // True when `word` (any ASCII case) is in the set. Words longer than 64 bytes never match.
    bool contains(std::string_view word) const;
    size_t size() const { return n_; }

  private:
    void grow();
    std::vector<std::string> slots_;
    size_t n_ = 0;
};

struct Lexicons {
    WordSet first_names, last_names, cities, counties;
    WordSet english;   // ordinary lowercase English words (wamerican)
    WordSet clinical;  // clinical words that are not PHI: eponyms, drugs, anatomy, abbreviations
    // Pools for surrogates: ASCII, capitalised, neither English nor clinical words.
    std::vector<std::string> first_pool, last_pool, city_pool, county_pool, street_pool;

    static const Lexicons& get();  // built once, on first use
};

// Raw embedded files (generated at configure time from src/deid/data/).
namespace data {
extern const std::string_view kFirstNames, kLastNames, kCities, kCounties, kStreetNames;
extern const std::string_view kEnglishWords, kClinicalWords;
}  // namespace data

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace ward::deid
