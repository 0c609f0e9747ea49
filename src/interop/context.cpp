#include "interop/context.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace ward::interop {

Result<Profile> parse_profile(std::string_view name) {
    if (name == "general" || name == "summary") return Profile::kGeneral;
    if (name == "oncology") return Profile::kOncology;
    if (name == "dermatology") return Profile::kDermatology;
    if (name == "dental") return Profile::kDental;
    if (name == "neurology" || name == "cognition") return Profile::kNeurology;
    if (name == "mental-health" || name == "mental_health") return Profile::kMentalHealth;
    return invalid_argument(
        "unknown context profile \"{}\" (expected general, oncology, dermatology, dental, "
        "neurology or mental-health)",
        name);
}

std::string_view profile_name(Profile p) {
    switch (p) {
        case Profile::kGeneral:
            return "general";
        case Profile::kOncology:
            return "oncology";
        case Profile::kDermatology:
            return "dermatology";
        case Profile::kDental:
            return "dental";
        case Profile::kNeurology:
            return "neurology";
        case Profile::kMentalHealth:
            return "mental-health";
    }
    return "general";
}

std::vector<Profile> all_profiles() {
    return {Profile::kGeneral, Profile::kOncology,  Profile::kDermatology,
            Profile::kDental,  Profile::kNeurology, Profile::kMentalHealth};
}

size_t estimate_tokens(std::string_view s) {
    auto alpha = [](unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; };
    size_t n = s.empty() ? 0 : 1;  // a start-of-text piece (SentencePiece's dummy prefix)
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (alpha(c)) {
            size_t j = i;
            while (j < s.size() && alpha(static_cast<unsigned char>(s[j]))) ++j;
            n += (j - i + 1) / 2;
            i = j;
        } else if (c == ' ' && i + 1 < s.size() && alpha(static_cast<unsigned char>(s[i + 1])) &&
                   (i == 0 || s[i - 1] != ' ')) {
            ++i;  // a single space before a word joins the word's first token
        } else {
            ++n;
            ++i;
        }
    }
    return n;
}

