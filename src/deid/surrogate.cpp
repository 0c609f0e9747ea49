#include "deid/surrogate.h"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>

#include <sodium.h>

#include "common/civil_date.h"
#include "common/crypto.h"

namespace ward::deid::internal {
namespace {

constexpr const char* kMonthNames[12] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
constexpr const char* kWeekdayNames[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};

std::string lower(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = ascii_lower(c);
    return r;
}
bool is_alnum(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Applies the case pattern of `like` (ALL CAPS, Capitalised, lower) to `s`.
std::string match_case(std::string s, std::string_view like) {
    bool has_lower = false, has_upper = false;
    for (char c : like) {
        has_lower |= c >= 'a' && c <= 'z';
        has_upper |= c >= 'A' && c <= 'Z';
    }
    if (has_upper && !has_lower && like.size() > 1) {
        for (char& c : s) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    } else if (!like.empty() && like[0] >= 'a' && like[0] <= 'z') {
        for (char& c : s) c = ascii_lower(c);
    }
    return s;
}
std::string ordinal_suffix(int d) {
    if (d >= 11 && d <= 13) return "th";
    switch (d % 10) {
        case 1:
            return "st";
        case 2:
            return "nd";
        case 3:
            return "rd";
        default:
            return "th";
    }
}

// Answers "is this word already in the input?" (ignoring ASCII case) from the detector's word
// fingerprints, put in an open-addressing set on first use; a 64-bit collision only costs one
// more surrogate draw.
class InputWords {
  public:
    explicit InputWords(const std::vector<uint64_t>& hashes) : hashes_(hashes) {}
    bool contains(std::string_view w) {
        if (slots_.empty()) build();
        uint64_t h = hash_lower(w) | 1;  // 0 marks an empty slot
        size_t mask = slots_.size() - 1;
        for (size_t i = (h * 0x9E3779B97F4A7C15ull) >> 20 & mask;; i = (i + 1) & mask) {
            if (slots_[i] == 0) return false;
            if (slots_[i] == h) return true;
        }
    }

  private:
    void build() {
        size_t cap = 16;
        while (cap < hashes_.size() * 2) cap <<= 1;
        slots_.assign(cap, 0);
        size_t mask = cap - 1;
        for (uint64_t raw : hashes_) {
            uint64_t h = raw | 1;
            for (size_t i = (h * 0x9E3779B97F4A7C15ull) >> 20 & mask;; i = (i + 1) & mask) {
                if (slots_[i] == h) break;
                if (slots_[i] == 0) {
                    slots_[i] = h;
                    break;
                }
            }
        }
    }
    const std::vector<uint64_t>& hashes_;
    std::vector<uint64_t> slots_;
};

class Surrogates {
  public:
    Surrogates(std::string_view text, const std::vector<uint64_t>& word_hashes,
               std::span<const uint8_t> secret, uint64_t secret_id, std::string_view patient,
               const Lexicons& lex)
        : text_(text), lex_(lex), input_words_(word_hashes) {
        // Both per-patient secrets cost an HMAC each; a thread's consecutive calls are
        // usually for the same patient, so the last pair is kept per thread.
        struct Cached {
            uint64_t secret_id = 0;
            std::string patient;
            int shift = 0;
            std::array<unsigned char, crypto_shorthash_siphash24_KEYBYTES> key{};
        };
        thread_local Cached cached;
        if (cached.secret_id == 0 || cached.secret_id != secret_id || cached.patient != patient) {
            cached.secret_id = secret_id;
            cached.patient.assign(patient);
            cached.shift = date_shift_days(secret, patient);
            std::string label = "surrogate-key\x1f";
            label.append(patient);
            auto derived = crypto::hmac_sha256(secret, label);
            std::copy_n(derived.begin(), cached.key.size(), cached.key.begin());
        }
        shift_ = cached.shift;
        key_ = cached.key;
    }

    std::string make(const Candidate& c, const DateFields* date) {
        std::string_view orig = text_.substr(c.start, c.end - c.start);
        switch (c.category) {
            case Category::kName:
                return name(orig);
            case Category::kDate:
                return date ? shift_date(orig, *date) : chars("DATE", orig);
            case Category::kAge:
                return "90+";
            case Category::kZip:
                return zip(orig);
            case Category::kCity:
                return pooled("CITY", orig, lex_.city_pool);
            case Category::kStreet:
                return street(orig);
            case Category::kFacility:
                return facility(orig, c.head);
            case Category::kLocation:
                return location(orig);
            case Category::kEmail:
                return email(orig);
            case Category::kUrl:
                return url(orig);
            case Category::kIp:
                return ip(orig);
            default:
                return chars(std::string(category_name(c.category)), orig);
        }
    }

  private:
    // The pseudorandom function behind every surrogate: SipHash-2-4 (libsodium) under a
    // per-patient key derived from the deployment secret with HMAC-SHA-256. Keyed twice, so a
    // surrogate reveals nothing without the secret; SipHash keeps the per-span cost small.
    uint64_t mac64(std::string_view domain, std::string_view value, int counter) {
        msg_.clear();
        msg_.append(domain).push_back('\x1f');
        msg_.append(value).push_back('\x1f');
        msg_.append(std::to_string(counter));
        unsigned char out[crypto_shorthash_siphash24_BYTES];
        crypto_shorthash_siphash24(out, reinterpret_cast<const unsigned char*>(msg_.data()),
                                   msg_.size(), key_.data());
        uint64_t v = 0;
        for (unsigned char b : out) v = (v << 8) | b;
        return v;
    }
    // True when `s` may be used as the surrogate of `original` (in lower case).
    bool acceptable(const std::string& s, const std::string& original) {
        std::string ls = lower(s);
        if (ls == original || input_words_.contains(ls)) return false;
        auto it = used_.find(ls);
        return it == used_.end() || it->second == original;
    }

    std::string word_from_pool(std::string_view domain, std::string_view word,
                               const std::vector<std::string>& pool) {
        std::string key = lower(word);
        std::string cache_key = std::string(domain) + '\x1f' + key;
        if (auto it = cache_.find(cache_key); it != cache_.end())
            return match_case(it->second, word);
        std::string pick;
        for (int counter = 0; counter < 64; ++counter) {
            pick =
                pool.empty() ? std::string("Doe") : pool[mac64(domain, key, counter) % pool.size()];
            if (acceptable(pick, key)) break;
        }
        used_[lower(pick)] = key;
        cache_[cache_key] = pick;
        return match_case(pick, word);
    }

    std::string name(std::string_view orig) {
        std::string out;
        size_t i = 0;
        while (i < orig.size()) {
            if (!is_word_byte(orig[i])) {
                out.push_back(orig[i++]);
                continue;
            }
            size_t s = i;
            while (i < orig.size() && is_word_byte(orig[i])) ++i;
            std::string_view w = orig.substr(s, i - s);
            if (w.size() == 1) {  // an initial
                std::string key = lower(w);
                char c = static_cast<char>('A' + mac64("INITIAL", key, 0) % 26);
                if (ascii_lower(c) == key[0]) c = static_cast<char>('A' + (c - 'A' + 1) % 26);
                out.push_back(w[0] >= 'a' && w[0] <= 'z' ? ascii_lower(c) : c);
                continue;
            }
            bool first = lex_.first_names.contains(w) && !lex_.last_names.contains(w);
            out += first ? word_from_pool("FIRST", w, lex_.first_pool)
                         : word_from_pool("LAST", w, lex_.last_pool);
        }
        return out;
    }

    std::string pooled(std::string_view domain, std::string_view orig,
                       const std::vector<std::string>& pool) {
        std::string key = lower(orig);
        std::string cache_key = std::string(domain) + '\x1f' + key;
        if (auto it = cache_.find(cache_key); it != cache_.end())
            return match_case(it->second, orig);
        std::string pick;
        for (int counter = 0; counter < 64; ++counter) {
            pick = pool.empty() ? std::string("Springfield")
                                : pool[mac64(domain, key, counter) % pool.size()];
            bool clash = false;  // no word of the pick may be in the input
            size_t i = 0;
            while (i < pick.size()) {
                size_t s = i;
                while (i < pick.size() && is_word_byte(pick[i])) ++i;
                if (i > s && input_words_.contains(lower(pick.substr(s, i - s)))) clash = true;
                ++i;
            }
            if (!clash && acceptable(pick, key)) break;
        }
        used_[lower(pick)] = key;
        cache_[cache_key] = pick;
        return match_case(pick, orig);
    }

    // Letters and digits replaced one by one from an HMAC of the value's letters and digits
    // (so "555-123-4567" and "(555) 123 4567" get the same digits); punctuation kept.
    std::string chars(const std::string& domain, std::string_view orig, size_t keep = 0) {
        std::string norm;
        for (char c : orig) {
            if (is_alnum(c)) norm.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c));
        }
        std::string out;
        for (int counter = 0; counter < 16; ++counter) {
            out.assign(orig);
            size_t k = 0;
            uint64_t d = 0;
            for (size_t i = 0; i < out.size(); ++i) {
                char c = out[i];
                if (!is_alnum(c)) continue;
                if (k % 8 == 0) {
                    d = mac64(domain, norm, counter * 1000 + static_cast<int>(k / 8));
                }
                auto b = static_cast<uint8_t>(d >> (8 * (k % 8)));
                if (k++ < keep) continue;
                if (c >= '0' && c <= '9')
                    out[i] = static_cast<char>('0' + b % 10);
                else if (c >= 'A' && c <= 'Z')
                    out[i] = static_cast<char>('A' + b % 26);
                else
                    out[i] = static_cast<char>('a' + b % 26);
            }
            if (acceptable(out, lower(orig))) break;
        }
        used_[lower(out)] = lower(orig);
        return out;
    }

