// The crisis rail on hand-written cases: each category fires and does not fire, negation,
// history and recency, reported speech, idioms, clinical shorthand, spans on the evidence, the
// score, the escalation reply, options, and hostile input.
#include <gtest/gtest.h>

#include <thread>

#include "safety/registry.h"
#include "test_util.h"

namespace ward::safety {
namespace {

using test::detector;

testing::AssertionResult fires(std::string_view text, std::string_view rule) {
    RailResult r = detector().check(text);
    if (r.fired && r.rule == rule) return testing::AssertionSuccess();
    return testing::AssertionFailure()
           << "\"" << text << "\": expected " << rule << ", got "
           << (r.fired ? r.rule : "no firing") << " (" << r.detail << ")";
}

testing::AssertionResult passes(std::string_view text) {
    RailResult r = detector().check(text);
    if (!r.fired) return testing::AssertionSuccess();
    return testing::AssertionFailure()
           << "\"" << text << "\": expected no firing, got " << r.rule << " (" << r.detail << ")";
}

// The evidence texts of a result, "label=text".
std::vector<std::string> evidence(std::string_view text) {
    std::vector<std::string> out;
    for (const auto& s : detector().check(text).spans) {
        out.push_back(s.label + "=" + std::string(text.substr(s.begin, s.end - s.begin)));
    }
    return out;
}

TEST(Crisis, FiresPerCategory) {
    EXPECT_TRUE(fires("Lately I keep thinking I'd rather be dead.", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("I wish I could just disappear forever.", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("I am going to kill myself after work.", "suicidal_ideation_active"));
    EXPECT_TRUE(fires("having suicidal thoughts again", "suicidal_ideation_active"));
    EXPECT_TRUE(fires("I've been saving my Ambien for weeks.", "plan_or_means"));
    EXPECT_TRUE(fires("I wrote a suicide note last night.", "plan_or_means"));
    EXPECT_TRUE(fires("I tried to hang myself on Friday.", "recent_attempt"));
    EXPECT_TRUE(fires("I overdosed two days ago.", "recent_attempt"));
    EXPECT_TRUE(fires("I've been cutting myself to cope.", "self_harm"));
    EXPECT_TRUE(fires("I keep burning my arms with a lighter.", "self_harm"));
    EXPECT_TRUE(fires("I'm going to kill my neighbor.", "harm_to_others"));
    EXPECT_TRUE(fires("I have thoughts of hurting my daughter.", "harm_to_others"));
    EXPECT_TRUE(fires("My boyfriend punched me again.", "abuse"));
    EXPECT_TRUE(fires("I don't feel safe at home anymore.", "abuse"));
}

TEST(Crisis, OrdinaryDistressDoesNotFire) {
    EXPECT_TRUE(passes("I've been so sad since my father passed away."));
    EXPECT_TRUE(passes("Work stress is awful and I can't sleep."));
    EXPECT_TRUE(passes("My migraine pain is a 9/10 today."));
    EXPECT_TRUE(passes("I feel lonely and hopeless about dating."));
    EXPECT_TRUE(passes("Can you refill my sertraline?"));
    EXPECT_TRUE(passes(""));
    EXPECT_TRUE(passes("   \n\n "));
}

TEST(Crisis, NegationInItsClauseOnly) {
    EXPECT_TRUE(passes("Denies SI/HI."));
    EXPECT_TRUE(passes("I have no thoughts of killing myself."));
    EXPECT_TRUE(passes("I'm not suicidal, just tired."));
    EXPECT_TRUE(passes("I never wanted to die."));
    EXPECT_TRUE(passes("No SI, HI, plan or intent."));
    // A negation does not cross a sentence or a "but".
    EXPECT_TRUE(
        fires("I denied it to the nurse. Honestly I want to die.", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("No SI but endorses HI toward his brother.", "harm_to_others"));
    // Words that look like negation but do not negate what follows.
    EXPECT_TRUE(fires("No one would care if I died.", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("I don't know why but I want to kill myself.", "suicidal_ideation_active"));
    EXPECT_TRUE(fires("Not gonna lie, I want to end my life.", "suicidal_ideation_active"));
    // Negation inside the phrase is part of the risk.
    EXPECT_TRUE(fires("I don't want to be alive.", "suicidal_ideation_passive"));
}

TEST(Crisis, ClinicalNegationAfterTheTerm) {
    EXPECT_TRUE(passes("SI: denies"));
    EXPECT_TRUE(passes("SI/HI: neg"));
    EXPECT_TRUE(passes("-SI, -HI"));
    EXPECT_TRUE(passes("SI - none"));
    EXPECT_TRUE(passes("SI: -"));
    EXPECT_TRUE(passes("SI/HI/AVH: denies all"));
    EXPECT_TRUE(fires("HI: yes, toward neighbor", "harm_to_others"));
    EXPECT_TRUE(fires("SI: yes, daily", "suicidal_ideation_active"));
}

TEST(Crisis, HistoryIsNotACrisisButRecencyIs) {
    EXPECT_TRUE(passes("I attempted suicide 10 years ago."));
    EXPECT_TRUE(passes("As a teenager I used to cut myself."));
    EXPECT_TRUE(passes("Hx of SA x2 in 2011."));
    EXPECT_TRUE(passes("I was abused as a child."));
    EXPECT_TRUE(fires("I attempted suicide last week.", "recent_attempt"));
    EXPECT_TRUE(fires("I tried to overdose yesterday.", "recent_attempt"));
    // An attempt with no time given fires: recency cannot be ruled out.
    EXPECT_TRUE(fires("I tried to kill myself.", "recent_attempt"));
    // A relapse anywhere in the sentence brings the past into the present.
    EXPECT_TRUE(fires("I used to cut as a kid and I've started doing it again.", "self_harm"));
    EXPECT_TRUE(
        fires("I attempted in 2015 and I'm having those thoughts again.", "recent_attempt"));
    // The history cue reaches only its clause.
    auto e = evidence("I was suicidal years ago but I want to die now.");
    EXPECT_EQ(e, std::vector<std::string>{"suicidal_ideation_passive=want to die"});
}

TEST(Crisis, SomeoneElseAtRiskFiresWithALowerScore) {
    RailResult third = detector().check("My friend said she wants to kill herself.");
    RailResult first = detector().check("I want to kill myself.");
    ASSERT_TRUE(third.fired);
    ASSERT_TRUE(first.fired);
    EXPECT_EQ(third.rule, "suicidal_ideation_active");
    EXPECT_LT(third.score, first.score);
    ASSERT_EQ(third.spans.size(), 1u);
    EXPECT_EQ(third.spans[0].label, "third_party:suicidal_ideation_active");
    EXPECT_NE(third.detail.find("someone else"), std::string::npos);
    // A completed suicide of someone else is bereavement, not a crisis in progress.
    EXPECT_TRUE(passes("My uncle killed himself when I was twelve."));
    EXPECT_TRUE(passes("My brother died by suicide in 2019."));
}

TEST(Crisis, IdiomsDoNotFire) {
    for (const char* idiom :
         {"This traffic is killing me.", "I could kill for a coffee.",
          "I'm dying to see the new film.", "I'm dead tired.", "I have a killer headache.",
          "I nearly died laughing.", "I was so embarrassed I wanted to die.",
          "My mom is going to kill me if I'm late.", "We killed time in the lobby.",
          "I'm bored to death.", "That cake is to die for.", "I'd die for my kids.",
          "My phone is dying.", "Shoot me a text when you can."}) {
        EXPECT_TRUE(passes(idiom));
    }
}

TEST(Crisis, ClinicalShorthand) {
    EXPECT_TRUE(fires("+SI", "suicidal_ideation_active"));
    EXPECT_TRUE(fires("Pt endorses SI w/ plan to OD.", "plan_or_means"));
    EXPECT_TRUE(fires("passive SI, no intent", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("s/p OD, admitted to ICU", "recent_attempt"));
    EXPECT_TRUE(fires("SA x2", "recent_attempt"));
    EXPECT_TRUE(fires("+HI toward coworker", "harm_to_others"));
    EXPECT_TRUE(fires("+SIB this week", "self_harm"));
    // Same letters, other meanings.
    EXPECT_TRUE(passes("Hi Dr. Lee, quick question."));
    EXPECT_TRUE(passes("HI, can I come in early?"));
    EXPECT_TRUE(passes("OD 20/20, OS 20/30."));
    EXPECT_TRUE(passes("si, gracias"));
}

TEST(Crisis, PortalStyleTyposAndCase) {
    EXPECT_TRUE(fires("i dont wanna live anymore", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("I WANT TO KILL MYSELF", "suicidal_ideation_active"));
    EXPECT_TRUE(fires("i want to kil myself", "suicidal_ideation_active"));
    EXPECT_TRUE(fires("I don\xE2\x80\x99t want to be here anymore", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("kms", "suicidal_ideation_active"));
}

TEST(Crisis, InformationQuestionsAndAccidents) {
    EXPECT_TRUE(passes("Can this medicine cause suicidal thoughts?"));
    EXPECT_TRUE(fires("This medicine is giving me suicidal thoughts.", "suicidal_ideation_active"));
    EXPECT_TRUE(passes("I cut myself shaving."));
    EXPECT_TRUE(passes("I accidentally took two doses of my pills."));
    // Asking about a lethal amount is the signal, question or not.
    EXPECT_TRUE(fires("How many of these pills would be lethal?", "plan_or_means"));
}

TEST(Crisis, QuestionsOthersAskedJokesAndDenialsAfterTheTerm) {
    // A question someone else asked, answered no, is not a disclosure...
    EXPECT_TRUE(passes("My doctor asked if I want to hurt myself, I don't."));
    EXPECT_TRUE(passes("The intake form asked about suicide attempts; I've never had one."));
    // ...unless the answer affirms it.
    EXPECT_TRUE(
        fires("My therapist asked if I want to die and I said yes.", "suicidal_ideation_passive"));
    EXPECT_TRUE(fires("When the nurse asked if I was suicidal I lied and said no.",
                      "suicidal_ideation_active"));
    // A joke marker softens threats to others, never risk to oneself.
    EXPECT_TRUE(passes("I could kill him for forgetting our anniversary lol"));
    EXPECT_TRUE(fires("I could kill him for what he did", "harm_to_others"));
    EXPECT_TRUE(fires("i want to die lol", "suicidal_ideation_passive"));
    // A denial after the term.
    EXPECT_TRUE(passes("Killing myself is not something I would ever do."));
    EXPECT_TRUE(passes("Suicide isn't an option for me."));
    // Hypotheticals about oneself do not fire; conditional threats and plans do.
    EXPECT_TRUE(passes("If I ever have thoughts of suicide, I'll call 988, I promise."));
    EXPECT_TRUE(fires("If things don't get better by Friday, I'm going to kill myself.",
                      "suicidal_ideation_active"));
    EXPECT_TRUE(fires("If he comes near me again I'll kill him.", "harm_to_others"));
    // "wasn't an accident" is no accident.
    EXPECT_TRUE(fires("I overdosed on Friday and it wasn't an accident.", "recent_attempt"));
}

TEST(Crisis, SpansPointAtTheEvidence) {
    auto e = evidence("Hi, it's Sam. Lately I want to kill myself.");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], "suicidal_ideation_active=kill myself");
    e = evidence("Denies HI. I have pills saved and I tried to OD Friday.");
    std::vector<std::string> expected = {"plan_or_means=pills saved", "recent_attempt=tried to OD"};
    EXPECT_EQ(e, expected);
    // Byte offsets in a message with multi-byte characters before the evidence.
    std::string text = "caf\xC3\xA9 \xE2\x80\x94 I want to die";
    RailResult r = detector().check(text);
    ASSERT_TRUE(r.fired);
    EXPECT_EQ(text.substr(r.spans[0].begin, r.spans[0].end - r.spans[0].begin), "want to die");
}

TEST(Crisis, ScoreRanksUrgency) {
    double plan = detector().check("I have a plan and the pills saved up.").score;
    double passive = detector().check("I wish I was dead.").score;
    double both = detector().check("I wish I was dead and I tried to hang myself today.").score;
    EXPECT_GT(plan, passive);
    EXPECT_GT(both, passive);
    for (double s : {plan, passive, both}) {
        EXPECT_GT(s, 0.0);
        EXPECT_LE(s, 1.0);
    }
    RailResult none = detector().check("I denied SI.");
    EXPECT_FALSE(none.fired);
    EXPECT_EQ(none.score, 0.0);
    EXPECT_TRUE(none.spans.empty());
    EXPECT_TRUE(none.rule.empty());
    EXPECT_NE(none.detail.find("negated"), std::string::npos);
}

TEST(Crisis, EscalationReply) {
    RailResult r = detector().check("I want to end my life tonight.");
    CrisisResponse reply = escalation(r, {});
    EXPECT_TRUE(reply.escalate);
    EXPECT_TRUE(reply.human_follow_up);
    EXPECT_EQ(reply.rule, r.rule);
    EXPECT_NE(reply.text.find("988"), std::string::npos);
    EXPECT_NE(reply.text.find("988lifeline.org"), std::string::npos);
    EXPECT_NE(reply.text.find("911"), std::string::npos);
    EXPECT_EQ(reply.text.find("Domestic Violence"), std::string::npos);

    CrisisResponse abuse = escalation(detector().check("My husband beats me."), {});
    EXPECT_NE(abuse.text.find("1-800-799-7233"), std::string::npos);
    EXPECT_NE(abuse.text.find("988"), std::string::npos);

    CrisisResponse third = escalation(detector().check("My son says he wants to die."), {});
    EXPECT_NE(third.text.find("someone you care about"), std::string::npos);

    CrisisOptions local;
    local.escalation_text = "Please reach out now.";
    local.local_resources = {{"St. Olaf crisis team", "call 555-0100"}};
    local.include_us_resources = false;
    CrisisResponse custom = escalation(r, local);
    EXPECT_EQ(
        custom.text.rfind("Please reach out now.\n- St. Olaf crisis team: call 555-0100\n", 0), 0u);
    EXPECT_EQ(custom.text.find("988"), std::string::npos);
    ASSERT_EQ(custom.resources.size(), 1u);

    CrisisResponse none = escalation(detector().check("Thanks for the refill!"), {});
    EXPECT_FALSE(none.escalate);
    EXPECT_TRUE(none.text.empty());
}

TEST(Crisis, OptionsAreValidated) {
    CrisisOptions bad;
    bad.local_resources = {{"Clinic line", ""}};
    auto r = CrisisDetector::create(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("local resource 1"), std::string::npos);

    CrisisOptions lexicon;
    lexicon.extra_lexicon = "self_harm\tpicking|picked my scabs\tward:site example\nbad line\n";
    r = CrisisDetector::create(lexicon);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("extra_lexicon line 2"), std::string::npos)
        << r.error().message();

    lexicon.extra_lexicon = "nonsense\tfoo\tward:foo\n";
    r = CrisisDetector::create(lexicon);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(
        r.error().message().find("crisis extra_lexicon line 1: unknown category \"nonsense\""),
        std::string::npos)
        << r.error().message();
}

TEST(Crisis, ExtraLexiconAddsSitePhrases) {
    CrisisOptions o;
    o.extra_lexicon = "suicidal_ideation_active\tcode purple|violet\tward:code purple\n";
    auto d = CrisisDetector::create(o).value();
    EXPECT_FALSE(detector().check("It's a code purple for me tonight").fired);
    RailResult r = d.check("It's a code purple for me tonight");
    EXPECT_TRUE(r.fired);
    EXPECT_EQ(r.rule, "suicidal_ideation_active");
    EXPECT_FALSE(d.check("no code purple tonight").fired);
}

TEST(Crisis, RegistryBuildsItByName) {
    auto rail = make_rail("crisis");
    ASSERT_TRUE(rail.has_value());
    EXPECT_EQ((*rail)->name(), "crisis");
    EXPECT_TRUE((*rail)->check("I want to die").fired);
    auto unknown = make_rail("vibes");
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().code(), StatusCode::kNotFound);
    EXPECT_NE(unknown.error().message().find("rails: crisis"), std::string::npos);
    EXPECT_EQ(action_name(Action::kBlock), "block");
    EXPECT_EQ(parse_action("flag").value(), Action::kFlag);
    EXPECT_FALSE(parse_action("drop").has_value());
}

TEST(Crisis, HostileInput) {
    std::string big;
    for (int i = 0; i < 100000; ++i) big += "kill myself ";
    RailResult r = detector().check(big);  // checked on its first kCrisisMaxBytes bytes
    EXPECT_TRUE(r.fired);
    for (const auto& s : r.spans) EXPECT_LE(s.end, kCrisisMaxBytes);
    std::string binary;
    for (int i = 0; i < 5000; ++i) binary.push_back(static_cast<char>(i * 37 % 256));
    EXPECT_NO_FATAL_FAILURE(detector().check(binary));
    EXPECT_FALSE(detector().check(std::string(1000, '\'')).fired);
    EXPECT_FALSE(detector().check(std::string("\0\0\0", 3)).fired);
}

TEST(Crisis, SharedAcrossThreads) {
    const std::vector<std::string> messages = {"I want to die", "I'm dying to know", "denies SI",
                                               "My husband hits me"};
    std::vector<bool> expected;
    for (const auto& m : messages) expected.push_back(detector().check(m).fired);
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int k = 0; k < 200; ++k) {
                for (size_t i = 0; i < messages.size(); ++i) {
                    if (detector().check(messages[i]).fired != expected[i]) ++mismatches;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ward::safety
