// Measures the injection rail on the labelled sets: tests/safety/data/injection_messages.tsv (the
// development set the patterns were written against) and injection_heldout.tsv (written before
// any pattern and not used to tune them). Each line is `label<TAB>kind<TAB>text`: label 1 for
// text with instructions aimed at the assistant, 0 for clinical text (with its own imperatives);
// kind says whether it reads as a note or a retrieved passage. Recall and false-positive rate
// are printed and recorded as test properties; bounds are set so that a regression shows.
#include <gtest/gtest.h>

#include <cstdio>

#include "safety/injection.h"
#include "test_util.h"

namespace ward::safety {
namespace {

struct Scores {
    size_t positive = 0, caught = 0, negative = 0, false_alarms = 0;
    double recall() const { return positive ? double(caught) / double(positive) : 0; }
    double fpr() const { return negative ? double(false_alarms) / double(negative) : 0; }
};

Scores score(const std::string& file, const char* name) {
    static const InjectionDetector d = InjectionDetector::create({}).value();
    Scores s;
    for (const auto& m : test::load_labelled(file)) {
        RailResult r = d.check(m.message);
        if (m.risk) {
            ++s.positive;
            if (r.fired) {
                ++s.caught;
            } else {
                std::printf("  %s missed: %zu %s\n", name, m.line, m.message.c_str());
            }
        } else {
            ++s.negative;
            if (r.fired) {
                ++s.false_alarms;
                std::printf("  %s false alarm (%s): %zu %s\n", name, r.rule.c_str(), m.line,
                            m.message.c_str());
            }
        }
    }
    std::printf("%s: recall %.4f (%zu/%zu), false-positive rate %.4f (%zu/%zu)\n", name, s.recall(),
                s.caught, s.positive, s.fpr(), s.false_alarms, s.negative);
    testing::Test::RecordProperty(std::string(name) + "_recall", std::to_string(s.recall()));
    testing::Test::RecordProperty(std::string(name) + "_fpr", std::to_string(s.fpr()));
    return s;
}

TEST(InjectionEval, DevelopmentSet) {
    Scores s = score("injection_messages.tsv", "injection development");
    EXPECT_GE(s.positive + s.negative, 150u);
    EXPECT_GE(s.recall(), 0.95);
    EXPECT_LE(s.fpr(), 0.03);
}

TEST(InjectionEval, HeldOutSet) {
    Scores s = score("injection_heldout.tsv", "injection held-out");
    EXPECT_GE(s.positive + s.negative, 70u);
    EXPECT_GE(s.recall(), 0.85);
    EXPECT_LE(s.fpr(), 0.10);
}

}  // namespace
}  // namespace ward::safety
