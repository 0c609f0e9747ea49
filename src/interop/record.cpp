#include "interop/record.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include <fmt/format.h>

#include "common/civil_date.h"

namespace ward::interop {

std::string Concept::label() const {
    if (!text.empty()) return text;
    for (const auto& c : codings) {
        if (!c.display.empty()) return c.display;
    }
    for (const auto& c : codings) {
        if (!c.code.empty()) return c.code;
    }
    return "";
}

const Coding* Concept::find(std::string_view system) const {
    for (const auto& c : codings) {
        if (c.system == system) return &c;
    }
    return nullptr;
}

std::string Concept::key() const {
    for (const auto& c : codings) {
        if (!c.code.empty()) return c.system + "|" + c.code;
    }
    return text.empty() ? "" : "text|" + text;
}

std::string Source::to_string() const {
    if (kind == Kind::kHl7) return "hl7:" + id + (locator.empty() ? "" : "/" + locator);
    return id;
}

std::string Demographics::display_name() const {
    std::string out;
    for (const auto& g : given_names) {
        if (!out.empty()) out += ' ';
        out += g;
    }
    if (!family_name.empty()) {
        if (!out.empty()) out += ' ';
        out += family_name;
    }
    return out;
}

bool Problem::active() const {
    if (clinical_status.empty()) return abatement.empty();
    return clinical_status == "active" || clinical_status == "recurrence" ||
           clinical_status == "relapse";
}

bool Medication::current() const {
    if (status.empty()) return end.empty();
    return status == "active" || status == "on-hold" || status == "intended" || status == "draft";
}

namespace {
std::string num(double v) {
    return fmt::format("{}", v);
}
}  // namespace

std::string ObservationValue::to_string() const {
    switch (kind) {
        case Kind::kNone:
            return "";
        case Kind::kQuantity: {
            std::string s = comparator + (number ? num(*number) : std::string("?"));
            if (!unit.empty()) s += " " + unit;
            return s;
        }
        case Kind::kConcept:
            return concept_value.label();
        case Kind::kRange: {
            std::string s = (number ? num(*number) : "") + "-" + (high ? num(*high) : "");
            if (!unit.empty()) s += " " + unit;
            return s;
        }
        case Kind::kRatio:
            return (number ? num(*number) : "?") + "/" + (high ? num(*high) : "?") +
                   (unit.empty() ? "" : " " + unit);
        default:
            return text;
    }
}

bool Observation::abnormal() const {
    static constexpr std::string_view kAbnormal[] = {"H",  "L",   "HH",  "LL", "A", "AA", "HU",
                                                     "LU", "POS", "DET", "W",  "<", ">"};
    auto flagged = [](const std::vector<std::string>& codes) {
        for (const auto& c : codes) {
            for (auto a : kAbnormal) {
                if (c == a) return true;
            }
        }
        return false;
    };
    if (flagged(interpretation)) return true;
    for (const auto& c : components) {
        if (flagged(c.interpretation)) return true;
    }
    if (value.kind == ObservationValue::Kind::kConcept) {
        // Qualitative results: "Detected", "Positive (qualifier value)", "Abnormal".
        std::string label = value.concept_value.label();
        for (char& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (label.starts_with("detected") || label.starts_with("positive") ||
            label.starts_with("abnormal") || label.starts_with("reactive")) {
            return true;
        }
    }
    if (value.kind == ObservationValue::Kind::kQuantity && value.number) {
        for (const auto& r : reference_ranges) {
            if (r.low && *value.number < *r.low) return true;
            if (r.high && *value.number > *r.high) return true;
        }
    }
    return false;
}

namespace {

void add_sources(std::vector<Source>& into, const std::vector<Source>& from) {
    for (const auto& s : from) {
        if (std::find(into.begin(), into.end(), s) == into.end()) into.push_back(s);
    }
}

struct KeepFirst {
    template <typename T>
    void operator()(T&, const T&) const {}
};

// Keeps the first of each group of items with the same source id or the same content key;
// `update(kept, later)` may take newer facts from a later duplicate.
template <typename T, typename KeyFn, typename UpdateFn = KeepFirst>
void dedupe_items(std::vector<T>& items, KeyFn content_key, UpdateFn update = {}) {
    std::vector<T> kept;
    kept.reserve(items.size());
    std::unordered_map<std::string, size_t> by_key;
    by_key.reserve(items.size() * 3);
    std::vector<std::string> keys;
    for (auto& item : items) {
        keys.clear();
        for (const auto& s : item.sources) keys.push_back("s:" + s.to_string());
        std::string ck = content_key(item);
        if (!ck.empty()) keys.push_back("c:" + std::move(ck));
        size_t target = SIZE_MAX;
        for (const auto& k : keys) {
            auto it = by_key.find(k);
            if (it != by_key.end()) {
                target = it->second;
                break;
            }
        }
        if (target == SIZE_MAX) {
            target = kept.size();
            kept.push_back(std::move(item));
        } else {
            update(kept[target], item);
            add_sources(kept[target].sources, item.sources);
        }
        for (const auto& k : keys) by_key.emplace(k, target);
    }
    items = std::move(kept);
}

}  // namespace

void PatientRecord::dedupe() {
    dedupe_items(problems, [](const Problem& p) {
        return p.code.key().empty() ? "" : p.code.key() + "@" + std::string(date_key(p.onset));
    });
    dedupe_items(medications, [](const Medication& m) {
        return m.code.key().empty() ? "" : m.code.key() + "@" + m.start + "@" + m.dosage;
    });
    dedupe_items(allergies, [](const Allergy& a) { return a.code.key(); });
    dedupe_items(observations, [](const Observation& o) {
        if (o.code.key().empty()) return std::string();
        std::string k = o.code.key() + "@" + o.effective + "=" + o.value.to_string();
        for (const auto& c : o.components) k += ";" + c.value.to_string();
        return k;
    });
    dedupe_items(procedures, [](const Procedure& p) {
        return p.code.key().empty() ? "" : p.code.key() + "@" + p.performed;
    });
    dedupe_items(immunizations, [](const Immunization& i) {
        return i.vaccine.key().empty() ? "" : i.vaccine.key() + "@" + i.date;
    });
    dedupe_items(
        encounters,
        [](const Encounter& e) {
            if (!e.visit_id.empty()) return "visit:" + e.visit_id;
            return e.start.empty() ? "" : e.encounter_class + "@" + e.start + "@" + e.type.key();
        },
        [](Encounter& kept, const Encounter& later) {
            // A discharge (A03) or update (A08) of the same visit: take what it adds.
            if (!later.end.empty()) kept.end = later.end;
            if (!later.status.empty()) kept.status = later.status;
            if (!later.location.empty()) kept.location = later.location;
            if (!later.provider.empty()) kept.provider = later.provider;
        });
    dedupe_items(notes, [](const Note& n) {
        return n.text.empty() ? "" : n.date + "@" + n.title + "@" + n.text;
    });
    dedupe_items(reports, [](const Report& r) {
        return r.code.key().empty() ? "" : r.code.key() + "@" + r.date;
    });
    dedupe_items(care_plans, [](const CarePlan& c) { return c.title + "@" + c.start; });
}

namespace {
template <typename T>
void append_items(std::vector<T>& into, std::vector<T>&& from) {
    into.insert(into.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
}
}  // namespace

void PatientRecord::merge(PatientRecord&& other) {
    append(std::move(other));
    dedupe();
}

void PatientRecord::append(PatientRecord&& other) {
    Demographics& d = demographics;
    Demographics& o = other.demographics;
    auto fill = [](std::string& a, std::string& b) {
        if (a.empty()) a = std::move(b);
    };
    fill(d.family_name, o.family_name);
    if (d.given_names.empty()) d.given_names = std::move(o.given_names);
    fill(d.gender, o.gender);
    fill(d.birth_date, o.birth_date);
    fill(d.deceased, o.deceased);
    fill(d.city, o.city);
    fill(d.state, o.state);
    fill(d.country, o.country);
    fill(d.language, o.language);
    for (auto& i : o.identifiers) {
        if (std::find(d.identifiers.begin(), d.identifiers.end(), i) == d.identifiers.end()) {
            d.identifiers.push_back(std::move(i));
        }
    }
    add_sources(d.sources, o.sources);
    append_items(problems, std::move(other.problems));
    append_items(medications, std::move(other.medications));
    append_items(allergies, std::move(other.allergies));
    append_items(observations, std::move(other.observations));
    append_items(procedures, std::move(other.procedures));
    append_items(immunizations, std::move(other.immunizations));
    append_items(encounters, std::move(other.encounters));
    append_items(notes, std::move(other.notes));
    append_items(reports, std::move(other.reports));
    append_items(care_plans, std::move(other.care_plans));
}

size_t PatientRecord::item_count() const {
    return problems.size() + medications.size() + allergies.size() + observations.size() +
           procedures.size() + immunizations.size() + encounters.size() + notes.size() +
           reports.size() + care_plans.size();
}

std::string_view date_key(std::string_view date) {
    return date.substr(0, std::min<size_t>(date.size(), 10));
}

namespace {
bool digits(std::string_view s, size_t pos, size_t n) {
    if (pos + n > s.size()) return false;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
}
int to_int(std::string_view s, size_t pos, size_t n) {
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
}
}  // namespace

std::optional<int64_t> days_from_date(std::string_view date) {
    if (!digits(date, 0, 4)) return std::nullopt;
    int y = to_int(date, 0, 4), m = 1, d = 1;
    if (date.size() >= 7 && date[4] == '-' && digits(date, 5, 2)) {
        m = to_int(date, 5, 2);
        if (date.size() >= 10 && date[7] == '-' && digits(date, 8, 2)) d = to_int(date, 8, 2);
    }
    if (!is_valid_date(y, m, d)) return std::nullopt;
    return days_from_civil(y, m, d);
}

bool is_fhir_date(std::string_view s) {
    if (!digits(s, 0, 4)) return false;
    if (s.size() == 4) return true;
    if (s.size() < 7 || s[4] != '-' || !digits(s, 5, 2)) return false;
    int m = to_int(s, 5, 2);
    if (m < 1 || m > 12) return false;
    if (s.size() == 7) return true;
    if (s.size() < 10 || s[7] != '-' || !digits(s, 8, 2)) return false;
    if (!is_valid_date(to_int(s, 0, 4), m, to_int(s, 8, 2))) return false;
    if (s.size() == 10) return true;
    if (s[10] != 'T' || !digits(s, 11, 2) || s.size() < 16 || s[13] != ':' || !digits(s, 14, 2)) {
        return false;
    }
    if (to_int(s, 11, 2) > 24 || to_int(s, 14, 2) > 59) return false;
    size_t i = 16;
    if (i < s.size() && s[i] == ':') {
        if (!digits(s, i + 1, 2) || to_int(s, i + 1, 2) > 60) return false;
        i += 3;
        if (i < s.size() && s[i] == '.') {
            ++i;
            size_t start = i;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
            if (i == start) return false;
        }
    }
    if (i == s.size()) return true;
    if (s[i] == 'Z') return i + 1 == s.size();
    if (s[i] != '+' && s[i] != '-') return false;
    return s.size() == i + 6 && digits(s, i + 1, 2) && s[i + 3] == ':' && digits(s, i + 4, 2);
}

}  // namespace ward::interop
