// The injection rail: finds text aimed at the assistant inside clinical data, the notes,
// documents and retrieved passages that a prompt fences as data ("ignore previous
// instructions", "you are now ...", "reveal your system prompt", chat-template tokens such as
// "<|im_start|>" and "[INST]", a "</passage>" that would close the fence, requests to send data
// to a URL or to change the output format). Ordinary clinical imperatives ("take 1 tablet twice
// daily", "ignore the previous lab value, it was haemolysed", "disregard prior instructions to
// hold lisinopril") do not fire: the patterns require an object or an addressee that belongs to
// a model, not to care.
//
// Detection is a table of named, weighted patterns (src/safety/data/injection_patterns.tsv,
// syntax in safety/pattern_set.h) matched over the bytes of the text: strong patterns fire on
// their own, weak cues only when different cues meet in one sentence. The rail flags; it does
// not remove anything (the pipeline decides, per task, what a firing means).
//
// Thread safety: an InjectionDetector is immutable after create(); check() may run on any number
// of threads at once. Copies share the compiled patterns.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "safety/pattern_set.h"
#include "safety/rail.h"

namespace ward::safety {

// The rules `RailResult::rule` takes when the injection rail fires.
inline constexpr std::string_view kInjectionRules[] = {
    "override_instructions", "role_marker",  "fence_break",        "role_change",    "jailbreak",
    "prompt_extraction",     "exfiltration", "addressed_to_model", "output_control",
};

struct InjectionOptions {
    // More patterns in the injection_patterns.tsv format (site-specific phrases). They may use
    // the built-in sets; their rule names must be among kInjectionRules.
    std::string extra_patterns;
    // The rail fires when the score reaches this. Built-in patterns weigh at least 0.7, cues
    // (below kInjectionCueLimit) count only together.
    double min_score = 0.5;
};

class InjectionDetector final : public Rail {
  public:
    // Compiles the built-in patterns plus options.extra_patterns. InvalidArgument naming the line
    // of a bad extra pattern, an unknown rule name, or a min_score outside (0, 1].
    static Result<InjectionDetector> create(const InjectionOptions& options = {});

    std::string_view name() const override { return "injection"; }

    // Checks one text (a note, a passage, a user turn). When fired: rule is the rule of the
    // heaviest evidence (earliest on ties), spans cover every match that counted, labelled with
    // its rule. Score: the heaviest evidence (a strong pattern's weight, or a sentence's summed
    // cues up to kInjectionCueCap) plus 0.05 for each other rule that counted, at most 1; it
    // ranks evidence for a reviewer, it is not a probability. Not fired: score 0, no spans.
    // Texts longer than kInjectionMaxBytes are checked on their first kInjectionMaxBytes bytes,
    // and detail says so.
    RailResult check(std::string_view text) const override;

    const InjectionOptions& options() const { return options_; }
    const PatternSet& patterns() const { return *patterns_; }

  private:
    InjectionDetector(std::shared_ptr<const PatternSet> patterns, InjectionOptions options);
    std::shared_ptr<const PatternSet> patterns_;
    InjectionOptions options_;
};

// Patterns weighing less than this are cues: words that are common in clinical text alone
// ("AI", "your answer", "obsolete") but together, in one sentence, address the model. The weights
// of different cues in one sentence add up; the sum counts as evidence when it reaches the
// limit, with a weight of at most kInjectionCueCap.
inline constexpr double kInjectionCueLimit = 0.5;
inline constexpr double kInjectionCueCap = 0.8;

// Far longer than any note or passage; bounds the work on hostile input.
inline constexpr size_t kInjectionMaxBytes = 1024 * 1024;

// The built-in pattern table (compiled in from src/safety/data/injection_patterns.tsv).
std::string_view injection_patterns_text();

}  // namespace ward::safety
