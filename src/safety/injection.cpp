#include "safety/injection.h"

#include <algorithm>
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
    if (matches.empty()) {
        r.detail = "no instruction aimed at the assistant found" + note;
        return r;
    }
    const auto& patterns = patterns_->patterns();
    double best = 0;
    std::set<std::string_view> rules;
    for (const auto& m : matches) {
        const auto& p = patterns[m.pattern];
        rules.insert(p.rule);
        if (p.weight > best) {
            best = p.weight;
            r.rule = p.rule;
        }
    }
    double score = std::min(1.0, best + 0.05 * double(rules.size() - 1));
    if (score < options_.min_score) {
        r.rule.clear();
        r.detail = "found but below min_score: " + std::to_string(matches.size()) + " match(es)";
        return r;
    }
    r.fired = true;
    r.score = score;
    for (const auto& m : matches) r.spans.push_back({m.begin, m.end, patterns[m.pattern].rule});
    std::string list;
    for (auto rule : rules) list += (list.empty() ? "" : ", ") + std::string(rule);
    r.detail = "instruction aimed at the assistant inside data: " + list + note;
    return r;
}

}  // namespace ward::safety
