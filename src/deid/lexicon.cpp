#include "deid/lexicon.h"

#include <cstring>

namespace ward::deid {
namespace {

bool equal_lower(std::string_view stored, std::string_view w) {
    if (stored.size() != w.size()) return false;
    for (size_t i = 0; i < w.size(); ++i) {
        if (stored[i] != ascii_lower(w[i])) return false;
    }
    return true;
}

// Calls fn for each entry of a word file: one entry per line or per space-separated word on
// lines of the clinical list; '#' starts a comment.
template <typename F>
void for_each_line(std::string_view text, bool split_spaces, F&& fn) {
    size_t i = 0;
    while (i < text.size()) {
        size_t e = text.find('\n', i);
        if (e == std::string_view::npos) e = text.size();
        std::string_view line = text.substr(i, e - i);
        i = e + 1;
        if (line.empty() || line[0] == '#') continue;
        if (!split_spaces) {
            fn(line);
            continue;
        }
        size_t j = 0;
        while (j < line.size()) {
            while (j < line.size() && line[j] == ' ') ++j;
            size_t k = j;
            while (k < line.size() && line[k] != ' ') ++k;
            if (k > j) fn(line.substr(j, k - j));
            j = k;
        }
    }
}

bool pool_worthy(std::string_view w, const Lexicons& lex) {
    if (w.size() < 3 || w.size() > 14) return false;
    if (!(w[0] >= 'A' && w[0] <= 'Z')) return false;
    for (char c : w) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    }
    return !lex.english.contains(w) && !lex.clinical.contains(w);
}

Lexicons build() {
    Lexicons lex;
    for_each_line(data::kEnglishWords, false, [&](std::string_view w) { lex.english.insert(w); });
    for_each_line(data::kClinicalWords, true, [&](std::string_view w) { lex.clinical.insert(w); });
    for_each_line(data::kFirstNames, false, [&](std::string_view w) {
        lex.first_names.insert(w);
        if (pool_worthy(w, lex)) lex.first_pool.emplace_back(w);
    });
    for_each_line(data::kLastNames, false, [&](std::string_view w) {
        lex.last_names.insert(w);
        if (pool_worthy(w, lex)) lex.last_pool.emplace_back(w);
    });
    for_each_line(data::kCities, false, [&](std::string_view w) {
        lex.cities.insert(w);
        bool ok = w.size() >= 3 && !lex.english.contains(w);
        for (char c : w) ok = ok && static_cast<uint8_t>(c) < 0x80;
        if (ok) lex.city_pool.emplace_back(w);
    });
    for_each_line(data::kCounties, false, [&](std::string_view w) {
        lex.counties.insert(w);
        lex.county_pool.emplace_back(w);
    });
    for_each_line(data::kStreetNames, false,
                  [&](std::string_view w) { lex.street_pool.emplace_back(w); });
    return lex;
}

}  // namespace

void WordSet::insert(std::string_view word) {
    if (word.empty() || word.size() > 64) return;
    if ((n_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_lower(word) & mask;; i = (i + 1) & mask) {
        if (slots_[i].empty()) {
            std::string lower(word);
            for (char& c : lower) c = ascii_lower(c);
            slots_[i] = std::move(lower);
            ++n_;
            return;
        }
        if (equal_lower(slots_[i], word)) return;
    }
}

bool WordSet::contains(std::string_view word) const {
    if (slots_.empty() || word.empty() || word.size() > 64) return false;
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_lower(word) & mask;; i = (i + 1) & mask) {
        if (slots_[i].empty()) return false;
        if (equal_lower(slots_[i], word)) return true;
    }
}

void WordSet::grow() {
    std::vector<std::string> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, std::string());
    n_ = 0;
    for (auto& w : old) {
        if (!w.empty()) insert(w);
    }
}

void FeatureMap::add(std::string_view word, uint64_t features) {
    if (word.empty() || word.size() > 64) return;
    if ((n_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_lower(word) & mask;; i = (i + 1) & mask) {
        if (slots_[i].word.empty()) {
            slots_[i].word.assign(word);
            for (char& c : slots_[i].word) c = ascii_lower(c);
            slots_[i].features = features;
            ++n_;
            return;
        }
        if (equal_lower(slots_[i].word, word)) {
            slots_[i].features |= features;
            return;
        }
    }
}

uint64_t FeatureMap::lookup(std::string_view word) const {
    return lookup(word, hash_lower(word));
}

uint64_t FeatureMap::lookup(std::string_view word, uint64_t hash) const {
    if (slots_.empty() || word.empty() || word.size() > 64) return 0;
    size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        if (slots_[i].word.empty()) return 0;
        if (equal_lower(slots_[i].word, word)) return slots_[i].features;
    }
}

void FeatureMap::grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot());
    n_ = 0;
    for (auto& s : old) {
        if (!s.word.empty()) add(s.word, s.features);
    }
}

const Lexicons& Lexicons::get() {
    static const Lexicons lex = build();
    return lex;
}

}  // namespace ward::deid
