#include "safety/dose.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

namespace ward::safety {

namespace data {
extern const std::string_view kDoseTable;
}

std::string_view dose_table_text() {
    return data::kDoseTable;
}

namespace {

// ---- The table -------------------------------------------------------------------------------

constexpr size_t kColumns = 12;

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (true) {
        size_t e = s.find(sep, i);
        out.push_back(s.substr(i, e == std::string_view::npos ? std::string_view::npos : e - i));
        if (e == std::string_view::npos) return out;
        i = e + 1;
    }
}

bool parse_number(std::string_view s, double& out) {
    if (s.empty()) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size() && std::isfinite(out) && out >= 0;
}

// The factor to the base unit (mg for masses, units for units); 0 for an unknown unit.
double unit_factor(std::string_view unit, DoseDimension& dim) {
    dim = DoseDimension::kMass;
    if (unit == "mg") return 1;
    if (unit == "g") return 1000;
    if (unit == "mcg") return 0.001;
    if (unit == "units") {
        dim = DoseDimension::kUnits;
        return 1;
    }
    return 0;
}

struct Amount {
    double value = 0;
    DoseDimension dim = DoseDimension::kMass;
};

// "4000 mg" -> 4000 (mg); "75 mg/kg/day" with suffix "/kg/day".
Status parse_amount(std::string_view cell, std::string_view suffix, Amount& out,
                    std::string_view where, size_t line, std::string_view column) {
    size_t sp = cell.find(' ');
    std::string_view num = cell.substr(0, sp);
    std::string_view unit = sp == std::string_view::npos ? "" : cell.substr(sp + 1);
    if (!suffix.empty()) {
        if (unit.size() <= suffix.size() || unit.substr(unit.size() - suffix.size()) != suffix) {
            return invalid_argument("safety: {} line {}: {} \"{}\" must end in {}", where, line,
                                    column, cell, suffix);
        }
        unit = unit.substr(0, unit.size() - suffix.size());
    }
    double f = unit_factor(unit, out.dim);
    if (f == 0) {
        return invalid_argument(
            "safety: {} line {}: {} \"{}\" has no known unit (mg, g, mcg, units)", where, line,
            column, cell);
    }
    if (!parse_number(num, out.value) || out.value <= 0) {
        return invalid_argument("safety: {} line {}: {} \"{}\" is not a positive amount", where,
                                line, column, cell);
    }
    out.value *= f;
    return ok_status();
}

}  // namespace

Result<std::vector<DoseRow>> parse_dose_table(std::string_view text, std::string_view where) {
    std::vector<DoseRow> rows;
    size_t line = 0;
    for (std::string_view raw : split(text, '\n')) {
        ++line;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        if (raw.empty() || raw.front() == '#') continue;
        auto f = split(raw, '\t');
        if (f.size() != kColumns) {
            return invalid_argument("safety: {} line {}: {} columns, expected {}", where, line,
                                    f.size(), kColumns);
        }
        DoseRow row;
        row.line = line;
        row.drug = std::string(f[0]);
        if (row.drug.empty()) return invalid_argument("safety: {} line {}: no drug", where, line);
        row.names.push_back(row.drug);
        if (f[1] != "-") {
            for (auto n : split(f[1], '|')) {
                if (n.empty()) {
                    return invalid_argument("safety: {} line {}: an empty name", where, line);
                }
                row.names.emplace_back(n);
            }
        }
        for (const auto& n : row.names) {
            for (char c : n) {
                if (!(std::islower(static_cast<unsigned char>(c)) ||
                      std::isdigit(static_cast<unsigned char>(c)) || c == ' ' || c == '-')) {
                    return invalid_argument(
                        "safety: {} line {}: name \"{}\" must be lower-case letters, digits, "
                        "spaces or hyphens",
                        where, line, n);
                }
            }
        }
        row.route = std::string(f[2]);
        if (row.route != "PO" && row.route != "IV" && row.route != "IM" && row.route != "SC" &&
            row.route != "SL" && row.route != "any") {
            return invalid_argument(
                "safety: {} line {}: route \"{}\" is not PO, IV, IM, SC, SL or any", where, line,
                row.route);
        }
        std::vector<DoseDimension> dims;
        auto opt = [&](std::string_view cell, std::string_view suffix, std::string_view column,
                       std::string_view none, std::optional<double>& out) -> Status {
            if (cell == none) return ok_status();
            Amount a;
            WARD_TRY(parse_amount(cell, suffix, a, where, line, column));
            out = a.value;
            dims.push_back(a.dim);
            return ok_status();
        };
        WARD_TRY(opt(f[3], "", "max_daily", "none", row.max_daily));
        WARD_TRY(opt(f[4], "", "max_single", "-", row.max_single));
        {
            std::string_view cell = f[5];
            size_t sp = cell.find(' ');
            size_t dash = cell.find('-');
            if (sp == std::string_view::npos || dash == std::string_view::npos || dash > sp) {
                return invalid_argument(
                    "safety: {} line {}: usual_single \"{}\" is not LOW-HIGH UNIT", where, line,
                    cell);
            }
            Amount lo, hi;
            std::string lo_cell = std::string(cell.substr(0, dash)) + std::string(cell.substr(sp));
            WARD_TRY(parse_amount(lo_cell, "", lo, where, line, "usual_single"));
            WARD_TRY(parse_amount(cell.substr(dash + 1), "", hi, where, line, "usual_single"));
            if (lo.value > hi.value) {
                return invalid_argument("safety: {} line {}: usual_single \"{}\" runs backwards",
                                        where, line, cell);
            }
            row.usual_low = lo.value;
            row.usual_high = hi.value;
            dims.push_back(lo.dim);
        }
        WARD_TRY(opt(f[6], "/kg/day", "ped_per_kg", "-", row.ped_per_kg_day));
        WARD_TRY(opt(f[7], "", "ped_cap", "-", row.ped_cap));
        for (auto d : dims) {
            if (d != dims.front()) {
                return invalid_argument("safety: {} line {}: mixes masses and units", where, line);
            }
        }
        row.dimension = dims.front();
        if (f[8] != "verified" && f[8] != "unverified") {
            return invalid_argument(
                "safety: {} line {}: status \"{}\" is not verified or unverified", where, line,
                f[8]);
        }
        row.verified = f[8] == "verified";
        if (!f[9].starts_with("https://")) {
            return invalid_argument("safety: {} line {}: source \"{}\" is not an https URL", where,
                                    line, f[9]);
        }
        row.source = std::string(f[9]);
        if (f[10].empty() || f[10] == "-") {
            return invalid_argument("safety: {} line {}: no label section", where, line);
        }
        row.section = std::string(f[10]);
        row.note = f[11] == "-" ? "" : std::string(f[11]);
        rows.push_back(std::move(row));
    }
    if (rows.empty()) return invalid_argument("safety: {}: no rows", where);
    return rows;
}