    std::string zip(std::string_view orig) {
        static const char* kRestricted[] = {"036", "059", "063", "102", "203", "556",
                                            "692", "790", "821", "823", "830", "831",
                                            "878", "879", "884", "890", "893"};
        std::string out = chars("ZIP", orig, 3);
        if (out.size() >= 3) {
            for (const char* r : kRestricted) {
                if (orig.substr(0, 3) == r) out.replace(0, 3, "000");
            }
        }
        return out;
    }

    std::string street(std::string_view orig) {
        // number, street words, then an optional unit (", Apt 4" / " Unit 12" / " #5")
        size_t sp = orig.find(' ');
        if (sp == std::string_view::npos) return chars("STREET", orig);
        std::string number = chars("STREET#", orig.substr(0, sp));
        size_t unit = orig.size();
        static const char* kUnits[] = {",",  " Apt",  " APT", " Unit", " UNIT", " Suite", " Ste",
                                       " #", " Room", " Rm",  " Fl",   " Bldg", " apt"};
        for (const char* u : kUnits) unit = std::min(unit, orig.find(u, sp + 1));
        std::string street_name =
            pooled("STREET", orig.substr(sp + 1, unit - sp - 1), lex_.street_pool);
        std::string rest = unit < orig.size() ? chars("UNIT", orig.substr(unit)) : "";
        return number + " " + street_name + rest;
    }

