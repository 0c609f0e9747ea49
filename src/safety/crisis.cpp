#include "safety/crisis.h"

#include <algorithm>
#include <cmath>

#include "safety/phrase_lexicon.h"
#include "safety/text.h"

namespace ward::safety {

namespace data {
extern const std::string_view kCrisisLexicon;
}

std::string_view crisis_lexicon_text() {
    return data::kCrisisLexicon;
}

namespace {

// How far back (in words) a negation reaches within its clause. A contracted auxiliary
// ("don't", "won't") negates the verb right after it, so it reaches less far: in "he won't let
// me leave the house and hurts me" the "won't" is about leaving.
constexpr uint32_t kNegationWindow = 5;
constexpr uint32_t kContractionWindow = 4;
// Words between a match and a clinical post-negation ("SI/HI: neg").
constexpr uint32_t kPostNegationSkip = 3;

enum class Kind {
    kRisk,
    kNegation,
    kPseudoNegation,
    kPostNegation,
    kHistorical,
    kRecent,
    kRecentSentence,
    kRecentAdjacent,
    kAccident,
    kInformational,
    kIdiom,
    kJoke,
    kAsked,
    kAffirm,
    kSafetyQuestion,
    kRoutine,
    kNotHistorical,
    kDeliberate,
    kHypothetical,
    kUnknown,
};

Kind kind_of(std::string_view category) {
    for (auto c : kCrisisCategories) {
        if (c == category) return Kind::kRisk;
    }
    if (category == "negation") return Kind::kNegation;
    if (category == "pseudo_negation") return Kind::kPseudoNegation;
    if (category == "post_negation") return Kind::kPostNegation;
    if (category == "historical") return Kind::kHistorical;
    if (category == "recent") return Kind::kRecent;
    if (category == "recent_sentence") return Kind::kRecentSentence;
    if (category == "recent_adjacent") return Kind::kRecentAdjacent;
    if (category == "accident") return Kind::kAccident;
    if (category == "informational") return Kind::kInformational;
    if (category == "idiom") return Kind::kIdiom;
    if (category == "joke") return Kind::kJoke;
    if (category == "asked") return Kind::kAsked;
    if (category == "affirm") return Kind::kAffirm;
    if (category == "safety_question") return Kind::kSafetyQuestion;
    if (category == "routine") return Kind::kRoutine;
    if (category == "not_historical") return Kind::kNotHistorical;
    if (category == "deliberate") return Kind::kDeliberate;
    if (category == "hypothetical") return Kind::kHypothetical;
    return Kind::kUnknown;
}

double weight(std::string_view category) {
    if (category == "plan_or_means" || category == "recent_attempt") return 0.95;
    if (category == "suicidal_ideation_active") return 0.9;
    if (category == "harm_to_others") return 0.85;
    if (category == "self_harm" || category == "abuse") return 0.8;
    return 0.7;  // suicidal_ideation_passive
}

size_t priority(std::string_view category) {
    size_t i = 0;
    for (auto c : kCrisisCategories) {
        if (c == category) return i;
        ++i;
    }
    return i;
}

constexpr double kThirdPartyFactor = 0.8;

struct Candidate {
    const PhraseLexicon::Match* match;
    const PhraseLexicon::Entry* entry;
    const char* suppressed = nullptr;  // why it does not fire; nullptr: it fires
};

bool is_shorthand_filler(std::string_view w) {
    return w == "si" || w == "hi" || w == "avh" || w == "vh" || w == "ah" || w == "s" || w == "i" ||
           w == "h" || w == "or" || w == "and" || w == "ideation" || w == "sib";
}

}  // namespace

struct CrisisDetector::Impl {
    PhraseLexicon lexicon;
    std::vector<Kind> kinds;  // per lexicon entry
};

CrisisDetector::CrisisDetector(std::shared_ptr<const Impl> impl, CrisisOptions options)
    : impl_(std::move(impl)), options_(std::move(options)) {}

Result<CrisisDetector> CrisisDetector::create(const CrisisOptions& options) {
    for (size_t i = 0; i < options.local_resources.size(); ++i) {
        const auto& r = options.local_resources[i];
        if (r.name.empty() || r.contact.empty()) {
            return invalid_argument("safety: crisis local resource {} needs a name and a contact",
                                    i + 1);
        }
    }
    auto impl = std::make_shared<Impl>();
    WARD_ASSIGN_OR_RETURN(impl->lexicon,
                          PhraseLexicon::parse(crisis_lexicon_text(), "crisis_lexicon.tsv"));
    const size_t n_builtin = impl->lexicon.entries().size();
    if (!options.extra_lexicon.empty()) {
        WARD_TRY(impl->lexicon.add(options.extra_lexicon, "safety: crisis extra_lexicon"));
    }
    const auto& entries = impl->lexicon.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
        Kind kind = kind_of(entries[i].category);
        if (kind == Kind::kUnknown) {
            return invalid_argument("safety: {} line {}: unknown category \"{}\"",
                                    i < n_builtin ? "crisis_lexicon.tsv" : "crisis extra_lexicon",
                                    entries[i].line, entries[i].category);
        }
        impl->kinds.push_back(kind);
    }
    return CrisisDetector(std::move(impl), options);
}