namespace {

// ---- Tokens ----------------------------------------------------------------------------------

enum class TokKind { kWord, kNumber, kPunct };

struct Tok {
    TokKind kind = TokKind::kPunct;
    uint32_t begin = 0, end = 0;
    std::string norm;  // words: ASCII lower case, internal periods dropped ("b.i.d." -> "bid")
    double value = 0;  // numbers
    char punct = 0;    // '-', '/', '(', ')', ',', ':', '+', '%'
    uint32_t sentence = 0;
};

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::vector<Tok> tokenize_doses(std::string_view s) {
    std::vector<Tok> toks;
    uint32_t sentence = 0;
    const size_t n = s.size();
    size_t i = 0;
    auto push_punct = [&](char p, size_t b, size_t e) {
        Tok t;
        t.kind = TokKind::kPunct;
        t.punct = p;
        t.begin = static_cast<uint32_t>(b);
        t.end = static_cast<uint32_t>(e);
        t.sentence = sentence;
        toks.push_back(std::move(t));
    };
    while (i < n) {
        const char c = s[i];
        const unsigned char u = static_cast<unsigned char>(c);
        if (is_alpha(c)) {
            Tok t;
            t.kind = TokKind::kWord;
            t.begin = static_cast<uint32_t>(i);
            size_t seg = 0;  // letters in the current period-separated segment
            bool dotted = false;
            while (i < n) {
                if (is_alpha(s[i])) {
                    t.norm += lower(s[i]);
                    ++seg;
                    ++i;
                } else if (s[i] == '.' && seg <= 2 && i + 1 < n && is_alpha(s[i + 1]) &&
                           (i + 2 >= n || !is_alpha(s[i + 2]) || i + 3 >= n ||
                            !is_alpha(s[i + 3]))) {
                    // "b.i.d", "p.o", "q.h.s": short segments joined by periods.
                    dotted = true;
                    seg = 0;
                    ++i;
                } else {
                    break;
                }
            }
            if (dotted && i < n && s[i] == '.') ++i;  // "p.o." does not end a sentence
            t.end = static_cast<uint32_t>(i);
            t.sentence = sentence;
            toks.push_back(std::move(t));
            continue;
        }
        // The micro sign (U+00B5) and Greek mu (U+03BC) before "g": micrograms.
        if (i + 2 < n &&
            ((u == 0xC2 && static_cast<unsigned char>(s[i + 1]) == 0xB5) ||
             (u == 0xCE && static_cast<unsigned char>(s[i + 1]) == 0xBC)) &&
            (s[i + 2] == 'g' || s[i + 2] == 'G') && (i + 3 >= n || !is_alpha(s[i + 3]))) {
            Tok t;
            t.kind = TokKind::kWord;
            t.norm = "mcg";
            t.begin = static_cast<uint32_t>(i);
            t.end = static_cast<uint32_t>(i + 3);
            t.sentence = sentence;
            toks.push_back(std::move(t));
            i += 3;
            continue;
        }
        if (is_digit(c)) {
            Tok t;
            t.kind = TokKind::kNumber;
            t.begin = static_cast<uint32_t>(i);
            std::string digits;
            while (i < n) {
                if (is_digit(s[i])) {
                    digits += s[i++];
                } else if (s[i] == ',' && i + 3 < n && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
                           is_digit(s[i + 3]) && (i + 4 >= n || !is_digit(s[i + 4])) &&
                           digits.find('.') == std::string::npos) {
                    ++i;  // "4,000": a thousands separator
                } else if (s[i] == '.' && i + 1 < n && is_digit(s[i + 1]) &&
                           digits.find('.') == std::string::npos) {
                    digits += s[i++];
                } else {
                    break;
                }
            }
            t.end = static_cast<uint32_t>(i);
            if (digits.size() > 32) digits.resize(32);  // absurd lengths: value is still finite
            double v = 0;
            auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
            (void)ptr;
            t.value = (ec == std::errc() && std::isfinite(v)) ? v : 0;
            t.sentence = sentence;
            toks.push_back(std::move(t));
            continue;
        }
        if (c == '.' || c == '!' || c == '?' || c == ';' || c == '\n') {
            ++sentence;
            ++i;
            continue;
        }
        if (c == '-' || c == '/' || c == '(' || c == ')' || c == ',' || c == ':' || c == '+' ||
            c == '%') {
            push_punct(c, i, i + 1);
            ++i;
            continue;
        }
        // En and em dashes read as '-'.
        if (u == 0xE2 && i + 2 < n && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(s[i + 2]) == 0x93 ||
             static_cast<unsigned char>(s[i + 2]) == 0x94)) {
            push_punct('-', i, i + 3);
            i += 3;
            continue;
        }
        ++i;  // spaces, other punctuation, other UTF-8 and invalid bytes only separate
    }
    return toks;
}

