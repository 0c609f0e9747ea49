#include "safety/phi_leak.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

namespace ward::safety {

namespace {

// Words that make a bracketed run a placeholder rather than text: the deid tag names and the
// words templates use for them.
constexpr std::string_view kPlaceholderWords[] = {
    "name",      "patient",   "pt",        "date",     "dob",      "birth",     "mrn",
    "record",    "phone",     "telephone", "fax",      "email",    "e-mail",    "address",
    "street",    "city",      "zip",       "postcode", "ssn",      "age",       "id",
    "number",    "hospital",  "facility",  "clinic",   "location", "doctor",    "provider",
    "clinician", "physician", "redacted",  "removed",  "account",  "url",       "ip",
    "plan",      "license",   "licence",   "vehicle",  "device",   "biometric", "member",
    "first",     "last",      "surname",   "family",   "relative", "contact",   "mother",
    "father",    "nurse",     "day",       "month",    "year",     "time",      "place",
};

bool is_placeholder_word(std::string_view w) {
    std::string lower;
    for (char c : w) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
    return std::find(std::begin(kPlaceholderWords), std::end(kPlaceholderWords), lower) !=
           std::end(kPlaceholderWords);
}

// Bytes that may appear inside a placeholder.
bool placeholder_byte(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '_' || c == '-' ||
           c == '.' || c == ':' || c == '#' || c == '/';
}

constexpr size_t kMaxPlaceholder = 40;

}  // namespace

bool inside_placeholder(std::string_view text, size_t begin, size_t end) {
    if (begin >= end || end > text.size()) return false;
    // Walk outwards to the brackets.
    size_t open = begin;
    while (open > 0 && begin - open < kMaxPlaceholder && placeholder_byte(text[open - 1])) --open;
    if (open == 0) return false;
    char o = text[open - 1];
    char want = o == '[' ? ']' : o == '<' ? '>' : o == '{' ? '}' : 0;
    if (want == 0) return false;
    size_t close = end;
    while (close < text.size() && close - open < kMaxPlaceholder && placeholder_byte(text[close]))
        ++close;
    if (close >= text.size() || text[close] != want) return false;
    std::string_view inner = text.substr(open, close - open);
    // Words: upper case (NAME, PATIENT NAME) or snake_case lower (patient_name). Mixed case
    // words ("John Smith") are text, not a placeholder.
    bool any_placeholder_word = false;
    size_t i = 0;
    while (i < inner.size()) {
        while (i < inner.size() && !std::isalpha(static_cast<unsigned char>(inner[i]))) ++i;
        size_t j = i;
        while (j < inner.size() && std::isalpha(static_cast<unsigned char>(inner[j]))) ++j;
        if (j == i) break;
        std::string_view w = inner.substr(i, j - i);
        bool upper = std::all_of(
            w.begin(), w.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
        bool lower = std::all_of(
            w.begin(), w.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); });
        bool snake = lower && inner.find('_') != std::string_view::npos;
        bool lone_lower = lower && inner.find(' ') == std::string_view::npos;  // <name>, {phone}
        if (!upper && !snake && !lone_lower) return false;
        if (is_placeholder_word(w)) any_placeholder_word = true;
        i = j;
    }
    return any_placeholder_word;
}

PhiLeakRail::PhiLeakRail(std::shared_ptr<const deid::Deidentifier> deid, PhiLeakOptions options)
    : deid_(std::move(deid)), options_(std::move(options)) {}

Result<PhiLeakRail> PhiLeakRail::create(const PhiLeakOptions& options) {
    if (!(options.min_confidence >= 0 && options.min_confidence <= 1)) {
        return invalid_argument("phi-leak: min_confidence {} is outside [0, 1]",
                                options.min_confidence);
    }
    deid::DeidentifierOptions d;
    d.min_confidence = options.min_confidence;
    auto made = deid::Deidentifier::create(std::move(d));
    if (!made) return made.error().with_context("phi-leak");
    return PhiLeakRail(std::shared_ptr<const deid::Deidentifier>(std::move(*made)), options);
}

RailResult PhiLeakRail::check(std::string_view text) const {
    RailResult r;
    r.rail = "phi-leak";
    std::string repaired;
    bool had_invalid = false;
    if (!deid::validate_utf8(text).ok()) {
        // Replace each byte of an invalid sequence by '?', one byte for one byte, so the spans
        // found stay offsets of `text`.
        repaired.assign(text);
        size_t i = 0;
        while (i < repaired.size()) {
            size_t n = 0;  // the length of the valid character at i; 0: none
            for (size_t len = 1; len <= 4 && i + len <= repaired.size() && n == 0; ++len) {
                if (deid::validate_utf8(std::string_view(repaired).substr(i, len)).ok()) n = len;
            }
            if (n == 0) {
                repaired[i] = '?';
                n = 1;
            }
            i += n;
        }
        text = repaired;
        had_invalid = true;
    }
    auto found = deid_->detect(text);
    if (!found) {
        r.detail = "not checked: " + found.error().message();
        return r;
    }
    std::map<std::string, size_t> per_category;
    float best = -1;
    for (const deid::Span& s : *found) {
        if (s.confidence < options_.min_confidence) continue;
        if (std::find(options_.ignore.begin(), options_.ignore.end(), s.category) !=
            options_.ignore.end()) {
            continue;
        }
        if (inside_placeholder(text, s.start, s.end)) continue;
        std::string label(deid::category_name(s.category));
        if (s.confidence > best) {
            best = s.confidence;
            r.rule = label;
        }
        ++per_category[label];
        r.spans.push_back({s.start, s.end, std::move(label)});
    }
    std::string note = had_invalid ? " (invalid UTF-8 bytes read as '?')" : "";
    if (r.spans.empty()) {
        r.detail = "no identifiers found" + note;
        return r;
    }
    r.fired = true;
    r.score = std::clamp(double(best), 0.0, 1.0);
    std::string counts;
    for (const auto& [category, n] : per_category) {
        counts += (counts.empty() ? "" : ", ") + category + " " + std::to_string(n);
    }
    r.detail = std::to_string(r.spans.size()) +
               (r.spans.size() == 1 ? " identifier: " : " identifiers: ") + counts + note;
    return r;
}

}  // namespace ward::safety