RailResult CrisisDetector::check(std::string_view message) const {
    RailResult result;
    result.rail = "crisis";
    const TokenizedText text = tokenize(message, kCrisisMaxBytes);
    const auto& toks = text.tokens;
    const std::vector<PhraseLexicon::Match> matches = impl_->lexicon.find_all(text);
    const auto& entries = impl_->lexicon.entries();

    // Sort the matches by what they are.
    std::vector<Candidate> risks;
    std::vector<const PhraseLexicon::Match*> negations, pseudo, post, historical, recent,
        recent_sentence, recent_adjacent, accidents, informational, idioms, jokes, asked, affirm,
        safety_questions, routines, not_historical, deliberate, hypotheticals;
    for (const auto& m : matches) {
        const auto& e = entries[m.entry];
        switch (impl_->kinds[m.entry]) {
            case Kind::kRisk:
                risks.push_back({&m, &e});
                break;
            case Kind::kNegation:
                negations.push_back(&m);
                break;
            case Kind::kPseudoNegation:
                pseudo.push_back(&m);
                break;
            case Kind::kPostNegation:
                post.push_back(&m);
                break;
            case Kind::kHistorical:
                historical.push_back(&m);
                break;
            case Kind::kRecent:
                recent.push_back(&m);
                break;
            case Kind::kRecentAdjacent:
                recent_adjacent.push_back(&m);
                break;
            case Kind::kRecentSentence:
                recent_sentence.push_back(&m);
                break;
            case Kind::kAccident:
                accidents.push_back(&m);
                break;
            case Kind::kInformational:
                informational.push_back(&m);
                break;
            case Kind::kIdiom:
                idioms.push_back(&m);
                break;
            case Kind::kJoke:
                jokes.push_back(&m);
                break;
            case Kind::kAsked:
                asked.push_back(&m);
                break;
            case Kind::kAffirm:
                affirm.push_back(&m);
                break;
            case Kind::kSafetyQuestion:
                safety_questions.push_back(&m);
                break;
            case Kind::kRoutine:
                routines.push_back(&m);
                break;
            case Kind::kNotHistorical:
                not_historical.push_back(&m);
                break;
            case Kind::kDeliberate:
                deliberate.push_back(&m);
                break;
            case Kind::kHypothetical:
                hypotheticals.push_back(&m);
                break;
            case Kind::kUnknown:
                break;
        }
    }
    if (risks.empty()) {
        result.detail = "no crisis language found";
        return result;
    }

    // A negation cue counts unless a pseudo-negation covers it ("no one cares", "harder not to
    // act"), or it is an interjection followed by a comma ("No, I ...").
    std::vector<const PhraseLexicon::Match*> cues;
    for (const auto* n : negations) {
        bool void_cue = toks[n->last - 1].after == ',' || toks[n->last - 1].after == '!';
        for (const auto* p : pseudo) {
            if (p->first <= n->first && p->last >= n->last) void_cue = true;
        }
        if (!void_cue) cues.push_back(n);
    }

    // A cue negated right before it does not count: "wasn't an accident" is no accident, "no
    // recent SI" is not recent.
    auto unnegated = [&](const std::vector<const PhraseLexicon::Match*>& list) {
        std::vector<const PhraseLexicon::Match*> out;
        for (const auto* a : list) {
            bool negated = false;
            for (const auto* n : cues) negated |= n->last <= a->first && a->first - n->last <= 2;
            if (!negated) out.push_back(a);
        }
        return out;
    };
    const auto real_accidents = unnegated(accidents);
    // A history cue inside a phrase that is not about the past ("where I used to work") is void.
    std::erase_if(historical, [&](const PhraseLexicon::Match* h) {
        for (const auto* n : not_historical) {
            if (n->first <= h->first && h->last <= n->last) return true;
        }
        return false;
    });
    recent = unnegated(recent);
    recent_sentence = unnegated(recent_sentence);

    auto clause_of = [&](uint32_t t) { return toks[t].clause; };
    auto sentence_of = [&](uint32_t t) { return toks[t].sentence; };
    auto any_in_clause = [&](const std::vector<const PhraseLexicon::Match*>& list, uint32_t c) {
        for (const auto* m : list) {
            for (uint32_t t = m->first; t < m->last; ++t) {
                if (clause_of(t) == c) return true;
            }
        }
        return false;
    };
    auto any_in_sentence = [&](const std::vector<const PhraseLexicon::Match*>& list, uint32_t s) {
        for (const auto* m : list) {
            if (sentence_of(m->first) == s) return true;
        }
        return false;
    };

    for (auto& cand : risks) {
        const auto& m = *cand.match;
        const std::string& cat = cand.entry->category;
        const uint32_t clause = clause_of(m.first);
        const uint32_t sentence = sentence_of(m.first);
        for (const auto* idiom : idioms) {
            if (idiom->first < m.last && m.first < idiom->last) cand.suppressed = "idiom";
        }
        if (cand.suppressed) continue;
        if ((cat == "suicidal_ideation_active" || cat == "plan_or_means" ||
             cat == "recent_attempt") &&
            any_in_clause(routines, clause)) {
            cand.suppressed = "routine";
            continue;
        }
        if ((cat == "self_harm" || cat == "recent_attempt") &&
            any_in_clause(real_accidents, clause) && !any_in_clause(deliberate, clause)) {
            cand.suppressed = "accident";
            continue;
        }
        bool asked_before = false;
        for (const auto* q : asked) {
            asked_before |= q->last <= m.first && sentence_of(q->first) == sentence;
        }
        if (asked_before && !any_in_sentence(affirm, sentence)) {
            cand.suppressed = "asked";
            continue;
        }
        if (cat != "harm_to_others" && cat != "abuse" && any_in_clause(hypotheticals, clause)) {
            cand.suppressed = "hypothetical";
            continue;
        }
        if ((cat == "harm_to_others" || cat == "abuse") && any_in_sentence(jokes, sentence)) {
            cand.suppressed = "joke";
            continue;
        }
        if (text.question[sentence] && any_in_sentence(safety_questions, sentence)) {
            cand.suppressed = "informational";
            continue;
        }
        if (cat != "plan_or_means" && text.question[sentence] &&
            any_in_sentence(informational, sentence)) {
            cand.suppressed = "informational";
            continue;
        }
        // Negation before the match in its clause, or inside one of its gaps.
        for (const auto* n : cues) {
            const std::string& cue = toks[n->last - 1].norm;
            bool contraction = cue.size() > 2 && cue.compare(cue.size() - 2, 2, "nt") == 0;
            uint32_t window = contraction ? kContractionWindow : kNegationWindow;
            bool before = n->last <= m.first && m.first - n->last <= window &&
                          clause_of(n->first) == clause && clause_of(n->last - 1) == clause;
            bool in_gap = n->first >= m.first && n->last <= m.last;
            if (in_gap) {
                for (uint32_t t = n->first; t < n->last && in_gap; ++t) {
                    in_gap = std::find(m.gap_tokens.begin(), m.gap_tokens.end(), t) !=
                             m.gap_tokens.end();
                }
            }
            if (before || in_gap) cand.suppressed = "negated";
        }
        if (toks[m.first].minus) cand.suppressed = "negated";
        // A dash as the value of a clinical field: "SI: -".
        bool ends_sentence = m.last == toks.size() || sentence_of(m.last) != sentence;
        if (ends_sentence && toks[m.last - 1].after == ':' && toks[m.last - 1].after_last == '-') {
            cand.suppressed = "negated";
        }
        if (!cand.suppressed) {
            // Clinical post-negation: "SI: denies", "SI/HI: neg", "suicidal ideation - none".
            uint32_t j = m.last, skipped = 0;
            while (j < toks.size() && skipped < kPostNegationSkip && sentence_of(j) == sentence &&
                   is_shorthand_filler(toks[j].norm)) {
                ++j;
                ++skipped;
            }
            // The cue must close its clause or be followed by punctuation: in "SI: denies" it
            // negates SI, in "endorses SI, denies HI" it negates HI.
            for (const auto* p : post) {
                if (p->first != j || sentence_of(j) != sentence) continue;
                // A phrase ("is not an option") negates wherever it stands.
                char after = toks[p->last - 1].after;
                bool closes = p->last - p->first > 1 || p->last == toks.size() ||
                              clause_of(p->last) != clause_of(j) || after == ',' || after == ';' ||
                              after == '.' || after == ')';
                if (closes) cand.suppressed = "negated";
            }
        }
        if (cand.suppressed) continue;
        bool recent_right_before = false;
        for (const auto* r : recent_adjacent) {
            recent_right_before |= r->last == m.first || (r->first >= m.first && r->last <= m.last);
        }
        if (any_in_clause(historical, clause) && !any_in_clause(recent, clause) &&
            !any_in_sentence(recent_sentence, sentence) && !recent_right_before) {
            cand.suppressed = "historical";
        }
    }

    // A firing match inside a longer firing one ("SI" in "passive SI", in "SI w/ plan") gives way
    // to it. Only a firing container counts: a negated long match must not hide a short one.
    for (auto& cand : risks) {
        if (cand.suppressed) continue;
        const auto& m = *cand.match;
        for (const auto& other : risks) {
            const auto& o = *other.match;
            if (&other != &cand && !other.suppressed && o.first <= m.first && m.last <= o.last &&
                (o.last - o.first) > (m.last - m.first)) {
                cand.suppressed = "contained";
            }
        }
    }

    // Score, rule and spans from what fired.
    double best = -1;
    std::string rule;
    std::vector<std::string> fired_categories;
    std::vector<std::string> suppressed;
    for (const auto& cand : risks) {
        const auto& e = *cand.entry;
        if (cand.suppressed) {
            if (std::string_view(cand.suppressed) == "contained") continue;
            std::string what = std::string(cand.suppressed) + " " + e.category;
            if (std::find(suppressed.begin(), suppressed.end(), what) == suppressed.end()) {
                suppressed.push_back(what);
            }
            continue;
        }
        double w = weight(e.category) * (e.third_party ? kThirdPartyFactor : 1.0);
        if (w > best || (w == best && priority(e.category) < priority(rule))) {
            best = w;
            rule = e.category;
        }
        if (std::find(fired_categories.begin(), fired_categories.end(), e.category) ==
            fired_categories.end()) {
            fired_categories.push_back(e.category);
        }
        Span span{.begin = toks[cand.match->first].begin,
                  .end = toks[cand.match->last - 1].end,
                  .label = e.third_party ? "third_party:" + e.category : e.category};
        bool duplicate = false;
        for (const auto& s : result.spans) {
            duplicate |= s.begin == span.begin && s.end == span.end && s.label == span.label;
        }
        if (!duplicate) result.spans.push_back(std::move(span));
    }
    std::string suppressed_list;
    for (const auto& s : suppressed) {
        suppressed_list += (suppressed_list.empty() ? "" : ", ") + s;
    }
    if (fired_categories.empty()) {
        result.detail = suppressed_list.empty() ? "no crisis language found"
                                                : "found but not fired: " + suppressed_list;
        return result;
    }
    std::sort(result.spans.begin(), result.spans.end(), [](const Span& a, const Span& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    double score = best + 0.05 * static_cast<double>(fired_categories.size() - 1);
    result.fired = true;
    result.rule = rule;
    result.score = std::round(std::min(1.0, score) * 100) / 100;
    bool third_only = true;
    for (const auto& s : result.spans) third_only &= s.label.rfind("third_party:", 0) == 0;
    std::string categories;
    for (const auto& c : fired_categories) categories += (categories.empty() ? "" : ", ") + c;
    result.detail = std::string(third_only ? "about someone else: " : "") + categories;
    if (!suppressed_list.empty()) result.detail += "; not fired: " + suppressed_list;
    return result;
}

namespace {

bool is_suicide_category(std::string_view rule) {
    return rule == "plan_or_means" || rule == "recent_attempt" ||
           rule == "suicidal_ideation_active" || rule == "suicidal_ideation_passive" ||
           rule == "self_harm";
}

}  // namespace

CrisisResponse escalation(const RailResult& result, const CrisisOptions& options) {
    CrisisResponse r;
    if (!result.fired) return r;
    r.escalate = true;
    r.rule = result.rule;
    r.human_follow_up = true;
    bool third_party = !result.spans.empty();
    for (const auto& s : result.spans) third_party &= s.label.rfind("third_party:", 0) == 0;

    std::string opening = options.escalation_text;
    if (opening.empty()) {
        if (third_party) {
            opening =
                "It sounds like someone you care about may be in danger. Thank you for "
                "reaching out. You can get help for them right now:";
        } else if (result.rule == "abuse") {
            opening =
                "I'm sorry this is happening to you. It is not your fault, and you deserve to "
                "be safe. Help is available right now:";
        } else if (result.rule == "harm_to_others") {
            opening =
                "Thank you for telling us. Thoughts of hurting someone can be frightening, and "
                "you don't have to handle them alone. Please reach out now:";
        } else {
            opening =
                "I'm really sorry you're going through this. You don't have to face it alone, "
                "and help is available right now:";
        }
    }
    r.resources = options.local_resources;
    if (options.include_us_resources) {
        r.resources.push_back({"988 Suicide & Crisis Lifeline",
                               "call or text 988, or chat at 988lifeline.org (24/7, free, "
                               "confidential)"});
        if (result.rule == "abuse") {
            r.resources.push_back({"National Domestic Violence Hotline",
                                   "call 1-800-799-7233 or text START to 88788"});
            r.resources.push_back(
                {"RAINN Sexual Assault Hotline", "call 1-800-656-4673 or chat at rainn.org"});
            r.resources.push_back(
                {"Childhelp National Child Abuse Hotline", "call or text 1-800-422-4453"});
        }
        r.resources.push_back(
            {"Emergency", "call 911 if you or anyone else is in immediate danger"});
    }
    std::string follow_up = options.follow_up_text;
    if (follow_up.empty()) {
        follow_up = is_suicide_category(result.rule) || result.rule == "harm_to_others"
                        ? "Your care team has been alerted to this message and will follow up "
                          "with you."
                        : "Your care team has been alerted to this message and will follow up "
                          "with you in a safe way.";
    }
    r.text = opening + "\n";
    for (const auto& res : r.resources) r.text += "- " + res.name + ": " + res.contact + "\n";
    r.text += follow_up;
    return r;
}

}  // namespace ward::safety
