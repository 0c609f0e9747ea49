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
    // Calls fn(std::string_view) for every word (lower case), in no particular order.
    template <typename F>
    void for_each(F&& fn) const {
        for (const auto& w : slots_) {
            if (!w.empty()) fn(std::string_view(w));
        }
    }

  private:
    void grow();
    std::vector<std::string> slots_;
    size_t n_ = 0;
};

// A map from a lowercase word to a 64-bit set of features; lookups fold ASCII case. The
// detector tags each token with one lookup instead of asking many word lists.
class FeatureMap {
  public:
    void add(std::string_view word, uint64_t features);  // ORs into existing features
    // The features of `word` in any ASCII case; 0 when unknown or longer than 64 bytes.
    uint64_t lookup(std::string_view word) const;
    // The same with hash_lower(word) already computed.
    uint64_t lookup(std::string_view word, uint64_t hash) const;

  private:
    void grow();
    struct Slot {
        std::string word;
        uint64_t features = 0;
    };
    std::vector<Slot> slots_;
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

// Equality ignoring ASCII case.
inline bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

// A byte that belongs to a word: an ASCII letter or digit, or any byte of a non-ASCII
// character (the tokens of evaluation and re-identification).
inline bool is_word_byte(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           static_cast<uint8_t>(c) >= 0x80;
}

// FNV-1a over the ASCII-lowercased bytes: the hash of every word set and of the detector's
// token fingerprints.
inline uint64_t hash_lower(std::string_view w) {
    uint64_t h = 1469598103934665603ull;
    for (char c : w) {
        h ^= static_cast<uint8_t>(ascii_lower(c));
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace ward::deid