// ---- Vocabulary ------------------------------------------------------------------------------

enum class UnitKind { kNone, kMass, kUnits, kVolume, kCount, kWeightKg, kWeightLb };

UnitKind unit_of(std::string_view w, double& factor) {
    factor = 1;
    if (w == "mg" || w == "mgs" || w == "milligram" || w == "milligrams") return UnitKind::kMass;
    if (w == "g" || w == "gm" || w == "gms" || w == "gram" || w == "grams") {
        factor = 1000;
        return UnitKind::kMass;
    }
    if (w == "mcg" || w == "ug" || w == "microgram" || w == "micrograms") {
        factor = 0.001;
        return UnitKind::kMass;
    }
    if (w == "unit" || w == "units" || w == "iu") return UnitKind::kUnits;
    if (w == "ml" || w == "milliliter" || w == "milliliters" || w == "millilitre" ||
        w == "millilitres" || w == "cc" || w == "l" || w == "tsp" || w == "teaspoon" ||
        w == "teaspoons" || w == "tbsp" || w == "tablespoon" || w == "tablespoons") {
        return UnitKind::kVolume;
    }
    if (w == "tablet" || w == "tablets" || w == "tab" || w == "tabs" || w == "capsule" ||
        w == "capsules" || w == "cap" || w == "caps" || w == "pill" || w == "pills" ||
        w == "puff" || w == "puffs" || w == "drop" || w == "drops" || w == "dose" || w == "doses" ||
        w == "times" || w == "patch" || w == "patches" || w == "spray" || w == "sprays") {
        return UnitKind::kCount;
    }
    if (w == "kg" || w == "kgs" || w == "kilogram" || w == "kilograms" || w == "kilo" ||
        w == "kilos") {
        return UnitKind::kWeightKg;
    }
    if (w == "lb" || w == "lbs" || w == "pound" || w == "pounds") return UnitKind::kWeightLb;
    return UnitKind::kNone;
}

// "PO", "IV", "IM", "SC", "SL"; "other" for routes the table does not model; "" for none.
std::string_view route_of(std::string_view w) {
    if (w == "po" || w == "oral" || w == "orally" || w == "mouth" || w == "enteral") return "PO";
    if (w == "iv" || w == "intravenous" || w == "intravenously" || w == "ivpb" || w == "ivp" ||
        w == "infusion") {
        return "IV";
    }
    if (w == "im" || w == "intramuscular" || w == "intramuscularly") return "IM";
    if (w == "sc" || w == "sq" || w == "subq" || w == "subcut" || w == "subcutaneous" ||
        w == "subcutaneously") {
        return "SC";
    }
    if (w == "sl" || w == "sublingual" || w == "sublingually") return "SL";
    if (w == "topical" || w == "topically" || w == "pr" || w == "rectal" || w == "rectally" ||
        w == "suppository" || w == "inhaled" || w == "nebulized" || w == "nebulised" ||
        w == "ophthalmic" || w == "otic" || w == "transdermal" || w == "intrathecal" ||
        w == "epidural" || w == "intranasal" || w == "nasal" || w == "cream" || w == "gel" ||
        w == "ointment" || w == "eyedrops") {
        return "other";
    }
    return "";
}

bool is_day_word(std::string_view w) {
    return w == "day" || w == "days" || w == "d" || w == "daily" || w == "24h" || w == "daytime";
}

bool is_hour_word(std::string_view w) {
    return w == "h" || w == "hr" || w == "hrs" || w == "hour" || w == "hours" || w == "hourly";
}

double count_word(std::string_view w) {
    if (w == "once" || w == "one") return 1;
    if (w == "twice" || w == "two") return 2;
    if (w == "three" || w == "thrice") return 3;
    if (w == "four") return 4;
    if (w == "five") return 5;
    if (w == "six") return 6;
    if (w == "eight") return 8;
    return 0;
}

bool is_limit_word(std::string_view w) {
    return w == "exceed" || w == "exceeding" || w == "exceeds" || w == "max" || w == "maximum" ||
           w == "maximal" || w == "limit" || w == "ceiling" || w == "more" || w == "greater" ||
           w == "above" || w == "over" || w == "beyond" || w == "most" || w == "higher" ||
           w == "less" || w == "overdose";
}

// Words of a sentence about overdose or poisoning: its amounts are thresholds or ingested
// quantities, not doses to give.
bool is_toxicity_word(std::string_view w) {
    return w == "overdose" || w == "overdoses" || w == "overdosed" || w == "overdosage" ||
           w == "toxic" || w == "toxicity" || w == "hepatotoxicity" || w == "hepatotoxic" ||
           w == "poisoning" || w == "ingestion" || w == "ingestions" || w == "ingested" ||
           w == "lethal" || w == "fatal";
}

bool is_child_word(std::string_view w) {
    return w == "child" || w == "children" || w == "childs" || w == "kid" || w == "kids" ||
           w == "infant" || w == "infants" || w == "toddler" || w == "toddlers" || w == "baby" ||
           w == "babies" || w == "newborn" || w == "neonate" || w == "neonates" ||
           w == "pediatric" || w == "paediatric" || w == "boy" || w == "girl" ||
           w == "adolescent" || w == "adolescents" || w == "son" || w == "daughter";
}

// ---- Mentions --------------------------------------------------------------------------------

struct DrugHit {
    size_t first = 0, last = 0;  // tokens [first, last)
    size_t drug = 0;             // index into Impl::drugs
};

struct DoseMention {
    size_t first = 0, last = 0;  // tokens [first, last): the number(s), the unit and its suffixes
    double low = 0, high = 0;    // in mg, or units
    UnitKind unit = UnitKind::kNone;
    bool per_kg = false;
    bool per_day = false;   // a daily amount ("4 g/day", "2 g per day", "1 g in 24 hours")
    bool per_dose = false;  // "/dose", "per dose"
    bool limit = false;     // stated as a bound ("do not exceed", "max", "more than")
    bool maximum = false;   // ... and the bound is a recommended maximum ("do not exceed 4 g"),
                            // not a threshold ("toxic above 7.5 g", "more than 150 mg/kg")
    bool judged = true;     // false: a rate, a concentration, a combination strength
};