    std::string facility(std::string_view orig, uint16_t head) {
        if (head == 0 || head >= orig.size()) {
            return pooled("FACILITY", orig, lex_.last_pool) + " Medical Center";
        }
        std::string_view name = orig.substr(0, head);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        return pooled("FACILITY", name, lex_.last_pool) + " " + std::string(orig.substr(head));
    }

    std::string location(std::string_view orig) {
        size_t sp = orig.rfind(' ');
        if (sp != std::string_view::npos && ieq(orig.substr(sp + 1), "county")) {
            return pooled("COUNTY", orig.substr(0, sp), lex_.county_pool) +
                   std::string(orig.substr(sp));
        }
        return pooled("CITY", orig, lex_.city_pool);
    }

    std::string email(std::string_view orig) {
        size_t at = orig.find('@');
        size_t dot = orig.rfind('.');
        std::string local = chars("EMAIL", orig.substr(0, at));
        std::string tld =
            dot != std::string_view::npos && dot > at ? std::string(orig.substr(dot)) : ".org";
        return local + "@example" + tld;
    }

    std::string url(std::string_view orig) {
        size_t scheme = orig.find("://");
        size_t host_start = scheme == std::string_view::npos ? 0 : scheme + 3;
        size_t path = orig.find('/', host_start);
        if (path == std::string_view::npos) path = orig.size();
        std::string_view host = orig.substr(host_start, path - host_start);
        size_t dot = host.rfind('.');
        std::string tld = dot == std::string_view::npos ? ".org" : std::string(host.substr(dot));
        std::string out(orig.substr(0, host_start));
        out += "example-" + chars("URLHOST", host.substr(0, dot)).substr(0, 8) + tld;
        if (path < orig.size()) out += chars("URLPATH", orig.substr(path));
        std::string lo = lower(out);
        used_[lo] = lower(orig);
        return out;
    }

