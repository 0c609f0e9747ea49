// The crisis rail: finds suicidal or self-harm intent, plans and means, recent attempts, harm to
// others and abuse in one user message, and writes the code-composed reply that answers a
// crisis at once (988 Suicide & Crisis Lifeline and 911 in the US by default; local numbers by
// configuration). It never calls a model.
//
// Detection is a curated lexicon (src/safety/data/crisis_lexicon.tsv, derived from the
// clinician-validated Suicide Risk Lexicon plus Ward's patterns for clinical shorthand, typos and
// implicit risk) matched per sentence, then filtered:
//   - negation before the match in the same clause ("denies SI", "no thoughts of hurting
//     myself"), or just after it in clinical style ("SI: denies", "-SI");
//   - history: a cue such as "years ago", "as a teenager", "hx of" in the same clause, with no
//     recency cue ("last night", "again"), means a past event, a risk factor but not a crisis;
//   - idioms ("dying to see", "killing time"), accidents ("cut myself shaving"), questions
//     asking for information ("can sertraline cause suicidal thoughts?"), questions someone else
//     asked and the writer denied ("my doctor asked if I want to hurt myself, I don't"), and
//     joke markers on threats to others ("I could kill him lol"; never on risk to oneself).
// Risk in any sentence fires: a negation in one sentence does not cancel risk in the next.
// Statements about someone else at risk ("my friend says she wants to die") fire too, with a
// lower score, because the person writing may need to act now; the reply addresses them.
//
// Thread safety: a CrisisDetector is immutable after create(); check() may run on any number of
// threads at once. Copies share the compiled lexicon.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "safety/rail.h"

namespace ward::safety {

// The categories `RailResult::rule` takes when the crisis rail fires, most urgent first.
inline constexpr std::string_view kCrisisCategories[] = {
    "plan_or_means",  "recent_attempt", "suicidal_ideation_active",
    "harm_to_others", "self_harm",      "suicidal_ideation_passive",
    "abuse",
};

struct CrisisResource {
    std::string name;     // "988 Suicide & Crisis Lifeline"
    std::string contact;  // "call or text 988, or chat at 988lifeline.org"
};

struct CrisisOptions {
    // The opening of the reply; empty: a default that fits the category.
    std::string escalation_text;
    // Resources listed first (a local crisis team, the clinic's after-hours number).
    std::vector<CrisisResource> local_resources;
    // Also list the US national resources (988, 911, and for abuse the national hotlines).
    bool include_us_resources = true;
    // The last line, telling the person a human will follow up; empty: the default.
    std::string follow_up_text;
    // More lexicon lines in the crisis_lexicon.tsv format (site-specific phrases); they may use
    // the built-in word sets.
    std::string extra_lexicon;
};

// The reply code sends when the rail fires, before any model output.
struct CrisisResponse {
    bool escalate = false;  // false when the result did not fire: nothing to send
    std::string rule;
    std::string text;  // the complete reply: opening, resources one per line, follow-up line
    std::vector<CrisisResource> resources;
    bool human_follow_up = false;  // the pipeline must flag the conversation for review
};

class CrisisDetector final : public Rail {
  public:
    // Compiles the built-in lexicon plus options.extra_lexicon. InvalidArgument names the line of
    // a bad extra_lexicon entry, or a local resource without a name or contact.
    static Result<CrisisDetector> create(const CrisisOptions& options = {});

    std::string_view name() const override { return "crisis"; }

    // Checks one message. When fired: rule is the most urgent category found (the order of
    // kCrisisCategories; ties by score), spans cover every piece of evidence that fired with its
    // category as label ("third_party:<category>" for statements about someone else).
    // Score: the highest category weight found (plan_or_means and recent_attempt 0.95, active
    // ideation 0.9, harm to others 0.85, self-harm and abuse 0.8, passive ideation 0.7; times 0.8
    // for someone else), plus 0.05 for each other category that fired, at most 1. It ranks
    // urgency for review; it is not a calibrated probability. Not fired: score 0, no spans, and
    // detail says what was found but did not fire (negated, historical, idiom, ...).
    RailResult check(std::string_view message) const override;

    const CrisisOptions& options() const { return options_; }

  private:
    struct Impl;  // the compiled lexicon and what each entry is; shared, immutable
    CrisisDetector(std::shared_ptr<const Impl> impl, CrisisOptions options);
    std::shared_ptr<const Impl> impl_;
    CrisisOptions options_;
};

// The reply for `result` (from the crisis rail): calm, short, non-judgemental, with the
// resources for its category. escalate is false, and text empty, when result did not fire.
CrisisResponse escalation(const RailResult& result, const CrisisOptions& options);

// Messages longer than this are checked on their first kCrisisMaxBytes bytes only (a portal
// message is far shorter; this bounds the work on hostile input).
inline constexpr size_t kCrisisMaxBytes = 64 * 1024;

// The built-in lexicon text (compiled in from src/safety/data/crisis_lexicon.tsv).
std::string_view crisis_lexicon_text();

}  // namespace ward::safety