namespace {

const std::vector<std::string_view>& keywords(Profile p) {
    static const std::vector<std::string_view> kNone;
    static const std::vector<std::string_view> kOnc = {"neoplasm",
                                                       "cancer",
                                                       "carcinoma",
                                                       "tumor",
                                                       "tumour",
                                                       "malignan",
                                                       "lymphoma",
                                                       "leukemia",
                                                       "leukaemia",
                                                       "melanoma",
                                                       "metasta",
                                                       "chemo",
                                                       "radiation",
                                                       "oncolog",
                                                       "biopsy",
                                                       "mammogra",
                                                       "prostate specific",
                                                       "carcinoembryonic",
                                                       "hemoglobin",
                                                       "platelet",
                                                       "leukocytes",
                                                       "neutrophil",
                                                       "weight"};
    static const std::vector<std::string_view> kDerm = {
        "skin",  "derma", "eczema",     "psoriasis",  "rash",     "melanoma",
        "nevus", "acne",  "urticaria",  "hives",      "lesion",   "ulcer",
        "wound", "burn",  "cellulitis", "laceration", "pruritus", "allerg"};
    static const std::vector<std::string_view> kDental = {
        "dental",     "tooth",          "teeth", "gingiv",   "periodont", "caries",
        "oral",       "mouth",          "jaw",   "fluoride", "dentist",   "bleeding",
        "anticoagul", "bisphosphonate", "allerg"};
    static const std::vector<std::string_view> kNeuro = {
        "dementia", "alzheimer", "parkinson", "cognit",   "memory",      "seizure", "epilep",
        "stroke",   "sclerosis", "neuropath", "migraine", "concussion",  "brain",   "mini-mental",
        "moca",     "mmse",      "headache",  "fall",     "vitamin b12", "thyro"};
    static const std::vector<std::string_view> kMental = {
        "depress",   "anxiety", "bipolar", "schizo",  "psych",   "ptsd",  "stress",   "suicid",
        "substance", "alcohol", "opioid",  "drug",    "phq",     "gad-7", "mood",     "insomnia",
        "sleep",     "eating",  "adhd",    "behavio", "tobacco", "smok",  "violence", "abuse"};
    switch (p) {
        case Profile::kGeneral:
            return kNone;
        case Profile::kOncology:
            return kOnc;
        case Profile::kDermatology:
            return kDerm;
        case Profile::kDental:
            return kDental;
        case Profile::kNeurology:
            return kNeuro;
        case Profile::kMentalHealth:
            return kMental;
    }
    return kNone;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool relevant(Profile p, std::string_view label) {
    const auto& kw = keywords(p);
    if (kw.empty()) return false;
    std::string l = lower(label);
    for (auto k : kw) {
        if (l.find(k) != std::string::npos) return true;
    }
    return false;
}

// Sections in the order they are rendered, with their item-id letter.
enum Section {
    kAllergies,
    kProblems,
    kMedications,
    kResults,
    kVitals,
    kNotes,
    kCarePlans,
    kProcedures,
    kEncounters,
    kImmunizations,
    kPastProblems,
    kSectionCount
};
constexpr const char* kSectionTitle[] = {"Allergies",
                                         "Active problems",
                                         "Current medications",
                                         "Results (latest, with trend)",
                                         "Vital signs (latest)",
                                         "Notes",
                                         "Care plans",
                                         "Procedures",
                                         "Recent encounters",
                                         "Immunizations",
                                         "Past problems"};
constexpr char kSectionLetter[] = {'A', 'P', 'M', 'L', 'V', 'N', 'C', 'S', 'E', 'I', 'H'};

struct Candidate {
    int tier = 9;       // lower goes in first
    int relevance = 0;  // higher first within a tier
    int64_t days = 0;   // more recent first
    Section section = kProblems;
    std::string body;  // the line without its id
    std::string label;
    std::vector<Source> sources;
};

std::string one_line(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    bool space = false;
    for (char c : s) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

// Cuts at a UTF-8 boundary, adding "..." when cut.
std::string cut(std::string s, size_t max) {
    if (s.size() <= max) return s;
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
    return s + "...";
}

std::string span_text(int64_t days) {
    if (days < 14) return fmt::format("{} days", days);
    if (days < 61) return fmt::format("{} weeks", (days + 3) / 7);
    int64_t months = static_cast<int64_t>(std::llround(static_cast<double>(days) / 30.44));
    if (months < 24) return fmt::format("{} months", months);
    return fmt::format("{} years", static_cast<int64_t>(std::llround(days / 365.25)));
}

int64_t day_of(std::string_view date) {
    auto d = days_from_date(date);
    return d ? *d : INT64_MIN / 2;
}

std::string code_suffix(const Concept& c) {
    static const std::pair<std::string_view, std::string_view> kNames[] = {
        {kSnomed, "SNOMED"}, {kLoinc, "LOINC"}, {kRxNorm, "RxNorm"},
        {kIcd10, "ICD-10"},  {kCvx, "CVX"},     {"http://hl7.org/fhir/sid/icd-10", "ICD-10"}};
    for (const auto& coding : c.codings) {
        for (const auto& [uri, name] : kNames) {
            if (coding.system == uri && !coding.code.empty()) {
                return fmt::format(" ({} {})", name, coding.code);
            }
        }
    }
    return "";
}

// Long LOINC names lose their qualifiers: "Influenza virus A RNA [Presence] in Respiratory
// specimen by NAA with probe detection" → "Influenza virus A RNA" (the code stays cited).
std::string short_label(const std::string& label) {
    if (label.size() <= 40) return label;
    size_t bracket = label.find(" [");
    if (bracket != std::string::npos && bracket >= 8) return label.substr(0, bracket);
    return label;
}

std::string observation_value(const Observation& o) {
    if (o.value.kind != ObservationValue::Kind::kNone) return o.value.to_string();
    // Blood pressure style: two quantities with one unit → "120/80 mm[Hg]".
    // Systolic first, whatever order the components came in.
    if (o.components.size() == 2 && o.components[0].value.number && o.components[1].value.number &&
        o.components[0].value.unit == o.components[1].value.unit) {
        size_t sys = lower(o.components[1].code.label()).find("systolic") != std::string::npos;
        return fmt::format("{}/{} {}", *o.components[sys].value.number,
                           *o.components[1 - sys].value.number, o.components[0].value.unit);
    }
    std::string out;
    for (const auto& c : o.components) {
        if (!out.empty()) out += "; ";
        out += c.code.label() + " " + c.value.to_string();
    }
    return out;
}

class Builder {
  public:
    Builder(const PatientRecord& r, const ContextOptions& o, int64_t ref)
        : r_(r), o_(o), ref_(ref) {}

    std::vector<Candidate> candidates() {
        allergies();
        problems();
        medications();
        observations();
        notes();
        care_plans();
        procedures();
        encounters();
        immunizations();
        return std::move(out_);
    }

  private:
    bool future(std::string_view date) const {
        auto d = days_from_date(date);
        return d && *d > ref_;
    }
    bool recent(std::string_view date, int64_t within_days) const {
        auto d = days_from_date(date);
        return d && ref_ - *d <= within_days;
    }
    void add(Candidate c) { out_.push_back(std::move(c)); }

    void allergies() {
        for (const auto& a : r_.allergies) {
            if (a.clinical_status == "resolved" || a.clinical_status == "inactive") continue;
            std::string body = a.code.label();
            if (!a.criticality.empty()) body += ", " + a.criticality + " criticality";
            for (const auto& re : a.reactions) {
                std::string m;
                for (const auto& x : re.manifestations) m += (m.empty() ? "" : ", ") + x;
                if (!m.empty()) body += "; reaction: " + m;
                if (!re.severity.empty()) body += " (" + re.severity + ")";
            }
            add({0, 0, day_of(a.onset), kAllergies, body, a.code.label(), a.sources});
        }
    }

    void problems() {
        for (const auto& p : r_.problems) {
            if (future(p.onset.empty() ? p.recorded : p.onset)) continue;
            bool rel = relevant(o_.profile, p.code.label());
            std::string label = p.code.label();
            bool active = p.active() && !future(p.abatement) ? p.active() : p.active();
            if (!p.abatement.empty() && !future(p.abatement)) active = false;
            if (!p.abatement.empty() && future(p.abatement)) active = true;
            if (active) {
                std::string body = label + code_suffix(p.code);
                if (!p.onset.empty()) body += ", since " + std::string(date_key(p.onset));
                add({rel ? 0 : 1, rel ? 1 : 0, day_of(p.onset), kProblems, body, label, p.sources});
            } else {
                std::string body = label + code_suffix(p.code);
                if (!p.onset.empty()) body += ", " + std::string(date_key(p.onset));
                if (!p.abatement.empty()) body += " to " + std::string(date_key(p.abatement));
                add({rel                    ? 2
                     : recent(p.onset, 730) ? 3
                                            : 5,
                     rel ? 1 : 0, day_of(p.onset), kPastProblems, body, label, p.sources});
            }
        }
    }

    void medications() {
        for (const auto& m : r_.medications) {
            if (future(m.start)) continue;
            bool ended =
                !m.end.empty() && !future(m.end) && m.kind != Medication::Kind::kAdministration;
            if (!m.current() || ended) continue;
            std::string body = m.code.label() + code_suffix(m.code);
            if (!m.dosage.empty()) {
                body += ": " + m.dosage;
            } else if (m.dose_value) {
                body += fmt::format(": {} {}", *m.dose_value, m.dose_unit);
            }
            if (!m.start.empty()) body += " (since " + std::string(date_key(m.start)) + ")";
            bool rel = relevant(o_.profile, m.code.label());
            add({1, rel ? 1 : 0, day_of(m.start), kMedications, body, m.code.label(), m.sources});
        }
    }

    void observations() {
        // Series by code, oldest first.
        std::map<std::string, std::vector<const Observation*>> series;
        for (const auto& o : r_.observations) {
            if (future(o.effective)) continue;
            std::string key = o.code.key();
            if (key.empty()) key = "label|" + o.code.label();
            series[key].push_back(&o);
        }
        for (auto& [key, list] : series) {
            std::stable_sort(list.begin(), list.end(), [](auto* a, auto* b) {
                return day_of(a->effective) < day_of(b->effective) ||
                       (day_of(a->effective) == day_of(b->effective) &&
                        a->effective < b->effective);
            });
            const Observation& last = *list.back();
            std::string label = short_label(last.code.label());
            std::string body = label + ": " + observation_value(last);
            if (!last.effective.empty()) body += " (" + std::string(date_key(last.effective)) + ")";
            bool abnormal = last.abnormal();
            if (!last.interpretation.empty()) {
                std::string flags;
                for (const auto& f : last.interpretation) flags += (flags.empty() ? "" : ",") + f;
                body += " flag " + flags;
            }
            for (const auto& rr : last.reference_ranges) {
                if (!rr.text.empty())
                    body += "; range " + rr.text;
                else if (rr.low && rr.high)
                    body += fmt::format("; range {}-{}", *rr.low, *rr.high);
                else if (rr.high)
                    body += fmt::format("; range <{}", *rr.high);
                else if (rr.low)
                    body += fmt::format("; range >{}", *rr.low);
                break;
            }
            // Trend over the numeric values in the same unit within two years of the latest.
            std::vector<const Observation*> numeric;
            for (const auto* o : list) {
                if (o->value.kind == ObservationValue::Kind::kQuantity && o->value.number &&
                    o->value.unit == last.value.unit &&
                    day_of(last.effective) - day_of(o->effective) <= 730) {
                    numeric.push_back(o);
                }
            }
            std::vector<Source> sources = last.sources;
            if (numeric.size() >= 2 && numeric.back() == &last) {
                size_t first = numeric.size() > 4 ? numeric.size() - 4 : 0;
                std::string trend;
                for (size_t i = first; i < numeric.size(); ++i) {
                    trend += (trend.empty() ? "" : " -> ") +
                             fmt::format("{}", *numeric[i]->value.number);
                    if (i + 1 < numeric.size()) {
                        for (const auto& s : numeric[i]->sources) sources.push_back(s);
                    }
                }
                int64_t span = day_of(last.effective) - day_of(numeric[first]->effective);
                body += "; trend " + trend + " over " + span_text(span);
            }
            if (!last.notes.empty()) body += "; note: " + cut(one_line(last.notes[0]), 120);
            bool rel = relevant(o_.profile, label);
            bool is_recent = recent(last.effective, 365);
            int tier;
            Section section = last.vital() ? kVitals : kResults;
            if (last.vital()) {
                tier = is_recent ? (rel ? 2 : 3) : 6;
            } else {
                bool qualitative = last.value.kind == ObservationValue::Kind::kConcept;
                tier = abnormal ? 1 : rel ? 2 : !is_recent ? 5 : qualitative ? 4 : 2;
            }
            add({tier, (rel ? 2 : 0) + (abnormal ? 1 : 0), day_of(last.effective), section, body,
                 label, sources});
        }
    }

    void notes() {
        for (const auto& n : r_.notes) {
            if (future(n.date)) continue;
            std::string body;
            if (!n.date.empty()) body += std::string(date_key(n.date)) + " ";
            body += n.title.empty() ? "Note" : n.title;
            if (!n.author.empty()) body += " (" + n.author + ")";
            body += ": " + cut(one_line(n.text), o_.max_note_chars);
            bool rel = relevant(o_.profile, n.title + " " + n.text);
            add({recent(n.date, 365) || rel ? 2 : 5, rel ? 1 : 0, day_of(n.date), kNotes, body,
                 n.title, n.sources});
        }
    }

    void care_plans() {
        for (const auto& c : r_.care_plans) {
            if (future(c.start)) continue;
            bool active = c.status == "active";
            std::string body = c.title + " (" + c.status;
            if (!c.start.empty()) body += ", " + std::string(date_key(c.start));
            body += ")";
            std::string acts;
            for (const auto& a : c.activities) acts += (acts.empty() ? "" : "; ") + a;
            if (!acts.empty()) body += ": " + acts;
            bool rel = relevant(o_.profile, c.title);
            add({active ? 2 : (rel ? 4 : 7), rel ? 1 : 0, day_of(c.start), kCarePlans, body,
                 c.title, c.sources});
        }
    }

    void procedures() {
        for (const auto& p : r_.procedures) {
            if (future(p.performed)) continue;
            std::string body = p.code.label() + code_suffix(p.code);
            if (!p.performed.empty()) body += ", " + std::string(date_key(p.performed));
            bool rel = relevant(o_.profile, p.code.label());
            add({rel                        ? 3
                 : recent(p.performed, 365) ? 4
                                            : 6,
                 rel ? 1 : 0, day_of(p.performed), kProcedures, body, p.code.label(), p.sources});
        }
    }

    void encounters() {
        std::vector<const Encounter*> list;
        for (const auto& e : r_.encounters) {
            if (!future(e.start)) list.push_back(&e);
        }
        std::stable_sort(list.begin(), list.end(), [](auto* a, auto* b) {
            return day_of(a->start) > day_of(b->start) ||
                   (day_of(a->start) == day_of(b->start) && a->start > b->start);
        });
        if (list.size() > 8) list.resize(8);
        for (size_t i = 0; i < list.size(); ++i) {
            const Encounter& e = *list[i];
            std::string body = std::string(date_key(e.start)) + " " + e.encounter_class;
            std::string type = e.type.label();
            if (!type.empty()) body += " " + type;
            if (!e.reason.empty()) body += ", for " + e.reason;
            if (!e.provider.empty()) body += ", " + e.provider;
            if (!e.location.empty()) body += " at " + e.location;
            bool rel = relevant(o_.profile, type + " " + e.reason);
            add({i < 3 ? 4 : 7, rel ? 1 : 0, day_of(e.start), kEncounters, body, type, e.sources});
        }
    }

    void immunizations() {
        std::map<std::string, std::vector<const Immunization*>> by_vaccine;
        for (const auto& i : r_.immunizations) {
            if (future(i.date) || i.status == "not-done") continue;
            by_vaccine[i.vaccine.label()].push_back(&i);
        }
        for (auto& [label, list] : by_vaccine) {
            std::stable_sort(list.begin(), list.end(),
                             [](auto* a, auto* b) { return day_of(a->date) < day_of(b->date); });
            std::string body = label + code_suffix(list.back()->vaccine) + ": ";
            size_t first = list.size() > 3 ? list.size() - 3 : 0;
            if (first > 0) body += fmt::format("{} doses, latest ", list.size());
            std::vector<Source> sources;
            for (size_t i = first; i < list.size(); ++i) {
                body += (i > first ? ", " : "") + std::string(date_key(list[i]->date));
                for (const auto& s : list[i]->sources) sources.push_back(s);
            }
            bool rel = relevant(o_.profile, label);
            add({rel ? 4 : 6, rel ? 1 : 0, day_of(list.back()->date), kImmunizations, body, label,
                 sources});
        }
    }

    const PatientRecord& r_;
    const ContextOptions& o_;
    int64_t ref_;
    std::vector<Candidate> out_;
};

}  // namespace

Result<Context> build_context(const PatientRecord& record, const ContextOptions& options) {
    const std::string& ref_text = options.reference_date;
    auto ref = days_from_date(ref_text);
    if (ref_text.size() != 10 || !ref || !is_fhir_date(ref_text)) {
        return invalid_argument("context: reference date \"{}\" is not YYYY-MM-DD", ref_text);
    }
    const Demographics& d = record.demographics;
    std::string header = "Patient";
    std::string name = d.display_name();
    if (!name.empty()) header += " " + name;
    header += " (id " + record.id + ")";
    if (!d.gender.empty()) header += ", " + d.gender;
    if (!d.birth_date.empty()) {
        header += ", born " + d.birth_date;
        auto born = days_from_date(d.birth_date);
        if (born && *born <= *ref) {
            int y = std::stoi(ref_text.substr(0, 4)) - std::stoi(d.birth_date.substr(0, 4));
            if (d.birth_date.size() >= 10 && ref_text.substr(5) < d.birth_date.substr(5, 5)) --y;
            header += fmt::format(" (age {})", y);
        }
    }
    if (!d.deceased.empty()) header += ", deceased " + d.deceased;
    header += fmt::format(".\nAs of {}; profile {}.\n", ref_text, profile_name(options.profile));
    // The model's counter when the caller has one, else the documented estimate.
    auto count = [&](std::string_view text) {
        return options.count_tokens ? options.count_tokens(text) : estimate_tokens(text);
    };
    size_t used = count(header);
    if (used > options.token_budget) {
        return resource_exhausted(
            "context: a budget of {} tokens cannot hold the patient header "
            "({} tokens)",
            options.token_budget, used);
    }

    std::vector<Candidate> cands = Builder(record, options, *ref).candidates();
    std::vector<size_t> order(cands.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const Candidate& x = cands[a];
        const Candidate& y = cands[b];
        if (x.tier != y.tier) return x.tier < y.tier;
        if (x.relevance != y.relevance) return x.relevance > y.relevance;
        if (x.days != y.days) return x.days > y.days;
        if (x.section != y.section) return x.section < y.section;
        return x.body < y.body;
    });

    // Greedy selection by priority; a section's heading is paid for with its first line.
    // Reserve room for the omission line. Estimates of parts add up to at least the estimate of
    // the whole (each part carries its own start-of-text token), so the sum is an upper bound.
    const std::string omitted_template = "(Omitted for the token budget: 99999 items.)\n";
    size_t reserve = count(omitted_template);
    std::vector<bool> chosen(cands.size(), false);
    std::vector<bool> opened(kSectionCount, false);
    for (size_t idx : order) {
        const Candidate& c = cands[idx];
        size_t cost = count("- [X99] " + c.body + "\n");
        if (!opened[c.section]) cost += count(std::string(kSectionTitle[c.section]) + ":\n");
        if (used + cost + reserve > options.token_budget) continue;
        used += cost;
        opened[c.section] = true;
        chosen[idx] = true;
    }

    auto render = [&]() {
        Context out;
        out.text = header;
        size_t n_included = 0;
        for (int s = 0; s < kSectionCount; ++s) {
            bool heading = false;
            size_t n = 0;
            for (size_t idx : order) {
                const Candidate& c = cands[idx];
                if (!chosen[idx] || c.section != s) continue;
                if (!heading) out.text += std::string(kSectionTitle[s]) + ":\n";
                heading = true;
                std::string id = fmt::format("{}{}", kSectionLetter[s], ++n);
                out.text += "- [" + id + "] " + c.body + "\n";
                out.citations.push_back({id, c.label, c.sources});
                ++n_included;
            }
        }
        out.n_included = n_included;
        out.n_omitted = cands.size() - n_included;
        // The closing line only when it fits (a budget barely above the header has no room).
        std::string closing;
        if (out.n_omitted > 0) {
            closing = fmt::format("(Omitted for the token budget: {} items.)\n", out.n_omitted);
        } else if (cands.empty()) {
            closing = "No clinical items recorded.\n";
        }
        if (count(out.text + closing) <= options.token_budget) out.text += closing;
        out.estimated_tokens = count(out.text);
        return out;
    };
    Context out = render();
    // A real tokenizer may merge across lines, so the sum of line costs is not always an upper
    // bound: drop the lowest-priority items until the whole text fits (never with the estimate).
    for (size_t k = order.size(); out.estimated_tokens > options.token_budget && k > 0; --k) {
        if (!chosen[order[k - 1]]) continue;
        chosen[order[k - 1]] = false;
        out = render();
    }
    if (out.estimated_tokens > options.token_budget) {
        return resource_exhausted(
            "context: a budget of {} tokens cannot hold the patient header "
            "({} tokens)",
            options.token_budget, out.estimated_tokens);
    }
    return out;
}

}  // namespace ward::interop