    std::string ip(std::string_view orig) {
        uint64_t d = mac64("IP", orig, 0);
        return "10." + std::to_string(d & 0xff) + "." + std::to_string((d >> 8) & 0xff) + "." +
               std::to_string(1 + ((d >> 16) & 0xff) % 254);
    }

    std::string month_text(int m, const DateFields& f) {
        std::string s;
        if (f.month_style == 0) {
            s = std::to_string(m);
            if (f.zero_pad_month && s.size() < 2) s = "0" + s;
            return s;
        }
        s = kMonthNames[m - 1];
        if (f.month_style == 2) s = m == 9 && f.m_len == 4 ? "Sept" : s.substr(0, 3);
        if (f.month_upper) {
            for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
        }
        return s;
    }

    std::string shift_date(std::string_view orig, const DateFields& f) {
        if (f.weekday >= 0) {
            int wd = ((f.weekday + shift_) % 7 + 7) % 7;
            return match_case(kWeekdayNames[wd], orig);
        }
        if (f.holiday_month > 0) {
            const CivilDate c =
                civil_from_days(days_from_civil(2001, f.holiday_month, f.holiday_day) + shift_);
            return std::string(kMonthNames[c.month - 1]) + " " + std::to_string(c.day);
        }
        int y = f.year, m = f.month, d = f.day;
        int ny = y, nm = m, nd = d;
        if (m > 0) {
            int base_year = y > 0 ? y : (m == 2 && d == 29 ? 2000 : 2001);
            int day = d > 0 ? std::min(d, days_in_month(base_year, m)) : 15;
            const CivilDate c = civil_from_days(days_from_civil(base_year, m, day) + shift_);
            ny = c.year;
            nm = c.month;
            nd = c.day;
        } else if (d > 0) {
            nd = (((d - 1 + shift_) % 28) + 28) % 28 + 1;
        }
        struct Field {
            size_t off, len;
            std::string text;
        };
        std::vector<Field> fields;
        if (f.m_len) fields.push_back({f.m_off, f.m_len, month_text(nm, f)});
        if (f.d_len) {
            std::string s = std::to_string(nd);
            if (f.zero_pad_day && s.size() < 2) s = "0" + s;
            if (f.day_ordinal && f.d_len >= 3 && size_t{f.d_off} + f.d_len <= orig.size()) {
                std::string_view old = orig.substr(f.d_off, f.d_len);
                s += match_case(ordinal_suffix(nd), old.substr(old.size() - 2));
            }
            fields.push_back({f.d_off, f.d_len, s});
        }
        if (f.y_len && y > 0) {
            std::string s = std::to_string(ny);
            if (f.y_len == 2) s = s.substr(s.size() - 2);
            fields.push_back({f.y_off, f.y_len, s});
        }
        std::sort(fields.begin(), fields.end(),
                  [](const Field& a, const Field& b) { return a.off < b.off; });
        std::string out;
        size_t pos = 0;
        for (const Field& fl : fields) {
            if (fl.off < pos || fl.off + fl.len > orig.size()) continue;
            out.append(orig.substr(pos, fl.off - pos));
            out += fl.text;
            pos = fl.off + fl.len;
        }
        out.append(orig.substr(pos));
        return out;
    }

