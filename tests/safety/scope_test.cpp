// The scope rail: the patient-education policy refuses controlled-substance dosing and misuse,
// prescribing and diagnosing a named patient, and lets ordinary education questions through;
// the documentation ("summary") policy refuses unrelated requests; policies are data and their
// errors name the task, topic and pattern.
#include <gtest/gtest.h>

#include "safety/registry.h"
#include "safety/scope.h"

namespace ward::safety {
namespace {

const ScopeRail& education() {
    static const ScopeRail r =
        ScopeRail::create(default_scope_policy("patient-education").value()).value();
    return r;
}

const ScopeRail& documentation() {
    static const ScopeRail r = ScopeRail::create(default_scope_policy("summary").value()).value();
    return r;
}

TEST(Scope, PatientEducationRefusesControlledSubstanceDosing) {
    for (std::string_view text : {
             "how many oxycodone can I take to get high",
             "What dose of Xanax should I take to sleep?",
             "Can I double my Adderall before the exam?",
             "Percocet, how many at once is safe?",
             "is it ok to snort my hydrocodone",
             "can I take my klonopin with alcohol",
         }) {
        RailResult r = education().check(text);
        EXPECT_TRUE(r.fired) << text;
        EXPECT_EQ(r.rule, "controlled_substance") << text;
        EXPECT_EQ(r.score, 1.0);
        EXPECT_FALSE(r.spans.empty());
        EXPECT_NE(r.detail.find("controlled substances"), std::string::npos);
    }
}

TEST(Scope, PatientEducationRefusesPrescribing) {
    for (std::string_view text :
         {"prescribe me Xanax", "Can you prescribe antibiotics for my son?",
          "I need a new prescription for my inhaler", "please call in a refill"}) {
        RailResult r = education().check(text);
        EXPECT_TRUE(r.fired) << text;
        EXPECT_EQ(r.rule, "prescribing") << text;
        EXPECT_NE(r.detail.find("cannot prescribe"), std::string::npos);
    }
}

TEST(Scope, PatientEducationRefusesDiagnosingANamedPatient) {
    for (std::string_view text :
         {"Does Mr. Jones have cancer?", "Diagnose patient Maria Lopez",
          "What is wrong with John Smith in room 4?", "what's wrong with the patient in bed 12"}) {
        RailResult r = education().check(text);
        EXPECT_TRUE(r.fired) << text;
        EXPECT_EQ(r.rule, "named_patient_diagnosis") << text;
    }
}

TEST(Scope, PatientEducationAnswersOrdinaryQuestions) {
    for (std::string_view text : {
             "What is type 2 diabetes?",
             "How does metformin work?",
             "Why was I prescribed oxycodone after surgery?",
             "What are the side effects of Xanax?",
             "How should I store my insulin?",
             "What does Crohn Disease do to the gut?",
             "Is it normal to feel tired after chemotherapy?",
             "What is a colonoscopy and how do I prepare?",
         }) {
        RailResult r = education().check(text);
        EXPECT_FALSE(r.fired) << text << " -> " << r.rule;
        EXPECT_TRUE(r.spans.empty());
    }
}

TEST(Scope, DocumentationRefusesUnrelatedRequests) {
    struct Case {
        std::string_view text, rule;
    };
    for (const Case& c : std::initializer_list<Case>{
             {"Write me a poem about autumn", "creative_writing"},
             {"write a python script to rename files", "programming"},
             {"What's the weather in Boston tomorrow?", "unrelated"},
             {"Who won the game last night?", "out_of_scope"},
         }) {
        RailResult r = documentation().check(c.text);
        EXPECT_TRUE(r.fired) << c.text;
        EXPECT_EQ(r.rule, c.rule) << c.text;
        EXPECT_NE(r.detail.find("clinical documentation"), std::string::npos);
    }
}

TEST(Scope, DocumentationTakesDocumentationRequests) {
    for (std::string_view text : {
             "Summarize this discharge note in five bullet points.",
             "Rewrite the HPI in plain language.",
             "Draft a referral letter to cardiology for this patient.",
             "Pt is a 64yo M with CHF exacerbation, please condense.",
         }) {
        RailResult r = documentation().check(text);
        EXPECT_FALSE(r.fired) << text << " -> " << r.rule;
    }
}

TEST(Scope, PolicyIsDataAndErrorsNameWhere) {
    ScopePolicy p;
    p.task = "triage";
    p.purpose = "Route portal messages.";
    p.sets = {{"pet", "dog|cat"}};
    p.refused.push_back({"pets", {"\\bmy @pet\\b"}, "Triage does not handle pet questions."});
    auto made = ScopeRail::create(p);
    ASSERT_TRUE(made.has_value()) << made.error().message();
    RailResult r = made->check("my dog ate chocolate");
    EXPECT_TRUE(r.fired);
    EXPECT_EQ(r.rule, "pets");
    EXPECT_EQ(r.detail, "Triage does not handle pet questions.");
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].begin, 0u);
    EXPECT_EQ(r.spans[0].end, 6u);
    EXPECT_FALSE(made->check("my chest hurts").fired);

    ScopePolicy bad = p;
    bad.refused[0].patterns = {"(unclosed"};
    auto e1 = ScopeRail::create(bad);
    ASSERT_FALSE(e1.has_value());
    EXPECT_NE(e1.error().message().find("\"triage\" topic \"pets\" pattern 1"), std::string::npos)
        << e1.error().message();

    bad = p;
    bad.refused[0].patterns = {"@horse"};
    EXPECT_FALSE(ScopeRail::create(bad).has_value());

    bad = p;
    bad.refused[0].reason.clear();
    EXPECT_FALSE(ScopeRail::create(bad).has_value());

    bad = p;
    bad.allowed = {"\\bcough\\b"};
    EXPECT_FALSE(ScopeRail::create(bad).has_value());  // allowed without out_of_scope_reason

    auto missing = default_scope_policy("astrology");
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
}

TEST(Scope, RegistryUsesThePatientEducationPolicy) {
    auto made = make_rail("scope");
    ASSERT_TRUE(made.has_value()) << made.error().message();
    EXPECT_EQ((*made)->name(), "scope");
    EXPECT_TRUE((*made)->check("prescribe me Xanax").fired);
    EXPECT_FALSE((*made)->check("What is asthma?").fired);
}

}  // namespace
}  // namespace ward::safety
