#include "safety/scope.h"

#include <algorithm>

namespace ward::safety {

namespace {

// Schedule II-V substances (US Controlled Substances Act) that patients ask about, by generic
// and common brand names, plus the street names of the same drugs.
constexpr std::string_view kControlled =
    "oxycodone|oxycontin|percocet|roxicodone|oxy|oxys|hydrocodone|vicodin|norco|lortab|"
    "morphine|ms contin|fentanyl|duragesic|codeine|tylenol (?:#|no\\.? ?)3|tramadol|ultram|"
    "methadone|buprenorphine|suboxone|subutex|hydromorphone|dilaudid|oxymorphone|opana|"
    "tapentadol|nucynta|opioids?|opiates?|painkillers?|pain pills?|narcotics?|alprazolam|xanax|"
    "xannies|diazepam|valium|lorazepam|ativan|clonazepam|klonopin|temazepam|restoril|"
    "benzos?|benzodiazepines?|zolpidem|ambien|eszopiclone|lunesta|adderall|amphetamines?|"
    "dextroamphetamine|methylphenidate|ritalin|concerta|vyvanse|lisdexamfetamine|focalin|"
    "modafinil|provigil|armodafinil|ketamine|pregabalin|lyrica|carisoprodol|soma|"
    "phenobarbital|butalbital|fioricet|testosterone|anabolic steroids|cocaine|meth|"
    "phentermine|promethazine with codeine|lean|gabapentin|neurontin";

constexpr std::string_view kRelative =
    "son|daughter|husband|wife|partner|child|kid|mom|dad|mother|father|brother|sister|friend";

ScopePolicy patient_education() {
    ScopePolicy p;
    p.task = "patient-education";
    p.purpose =
        "Explain conditions, tests, procedures and medicines to patients in plain language.";
    p.sets = {{"controlled", std::string(kControlled)}, {"relative", std::string(kRelative)}};
    p.refused.push_back(
        {"controlled_substance",
         {
             // A dose question about a controlled substance, either order.
             "\\b(?:how (?:many|much)|what (?:dose|dosage|amount|strength)|max(?:imum)? "
             "(?:dose|amount)|dose of|dosage of|double|increase|up) (?:[\\w'-]+ ){0,6}?"
             "@controlled\\b",
             "\\b@controlled\\b(?:[ ,]+[\\w'-]+){0,8}?[ ,]+(?:how (?:many|much)|what "
             "(?:dose|dosage|amount))\\b",
             // Misuse.
             "\\b(?:get|getting|feel|feeling) (?:really |more )?(?:high|buzzed|stoned|wasted|"
             "fucked up|messed up)\\b",
             "\\b(?:snort|snorting|crush|crushing|inject|injecting|shoot up|smoke|smoking|plug) "
             "(?:[\\w'-]+ ){0,3}?@controlled\\b",
             "\\b@controlled\\b (?:[\\w'-]+ ){0,6}?(?:without (?:a )?(?:prescription|script|rx)|"
             "recreational\\w*|for fun|to party|with (?:alcohol|beer|wine|vodka|liquor|booze))",
             "\\b(?:buy|get|order) @controlled (?:online|without|from)\\b",
         },
         "Patient education does not give doses of controlled substances or advice on using "
         "them other than as prescribed. Your prescriber or pharmacist can answer this; if you "
         "or someone else may have taken too much, call 911 or Poison Control (1-800-222-1222)."});
    p.refused.push_back(
        {"prescribing",
         {
             "\\bprescribe (?:me|us|him|her|them|my @relative)\\b",
             "\\b(?:can|could|will|would|please) (?:you )?(?:prescribe|refill|order|write|call in|"
             "phone in|renew)\\b",
             "\\b(?:write|send|call in|phone in|give|get) (?:me |us )?(?:a |an |another |some )?"
             "(?:new )?(?:prescription|script|rx|refill)s?\\b",
             "\\bi (?:need|want) (?:a |an |another )?(?:new )?(?:prescription|script|rx|refill)s? "
             "(?:for|of)\\b",
         },
         "Patient education explains medicines; it cannot prescribe, order or refill them. "
         "Please ask your care team (for example through a portal message to your prescriber)."});
    p.refused.push_back(
        {"named_patient_diagnosis",
         {
             // "Does Mr. Jones have cancer?", "diagnose patient Maria Lopez"
             "\\b(?:diagnos\\w*|what(?:'s| is) wrong with|what does|does) (?:[\\w'.-]+ ){0,3}?"
             "(?:(?-i:Mr|Mrs|Ms|Miss)\\.?|patient|pt\\.?) (?-i:[A-Z][a-z'-]+)\\b",
             // "What is wrong with John Smith?"
             "\\b(?:diagnos\\w*|what(?:'s| is) wrong with|what (?:disease|condition|illness) "
             "does) (?:[\\w'.-]+ ){0,2}?(?-i:[A-Z][a-z]+ [A-Z][a-z]+)\\b(?! (?:disease|syndrome|"
             "palsy|sarcoma|lymphoma)\\b)",
             // By record number, bed or room.
             "\\b(?:diagnos\\w*|what(?:'s| is) wrong with|what does) (?:[\\w'.-]+ ){0,4}?"
             "(?:mrn|medical record (?:number|#|no\\.?)|bed|room) ?#? ?\\d+",
         },
         "Patient education explains conditions in general; it does not diagnose a particular "
         "patient. A clinician who can examine them and see their record has to do that."});
    return p;
}

ScopePolicy documentation() {
    ScopePolicy p;
    p.task = "summary";
    p.purpose = "Draft, summarise and restructure clinical documentation.";
    const std::string reason =
        "This task drafts and summarises clinical documentation; it does not take other "
        "requests.";
    p.refused.push_back({"creative_writing",
                         {"\\b(?:write|compose|make up|tell|give) (?:me |us )?(?:a |an |some )?"
                          "(?:short |funny |little )?(?:poem|song|story|joke|rap|haiku|limerick|"
                          "sonnet|lyrics|novel|screenplay)s?\\b"},
                         reason});
    p.refused.push_back(
        {"programming",
         {"\\b(?:write|debug|fix|generate|refactor) (?:me |us )?(?:[\\w+#-]+ ){0,3}?(?:code|"
          "script|program|function|class|sql query|regex|python|javascript|java|c\\+\\+)\\b"},
         reason});
    p.refused.push_back(
        {"unrelated",
         {"\\b(?:weather|stock (?:price|market|tips)|crypto\\w*|bitcoin|lottery|sports? scores?|"
          "recipe|vacation|holiday plans|tax returns?|homework|essay|dating|horoscope|"
          "movie recommendations?)\\b"},
         reason});
    p.allowed = {
        "\\b(?:summar\\w*|notes?|document\\w*|discharge|soap|hpi|history of present illness|"
        "assessment|plan|chart\\w*|letters?|referral|handoff|hand-off|sbar|progress|consult\\w*|"
        "encounter|visit|records?|rewrite|re-write|draft|dictat\\w*|transcri\\w*|avs|problem "
        "list|medications?|med list|allerg\\w*|icd|cpt|template|admission|h&p|operative|"
        "procedure|reports?|findings|shorten|condense|bullet\\w*|clinic\\w*|patients?|pt|"
        "diagnos\\w*|labs?|imaging|vitals|exam|physical|history|hospital\\w*|ed|er|icu|ward|"
        "nurs\\w*|physician|doctor|treatment|therapy|symptoms?|complaint|follow-up|follow up)\\b"};
    p.out_of_scope_reason = reason;
    return p;
}

Status compile_patterns(PatternSet& set, const ScopePolicy& policy) {
    for (const auto& [name, alternatives] : policy.sets) {
        WARD_TRY(set.define_set(name, alternatives,
                                "scope policy \"" + policy.task + "\" set @" + name));
    }
    return ok_status();
}

}  // namespace

Result<ScopePolicy> default_scope_policy(std::string_view task) {
    if (task == "patient-education") return patient_education();
    if (task == "summary") return documentation();
    return not_found(
        "scope: no built-in policy for task \"{}\" (built-in: patient-education, "
        "summary)",
        task);
}

std::vector<std::string> default_scope_tasks() {
    return {"patient-education", "summary"};
}

ScopeRail::ScopeRail(std::shared_ptr<const ScopePolicy> policy,
                     std::shared_ptr<const PatternSet> refused,
                     std::shared_ptr<const PatternSet> allowed)
    : policy_(std::move(policy)), refused_(std::move(refused)), allowed_(std::move(allowed)) {}

Result<ScopeRail> ScopeRail::create(const ScopePolicy& policy) {
    std::string task = policy.task.empty() ? "(unnamed)" : policy.task;
    auto refused = std::make_shared<PatternSet>();
    auto allowed = std::make_shared<PatternSet>();
    WARD_TRY(compile_patterns(*refused, policy));
    WARD_TRY(compile_patterns(*allowed, policy));
    for (size_t t = 0; t < policy.refused.size(); ++t) {
        const ScopeTopic& topic = policy.refused[t];
        if (topic.name.empty() || topic.patterns.empty() || topic.reason.empty()) {
            return invalid_argument(
                "scope policy \"{}\": refused topic {} needs a name, patterns and a reason", task,
                t + 1);
        }
        for (size_t i = 0; i < topic.patterns.size(); ++i) {
            WARD_TRY(refused->add(topic.name, 1.0, topic.patterns[i], "",
                                  fmt::format("scope policy \"{}\" topic \"{}\" pattern {}", task,
                                              topic.name, i + 1)));
        }
    }
    for (size_t i = 0; i < policy.allowed.size(); ++i) {
        WARD_TRY(allowed->add("allowed", 1.0, policy.allowed[i], "",
                              fmt::format("scope policy \"{}\" allowed pattern {}", task, i + 1)));
    }
    if (!policy.allowed.empty() && policy.out_of_scope_reason.empty()) {
        return invalid_argument(
            "scope policy \"{}\": allowed topics are set but out_of_scope_reason is empty", task);
    }
    return ScopeRail(std::make_shared<const ScopePolicy>(policy), std::move(refused),
                     std::move(allowed));
}

RailResult ScopeRail::check(std::string_view request) const {
    RailResult r;
    r.rail = "scope";
    std::vector<PatternSet::Match> matches = refused_->find_all(request);
    if (!matches.empty()) {
        // The first topic in policy order that matched decides; its matches are the evidence.
        const auto& patterns = refused_->patterns();
        const ScopeTopic* topic = nullptr;
        for (const ScopeTopic& t : policy_->refused) {
            for (const auto& m : matches) {
                if (patterns[m.pattern].rule == t.name) {
                    topic = &t;
                    break;
                }
            }
            if (topic != nullptr) break;
        }
        r.fired = true;
        r.rule = topic->name;
        r.score = 1;
        r.detail = topic->reason;
        for (const auto& m : matches) {
            if (patterns[m.pattern].rule == topic->name) {
                r.spans.push_back({m.begin, m.end, topic->name});
            }
        }
        return r;
    }
    if (!policy_->allowed.empty() && allowed_->find_all(request).empty()) {
        r.fired = true;
        r.rule = "out_of_scope";
        r.score = 0.6;
        r.detail = policy_->out_of_scope_reason;
        return r;
    }
    r.detail = "within the scope of task \"" + policy_->task + "\"";
    return r;
}

}  // namespace ward::safety
