#include "safety/injection.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace ward::safety {

namespace data {
extern const std::string_view kInjectionPatterns;
}

std::string_view injection_patterns_text() {
    return data::kInjectionPatterns;
}

namespace {

bool known_rule(std::string_view rule) {
    return std::find(std::begin(kInjectionRules), std::end(kInjectionRules), rule) !=
           std::end(kInjectionRules);
}

}  // namespace

InjectionDetector::InjectionDetector(std::shared_ptr<const PatternSet> patterns,
                                     InjectionOptions options)
    : patterns_(std::move(patterns)), options_(std::move(options)) {}

Result<InjectionDetector> InjectionDetector::create(const InjectionOptions& options) {
    if (!(options.min_score > 0 && options.min_score <= 1)) {
        return invalid_argument("injection: min_score {} is outside (0, 1]", options.min_score);
    }
    auto set = std::make_shared<PatternSet>();
    WARD_TRY(set->add_text(injection_patterns_text(), "injection_patterns.tsv"));
    size_t built_in = set->patterns().size();
    WARD_TRY(set->add_text(options.extra_patterns, "injection extra_patterns"));
    for (size_t i = 0; i < set->patterns().size(); ++i) {
        const auto& p = set->patterns()[i];
        if (!known_rule(p.rule)) {
            return invalid_argument("injection: {}: unknown rule \"{}\" ({})", p.where, p.rule,
                                    i < built_in ? "built-in table" : "extra_patterns");
        }
    }
    return InjectionDetector(std::move(set), options);
}

RailResult InjectionDetector::check(std::string_view text) const {
    RailResult r;
    r.rail = "injection";
    bool truncated = text.size() > kInjectionMaxBytes;
    if (truncated) text = text.substr(0, kInjectionMaxBytes);
    bool incomplete = false;
    std::vector<PatternSet::Match> matches = patterns_->find_all(text, &incomplete);
    std::string note = truncated    ? " (checked the first 1 MiB only)"
                       : incomplete ? " (a pattern reached its match limit)"
                                    : "";
    const auto& patterns = patterns_->patterns();

    // Sentence starts: after . ! ? followed by whitespace, and after a line break.
    std::vector<size_t> starts;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool end = c == '\n' || ((c == '.' || c == '!' || c == '?') && i + 1 < text.size() &&
                                 std::isspace(static_cast<unsigned char>(text[i + 1])));
        if (end) starts.push_back(i + 1);
    }
    auto sentence_of = [&](size_t offset) {
        return size_t(std::upper_bound(starts.begin(), starts.end(), offset) - starts.begin());
    };

    // Cues add up per sentence, each pattern once.
    struct CueSentence {
        std::set<size_t> patterns;
        double sum = 0;
        double heaviest = 0;
        std::string_view rule;
    };
    std::map<size_t, CueSentence> cues;
    for (const auto& m : matches) {
        const auto& p = patterns[m.pattern];
        if (p.weight >= kInjectionCueLimit) continue;
        CueSentence& c = cues[sentence_of(m.begin)];
        if (!c.patterns.insert(m.pattern).second) continue;
        c.sum += p.weight;
        if (p.weight > c.heaviest) {
            c.heaviest = p.weight;
            c.rule = p.rule;
        }
    }

    double best = 0;
    std::set<std::string_view> rules;
    size_t cues_seen = 0;
    for (const auto& m : matches) {
        const auto& p = patterns[m.pattern];
        double weight = p.weight;
        std::string_view rule = p.rule;
        if (p.weight < kInjectionCueLimit) {
            ++cues_seen;
            const CueSentence& c = cues[sentence_of(m.begin)];
            if (c.sum < kInjectionCueLimit) continue;  // a cue alone is no evidence
            weight = std::min(kInjectionCueCap, c.sum);
            rule = c.rule;
        }
        rules.insert(p.rule);
        if (weight > best) {
            best = weight;
            r.rule = std::string(rule);
        }
        r.spans.push_back({m.begin, m.end, p.rule});
    }
    if (r.spans.empty()) {
        r.rule.clear();
        r.detail = cues_seen == 0 ? "no instruction aimed at the assistant found" + note
                                  : "weak cues only (" + std::to_string(cues_seen) +
                                        "), none confirmed in the same sentence" + note;
        return r;
    }
    double score = std::min(1.0, best + 0.05 * double(rules.size() - 1));
    if (score < options_.min_score) {
        r.rule.clear();
        r.spans.clear();
        r.detail = "found but below min_score: " + std::to_string(matches.size()) + " match(es)";
        return r;
    }
    r.fired = true;
    r.score = score;
    std::string list;
    for (auto rule : rules) list += (list.empty() ? "" : ", ") + std::string(rule);
    r.detail = "instruction aimed at the assistant inside data: " + list + note;
    return r;
}

}  // namespace ward::safety