double round_sig(double v) {
    return std::round(v * 1000) / 1000;
}

std::string fmt_amount(double v, DoseDimension dim) {
    if (dim == DoseDimension::kUnits) return fmt::format("{:g} units", round_sig(v));
    if (v < 1) return fmt::format("{:g} mcg", round_sig(v * 1000));
    return fmt::format("{:g} mg", round_sig(v));
}

struct Finding {
    size_t rule = 0;  // index into kDoseRules
    double score = 0;
    Span span;
    std::string detail;
};

}  // namespace

struct DoseChecker::Impl {
    std::vector<DoseRow> rows;
    struct Drug {
        std::string name;
        std::vector<size_t> rows;
    };
    std::vector<Drug> drugs;
    // First word of a name -> (the name's words, drug index), longest names first.
    std::unordered_map<std::string, std::vector<std::pair<std::vector<std::string>, size_t>>> names;
};

DoseChecker::DoseChecker(std::shared_ptr<const Impl> impl, DoseOptions options)
    : impl_(std::move(impl)), options_(std::move(options)) {}

const std::vector<DoseRow>& DoseChecker::table() const {
    return impl_->rows;
}

Result<DoseChecker> DoseChecker::create(const DoseOptions& options) {
    if (options.weight_kg && !(*options.weight_kg > 0 && *options.weight_kg <= 500)) {
        return invalid_argument("safety: dose weight_kg {} is outside (0, 500]",
                                *options.weight_kg);
    }
    auto impl = std::make_shared<Impl>();
    WARD_ASSIGN_OR_RETURN(impl->rows, parse_dose_table(dose_table_text(), "dose_table.tsv"));
    std::unordered_map<std::string, size_t> drug_index;
    std::unordered_map<std::string, size_t> name_owner;
    for (size_t r = 0; r < impl->rows.size(); ++r) {
        const DoseRow& row = impl->rows[r];
        auto [it, inserted] = drug_index.emplace(row.drug, impl->drugs.size());
        if (inserted) impl->drugs.push_back({row.drug, {}});
        Impl::Drug& drug = impl->drugs[it->second];
        if (!drug.rows.empty()) {
            const DoseRow& first = impl->rows[drug.rows.front()];
            if (first.dimension != row.dimension) {
                return invalid_argument("safety: dose_table.tsv line {}: {} mixes masses and units",
                                        row.line, row.drug);
            }
            for (size_t o : drug.rows) {
                if (impl->rows[o].route == row.route) {
                    return invalid_argument("safety: dose_table.tsv line {}: {} route {} repeats",
                                            row.line, row.drug, row.route);
                }
            }
        }
        drug.rows.push_back(r);
        for (const auto& name : row.names) {
            auto [owner, fresh] = name_owner.emplace(name, it->second);
            if (!fresh && owner->second != it->second) {
                return invalid_argument("safety: dose_table.tsv line {}: name \"{}\" is also {}",
                                        row.line, name, impl->drugs[owner->second].name);
            }
            if (!fresh) continue;
            std::vector<std::string> words;
            std::string cur;
            for (char c : name) {
                if (is_alpha(c) || is_digit(c)) {
                    cur += c;
                } else if (!cur.empty()) {
                    words.push_back(cur);
                    cur.clear();
                }
            }
            if (!cur.empty()) words.push_back(cur);
            impl->names[words.front()].push_back({words, it->second});
        }
    }
    for (auto& [first, list] : impl->names) {
        std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
            return a.first.size() > b.first.size();
        });
    }
    return DoseChecker(std::move(impl), options);
}