    std::string_view text_;
    const Lexicons& lex_;
    int shift_ = 0;
    InputWords input_words_;
    std::array<unsigned char, crypto_shorthash_siphash24_KEYBYTES> key_{};
    std::string msg_;  // scratch buffer of mac64()  // a surrogate never repeats a word that is
                       // already there
    std::unordered_map<std::string, std::string> used_;   // surrogate (lower) -> original (lower)
    std::unordered_map<std::string, std::string> cache_;  // domain|original -> surrogate
};

}  // namespace

uint64_t secret_fingerprint(std::span<const uint8_t> secret) {
    if (secret.empty()) return 0;
    auto d = crypto::hmac_sha256(secret, std::string_view("secret-fingerprint"));
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | d[static_cast<size_t>(i)];
    return v | 1;  // never 0
}

int date_shift_days(std::span<const uint8_t> secret, std::string_view patient_key) {
    if (secret.empty()) return 0;
    std::string msg = "date-shift\x1f";
    msg.append(patient_key);
    auto d = crypto::hmac_sha256(secret, msg);
    uint32_t v = (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
    int days = 30 + static_cast<int>(v % 366);
    if (d[4] & 1) days = -days;
    while (days % 7 == 0 || days % 28 == 0) days += days > 0 ? 1 : -1;
    return days;
}

void replace_all(std::string_view text, const Detection& d, Mode mode,
                 std::span<const uint8_t> secret, uint64_t secret_id, std::string_view patient_key,
                 const Lexicons& lex, DeidResult& out) {
    out.text.clear();
    out.text.reserve(text.size() + text.size() / 8);
    std::unique_ptr<Surrogates> sur;
    if (mode == Mode::kSurrogate)
        sur =
            std::make_unique<Surrogates>(text, d.word_hashes, secret, secret_id, patient_key, lex);
    // (surrogate, original) pairs already listed: fingerprint -> index in out.replacements
    std::unordered_multimap<uint64_t, size_t> seen;
    size_t pos = 0;
    for (const Candidate& c : d.spans) {
        out.text.append(text.substr(pos, c.start - pos));
        std::string_view orig = text.substr(c.start, c.end - c.start);
        std::string rep;
        switch (mode) {
            case Mode::kRedact:
                rep = "[" + std::string(category_name(c.category)) + "]";
                break;
            case Mode::kMask:
                for (char ch : orig) {
                    if ((static_cast<uint8_t>(ch) & 0xC0) != 0x80) rep.push_back('*');
                }
                break;
            case Mode::kSurrogate: {
                const DateFields* f =
                    c.date_index >= 0 && static_cast<size_t>(c.date_index) < d.dates.size()
                        ? &d.dates[static_cast<size_t>(c.date_index)]
                        : nullptr;
                rep = sur->make(c, f);
                break;
            }
        }
        uint64_t fp = hash_lower(rep) * 31 + hash_lower(orig);
        bool listed = false;
        for (auto [it, end] = seen.equal_range(fp); it != end && !listed; ++it) {
            const Replacement& r = out.replacements[it->second];
            listed = r.surrogate == rep && r.original == orig;
        }
        if (!listed) {
            seen.emplace(fp, out.replacements.size());
            out.replacements.push_back({rep, std::string(orig), c.category});
        }
        out.text += rep;
        pos = c.end;
    }
    out.text.append(text.substr(pos));
}

}  // namespace ward::deid::internal
