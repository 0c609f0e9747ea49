// Measures the crisis rail on the labelled sets: tests/safety/data/crisis_messages.tsv (the
// development set the lexicon was tuned on) and crisis_heldout.tsv (written before the detector
// and never used to tune it). Recall on risk messages is asserted; the false-positive rate on
// the others is reported (stdout and the test's XML properties) and bounded loosely so that a
// regression shows.
#include <gtest/gtest.h>

#include <cstdio>

#include "test_util.h"

namespace ward::safety {
namespace {

struct Scores {
    size_t risk = 0, caught = 0, safe = 0, false_alarms = 0;
    std::vector<std::string> misses, alarms;
    double recall() const { return risk ? double(caught) / double(risk) : 0; }
    double fpr() const { return safe ? double(false_alarms) / double(safe) : 0; }
};

Scores score(const std::string& file) {
    Scores s;
    for (const auto& m : test::load_labelled(file)) {
        RailResult r = test::detector().check(m.message);
        if (m.risk) {
            ++s.risk;
            if (r.fired) {
                ++s.caught;
            } else {
                s.misses.push_back(std::to_string(m.line) + " [" + m.category + "] " + m.message);
            }
        } else {
            ++s.safe;
            if (r.fired) {
                ++s.false_alarms;
                s.alarms.push_back(std::to_string(m.line) + " [" + m.category + "] (" + r.rule +
                                   ") " + m.message);
            }
        }
    }
    return s;
}

void report(const char* name, const Scores& s) {
    std::printf("%s: recall %.4f (%zu/%zu risk messages), false-positive rate %.4f (%zu/%zu)\n",
                name, s.recall(), s.caught, s.risk, s.fpr(), s.false_alarms, s.safe);
    for (const auto& m : s.misses) std::printf("  missed: %s\n", m.c_str());
    for (const auto& a : s.alarms) std::printf("  false alarm: %s\n", a.c_str());
    testing::Test::RecordProperty(std::string(name) + "_recall", std::to_string(s.recall()));
    testing::Test::RecordProperty(std::string(name) + "_fpr", std::to_string(s.fpr()));
}

TEST(CrisisEval, DevelopmentSet) {
    Scores s = score("crisis_messages.tsv");
    report("development", s);
    EXPECT_GE(s.risk + s.safe, 450u);
    EXPECT_GE(s.recall(), 0.98);
    EXPECT_LE(s.fpr(), 0.10);
}

TEST(CrisisEval, HeldOutSet) {
    Scores s = score("crisis_heldout.tsv");
    report("heldout", s);
    EXPECT_GE(s.risk + s.safe, 120u);
    EXPECT_GE(s.recall(), 0.95);
    EXPECT_LE(s.fpr(), 0.15);
}

}  // namespace
}  // namespace ward::safety