RailResult DoseChecker::check(std::string_view input) const {
    RailResult result;
    result.rail = "dose";
    const std::string_view text = input.substr(0, std::min(input.size(), kDoseMaxBytes));
    const std::vector<Tok> toks = tokenize_doses(text);
    const size_t nt = toks.size();
    auto word = [&](size_t k) -> std::string_view {
        return (k < nt && toks[k].kind == TokKind::kWord) ? std::string_view(toks[k].norm)
                                                          : std::string_view();
    };
    auto punct = [&](size_t k) -> char {
        return (k < nt && toks[k].kind == TokKind::kPunct) ? toks[k].punct : 0;
    };
    auto number = [&](size_t k) { return k < nt && toks[k].kind == TokKind::kNumber; };
    auto same_sentence = [&](size_t a, size_t b) {
        return a < nt && b < nt && toks[a].sentence == toks[b].sentence;
    };

    // Drug names: the longest name starting at each word; a name's words may be joined by '-'
    // or '/' ("amoxicillin-clavulanate").
    std::vector<DrugHit> hits;
    for (size_t k = 0; k < nt;) {
        const auto it =
            toks[k].kind == TokKind::kWord ? impl_->names.find(toks[k].norm) : impl_->names.end();
        bool matched = false;
        if (it != impl_->names.end()) {
            for (const auto& [words, drug] : it->second) {
                size_t j = k, w = 0;
                while (w < words.size() && j < nt) {
                    if (w > 0 && (punct(j) == '-' || punct(j) == '/') && j + 1 < nt) ++j;
                    if (word(j) != words[w] || !same_sentence(j, k)) break;
                    ++w;
                    ++j;
                }
                if (w == words.size()) {
                    hits.push_back({k, j, drug});
                    k = j;
                    matched = true;
                    break;
                }
            }
        }
        if (!matched) ++k;
    }

    // Weights and child cues.
    std::optional<double> text_weight;
    std::unordered_map<uint32_t, double> sentence_weight;
    std::vector<bool> child_sentence;
    std::vector<bool> toxicity_sentence;
    auto mark_child = [&](uint32_t s) {
        if (child_sentence.size() <= s) child_sentence.resize(s + 1, false);
        child_sentence[s] = true;
    };
    for (size_t k = 0; k < nt; ++k) {
        if (number(k) && !(k > 0 && punct(k - 1) == '/')) {
            size_t u = k + 1;
            if (punct(u) == '-') ++u;
            double f = 1;
            UnitKind kind = unit_of(word(u), f);
            if ((kind == UnitKind::kWeightKg || kind == UnitKind::kWeightLb) &&
                punct(u + 1) != '/') {
                double kg = toks[k].value * (kind == UnitKind::kWeightLb ? 0.45359237 : 1);
                if (kg > 0 && kg <= 500) {
                    if (!text_weight) text_weight = kg;
                    sentence_weight.emplace(toks[k].sentence, kg);
                }
            }
            // "8-year-old", "8 years old", "8 yo", "6 months old"
            size_t a = k + 1;
            if (punct(a) == '-') ++a;
            std::string_view unit = word(a);
            if (unit == "yo" || unit == "month" || unit == "months" || unit == "mo" ||
                unit == "week" || unit == "weeks" ||
                ((unit == "year" || unit == "years" || unit == "yr" || unit == "yrs") &&
                 (word(a + 1) == "old" || (punct(a + 1) == '-' && word(a + 2) == "old")))) {
                bool months = unit == "month" || unit == "months" || unit == "mo" ||
                              unit == "week" || unit == "weeks";
                bool old = unit == "yo" || word(a + 1) == "old" || word(a + 2) == "old";
                if (old && (months || toks[k].value < 18)) mark_child(toks[k].sentence);
            }
        }
        if (is_child_word(word(k))) mark_child(toks[k].sentence);
        if (is_toxicity_word(word(k))) {
            if (toxicity_sentence.size() <= toks[k].sentence) {
                toxicity_sentence.resize(toks[k].sentence + 1, false);
            }
            toxicity_sentence[toks[k].sentence] = true;
        }
    }

    // Measured amounts: NUMBER [(-|to) NUMBER] UNIT [/kg] [/day | per day | in 24 hours | /dose].
    std::vector<DoseMention> doses;
    std::vector<bool> consumed(nt, false);
    for (size_t k = 0; k < nt; ++k) {
        if (!number(k) || consumed[k]) continue;
        DoseMention d;
        d.first = k;
        d.low = d.high = toks[k].value;
        size_t j = k + 1;
        if ((punct(j) == '-' || word(j) == "to") && number(j + 1) && same_sentence(j + 1, k)) {
            d.high = toks[j + 1].value;
            if (d.high < d.low) std::swap(d.low, d.high);
            j += 2;
        }
        double factor = 1;
        d.unit = unit_of(word(j), factor);
        if (d.unit != UnitKind::kMass && d.unit != UnitKind::kUnits && d.unit != UnitKind::kVolume)
            continue;
        d.low *= factor;
        d.high *= factor;
        ++j;
        // A strength such as "10/325 mg" or a concentration's second half ("160 mg/5 mL").
        if (k > 0 && punct(k - 1) == '/') d.judged = false;
        // Suffixes.
        while (j < nt && same_sentence(j, k)) {
            if (punct(j) == '/') {
                std::string_view w = word(j + 1);
                if (w == "kg" || w == "kgs") {
                    d.per_kg = true;
                    j += 2;
                } else if (is_day_word(w)) {
                    d.per_day = true;
                    j += 2;
                } else if (w == "dose") {
                    d.per_dose = true;
                    j += 2;
                } else if (number(j + 1) && toks[j + 1].value == 24 && is_hour_word(word(j + 2))) {
                    d.per_day = true;
                    j += 3;
                } else {
                    // A rate (mcg/h, mg/kg/min), a concentration (mg/mL, mg/5 mL), per m2: not
                    // a dose this rail can judge.
                    d.judged = false;
                    j += 1;
                    if (number(j)) ++j;
                    if (j < nt && toks[j].kind == TokKind::kWord) ++j;
                }
                continue;
            }
            std::string_view w = word(j);
            if ((w == "per" || w == "a" || w == "each" || w == "every") &&
                is_day_word(word(j + 1))) {
                d.per_day = true;
                j += 2;
                continue;
            }
            if ((w == "per" || w == "in" || w == "every" || w == "each") && number(j + 1) &&
                toks[j + 1].value == 24 && is_hour_word(word(j + 2))) {
                d.per_day = true;
                j += 3;
                continue;
            }
            if (w == "per" && (word(j + 1) == "kg" || word(j + 1) == "kilogram")) {
                d.per_kg = true;
                j += 2;
                continue;
            }
            if (w == "per" && word(j + 1) == "dose") {
                d.per_dose = true;
                j += 2;
                continue;
            }
            if (w == "daily" && !d.per_kg) {
                d.per_day = true;
                ++j;
            }
            break;
        }
        d.last = j;
        if (d.unit == UnitKind::kVolume) d.judged = false;
        // Stated as a limit: a limit word shortly before ("do not exceed 4 g", "no more than
        // 3 g", "max 4 g") or right after ("4 g/day maximum").
        for (size_t b = k, steps = 0; b > 0 && steps < 4; ++steps) {
            --b;
            if (!same_sentence(b, k)) break;
            const std::string_view w = word(b);
            if (is_limit_word(w)) {
                d.limit = true;
                const std::string_view prev = b > 0 ? word(b - 1) : std::string_view();
                d.maximum = w == "exceed" || w == "exceeding" || w == "max" || w == "maximum" ||
                            w == "maximal" || w == "limit" || w == "ceiling" ||
                            (w == "most" && prev == "at") ||
                            ((w == "more" || w == "greater" || w == "higher") &&
                             (prev == "no" || prev == "not" || prev == "never"));
                break;
            }
            if (number(b)) break;
        }
        // After it, only a word naming a maximum counts: "1 g over 15 minutes" is a rate of
        // infusion, not a limit.
        auto names_maximum = [](std::string_view w) {
            return w == "max" || w == "maximum" || w == "maximal" || w == "limit" || w == "ceiling";
        };
        if (names_maximum(word(d.last)) ||
            (punct(d.last) == '(' && names_maximum(word(d.last + 1)))) {
            d.limit = d.maximum = true;
        }
        for (size_t c = k; c < j; ++c) consumed[c] = true;
        doses.push_back(d);
    }

    // The drug each measured amount belongs to. Hits are in text order, so each search looks
    // only at the hits next to the dose.
    auto drug_for = [&](const DoseMention& d) -> const DrugHit* {
        const size_t next = static_cast<size_t>(
            std::lower_bound(hits.begin(), hits.end(), d.last,
                             [](const DrugHit& h, size_t t) { return h.first < t; }) -
            hits.begin());
        // "500 mg of amoxicillin", "500 mg amoxicillin"
        if (next < hits.size()) {
            const DrugHit& h = hits[next];
            if (h.first <= d.last + 1 && same_sentence(h.first, d.first) &&
                (h.first == d.last || word(d.last) == "of" || punct(d.last) == '(')) {
                return &h;
            }
        }
        // The nearest drug before it in the sentence, else the nearest after it.
        size_t before = next;
        while (before > 0 && hits[before - 1].last > d.first) --before;
        if (before > 0 && same_sentence(hits[before - 1].first, d.first)) return &hits[before - 1];
        if (next < hits.size() && same_sentence(hits[next].first, d.first)) return &hits[next];
        // Carry-over: a list item under a heading naming one drug ("Ibuprofen:\n- 400 mg ...").
        if (before == 0) return nullptr;
        const DrugHit& prev = hits[before - 1];
        const uint32_t s = toks[d.first].sentence, hs = toks[prev.first].sentence;
        if (hs >= s || s - hs > 2) return nullptr;
        for (size_t i = before - 1; i-- > 0 && toks[hits[i].first].sentence == hs;) {
            if (hits[i].drug != prev.drug) return nullptr;
        }
        return &prev;
    };

    // The frequency after a dose: doses per day, at least (lo) and at most (hi: "q4-6h" is 4 to
    // 6); 0 when none is stated. `cap` is an explicit "max N doses per day".
    struct PerDay {
        double lo = 0, hi = 0;
    };
    auto frequency = [&](size_t from, size_t to, double& cap) -> PerDay {
        PerDay count;
        auto take_range = [&](double lo, double hi) {
            count.lo = std::max(count.lo, lo);
            count.hi = std::max(count.hi, hi);
        };
        auto take = [&](double c) { take_range(c, c); };
        for (size_t k = from; k < to; ++k) {
            std::string_view w = word(k);
            if (w.empty() && !number(k)) continue;
            // q6h, q4-6h, q 8 h, every 6 hours, every 4 to 6 hours
            if ((w == "q" || w == "every" || w == "each") && number(k + 1)) {
                double lo = toks[k + 1].value, hi = lo;
                size_t u = k + 2;
                if ((punct(u) == '-' || word(u) == "to") && number(u + 1)) {
                    hi = std::max(lo, toks[u + 1].value);
                    u += 2;
                }
                if (is_hour_word(word(u)) && lo > 0) {
                    take_range(24 / hi, 24 / lo);
                    k = u;
                    continue;
                }
                if ((word(u) == "days" || word(u) == "day") && lo > 0) {
                    take(1 / lo);
                    k = u;
                    continue;
                }
                if ((word(u) == "weeks" || word(u) == "week") && lo > 0) {
                    take(1 / (7 * lo));
                    k = u;
                    continue;
                }
            }
            if ((w == "q" || w == "every" || w == "each") && is_hour_word(word(k + 1))) {
                take(24);
                ++k;
                continue;
            }
            if (w == "every" && word(k + 1) == "other" && word(k + 2) == "day") {
                take(0.5);
                k += 2;
                continue;
            }
            if (w == "qod") take(0.5);
            if (w == "bid" || w == "twice") take(2);
            if (w == "tid" || w == "thrice") take(3);
            if (w == "qid") take(4);
            if (w == "qd" || w == "od" || w == "daily" || w == "qam" || w == "qpm" || w == "qhs" ||
                w == "hs" || w == "nightly" || w == "bedtime" || w == "once" || w == "qday" ||
                w == "morning" || w == "evening" || w == "night" || w == "stat") {
                take(1);
            }
            if (w == "weekly") take(1.0 / 7);
            // "3 times a day", "three times daily", "4x/day", "x3 daily"
            double n = number(k) ? toks[k].value : count_word(w);
            if (n > 0 && (word(k + 1) == "times" || word(k + 1) == "x") &&
                (is_day_word(word(k + 2)) || word(k + 2) == "a" || word(k + 2) == "per" ||
                 word(k + 2) == "each" || punct(k + 2) == '/')) {
                take(n);
                k += 2;
                continue;
            }
            // "max 6 doses per day", "no more than 4 times a day", "up to 6 per day"
            if ((is_limit_word(w) || w == "up") && k + 1 < to) {
                size_t m = k + 1;
                while (m < to && m < k + 4 && !number(m)) ++m;
                if (number(m)) {
                    size_t u = m + 1;
                    double f = 1;
                    UnitKind kind = unit_of(word(u), f);
                    if (kind == UnitKind::kCount) ++u;
                    if (kind == UnitKind::kCount || kind == UnitKind::kNone) {
                        if (is_day_word(word(u)) ||
                            ((word(u) == "per" || word(u) == "a" || word(u) == "in" ||
                              word(u) == "each" || punct(u) == '/') &&
                             (is_day_word(word(u + 1)) ||
                              (number(u + 1) && toks[u + 1].value == 24)))) {
                            double c = toks[m].value;
                            if (c > 0) cap = cap > 0 ? std::min(cap, c) : c;
                            k = u + 1;
                            continue;
                        }
                    }
                }
            }
        }
        return count;
    };

    std::vector<Finding> findings;
    size_t judged = 0, toxicity_skipped = 0;
    std::vector<std::string> no_frequency;
    // Stated daily limits per drug (a "do not exceed 4 g/day" bounds the other doses of that drug).
    std::unordered_map<size_t, double> stated_limit;
    std::vector<const DrugHit*> owner(doses.size(), nullptr);
    // Where a dose's region ends: at the next measured amount or the next drug name.
    std::vector<bool> stops(nt, false);
    for (const auto& d : doses) {
        if (d.unit != UnitKind::kVolume) stops[d.first] = true;
    }
    for (const auto& h : hits) stops[h.first] = true;
    for (size_t i = 0; i < doses.size(); ++i) {
        owner[i] = drug_for(doses[i]);
        const DoseMention& d = doses[i];
        if (owner[i] && d.judged && d.limit && !d.per_kg && !d.per_dose) {
            auto [it, fresh] = stated_limit.emplace(owner[i]->drug, d.high);
            if (!fresh) it->second = std::min(it->second, d.high);
        }
    }

    for (size_t i = 0; i < doses.size(); ++i) {
        const DoseMention& d = doses[i];
        const DrugHit* hit = owner[i];
        if (!hit || !d.judged) continue;
        const uint32_t dose_sentence = toks[d.first].sentence;
        if (dose_sentence < toxicity_sentence.size() && toxicity_sentence[dose_sentence]) {
            ++toxicity_skipped;
            continue;
        }
        const Impl::Drug& drug = impl_->drugs[hit->drug];
        const DoseDimension dim = impl_->rows[drug.rows.front()].dimension;
        if ((dim == DoseDimension::kUnits) != (d.unit == UnitKind::kUnits)) continue;

        // The region after the dose that its frequency and route come from.
        size_t region_end = d.last;
        if (hit->first >= d.last && hit->first <= d.last + 1) region_end = hit->last;
        while (region_end < nt && same_sentence(region_end, d.first) && !stops[region_end]) {
            ++region_end;
        }
        const bool same = same_sentence(hit->first, d.first);
        const size_t route_from = same ? std::min(hit->first, d.first) : d.first;
        std::string_view route;
        for (size_t k = route_from; k < region_end; ++k) {
            std::string_view r = route_of(word(k));
            if (r == "PO" && word(k) == "mouth" && word(k - 1) != "by") continue;
            if (!r.empty()) {
                route = r;
                break;
            }
        }
        if (route == "other") continue;

        // The rows that apply, combined: the most permissive ceiling, or none if one row has none.
        std::optional<double> max_daily, max_single, ped_per_kg, ped_cap;
        bool daily_open = false, single_open = false, ped_open = false, cap_open = false;
        double usual_low = 0, usual_high = 0;
        bool any = false;
        for (size_t r : drug.rows) {
            const DoseRow& row = impl_->rows[r];
            if (!route.empty() && row.route != route && row.route != "any") continue;
            auto merge = [](std::optional<double>& acc, bool& open,
                            const std::optional<double>& v) {
                if (!v) {
                    open = true;
                } else if (!acc || *v > *acc) {
                    acc = v;
                }
            };
            merge(max_daily, daily_open, row.max_daily);
            merge(max_single, single_open, row.max_single);
            merge(ped_per_kg, ped_open, row.ped_per_kg_day);
            merge(ped_cap, cap_open, row.ped_cap);
            usual_low = any ? std::min(usual_low, row.usual_low) : row.usual_low;
            usual_high = any ? std::max(usual_high, row.usual_high) : row.usual_high;
            any = true;
        }
        if (!any) continue;  // a route the table has no row for
        if (daily_open) max_daily.reset();
        if (single_open) max_single.reset();
        if (ped_open) ped_per_kg.reset();
        if (cap_open) ped_cap.reset();
        ++judged;

        const uint32_t sentence = toks[d.first].sentence;
        std::optional<double> weight;
        if (auto it = sentence_weight.find(sentence); it != sentence_weight.end()) {
            weight = it->second;
        } else if (text_weight) {
            weight = text_weight;
        } else {
            weight = options_.weight_kg;
        }
        const bool child = options_.paediatric ||
                           (sentence < child_sentence.size() && child_sentence[sentence]) ||
                           (weight && *weight < 40);

        Span span;
        span.begin =
            same ? std::min(toks[hit->first].begin, toks[d.first].begin) : toks[d.first].begin;
        span.end =
            same ? std::max(toks[hit->last - 1].end, toks[d.last - 1].end) : toks[d.last - 1].end;
        auto add = [&](size_t rule, double score, std::string detail) {
            Finding f;
            f.rule = rule;
            f.score = std::clamp(score, 0.0, 1.0);
            f.span = span;
            f.span.label = fmt::format("{}:{}", kDoseRules[rule], drug.name);
            f.detail = std::move(detail);
            findings.push_back(std::move(f));
        };
        auto above_score = [](double ratio) { return 0.5 + 0.25 * std::log2(ratio); };

        // Unit mix-up: 10x outside the usual range, and the mg<->mcg (or g<->mg) reading inside.
        if (!d.per_kg && !d.limit && dim == DoseDimension::kMass && usual_high > 0) {
            const double v = d.high;
            const bool too_big =
                v > usual_high * 10 && v / 1000 >= usual_low && v / 1000 <= usual_high;
            const bool too_small =
                v < usual_low / 10 && v * 1000 >= usual_low && v * 1000 <= usual_high;
            if (too_big || too_small) {
                add(0, 0.9,
                    fmt::format("{}: {} is 1000x outside the usual dose {}-{}; mg and mcg "
                                "confused?",
                                drug.name, fmt_amount(v, dim), fmt_amount(usual_low, dim),
                                fmt_amount(usual_high, dim)));
                continue;
            }
        }

        if (d.limit) {
            // A stated maximum: only a maximum above the table's fires. A threshold ("toxic
            // above 7.5 g", "ingestions of more than 150 mg/kg") never does.
            if (d.per_kg || d.per_dose || !d.maximum) continue;
            std::optional<double> limit = child && ped_cap ? ped_cap : max_daily;
            if (child && weight && ped_per_kg) {
                double by_weight = *ped_per_kg * *weight;
                limit = limit ? std::min(*limit, by_weight) : by_weight;
            }
            if (limit && d.high > *limit * 1.0001) {
                add(1, above_score(d.high / *limit),
                    fmt::format("{}: a stated maximum of {}/day is above the label maximum {}/day",
                                drug.name, fmt_amount(d.high, dim), fmt_amount(*limit, dim)));
            }
            continue;
        }

        double cap = 0;
        PerDay freq = d.per_day ? PerDay{1, 1} : frequency(d.last, region_end, cap);
        if (!d.per_day && cap > 0) {
            freq.hi = freq.hi > 0 ? std::min(freq.hi, cap) : cap;
            freq.lo = std::min(freq.lo > 0 ? freq.lo : freq.hi, freq.hi);
        }
        const bool frequency_known = d.per_day || freq.hi > 0;
        if (!frequency_known) {
            no_frequency.push_back(drug.name);
            freq = {1, 1};  // judged as taken once: a single dose above the daily maximum fires
        }
        const double per_day = freq.hi;

        // Per-kg doses: compare per kg when there is no weight, else convert.
        double single = d.high;
        double daily = d.per_day ? d.high : d.high * per_day;
        if (d.per_kg) {
            if (!weight) {
                if (ped_per_kg && daily > *ped_per_kg * 1.0001) {
                    add(1, above_score(daily / *ped_per_kg),
                        fmt::format("{}: {:g} mg/kg/day is above the paediatric maximum {:g} "
                                    "mg/kg/day",
                                    drug.name, round_sig(daily), round_sig(*ped_per_kg)));
                }
                continue;
            }
            single *= *weight;
            daily *= *weight;
        }
        // "1 g every 4-6 hours, not more than 4 g in 24 hours": the stated limit bounds a schedule
        // that can keep to it (every 6 hours), not one that cannot ("2 g every 6 hours").
        if (auto it = stated_limit.find(hit->drug); it != stated_limit.end() && !d.per_day &&
                                                    frequency_known &&
                                                    single * freq.lo <= it->second * 1.0001) {
            daily = std::min(daily, it->second);
        }

        std::optional<double> limit;
        std::string limit_name;
        if (child) {
            if (weight && ped_per_kg) {
                limit = *ped_per_kg * *weight;
                limit_name = fmt::format("paediatric maximum {:g} mg/kg/day x {:g} kg",
                                         round_sig(*ped_per_kg), round_sig(*weight));
            }
            if (ped_cap && (!limit || *ped_cap < *limit)) {
                limit = ped_cap;
                limit_name = fmt::format("paediatric maximum {}/day", fmt_amount(*ped_cap, dim));
            }
        }
        if (max_daily && (!limit || *max_daily < *limit)) {
            limit = max_daily;
            limit_name = fmt::format("adult maximum {}/day", fmt_amount(*max_daily, dim));
        }
        if (limit && daily > *limit * 1.0001) {
            add(1, above_score(daily / *limit),
                fmt::format("{}: {}/day{} is above the {}{}", drug.name, fmt_amount(daily, dim),
                            frequency_known ? "" : " (no frequency: read as once a day)",
                            limit_name, route.empty() ? "" : fmt::format(" ({})", route)));
            continue;
        }
        if (!d.per_day && max_single && single > *max_single * 1.0001) {
            add(2, above_score(single / *max_single),
                fmt::format("{}: {} per dose is above the maximum single dose {}", drug.name,
                            fmt_amount(single, dim), fmt_amount(*max_single, dim)));
        }
    }

    if (findings.empty()) {
        if (judged == 0 && toxicity_skipped > 0) {
            result.detail = "only amounts in sentences about overdose or toxicity, not judged";
        } else if (judged == 0) {
            result.detail = "no dose of a drug in the table found";
        } else {
            result.detail = fmt::format("{} dose mention{} within the table's maxima", judged,
                                        judged == 1 ? "" : "s");
            if (!no_frequency.empty()) {
                std::sort(no_frequency.begin(), no_frequency.end());
                no_frequency.erase(std::unique(no_frequency.begin(), no_frequency.end()),
                                   no_frequency.end());
                result.detail += "; no_frequency: ";
                for (size_t i = 0; i < no_frequency.size(); ++i) {
                    result.detail += (i ? ", " : "") + no_frequency[i];
                }
            }
        }
        return result;
    }
    const Finding* top = &findings.front();
    for (const auto& f : findings) {
        if (f.rule < top->rule || (f.rule == top->rule && f.score > top->score)) top = &f;
        result.score = std::max(result.score, f.score);
    }
    result.fired = true;
    result.rule = std::string(kDoseRules[top->rule]);
    result.detail = top->detail;
    if (findings.size() > 1) {
        result.detail += fmt::format(" (+{} more finding{})", findings.size() - 1,
                                     findings.size() == 2 ? "" : "s");
    }
    for (const auto& f : findings) result.spans.push_back(f.span);
    std::stable_sort(result.spans.begin(), result.spans.end(),
                     [](const Span& a, const Span& b) { return a.begin < b.begin; });
    return result;
}

}  // namespace ward::safety
